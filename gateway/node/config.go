package node

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"porta/envelope/wssec"
	"porta/gateway"
	"porta/internal/redact"
	"porta/internal/size"
	"porta/internal/xmlsafe"
	"porta/internal/yamlpos"
	"porta/jobs"
	"porta/registry"
)

// Default listener addresses of porta.yaml (and of `porta init`): loopback only, on fixed ports
// that differ from the usual 8080/8443/9090 so a developer machine rarely has them taken.
const (
	DefaultPDAddr    = "127.0.0.1:7080"
	DefaultPAAddr    = "127.0.0.1:7443"
	DefaultAdminAddr = "127.0.0.1:7090"
)

// Config is porta.yaml, the configuration of one gateway node, after LoadConfig: paths are
// absolute, defaults applied, everything validated. The registry it names is loaded separately
// (registry.Load(c.Registry, ...)), then checked against the config with CheckRegistry.
//
//	node: provincia-1                 # names this node in queue leases and its audit chain
//	parties: [Provincia]              # hosted parties (hosted: true in the registry)
//	listen:
//	  pd: 127.0.0.1:7080              # Porta Delegata, for local applications
//	  pa: 127.0.0.1:7443              # Porta Applicativa, always TLS with client certificates
//	  admin: 127.0.0.1:7090           # /healthz, /readyz, /metrics, the management API /api/v1 and the console /ui/
//	  admin_tls: false                # serve the admin listener over HTTPS with paths.cert and paths.key
//	  admin_client_ca: operators-ca.pem  # CA of operators' client certificates (with admin_tls; porta operator add --cert);
//	                                  # a certificate is asked for, not required: /healthz, /readyz and /metrics answer without
//	  pd_tls: false                   # serve the PD over TLS too (applications may then use client certificates)
//	  pd_client_ca: apps-ca.pem       # CA of applications' client certificates (with pd_tls)
//	  pd_public_url: http://sil-gw.provincia.example:7080   # PD address in ?wsdl answers
//	paths: {key: key.pem, cert: cert.pem, ca: ca.pem, registry: registry.yaml}
//	store: sqlite:porta.db            # or postgres://user@host/db
//	trace: {body: full, refused_body_max: 64KiB, keys: trace-keys}   # body: full | header | none | encrypted, for services whose registry trace: names none; of a refused message keep at most this (its size and SHA-256 are kept whole); keys: the directory of the keys that encrypt at rest (porta init makes it; porta trace key rotate adds one)
//	  retention: 400d                 # bodies of services without their own trace: retention are purged after this (0 = kept until archived)
//	  sign_every: 1h                  # porta serve signs the chain head with paths.key this often and at shutdown
//	  tsa: https://tsa.example/tsr    # optional RFC 3161 TSA timestamping each signed head
//	  tsa_ca: tsa-ca.pem              # optional CA the TSA's certificate must chain to
//	trace: {index_key: index.key}     # HMAC key of the business identifiers searched by (porta trace list --id cf=...), mode 0600; none: not indexed
//	signature: {algorithm: auto, max_clock_skew: 5m}
//	limits:                           # what requests may hold (see gateway/admission.go)
//	  max_message: 16MiB              # largest request body
//	  inflight_bytes: 256MiB          # body bytes all requests in flight may hold together
//	  per_peer_requests: 256          # requests in flight per client certificate (else IP address) and listener
//	  per_listener_requests: 1024     # requests in flight per listener (pd, pa)
//	  retry_after: 5s                 # Retry-After of the 503 answering a request over these limits
//	  max_attributes_per_element: 256 # attributes on one element, xmlns declarations included
//	  max_attributes: 65536           # attributes in a message
//	  max_name_bytes: 4MiB            # element and attribute names and namespace names in a message
//	outbox: {initial_backoff: 1s, max_backoff: 5m, max_attempts: 0, expiry: 24h, lease: 1m}
//	duplicates: {retention: 7200m}
//	idempotency: {window: 24h}         # how long the PD answers a retried Idempotency-Key again
//	pd_auth: {free_failures: 5, initial_lockout: 1s, max_lockout: 5m, forget_after: 15m}
//	                                  # refused PD credentials per address and user name: after free_failures in a row,
//	                                  # 429 + Retry-After for initial_lockout, doubling per failure up to max_lockout
//	http_client: {timeout: 30s, dial_timeout: 10s, tls_handshake_timeout: 10s, backend_timeout: 30s}
//	jobs:                             # provincial commands porta serve runs on a schedule (package jobs)
//	  - name: sap-nightly             # 1-64 letters, digits, '.', '_' or '-'; the key of its lease, mark and history
//	    every: 24h                    # more than 0, at most 24h: slots every EVERY from AT each day
//	    at: "02:30"                   # HH:MM of the node's local time (default 00:00)
//	    run: [sil, send, --what, sap] # porta's arguments: sil send, sync anagrafe|scuole, failures retry or trace archive
//	  - {name: anagrafe, every: 6h, run: [sync, anagrafe]}
//
// A job runs its command in porta serve's process, through the code the command line runs, as a
// local application of this gateway's own Porta Delegata: --config is this file and --pd the PD
// porta serve listens on (run must not give --config; it may give --pd, --app and the command's
// other flags); the application's credentials come from --app or porta serve's $PORTA_APP. A
// sil send without --worker or --since sends what the SIL changed since the start of the job's
// last successful run (everything on its first run). On nodes sharing a PostgreSQL store each job
// runs on one node at a time, once per slot: a run holds the job's lease for outbox.lease,
// renewed while it runs, so a dead node's job is taken over when that runs out; a run cancelled
// by porta serve's shutdown makes its job due again at once. porta jobs list|history shows them.
// The commands are checked by LoadConfigWith's JobCheck (they live in cmd/porta); LoadConfig
// checks the rest.
type Config struct {
	File    string   // the file it was read from
	Node    string   // default: the host name
	Parties []string // hosted parties; the first is the gateway's default identity

	PDAddr, PAAddr, AdminAddr string
	PDTLS                     bool
	PDClientCA                string // absolute path, "" = none
	AdminTLS                  bool   // HTTPS on the admin listener, with Key and Cert
	AdminClientCA             string // absolute path of the operators' client CA, "" = none
	PDPublicURL               string // "" = the request's Host

	Key, Cert, CA, Registry string // absolute paths; CA "" = none

	Store string // "sqlite:/abs/path.db" or a postgres:// URL

	TraceBody          string        // "full", "header", "none" or "encrypted": for services whose trace policy names none
	TraceRefusedMax    int64         // bytes of a refused message the trail keeps (at least 1KiB)
	TraceIndexKey      []byte        // the key of the business identifiers' hashes (indexkey.go); nil = none indexed
	TraceKeys          string        // absolute path of the trace keys' directory (package audit/seal)
	TraceRetention     time.Duration // default retention of bodies (registry trace: retention overrides); 0 = until archived
	TraceSignEvery     time.Duration // how often porta serve signs the chain head
	TraceTSA           string        // RFC 3161 TSA URL; "" = none
	TraceTSACA         string        // absolute path of the TSA's CA; "" = not checked against a CA
	SignatureAlgorithm string        // XML-DSig SignatureMethod URI; "" = chosen from the key
	MaxClockSkew       time.Duration // tolerated difference between peers' clocks

	MaxMessage          int64         // bytes
	InflightBytes       int64         // bytes of bodies held by requests in flight, all listeners
	PerPeerRequests     int           // requests in flight per peer and listener
	PerListenerRequests int           // requests in flight per listener
	RetryAfter          time.Duration // of the 503 answering a request over those limits

	// Caps of every XML message read (xmlsafe.Limits): a message over one is refused with
	// EGOV_IT_001 (on the PD, 400) as soon as the reader passes it.
	MaxAttrsPerElement, MaxAttrs int
	MaxNameBytes                 int64

	RetryInitial, RetryMax time.Duration // outbox back-off bounds
	MaxAttempts            int           // 0 = keep trying until Expiry
	Lease                  time.Duration // how long a node holds a queued message before another node (or itself, restarted) takes it over
	Expiry                 time.Duration // give up re-sending after this long

	DuplicateRetention time.Duration // how long inbound IDs are remembered
	IdempotencyWindow  time.Duration // how long the PD keeps an application's Idempotency-Key and its answer

	// The PD's authentication throttle (gateway.ThrottleOptions): failures allowed in a row per
	// address and user name, the first lock (doubling per further failure) and the longest, and
	// how long after the last failure they are forgotten.
	AuthFreeFailures                               int
	AuthInitialLockout, AuthMaxLockout, AuthForget time.Duration

	PeerTimeout, DialTimeout, TLSHandshakeTimeout, BackendTimeout time.Duration

	Jobs []JobConfig
}

// JobConfig is one entry of jobs.
type JobConfig struct {
	Name     string
	Schedule jobs.Schedule
	Run      []string // porta's arguments, e.g. [sil, send, --what, sap]
	Line     int      // of the entry in Config.File
}

// JobCheck checks a job's run arguments as the command line would, without running anything.
type JobCheck func(run []string) error

// Defaults of porta.yaml.
const (
	defaultMaxMessage          = 16 << 20
	defaultInflightBytes       = gateway.DefaultInflightBytes
	defaultPerPeerRequests     = gateway.DefaultPeerRequests
	defaultPerListenerRequests = gateway.DefaultListenerRequests
	defaultRetryAfter          = gateway.DefaultRetryAfter
	defaultRefusedBodyMax      = gateway.DefaultRefusedBodyMax
)

var sigAlgs = map[string]string{
	"rsa-sha256":   wssec.AlgRSASHA256,
	"rsa-sha384":   wssec.AlgRSASHA384,
	"rsa-sha512":   wssec.AlgRSASHA512,
	"ecdsa-sha256": wssec.AlgECDSASHA256,
	"ecdsa-sha384": wssec.AlgECDSASHA384,
	"ecdsa-sha512": wssec.AlgECDSASHA512,
}

// raw mirrors porta.yaml; scalars stay nodes so errors can name their line.
type rawConfig struct {
	Node    yaml.Node   `yaml:"node"`
	Parties []yaml.Node `yaml:"parties"`
	Listen  struct {
		PD            yaml.Node `yaml:"pd"`
		PA            yaml.Node `yaml:"pa"`
		Admin         yaml.Node `yaml:"admin"`
		PDTLS         yaml.Node `yaml:"pd_tls"`
		AdminTLS      yaml.Node `yaml:"admin_tls"`
		AdminClientCA yaml.Node `yaml:"admin_client_ca"`
		PDClientCA    yaml.Node `yaml:"pd_client_ca"`
		PDPublicURL   yaml.Node `yaml:"pd_public_url"`
	} `yaml:"listen"`
	Paths struct {
		Key      yaml.Node `yaml:"key"`
		Cert     yaml.Node `yaml:"cert"`
		CA       yaml.Node `yaml:"ca"`
		Registry yaml.Node `yaml:"registry"`
	} `yaml:"paths"`
	Store yaml.Node `yaml:"store"`
	Trace struct {
		Body           yaml.Node `yaml:"body"`
		RefusedBodyMax yaml.Node `yaml:"refused_body_max"`
		IndexKey       yaml.Node `yaml:"index_key"`
		Keys           yaml.Node `yaml:"keys"`
		Retention      yaml.Node `yaml:"retention"`
		SignEvery      yaml.Node `yaml:"sign_every"`
		TSA            yaml.Node `yaml:"tsa"`
		TSACA          yaml.Node `yaml:"tsa_ca"`
	} `yaml:"trace"`
	Signature struct {
		Algorithm    yaml.Node `yaml:"algorithm"`
		MaxClockSkew yaml.Node `yaml:"max_clock_skew"`
	} `yaml:"signature"`
	Limits struct {
		MaxMessage          yaml.Node `yaml:"max_message"`
		InflightBytes       yaml.Node `yaml:"inflight_bytes"`
		PerPeerRequests     yaml.Node `yaml:"per_peer_requests"`
		PerListenerRequests yaml.Node `yaml:"per_listener_requests"`
		RetryAfter          yaml.Node `yaml:"retry_after"`
		MaxAttrsPerElement  yaml.Node `yaml:"max_attributes_per_element"`
		MaxAttrs            yaml.Node `yaml:"max_attributes"`
		MaxNameBytes        yaml.Node `yaml:"max_name_bytes"`
	} `yaml:"limits"`
	Outbox struct {
		InitialBackoff yaml.Node `yaml:"initial_backoff"`
		MaxBackoff     yaml.Node `yaml:"max_backoff"`
		MaxAttempts    yaml.Node `yaml:"max_attempts"`
		Expiry         yaml.Node `yaml:"expiry"`
		Lease          yaml.Node `yaml:"lease"`
	} `yaml:"outbox"`
	Duplicates struct {
		Retention yaml.Node `yaml:"retention"`
	} `yaml:"duplicates"`
	Idempotency struct {
		Window yaml.Node `yaml:"window"`
	} `yaml:"idempotency"`
	PDAuth struct {
		FreeFailures   yaml.Node `yaml:"free_failures"`
		InitialLockout yaml.Node `yaml:"initial_lockout"`
		MaxLockout     yaml.Node `yaml:"max_lockout"`
		ForgetAfter    yaml.Node `yaml:"forget_after"`
	} `yaml:"pd_auth"`
	HTTPClient struct {
		Timeout             yaml.Node `yaml:"timeout"`
		DialTimeout         yaml.Node `yaml:"dial_timeout"`
		TLSHandshakeTimeout yaml.Node `yaml:"tls_handshake_timeout"`
		BackendTimeout      yaml.Node `yaml:"backend_timeout"`
	} `yaml:"http_client"`
	Jobs yaml.Node `yaml:"jobs"`
}

// configReader is the positional YAML reader registry uses too (internal/yamlpos), its problems
// in probs, with porta.yaml's helpers that take defaults.
type configReader struct {
	yamlpos.Reader
	probs registry.Problems
}

func newConfigReader(file, dir string) *configReader {
	r := &configReader{}
	r.Reader = yamlpos.Reader{File: file, Dir: dir, Sink: &r.probs}
	return r
}

func (r *configReader) errf(n *yaml.Node, format string, args ...any) { r.ErrfAt(n, format, args...) }

func set(n *yaml.Node) bool { return yamlpos.Set(n) }

func (r *configReader) str(n *yaml.Node, key, def string) string {
	if !set(n) {
		return def
	}
	if n.Kind != yaml.ScalarNode {
		r.errf(n, "%s must be a single value", key)
		return def
	}
	return strings.TrimSpace(n.Value)
}

func (r *configReader) dur(n *yaml.Node, key string, def time.Duration) time.Duration {
	if !set(n) {
		return def
	}
	d, err := registry.ParseDuration(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil {
		r.errf(n, "%s must be a duration such as 500ms, 30s, 5m, 24h or 7d, found %q", key, n.Value)
		return def
	}
	return d
}

// count reads a whole number of at least least, def when n is absent.
func (r *configReader) count(n *yaml.Node, key string, def, least int) int {
	if !set(n) {
		return def
	}
	v, err := strconv.Atoi(n.Value)
	if err != nil || v < least {
		r.errf(n, "%s %q must be a whole number of at least %d, e.g. %d", key, n.Value, least, def)
		return def
	}
	return v
}

// XMLLimits are the caps of every XML message the node reads (see Config's limits).
func (c *Config) XMLLimits() xmlsafe.Limits {
	lim := xmlsafe.DefaultLimits
	lim.MaxBytes = int(c.MaxMessage)
	lim.MaxAttrsPerElement, lim.MaxAttrs, lim.MaxNameBytes = c.MaxAttrsPerElement, c.MaxAttrs, int(c.MaxNameBytes)
	return lim
}

// listenerTLS reads listen.NAME_tls (true or false) and listen.NAME_client_ca (a CA certificate
// file, only over TLS); hint ends the message of an unreadable CA file.
func (r *configReader) listenerTLS(tlsNode, caNode *yaml.Node, name, hint string) (on bool, ca string) {
	if set(tlsNode) {
		if err := tlsNode.Decode(&on); err != nil {
			r.errf(tlsNode, "listen.%s_tls must be true or false", name)
		}
	}
	ca = r.path(caNode, "listen."+name+"_client_ca", "")
	if ca != "" {
		if !on {
			r.errf(caNode, "listen.%s_client_ca needs %s_tls: true (client certificates only exist over TLS)", name, name)
		}
		if _, err := registry.ReadCertFile(ca); err != nil {
			r.errf(caNode, "listen.%s_client_ca: %v%s", name, err, hint)
		}
	}
	return on, ca
}

func (r *configReader) path(n *yaml.Node, key, def string) string {
	return r.Path(r.str(n, key, def))
}

func (r *configReader) file_(n *yaml.Node, key, def string, required bool) string {
	p := r.path(n, key, def)
	if p == "" {
		if required {
			r.errf(n, "paths.%s is required", key)
		}
		return ""
	}
	if _, err := os.Stat(p); err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		line := n
		if !set(n) {
			line = nil
		}
		r.errf(line, "paths.%s: %s: %v (relative paths are resolved against %s)", key, p, err, r.Dir)
		return p
	}
	return p
}

var nodeRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// LoadConfig reads porta.yaml at path, resolves relative paths against its directory, applies the
// defaults and validates it. Every problem is reported, as registry.Problems naming file and line.
// It reads the key and certificate to check that they match each other and the signature
// algorithm; it does not load the registry.
func LoadConfig(path string) (*Config, error) { return LoadConfigWith(path, nil) }

// LoadConfigWith is LoadConfig that also checks each job's run arguments with check (nil checks
// only their shape): a refusal is a problem at the line of run.
func LoadConfigWith(path string, check JobCheck) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	r := newConfigReader(path, filepath.Dir(abs))
	var raw rawConfig
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&raw); err != nil && !errors.Is(err, io.EOF) { // io.EOF: an empty file, all defaults
		return nil, yamlProblems(path, err)
	}
	c := &Config{File: abs}

	host, _ := os.Hostname()
	c.Node = r.str(&raw.Node, "node", host)
	if !nodeRE.MatchString(c.Node) {
		r.errf(&raw.Node, "node %q must be 1-64 letters, digits, '.', '_' or '-'", c.Node)
	}
	if len(raw.Parties) == 0 {
		r.errf(nil, "parties is missing: list the parties this gateway hosts, e.g. parties: [Provincia]")
	}
	for i := range raw.Parties {
		p := r.str(&raw.Parties[i], "parties", "")
		if !registry.ValidName(p) {
			r.errf(&raw.Parties[i], "parties: %q is not a party name (letters and digits only)", p)
			continue
		}
		for _, q := range c.Parties {
			if q == p {
				r.errf(&raw.Parties[i], "parties: %q is listed twice", p)
			}
		}
		c.Parties = append(c.Parties, p)
	}

	c.PDAddr = r.str(&raw.Listen.PD, "listen.pd", DefaultPDAddr)
	c.PAAddr = r.str(&raw.Listen.PA, "listen.pa", DefaultPAAddr)
	c.AdminAddr = r.str(&raw.Listen.Admin, "listen.admin", DefaultAdminAddr)
	seen := map[string]string{}
	for _, l := range []struct {
		key, addr string
		n         *yaml.Node
	}{{"listen.pd", c.PDAddr, &raw.Listen.PD}, {"listen.pa", c.PAAddr, &raw.Listen.PA}, {"listen.admin", c.AdminAddr, &raw.Listen.Admin}} {
		h, port, err := net.SplitHostPort(l.addr)
		pn, perr := strconv.Atoi(port)
		if err != nil || perr != nil || pn < 0 || pn > 65535 || (h != "" && net.ParseIP(h) == nil && h != "localhost") {
			r.errf(l.n, "%s %q must be HOST:PORT, e.g. 127.0.0.1:7080 (an IP address or localhost; empty host = all interfaces)", l.key, l.addr)
			continue
		}
		if other, dup := seen[l.addr]; dup && pn != 0 {
			r.errf(l.n, "%s %q is also %s; each listener needs its own port", l.key, l.addr, other)
		}
		seen[l.addr] = l.key
	}
	c.PDTLS, c.PDClientCA = r.listenerTLS(&raw.Listen.PDTLS, &raw.Listen.PDClientCA, "pd", "")
	c.AdminTLS, c.AdminClientCA = r.listenerTLS(&raw.Listen.AdminTLS, &raw.Listen.AdminClientCA, "admin",
		" (the CA certificate that issues operators' client certificates, PEM)")
	c.PDPublicURL = r.str(&raw.Listen.PDPublicURL, "listen.pd_public_url", "")
	if c.PDPublicURL != "" && !strings.HasPrefix(c.PDPublicURL, "http://") && !strings.HasPrefix(c.PDPublicURL, "https://") {
		r.errf(&raw.Listen.PDPublicURL, "listen.pd_public_url %q must start with http:// or https://", c.PDPublicURL)
	}

	c.Key = r.file_(&raw.Paths.Key, "key", "key.pem", true)
	c.Cert = r.file_(&raw.Paths.Cert, "cert", "cert.pem", true)
	c.CA = r.file_(&raw.Paths.CA, "ca", "", false)
	c.Registry = r.file_(&raw.Paths.Registry, "registry", "registry.yaml", true)

	c.Store = r.str(&raw.Store, "store", "sqlite:porta.db")
	switch {
	case strings.HasPrefix(c.Store, "sqlite:"):
		p := strings.TrimPrefix(c.Store, "sqlite:")
		if p == "" {
			r.errf(&raw.Store, "store %q names no file; write sqlite:porta.db", c.Store)
		} else if !filepath.IsAbs(p) {
			c.Store = "sqlite:" + filepath.Join(r.Dir, p)
		}
	case strings.HasPrefix(c.Store, "postgres://"), strings.HasPrefix(c.Store, "postgresql://"):
	default:
		r.errf(&raw.Store, "store %q must be sqlite:FILE or a postgres://USER@HOST/DB URL", c.Store)
	}

	c.TraceBody = r.str(&raw.Trace.Body, "trace.body", "full")
	if !slices.Contains(registry.TraceBodyModes, c.TraceBody) {
		r.errf(&raw.Trace.Body, "trace.body %q must be full, header, none or encrypted", c.TraceBody)
	}
	if kp := r.path(&raw.Trace.IndexKey, "trace.index_key", ""); kp != "" {
		key, err := ReadIndexKey(kp)
		if err != nil {
			r.errf(&raw.Trace.IndexKey, "trace.index_key: %v", err)
		}
		c.TraceIndexKey = key
	}
	c.TraceKeys = r.path(&raw.Trace.Keys, "trace.keys", DefaultTraceKeys)
	c.TraceRefusedMax = defaultRefusedBodyMax
	if n := &raw.Trace.RefusedBodyMax; set(n) {
		v, err := size.Parse(n.Value)
		if err != nil || v < 1024 {
			r.errf(n, "trace.refused_body_max %q must be a size of at least 1KiB, e.g. 64KiB", n.Value)
		} else {
			c.TraceRefusedMax = v
		}
	}
	c.TraceRetention = r.dur(&raw.Trace.Retention, "trace.retention", 0)
	c.TraceSignEvery = r.dur(&raw.Trace.SignEvery, "trace.sign_every", time.Hour)
	if c.TraceSignEvery < time.Second {
		r.errf(&raw.Trace.SignEvery, "trace.sign_every must be at least 1s, e.g. 1h")
	}
	if c.TraceTSA = r.str(&raw.Trace.TSA, "trace.tsa", ""); c.TraceTSA != "" &&
		!strings.HasPrefix(c.TraceTSA, "http://") && !strings.HasPrefix(c.TraceTSA, "https://") {
		r.errf(&raw.Trace.TSA, "trace.tsa %q must be the http:// or https:// URL of an RFC 3161 TSA", c.TraceTSA)
	}
	if c.TraceTSACA = r.path(&raw.Trace.TSACA, "trace.tsa_ca", ""); c.TraceTSACA != "" {
		if _, err := os.Stat(c.TraceTSACA); err != nil {
			r.errf(&raw.Trace.TSACA, "trace.tsa_ca: %v", err)
		}
	}

	alg := r.str(&raw.Signature.Algorithm, "signature.algorithm", "auto")
	if alg != "auto" {
		uri, ok := sigAlgs[alg]
		if !ok {
			r.errf(&raw.Signature.Algorithm, "signature.algorithm %q must be auto, rsa-sha256, rsa-sha384, rsa-sha512, ecdsa-sha256, ecdsa-sha384 or ecdsa-sha512", alg)
		}
		c.SignatureAlgorithm = uri
	}
	c.MaxClockSkew = r.dur(&raw.Signature.MaxClockSkew, "signature.max_clock_skew", 5*time.Minute)

	c.MaxMessage = defaultMaxMessage
	if n := &raw.Limits.MaxMessage; set(n) {
		v, err := size.Parse(n.Value)
		if err != nil || v < 1024 {
			r.errf(n, "limits.max_message %q must be a size of at least 1KiB, e.g. 16MiB", n.Value)
		} else {
			c.MaxMessage = v
		}
	}
	c.InflightBytes = defaultInflightBytes
	if n := &raw.Limits.InflightBytes; set(n) {
		v, err := size.Parse(n.Value)
		if err != nil || v < c.MaxMessage {
			r.errf(n, "limits.inflight_bytes %q must be a size of at least limits.max_message (%d bytes), e.g. 256MiB", n.Value, c.MaxMessage)
		} else {
			c.InflightBytes = v
		}
	} else if c.InflightBytes < c.MaxMessage {
		c.InflightBytes = c.MaxMessage
	}
	c.PerPeerRequests = r.count(&raw.Limits.PerPeerRequests, "limits.per_peer_requests", defaultPerPeerRequests, 1)
	c.PerListenerRequests = r.count(&raw.Limits.PerListenerRequests, "limits.per_listener_requests", defaultPerListenerRequests, 1)
	c.RetryAfter = r.dur(&raw.Limits.RetryAfter, "limits.retry_after", defaultRetryAfter)
	if c.RetryAfter < time.Second {
		r.errf(&raw.Limits.RetryAfter, "limits.retry_after must be at least 1s (Retry-After counts whole seconds)")
	}
	// The floors keep a signed busta readable: it has about 40 attributes, at most 5 on an
	// element, and 2 KB of names.
	c.MaxAttrsPerElement = r.count(&raw.Limits.MaxAttrsPerElement, "limits.max_attributes_per_element", xmlsafe.DefaultLimits.MaxAttrsPerElement, 16)
	c.MaxAttrs = r.count(&raw.Limits.MaxAttrs, "limits.max_attributes", xmlsafe.DefaultLimits.MaxAttrs, 1024)
	c.MaxNameBytes = int64(xmlsafe.DefaultLimits.MaxNameBytes)
	if n := &raw.Limits.MaxNameBytes; set(n) {
		v, err := size.Parse(n.Value)
		if err != nil || v < 64<<10 {
			r.errf(n, "limits.max_name_bytes %q must be a size of at least 64KiB, e.g. 4MiB", n.Value)
		} else {
			c.MaxNameBytes = v
		}
	}

	c.RetryInitial = r.dur(&raw.Outbox.InitialBackoff, "outbox.initial_backoff", time.Second)
	c.RetryMax = r.dur(&raw.Outbox.MaxBackoff, "outbox.max_backoff", 5*time.Minute)
	if c.RetryInitial <= 0 {
		r.errf(&raw.Outbox.InitialBackoff, "outbox.initial_backoff must be more than 0")
	} else if c.RetryMax < c.RetryInitial {
		r.errf(&raw.Outbox.MaxBackoff, "outbox.max_backoff (%v) is less than initial_backoff (%v)", c.RetryMax, c.RetryInitial)
	}
	if n := &raw.Outbox.MaxAttempts; set(n) {
		v, err := strconv.Atoi(n.Value)
		if err != nil || v < 0 {
			r.errf(n, "outbox.max_attempts %q must be a whole number >= 0 (0 = until expiry)", n.Value)
		}
		c.MaxAttempts = v
	}
	c.Expiry = r.dur(&raw.Outbox.Expiry, "outbox.expiry", 24*time.Hour)
	if c.Expiry <= 0 {
		r.errf(&raw.Outbox.Expiry, "outbox.expiry must be more than 0: a message nobody acknowledges must end as a visible failure")
	}
	c.Lease = r.dur(&raw.Outbox.Lease, "outbox.lease", time.Minute)
	if c.Lease <= 0 {
		r.errf(&raw.Outbox.Lease, "outbox.lease must be more than 0")
	}
	c.DuplicateRetention = r.dur(&raw.Duplicates.Retention, "duplicates.retention", 7200*time.Minute)
	if c.DuplicateRetention < c.Expiry && set(&raw.Duplicates.Retention) {
		r.errf(&raw.Duplicates.Retention, "duplicates.retention (%v) is shorter than outbox.expiry (%v): a late re-send would be delivered twice", c.DuplicateRetention, c.Expiry)
	}
	c.IdempotencyWindow = r.dur(&raw.Idempotency.Window, "idempotency.window", 24*time.Hour)
	if c.IdempotencyWindow <= 0 {
		r.errf(&raw.Idempotency.Window, "idempotency.window must be more than 0: an application's retry must find its key")
	}

	c.AuthFreeFailures = 5
	if n := &raw.PDAuth.FreeFailures; set(n) {
		v, err := strconv.Atoi(n.Value)
		if err != nil || v < 1 {
			r.errf(n, "pd_auth.free_failures %q must be a whole number >= 1", n.Value)
		}
		c.AuthFreeFailures = v
	}
	c.AuthInitialLockout = r.dur(&raw.PDAuth.InitialLockout, "pd_auth.initial_lockout", time.Second)
	c.AuthMaxLockout = r.dur(&raw.PDAuth.MaxLockout, "pd_auth.max_lockout", 5*time.Minute)
	c.AuthForget = r.dur(&raw.PDAuth.ForgetAfter, "pd_auth.forget_after", 15*time.Minute)
	if c.AuthInitialLockout <= 0 {
		r.errf(&raw.PDAuth.InitialLockout, "pd_auth.initial_lockout must be more than 0")
	} else if c.AuthMaxLockout < c.AuthInitialLockout {
		r.errf(&raw.PDAuth.MaxLockout, "pd_auth.max_lockout (%v) is less than initial_lockout (%v)", c.AuthMaxLockout, c.AuthInitialLockout)
	}
	if c.AuthForget <= 0 {
		r.errf(&raw.PDAuth.ForgetAfter, "pd_auth.forget_after must be more than 0")
	}

	c.PeerTimeout = r.dur(&raw.HTTPClient.Timeout, "http_client.timeout", 30*time.Second)
	c.DialTimeout = r.dur(&raw.HTTPClient.DialTimeout, "http_client.dial_timeout", 10*time.Second)
	c.TLSHandshakeTimeout = r.dur(&raw.HTTPClient.TLSHandshakeTimeout, "http_client.tls_handshake_timeout", 10*time.Second)
	c.BackendTimeout = r.dur(&raw.HTTPClient.BackendTimeout, "http_client.backend_timeout", 30*time.Second)
	for _, d := range []struct {
		key string
		v   time.Duration
		n   *yaml.Node
	}{{"http_client.timeout", c.PeerTimeout, &raw.HTTPClient.Timeout}, {"http_client.dial_timeout", c.DialTimeout, &raw.HTTPClient.DialTimeout},
		{"http_client.tls_handshake_timeout", c.TLSHandshakeTimeout, &raw.HTTPClient.TLSHandshakeTimeout}, {"http_client.backend_timeout", c.BackendTimeout, &raw.HTTPClient.BackendTimeout}} {
		if d.v <= 0 {
			r.errf(d.n, "%s must be more than 0: every outbound call has a timeout", d.key)
		}
	}

	c.Jobs = r.jobs(&raw.Jobs, check)

	if c.Key != "" && c.Cert != "" && len(r.probs) == 0 {
		r.checkKey(c, &raw.Paths.Key, &raw.Signature.Algorithm)
	}
	if len(r.probs) > 0 {
		return nil, r.probs
	}
	return c, nil
}

var timeOfDayRE = regexp.MustCompile(`^([01][0-9]|2[0-3]):([0-5][0-9])$`)

// jobs reads the jobs list.
func (r *configReader) jobs(n *yaml.Node, check JobCheck) []JobConfig {
	if !set(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		r.errf(n, "jobs must be a list of {name, every, at, run} entries")
		return nil
	}
	var out []JobConfig
	names := map[string]int{}
	for i, e := range n.Content {
		if e.Kind != yaml.MappingNode {
			r.errf(e, "jobs[%d] must be a mapping: {name: NAME, every: 15m, run: [sil, send, --what, sap]}", i)
			continue
		}
		j := JobConfig{Line: e.Line}
		var nameN, everyN, atN, runN *yaml.Node
		for k := 0; k+1 < len(e.Content); k += 2 {
			key, v := e.Content[k], e.Content[k+1]
			switch key.Value {
			case "name":
				nameN = v
			case "every":
				everyN = v
			case "at":
				atN = v
			case "run":
				runN = v
			default:
				r.errf(key, "jobs[%d]: unknown key %q; a job has name, every, at and run", i, key.Value)
			}
		}
		where := fmt.Sprintf("jobs[%d]", i)
		if nameN == nil {
			r.errf(e, "%s: name is missing", where)
		} else {
			j.Name = r.str(nameN, where+".name", "")
			where = fmt.Sprintf("job %q", j.Name)
			if !nodeRE.MatchString(j.Name) {
				r.errf(nameN, "jobs[%d].name %q must be 1-64 letters, digits, '.', '_' or '-'", i, j.Name)
			} else if line, dup := names[j.Name]; dup {
				r.errf(nameN, "%s is also the name of the job at line %d; each job needs its own name (it keys its lease, mark and history)", where, line)
			}
			names[j.Name] = e.Line
		}
		everyOK := false
		if everyN == nil {
			r.errf(e, "%s: every is missing, e.g. every: 15m", where)
		} else {
			before := len(r.probs)
			j.Schedule.Every = r.dur(everyN, where+".every", 0)
			everyOK = len(r.probs) == before
		}
		if atN != nil {
			at := r.str(atN, where+".at", "")
			m := timeOfDayRE.FindStringSubmatch(at)
			if m == nil {
				r.errf(atN, "%s: at %q must be a time of day HH:MM, e.g. \"02:30\"", where, at)
			} else {
				h, _ := strconv.Atoi(m[1])
				mi, _ := strconv.Atoi(m[2])
				j.Schedule.At = time.Duration(h)*time.Hour + time.Duration(mi)*time.Minute
			}
		}
		if everyOK {
			if err := j.Schedule.Check(); err != nil {
				r.errf(everyN, "%s: %v", where, err)
			}
		}
		switch {
		case runN == nil:
			r.errf(e, "%s: run is missing: porta's arguments, e.g. run: [sil, send, --what, sap]", where)
		case runN.Kind != yaml.SequenceNode || len(runN.Content) == 0:
			r.errf(runN, "%s: run must be a list of porta's arguments, e.g. [sil, send, --what, sap]", where)
		default:
			ok := true
			for _, a := range runN.Content {
				if a.Kind != yaml.ScalarNode {
					r.errf(a, "%s: run: each argument must be a single value", where)
					ok = false
				}
				j.Run = append(j.Run, a.Value)
			}
			if ok && check != nil {
				if err := check(j.Run); err != nil {
					r.errf(runN, "%s: run %q: %v", where, redact.Line(j.Run), err)
				}
			}
		}
		out = append(out, j)
	}
	return out
}

// checkKey checks that the key matches the certificate and the signature algorithm.
func (r *configReader) checkKey(c *Config, keyNode, algNode *yaml.Node) {
	key, err := registry.ReadKeyFile(c.Key)
	if err != nil {
		r.errf(keyNode, "paths.key: %v", err)
		return
	}
	certs, err := registry.ReadCertFile(c.Cert)
	if err != nil {
		r.errf(nil, "paths.cert: %v", err)
		return
	}
	if err := registry.MatchKey(key, certs[0]); err != nil {
		r.errf(keyNode, "paths.key %s: %v (paths.cert %s)", c.Key, err, c.Cert)
		return
	}
	if c.SignatureAlgorithm == "" {
		return
	}
	_, isRSA := key.(*rsa.PrivateKey)
	_, isEC := key.(*ecdsa.PrivateKey)
	if (isRSA && !strings.Contains(c.SignatureAlgorithm, "#rsa-")) || (isEC && !strings.Contains(c.SignatureAlgorithm, "#ecdsa-")) {
		r.errf(algNode, "signature.algorithm %q does not suit the %T in %s; use auto", c.SignatureAlgorithm, key, c.Key)
	}
}

var typeErrLine = regexp.MustCompile(`line (\d+): (.*)`)

// yamlProblems turns a yaml.v3 decoding error into problems with line numbers.
func yamlProblems(file string, err error) registry.Problems {
	var te *yaml.TypeError
	var out registry.Problems
	if errors.As(err, &te) {
		for _, e := range te.Errors {
			line := 0
			msg := e
			if m := typeErrLine.FindStringSubmatch(e); m != nil {
				line, _ = strconv.Atoi(m[1])
				msg = m[2]
			}
			if f, ok := strings.CutPrefix(msg, "field "); ok {
				if name, ok := strings.CutSuffix(f, " not found in type node.rawConfig"); ok {
					msg = fmt.Sprintf("unknown key %q; see the keys documented in node.Config", name)
				} else if i := strings.Index(f, " not found in type "); i > 0 {
					msg = fmt.Sprintf("unknown key %q here; check its spelling and indentation", f[:i])
				} else if i := strings.Index(f, " already set in type "); i > 0 {
					msg = fmt.Sprintf("key %q is set twice; keep one", f[:i])
				}
			} else if strings.Contains(msg, "cannot unmarshal") {
				msg = "wrong shape: " + msg + " (a mapping, a list or a value was expected here)"
			}
			out = append(out, registry.Problem{File: file, Line: line, Msg: msg})
		}
		return out
	}
	msg := err.Error()
	line := 0
	if m := typeErrLine.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	}
	return registry.Problems{{File: file, Line: line, Msg: "not valid YAML: " + strings.TrimPrefix(msg, "yaml: ")}}
}

// CheckRegistry checks the config against its loaded registry: every party of parties must be
// declared there with hosted: true, and the registry must host no party the config leaves out;
// when a hosted party lists certificates, the gateway's certificate must be among them.
func (c *Config) CheckRegistry(reg *registry.Registry) error {
	var probs registry.Problems
	certs, err := registry.ReadCertFile(c.Cert)
	if err != nil {
		return fmt.Errorf("%s: paths.cert: %w", c.File, err)
	}
	for _, name := range c.Parties {
		p, ok := reg.Party(name)
		switch {
		case !ok:
			probs = append(probs, registry.Problem{File: c.File, Msg: fmt.Sprintf("party %q is not declared in the registry %s; add it with hosted: true", name, c.Registry)})
		case !p.Hosted:
			probs = append(probs, registry.Problem{File: p.Pos.File, Line: p.Pos.Line, Msg: fmt.Sprintf("party %q is hosted by this gateway (%s) but not marked hosted: true", name, c.File)})
		case len(p.Certs) > 0 && !p.Owns(certs[0]):
			probs = append(probs, registry.Problem{File: p.Pos.File, Line: p.Pos.Line, Msg: fmt.Sprintf("party %q does not list this gateway's certificate %s (sha256 %s); peers would reject its signatures", name, c.Cert, registry.Fingerprint(certs[0]))})
		}
	}
	for _, h := range reg.HostedParties() {
		found := false
		for _, name := range c.Parties {
			found = found || name == h
		}
		if !found {
			p, _ := reg.Party(h)
			probs = append(probs, registry.Problem{File: p.Pos.File, Line: p.Pos.Line, Msg: fmt.Sprintf("party %q is marked hosted but %s does not list it under parties; add it there or remove hosted: true", h, c.File)})
		}
	}
	if len(probs) > 0 {
		return probs
	}
	return nil
}

// StoreDriver returns the database/sql driver name and data source for Store: "sqlite3" with a
// file path, or "pgx" with the postgres URL.
func (c *Config) StoreDriver() (driver, dsn string) {
	if p, ok := strings.CutPrefix(c.Store, "sqlite:"); ok {
		return "sqlite3", p
	}
	return "pgx", c.Store
}

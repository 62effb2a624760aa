package node

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"porta/audit"
	"porta/envelope"
	"porta/envelope/wssec"
	"porta/gateway"
	"porta/jobs"
	"porta/registry"
	"porta/xsd"
)

// StoreOpener opens the store named by dsn ("sqlite:/abs/file.db" or a postgres:// URL) for the
// configured node.
type StoreOpener func(ctx context.Context, cfg *Config, dsn string) (OpenedStore, error)

// OpenedStore is what a StoreOpener returns: the gateway's store, the store of porta serve's jobs
// when it has one, and how to close them.
type OpenedStore struct {
	Store gateway.Store
	Jobs  jobs.Store // nil: this store cannot hold jobs
	// Audit is the audit store itself when the gateway's store is one (nil otherwise): the
	// management API reads the trail, the queues and the operators there, and porta serve keeps
	// the trail (signed heads, retention).
	Audit *audit.Store
	Close func() error
}

// OpenAuditStore is the StoreOpener of porta serve: the audit store named by dsn, for the
// configured node, keeping envelopes as trace.body and the services' trace policies say,
// sealed with the keys of trace.keys (when that directory exists); it also holds the jobs.
func OpenAuditStore(ctx context.Context, cfg *Config, dsn string) (OpenedStore, error) {
	keys, err := cfg.LoadTraceKeys()
	if err != nil {
		return OpenedStore{}, err
	}
	s, err := audit.Open(ctx, dsn, audit.Options{Node: cfg.Node, BodyMode: audit.BodyMode(cfg.TraceBody), Keys: keys, IndexKey: cfg.TraceIndexKey})
	if err != nil {
		return OpenedStore{}, err
	}
	return OpenedStore{Store: gateway.NewAuditStore(s, cfg.DuplicateRetention), Jobs: s, Audit: s, Close: s.Close}, nil
}

// OpenOptions adjust Open.
type OpenOptions struct {
	// Store overrides the configuration's store: "sqlite:FILE" or a postgres:// URL.
	Store string
	// OpenStore opens it; nil means OpenAuditStore, the audit store. The store applies each
	// record's body mode (gateway.Record.BodyMode).
	OpenStore StoreOpener
	// PDAddr, PAAddr and AdminAddr override the configured listen addresses (port 0 = any).
	PDAddr, PAAddr, AdminAddr string
	// Backends are the built-in adapters a registry delivery may name ("adapter:NAME").
	Backends map[string]gateway.Backend
	// Validator validates payloads against the schemas services name; nil when no service names one.
	Validator gateway.Validator
	Logger    *slog.Logger
	Clock     func() time.Time
	// LockNode takes the node's exclusive lock on the store (audit.LockNode) before opening it,
	// so that a second process with the same node id fails at once, naming the holder; porta
	// serve sets it. The lock is released by Close.
	LockNode bool
	// CheckJob checks the run arguments of porta.yaml's jobs (LoadConfigWith); nil checks only
	// their shape.
	CheckJob JobCheck
	// Large is told while the gateway holds large messages (gateway.Deps.Large); nil: nobody is.
	Large gateway.LargeMessages
}

// Opened is a gateway built from porta.yaml with everything it was built from, for the commands
// that run one (serve, demo, bench, sim).
type Opened struct {
	Gateway   *gateway.Gateway
	Config    *Config
	Registry  *registry.Registry // as opened; Reload does not change it (RegistryInUse does)
	Store     gateway.Store
	Jobs      jobs.Store   // where porta serve's jobs keep their leases, marks and history; nil: nowhere
	Audit     *audit.Store // the audit store (management API, signed heads, retention); nil with another store
	Hosted    []string
	Listeners gateway.Listeners // addresses and TLS of porta.yaml, ready for Gateway.Serve
	closers   []func() error

	// What Reload needs to build from a registry again, and what it replaces.
	regOpt   registry.Options
	keyPair  tls.Certificate
	backends map[string]gateway.Backend
	client   atomic.Pointer[http.Client]
	current  atomic.Pointer[registry.Registry]
	paTLS    atomic.Pointer[tls.Config]
	reloadMu sync.Mutex
}

// Close releases the store and idle connections.
func (o *Opened) Close() error {
	var errs []error
	for i := len(o.closers) - 1; i >= 0; i-- {
		errs = append(errs, o.closers[i]())
	}
	return errors.Join(errs...)
}

// Open loads porta.yaml and its registry (every problem named by file and line), checks one
// against the other, loads the signing key, builds the trust store, the mTLS client for peers
// and the listeners' TLS, opens the store, and builds the Gateway. It starts nothing: call
// Gateway.Serve (or Run and the handlers) on the result.
func Open(ctx context.Context, cfgPath string, opt OpenOptions) (*Opened, error) {
	cfg, err := LoadConfigWith(cfgPath, opt.CheckJob)
	if err != nil {
		return nil, err
	}
	now := opt.Clock
	if now == nil {
		now = time.Now
	}
	var closers []func() error
	regOpt := registry.Options{Now: now}
	if opt.Validator == nil {
		// Porta's embedded schemas: payload schemas named in the registry must exist there.
		set, err := xsd.Open()
		if err != nil {
			return nil, err
		}
		closers = append(closers, set.Close)
		names, err := set.Schemas()
		if err != nil {
			set.Close()
			return nil, err
		}
		known := map[string]bool{}
		for _, n := range names {
			known[n] = true
		}
		regOpt.SchemaExists = func(name string) bool { return known[name] }
		opt.Validator = set
	}
	fail := func(err error) (*Opened, error) {
		for _, c := range closers {
			c()
		}
		return nil, err
	}
	reg, err := registry.Load(cfg.Registry, regOpt)
	if err != nil {
		return fail(err)
	}
	if err := cfg.CheckRegistry(reg); err != nil {
		return fail(err)
	}
	signer, err := wssec.LoadSigner(cfg.Key, cfg.Cert)
	if err != nil {
		return fail(fmt.Errorf("%s: %w", cfg.File, err))
	}
	if cfg.SignatureAlgorithm != "" && cfg.SignatureAlgorithm != signer.Algorithm() {
		return fail(fmt.Errorf("%s: signature.algorithm %s: the signer writes %s for this key; use auto", cfg.File, cfg.SignatureAlgorithm, signer.Algorithm()))
	}
	if opt.Logger != nil {
		opt.Logger.Info("signer", "engine", signer.Engine(), "algorithm", signer.Algorithm())
	}
	signer.Now = now
	signer.Parts = envelope.SignedParts()
	keyPair, err := tls.LoadX509KeyPair(cfg.Cert, cfg.Key)
	if err != nil {
		return fail(fmt.Errorf("%s: TLS key pair: %w", cfg.File, err))
	}
	own, err := registry.ReadCertFile(cfg.Cert)
	if err != nil {
		return fail(fmt.Errorf("%s: %w", cfg.File, err))
	}

	o := &Opened{Config: cfg, Hosted: cfg.Parties, closers: closers, regOpt: regOpt, keyPair: keyPair, backends: opt.Backends}
	fr, err := o.fromRegistry(reg)
	if err != nil {
		return fail(err)
	}
	o.Registry = reg
	o.current.Store(reg)
	o.client.Store(fr.Client)
	o.paTLS.Store(fr.paTLS)
	o.closers = append(o.closers, func() error { o.client.Load().CloseIdleConnections(); return nil })
	if strings.HasPrefix(opt.Store, "/") || strings.HasSuffix(opt.Store, ".db") {
		opt.Store = "sqlite:" + opt.Store
	}

	dsn := cfg.Store
	if opt.Store != "" {
		dsn = opt.Store
	}
	if opt.LockNode {
		l, err := audit.LockNode(ctx, dsn, cfg.Node)
		if err != nil {
			o.Close()
			return nil, fmt.Errorf("%s: %w", cfg.File, err)
		}
		o.closers = append(o.closers, l.Close)
	}
	if opt.OpenStore == nil {
		opt.OpenStore = OpenAuditStore
	}
	if err := cfg.checkKeys(reg); err != nil {
		o.Close()
		return nil, err
	}
	st, err := opt.OpenStore(ctx, cfg, dsn)
	if err != nil {
		o.Close()
		return nil, fmt.Errorf("open store %s: %w", dsn, err)
	}
	store := st.Store
	o.Store, o.Jobs, o.Audit = store, st.Jobs, st.Audit
	o.closers = append(o.closers, st.Close)

	g, err := gateway.New(gateway.Options{
		Node: cfg.Node, BodyMode: cfg.TraceBody, MaxMessage: cfg.MaxMessage, RefusedBodyMax: cfg.TraceRefusedMax, PeerTimeout: cfg.PeerTimeout,
		InflightBytes: cfg.InflightBytes, PeerRequests: cfg.PerPeerRequests, ListenerRequests: cfg.PerListenerRequests, RetryAfter: cfg.RetryAfter,
		Window: cfg.DuplicateRetention, Expiry: cfg.Expiry, MaxAttempts: cfg.MaxAttempts, RetryMin: cfg.RetryInitial, RetryMax: cfg.RetryMax, Lease: cfg.Lease,
		PDBase: cfg.PDPublicURL, Default: cfg.Parties[0], IdempotencyWindow: cfg.IdempotencyWindow,
		Throttle: gateway.ThrottleOptions{Free: cfg.AuthFreeFailures, Initial: cfg.AuthInitialLockout, Max: cfg.AuthMaxLockout, Forget: cfg.AuthForget},
	}, gateway.Deps{
		Directory: fr.Directory, Store: store, Signer: signer, Verifier: fr.Verifier, Validator: opt.Validator,
		Client: fr.Client, Clock: now, Logger: opt.Logger, Hosted: cfg.Parties, Certificates: own, Large: opt.Large,
	})
	if err != nil {
		o.Close()
		return nil, err
	}
	o.Gateway = g

	o.Listeners = gateway.Listeners{
		PD: or(opt.PDAddr, cfg.PDAddr), PA: or(opt.PAAddr, cfg.PAAddr), Admin: or(opt.AdminAddr, cfg.AdminAddr),
		// The PA's TLS is the current registry's (its client CAs change with a reload).
		PATLS: &tls.Config{GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) { return o.paTLS.Load(), nil }},
	}
	if cfg.PDTLS {
		t, err := listenerTLS(cfg, keyPair, tls.RequestClientCert, cfg.PDClientCA, "listen.pd_client_ca")
		if err != nil {
			o.Close()
			return nil, err
		}
		o.Listeners.PDTLS = t
	}
	if cfg.AdminTLS {
		t, err := listenerTLS(cfg, keyPair, tls.NoClientCert, cfg.AdminClientCA, "listen.admin_client_ca")
		if err != nil {
			o.Close()
			return nil, err
		}
		o.Listeners.AdminTLS = t
	}
	return o, nil
}

// listenerTLS is the TLS of a local listener (the PD's with listen.pd_tls, the admin's with
// listen.admin_tls): the node's certificate, and client certificates verified against caFile
// (porta.yaml's key) when one is given. A certificate is then asked for, never required: the PD
// also takes HTTP Basic, and the admin listener's /healthz, /readyz and /metrics answer without
// one (package ops decides what a request without one may do). Without caFile, noCA says whether
// a certificate is asked for at all.
func listenerTLS(cfg *Config, keyPair tls.Certificate, noCA tls.ClientAuthType, caFile, key string) (*tls.Config, error) {
	t := &tls.Config{Certificates: []tls.Certificate{keyPair}, MinVersion: tls.VersionTLS12, ClientAuth: noCA}
	if caFile != "" {
		cas, err := registry.ReadCertFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", cfg.File, key, err)
		}
		p := x509.NewCertPool()
		for _, c := range cas {
			p.AddCert(c)
		}
		t.ClientCAs, t.ClientAuth = p, tls.VerifyClientCertIfGiven
	}
	return t, nil
}

// fromRegistry is what the gateway derives from a loaded registry and the configured CA: the
// Directory, the Verifier (pinned party certificates, party and configured CAs), the mTLS client
// for peers, and the Porta Applicativa's TLS (the client CAs it accepts). Open and Reload build it
// alike.
type fromRegistry struct {
	gateway.Reload
	paTLS *tls.Config
}

func (o *Opened) fromRegistry(reg *registry.Registry) (fromRegistry, error) {
	cfg := o.Config
	if err := cfg.CheckRegistry(reg); err != nil {
		return fromRegistry{}, err
	}
	// Trust: the registry's pinned party certificates and their CAs, plus the configured CA.
	var pinned, roots []*x509.Certificate
	for _, p := range reg.Parties() {
		pinned = append(pinned, p.Certs...)
		roots = append(roots, p.CA...)
	}
	pool := reg.TrustPool()
	clientCAs := reg.TrustPool()
	if cfg.CA != "" {
		cas, err := registry.ReadCertFile(cfg.CA)
		if err != nil {
			return fromRegistry{}, fmt.Errorf("%s: paths.ca: %w", cfg.File, err)
		}
		roots = append(roots, cas...)
		for _, c := range cas {
			pool.AddCert(c)
		}
		clientCAs = pool
	}
	now := o.regOpt.Now
	verifier := &wssec.Verifier{
		Trust:   wssec.NewTrustStore(pinned, roots),
		MaxSkew: cfg.MaxClockSkew,
		Now:     now,
		Limits:  cfg.XMLLimits(),
		Parts:   envelope.SignedParts(),
	}
	dir, err := gateway.NewDirectory(reg, o.backends, cfg.BackendTimeout)
	if err != nil {
		return fromRegistry{}, err
	}
	client := &http.Client{Transport: &http.Transport{
		DialContext:           (&net.Dialer{Timeout: cfg.DialTimeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       &tls.Config{Certificates: []tls.Certificate{o.keyPair}, RootCAs: pool, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:   cfg.TLSHandshakeTimeout,
		ResponseHeaderTimeout: cfg.PeerTimeout,
		MaxIdleConns:          512,
		MaxIdleConnsPerHost:   128,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
		// A busta goes out with its headers in one TLS record and one write: with the default
		// 4 KB buffer a signed 1 KB exchange (about 6 KB) took three.
		WriteBufferSize: 32 << 10,
	}}
	paTLS := &tls.Config{
		Certificates: []tls.Certificate{o.keyPair}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: clientCAs,
		MinVersion: tls.VersionTLS12,
	}
	return fromRegistry{gateway.Reload{Directory: dir, Verifier: verifier, Client: client}, paTLS}, nil
}

// Reload loads the registry again (paths.registry, with the checks of porta registry check and
// of Open: every problem by file and line, the hosted parties against porta.yaml) and the
// certificates it names and paths.ca, and puts them in use atomically: the gateway's Directory,
// Verifier and peer client, and the Porta Applicativa's accepted client CAs. If anything fails
// the registry in use stays, the gateway logs why and counts it in /metrics, and the error is
// returned. porta.yaml itself, the gateway's own key and certificate and the store are not
// reloaded: they need a restart.
func (o *Opened) Reload() error {
	o.reloadMu.Lock()
	defer o.reloadMu.Unlock()
	var reg *registry.Registry
	fr, err := func() (fromRegistry, error) {
		var err error
		if reg, err = registry.Load(o.Config.Registry, o.regOpt); err != nil {
			return fromRegistry{}, err
		}
		if err := o.Config.checkKeys(reg); err != nil {
			return fromRegistry{}, err
		}
		return o.fromRegistry(reg)
	}()
	if err != nil {
		o.Gateway.ReloadFailed(err)
		return err
	}
	o.paTLS.Store(fr.paTLS)
	o.client.Store(fr.Client)
	o.current.Store(reg)
	if old := o.Gateway.Swap(fr.Reload); old != nil {
		// Requests in flight keep their connections; idle ones of the old client go.
		old.CloseIdleConnections()
	}
	return nil
}

// RegistryInUse returns the registry in use: the last one Reload put in use, or the one opened.
func (o *Opened) RegistryInUse() *registry.Registry { return o.current.Load() }

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

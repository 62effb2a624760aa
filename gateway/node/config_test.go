package node

import (
	"crypto/rand"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"porta/envelope/wssec"
	"porta/internal/xmlsafe"
	"porta/registry"
)

// configDir writes what porta.yaml refers to by default: key.pem, cert.pem (ECDSA, self-signed)
// and a registry hosting Provincia.
func configDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	key, err := registry.GenerateKey(registry.AlgECDSAP256, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := registry.SelfSigned(key, registry.CertRequest{CommonName: "Provincia"}, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if err := registry.WriteKeyFile(filepath.Join(dir, "key.pem"), key); err != nil {
		t.Fatal(err)
	}
	if err := registry.WriteCertFile(filepath.Join(dir, "cert.pem"), cert); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "registry.yaml"), []byte("parties:\n  - name: Provincia\n    hosted: true\n    certificates: [cert.pem]\n"), 0o644)
	return dir
}

func writeConfig(t *testing.T, dir, text string) string {
	t.Helper()
	p := filepath.Join(dir, "porta.yaml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadConfigDefaults(t *testing.T) {
	dir := configDir(t)
	c, err := LoadConfig(writeConfig(t, dir, "parties: [Provincia]\n"))
	if err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	want := Config{
		File: filepath.Join(dir, "porta.yaml"), Node: host, Parties: []string{"Provincia"},
		PDAddr: DefaultPDAddr, PAAddr: DefaultPAAddr, AdminAddr: DefaultAdminAddr,
		Key: filepath.Join(dir, "key.pem"), Cert: filepath.Join(dir, "cert.pem"), Registry: filepath.Join(dir, "registry.yaml"),
		Store: "sqlite:" + filepath.Join(dir, "porta.db"), TraceBody: "full", TraceRefusedMax: 64 << 10, TraceKeys: filepath.Join(dir, "trace-keys"), TraceSignEvery: time.Hour, MaxClockSkew: 5 * time.Minute,
		MaxMessage: 16 << 20, MaxAttrsPerElement: 256, MaxAttrs: 65536, MaxNameBytes: 4 << 20, InflightBytes: 256 << 20, PerPeerRequests: 256, PerListenerRequests: 1024, RetryAfter: 5 * time.Second,
		RetryInitial: time.Second, RetryMax: 5 * time.Minute, Lease: time.Minute, Expiry: 24 * time.Hour,
		DuplicateRetention: 7200 * time.Minute, IdempotencyWindow: 24 * time.Hour, PeerTimeout: 30 * time.Second, DialTimeout: 10 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second, BackendTimeout: 30 * time.Second,
		AuthFreeFailures: 5, AuthInitialLockout: time.Second, AuthMaxLockout: 5 * time.Minute, AuthForget: 15 * time.Minute,
	}
	if c.Node == "" || !nodeRE.MatchString(host) {
		want.Node = c.Node // hostnames that are not valid node names are a machine matter
	}
	if got := *c; !equalConfig(got, want) {
		t.Errorf("defaults:\n got %+v\nwant %+v", got, want)
	}
	if d, dsn := c.StoreDriver(); d != "sqlite3" || dsn != filepath.Join(dir, "porta.db") {
		t.Errorf("StoreDriver = %s %s", d, dsn)
	}
}

func equalConfig(a, b Config) bool { return reflect.DeepEqual(a, b) }

func TestLoadConfigEverything(t *testing.T) {
	dir := configDir(t)
	os.MkdirAll(filepath.Join(dir, "pki"), 0o755)
	os.Rename(filepath.Join(dir, "cert.pem"), filepath.Join(dir, "pki", "cert.pem"))
	c, err := LoadConfig(writeConfig(t, dir, `node: provincia-1
parties: [Provincia, ComuneA]
listen:
  pd: 0.0.0.0:8080
  pa: ":8443"
  admin: localhost:0
  admin_tls: true
  admin_client_ca: pki/cert.pem
  pd_tls: true
  pd_client_ca: pki/cert.pem
  pd_public_url: https://sil-gw.example:8080
paths:
  key: key.pem
  cert: pki/cert.pem
  registry: registry.yaml
store: postgres://porta@db.example/porta
trace: {body: header, refused_body_max: 8KiB, retention: 400d, sign_every: 15m, tsa: "https://tsa.example/tsr"}
signature: {algorithm: ecdsa-sha256, max_clock_skew: 90s}
limits: {max_message: 2MiB, inflight_bytes: 64MiB, per_peer_requests: 8, per_listener_requests: 100, retry_after: 30s, max_attributes_per_element: 32, max_attributes: 2000, max_name_bytes: 1MiB}
outbox: {initial_backoff: 500ms, max_backoff: 1m, max_attempts: 12, expiry: 2d}
duplicates: {retention: 7d}
idempotency: {window: 2h}
pd_auth: {free_failures: 3, initial_lockout: 2s, max_lockout: 1m, forget_after: 1h}
http_client: {timeout: 10s, dial_timeout: 2s, tls_handshake_timeout: 3s, backend_timeout: 20s}
jobs: []
`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Node != "provincia-1" || len(c.Parties) != 2 || c.PDAddr != "0.0.0.0:8080" || c.PAAddr != ":8443" || !c.PDTLS ||
		c.PDClientCA != filepath.Join(dir, "pki", "cert.pem") || !c.AdminTLS || c.AdminClientCA != filepath.Join(dir, "pki", "cert.pem") || c.Cert != filepath.Join(dir, "pki", "cert.pem") ||
		c.TraceBody != "header" || c.TraceRefusedMax != 8<<10 || c.TraceRetention != 400*24*time.Hour || c.TraceSignEvery != 15*time.Minute || c.TraceTSA != "https://tsa.example/tsr" || c.SignatureAlgorithm != wssec.AlgECDSASHA256 || c.MaxClockSkew != 90*time.Second ||
		c.MaxMessage != 2<<20 || c.MaxAttrsPerElement != 32 || c.MaxAttrs != 2000 || c.MaxNameBytes != 1<<20 || c.InflightBytes != 64<<20 || c.PerPeerRequests != 8 || c.PerListenerRequests != 100 || c.RetryAfter != 30*time.Second ||
		c.RetryInitial != 500*time.Millisecond || c.RetryMax != time.Minute || c.MaxAttempts != 12 ||
		c.Expiry != 48*time.Hour || c.DuplicateRetention != 7*24*time.Hour || c.IdempotencyWindow != 2*time.Hour || c.PeerTimeout != 10*time.Second ||
		c.DialTimeout != 2*time.Second || c.TLSHandshakeTimeout != 3*time.Second || c.BackendTimeout != 20*time.Second ||
		c.AuthFreeFailures != 3 || c.AuthInitialLockout != 2*time.Second || c.AuthMaxLockout != time.Minute || c.AuthForget != time.Hour {
		t.Errorf("config = %+v", c)
	}
	if d, dsn := c.StoreDriver(); d != "pgx" || dsn != "postgres://porta@db.example/porta" {
		t.Errorf("StoreDriver = %s %s", d, dsn)
	}
	if lim, want := c.XMLLimits(), (xmlsafe.Limits{MaxBytes: 2 << 20, MaxDepth: xmlsafe.DefaultLimits.MaxDepth, MaxElements: xmlsafe.DefaultLimits.MaxElements,
		MaxAttrsPerElement: 32, MaxAttrs: 2000, MaxNameBytes: 1 << 20}); lim != want {
		t.Errorf("XMLLimits = %+v, want %+v", lim, want)
	}
}

func TestLoadConfigErrors(t *testing.T) {
	cases := []struct {
		name, yaml string
		want       []string
	}{
		{"no parties", "node: n1\n", []string{
			"porta.yaml: parties is missing: list the parties this gateway hosts, e.g. parties: [Provincia]"}},
		{"unknown key", "parties: [Provincia]\nlisten:\n  pdd: 127.0.0.1:1\nstorage: x\n", []string{
			`porta.yaml:3: unknown key "pdd" here; check its spelling and indentation`,
			`porta.yaml:4: unknown key "storage"; see the keys documented in node.Config`}},
		{"pd_auth", "parties: [Provincia]\npd_auth:\n  free_failures: 0\n  initial_lockout: 10s\n  max_lockout: 1s\n", []string{
			`porta.yaml:3: pd_auth.free_failures "0" must be a whole number >= 1`,
			`porta.yaml:5: pd_auth.max_lockout (1s) is less than initial_lockout (10s)`}},
		{"not YAML", "parties: [Provincia\n", []string{
			"porta.yaml:1: not valid YAML: did not find expected ',' or ']'"}},
		{"bad values", `parties: [Provincia, Comune-A]
listen:
  pd: 127.0.0.1:7443
  pa: 127.0.0.1:7443
  admin: nowhere
store: mysql://x
trace:
  body: all
signature:
  algorithm: rsa-sha1
limits:
  max_message: 10
  max_attributes_per_element: 8
  max_attributes: many
  max_name_bytes: 1KiB
outbox:
  initial_backoff: 10s
  max_backoff: 1s
  expiry: forever
jobs: [backup]
`, []string{
			`porta.yaml:1: parties: "Comune-A" is not a party name (letters and digits only)`,
			`porta.yaml:4: listen.pa "127.0.0.1:7443" is also listen.pd; each listener needs its own port`,
			`porta.yaml:5: listen.admin "nowhere" must be HOST:PORT, e.g. 127.0.0.1:7080 (an IP address or localhost; empty host = all interfaces)`,
			`porta.yaml:6: store "mysql://x" must be sqlite:FILE or a postgres://USER@HOST/DB URL`,
			`porta.yaml:8: trace.body "all" must be full, header, none or encrypted`,
			`porta.yaml:10: signature.algorithm "rsa-sha1" must be auto, rsa-sha256, rsa-sha384, rsa-sha512, ecdsa-sha256, ecdsa-sha384 or ecdsa-sha512`,
			`porta.yaml:12: limits.max_message "10" must be a size of at least 1KiB, e.g. 16MiB`,
			`porta.yaml:13: limits.max_attributes_per_element "8" must be a whole number of at least 16, e.g. 256`,
			`porta.yaml:14: limits.max_attributes "many" must be a whole number of at least 1024, e.g. 65536`,
			`porta.yaml:15: limits.max_name_bytes "1KiB" must be a size of at least 64KiB, e.g. 4MiB`,
			`porta.yaml:18: outbox.max_backoff (1s) is less than initial_backoff (10s)`,
			`porta.yaml:19: outbox.expiry must be a duration such as 500ms, 30s, 5m, 24h or 7d, found "forever"`,
			`porta.yaml:20: jobs[0] must be a mapping: {name: NAME, every: 15m, run: [sil, send, --what, sap]}`}},
		{"bad limits", "parties: [Provincia]\nlimits:\n  max_message: 32MiB\n  inflight_bytes: 16MiB\n  per_peer_requests: 0\n  per_listener_requests: many\n  retry_after: 10ms\n", []string{
			`porta.yaml:4: limits.inflight_bytes "16MiB" must be a size of at least limits.max_message (33554432 bytes), e.g. 256MiB`,
			`porta.yaml:5: limits.per_peer_requests "0" must be a whole number of at least 1, e.g. 256`,
			`porta.yaml:6: limits.per_listener_requests "many" must be a whole number of at least 1, e.g. 1024`,
			`porta.yaml:7: limits.retry_after must be at least 1s (Retry-After counts whole seconds)`}},
		{"missing files", "parties: [Provincia]\npaths:\n  key: nokey.pem\n  registry: /nonexistent/registry.yaml\n", []string{
			"porta.yaml:3: paths.key: DIR/nokey.pem: no such file or directory (relative paths are resolved against DIR)",
			"porta.yaml:4: paths.registry: /nonexistent/registry.yaml: no such file or directory (relative paths are resolved against DIR)"}},
		{"key does not suit algorithm", "parties: [Provincia]\nsignature:\n  algorithm: rsa-sha256\n", []string{
			`porta.yaml:3: signature.algorithm "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256" does not suit the *ecdsa.PrivateKey in DIR/key.pem; use auto`}},
		{"refused body cap too small", "parties: [Provincia]\ntrace: {refused_body_max: 100}\n", []string{
			`porta.yaml:2: trace.refused_body_max "100" must be a size of at least 1KiB, e.g. 64KiB`}},
		{"tsa not a URL", "parties: [Provincia]\ntrace: {tsa: tsa.example, sign_every: 0s}\n", []string{
			`porta.yaml:2: trace.sign_every must be at least 1s, e.g. 1h`,
			`porta.yaml:2: trace.tsa "tsa.example" must be the http:// or https:// URL of an RFC 3161 TSA`}},
		{"retention shorter than expiry", "parties: [Provincia]\nduplicates:\n  retention: 1h\n", []string{
			"porta.yaml:3: duplicates.retention (1h0m0s) is shorter than outbox.expiry (24h0m0s): a late re-send would be delivered twice"}},
		{"admin client CA without TLS, or no CA", "parties: [Provincia]\nlisten:\n  admin_client_ca: ops-ca.pem\n", []string{
			"porta.yaml:3: listen.admin_client_ca needs admin_tls: true (client certificates only exist over TLS)",
			"porta.yaml:3: listen.admin_client_ca: open DIR/ops-ca.pem: no such file or directory (the CA certificate that issues operators' client certificates, PEM)"}},
		{"admin_tls not a boolean", "parties: [Provincia]\nlisten:\n  admin_tls: yes please\n", []string{
			"porta.yaml:3: listen.admin_tls must be true or false"}},
		{"no idempotency window", "parties: [Provincia]\nidempotency: {window: 0s}\n", []string{
			"porta.yaml:2: idempotency.window must be more than 0: an application's retry must find its key"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := configDir(t)
			_, err := LoadConfig(writeConfig(t, dir, tc.yaml))
			var got []string
			if ps, ok := err.(registry.Problems); ok {
				for _, p := range ps {
					p.File = filepath.Base(p.File)
					got = append(got, strings.ReplaceAll(p.String(), dir, "DIR"))
				}
			} else {
				t.Fatalf("err = %v (%T), want registry.Problems", err, err)
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestConfigCheckRegistry(t *testing.T) {
	dir := configDir(t)
	c, err := LoadConfig(writeConfig(t, dir, "parties: [Provincia]\n"))
	if err != nil {
		t.Fatal(err)
	}
	reg, err := registry.Load(c.Registry, registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CheckRegistry(reg); err != nil {
		t.Errorf("CheckRegistry: %v", err)
	}
	// A registry hosting a party the config does not list, and listing another certificate.
	other := filepath.Join(dir, "other.pem")
	os.WriteFile(other, mustRead(t, "../../testdata/pki/test-rsa.cert.pem"), 0o644)
	os.WriteFile(c.Registry, []byte("parties:\n  - name: Provincia\n    hosted: true\n    certificates: [other.pem]\n  - name: ComuneA\n    hosted: true\n"), 0o644)
	reg, err = registry.Load(c.Registry, registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = c.CheckRegistry(reg)
	if err == nil || !strings.Contains(err.Error(), `registry.yaml:2: party "Provincia" does not list this gateway's certificate`) ||
		!strings.Contains(err.Error(), `registry.yaml:5: party "ComuneA" is marked hosted but`) {
		t.Errorf("CheckRegistry = %v", err)
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// FuzzLoadConfig feeds arbitrary porta.yaml files to LoadConfig: it must answer, never panic.
func FuzzLoadConfig(f *testing.F) {
	for _, seed := range []string{"parties: [Provincia]\n", "listen: {pd: ':0', pa: ':0'}\n", "jobs: [x]\n", "outbox: 3\n", "parties: [[a]]\nlimits: {max_message: 1GiB}\n"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(t.TempDir(), "porta.yaml")
		os.WriteFile(p, data, 0o644)
		c, err := LoadConfig(p)
		if (c == nil) == (err == nil) {
			t.Fatalf("LoadConfig returned config %v and error %v", c, err)
		}
	})
}

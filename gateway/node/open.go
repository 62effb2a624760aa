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
	Close func() error
}

// OpenAuditStore is the StoreOpener of porta serve: the audit store named by dsn, for the
// configured node, keeping envelopes as trace.body says; it also holds the jobs.
func OpenAuditStore(ctx context.Context, cfg *Config, dsn string) (OpenedStore, error) {
	s, err := audit.Open(ctx, dsn, audit.Options{Node: cfg.Node, BodyMode: audit.BodyMode(cfg.TraceBody)})
	if err != nil {
		return OpenedStore{}, err
	}
	return OpenedStore{Store: gateway.NewAuditStore(s, cfg.DuplicateRetention), Jobs: s, Close: s.Close}, nil
}

// OpenOptions adjust Open.
type OpenOptions struct {
	// Store overrides the configuration's store: "sqlite:FILE" or a postgres:// URL.
	Store string
	// OpenStore opens it; nil means OpenAuditStore, the audit store (which then also applies
	// trace.body to the envelopes it keeps).
	OpenStore StoreOpener
	// PDAddr, PAAddr and AdminAddr override the configured listen addresses (port 0 = any).
	PDAddr, PAAddr, AdminAddr string
	// Backends are the built-in adapters a registry delivery may name ("adapter:NAME").
	Backends map[string]gateway.Backend
	// Validator validates payloads against the schemas services name; nil when no service names one.
	Validator gateway.Validator
	Logger    *slog.Logger
	Clock     func() time.Time
	// CheckJob checks the run arguments of porta.yaml's jobs (LoadConfigWith); nil checks only
	// their shape.
	CheckJob JobCheck
}

// Opened is a gateway built from porta.yaml with everything it was built from, for the commands
// that run one (serve, demo, bench, sim).
type Opened struct {
	Gateway   *gateway.Gateway
	Config    *Config
	Registry  *registry.Registry
	Store     gateway.Store
	Jobs      jobs.Store // where porta serve's jobs keep their leases, marks and history; nil: nowhere
	Hosted    []string
	Listeners gateway.Listeners // addresses and TLS of porta.yaml, ready for Gateway.Serve
	closers   []func() error
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

	// Trust: the registry's pinned party certificates and their CAs, plus the configured CA.
	var pinned, roots []*x509.Certificate
	for _, p := range reg.Parties() {
		pinned = append(pinned, p.Certs...)
		roots = append(roots, p.CA...)
	}
	pool := reg.TrustPool()
	if cfg.CA != "" {
		cas, err := registry.ReadCertFile(cfg.CA)
		if err != nil {
			return fail(fmt.Errorf("%s: paths.ca: %w", cfg.File, err))
		}
		roots = append(roots, cas...)
		for _, c := range cas {
			pool.AddCert(c)
		}
	}
	verifier := &wssec.Verifier{
		Trust:   wssec.NewTrustStore(pinned, roots),
		MaxSkew: cfg.MaxClockSkew,
		Now:     now,
		Limits:  cfg.XMLLimits(),
		Parts:   envelope.SignedParts(),
	}
	client := &http.Client{Transport: &http.Transport{
		DialContext:           (&net.Dialer{Timeout: cfg.DialTimeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       &tls.Config{Certificates: []tls.Certificate{keyPair}, RootCAs: pool, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:   cfg.TLSHandshakeTimeout,
		ResponseHeaderTimeout: cfg.PeerTimeout,
		MaxIdleConns:          512,
		MaxIdleConnsPerHost:   128,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
	}}

	dir, err := gateway.NewDirectory(reg, opt.Backends, cfg.BackendTimeout)
	if err != nil {
		return fail(err)
	}
	if strings.HasPrefix(opt.Store, "/") || strings.HasSuffix(opt.Store, ".db") {
		opt.Store = "sqlite:" + opt.Store
	}
	o := &Opened{Config: cfg, Registry: reg, Hosted: cfg.Parties, closers: closers}
	o.closers = append(o.closers, func() error { client.CloseIdleConnections(); return nil })

	dsn := cfg.Store
	if opt.Store != "" {
		dsn = opt.Store
	}
	bodyMode := cfg.TraceBody
	if opt.OpenStore == nil {
		opt.OpenStore, bodyMode = OpenAuditStore, "full" // the audit store cuts the bodies itself
	}
	st, err := opt.OpenStore(ctx, cfg, dsn)
	if err != nil {
		o.Close()
		return nil, fmt.Errorf("open store %s: %w", dsn, err)
	}
	store := st.Store
	o.Store, o.Jobs = store, st.Jobs
	o.closers = append(o.closers, st.Close)

	g, err := gateway.New(gateway.Options{
		Node: cfg.Node, BodyMode: bodyMode, MaxMessage: cfg.MaxMessage, PeerTimeout: cfg.PeerTimeout,
		Window: cfg.DuplicateRetention, Expiry: cfg.Expiry, MaxAttempts: cfg.MaxAttempts, RetryMin: cfg.RetryInitial, RetryMax: cfg.RetryMax, Lease: cfg.Lease,
		PDBase: cfg.PDPublicURL, Default: cfg.Parties[0],
	}, gateway.Deps{
		Directory: dir, Store: store, Signer: signer, Verifier: verifier, Validator: opt.Validator,
		Client: client, Clock: now, Logger: opt.Logger, Hosted: cfg.Parties, Certificates: own,
	})
	if err != nil {
		o.Close()
		return nil, err
	}
	o.Gateway = g

	clientCAs := reg.TrustPool()
	if cfg.CA != "" {
		clientCAs = pool
	}
	o.Listeners = gateway.Listeners{
		PD: or(opt.PDAddr, cfg.PDAddr), PA: or(opt.PAAddr, cfg.PAAddr), Admin: or(opt.AdminAddr, cfg.AdminAddr),
		PATLS: &tls.Config{
			Certificates: []tls.Certificate{keyPair}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: clientCAs,
			MinVersion: tls.VersionTLS12,
		},
	}
	if cfg.PDTLS {
		t := &tls.Config{Certificates: []tls.Certificate{keyPair}, MinVersion: tls.VersionTLS12, ClientAuth: tls.RequestClientCert}
		if cfg.PDClientCA != "" {
			cas, err := registry.ReadCertFile(cfg.PDClientCA)
			if err != nil {
				o.Close()
				return nil, fmt.Errorf("%s: listen.pd_client_ca: %w", cfg.File, err)
			}
			p := x509.NewCertPool()
			for _, c := range cas {
				p.AddCert(c)
			}
			t.ClientCAs, t.ClientAuth = p, tls.VerifyClientCertIfGiven
		}
		o.Listeners.PDTLS = t
	}
	return o, nil
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

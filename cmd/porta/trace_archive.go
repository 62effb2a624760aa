package main

// porta trace archive (and its job), porta trace archive verify, and the upkeep of the trail in
// porta serve (signed chain heads, bodies purged past their retention). The rules live in
// package audit (its doc's "Retention, archives and signed heads"); this file wires them to
// porta.yaml, the registry and the node's key.

import (
	"context"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"porta/audit"
	"porta/gateway/node"
	"porta/internal/rfc3161"
	"porta/jobs"
	"porta/registry"
)

func init() {
	traceSubcommands["archive"] = subcommand{"write the records older than a cut to a signed archive and remove them from the store; archive verify FILE checks an archive alone", traceArchive}
	jobCommands["trace archive"] = jobCommand{parse: parseTraceArchive, local: true}
}

// nodeSigner loads the node's key and certificate (porta.yaml's paths.key and paths.cert), which
// sign chain heads, bases and archives.
func nodeSigner(cfg *node.Config) (audit.ChainSigner, error) {
	key, err := registry.ReadKeyFile(cfg.Key)
	if err != nil {
		return audit.ChainSigner{}, fmt.Errorf("%s: paths.key: %w", cfg.File, err)
	}
	certs, err := registry.ReadCertFile(cfg.Cert)
	if err != nil {
		return audit.ChainSigner{}, fmt.Errorf("%s: paths.cert: %w", cfg.File, err)
	}
	if err := registry.MatchKey(key, certs[0]); err != nil {
		return audit.ChainSigner{}, fmt.Errorf("%s: paths.key %s: %w", cfg.File, cfg.Key, err)
	}
	return audit.ChainSigner{Key: key, Cert: certs[0]}, nil
}

// retention is the body retention of cfg's services: each service's registry trace: retention,
// else porta.yaml's trace.retention.
func retention(cfg *node.Config, reg *registry.Registry) audit.Retention {
	r := audit.Retention{Default: cfg.TraceRetention, Services: map[string]time.Duration{}}
	for _, s := range reg.Services() {
		if s.Trace.Retention > 0 {
			r.Services[s.Name] = s.Trace.Retention
		}
	}
	return r
}

// stamper is the RFC 3161 client of porta.yaml's trace.tsa, nil without one.
func stamper(cfg *node.Config) (audit.Stamper, error) {
	if cfg.TraceTSA == "" {
		return nil, nil
	}
	c := &rfc3161.Client{URL: cfg.TraceTSA}
	if cfg.TraceTSACA != "" {
		cas, err := registry.ReadCertFile(cfg.TraceTSACA)
		if err != nil {
			return nil, fmt.Errorf("%s: trace.tsa_ca: %w", cfg.File, err)
		}
		c.Roots = x509.NewCertPool()
		for _, ca := range cas {
			c.Roots.AddCert(ca)
		}
	}
	return c.Stamp, nil
}

// trailKeeper returns porta serve's upkeep of its chain, checked (the key, the TSA's CA) before
// anything starts; nil when the store is not an audit store. The upkeep signs the chain head at
// once, then every trace.sign_every purges the bodies past their retention and signs the chain
// head (timestamped when trace.tsa is set), and once more when ctx ends; it returns then.
func trailKeeper(o *node.Opened, log *slog.Logger) (func(ctx context.Context), error) {
	if o.Audit == nil {
		return nil, nil
	}
	signer, err := nodeSigner(o.Config)
	if err != nil {
		return nil, err
	}
	stamp, err := stamper(o.Config)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context) { keepTrail(ctx, o, signer, stamp, log) }, nil
}

func keepTrail(ctx context.Context, o *node.Opened, signer audit.ChainSigner, stamp audit.Stamper, log *slog.Logger) {
	ret := retention(o.Config, o.Registry)
	sign := func(ctx context.Context) {
		h, err := o.Audit.SignHead(ctx, signer, stamp)
		if err != nil {
			log.Error("trace: sign the chain head", "err", err)
		}
		if h != nil {
			log.Debug("trace: chain head signed", "node", h.Node, "seq", h.Seq, "timestamped", len(h.Timestamp) > 0)
		}
	}
	sign(ctx)
	t := time.NewTicker(o.Config.TraceSignEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			// At shutdown: the head the gateway's last writes left, whatever ctx says.
			c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			sign(c)
			cancel()
			return
		case <-t.C:
		}
		if n, err := o.Audit.PurgeBodies(ctx, ret, time.Now()); err != nil && ctx.Err() == nil {
			log.Error("trace: purge bodies past their retention", "err", err)
		} else if n > 0 {
			log.Info("trace: bodies purged past their retention", "records", n)
		}
		sign(ctx)
	}
}

// traceArchiveTask is porta trace archive, on the command line or as a job.
type traceArchiveTask struct {
	f         flowFlags // only --config and --json
	store     string
	olderThan string
	out, dir  string
}

func (t *traceArchiveTask) flows() *flowFlags { return &t.f }

func parseTraceArchive(args []string, asJob bool, stdout, stderr io.Writer) (task, error) {
	fs := newFlags("trace archive", "--config DIR/porta.yaml --older-than AGE (--out FILE | --dir DIR) [--store DSN]", stdout, stderr)
	t := &traceArchiveTask{}
	fs.StringVar(&t.f.config, "config", "", "porta.yaml: the node, its key (which signs the archive) and its store")
	fs.StringVar(&t.store, "store", "", "the store, overriding --config's: sqlite:PATH or postgres://...")
	fs.StringVar(&t.olderThan, "older-than", "", "archive what was recorded longer ago than this (e.g. 400d), or before this date (2006-01-02)")
	fs.StringVar(&t.out, "out", "", "the archive to write (must not exist)")
	fs.StringVar(&t.dir, "dir", "", "write the archive into this directory as NODE-FIRST-LAST.tar.gz (for a job)")
	fs.BoolVar(&t.f.json, "json", false, "print the manifest as JSON")
	if err := fs.parseErr(args); err != nil {
		return nil, flagError{err}
	}
	switch {
	case fs.NArg() > 0:
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	case t.olderThan == "":
		return nil, errors.New("--older-than is required, e.g. --older-than 400d")
	case (t.out == "") == (t.dir == ""):
		return nil, errors.New("give one of --out FILE or --dir DIR")
	case asJob && t.out != "":
		return nil, errors.New("a job writes a new archive at each run: give --dir DIR, not --out")
	}
	if _, err := cutTime(t.olderThan, time.Now()); err != nil {
		return nil, err
	}
	return t, nil
}

// cutTime reads --older-than: an age (400d, 72h) before now, or a date or time.
func cutTime(v string, now time.Time) (time.Time, error) {
	if d, err := registry.ParseDuration(v); err == nil && d > 0 {
		return now.Add(-d), nil
	}
	t, err := parseTime("older-than", v)
	if err != nil || t.IsZero() {
		return time.Time{}, fmt.Errorf("--older-than %q: want an age such as 400d or 72h, or a date such as 2026-01-31", v)
	}
	return t, nil
}

// run purges the bodies past their retention, writes the archive and cuts the chain.
func (t *traceArchiveTask) run(ctx context.Context, _ time.Time, stdout io.Writer) (jobs.Counts, error) {
	if t.f.config == "" {
		return nil, errors.New("--config is required: the archive is signed by the node's key")
	}
	cfg, err := node.LoadConfig(t.f.config)
	if err != nil {
		return nil, err
	}
	signer, err := nodeSigner(cfg)
	if err != nil {
		return nil, err
	}
	reg, err := registry.Load(cfg.Registry, registry.Options{})
	if err != nil {
		return nil, err
	}
	before, err := cutTime(t.olderThan, time.Now())
	if err != nil {
		return nil, err
	}
	dsn := t.store
	if dsn == "" {
		dsn = cfg.Store
	}
	if err := storeExists(dsn, t.f.config); err != nil {
		return nil, err
	}
	s, err := audit.Open(ctx, dsn, audit.Options{Node: cfg.Node, ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer s.Close()
	// No body leaves in an archive past its retention.
	purged, err := s.PurgeBodies(ctx, retention(cfg, reg), time.Now())
	if err != nil {
		return nil, err
	}
	counts := jobs.Counts{"purged": purged}
	out, dir := t.out, filepath.Dir(t.out)
	if t.dir != "" {
		dir = t.dir
	}
	tmp, err := os.CreateTemp(dir, ".porta-archive-*.tmp")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	m, sum, err := s.Archive(ctx, tmp, audit.ArchiveOptions{Node: cfg.Node, Before: before, Signer: signer, TempDir: dir})
	if errors.Is(err, audit.ErrNothingToArchive) {
		fmt.Fprintf(stdout, "nothing to archive: no record of node %s was recorded before %s (%d bodies purged past their retention)\n", cfg.Node, before.Format(time.RFC3339), purged)
		return counts, nil
	}
	if err != nil {
		return nil, err
	}
	if err := tmp.Sync(); err != nil {
		return nil, err
	}
	if err := tmp.Close(); err != nil {
		return nil, err
	}
	if t.dir != "" {
		out = filepath.Join(t.dir, fmt.Sprintf("%s-%d-%d.tar.gz", cfg.Node, m.Base.Seq+1, m.Head.Seq))
	}
	// The archive is in place, under its name, before any record leaves the store; if the cut
	// fails it is removed again (its records are still in the store).
	if _, err := os.Stat(out); err == nil {
		return nil, fmt.Errorf("%s exists; archives are never overwritten", out)
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return nil, err
	}
	syncDir(filepath.Dir(out))
	if _, err := s.Cut(ctx, m, sum, signer); err != nil {
		os.Remove(out)
		return nil, err
	}
	counts["archived"] = m.Records
	if t.f.json {
		printJSON(stdout, map[string]any{"file": out, "manifest": m, "manifest_sha256": hex.EncodeToString(sum)})
		return counts, nil
	}
	fmt.Fprintf(stdout, "archived records %d to %d of node %s (%d records recorded before %s) to %s\n", m.Base.Seq+1, m.Head.Seq, m.Node, m.Records, before.Format(time.RFC3339), out)
	fmt.Fprintf(stdout, "the chain now starts after record %d (%x), signed; manifest SHA-256 %x; %d bodies purged past their retention\n", m.Head.Seq, []byte(m.Head.Hash), sum, purged)
	return counts, nil
}

func printJSON(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// verifyTrust is what porta trace verify checks signatures with: the certificates of --cert for
// every node, config's paths.cert for config's node, and config's trace.tsa_ca.
func verifyTrust(config string, certFiles []string) (audit.VerifyOptions, error) {
	vo := audit.VerifyOptions{Certs: map[string][]*x509.Certificate{}}
	if config != "" {
		cfg, err := node.LoadConfig(config)
		if err != nil {
			return vo, err
		}
		cs, err := registry.ReadCertFile(cfg.Cert)
		if err != nil {
			return vo, err
		}
		vo.Certs[cfg.Node] = cs[:1]
		if cfg.TraceTSACA != "" {
			cas, err := registry.ReadCertFile(cfg.TraceTSACA)
			if err != nil {
				return vo, fmt.Errorf("%s: trace.tsa_ca: %w", cfg.File, err)
			}
			vo.TSARoots = x509.NewCertPool()
			for _, c := range cas {
				vo.TSARoots.AddCert(c)
			}
		}
	}
	for _, f := range certFiles {
		cs, err := registry.ReadCertFile(f)
		if err != nil {
			return vo, err
		}
		vo.Certs[""] = append(vo.Certs[""], cs[0])
	}
	return vo, nil
}

// pinnedNote says when node's signatures were checked against no given certificate.
func pinnedNote(vo audit.VerifyOptions, node string) string {
	if len(vo.Certs[""]) == 0 && len(vo.Certs[node]) == 0 {
		return " (not checked against a given certificate: --config or --cert)"
	}
	return ""
}

// syncDir makes a rename in dir durable (best effort: not every system can sync a directory).
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

func traceArchive(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "verify" {
		return traceArchiveVerify(args[1:], stdout, stderr)
	}
	return runTask("trace archive", args, stdout, stderr)
}

// traceArchiveVerify is porta trace archive verify FILE.
func traceArchiveVerify(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("trace archive verify", "[--cert FILE | --config DIR/porta.yaml] [--json] FILE", stdout, stderr)
	certFile := fs.String("cert", "", "the certificate (PEM) that must have signed the archive; default: any, printed")
	config := fs.String("config", "", "porta.yaml whose paths.cert must have signed the archive")
	asJSON := fs.Bool("json", false, "print the manifest as JSON")
	if code, done := fs.parse(args); done {
		return code
	}
	if fs.NArg() != 1 {
		return fs.fail("want one archive FILE")
	}
	var certs []*x509.Certificate
	if *config != "" {
		cfg, err := node.LoadConfig(*config)
		if err != nil {
			fmt.Fprintln(stderr, "porta trace archive verify:", err)
			return 2
		}
		*certFile = cfg.Cert
	}
	if *certFile != "" {
		cs, err := registry.ReadCertFile(*certFile)
		if err != nil {
			fmt.Fprintln(stderr, "porta trace archive verify:", err)
			return 2
		}
		certs = cs
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		fmt.Fprintln(stderr, "porta trace archive verify:", err)
		return 2
	}
	defer f.Close()
	rep, err := audit.VerifyArchive(f, certs)
	if err != nil {
		fmt.Fprintf(stderr, "porta trace archive verify: BROKEN: %s: %v\n", fs.Arg(0), err)
		return 1
	}
	m := rep.Manifest
	if *asJSON {
		printJSON(stdout, map[string]any{"ok": true, "manifest": m, "manifest_sha256": hex.EncodeToString(rep.ManifestSHA256), "signer": rep.Cert.Subject.String()})
		return 0
	}
	pinned := "not checked against a given certificate (--cert or --config)"
	if len(certs) > 0 {
		pinned = "the given certificate"
	}
	fmt.Fprintf(stdout, "OK: %s: records %d to %d of node %s (%d records recorded before %s)\n", fs.Arg(0), m.Base.Seq+1, m.Head.Seq, m.Node, m.Records, m.Before.Format(time.RFC3339))
	fmt.Fprintf(stdout, "base %s:%d:%x\nhead %s:%d:%x\n", m.Node, m.Base.Seq, []byte(m.Base.Hash), m.Node, m.Head.Seq, []byte(m.Head.Hash))
	fmt.Fprintf(stdout, "signed by %s (%s); manifest SHA-256 %x\n", rep.Cert.Subject, pinned, rep.ManifestSHA256)
	var names []string
	for _, f := range m.Files {
		names = append(names, fmt.Sprintf("%s (%d)", f.Name, f.Entries))
	}
	fmt.Fprintf(stdout, "files: %s\n", strings.Join(names, ", "))
	return 0
}

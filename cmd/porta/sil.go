package main

// porta sil send: the SIL's workers out to the Ministry (SAP, DID), the Borsa Lavoro (Candidatura)
// and Europass, through this province's own Porta Delegata, as a local application. The flags
// shared with porta sync and porta failures live here too (flowFlags).

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/mattn/go-sqlite3"

	"porta/adapters/candidatura"
	"porta/adapters/did"
	"porta/adapters/flows"
	"porta/adapters/labour"
	"porta/adapters/merge"
	"porta/adapters/sil"
	"porta/gateway/node"
	"porta/internal/pdclient"
	"porta/jobs"
	"porta/xsd"
)

func init() {
	register(command{name: "sil", summary: "send the SIL's workers (SAP, Candidatura, Europass, DID) through the PD", subs: map[string]subcommand{
		"send": {"build and send each worker's documents through the Porta Delegata; rejected records go to porta failures", runSILSend},
	}})
}

// routeFlags collects --route WHAT=PROVIDER/SERVICE/ACTION.
type routeFlags map[string]pdclient.Route

func (r routeFlags) String() string { return fmt.Sprint(map[string]pdclient.Route(r)) }
func (r routeFlags) Set(v string) error {
	what, path, ok := strings.Cut(v, "=")
	parts := strings.Split(path, "/")
	if !ok || len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return fmt.Errorf("route %q: want WHAT=PROVIDER/SERVICE/ACTION, e.g. sap=Ministero/servizicoap/invioSAP", v)
	}
	r[what] = pdclient.Route{Provider: parts[0], Service: parts[1], Action: parts[2]}
	return nil
}

// flowFlags are what every provincial command needs: where the PD is and who we are, the SIL, and
// the province's store (adapters/merge) where failures are kept.
type flowFlags struct {
	config, pd, consumer, app, silConfig, province string
	timeout                                        time.Duration
	routes                                         routeFlags
	json                                           bool
}

func (f *flowFlags) register(fs *flag.FlagSet, pd bool) {
	fs.StringVar(&f.config, "config", "", "porta.yaml: the PD address, the consumer (first hosted party) and, next to it, sil.yaml and backends.db")
	fs.StringVar(&f.silConfig, "sil", "", "the SIL mapping (sil.yaml); default: sil.yaml next to --config")
	fs.StringVar(&f.province, "province", "", "the province's store (merges, rejected records): a SQLite path or postgres://...; default: backends.db next to --config, the store porta serve's built-in backends and porta demo keep the province's data in")
	fs.BoolVar(&f.json, "json", false, "print JSON")
	if !pd {
		return
	}
	f.routes = routeFlags{}
	fs.StringVar(&f.pd, "pd", "", "the Porta Delegata's base URL, e.g. http://127.0.0.1:7080 (overrides --config)")
	fs.StringVar(&f.consumer, "consumer", "", "the hosted party to act for (default: --config's first party)")
	fs.StringVar(&f.app, "app", "", "the application's credentials USER:PASS (default: $PORTA_APP)")
	fs.DurationVar(&f.timeout, "timeout", 60*time.Second, "timeout of each call to the PD")
	fs.Var(f.routes, "route", "WHAT=PROVIDER/SERVICE/ACTION where a document goes (repeatable; defaults follow the WSDLs)")
}

// resolve fills the defaults from --config.
func (f *flowFlags) resolve(needPD bool) error {
	if f.config != "" {
		cfg, err := node.LoadConfig(f.config)
		if err != nil {
			return err
		}
		dir := filepath.Dir(cfg.File)
		if dir == "" || cfg.File == "" {
			dir = filepath.Dir(f.config)
		}
		if f.silConfig == "" {
			f.silConfig = filepath.Join(dir, "sil.yaml")
		}
		if f.province == "" {
			// The province's one store: the file porta serve's built-in backends (inps) merge
			// into and porta demo's flows fill (internal/backends).
			f.province = filepath.Join(dir, "backends.db")
		}
		if f.pd == "" {
			scheme := "http"
			if cfg.PDTLS {
				scheme = "https"
			}
			f.pd = scheme + "://" + cfg.PDAddr
		}
		if f.consumer == "" && len(cfg.Parties) > 0 {
			f.consumer = cfg.Parties[0]
		}
	}
	if f.app == "" {
		f.app = os.Getenv("PORTA_APP")
	}
	if !needPD {
		return nil
	}
	switch {
	case f.pd == "":
		return errors.New("no Porta Delegata: give --pd URL or --config porta.yaml")
	case f.consumer == "":
		return errors.New("no consumer: give --consumer PARTY or --config porta.yaml")
	case f.app == "" || !strings.Contains(f.app, ":"):
		return errors.New("no application credentials: give --app USER:PASS or set PORTA_APP")
	}
	if u, err := url.Parse(f.pd); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("--pd %q: want an http:// or https:// URL", f.pd)
	}
	return nil
}

func (f *flowFlags) portaDelegata() *pdclient.PD {
	user, pass, _ := strings.Cut(f.app, ":")
	return &pdclient.PD{URL: f.pd, Consumer: f.consumer, User: user, Password: pass, Timeout: f.timeout}
}

// openProvince opens the province's store.
func (f *flowFlags) openProvince(ctx context.Context) (*merge.Store, *sqlx.DB, error) {
	if f.province == "" {
		return nil, nil, errors.New("no province store: give --province PATH|postgres://... or --config porta.yaml")
	}
	driver, dsn := "sqlite3", "file:"+strings.TrimPrefix(f.province, "sqlite:")+"?_foreign_keys=on&_busy_timeout=5000&_journal_mode=WAL"
	if strings.HasPrefix(f.province, "postgres://") || strings.HasPrefix(f.province, "postgresql://") {
		driver, dsn = "pgx", f.province
	}
	db, err := sqlx.Open(driver, dsn)
	if err != nil {
		return nil, nil, fmt.Errorf("province store %s: %w", f.province, err)
	}
	st, err := merge.Open(ctx, db, merge.Options{})
	if err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("province store %s: %w", f.province, err)
	}
	return st, db, nil
}

func (f *flowFlags) openSIL(ctx context.Context) (*sil.Source, error) {
	if f.silConfig == "" {
		return nil, errors.New("no SIL: give --sil SIL.yaml or --config porta.yaml (with sil.yaml next to it)")
	}
	cfg, err := sil.LoadConfig(f.silConfig)
	if err != nil {
		return nil, err
	}
	return sil.Open(ctx, cfg)
}

// builderFlags are what the builders need besides the SIL: the intermediary publishing
// candidatures and the operator filing DIDs.
type builderFlags struct {
	intermediary, operator, didEvent string
	validity                         time.Duration
	concurrency                      int
}

func (b *builderFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&b.intermediary, "intermediary", "", "for candidatura: CF:DENOMINAZIONE:REGIONE:EMAIL of the publishing employment service (11-digit CF, 2-digit ISTAT region)")
	fs.StringVar(&b.operator, "operator", "", "for did: GUID:CF of the CPI operator filing the DID")
	fs.StringVar(&b.didEvent, "did-event", string(did.Inserimento), "for did: the DID event (TipoEvento)")
	fs.DurationVar(&b.validity, "validity", 60*24*time.Hour, "for candidatura: how long a candidature stays published")
	fs.IntVar(&b.concurrency, "concurrency", 1, "records in flight at once (more helps when the peers are slow to answer)")
}

// check refuses a document kind it does not know, or one whose builder lacks its flags.
func (b *builderFlags) check(what []string) error {
	if len(what) == 0 {
		return fmt.Errorf("--what: name some of %s", strings.Join(labour.AllWhat(), ","))
	}
	for _, w := range what {
		if labour.ByWhat(w) == nil {
			return fmt.Errorf("--what %s: want some of %s", w, strings.Join(labour.AllWhat(), ","))
		}
		switch w {
		case labour.WhatCandidatura:
			if len(strings.SplitN(b.intermediary, ":", 4)) != 4 {
				return errors.New("candidatura needs --intermediary CF:DENOMINAZIONE:REGIONE:EMAIL")
			}
		case labour.WhatDID:
			if _, _, ok := strings.Cut(b.operator, ":"); !ok {
				return errors.New("did needs --operator GUID:CF")
			}
		}
	}
	return nil
}

// sender builds the flows.Sender for the documents in what.
func (b *builderFlags) sender(f *flowFlags, set *xsd.Set, what []string, store *merge.Store, db *sqlx.DB) (*flows.Sender, error) {
	if err := b.check(what); err != nil {
		return nil, err
	}
	s := &flows.Sender{PD: f.portaDelegata(), Routes: f.routes, Store: store, DB: db, Concurrency: b.concurrency,
		Options: labour.Options{Validator: set, Now: time.Now, Validity: b.validity, DIDEvent: did.Event(b.didEvent)}}
	if p := strings.SplitN(b.intermediary, ":", 4); len(p) == 4 {
		s.Options.Intermediary = candidatura.Intermediary{CodiceFiscale: p[0], Denominazione: p[1], Regione: p[2], Email: p[3]}
	}
	if guid, cf, ok := strings.Cut(b.operator, ":"); ok {
		s.Options.Operator = did.Operator{GUID: guid, CodiceFiscale: cf}
	}
	return s, nil
}

// silSendTask is porta sil send, parsed.
type silSendTask struct {
	f      flowFlags
	b      builderFlags
	what   []string
	worker string
	since  time.Time // zero: the job's mark (only a job may leave both --worker and --since out)
}

func (t *silSendTask) flows() *flowFlags { return &t.f }

func parseSILSend(args []string, asJob bool, stdout, stderr io.Writer) (task, error) {
	fs := newFlags("sil send", "--config DIR/porta.yaml (--worker CF | --since RFC3339) [flags]", stdout, stderr)
	t := &silSendTask{}
	t.f.register(fs.FlagSet, true)
	t.b.register(fs.FlagSet)
	worker := fs.String("worker", "", "send only the worker with this codice fiscale")
	since := fs.String("since", "", "send the workers the SIL changed after this instant (RFC 3339); a job without --worker and --since sends what changed since its last successful run")
	whatFlag := fs.String("what", strings.Join(labour.AllWhat(), ","), "the documents to send, comma-separated")
	if err := fs.parseErr(args); err != nil {
		return nil, flagError{err}
	}
	switch {
	case fs.NArg() > 0:
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	case *worker != "" && *since != "":
		return nil, errors.New("give exactly one of --worker CF or --since RFC3339")
	case !asJob && *worker == "" && *since == "":
		return nil, errors.New("give exactly one of --worker CF or --since RFC3339")
	}
	t.worker = *worker
	if *since != "" {
		st, err := time.Parse(time.RFC3339, *since)
		if err != nil {
			return nil, fmt.Errorf("--since %q: want RFC 3339, e.g. 2026-11-01T00:00:00Z", *since)
		}
		t.since = st
	}
	for _, w := range strings.Split(*whatFlag, ",") {
		if w = strings.TrimSpace(w); w != "" {
			t.what = append(t.what, w)
		}
	}
	if err := t.b.check(t.what); err != nil {
		return nil, err
	}
	return t, nil
}

func runSILSend(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return runTask("sil send", args, stdout, stderr)
}

// run sends; since is used when the task names neither a worker nor an instant.
func (t *silSendTask) run(ctx context.Context, since time.Time, stdout io.Writer) (jobs.Counts, error) {
	if t.worker != "" || !t.since.IsZero() {
		since = t.since
	} else if !since.IsZero() {
		// The job's mark. A SIL may keep its change times to the second (sil.yaml's
		// since_format): a change in the mark's own second would compare equal, not after, and be
		// missed. Start from the second before it: such a change is sent twice, never lost.
		since = since.Truncate(time.Second).Add(-time.Second)
	}
	sums, err := silSend(ctx, &t.f, &t.b, t.what, t.worker, since)
	if len(sums) > 0 {
		printSummaries(stdout, t.f.json, sums)
	}
	counts := jobs.Counts{}
	for _, s := range sums {
		counts[s.What+".sent"] += int64(s.Sent)
		counts[s.What+".acknowledged"] += int64(s.Acknowledged)
		counts[s.What+".rejected"] += int64(s.Rejected)
		counts[s.What+".skipped"] += int64(s.Skipped)
	}
	return counts, err
}

func silSend(ctx context.Context, f *flowFlags, b *builderFlags, what []string, cf string, since time.Time) ([]flows.Summary, error) {
	set, err := xsd.Open()
	if err != nil {
		return nil, err
	}
	defer set.Close()
	src, err := f.openSIL(ctx)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	store, db, err := f.openProvince(ctx)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	s, err := b.sender(f, set, what, store, db)
	if err != nil {
		return nil, err
	}
	var workers []*sil.Worker
	var unreadable []*sil.RecordError
	if cf != "" {
		w, err := src.Worker(ctx, cf)
		var re *sil.RecordError
		switch {
		case errors.As(err, &re):
			unreadable = append(unreadable, re)
		case err != nil:
			return nil, err
		default:
			workers = append(workers, w)
		}
	} else if workers, unreadable, err = src.ChangedSince(ctx, since); err != nil {
		return nil, err
	}
	return s.Send(ctx, workers, unreadable, what)
}

func printSummaries(w io.Writer, asJSON bool, sums []flows.Summary) {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(map[string]any{"flows": sums})
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FLOW\tSENT\tACKNOWLEDGED\tREJECTED\tSKIPPED\tSECONDS")
	for _, s := range sums {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%.2f\n", s.What, s.Sent, s.Acknowledged, s.Rejected, s.Skipped, s.Seconds)
	}
	tw.Flush()
	for _, s := range sums {
		for _, r := range s.Rejections {
			who := r.CF
			if who == "" {
				who = "SIL id " + r.SILID
			}
			fmt.Fprintf(w, "rejected %s %s: %s: %s (rule: %s)\n", s.What, who, r.Field, r.Reason, r.Rule)
		}
	}
}

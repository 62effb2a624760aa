package main

// porta sync anagrafe|scuole: bring back what the municipalities' registries and the schools
// know about the province's workers and pupils, through the province's own Porta Delegata, and
// merge it into the province's store (adapters/merge).

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"porta/adapters/flows"
	"porta/adapters/sil"
	"porta/internal/pdclient"
	"porta/jobs"
)

func init() {
	register(command{name: "sync", summary: "consult the municipal registries and the schools through the PD and merge", subs: map[string]subcommand{
		"anagrafe": {"consult each worker's residence at their municipality and merge changes, deaths and emigrations", runSyncAnagrafe},
		"scuole":   {"request each school's attendance extraction, poll until ready, flag under-18 drop-outs", runSyncScuole},
	}})
}

// comuneFlags maps Belfiore codes to the municipalities' parties: --comune H501=ComuneRoma.
type comuneFlags map[string]string

func (c comuneFlags) String() string { return fmt.Sprint(map[string]string(c)) }
func (c comuneFlags) Set(v string) error {
	code, party, ok := strings.Cut(v, "=")
	if !ok || len(code) != 4 || party == "" {
		return fmt.Errorf("comune %q: want BELFIORE=PARTY, e.g. H501=ComuneRoma", v)
	}
	c[strings.ToUpper(code)] = party
	return nil
}

// anagrafeFlags configure the consultation.
type anagrafeFlags struct {
	comuni          comuneFlags
	service, action string
	motivo, casoUso string
}

func (a *anagrafeFlags) register(fs *flag.FlagSet) {
	a.comuni = comuneFlags{}
	fs.Var(a.comuni, "comune", "BELFIORE=PARTY: the municipality's party for residents of that comune (repeatable; none: Comune+BELFIORE for every worker; some: only those comuni)")
	fs.StringVar(&a.service, "anagrafe-service", "Anagrafe", "the registries' service name")
	fs.StringVar(&a.action, "anagrafe-action", "consultazioneSoggetti", "the registries' action")
	fs.StringVar(&a.motivo, "motivo", "", "motivoRichiesta (default: aggiornamento residenza lavoratori SIL)")
	fs.StringVar(&a.casoUso, "caso-uso", "", "casoUso (default C001)")
}

func (a *anagrafeFlags) syncer(f *flowFlags) *flows.Anagrafe {
	s := &flows.Anagrafe{PD: f.portaDelegata(), Motivo: a.motivo, CasoUso: a.casoUso}
	s.Route = func(w *sil.Worker) (pdclient.Route, bool) {
		c := w.Residenza.Comune
		if c == "" {
			return pdclient.Route{}, false
		}
		party := "Comune" + c
		if len(a.comuni) > 0 {
			var ok bool
			if party, ok = a.comuni[c]; !ok {
				return pdclient.Route{}, false
			}
		}
		return pdclient.Route{Provider: party, Service: a.service, Action: a.action}, true
	}
	return s
}

// syncAnagrafeTask is porta sync anagrafe, parsed.
type syncAnagrafeTask struct {
	f           flowFlags
	a           anagrafeFlags
	worker      string
	concurrency int
}

func (t *syncAnagrafeTask) flows() *flowFlags { return &t.f }

func parseSyncAnagrafe(args []string, _ bool, stdout, stderr io.Writer) (task, error) {
	fs := newFlags("sync anagrafe", "--config DIR/porta.yaml [--worker CF] [flags]", stdout, stderr)
	t := &syncAnagrafeTask{}
	t.f.register(fs.FlagSet, true)
	t.a.register(fs.FlagSet)
	fs.StringVar(&t.worker, "worker", "", "consult only about this codice fiscale (default: every worker of the SIL)")
	fs.IntVar(&t.concurrency, "concurrency", 1, "consultations in flight at once (merges stay one at a time)")
	if err := fs.parseErr(args); err != nil {
		return nil, flagError{err}
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	return t, nil
}

func runSyncAnagrafe(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return runTask("sync anagrafe", args, stdout, stderr)
}

// run consults about every worker of the SIL (or the one named): since is not used, a residence
// changes without the SIL knowing.
func (t *syncAnagrafeTask) run(ctx context.Context, _ time.Time, stdout io.Writer) (jobs.Counts, error) {
	f := &t.f
	sum, err := func() (*flows.SyncSummary, error) {
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
		s := t.a.syncer(f)
		s.Store, s.DB, s.Concurrency = store, db, t.concurrency
		var workers []*sil.Worker
		if t.worker != "" {
			w, err := src.Worker(ctx, t.worker)
			if err != nil {
				return nil, err
			}
			workers = append(workers, w)
		} else if workers, _, err = src.ChangedSince(ctx, time.Time{}); err != nil {
			return nil, err
		}
		return s.Run(ctx, workers)
	}()
	if sum == nil {
		return nil, err
	}
	printSync(stdout, f.json, sum)
	return syncCounts(sum), err
}

func syncCounts(s *flows.SyncSummary) jobs.Counts {
	return jobs.Counts{"sent": int64(s.Sent), "answered": int64(s.Answered), "merged": int64(s.Merged),
		"unchanged": int64(s.Unchanged), "rejected": int64(s.Rejected), "skipped": int64(s.Skipped)}
}

// schoolFlags collects --school PARTY:CODE:YEAR.
type schoolFlags []flows.School

func (s *schoolFlags) String() string { return fmt.Sprint(*s) }
func (s *schoolFlags) Set(v string) error {
	p := strings.Split(v, ":")
	if len(p) != 3 || p[0] == "" {
		return fmt.Errorf("school %q: want PARTY:CODICE_MECCANOGRAFICO:AAAA/AAAA, e.g. LiceoRoma:RMPS01000A:2025/2026", v)
	}
	*s = append(*s, flows.School{Party: p[0], Code: p[1], Year: p[2]})
	return nil
}

// syncScuoleTask is porta sync scuole, parsed.
type syncScuoleTask struct {
	f        flowFlags
	schools  schoolFlags
	service  string
	every    time.Duration
	maxWait  time.Duration
	fromDate time.Time
}

func (t *syncScuoleTask) flows() *flowFlags { return &t.f }

func parseSyncScuole(args []string, _ bool, stdout, stderr io.Writer) (task, error) {
	fs := newFlags("sync scuole", "--config DIR/porta.yaml --school PARTY:CODE:YEAR... [flags]", stdout, stderr)
	t := &syncScuoleTask{}
	t.f.register(fs.FlagSet, true)
	fs.Var(&t.schools, "school", "PARTY:CODICE_MECCANOGRAFICO:AAAA/AAAA to ask (repeatable)")
	fs.StringVar(&t.service, "scuole-service", "FrequenzeScolastiche", "the schools' service name")
	fs.DurationVar(&t.every, "every", 2*time.Second, "time between polls of an extraction")
	fs.DurationVar(&t.maxWait, "max-wait", 10*time.Minute, "give up on a school's extraction after this long")
	since := fs.String("since", "", "only events from this day (AAAA-MM-GG)")
	if err := fs.parseErr(args); err != nil {
		return nil, flagError{err}
	}
	if fs.NArg() > 0 || len(t.schools) == 0 {
		return nil, errors.New("give at least one --school PARTY:CODE:YEAR")
	}
	if *since != "" {
		d, err := time.Parse(time.DateOnly, *since)
		if err != nil {
			return nil, fmt.Errorf("--since %q: want AAAA-MM-GG", *since)
		}
		t.fromDate = d
	}
	return t, nil
}

func runSyncScuole(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return runTask("sync scuole", args, stdout, stderr)
}

// run asks each school for its extraction; since is not used (the schools' events have days,
// --since names one).
func (t *syncScuoleTask) run(ctx context.Context, _ time.Time, stdout io.Writer) (jobs.Counts, error) {
	schools := append(schoolFlags(nil), t.schools...)
	for i := range schools {
		schools[i].From = t.fromDate
	}
	store, db, err := t.f.openProvince(ctx)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	s := &flows.Scuole{PD: t.f.portaDelegata(), Store: store, Every: t.every, MaxWait: t.maxWait,
		Request: pdclient.Route{Service: t.service, Action: "RichiestaEstrazione"},
		Poll:    pdclient.Route{Service: t.service, Action: "StatoEstrazione"}}
	sum, err := s.Run(ctx, schools)
	if sum == nil {
		return nil, err
	}
	printSync(stdout, t.f.json, sum)
	return syncCounts(sum), err
}

func printSync(w io.Writer, asJSON bool, s *flows.SyncSummary) {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(map[string]any{"flows": []*flows.SyncSummary{s}})
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FLOW\tSENT\tANSWERED\tMERGED\tUNCHANGED\tREJECTED\tSKIPPED\tSECONDS")
	fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%.2f\n", s.Name, s.Sent, s.Answered, s.Merged, s.Unchanged, s.Rejected, s.Skipped, s.Seconds)
	tw.Flush()
	for _, r := range s.Rejections {
		fmt.Fprintf(w, "rejected %s %s: %s: %s (rule: %s)\n", r.What, r.CF, r.Field, r.Reason, r.Rule)
	}
}

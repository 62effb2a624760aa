package main

// porta sync anagrafe|scuole: bring back what the municipalities' registries and the schools
// know about the province's workers and pupils, through the province's own Porta Delegata, and
// merge it into the province's store (adapters/merge).

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"porta/adapters/flows"
	"porta/adapters/sil"
)

func init() {
	register(command{name: "sync", summary: "consult the municipal registries and the schools through the PD and merge", run: runSync})
}

func runSync(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return dispatch("sync", map[string]subcommand{
		"anagrafe": {"consult each worker's residence at their municipality and merge changes, deaths and emigrations", runSyncAnagrafe},
		"scuole":   {"request each school's attendance extraction, poll until ready, flag under-18 drop-outs", runSyncScuole},
	}, args, stdin, stdout, stderr)
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
	s.Route = func(w *sil.Worker) (flows.Route, bool) {
		c := w.Residenza.Comune
		if c == "" {
			return flows.Route{}, false
		}
		party := "Comune" + c
		if len(a.comuni) > 0 {
			var ok bool
			if party, ok = a.comuni[c]; !ok {
				return flows.Route{}, false
			}
		}
		return flows.Route{Provider: party, Service: a.service, Action: a.action}, true
	}
	return s
}

func runSyncAnagrafe(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("porta sync anagrafe", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f flowFlags
	var a anagrafeFlags
	f.register(fs, true)
	a.register(fs)
	worker := fs.String("worker", "", "consult only about this codice fiscale (default: every worker of the SIL)")
	concurrency := fs.Int("concurrency", 1, "consultations in flight at once (merges stay one at a time)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintln(stderr, "porta sync anagrafe: unexpected arguments", fs.Args())
		return 2
	}
	if err := f.resolve(true); err != nil {
		fmt.Fprintln(stderr, "porta sync anagrafe:", err)
		return 2
	}
	ctx := context.Background()
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
		s := a.syncer(&f)
		s.Store, s.DB, s.Concurrency = store, db, *concurrency
		var workers []*sil.Worker
		if *worker != "" {
			w, err := src.Worker(ctx, *worker)
			if err != nil {
				return nil, err
			}
			workers = append(workers, w)
		} else if workers, _, err = src.ChangedSince(ctx, time.Time{}); err != nil {
			return nil, err
		}
		return s.Run(ctx, workers)
	}()
	if sum != nil {
		printSync(stdout, f.json, sum)
	}
	if err != nil {
		fmt.Fprintln(stderr, "porta sync anagrafe:", err)
		return 1
	}
	return 0
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

func runSyncScuole(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("porta sync scuole", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f flowFlags
	var schools schoolFlags
	f.register(fs, true)
	fs.Var(&schools, "school", "PARTY:CODICE_MECCANOGRAFICO:AAAA/AAAA to ask (repeatable)")
	service := fs.String("scuole-service", "FrequenzeScolastiche", "the schools' service name")
	every := fs.Duration("every", 2*time.Second, "time between polls of an extraction")
	maxWait := fs.Duration("max-wait", 10*time.Minute, "give up on a school's extraction after this long")
	since := fs.String("since", "", "only events from this day (AAAA-MM-GG)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 || len(schools) == 0 {
		fmt.Fprintln(stderr, "porta sync scuole: give at least one --school PARTY:CODE:YEAR")
		return 2
	}
	if *since != "" {
		d, err := time.Parse(time.DateOnly, *since)
		if err != nil {
			fmt.Fprintf(stderr, "porta sync scuole: --since %q: want AAAA-MM-GG\n", *since)
			return 2
		}
		for i := range schools {
			schools[i].From = d
		}
	}
	if err := f.resolve(true); err != nil {
		fmt.Fprintln(stderr, "porta sync scuole:", err)
		return 2
	}
	ctx := context.Background()
	store, db, err := f.openProvince(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "porta sync scuole:", err)
		return 1
	}
	defer db.Close()
	s := &flows.Scuole{PD: f.portaDelegata(), Store: store, Every: *every, MaxWait: *maxWait,
		Request: flows.Route{Service: *service, Action: "RichiestaEstrazione"},
		Poll:    flows.Route{Service: *service, Action: "StatoEstrazione"}}
	sum, err := s.Run(ctx, schools)
	if sum != nil {
		printSync(stdout, f.json, sum)
	}
	if err != nil {
		fmt.Fprintln(stderr, "porta sync scuole:", err)
		return 1
	}
	return 0
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

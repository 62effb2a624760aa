package main

// The provincial commands as jobs: the table of the commands porta.yaml's jobs may run
// (jobCommands), shared by the command line (runTask), the check of porta.yaml (checkJob) and
// porta serve's scheduler (scheduledJobs), so that a job runs exactly what the command line runs;
// and porta jobs list|history, the operator's view of the jobs and their runs.

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"sort"
	"strings"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"porta/audit"
	"porta/gateway/node"
	"porta/internal/redact"
	"porta/jobs"
)

// task is a provincial command parsed from its arguments.
type task interface {
	flows() *flowFlags
	// run runs it and prints to stdout what the command line prints; since is the job's mark
	// (zero by hand). The error is the command's exit 1.
	run(ctx context.Context, since time.Time, stdout io.Writer) (jobs.Counts, error)
}

// parseFunc parses a command's arguments (after its name) as the command line does, without
// running anything; asJob allows what only a job may leave out (sil send's --worker and
// --since). Flag errors come back as flagError, already printed to stderr with the usage.
type parseFunc func(args []string, asJob bool, stdout, stderr io.Writer) (task, error)

type flagError struct{ error }

func (e flagError) Unwrap() error { return e.error }

// jobCommand is a command porta.yaml's jobs may run.
type jobCommand struct {
	parse parseFunc
	// needsPD: the command always calls the PD (failures retry only when a record does).
	needsPD bool
	// local: the command never calls the PD (trace archive); as a job it is given --config only.
	local bool
}

var jobCommands = map[string]jobCommand{
	"sil send":       {parseSILSend, true, false},
	"sync anagrafe":  {parseSyncAnagrafe, true, false},
	"sync scuole":    {parseSyncScuole, true, false},
	"failures retry": {parseFailuresRetry, false, false},
}

func jobCommandNames() string {
	names := make([]string, 0, len(jobCommands))
	for n := range jobCommands {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// runTask is the command line of a job command: exit 2 for a usage error, 1 for a failed run.
func runTask(name string, args []string, stdout, stderr io.Writer) int {
	jc := jobCommands[name]
	t, err := jc.parse(args, false, stdout, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		if !errors.As(err, new(flagError)) {
			fmt.Fprintf(stderr, "porta %s: %v\n", name, err)
		}
		return 2
	}
	if err := t.flows().resolve(jc.needsPD); err != nil {
		fmt.Fprintf(stderr, "porta %s: %v\n", name, err)
		return 2
	}
	if _, err := t.run(context.Background(), time.Time{}, stdout); err != nil {
		fmt.Fprintf(stderr, "porta %s: %v\n", name, err)
		return 1
	}
	return 0
}

// checkJob is porta.yaml's check of a job's run (node.JobCheck).
func checkJob(run []string) error {
	_, _, err := parseJob(run)
	return err
}

func parseJob(run []string) (jobCommand, task, error) {
	if len(run) < 2 {
		return jobCommand{}, nil, fmt.Errorf("want a command and its subcommand, one of: %s", jobCommandNames())
	}
	name := run[0] + " " + run[1]
	jc, ok := jobCommands[name]
	if !ok {
		return jobCommand{}, nil, fmt.Errorf("porta %s cannot run as a job; a job runs one of: %s", name, jobCommandNames())
	}
	for _, a := range run[2:] {
		if f := strings.TrimLeft(a, "-"); a != f && (f == "config" || strings.HasPrefix(f, "config=")) {
			return jc, nil, fmt.Errorf("porta %s: --config: a job runs with the porta.yaml that lists it; leave --config out", name)
		}
	}
	t, err := jc.parse(run[2:], true, io.Discard, io.Discard)
	if errors.Is(err, flag.ErrHelp) {
		err = errors.New("-h/--help is not a flag of a job")
	}
	if err != nil {
		return jc, nil, fmt.Errorf("porta %s: %w", name, err)
	}
	return jc, t, nil
}

// scheduledJobs builds the scheduler's jobs of cfg. Each run parses its command again with
// --config cfg.File and --pd the PD porta serve listens on (pd, known once it listens; a --pd
// in run wins) and runs it as the command line does, its output discarded: the counts go to the
// history, rejected records to porta failures. It checks once that each job can start (its PD
// and the application's credentials), so a job that could never run stops porta serve at start.
func scheduledJobs(cfg *node.Config, pd *atomic.Value) ([]jobs.Job, error) {
	scheme := "http"
	if cfg.PDTLS {
		scheme = "https"
	}
	var out []jobs.Job
	for _, jc := range cfg.Jobs {
		args := func() []string {
			url, _ := pd.Load().(string)
			if url == "" {
				url = scheme + "://" + cfg.PDAddr
			}
			if jobCommands[jc.Run[0]+" "+jc.Run[1]].local {
				return append([]string{"--config", cfg.File}, jc.Run[2:]...)
			}
			return append([]string{"--config", cfg.File, "--pd", url}, jc.Run[2:]...)
		}
		cmd, t, err := parseJob(jc.Run)
		if err == nil {
			t, err = cmd.parse(args(), true, io.Discard, io.Discard)
		}
		if err == nil {
			err = t.flows().resolve(cmd.needsPD)
		}
		if err != nil {
			return nil, fmt.Errorf("%s:%d: job %q cannot run: %w", cfg.File, jc.Line, jc.Name, err)
		}
		out = append(out, jobs.Job{Name: jc.Name, Next: jc.Schedule.Next, Run: func(ctx context.Context, since time.Time) (jobs.Counts, error) {
			t, err := cmd.parse(args(), true, io.Discard, io.Discard)
			if err != nil {
				return nil, err
			}
			if err := t.flows().resolve(cmd.needsPD); err != nil {
				return nil, err
			}
			return t.run(ctx, since, io.Discard)
		}})
	}
	return out, nil
}

// newScheduler returns the scheduler of o's jobs on its store, or nil when there are none.
func newScheduler(o *node.Opened, pd *atomic.Value, log *slog.Logger) (*jobs.Scheduler, error) {
	if len(o.Config.Jobs) == 0 {
		return nil, nil
	}
	js, err := scheduledJobs(o.Config, pd)
	if err != nil {
		return nil, err
	}
	if o.Jobs == nil {
		return nil, errors.New("jobs need the audit store (their leases, marks and history live there)")
	}
	return &jobs.Scheduler{Store: o.Jobs, Node: o.Config.Node, Jobs: js, Lease: o.Config.Lease, Logger: log}, nil
}

func init() {
	register(command{name: "jobs", summary: "the jobs porta serve runs on a schedule: their state and their runs", subs: map[string]subcommand{
		"list":    {"each job of porta.yaml: schedule, command, next due, node running it, last success, mark, runs, failures", runJobsList},
		"history": {"the runs, newest first: node, start, end, outcome, counts, error", runJobsHistory},
	}})
}

// openJobs loads the config (its jobs checked) and opens its store read-only; a SQLite store
// porta serve has not created yet is none (nil): no job has run.
func openJobs(ctx context.Context, sf *storeFlags) (*node.Config, *audit.Store, error) {
	if sf.config == "" {
		sf.config = "porta.yaml"
	}
	cfg, err := node.LoadConfigWith(sf.config, checkJob)
	if err != nil {
		return nil, nil, err
	}
	dsn := sf.store
	if dsn == "" {
		dsn = cfg.Store
	}
	if dialect, _, _, err := audit.ParseDSN(dsn); err == nil && dialect == "sqlite" {
		if _, err := os.Stat(strings.TrimPrefix(dsn, "sqlite:")); errors.Is(err, fs.ErrNotExist) {
			return cfg, nil, nil
		}
	}
	st, err := audit.Open(ctx, dsn, audit.Options{ReadOnly: true})
	if err != nil {
		return nil, nil, err
	}
	return cfg, st, nil
}

// jobRow is one line of porta jobs list.
type jobRow struct {
	Name     string   `json:"name"`
	Every    string   `json:"every"`
	At       string   `json:"at"`
	Run      []string `json:"run"`       // its secrets masked (redact.Args)
	InConfig bool     `json:"in_config"` // false: only its history is left in the store
	*audit.JobState
}

func runJobsList(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("jobs list", "[--config DIR/porta.yaml] [--store DSN] [--json]", stdout, stderr)
	var sf storeFlags
	sf.register(fs.FlagSet)
	asJSON := fs.Bool("json", false, "print JSON")
	if code, done := fs.parse(args); done {
		return code
	}
	ctx := context.Background()
	cfg, st, err := openJobs(ctx, &sf)
	if err != nil {
		fmt.Fprintln(stderr, "porta jobs list:", err)
		return 1
	}
	var states []*audit.JobState
	if st != nil {
		defer st.Close()
		states, err = st.JobStates(ctx)
	}
	if err != nil {
		fmt.Fprintln(stderr, "porta jobs list:", err)
		return 1
	}
	byName := map[string]*audit.JobState{}
	for _, s := range states {
		byName[s.Job] = s
	}
	rows := []jobRow{}
	for _, j := range cfg.Jobs {
		s := byName[j.Name]
		if s == nil {
			s = &audit.JobState{Job: j.Name}
		}
		delete(byName, j.Name)
		at := time.Time{}.Add(j.Schedule.At).Format("15:04")
		rows = append(rows, jobRow{Name: j.Name, Every: j.Schedule.Every.String(), At: at, Run: redact.Args(j.Run), InConfig: true, JobState: s})
	}
	for _, s := range states {
		if byName[s.Job] != nil {
			rows = append(rows, jobRow{Name: s.Job, JobState: s})
		}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(rows)
		return 0
	}
	now := time.Now()
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "JOB\tEVERY\tAT\tRUN\tDUE\tRUNNING ON\tLAST OK\tMARK\tRUNS\tFAILURES")
	for _, r := range rows {
		run, running := strings.Join(r.Run, " "), "-"
		if !r.InConfig {
			run = "(not in " + cfg.File + ")"
		}
		if r.Owner != "" && r.LeaseUntil.After(now) {
			running = r.Owner
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\n", r.Name, r.Every, r.At, run, when(r.Due), running, when(r.LastOK), when(r.Mark), r.Runs, r.Failures)
	}
	tw.Flush()
	return 0
}

func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format(time.DateTime)
}

func runJobsHistory(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("jobs history", "[--config DIR/porta.yaml] [--store DSN] [--job NAME] [--limit N] [--json]", stdout, stderr)
	var sf storeFlags
	sf.register(fs.FlagSet)
	job := fs.String("job", "", "only this job's runs")
	limit := fs.Int("limit", 20, "at most this many runs")
	asJSON := fs.Bool("json", false, "print JSON")
	if code, done := fs.parse(args); done {
		return code
	}
	if *limit < 1 {
		return fs.fail("--limit must be at least 1")
	}
	ctx := context.Background()
	_, st, err := openJobs(ctx, &sf)
	if err != nil {
		fmt.Fprintln(stderr, "porta jobs history:", err)
		return 1
	}
	var runs []*audit.JobRun
	if st != nil {
		defer st.Close()
		runs, err = st.JobRuns(ctx, *job, *limit)
	}
	if err != nil {
		fmt.Fprintln(stderr, "porta jobs history:", err)
		return 1
	}
	if *asJSON {
		if runs == nil {
			runs = []*audit.JobRun{}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(runs)
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tJOB\tNODE\tSTARTED\tSECONDS\tOUTCOME\tSINCE\tCOUNTS\tERROR")
	for _, r := range runs {
		secs := "-"
		if !r.Ended.IsZero() {
			secs = fmt.Sprintf("%.1f", r.Ended.Sub(r.Started).Seconds())
		}
		keys := make([]string, 0, len(r.Counts))
		for k := range r.Counts {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var counts []string
		for _, k := range keys {
			counts = append(counts, fmt.Sprintf("%s=%d", k, r.Counts[k]))
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Job, r.Node, when(r.Started), secs, r.Outcome, when(r.Since), strings.Join(counts, " "), r.Error)
	}
	tw.Flush()
	return 0
}

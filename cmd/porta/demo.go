package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"porta/adapters/labour"
	"porta/audit"
	"porta/internal/demo"
	"porta/registry"
)

// porta demo: the labour network on embedded defaults, run end to end by package internal/demo.
// Here: the flags, the progress on stderr, the report and what to do next on stdout, and the
// network's folder (a temporary one, removed at the end unless --keep; --dir's is always kept).

func init() {
	register(command{
		name:    "demo",
		summary: "build a labour network with synthetic data, run every flow through its gateways, report",
		run:     runDemo,
	})
}

// demoOutput is what --json prints: the report, and whether the network's folder was kept.
type demoOutput struct {
	*demo.Report
	Kept bool `json:"kept"`
}

func runDemo(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("demo", "[--dir D | --keep] [--workers N] [--json] [--console] [flags]", stdout, stderr)
	fs.About = "Writes a network of ten gateways (one local CA) with a SIL of synthetic workers, the comuni's\n" +
		"registries and the schools' attendance, runs every flow through the gateways at once, checks that\n" +
		"the planted changes were found exactly and verifies every trace chain. Progress goes to stderr,\n" +
		"the report to stdout. Exit 1 if anything was lost, duplicated or missed. With --console the\n" +
		"network stays up after the flows, each gateway's admin listener serving the management API and\n" +
		"the web console (/ui/), and the console's address and an admin's credentials are printed;\n" +
		"Ctrl-C stops it."
	dir := fs.String("dir", "", "write the network in `DIR` (new or empty) and keep it (default: a temporary directory, removed at the end)")
	keep := fs.Bool("keep", false, "keep the temporary directory of the network, to look at it afterwards")
	workers := fs.Int("workers", 200, "synthetic workers in the SIL")
	asJSON := fs.Bool("json", false, "print one JSON object instead of the table")
	conc := fs.Int("concurrency", 16, "requests in flight per flow")
	seed := fs.Uint64("seed", 1, "seed of the synthetic data")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to `FILE` (go tool pprof)")
	console := fs.Bool("console", false, "after the flows keep the network running with the web console, print its URL and credentials; Ctrl-C stops")
	if code, done := fs.parse(args); done {
		return code
	}
	if fs.NArg() > 0 || *workers < 10 || *conc < 1 {
		return fs.fail("want no arguments, --workers >= 10 and --concurrency >= 1")
	}
	temporary := *dir == ""
	if temporary {
		d, err := os.MkdirTemp("", "porta-demo-*")
		if err != nil {
			fmt.Fprintf(stderr, "porta demo: %v\n", err)
			return 1
		}
		*dir = d
	} else if entries, _ := os.ReadDir(*dir); len(entries) > 0 {
		fmt.Fprintf(stderr, "porta demo: %s is not empty; choose a new --dir\n", *dir)
		return 1
	}
	abs, _ := filepath.Abs(*dir)
	kept := !temporary || *keep
	removeUnlessKept := func() {
		if kept {
			return
		}
		if err := os.RemoveAll(abs); err != nil {
			fmt.Fprintf(stderr, "porta demo: remove %s: %v\n", abs, err)
		}
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			removeUnlessKept()
			fmt.Fprintf(stderr, "porta demo: --cpuprofile: %v\n", err)
			return 1
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	prog := newDemoProgress(stderr, *workers, abs)
	opt := demo.Options{
		Dir: abs, Workers: *workers, Concurrency: *conc, Seed: *seed,
		Log:      slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelError})),
		Progress: prog.step,
	}
	if *console {
		out := stdout
		if *asJSON {
			out = stderr // stdout stays one JSON object
		}
		opt.Admin = func(p *demo.Peer) (map[string]http.Handler, error) {
			api, err := newOpsAPI(p.Opened, nil, opt.Log)
			if err != nil || api == nil {
				return nil, err
			}
			return api.Routes(), nil
		}
		opt.Hold = func(ctx context.Context, n *demo.Running) error {
			prog.end()
			return holdConsole(ctx, n, out)
		}
	}
	rep, err := demo.Run(context.Background(), opt)
	prog.end()
	removeUnlessKept()
	if err != nil {
		fmt.Fprintf(stderr, "porta demo: %v\n", err)
		if kept {
			fmt.Fprintf(stderr, "porta demo: the network is in %s\n", abs)
		}
		return 1
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(demoOutput{rep, kept})
	} else {
		printDemo(stdout, rep)
		printDemoNext(stdout, abs, kept, temporary)
	}
	if !rep.OK() {
		return 1
	}
	return 0
}

// demoProgress tells stderr how the run goes. On a terminal it is one line, rewritten at each
// change; otherwise (a file, a pipe, a CI log) one plain line per stage or flow started and ended.
type demoProgress struct {
	w        io.Writer
	live     bool
	workers  int
	dir      string
	start    time.Time
	running  []string // flows started and not done, in the order they started
	done     int
	total    int
	lastLine int // the live line's length, to blank what a shorter one leaves
}

func newDemoProgress(w io.Writer, workers int, dir string) *demoProgress {
	return &demoProgress{w: w, live: isTerminal(w), workers: workers, dir: dir, start: time.Now(), total: len(demo.FlowNames())}
}

// isTerminal reports whether w is a character device (a terminal), not a file or a pipe.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func (p *demoProgress) step(s demo.Step) {
	var line string
	switch s.Stage {
	case demo.StageNetwork:
		if s.Done {
			return
		}
		line = fmt.Sprintf("writing the network (ten gateways, one local CA) in %s", p.dir)
	case demo.StageGateways:
		if s.Done {
			return
		}
		line = "starting the gateways"
	case demo.StageData:
		if s.Done {
			return
		}
		line = fmt.Sprintf("planting the data of %d workers (SIL, comuni, schools)", p.workers)
	case demo.StageFlow:
		if !s.Done {
			p.running = append(p.running, s.Flow)
			line = "flow " + s.Flow + " started"
		} else {
			p.done++
			for i, f := range p.running {
				if f == s.Flow {
					p.running = append(p.running[:i], p.running[i+1:]...)
					break
				}
			}
			line = "flow " + s.Flow + " failed"
			if r := s.Result; r != nil {
				line = fmt.Sprintf("flow %s done in %.1fs: sent %d, acked %d, rejected %d, lost %d, dup %d", s.Flow, r.Seconds, r.Sent, r.Acknowledged, r.Rejected, r.Lost, r.Duplicated)
			}
		}
		if p.live {
			line = fmt.Sprintf("flows %d/%d done", p.done, p.total)
			if len(p.running) > 0 {
				line += "; running: " + strings.Join(p.running, ", ")
			}
		}
	case demo.StageVerify:
		if s.Done {
			return
		}
		line = "verifying every gateway's trace chain"
	default:
		return
	}
	line = fmt.Sprintf("porta demo: %5.1fs %s", time.Since(p.start).Seconds(), line)
	if !p.live {
		fmt.Fprintln(p.w, line)
		return
	}
	pad := max(0, p.lastLine-len(line))
	p.lastLine = len(line)
	fmt.Fprintf(p.w, "\r%s%s", line, strings.Repeat(" ", pad))
}

// end closes the live line, so what follows starts on a line of its own.
func (p *demoProgress) end() {
	if p.live && p.lastLine > 0 {
		fmt.Fprintln(p.w)
	}
}

// demoColumns are the report's columns: a name, a header, and the cell of a flow.
var demoColumns = []struct {
	header string
	cell   func(*demo.Flow) string
}{
	{"flow", func(f *demo.Flow) string { return f.Name }},
	{"sent", func(f *demo.Flow) string { return strconv.Itoa(f.Sent) }},
	{"acked", func(f *demo.Flow) string { return strconv.Itoa(f.Acknowledged) }},
	{"merged", func(f *demo.Flow) string { return strconv.Itoa(f.Merged) }},
	{"rejected", func(f *demo.Flow) string { return strconv.Itoa(f.Rejected) }},
	{"lost", func(f *demo.Flow) string { return strconv.Itoa(f.Lost) }},
	{"dup", func(f *demo.Flow) string { return strconv.Itoa(f.Duplicated) }},
	{"seconds", func(f *demo.Flow) string { return strconv.FormatFloat(f.Seconds, 'f', 2, 64) }},
}

// printDemo writes the report: one row per flow, the first column left-aligned and the numbers
// right-aligned, each as wide as its widest cell; under a flow its rejection reasons and problems.
func printDemo(w io.Writer, r *demo.Report) {
	fmt.Fprintf(w, "porta demo: %d workers, ten gateways, %d flows at once\n\n", r.Workers, len(r.Flows))
	rows := [][]string{{}}
	for _, c := range demoColumns {
		rows[0] = append(rows[0], c.header)
	}
	for _, f := range r.Flows {
		var row []string
		for _, c := range demoColumns {
			row = append(row, c.cell(f))
		}
		rows = append(rows, row)
	}
	width := make([]int, len(demoColumns))
	for _, row := range rows {
		for i, cell := range row {
			width[i] = max(width[i], len(cell))
		}
	}
	line := func(row []string) string {
		var b strings.Builder
		for i, cell := range row {
			if i == 0 {
				fmt.Fprintf(&b, "%-*s", width[i], cell)
			} else {
				fmt.Fprintf(&b, "  %*s", width[i], cell)
			}
		}
		return b.String()
	}
	fmt.Fprintln(w, line(rows[0]))
	for i, f := range r.Flows {
		fmt.Fprintln(w, line(rows[i+1]))
		var rs []string
		for k := range f.Reasons {
			rs = append(rs, k)
		}
		sort.Strings(rs)
		for _, k := range rs {
			fmt.Fprintf(w, "    rejected %dx: %s\n", f.Reasons[k], k)
		}
		for _, p := range f.Problems {
			fmt.Fprintf(w, "    PROBLEM: %s\n", p)
		}
	}
	fmt.Fprintf(w, "\ntrace verify (every gateway): %s\ntotal %.1fs\n", r.TraceVerify, r.Seconds)
}

// printDemoNext says where the network is (or that it was removed) and the commands to look at
// it, each a line a shell takes as it stands.
func printDemoNext(w io.Writer, dir string, kept, temporary bool) {
	if !kept {
		fmt.Fprintf(w, "\nThe network was in %s, removed now. To look at it afterwards, run again with\n"+
			"--keep (or --dir DIR); this prints the commands to read its trails and rejections.\n", dir)
		return
	}
	why := "--dir"
	if temporary {
		why = "--keep"
	}
	cfg := filepath.Join(dir, labour.Provincia, "porta.yaml")
	fmt.Fprintf(w, "\nThe network is in %s (kept: %s); each party's gateway has its folder there.\n", dir, why)
	fmt.Fprintln(w, "What next, on the province's gateway (any party's porta.yaml works alike):")
	for _, c := range []struct{ cmd, what string }{
		{"porta trace list --config " + cfg, "the bustas it sent and received, newest first"},
		{"porta trace show --config " + cfg + " ID", "one of them (ID from trace list): header, body, exchange"},
		{"porta trace verify --config " + cfg, "its tamper-evident hash chain"},
		{"porta failures list --config " + cfg, "the records the province's flows rejected, with the reason"},
		{"porta serve --config " + cfg, "run its gateway again (Ctrl-C stops it)"},
		{"rm -rf " + dir, "remove the network when done"},
	} {
		fmt.Fprintf(w, "  %-*s  # %s\n", len(cfg)+30, c.cmd, c.what)
	}
}

// demoOperator is the operator porta demo --console adds to every gateway of the network.
const demoOperator = "demo"

// holdConsole adds an admin operator with a fresh password to every gateway, prints the Province's
// console address and the credentials, and holds the network until SIGINT or SIGTERM.
func holdConsole(ctx context.Context, n *demo.Running, w io.Writer) error {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(stop)
	password := rand.Text()
	hash, err := registry.HashPassword(password, rand.Reader)
	if err != nil {
		return err
	}
	for _, name := range demo.Parties {
		if err := n.Peers[name].Opened.Audit.PutOperator(ctx, &audit.Operator{Name: demoOperator, Role: "admin", PasswordHash: hash}); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	prov := n.Peers[labour.Provincia]
	fmt.Fprintf(w, "\nThe flows are done; the network keeps running with its consoles.\n")
	fmt.Fprintf(w, "  console:  %s/ui/   (the Province's gateway)\n", prov.Admin)
	fmt.Fprintf(w, "  log in:   %s / %s   (role admin, on every gateway of the network)\n", demoOperator, password)
	fmt.Fprintf(w, "  the API:  curl -u %s:%s %s/api/v1/transactions\n", demoOperator, password, prov.Admin)
	fmt.Fprintf(w, "  the other gateways' consoles:")
	for _, name := range demo.Parties {
		if name != labour.Provincia {
			fmt.Fprintf(w, " %s %s/ui/", name, n.Peers[name].Admin)
		}
	}
	fmt.Fprintf(w, "\nCtrl-C stops the network (and prints the report).\n")
	select {
	case <-stop:
	case <-ctx.Done():
	}
	return nil
}

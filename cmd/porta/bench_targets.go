package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"porta/internal/bench"
)

// porta bench's measurements beyond one run's window: the latency at half the rate
// (--half-rate), each gateway's own memory as a porta serve process (--gateway-memory), and
// issue 14's targets judged in one run (--targets).

type benchExtras struct {
	halfRate  bool
	memory    int
	targets   bool
	serveExe  string
	memReport *bench.MemoryReport
}

func (x *benchExtras) register(fs *flag.FlagSet) {
	fs.BoolVar(&x.halfRate, "half-rate", false, "after the window, a paced run at half its rate (latency from when each exchange was due): p50 and p99 at a load the gateways carry")
	fs.IntVar(&x.memory, "gateway-memory", 0, "after the run, serve each gateway as its own porta serve process and measure its peak RSS over `N` exchanges of the payload, one at a time (peak RSS ÷ payload per gateway)")
	fs.BoolVar(&x.targets, "targets", false, "measure every target of issue 14 (sync RSA-2048, sync ECDSA with p99 at half rate, one-way with acknowledgement, 10 MB peak RSS per gateway, trace verify) and judge each met or missed; --profile, --alg and --payload are set per target")
	fs.StringVar(&x.serveExe, "serve-binary", "", "the porta binary run as porta serve by --gateway-memory and --targets (default: this one)")
}

func (x *benchExtras) exe() (string, error) {
	if x.serveExe != "" {
		return x.serveExe, nil
	}
	return os.Executable()
}

// gatewayMemory runs --gateway-memory for the run's options.
func (x *benchExtras) gatewayMemory(o bench.Options, stderr io.Writer) error {
	if x.memory <= 0 {
		return nil
	}
	exe, err := x.exe()
	if err != nil {
		return err
	}
	x.memReport, err = bench.MeasureMemory(context.Background(), bench.MemoryOptions{Exe: exe, Profile: o.Profile, Alg: o.Alg, Payload: o.Payload, Exchanges: x.memory}, stderr)
	return err
}

// runTargets is porta bench --targets.
func (x *benchExtras) runTargets(o bench.Options, asJSON bool, stdout, stderr io.Writer) int {
	exe, err := x.exe()
	if err != nil {
		fmt.Fprintf(stderr, "porta bench: %v\n", err)
		return 1
	}
	exchanges := x.memory
	if exchanges <= 0 {
		exchanges = 3
	}
	rep, err := bench.RunTargets(context.Background(), bench.TargetOptions{Options: o, Exe: exe, MemoryPayload: 10_000_000, MemoryExchanges: exchanges}, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "porta bench: %v\n", err)
		return 1
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(rep)
	} else {
		for _, r := range []*bench.Report{rep.SyncRSA, rep.SyncECDSA, rep.OneWayECDSA} {
			printBench(stdout, r)
			printBenchExtras(stdout, r, nil)
		}
		for _, m := range rep.Memory {
			printBenchExtras(stdout, nil, m)
		}
		printVerdicts(stdout, rep.Verdicts)
	}
	for _, r := range []*bench.Report{rep.SyncRSA, rep.SyncECDSA, rep.OneWayECDSA} {
		if r.Errors > 0 || r.FirstError != "" {
			fmt.Fprintf(stderr, "porta bench: %s %s: %d errors in the window; first: %s\n", r.Profile, r.Alg, r.Errors, r.FirstError)
			return 1
		}
	}
	return 0
}

// printBenchExtras prints the half-rate run of r and a gateway memory measurement, when there are.
func printBenchExtras(w io.Writer, r *bench.Report, m *bench.MemoryReport) {
	if r != nil && r.HalfRate != nil {
		h := r.HalfRate
		fmt.Fprintf(w, "  at half rate     %.1f/s (asked %.1f/s): p50 %.2f ms  p90 %.2f ms  p99 %.2f ms  max %.2f ms, errors %d\n",
			h.ExchangesPerS, h.TargetPerS, h.P50ms, h.P90ms, h.P99ms, h.MaxMs, h.Errors)
	}
	if m != nil {
		mib := func(b int64) float64 { return float64(b) / (1 << 20) }
		fmt.Fprintf(w, "gateway memory: %s, payload %d bytes, %s, %d exchanges one at a time, each gateway a porta serve process (%.0f ms per exchange)\n",
			m.Profile, m.PayloadBytes, m.Alg, m.Exchanges, m.MsPerExchange)
		fmt.Fprintf(w, "  consumer         peak RSS %.1f MiB = %.1f× the payload (%.1f MiB before)\n", mib(m.Consumer.PeakRSSBytes), float64(m.Consumer.PeakRSSBytes)/float64(m.PayloadBytes), mib(m.Consumer.BaseRSSBytes))
		fmt.Fprintf(w, "  provider         peak RSS %.1f MiB = %.1f× the payload (%.1f MiB before)\n", mib(m.Provider.PeakRSSBytes), float64(m.Provider.PeakRSSBytes)/float64(m.PayloadBytes), mib(m.Provider.BaseRSSBytes))
	}
}

func printVerdicts(w io.Writer, vs []bench.Verdict) {
	fmt.Fprintln(w, "issue 14 targets:")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, v := range vs {
		verdict := "n/a"
		if v.Met != nil {
			verdict = "missed"
			if *v.Met {
				verdict = "met"
			}
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", verdict, v.Target, v.Want, v.Measured)
	}
	tw.Flush()
}

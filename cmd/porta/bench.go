package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"time"

	"porta/internal/bench"
	"porta/internal/size"
	"porta/registry"
)

// porta bench: two real gateways on loopback under load, measured by package internal/bench.
// Here: the flags and the printing.

func init() {
	register(command{
		name:    "bench",
		summary: "measure exchanges/s and latency through two real gateways on loopback",
		run:     runBench,
	})
}

func runBench(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("bench", "[flags]", stdout, stderr)
	o := bench.Options{Large: &gcPacer{}} // the gateways collect as porta serve's do
	fs.StringVar(&o.Profile, "profile", "sync", "collaboration profile: sync or oneway-ack")
	payload := fs.String("payload", "1KB", "payload size: 1KB, 100KB, 1MB, 10MB or any size (KB, MB: powers of 1000; KiB, MiB: of 1024)")
	fs.IntVar(&o.Concurrency, "concurrency", 2*runtime.GOMAXPROCS(0), "concurrent SIL clients (closed loop)")
	fs.DurationVar(&o.Duration, "duration", 20*time.Second, "measured window")
	fs.DurationVar(&o.Warmup, "warmup", 3*time.Second, "warm-up before the window (not measured)")
	fs.StringVar(&o.Alg, "alg", registry.AlgRSA2048, "key algorithm of both gateways: rsa2048 or ecdsa-p256")
	fs.StringVar(&o.Store, "store", "sqlite", "audit store: sqlite (a file per gateway) or a postgres:// URL (a database per gateway is created there and dropped)")
	fs.IntVar(&o.Nodes, "nodes", 1, "gateway nodes per side; with 2 or more (PostgreSQL only) each side's nodes share its database, the SIL's clients spread over the consumer's nodes and a round-robin TCP balancer spreads the consumer's connections over the provider's")
	fs.StringVar(&o.Dir, "dir", "", "keep the two gateways' files in `DIR` (default a temporary directory, removed)")
	fs.StringVar(&o.Cpuprofile, "cpuprofile", "", "write a CPU profile of the warm-up and the window to `FILE` (go tool pprof)")
	fs.DurationVar(&o.RefDuration, "ref-duration", 0, "length of each reference measurement (default duration/4, 1s to 5s)")
	fs.StringVar(&o.Peer, "peer", "", "also measure the peer benchmark in `DIR` (../shared/peers/wss4j: its exchange mode, built into $PEER_BUILD or DIR/build if not yet) in this run: porta's window, the peer's, porta's again, and print the ratios (sync only)")
	peerArgs := fs.String("peer-args", "", "more arguments of the peer's run.sh, such as its warm-up: \"--warmup 60 --warmup-max 60\"")
	memLimit := fs.String("memory-limit", "", memoryLimitUsage)
	fs.StringVar(&o.TraceBody, "trace-body", "full", "what both gateways' trails keep of the messages (the services' trace policy): full, header, none or encrypted (with trace keys)")
	asJSON := fs.Bool("json", false, "print one JSON object with every figure")
	var extras benchExtras // bench_targets.go
	extras.register(fs.FlagSet)
	if code, done := fs.parse(args); done {
		return code
	}
	usageErr := fs.fail
	var err error
	switch {
	case fs.NArg() > 0:
		return usageErr("unexpected argument %q", fs.Arg(0))
	case o.Profile != "sync" && o.Profile != "oneway-ack":
		return usageErr("--profile %q: want sync or oneway-ack", o.Profile)
	case o.Alg != registry.AlgRSA2048 && o.Alg != registry.AlgECDSAP256:
		return usageErr("--alg %q: want rsa2048 or ecdsa-p256", o.Alg)
	case o.Concurrency <= 0:
		return usageErr("--concurrency %d: want at least 1", o.Concurrency)
	case o.Duration <= 0:
		return usageErr("--duration %s: want a positive duration", o.Duration)
	case o.Store != "sqlite" && !strings.HasPrefix(o.Store, "postgres://") && !strings.HasPrefix(o.Store, "postgresql://"):
		return usageErr("--store %q: want sqlite or a postgres:// URL", o.Store)
	case !slices.Contains(registry.TraceBodyModes, o.TraceBody):
		return usageErr("--trace-body %q: want full, header, none or encrypted", o.TraceBody)
	case o.Nodes < 1:
		return usageErr("--nodes %d: want at least 1", o.Nodes)
	case o.Nodes > 1 && o.Store == "sqlite":
		return usageErr("--nodes %d: nodes share a PostgreSQL store (a SQLite file has one gateway): give --store postgres://...", o.Nodes)
	case o.Peer != "" && o.Profile != "sync":
		return usageErr("--peer compares the sync profile (the peer's exchange is a signed request and a signed reply): drop --profile %s", o.Profile)
	case *peerArgs != "" && o.Peer == "":
		return usageErr("--peer-args without --peer")
	}
	o.PeerArgs = strings.Fields(*peerArgs)
	n, err := size.Parse(*payload)
	if err != nil || n < 1 || n > 1<<30 {
		return usageErr("--payload %q: want a size from 1 byte to 1GiB, such as 1KB, 100KB, 1MB or 10MB", *payload)
	}
	o.Payload = int(n)
	if err := setMemoryLimit(*memLimit); err != nil {
		return usageErr("%v", err)
	}
	if o.RefDuration <= 0 {
		o.RefDuration = min(max(o.Duration/4, time.Second), 5*time.Second)
	}
	if extras.targets {
		return extras.runTargets(o, *asJSON, stdout, stderr)
	}
	o.HalfRate = extras.halfRate
	rep, err := bench.Run(context.Background(), o, stderr)
	if err == nil {
		err = extras.gatewayMemory(o, stderr)
		rep.GatewayMemory = extras.memReport
	}
	if err != nil {
		fmt.Fprintf(stderr, "porta bench: %v\n", err)
		return 1
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(rep)
	} else {
		printBench(stdout, rep)
		printBenchExtras(stdout, rep, rep.GatewayMemory)
	}
	switch {
	case rep.Errors > 0 || rep.FirstError != "":
		fmt.Fprintf(stderr, "porta bench: %d errors in the window; first: %s\n", rep.Errors, rep.FirstError)
		return 1
	case rep.Exchanges == 0:
		fmt.Fprintf(stderr, "porta bench: no exchange completed within the window; lengthen --duration\n")
		return 1
	}
	return 0
}

func printBench(w io.Writer, r *bench.Report) {
	mb := func(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
	fmt.Fprintf(w, "porta bench: %s, payload %d bytes, %s, store %s (trace body %s), %d node(s) per side, %d clients, %d cores\n",
		r.Profile, r.PayloadBytes, r.Alg, r.Store, r.TraceBody, r.Nodes, r.Concurrency, r.Cores)
	fmt.Fprintf(w, "  exchanges        %d in %.1fs = %.1f/s, errors %d\n", r.Exchanges, r.DurationS, r.ExchangesPerS, r.Errors)
	fmt.Fprintf(w, "  latency          p50 %.2f ms  p90 %.2f ms  p99 %.2f ms  max %.2f ms\n", r.P50ms, r.P90ms, r.P99ms, r.MaxMs)
	fmt.Fprintf(w, "  per exchange     %.3f ms CPU, %.0f allocations\n", r.CPUmsPerExchange, r.AllocsPerExchange)
	fmt.Fprintf(w, "  memory           peak RSS %s (%s before the run)\n", mb(r.PeakRSSBytes), mb(r.BaseRSSBytes))
	if r.MemoryLimitBytes > 0 {
		fmt.Fprintf(w, "  memory limit     %s (--memory-limit or GOMEMLIMIT)\n", mb(r.MemoryLimitBytes))
	}
	fmt.Fprintf(w, "  signature limit  %.0f signs/s (%s) / %d per exchange = %.1f exchanges/s; this run is %.2f of it\n",
		r.SignsPerS, r.SignerEngine, r.SignaturesPerExchg, r.SignatureLimitPerS, r.FractionOfLimit)
	fmt.Fprintf(w, "  plain echo       %.1f/s (p50 %.2f ms, %.3f ms CPU per request) over loopback, no gateway\n",
		r.PlainEchoPerS, r.PlainEchoP50ms, r.PlainEchoCPUmsPerOp)
	if p := r.Peer; p != nil {
		fmt.Fprintf(w, "  after the peer   %.1f/s, %.3f ms CPU per exchange (porta, peer, porta: mean %.1f/s, %.3f ms CPU)\n",
			p.PortaAfterExchangesPerS, p.PortaAfterCPUmsPerExchange, p.PortaMeanExchangesPerS, p.PortaMeanCPUmsPerExchange)
		fmt.Fprintf(w, "  peer             %.1f/s (p50 %.2f ms, %.3f ms CPU per exchange, warm-up %.0fs) %s\n",
			p.ExchangesPerS, p.P50ms, p.CPUmsPerExchange, p.WarmupS, p.Dir)
		fmt.Fprintf(w, "  porta / peer     %.2f× the exchanges/s, %.2f× the CPU per exchange\n", p.RatioExchangesPerS, p.RatioCPUPerExchange)
	}
	if r.FirstError != "" {
		fmt.Fprintf(w, "  first error      %s\n", r.FirstError)
	}
}

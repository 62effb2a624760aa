package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"porta/audit"
	"porta/gateway/node"
	"porta/internal/loadgen"
	"porta/registry"
)

// The targets of issue 14 in one run (porta bench --targets): each measured here, beside the
// figures it comes from, and judged met or missed. The comparison with the WSS4J peer is made
// when Options.Peer names the peer (beside the sync RSA-2048 run); otherwise its verdict is left open.

// Paced is a run at a set rate (an open load, loadgen.Config.Rate): the latency the gateways
// give at a load they can carry, where a closed loop at full speed measures their queue.
type Paced struct {
	TargetPerS    float64 `json:"target_per_s"`
	ExchangesPerS float64 `json:"exchanges_per_s"`
	Exchanges     int64   `json:"exchanges"`
	P50ms         float64 `json:"p50_ms"`
	P90ms         float64 `json:"p90_ms"`
	P99ms         float64 `json:"p99_ms"`
	MaxMs         float64 `json:"max_ms"`
	Errors        int64   `json:"errors"`
}

// paced runs op at rate per second for d after a short warm-up; latencies run from when each
// exchange was due.
func paced(ctx context.Context, o Options, rate float64, op func(context.Context, int) error) (*Paced, error) {
	res, err := loadgen.Run(ctx, loadgen.Config{Concurrency: o.Concurrency, Warmup: min(o.Warmup, time.Second), Duration: o.Duration, Rate: rate}, op)
	if err != nil {
		return nil, err
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return &Paced{TargetPerS: rate, ExchangesPerS: res.PerSecond(), Exchanges: res.Ops,
		P50ms: ms(res.P50), P90ms: ms(res.P90), P99ms: ms(res.P99), MaxMs: ms(res.Max), Errors: res.Errors}, nil
}

// TargetOptions are a targets run's parameters: Options gives the load (duration, warm-up,
// concurrency, store, nodes) of each measured run, whose profile, payload and algorithm the
// targets set.
type TargetOptions struct {
	Options
	Exe             string // the porta binary the memory measurement runs as porta serve; "" skips it
	MemoryPayload   int    // 10 MB
	MemoryExchanges int
}

// Verdict is one target, judged.
type Verdict struct {
	Target   string  `json:"target"`
	Want     string  `json:"want"`
	Value    float64 `json:"value"`
	Measured string  `json:"measured"`
	Met      *bool   `json:"met"` // null: not measured in this run
}

// VerifyRun is porta trace verify over the trails the run's gateways wrote.
type VerifyRun struct {
	Records int64   `json:"records"`
	Seconds float64 `json:"seconds"`
	PerS    float64 `json:"records_per_s"`
	Chains  int     `json:"chains"`
	Problem string  `json:"problem,omitempty"`
}

// TargetsReport is every run of a targets run and the verdicts.
type TargetsReport struct {
	SyncRSA     *Report         `json:"sync_rsa2048"`
	SyncECDSA   *Report         `json:"sync_ecdsa_p256"` // with half_rate
	OneWayECDSA *Report         `json:"oneway_ack_ecdsa_p256"`
	Memory      []*MemoryReport `json:"gateway_memory,omitempty"`
	Verify      *VerifyRun      `json:"trace_verify,omitempty"`
	Verdicts    []Verdict       `json:"verdicts"`
}

// Issue 14's thresholds.
const (
	wantPeerRatio     = 1.5
	wantFraction      = 0.75
	wantECDSARate     = 2000
	wantHalfRateP99ms = 10
	wantRSSPerPayload = 8
	wantVerifyPerS    = 200000
	verifyMinRecords  = 100000 // fewer, and Verify's fixed costs make the rate
)

// RunTargets measures each target of issue 14 in turn: sync 1 KB RSA-2048 (fraction of the
// signature limit), sync 1 KB ECDSA P-256 (rate, then p99 at half that rate), one-way with
// acknowledgement 1 KB ECDSA (against sync), each gateway's peak RSS over a 10 MB payload (sync
// and one-way, as porta serve processes) and trace verify over the trails the runs wrote.
func RunTargets(ctx context.Context, o TargetOptions, progress io.Writer) (*TargetsReport, error) {
	dir, err := os.MkdirTemp("", "porta-bench-targets-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	rep := &TargetsReport{}
	var trails []string // porta.yaml of each gateway that ran, for trace verify
	run := func(name, profile, alg string, halfRate bool) (*Report, error) {
		fmt.Fprintf(progress, "porta bench --targets: %s\n", name)
		ro := o.Options
		ro.Profile, ro.Alg, ro.Payload, ro.HalfRate = profile, alg, 1000, halfRate
		if name != "sync-rsa2048" {
			ro.Peer = "" // the peer's exchange is measured beside the sync RSA-2048 run only
		}
		ro.Dir = filepath.Join(dir, name)
		r, err := Run(ctx, ro, progress)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		trails = append(trails, filepath.Join(ro.Dir, "consumer", "porta.yaml"), filepath.Join(ro.Dir, "provider", "porta.yaml"))
		return r, nil
	}
	if rep.SyncRSA, err = run("sync-rsa2048", "sync", registry.AlgRSA2048, false); err != nil {
		return nil, err
	}
	if rep.SyncECDSA, err = run("sync-ecdsa-p256", "sync", registry.AlgECDSAP256, true); err != nil {
		return nil, err
	}
	if rep.OneWayECDSA, err = run("oneway-ack-ecdsa-p256", "oneway-ack", registry.AlgECDSAP256, false); err != nil {
		return nil, err
	}
	if o.Exe != "" {
		for _, profile := range []string{"sync", "oneway-ack"} {
			fmt.Fprintf(progress, "porta bench --targets: gateway memory, %s, %d bytes\n", profile, o.MemoryPayload)
			m, err := MeasureMemory(ctx, MemoryOptions{Exe: o.Exe, Profile: profile, Alg: o.Alg, Payload: o.MemoryPayload, Exchanges: o.MemoryExchanges}, progress)
			if err != nil {
				return nil, fmt.Errorf("gateway memory (%s): %w", profile, err)
			}
			rep.Memory = append(rep.Memory, m)
		}
	}
	if o.Store == "sqlite" {
		fmt.Fprintf(progress, "porta bench --targets: trace verify\n")
		rep.Verify = verifyTrails(ctx, trails)
	}
	rep.Verdicts = rep.judge()
	return rep, nil
}

// verifyTrails runs Verify over the SQLite store of each porta.yaml, as porta trace verify does.
func verifyTrails(ctx context.Context, configs []string) *VerifyRun {
	v := &VerifyRun{}
	for _, c := range configs {
		cfg, err := node.LoadConfig(c)
		if err != nil {
			v.Problem = err.Error()
			return v
		}
		s, err := audit.Open(ctx, cfg.Store, audit.Options{ReadOnly: true})
		if err != nil {
			v.Problem = err.Error()
			return v
		}
		r, err := s.Verify(ctx, audit.VerifyOptions{})
		s.Close()
		if err != nil {
			v.Problem = fmt.Sprintf("%s: %v", c, err)
			return v
		}
		v.Records += r.Records
		v.Seconds += r.Elapsed.Seconds()
		v.Chains += len(r.Heads)
	}
	if v.Seconds > 0 {
		v.PerS = float64(v.Records) / v.Seconds
	}
	return v
}

// judge gives each target its verdict from what was measured.
func (t *TargetsReport) judge() []Verdict {
	yes := func(b bool) *bool { return &b }
	var out []Verdict
	peer := Verdict{Target: "sync 1KB RSA-2048 against the WSS4J peer", Want: fmt.Sprintf("≥ %.1f× the peer's exchanges/s", wantPeerRatio),
		Measured: "not measured: give --peer ../shared/peers/wss4j to run the peer between two of porta's windows"}
	if r := t.SyncRSA; r != nil && r.Peer != nil {
		p := r.Peer
		peer.Value, peer.Met = p.RatioExchangesPerS, yes(p.RatioExchangesPerS >= wantPeerRatio)
		peer.Measured = fmt.Sprintf("%.2f× (porta %.0f/s, the mean of its windows; peer %.0f/s, JIT settled %v; CPU per exchange %.2f× the peer's)",
			p.RatioExchangesPerS, p.PortaMeanExchangesPerS, p.ExchangesPerS, p.JITSettled, p.RatioCPUPerExchange)
	}
	out = append(out, peer)
	if r := t.SyncRSA; r != nil {
		out = append(out, Verdict{Target: "sync 1KB RSA-2048, fraction of the signature limit", Want: fmt.Sprintf("≥ %.2f", wantFraction),
			Value: r.FractionOfLimit, Met: yes(r.FractionOfLimit >= wantFraction),
			Measured: fmt.Sprintf("%.2f (%.0f exchanges/s of %.0f, signer %s)", r.FractionOfLimit, r.ExchangesPerS, r.SignatureLimitPerS, r.SignerEngine)})
	}
	if r := t.SyncECDSA; r != nil {
		out = append(out, Verdict{Target: "sync 1KB ECDSA P-256, exchanges/s", Want: fmt.Sprintf("≥ %d", wantECDSARate),
			Value: r.ExchangesPerS, Met: yes(r.ExchangesPerS >= wantECDSARate), Measured: fmt.Sprintf("%.0f/s (%d clients)", r.ExchangesPerS, r.Concurrency)})
		if h := r.HalfRate; h != nil {
			out = append(out, Verdict{Target: "sync 1KB ECDSA P-256, p99 at half the maximum rate", Want: fmt.Sprintf("< %d ms", wantHalfRateP99ms),
				Value: h.P99ms, Met: yes(h.P99ms < wantHalfRateP99ms && h.Errors == 0),
				Measured: fmt.Sprintf("p99 %.2f ms, p50 %.2f ms at %.0f/s (asked %.0f/s)", h.P99ms, h.P50ms, h.ExchangesPerS, h.TargetPerS)})
		}
		if w := t.OneWayECDSA; w != nil && r.ExchangesPerS > 0 {
			ratio := w.ExchangesPerS / r.ExchangesPerS
			out = append(out, Verdict{Target: "one-way with acknowledgement against sync, ECDSA P-256", Want: "≥ 1.00× sync",
				Value: ratio, Met: yes(ratio >= 1),
				Measured: fmt.Sprintf("%.2f× (%.0f/s acknowledged, sync %.0f/s)", ratio, w.ExchangesPerS, r.ExchangesPerS)})
		}
	}
	if len(t.Memory) > 0 {
		worst := t.Memory[0]
		for _, m := range t.Memory {
			if m.PeakRSSPerPayload > worst.PeakRSSPerPayload {
				worst = m
			}
		}
		out = append(out, Verdict{Target: fmt.Sprintf("%d-byte payload, peak RSS of a gateway ÷ payload", worst.PayloadBytes), Want: fmt.Sprintf("< %d×", wantRSSPerPayload),
			Value: worst.PeakRSSPerPayload, Met: yes(worst.PeakRSSPerPayload < wantRSSPerPayload),
			Measured: fmt.Sprintf("%.1f× (worst: %s, consumer %.0f MiB, provider %.0f MiB)", worst.PeakRSSPerPayload, worst.Profile,
				float64(worst.Consumer.PeakRSSBytes)/(1<<20), float64(worst.Provider.PeakRSSBytes)/(1<<20))})
	} else {
		out = append(out, Verdict{Target: "10 MB payload, peak RSS of a gateway ÷ payload", Want: fmt.Sprintf("< %d×", wantRSSPerPayload), Measured: "not measured: no porta binary to run as porta serve"})
	}
	if v := t.Verify; v != nil && v.Problem == "" && v.Records < verifyMinRecords {
		out = append(out, Verdict{Target: "trace verify", Want: fmt.Sprintf("≥ %d records/s", wantVerifyPerS), Value: v.PerS,
			Measured: fmt.Sprintf("not judged: this run's trails hold %d records, too few for a rate (%.0f records/s); at 1M: go test ./audit -run '^$' -bench Verify, PORTA_AUDIT_ROWS=1000000", v.Records, v.PerS)})
	} else if v != nil && v.Problem == "" {
		out = append(out, Verdict{Target: "trace verify", Want: fmt.Sprintf("≥ %d records/s", wantVerifyPerS),
			Value: v.PerS, Met: yes(v.PerS >= wantVerifyPerS),
			Measured: fmt.Sprintf("%.0f records/s over this run's %d records (at 1M: go test ./audit -run '^$' -bench Verify, PORTA_AUDIT_ROWS=1000000)", v.PerS, v.Records)})
	} else {
		why := "not measured: the trails are in PostgreSQL, dropped with the run"
		if v != nil {
			why = "not measured: " + v.Problem
		}
		out = append(out, Verdict{Target: "trace verify", Want: fmt.Sprintf("≥ %d records/s", wantVerifyPerS), Measured: why})
	}
	return out
}

package bench

import (
	"strings"
	"testing"
)

// TestJudge: each target is met, missed, or left open (null) when this run did not measure it,
// from the figures of the runs it names.
func TestJudge(t *testing.T) {
	rep := &TargetsReport{
		SyncRSA:     &Report{FractionOfLimit: 0.80, ExchangesPerS: 800, SignatureLimitPerS: 1000},
		SyncECDSA:   &Report{ExchangesPerS: 1900, HalfRate: &Paced{TargetPerS: 950, ExchangesPerS: 950, P50ms: 2, P99ms: 9.5}},
		OneWayECDSA: &Report{ExchangesPerS: 2100},
		Memory: []*MemoryReport{
			{Profile: "sync", PayloadBytes: 10_000_000, PeakRSSPerPayload: 6.5},
			{Profile: "oneway-ack", PayloadBytes: 10_000_000, PeakRSSPerPayload: 8.5},
		},
		Verify: &VerifyRun{Records: 5000, PerS: 150000},
	}
	want := map[string]string{
		"against the WSS4J peer":    "open",
		"fraction of the signature": "met",
		"ECDSA P-256, exchanges/s":  "missed",
		"p99 at half":               "met",
		"one-way with":              "met",
		"peak RSS":                  "missed", // the worst profile decides
		"trace verify":              "open",   // too few records for a rate
	}
	vs := rep.judge()
	if len(vs) != len(want) {
		t.Fatalf("%d verdicts, want %d: %+v", len(vs), len(want), vs)
	}
	for _, v := range vs {
		got := "open"
		if v.Met != nil && *v.Met {
			got = "met"
		} else if v.Met != nil {
			got = "missed"
		}
		found := false
		for k, w := range want {
			if strings.Contains(v.Target, k) {
				found = true
				if got != w {
					t.Errorf("%s: %s (%s), want %s", v.Target, got, v.Measured, w)
				}
			}
		}
		if !found {
			t.Errorf("unexpected target %q", v.Target)
		}
	}
	rep.Verify = &VerifyRun{Records: 1_000_000, PerS: 210000}
	for _, v := range rep.judge() {
		if v.Target == "trace verify" && (v.Met == nil || !*v.Met) {
			t.Errorf("trace verify at 210k/s over 1M records: %+v", v)
		}
	}
}

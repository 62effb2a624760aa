package main

import (
	"encoding/json"
	"strings"
	"testing"

	"porta/internal/pgtest"
	"porta/internal/proctest"
)

// TestBenchShortRun runs porta bench for a second in each profile: two real gateways, the
// backend and the references, and --json reports every key scripts compare, with no error.
func TestBenchShortRun(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two gateways under load")
	}
	for _, profile := range []string{"sync", "oneway-ack"} {
		t.Run(profile, func(t *testing.T) {
			code, out, errOut := porta(t, "", "bench", "--profile", profile, "--alg", "ecdsa-p256", "--payload", "1KB",
				"--concurrency", "4", "--duration", "1s", "--warmup", "300ms", "--ref-duration", "300ms", "--json")
			if code != 0 {
				t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
			}
			var rep map[string]any
			if err := json.Unmarshal([]byte(out), &rep); err != nil {
				t.Fatalf("--json output does not parse: %v\n%s", err, out)
			}
			for _, k := range []string{"exchanges_per_s", "signature_limit_per_s", "fraction_of_limit", "p50_ms", "p99_ms",
				"cpu_ms_per_exchange", "peak_rss_bytes", "plain_echo_per_s", "errors"} {
				if _, ok := rep[k]; !ok {
					t.Errorf("no %q in %s", k, out)
				}
			}
			if rep["errors"] != 0.0 {
				t.Errorf("errors = %v", rep["errors"])
			}
			for _, k := range []string{"exchanges_per_s", "signature_limit_per_s", "plain_echo_per_s", "peak_rss_bytes"} {
				if v, _ := rep[k].(float64); v <= 0 {
					t.Errorf("%s = %v, want > 0", k, rep[k])
				}
			}
		})
	}
}

// TestBenchPostgres runs both gateways on one PostgreSQL database, one node each.
func TestBenchPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two gateways under load")
	}
	dsn := pgtest.Start(t)
	code, out, errOut := porta(t, "", "bench", "--profile", "oneway-ack", "--alg", "ecdsa-p256", "--store", dsn,
		"--concurrency", "4", "--duration", "1s", "--warmup", "300ms", "--ref-duration", "300ms", "--json")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	var rep struct {
		Errors    int64   `json:"errors"`
		Exchanges int64   `json:"exchanges"`
		Store     string  `json:"store"`
		PerS      float64 `json:"exchanges_per_s"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Errors != 0 || rep.Exchanges == 0 || !strings.HasPrefix(rep.Store, "postgres") {
		t.Errorf("report: %+v", rep)
	}
}

func TestBenchUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--profile", "async"}, "--profile"},
		{[]string{"--alg", "dsa"}, "--alg"},
		{[]string{"--payload", "lots"}, "--payload"},
		{[]string{"--store", "mysql://x"}, "--store"},
		{[]string{"--concurrency", "0"}, "--concurrency"},
	} {
		code, _, errOut := porta(t, "", append([]string{"bench"}, c.args...)...)
		if code != 2 || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, %s", c.args, code, errOut)
		}
	}
}

// TestBenchHalfRateAndGatewayMemory: --half-rate adds a paced run at half the window's rate and
// --gateway-memory each gateway's own peak RSS as a porta serve process, both in --json beside
// the window's figures, which keep their names.
func TestBenchHalfRateAndGatewayMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two gateways under load, then as two processes")
	}
	code, out, errOut := porta(t, "", "bench", "--profile", "sync", "--alg", "ecdsa-p256", "--payload", "100KB",
		"--concurrency", "2", "--duration", "1s", "--warmup", "300ms", "--ref-duration", "300ms",
		"--half-rate", "--gateway-memory", "2", "--serve-binary", proctest.Binary(t), "--json")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	var rep struct {
		PerS     float64 `json:"exchanges_per_s"`
		HalfRate *struct {
			Target float64 `json:"target_per_s"`
			P50    float64 `json:"p50_ms"`
			P99    float64 `json:"p99_ms"`
			Errors int64   `json:"errors"`
		} `json:"half_rate"`
		Memory *struct {
			Exchanges int `json:"exchanges"`
			Consumer  struct {
				Peak int64 `json:"peak_rss_bytes"`
				Base int64 `json:"base_rss_bytes"`
			} `json:"consumer"`
			Provider struct {
				Peak int64 `json:"peak_rss_bytes"`
			} `json:"provider"`
			PerPayload float64 `json:"peak_rss_per_payload"`
		} `json:"gateway_memory"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("--json output does not parse: %v\n%s", err, out)
	}
	if h := rep.HalfRate; h == nil || h.Target <= 0 || h.Target > rep.PerS || h.P50 <= 0 || h.P99 < h.P50 || h.Errors != 0 {
		t.Errorf("half_rate %+v for a window of %.1f/s", h, rep.PerS)
	}
	m := rep.Memory
	if m == nil || m.Exchanges != 2 || m.Consumer.Base <= 0 || m.Consumer.Peak < m.Consumer.Base || m.Provider.Peak <= 0 ||
		m.PerPayload != float64(max(m.Consumer.Peak, m.Provider.Peak))/100000 {
		t.Errorf("gateway_memory %+v", m)
	}
}

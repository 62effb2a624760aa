package main

import (
	"encoding/json"
	"strings"
	"testing"

	"porta/internal/pgtest"
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

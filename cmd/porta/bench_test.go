package main

import (
	"encoding/json"
	"os"
	"path/filepath"
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
				"cpu_ms_per_exchange", "peak_rss_bytes", "plain_echo_per_s", "errors", "gc_percent"} {
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
		{[]string{"--peer", "x", "--profile", "oneway-ack"}, "--peer"},
		{[]string{"--peer-args", "--warmup 1"}, "--peer-args"},
	} {
		code, _, errOut := porta(t, "", append([]string{"bench"}, c.args...)...)
		if code != 2 || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, %s", c.args, code, errOut)
		}
	}
}

// TestBenchPeer runs porta bench --peer with a stand-in peer (the real one is a pair of JVMs and
// minutes of warm-up; ../shared/peers/wss4j): its build.sh runs once into PEER_BUILD, its run.sh
// gets the run's exchange mode, concurrency, window, payload and --peer-args, and the report
// carries its figures and porta's ratios to them from porta's windows before and after it.
func TestBenchPeer(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two gateways under load")
	}
	dir, build := t.TempDir(), t.TempDir()
	t.Setenv("PEER_BUILD", build)
	write := func(name, script string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write("build.sh", "#!/bin/sh\necho cp > \"$PEER_BUILD/classpath\"\n")
	write("run.sh", "#!/bin/sh\necho \"$@\" > \"$PEER_BUILD/args\"\necho warming up >&2\n"+
		`echo '{"peer":"stand-in","mode":"exchange","per_s":50.0,"p50_ms":2.0,"p99_ms":9.0,"errors":0,"cpu_ms_per_op":8.0,"warmup_s":1,"jit_settled":true}'`+"\n")
	code, out, errOut := porta(t, "", "bench", "--alg", "ecdsa-p256", "--concurrency", "2", "--duration", "1s",
		"--warmup", "200ms", "--ref-duration", "300ms", "--peer", dir, "--peer-args", "--warmup 60 --warmup-max 60", "--json")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	var rep struct {
		PerS float64 `json:"exchanges_per_s"`
		Peer *struct {
			PerS     float64         `json:"exchanges_per_s"`
			CPU      float64         `json:"cpu_ms_per_exchange"`
			After    float64         `json:"porta_after_exchanges_per_s"`
			MeanPerS float64         `json:"porta_mean_exchanges_per_s"`
			Ratio    float64         `json:"ratio_exchanges_per_s"`
			CPURatio float64         `json:"ratio_cpu_per_exchange"`
			Raw      json.RawMessage `json:"raw"`
		} `json:"peer"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	p := rep.Peer
	if p == nil || p.PerS != 50 || p.CPU != 8 || p.After <= 0 || p.CPURatio <= 0 || !strings.Contains(string(p.Raw), "stand-in") {
		t.Fatalf("peer report: %s", out)
	}
	if want := (rep.PerS + p.After) / 2; p.MeanPerS < want*0.999 || p.MeanPerS > want*1.001 || p.Ratio != p.MeanPerS/50 {
		t.Errorf("mean %v, ratio %v: want the mean of porta's windows (%v) over the peer's rate", p.MeanPerS, p.Ratio, want)
	}
	args, err := os.ReadFile(filepath.Join(build, "args"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "exchange --concurrency 2 --duration 1 --payload 1000 --warmup 60 --warmup-max 60"; strings.TrimSpace(string(args)) != want {
		t.Errorf("run.sh got %q, want %q", args, want)
	}
}

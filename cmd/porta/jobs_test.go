package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"porta/adapters/labour"
	"porta/adapters/merge"
	"porta/adapters/sil"
	"porta/audit"
	"porta/internal/demo"
	"porta/internal/listen"
)

func TestJobsConfigProblems(t *testing.T) {
	dir := t.TempDir()
	var errb bytes.Buffer
	if code := run([]string{"init", "--party", "Provincia", "--dir", dir, "--alg", "ecdsa-p256"}, nil, io.Discard, &errb); code != 0 {
		t.Fatalf("porta init: %s", errb.String())
	}
	cfg := filepath.Join(dir, "porta.yaml")
	data, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// porta init's commented example is valid once uncommented.
	var good []string
	in, examples := false, 0
	for _, l := range strings.Split(string(data), "\n") {
		switch {
		case l == "jobs: []":
			in, l = true, "jobs:"
		case in && strings.HasPrefix(l, "#  "):
			l, examples = strings.TrimPrefix(l, "#"), examples+1
		default:
			in = false
		}
		good = append(good, l)
	}
	if examples < 5 {
		t.Fatalf("porta init wrote no commented jobs example:\n%s", data)
	}
	if err := os.WriteFile(cfg, []byte(strings.Join(good, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if code := run([]string{"jobs", "list", "--config", cfg}, nil, &out, &errb); code != 0 || !strings.Contains(out.String(), "sap-nightly") {
		t.Fatalf("jobs list on the example: exit %d\n%s\n%s", code, out.String(), errb.String())
	}
	// A job's credentials are never printed: jobs list masks them, in its table and its JSON.
	withApp := strings.Replace(strings.Join(good, "\n"), "jobs:", "jobs:\n  - {name: app, every: 1h, run: [sil, send, --what, sap, --app, \"sil:PASSWORD\", --province, \"postgres://u:PGSECRET@db/p\"]}", 1)
	if err := os.WriteFile(cfg, []byte(withApp), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, asJSON := range []bool{false, true} {
		out.Reset()
		args := []string{"jobs", "list", "--config", cfg}
		if asJSON {
			args = append(args, "--json")
		}
		code := run(args, nil, &out, &errb)
		if got := out.String(); code != 0 || strings.Contains(got, "PASSWORD") || strings.Contains(got, "PGSECRET") || !strings.Contains(got, "sil:xxxxx") || !strings.Contains(got, "u:xxxxx@db") {
			t.Errorf("%v: exit %d, prints a secret or no masked credentials:\n%s%s", args, code, got, errb.String())
		}
	}

	bad := strings.Replace(string(data), "jobs: []", `jobs:
  - {name: a, every: 1h, run: [trace, verify]}
  - {name: b, every: 1h, run: [sil, send, --color, red]}
  - {name: c, every: 1h, run: [sil, send, --app, "sil:PASSWORD", --worker, X, --since, "2026-01-01T00:00:00Z"]}
  - {name: d, every: 1h, run: [sil, send, --config, other.yaml]}
  - {name: e, every: 1h, run: [sil, send, --what, did]}
  - {name: f, every: 1h, run: [sync, scuole]}
  - {name: g, every: 1h, run: [failures, retry, abc]}
  - {name: h, every: 1h, run: [sync]}`, 1)
	if err := os.WriteFile(cfg, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	line := 0
	for i, l := range strings.Split(bad, "\n") {
		if strings.Contains(l, "name: a,") {
			line = i + 1
		}
	}
	want := []string{
		"porta trace verify cannot run as a job; a job runs one of: failures retry, sil send, sync anagrafe, sync scuole",
		"porta sil send: flag provided but not defined: -color",
		"porta sil send: give exactly one of --worker CF or --since RFC3339",
		"porta sil send: --config: a job runs with the porta.yaml that lists it; leave --config out",
		"porta sil send: did needs --operator GUID:CF",
		"porta sync scuole: give at least one --school PARTY:CODE:YEAR",
		`porta failures retry: "abc" is not a failure ID (see porta failures list)`,
		"want a command and its subcommand, one of: failures retry, sil send, sync anagrafe, sync scuole",
	}
	for _, args := range [][]string{{"jobs", "list", "--config", cfg}, {"serve", "--config", cfg}, {"registry", "check", "--config", cfg}} {
		errb.Reset()
		if code := run(args, nil, &errb, &errb); code == 0 {
			t.Errorf("%v accepted the bad jobs", args)
		}
		got := strings.ReplaceAll(errb.String(), `\"`, `"`) // serve logs the error quoted
		if strings.Contains(got, "PASSWORD") || !strings.Contains(got, "--app sil:xxxxx") {
			t.Errorf("%v: the error echoes job c's password, or not its masked command:\n%s", args, got)
		}
		for i, w := range want {
			if at := fmt.Sprintf("porta.yaml:%d: job %q: run ", line+i, string(rune('a'+i))); !strings.Contains(got, at) || !strings.Contains(got, w) {
				t.Errorf("%v: no %s... %s in:\n%s", args, at, w, got)
			}
		}
	}
}

// TestServeRunsJobs runs porta serve for the province of a labour network with two jobs: a sil
// send of the SAPs every second, through the province's PD to the Ministry's gateway, and a
// failures retry that fails every time. The first send sends every worker, the next ones only
// what the SIL changed since the last successful run; the failing job stops nothing.
func TestServeRunsJobs(t *testing.T) {
	dir := t.TempDir()
	res := listen.NewReserved()
	defer res.Close()
	_, password, err := demo.BuildNetwork(dir, res)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ministero, err := demo.StartPeer(ctx, dir, labour.Ministero, res, slog.New(slog.DiscardHandler), time.Now)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	defer func() { cancel(); ministero.Stop() }()
	res.Close() // the province's porta serve below binds its addresses itself

	prov := filepath.Join(dir, labour.Provincia)
	gen, err := sil.Generate(ctx, filepath.Join(prov, "sil"), sil.GenOptions{Workers: 4, Seed: 5, BadCheck: 1, Now: time.Now().Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(prov, "porta.yaml")
	data, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	data = bytes.Replace(data, []byte("jobs: []"), fmt.Appendf(nil, `jobs:
  - {name: sap, every: 1s, run: [sil, send, --what, sap, --sil, %q]}
  - {name: retry-missing, every: 1s, run: [failures, retry, "999"]}`, gen.Config), 1)
	if err := os.WriteFile(cfg, data, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PORTA_APP", demo.AppUser+":"+password)

	logs := &syncBuffer{}
	done := make(chan int, 1)
	go func() { done <- run([]string{"serve", "--config", cfg}, nil, io.Discard, logs) }()
	stopped := false
	defer func() {
		if !stopped {
			syscall.Kill(os.Getpid(), syscall.SIGTERM)
			<-done
		}
	}()

	// Wait until serve listens: a reader opening a SQLite store while serve migrates it races
	// with it (goose takes no lock on SQLite).
	for !strings.Contains(logs.String(), "listener=admin") {
		select {
		case code := <-done:
			stopped = true
			t.Fatalf("serve exited with %d:\n%s", code, logs.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	history := func() []*audit.JobRun {
		t.Helper()
		var out, errb bytes.Buffer
		if code := run([]string{"jobs", "history", "--config", cfg, "--job", "sap", "--json", "--limit", "100"}, nil, &out, &errb); code != 0 {
			t.Fatalf("jobs history: %s", errb.String())
		}
		var runs []*audit.JobRun
		if err := json.Unmarshal(out.Bytes(), &runs); err != nil {
			t.Fatalf("jobs history --json: %v\n%s", err, out.String())
		}
		return runs
	}
	// waitFor waits for the first sap run that started after after to end, and checks it.
	waitFor := func(what string, after time.Time, ok func(*audit.JobRun) bool) *audit.JobRun {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for time.Now().Before(deadline) {
			runs := history() // newest first
			for i := len(runs) - 1; i >= 0; i-- {
				if r := runs[i]; r.Outcome != audit.JobRunning && r.Started.After(after) {
					if !ok(r) {
						t.Fatalf("%s: run %+v\nlogs:\n%s", what, r, logs.String())
					}
					return r
				}
			}
			select {
			case code := <-done:
				stopped = true
				t.Fatalf("serve exited with %d:\n%s", code, logs.String())
			case <-time.After(100 * time.Millisecond):
			}
		}
		t.Fatalf("%s: no run in 60s:\n%s", what, logs.String())
		return nil
	}
	first := waitFor("first run", time.Time{}, func(r *audit.JobRun) bool {
		return r.Outcome == audit.JobOK && r.Since.IsZero() && r.Counts["sap.acknowledged"] == 3 && r.Counts["sap.rejected"] == 1
	})
	second := waitFor("second run", first.Started, func(r *audit.JobRun) bool {
		return r.Outcome == audit.JobOK && r.Since.Equal(first.Started) && r.Counts["sap.sent"] == 0
	})

	// A worker changes in the SIL: the next run sends that worker alone.
	db, err := sqlx.Open("sqlite3", gen.Database)
	if err != nil {
		t.Fatal(err)
	}
	changed := time.Now()
	_, err = db.Exec(`UPDATE lavoratore SET telefono = '0612345678', aggiornato_il = ? WHERE id = (SELECT MIN(id) FROM lavoratore WHERE codice_fiscale <> ?)`,
		changed.UTC().Format("2006-01-02 15:04:05"), gen.Planted[0].CF)
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	// The first run that reads the SIL after the change sends that worker. A run whose mark
	// falls within a second of the change sends it again (the SIL keeps change times to the
	// second, so the mark is moved back one: sent twice rather than lost). So wait for a run
	// that starts well after the change; then every SAP acknowledged since the second run is
	// that worker's, at least one, and the Ministry kept each of them.
	waitFor("a run well after the change", changed.Add(1500*time.Millisecond), func(r *audit.JobRun) bool {
		return r.Outcome == audit.JobOK
	})
	var acked int64
	for _, r := range history() {
		if r.Started.After(second.Started) && r.Outcome == audit.JobOK {
			acked += r.Counts["sap.acknowledged"]
			if r.Counts["sap.rejected"] != 0 {
				t.Errorf("run %+v after the change rejected a record", r)
			}
		}
	}
	if acked < 1 {
		t.Errorf("no run after the change sent the changed worker")
	}
	docs, records, _, err := ministero.Data.Kept.Kept(ctx, labour.ByWhat(labour.WhatSAP).Name)
	if err != nil || int64(docs) != 3+acked || records != 3 {
		t.Errorf("the Ministry kept %d SAPs of %d workers (%v), want %d of 3", docs, records, err, 3+acked)
	}
	// The planted record is in porta failures, as by hand.
	var out, errb bytes.Buffer
	if code := run([]string{"failures", "list", "--config", cfg, "--json"}, nil, &out, &errb); code != 0 {
		t.Fatalf("failures list: %s", errb.String())
	}
	var fails []merge.Failure
	json.Unmarshal(out.Bytes(), &fails)
	if len(fails) != 1 || fails[0].Key != gen.Planted[0].CF {
		t.Errorf("failures %+v, want the planted %s", fails, gen.Planted[0].CF)
	}
	// The failing job is in the history and the metrics; the gateway serves on.
	out.Reset()
	if code := run([]string{"jobs", "history", "--config", cfg, "--job", "retry-missing"}, nil, &out, &errb); code != 0 ||
		!strings.Contains(out.String(), "failed") || !strings.Contains(out.String(), "not every ID given is an open failure") {
		t.Errorf("history of the failing job: %s %s", out.String(), errb.String())
	}
	out.Reset()
	if code := run([]string{"jobs", "list", "--config", cfg}, nil, &out, &errb); code != 0 || !strings.Contains(out.String(), "retry-missing") {
		t.Errorf("jobs list: %s %s", out.String(), errb.String())
	}
	admin := regexp.MustCompile(`listener=admin addr=(\S+)`).FindStringSubmatch(logs.String())
	if admin == nil {
		t.Fatalf("no admin address in:\n%s", logs.String())
	}
	resp, err := http.Get("http://" + admin[1] + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, re := range []string{
		`porta_job_last_success_timestamp_seconds\{job="sap"\} 1\.[0-9.e+]+\n`,
		`porta_job_failures_total\{job="sap"\} 0\n`,
		`porta_job_failures_total\{job="retry-missing"\} [1-9][0-9]*\n`,
		`porta_job_last_success_timestamp_seconds\{job="retry-missing"\} 0\n`,
	} {
		if !regexp.MustCompile(re).Match(metrics) {
			t.Errorf("/metrics has no %s:\n%s", re, metrics)
		}
	}

	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	stopped = true
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("serve exited with %d:\n%s", code, logs.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop on SIGTERM")
	}
	for _, r := range history() {
		if r.Outcome == audit.JobRunning {
			t.Errorf("run %d still running after serve stopped", r.ID)
		}
	}
}

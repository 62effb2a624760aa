package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"porta/audit"
	"porta/gateway/node"
	"porta/internal/rfc3161/tsatest"
	"porta/registry"
)

// archiveGateway is a gateway made by porta init whose trail holds records recorded 100 days,
// 40 days and a minute ago, with trace.retention 30d in porta.yaml (and tsa set when given).
func archiveGateway(t *testing.T, tsa string) (cfgPath string, cfg *node.Config) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "prov")
	if code, _, errOut := runTrace("init", "--party", "Provincia", "--dir", dir, "--alg", "ecdsa-p256"); code != 0 {
		t.Fatalf("porta init = %d: %s", code, errOut)
	}
	cfgPath = filepath.Join(dir, "porta.yaml")
	y, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	extra := "\n  retention: 30d\n  sign_every: 1h"
	if tsa != "" {
		extra += "\n  tsa: " + tsa
	}
	y = []byte(strings.Replace(string(y), "\ntrace:\n  body: full", "\ntrace:\n  body: full"+extra, 1))
	if err := os.WriteFile(cfgPath, y, 0o644); err != nil {
		t.Fatal(err)
	}
	if cfg, err = node.LoadConfig(cfgPath); err != nil {
		t.Fatal(err)
	}
	s, err := audit.Open(context.Background(), cfg.Store, audit.Options{Node: cfg.Node})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now()
	for n, age := range []time.Duration{100 * 24 * time.Hour, 100 * 24 * time.Hour, 40 * 24 * time.Hour, time.Minute} {
		id := traceID(n + 1)
		r := &audit.Record{ID: id, Transaction: fmt.Sprint("tx", n), Direction: audit.In, Outcome: "received",
			Sender: "Ministero", Receiver: "Provincia", Service: "SchedaLavoratore", Recorded: now.Add(-age),
			Raw: []byte(fmt.Sprintf(traceEnvelope, fmt.Sprintf(traceHeader, id)))}
		if err := s.Append(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	return cfgPath, cfg
}

func TestTraceArchiveCommand(t *testing.T) {
	cfgPath, cfg := archiveGateway(t, "")
	out := filepath.Join(t.TempDir(), "a.tar.gz")
	code, stdout, errOut := runTrace("trace", "archive", "--config", cfgPath, "--older-than", "50d", "--out", out)
	if code != 0 || !strings.Contains(stdout, "archived records 1 to 2 of node "+cfg.Node) {
		t.Fatalf("trace archive = %d\n%s%s", code, stdout, errOut)
	}
	code, stdout, errOut = runTrace("trace", "archive", "verify", "--config", cfgPath, out)
	if code != 0 || !strings.Contains(stdout, "OK: "+out+": records 1 to 2") {
		t.Fatalf("trace archive verify = %d\n%s%s", code, stdout, errOut)
	}
	code, stdout, errOut = runTrace("trace", "verify", "--config", cfgPath)
	if code != 0 || !strings.Contains(stdout, "OK: 2 records") || !strings.Contains(stdout, fmt.Sprintf("base %s:2:", cfg.Node)) {
		t.Fatalf("trace verify after the cut = %d\n%s%s", code, stdout, errOut)
	}
	// The 40-day-old record stays, its body purged by trace.retention; the recent one is whole.
	s, err := audit.Open(context.Background(), cfg.Store, audit.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for seq, purged := range map[int64]bool{3: true, 4: false} {
		r, err := s.Get(context.Background(), cfg.Node, seq)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.Purged.IsZero() == false && len(r.Raw) == 0; got != purged {
			t.Errorf("record %d purged %v, want %v", seq, got, purged)
		}
	}
	if code, stdout, errOut := runTrace("trace", "show", "--config", cfgPath, traceID(3)); code != 0 || !strings.Contains(stdout, "Body purged") || strings.Contains(stdout, "RSSMRA80A01H501U") {
		t.Errorf("trace show of a purged record = %d\n%s%s", code, stdout, errOut)
	}
	if code, stdout, _ := runTrace("trace", "archive", "--config", cfgPath, "--older-than", "50d", "--out", out+"2"); code != 0 || !strings.Contains(stdout, "nothing to archive") {
		t.Errorf("a second archive of the same cut = %d %s", code, stdout)
	}
	if code, _, errOut := runTrace("trace", "archive", "--config", cfgPath, "--older-than", "1d", "--out", out); code != 1 || !strings.Contains(errOut, "never overwritten") {
		t.Errorf("archive over an existing file = %d %s", code, errOut)
	}

	// A damaged archive, and one checked against another certificate, are refused.
	b, _ := os.ReadFile(out)
	bad := filepath.Join(t.TempDir(), "bad.tar.gz")
	b[len(b)/2] ^= 0xff
	os.WriteFile(bad, b, 0o644)
	if code, _, errOut := runTrace("trace", "archive", "verify", bad); code != 1 || !strings.Contains(errOut, "BROKEN") {
		t.Errorf("damaged archive: %d %s", code, errOut)
	}
	other, _ := archiveGateway(t, "")
	if code, _, errOut := runTrace("trace", "archive", "verify", "--config", other, out); code != 1 || !strings.Contains(errOut, "not by a certificate given") {
		t.Errorf("archive checked against another node's certificate: %d %s", code, errOut)
	}
}

// TestServeSignsChainHead runs porta serve's upkeep of the trail with a local TSA: the head is
// signed and timestamped, and a cut tail with a rewritten chain_head is then caught by porta
// trace verify.
func TestServeSignsChainHead(t *testing.T) {
	tsa, _ := tsatest.Start(t)
	cfgPath, cfg := archiveGateway(t, tsa)
	reg, err := registry.Load(cfg.Registry, registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := audit.Open(context.Background(), cfg.Store, audit.Options{Node: cfg.Node})
	if err != nil {
		t.Fatal(err)
	}
	keep, err := trailKeeper(&node.Opened{Config: cfg, Registry: reg, Audit: s}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // sign at start, then at shutdown
	keep(ctx)
	heads, err := s.SignedHeads(context.Background(), cfg.Node, 0)
	s.Close()
	if err != nil || len(heads) != 1 || heads[0].Seq != 4 || len(heads[0].Timestamp) == 0 {
		t.Fatalf("signed heads %+v, %v; want record 4, timestamped", heads, err)
	}
	code, stdout, errOut := runTrace("trace", "verify", "--config", cfgPath)
	if code != 0 || !strings.Contains(stdout, fmt.Sprintf("signed head %s:4:", cfg.Node)) || !strings.Contains(stdout, "timestamped") {
		t.Fatalf("trace verify = %d\n%s%s", code, stdout, errOut)
	}

	s, err = audit.Open(context.Background(), cfg.Store, audit.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	db := s.DB()
	if _, err := db.Exec(`DELETE FROM trace WHERE seq = 4`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE chain_head SET seq = 3, hash = (SELECT hash FROM trace WHERE seq = 3)`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	code, _, errOut = runTrace("trace", "verify", "--config", cfgPath)
	if code != 1 || !strings.Contains(errOut, "truncated") || !strings.Contains(errOut, "signed at") {
		t.Errorf("cut tail, rewritten head: trace verify = %d %s", code, errOut)
	}
}

// TestTraceArchiveJob: porta serve's job runs what the command line runs, given --config only.
func TestTraceArchiveJob(t *testing.T) {
	if err := checkJob([]string{"trace", "archive", "--older-than", "50d", "--out", "a.tar.gz"}); err == nil || !strings.Contains(err.Error(), "--dir") {
		t.Errorf("a job with --out: %v; want it told to use --dir", err)
	}
	_, cfg := archiveGateway(t, "")
	dir := t.TempDir()
	cfg.Jobs = []node.JobConfig{{Name: "archive", Run: []string{"trace", "archive", "--older-than", "50d", "--dir", dir}}}
	if err := checkJob(cfg.Jobs[0].Run); err != nil {
		t.Fatal(err)
	}
	js, err := scheduledJobs(cfg, new(atomic.Value))
	if err != nil {
		t.Fatal(err)
	}
	counts, err := js[0].Run(context.Background(), time.Time{})
	if err != nil || counts["archived"] != 2 || counts["purged"] != 3 {
		t.Fatalf("job run = %v, %v; want 2 archived, 3 purged (the archived ones too: no body leaves past its retention)", counts, err)
	}
	if _, err := os.Stat(filepath.Join(dir, cfg.Node+"-1-2.tar.gz")); err != nil {
		t.Error(err)
	}
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"porta/adapters/flows"
	"porta/adapters/labour"
	"porta/adapters/merge"
	"porta/adapters/sil"
	"porta/internal/pdclient/pdtest"
	"porta/xsd"
)

type silSetup struct {
	pd       *pdtest.PD
	gen      *sil.Generated
	province string
	workers  []*sil.Worker
}

func newSILSetup(t *testing.T, n int) *silSetup {
	t.Helper()
	set, err := xsd.Open()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { set.Close() })
	dir := t.TempDir()
	gen, err := sil.Generate(context.Background(), filepath.Join(dir, "sil"), sil.GenOptions{Workers: n, Seed: 3, BadCheck: 1,
		Now: time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := sil.LoadConfig(gen.Config)
	if err != nil {
		t.Fatal(err)
	}
	src, err := sil.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ws, _, err := src.ChangedSince(context.Background(), time.Time{})
	src.Close()
	if err != nil {
		t.Fatal(err)
	}
	return &silSetup{pd: pdtest.New(t, set), gen: gen, province: filepath.Join(dir, "provincia.db"), workers: ws}
}

func (s *silSetup) run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func (s *silSetup) common() []string {
	return []string{"--pd", s.pd.URL(), "--consumer", pdtest.Consumer, "--app", pdtest.User + ":" + pdtest.Password,
		"--sil", s.gen.Config, "--province", s.province}
}

func TestSILSendFailuresListRetry(t *testing.T) {
	s := newSILSetup(t, 5)
	var good *sil.Worker
	for _, w := range s.workers {
		if w.ID != s.gen.Planted[0].SILID {
			good = w
			break
		}
	}
	s.pd.Lock()
	s.pd.Refuse["invioEuropass"] = map[string]string{good.Nome + " " + good.Cognome: "EGOV_IT_003: payload refused"}
	s.pd.Unlock()

	args := append([]string{"sil", "send", "--since", "2000-01-01T00:00:00Z", "--what", "sap,europass,candidatura", "--json",
		"--intermediary", "12345678903:Provincia - Servizio Lavoro:08:lavoro@example.it"}, s.common()...)
	code, out, errs := s.run(t, args...)
	if code != 0 {
		t.Fatalf("sil send: exit %d\n%s\n%s", code, out, errs)
	}
	var got struct{ Flows []flows.Summary }
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("sil send --json: %v\n%s", err, out)
	}
	if len(got.Flows) != 3 {
		t.Fatalf("flows %+v", got.Flows)
	}
	n := len(s.workers)
	for _, f := range got.Flows {
		wantAck, wantRej := n-1, 1
		if f.What == labour.WhatEuropass {
			wantAck, wantRej = n-2, 2
		}
		if f.Acknowledged != wantAck || f.Rejected != wantRej {
			t.Errorf("%s: acknowledged %d rejected %d, want %d %d", f.What, f.Acknowledged, f.Rejected, wantAck, wantRej)
		}
	}
	if a := len(s.pd.Got("invioSAP")); a != n-1 {
		t.Errorf("%d SAPs reached the PD, want %d", a, n-1)
	}

	code, out, errs = s.run(t, "failures", "list", "--json", "--province", s.province)
	if code != 0 {
		t.Fatalf("failures list: %d %s", code, errs)
	}
	var list []merge.Failure
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 4 {
		t.Fatalf("%d failures, want 4 (the planted record under 3 kinds, the refused CV): %s", len(list), out)
	}
	var cvID string
	for _, f := range list {
		if f.Kind == labour.WhatEuropass && f.Key == good.CodiceFiscale {
			cvID = strconv.FormatInt(f.ID, 10)
		} else if f.Field != "codice_fiscale" || !strings.Contains(f.Rule, "check") {
			t.Errorf("failure %+v: want the planted codice fiscale's check character", f)
		}
	}
	if cvID == "" {
		t.Fatalf("the refused CV is not listed: %s", out)
	}
	code, out, _ = s.run(t, "failures", "list", "--province", s.province)
	if code != 0 || !strings.Contains(out, "EGOV_IT_003") || !strings.Contains(out, "RULE") {
		t.Errorf("failures list (table): %d\n%s", code, out)
	}

	// The PD still refuses it: the retry is rejected again; then it accepts it.
	retry := append(append([]string{"failures", "retry", "--json"}, s.common()...), cvID)
	code, out, errs = s.run(t, retry...)
	if code != 0 || !strings.Contains(out, `"rejected"`) {
		t.Fatalf("retry while refused: %d\n%s\n%s", code, out, errs)
	}
	s.pd.Lock()
	delete(s.pd.Refuse, "invioEuropass")
	s.pd.Unlock()
	code, out, errs = s.run(t, retry...)
	if code != 0 || !strings.Contains(out, `"sent"`) {
		t.Fatalf("retry: %d\n%s\n%s", code, out, errs)
	}
	code, out, _ = s.run(t, "failures", "list", "--json", "--province", s.province)
	list = nil
	json.Unmarshal([]byte(out), &list)
	if code != 0 || len(list) != 3 {
		t.Errorf("after the retry %d open failures, want 3: %s", len(list), out)
	}
	if a := len(s.pd.Got("invioEuropass")); a != n-1 {
		t.Errorf("%d CVs reached the PD in all, want %d", a, n-1)
	}
}

func TestSILSendUsage(t *testing.T) {
	s := newSILSetup(t, 1)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"sil", "send", "--pd", "http://x"}, 2, "exactly one of --worker"},
		{[]string{"sil", "send", "--since", "yesterday"}, 2, "RFC 3339"},
		{[]string{"sil", "send", "--worker", "X", "--what", "sap", "--consumer", "P", "--app", "a:b"}, 2, "no Porta Delegata"},
		// A document's builder without its flags is a usage error, found before anything runs.
		{append([]string{"sil", "send", "--worker", "X", "--what", "did"}, s.common()...), 2, "--operator"},
		{append([]string{"sil", "send", "--worker", "X", "--what", "nope"}, s.common()...), 2, "want some of"},
		{[]string{"failures", "retry", "abc"}, 2, "not a failure ID"},
		{[]string{"failures", "list", "--status", "maybe"}, 2, "open, resolved or all"},
	} {
		code, _, errs := s.run(t, tc.args...)
		if code != tc.code || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d, %q; want %d and %q", tc.args, code, errs, tc.code, tc.want)
		}
	}
}

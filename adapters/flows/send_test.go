package flows

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/mattn/go-sqlite3"

	"porta/adapters/candidatura"
	"porta/adapters/did"
	"porta/adapters/labour"
	"porta/adapters/merge"
	"porta/adapters/sil"
	"porta/internal/pdclient"
	"porta/internal/pdclient/pdtest"
	"porta/xsd"
)

var now = time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)

type fixture struct {
	set     *xsd.Set
	pd      *pdtest.PD
	src     *sil.Source
	gen     *sil.Generated
	store   *merge.Store
	db      *sqlx.DB
	sender  *Sender
	workers []*sil.Worker
	bad     []*sil.RecordError
}

func newFixture(t testing.TB, n int) *fixture {
	t.Helper()
	ctx := context.Background()
	set, err := xsd.Open()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { set.Close() })
	dir := t.TempDir()
	gen, err := sil.Generate(ctx, filepath.Join(dir, "sil"), sil.GenOptions{Workers: n, Seed: 7, Now: now, BadCheck: 1})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := sil.LoadConfig(gen.Config)
	if err != nil {
		t.Fatal(err)
	}
	src, err := sil.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	db, err := sqlx.Open("sqlite3", "file:"+filepath.Join(dir, "provincia.db")+"?_foreign_keys=on&_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	store, err := merge.Open(ctx, db, merge.Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	ws, bad, err := src.ChangedSince(ctx, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	pd := pdtest.New(t, set)
	clock := func() time.Time { return now }
	s := &Sender{
		PD:    &pdclient.PD{URL: pd.URL(), Consumer: pdtest.Consumer, User: pdtest.User, Password: pdtest.Password, Timeout: 10 * time.Second},
		Store: store, DB: db,
		Options: labour.Options{Validator: set, Now: clock, Validity: 60 * 24 * time.Hour,
			Intermediary: candidatura.Intermediary{CodiceFiscale: "12345678903", Denominazione: "Provincia - Servizio Lavoro", Regione: "08", Email: "lavoro@example.it"},
			Operator:     did.Operator{GUID: "op-0001", CodiceFiscale: "RSSMRA77L18H501W"}},
		Now: clock,
	}
	return &fixture{set: set, pd: pd, src: src, gen: gen, store: store, db: db, sender: s, workers: ws, bad: bad}
}

func key(what string, w *sil.Worker) string {
	if what == labour.WhatEuropass {
		return w.Nome + " " + w.Cognome
	}
	return w.CodiceFiscale
}

func TestSendRejectsAloneAndRetries(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 8)
	if len(f.gen.Planted) != 1 {
		t.Fatalf("planted %+v, want one bad codice fiscale", f.gen.Planted)
	}
	planted := f.gen.Planted[0]
	var good []*sil.Worker
	for _, w := range f.workers {
		if w.ID != planted.SILID {
			good = append(good, w)
		}
	}
	refused, ko := good[0], good[1]
	f.pd.Refuse["invioCandidatura"] = map[string]string{refused.CodiceFiscale: "EGOV_IT_003: payload refused"}
	f.pd.KO[ko.CodiceFiscale] = true

	sums, err := f.sender.Send(ctx, f.workers, f.bad, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(sums) != 4 {
		t.Fatalf("%d summaries, want 4", len(sums))
	}
	byWhat := map[string]Summary{}
	for _, s := range sums {
		byWhat[s.What] = s
	}
	// Every kind rejects the planted record before sending it, with the codice fiscale rule.
	for _, what := range []string{labour.WhatSAP, labour.WhatCandidatura, labour.WhatEuropass} {
		s := byWhat[what]
		found := false
		for _, r := range s.Rejections {
			if r.SILID == planted.SILID {
				found = true
				if !strings.Contains(r.Rule, "codice") && !strings.Contains(r.Field, "codice_fiscale") {
					t.Errorf("%s: planted record rejected with field %q rule %q, want the codice fiscale", what, r.Field, r.Rule)
				}
			}
		}
		if !found {
			t.Errorf("%s: the planted record %s was not rejected: %+v", what, planted.SILID, s.Rejections)
		}
	}
	want := map[string]struct{ sent, ack, rej int }{
		labour.WhatSAP:         {len(good), len(good) - 1, 2},
		labour.WhatCandidatura: {len(good), len(good) - 1, 2},
		labour.WhatEuropass:    {len(good), len(good), 1},
	}
	for what, w := range want {
		s := byWhat[what]
		if s.Sent != w.sent || s.Acknowledged != w.ack || s.Rejected != w.rej {
			t.Errorf("%s: sent %d acknowledged %d rejected %d, want %d %d %d (%+v)", what, s.Sent, s.Acknowledged, s.Rejected, w.sent, w.ack, w.rej, s.Rejections)
		}
	}
	d := byWhat[labour.WhatDID]
	if d.Skipped == 0 || d.Sent+d.Skipped+d.Rejected != len(f.workers) || d.Acknowledged != d.Sent {
		t.Errorf("did: %+v over %d workers", d, len(f.workers))
	}
	// What arrived: each accepted record once, none of the rejected ones.
	for what, action := range map[string]string{labour.WhatSAP: "invioSAP", labour.WhatCandidatura: "invioCandidatura", labour.WhatEuropass: "invioEuropass"} {
		got := f.pd.Got(action)
		seen := map[string]int{}
		for _, k := range got {
			seen[k]++
		}
		for _, w := range good {
			n := seen[key(what, w)]
			wantN := 1
			if what == labour.WhatCandidatura && w == refused {
				wantN = 0
			}
			if n != wantN {
				t.Errorf("%s: %s arrived %d times, want %d", what, key(what, w), n, wantN)
			}
		}
	}

	// The failures table holds each rejection once, open.
	open, err := f.store.Failures(ctx, merge.FailureOpen)
	if err != nil {
		t.Fatal(err)
	}
	if len(open) != 2+2+1+byWhat[labour.WhatDID].Rejected {
		t.Fatalf("%d open failures, want %d: %+v", len(open), 5+byWhat[labour.WhatDID].Rejected, open)
	}

	// Re-send the refused candidature once the PD accepts it; the KO SAP is refused again.
	delete(f.pd.Refuse, "invioCandidatura")
	for _, fl := range open {
		if fl.Key == refused.CodiceFiscale && fl.Kind == labour.WhatCandidatura {
			s, err := f.sender.Retry(ctx, f.src, fl)
			if err != nil || s.Acknowledged != 1 {
				t.Fatalf("retry candidatura: %+v, %v", s, err)
			}
		}
		if fl.Key == ko.CodiceFiscale && fl.Kind == labour.WhatSAP {
			s, err := f.sender.Retry(ctx, f.src, fl)
			if err != nil || s.Rejected != 1 {
				t.Fatalf("retry KO SAP: %+v, %v", s, err)
			}
		}
	}
	after, _ := f.store.Failures(ctx, merge.FailureOpen)
	if len(after) != len(open)-1 {
		t.Errorf("%d open failures after the retries, want %d", len(after), len(open)-1)
	}
	for _, fl := range after {
		if fl.Kind == labour.WhatSAP && fl.Key == ko.CodiceFiscale && fl.Attempts != 2 {
			t.Errorf("KO SAP failure has %d attempts, want 2", fl.Attempts)
		}
		if fl.Kind == labour.WhatCandidatura && fl.Key == refused.CodiceFiscale {
			t.Errorf("the re-sent candidature is still open")
		}
	}
	if n := len(f.pd.Got("invioCandidatura")); n != len(good) {
		t.Errorf("%d candidatures arrived in all, want %d", n, len(good))
	}
}

func TestSendStopsOnFaultsThatAreNotTheRecords(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		setup func(f *fixture)
	}{
		{"authentication", func(f *fixture) { f.sender.PD.Password = "wrong" }},
		{"server fault", func(f *fixture) { f.pd.Down = true }},
		{"unknown service", func(f *fixture) {
			f.sender.Routes = map[string]pdclient.Route{labour.WhatEuropass: {Provider: "Europass", Service: "Nope", Action: "invioEuropass"}}
			f.pd.Refuse["invioEuropass"] = map[string]string{}
			for _, w := range f.workers {
				f.pd.Refuse["invioEuropass"][w.Nome+" "+w.Cognome] = `service "Nope" of Europass is not in the registry`
			}
		}},
		{"network", func(f *fixture) { f.pd.Srv.Close() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, 3)
			tc.setup(f)
			_, err := f.sender.Send(ctx, f.workers, nil, []string{labour.WhatEuropass})
			if err == nil {
				t.Fatal("Send went on")
			}
			open, _ := f.store.Failures(ctx, merge.FailureOpen)
			for _, fl := range open {
				if !strings.Contains(fl.Rule, "codice") {
					t.Errorf("a failure that is not the record's was recorded: %+v", fl)
				}
			}
		})
	}
}

// BenchmarkSend sends every worker document of a 200-worker SIL through the PD double (which
// validates each envelope and payload with libxml2, as the real PD does), one and four records in
// flight. It reports documents/s.
func BenchmarkSend(b *testing.B) {
	f := newFixture(b, 200)
	ctx := context.Background()
	for _, c := range []int{1, 4} {
		b.Run(fmt.Sprintf("concurrency=%d", c), func(b *testing.B) {
			f.sender.Concurrency = c
			docs := 0
			for i := 0; i < b.N; i++ {
				sums, err := f.sender.Send(ctx, f.workers, nil, nil)
				if err != nil {
					b.Fatal(err)
				}
				for _, s := range sums {
					docs += s.Sent
				}
			}
			b.ReportMetric(float64(docs)/b.Elapsed().Seconds(), "docs/s")
		})
	}
}

// The Idempotency-Key of a document is the same when the same version of the worker's document
// is sent again (a crashed send run again), another for another version or document, and always
// a key the PD accepts.
func TestIdempotencyKeyNamesTheDocumentVersion(t *testing.T) {
	w := &sil.Worker{ID: "42", CodiceFiscale: "RSSMRA85T10A562S", UpdatedAt: time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)}
	k := IdempotencyKey("sap", w, []byte("<SAP/>"))
	if again := IdempotencyKey("sap", w, []byte("<SAP/>")); again != k {
		t.Errorf("same document: %q then %q", k, again)
	}
	newer := *w
	newer.UpdatedAt = newer.UpdatedAt.Add(time.Second)
	for name, other := range map[string]string{
		"another version":  IdempotencyKey("sap", &newer, []byte("<SAP/>")),
		"another document": IdempotencyKey("sap", w, []byte("<SAP v='2'/>")),
		"another kind":     IdempotencyKey("did", w, []byte("<SAP/>")),
	} {
		if other == k {
			t.Errorf("%s: the same key %q", name, k)
		}
	}
	odd := &sil.Worker{ID: "x", CodiceFiscale: "RSS MRA\n85/è"}
	for _, key := range []string{k, IdempotencyKey("sap", odd, nil)} {
		for i := 0; i < len(key); i++ {
			if key[i] < 0x21 || key[i] > 0x7e || len(key) > 255 {
				t.Fatalf("key %q is not 1-255 printable ASCII characters", key)
			}
		}
	}
}

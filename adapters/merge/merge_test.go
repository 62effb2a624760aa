package merge

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/mattn/go-sqlite3"

	"porta/adapters/anagrafe"
	"porta/adapters/formazione"
	"porta/adapters/inps"
	"porta/adapters/scuola"
	"porta/xsd"
)

func d(s string) time.Time { t, _ := time.Parse(time.DateOnly, s); return t }

var (
	bologna = anagrafe.Comune{Nome: "BOLOGNA", CodiceIstat: "037006", Provincia: "BO"}
	imola   = anagrafe.Comune{Nome: "IMOLA", CodiceIstat: "037032", Provincia: "BO"}
	oldAddr = anagrafe.Address{CAP: "40121", Comune: bologna, Specie: "VIA", Denominazione: "ROMA", Numero: 3}
	newAddr = anagrafe.Address{CAP: "40026", Comune: imola, Specie: "VIA", Denominazione: "EMILIA", Numero: 12, Lettera: "B"}
	clock   = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
)

const (
	mario  = "RSSMRA77L18H501W"
	paola  = "GLLPLA80A01H501L"
	marco  = "FRRMRC70B20D969B"
	badCF  = "RSSMRA77L18H501X" // wrong check character
	nobody = "RSSMRA85T10A562S" // valid, not a worker
)

func newStore(t *testing.T) *Store {
	t.Helper()
	db, err := sqlx.Open("sqlite3", "file:"+filepath.Join(t.TempDir(), "provincia.db")+"?_foreign_keys=on")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s, err := Open(context.Background(), db, Options{Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	for _, cf := range []string{mario, paola, marco} {
		if err := s.PutWorker(context.Background(), Worker{CodiceFiscale: cf, Cognome: "C", Nome: "N", DataNascita: d("1977-07-18"), Address: oldAddr, ResidenceSince: d("2010-05-01")}); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func subject(cf string) *anagrafe.Subject {
	return &anagrafe.Subject{CodiceFiscale: cf, Cognome: "C", Nome: "N", Sesso: "M", DataNascita: d("1977-07-18"),
		Residence: &anagrafe.Residence{Address: oldAddr, Since: d("2010-05-01")}}
}

func moved(cf string) *anagrafe.Subject {
	s := subject(cf)
	s.Residence = &anagrafe.Residence{Address: newAddr, Since: d("2025-10-01")}
	return s
}

func dead(cf string) *anagrafe.Subject {
	s := subject(cf)
	s.Death = &anagrafe.Death{Date: d("2026-01-15"), Place: &bologna}
	return s
}

func emigrated(cf string) *anagrafe.Subject {
	s := subject(cf)
	s.Emigration = &anagrafe.Emigration{Since: d("2025-12-01"), StateCode: "215", StateName: "GERMANIA"}
	return s
}

func outcomes(r *Report) []Outcome {
	var out []Outcome
	for _, x := range r.Results {
		out = append(out, x.Outcome)
	}
	return out
}

func TestMergeSubjects(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		batches [][]*anagrafe.Subject // merged in turn; the last batch's outcomes are checked
		want    []Outcome
		check   func(t *testing.T, s *Store)
	}{
		{
			name:    "residence change keeps the old address with its dates",
			batches: [][]*anagrafe.Subject{{moved(mario)}},
			want:    []Outcome{Merged},
			check: func(t *testing.T, s *Store) {
				w, _ := s.Worker(ctx, mario)
				if w.Address != newAddr || !w.ResidenceSince.Equal(d("2025-10-01")) || w.Status != Active {
					t.Errorf("worker %+v", w)
				}
				h, _ := s.AddressHistory(ctx, mario)
				if len(h) != 1 || h[0].Address != oldAddr || !h[0].From.Equal(d("2010-05-01")) || !h[0].To.Equal(d("2025-10-01")) {
					t.Errorf("history %+v", h)
				}
				log, _ := s.Log(ctx, mario)
				if len(log) != 1 || !strings.Contains(log[0].Before, "ROMA") || !strings.Contains(log[0].After, "EMILIA") || log[0].Source != "comune-imola" {
					t.Errorf("log %+v", log)
				}
			},
		},
		{
			name:    "death closes the record",
			batches: [][]*anagrafe.Subject{{dead(paola)}},
			want:    []Outcome{Merged},
			check: func(t *testing.T, s *Store) {
				w, _ := s.Worker(ctx, paola)
				if w.Status != Deceased || !w.ClosedOn.Equal(d("2026-01-15")) || w.Address != oldAddr {
					t.Errorf("worker %+v", w)
				}
			},
		},
		{
			name:    "emigration closes the record",
			batches: [][]*anagrafe.Subject{{emigrated(marco)}},
			want:    []Outcome{Merged},
			check: func(t *testing.T, s *Store) {
				w, _ := s.Worker(ctx, marco)
				if w.Status != Emigrated || !w.ClosedOn.Equal(d("2025-12-01")) || !strings.Contains(w.ClosedReason, "GERMANIA") {
					t.Errorf("worker %+v", w)
				}
			},
		},
		{
			name:    "death after emigration wins",
			batches: [][]*anagrafe.Subject{{emigrated(marco)}, {func() *anagrafe.Subject { x := dead(marco); x.Emigration = emigrated(marco).Emigration; return x }()}},
			want:    []Outcome{Merged},
			check: func(t *testing.T, s *Store) {
				if w, _ := s.Worker(ctx, marco); w.Status != Deceased {
					t.Errorf("worker %+v", w)
				}
			},
		},
		{
			name:    "same record twice is unchanged",
			batches: [][]*anagrafe.Subject{{moved(mario), dead(paola), emigrated(marco)}, {moved(mario), dead(paola), emigrated(marco)}},
			want:    []Outcome{Unchanged, Unchanged, Unchanged},
			check: func(t *testing.T, s *Store) {
				if log, _ := s.Log(ctx, ""); len(log) != 3 {
					t.Errorf("%d log entries, want 3", len(log))
				}
				if h, _ := s.AddressHistory(ctx, mario); len(h) != 1 {
					t.Errorf("history %+v", h)
				}
			},
		},
		{
			name:    "nothing new is unchanged",
			batches: [][]*anagrafe.Subject{{subject(mario)}},
			want:    []Outcome{Unchanged},
		},
		{
			name:    "an older residence does not overwrite a newer one",
			batches: [][]*anagrafe.Subject{{moved(mario)}, {subject(mario)}},
			want:    []Outcome{Unchanged},
			check: func(t *testing.T, s *Store) {
				if w, _ := s.Worker(ctx, mario); w.Address != newAddr {
					t.Errorf("worker %+v", w)
				}
			},
		},
		{
			name:    "invalid codice fiscale is rejected alone",
			batches: [][]*anagrafe.Subject{{moved(mario), subject(badCF), dead(paola)}},
			want:    []Outcome{Merged, Rejected, Merged},
			check: func(t *testing.T, s *Store) {
				f, _ := s.Failures(ctx, FailureOpen)
				if len(f) != 1 || f[0].Key != badCF || f[0].Field != "generalita/codiceFiscale" || !strings.Contains(f[0].Rule, "check character") || f[0].Source != "comune-imola" || !strings.Contains(f[0].Payload, badCF) {
					t.Errorf("failures %+v", f)
				}
			},
		},
		{
			name:    "a subject who is not a worker is rejected",
			batches: [][]*anagrafe.Subject{{moved(nobody)}},
			want:    []Outcome{Rejected},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			var rep *Report
			var err error
			for _, b := range tc.batches {
				if rep, err = s.MergeSubjects(ctx, "comune-imola", b); err != nil {
					t.Fatal(err)
				}
			}
			got := outcomes(rep)
			if strings.Join(toStrings(got), ",") != strings.Join(toStrings(tc.want), ",") {
				t.Fatalf("outcomes %v, want %v (%+v)", got, tc.want, rep.Results)
			}
			for _, r := range rep.Results {
				if r.Outcome == Rejected {
					var re *RecordError
					if !errors.As(r.Err, &re) || re.Record == "" || re.Field == "" || re.Rule == "" {
						t.Errorf("rejection must name record, field and rule: %v", r.Err)
					}
				}
			}
			if tc.check != nil {
				tc.check(t, s)
			}
		})
	}
}

func toStrings(o []Outcome) []string {
	out := make([]string, len(o))
	for i, x := range o {
		out[i] = string(x)
	}
	return out
}

func pupil(cf string, born string, stato scuola.Stato, ev string) scuola.Pupil {
	return scuola.Pupil{CodiceFiscale: cf, Cognome: "C", Nome: "N", DataNascita: d(born), ClasseAnno: 3, ClasseSezione: "A", Stato: stato, Momento: scuola.Interruzione, DataEvento: d(ev)}
}

func TestMergePupils(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name   string
		pupils []scuola.Pupil
		twice  bool
		want   []Outcome
		flags  int
	}{
		{"interrupted under 18 is flagged", []scuola.Pupil{pupil("VRDLGU08C12A944E", "2008-03-12", scuola.Interrotto, "2026-01-20")}, false, []Outcome{Merged}, 1},
		{"withdrawn under 18 is flagged", []scuola.Pupil{pupil("BNCGLI09E55A944D", "2009-05-15", scuola.Ritirato, "2025-11-10")}, false, []Outcome{Merged}, 1},
		{"drop-out at 18 is not flagged", []scuola.Pupil{pupil("BRNSRA06M60L736L", "2006-08-20", scuola.Interrotto, "2025-11-10")}, false, []Outcome{Unchanged}, 0},
		{"drop-out on the 18th birthday is not flagged", []scuola.Pupil{pupil("VRDLGU08C12A944E", "2008-03-12", scuola.Interrotto, "2026-03-12")}, false, []Outcome{Unchanged}, 0},
		{"transfer is not a drop-out", []scuola.Pupil{pupil("VRDLGU08C12A944E", "2008-03-12", scuola.Trasferito, "2026-01-20")}, false, []Outcome{Unchanged}, 0},
		{"re-merge is unchanged", []scuola.Pupil{pupil("VRDLGU08C12A944E", "2008-03-12", scuola.Interrotto, "2026-01-20")}, true, []Outcome{Unchanged}, 1},
		{"invalid codice fiscale rejected alone", []scuola.Pupil{
			pupil("VRDLGU08C12A944X", "2008-03-12", scuola.Interrotto, "2026-01-20"),
			pupil("BNCGLI09E55A944D", "2009-05-15", scuola.Ritirato, "2025-11-10"),
		}, false, []Outcome{Rejected, Merged}, 1},
		{"unknown state rejected", []scuola.Pupil{pupil("BNCGLI09E55A944D", "2009-05-15", "sparito", "2025-11-10")}, false, []Outcome{Rejected}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			rep, err := s.MergePupils(ctx, "BOIS00100X", "BOIS00100X", "2025/2026", tc.pupils)
			if err == nil && tc.twice {
				rep, err = s.MergePupils(ctx, "BOIS00100X", "BOIS00100X", "2025/2026", tc.pupils)
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := outcomes(rep); strings.Join(toStrings(got), ",") != strings.Join(toStrings(tc.want), ",") {
				t.Fatalf("outcomes %v, want %v (%+v)", got, tc.want, rep.Results)
			}
			flags, _ := s.OrientationFlags(ctx)
			if len(flags) != tc.flags {
				t.Fatalf("%d flags, want %d: %+v", len(flags), tc.flags, flags)
			}
			if log, _ := s.Log(ctx, ""); len(log) != tc.flags {
				t.Errorf("%d log entries for %d flags", len(log), tc.flags)
			}
		})
	}
}

func recipient(cf, domanda string) inps.Recipient {
	return inps.Recipient{CodiceFiscale: cf, Cognome: "C", Nome: "N", DataNascita: d("1977-07-18"),
		Company: inps.Company{CodiceFiscale: "02112345679", Matricola: "3700012345", RagioneSociale: "OFFICINE RENO SPA", Comune: "A944"},
		Benefit: inps.CIGS, NumeroDomanda: domanda, DataInizio: d("2026-01-12"), Importo: "1012.35"}
}

func TestMergeINPS(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	badCompany := recipient(paola, "D3")
	badCompany.Company.CodiceFiscale = "02112345670"
	l := &inps.List{ID: "L1", Date: d("2026-03-01"), Recipients: []inps.Recipient{recipient(mario, "D1"), recipient(nobody, "D2"), badCompany, recipient(badCF, "D4")}}
	rep, err := s.MergeINPS(ctx, "INPS", l)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(toStrings(outcomes(rep)), ","); got != "merged,merged,rejected,rejected" {
		t.Fatalf("outcomes %s (%+v)", got, rep.Results)
	}
	matched, _ := s.INPSEntries(ctx, INPSMatched)
	queued, _ := s.INPSEntries(ctx, INPSQueued)
	if len(matched) != 1 || matched[0].CodiceFiscale != mario || len(queued) != 1 || queued[0].CodiceFiscale != nobody || matched[0].Importo != "1012.35" {
		t.Fatalf("matched %+v queued %+v", matched, queued)
	}
	var re *RecordError
	if !errors.As(rep.Results[2].Err, &re) || re.Field != "Percettore/Azienda/CodiceFiscaleAzienda" {
		t.Errorf("company rejection %v", rep.Results[2].Err)
	}
	// the same list again: nothing changes, and the failures do not pile up
	rep, err = s.MergeINPS(ctx, "INPS", l)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(toStrings(outcomes(rep)), ","); got != "unchanged,unchanged,rejected,rejected" {
		t.Fatalf("re-merge outcomes %s", got)
	}
	if f, _ := s.Failures(ctx, FailureOpen); len(f) != 2 || f[0].Attempts != 2 {
		t.Fatalf("failures %+v", f)
	}
	// a changed entry is updated
	changed := recipient(mario, "D1")
	changed.DataFine = d("2026-12-31")
	rep, _ = s.MergeINPS(ctx, "INPS", &inps.List{ID: "L2", Recipients: []inps.Recipient{changed}})
	if rep.Results[0].Outcome != Merged {
		t.Fatalf("update: %+v", rep.Results)
	}
	// ReceiveINPS is the inps.Sink
	var _ inps.Sink = s
}

// TestINPSListWithBadWorkers: a list as INPS sends it, with a bad worker of every kind among
// good ones, goes through the receiver: each bad worker is rejected alone, naming its record,
// field and rule, and kept in the failures table; the good ones are merged.
func TestINPSListWithBadWorkers(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	bad := func(domanda string, f func(r *inps.Recipient)) inps.Recipient {
		r := recipient(mario, domanda)
		f(&r)
		return r
	}
	l := &inps.List{ID: "ELENCO-7", Date: d("2026-03-01"), Sede: "1300", Provincia: "BO", Recipients: []inps.Recipient{
		recipient(mario, "D1"),
		bad("D2", func(r *inps.Recipient) { r.CodiceFiscale = "RSSMRA77L18H50" }),
		bad("D3", func(r *inps.Recipient) { r.CodiceFiscale = badCF }),
		bad("D4", func(r *inps.Recipient) { r.Cognome = "" }),
		bad("D5", func(r *inps.Recipient) { r.Importo = "12,50" }),
		bad("D6", func(r *inps.Recipient) { r.Benefit = "CIGX" }),
		bad("D7", func(r *inps.Recipient) { r.Company.Comune = "BOLOGNA" }),
		bad("D8", func(r *inps.Recipient) { r.DataFine = d("2025-12-31") }),
		bad("D9", func(r *inps.Recipient) { r.DataNascita = d("1977-07-17") }), // its date is made unreadable below
		bad("", func(r *inps.Recipient) { r.CodiceFiscale = "" }),
		recipient(marco, "D11"),
	}}
	doc, err := inps.Build(l)
	if err != nil {
		t.Fatal(err)
	}
	doc = bytes.Replace(doc, []byte("<DataNascita>1977-07-17</DataNascita>"), []byte("<DataNascita>17/07/1977</DataNascita>"), 1)
	set, err := xsd.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	if err := set.Validate("labour/inps.xsd", doc); err != nil {
		t.Fatalf("the gateway's payload check would refuse the whole list: %v", err)
	}
	h := &inps.Receiver{Source: "INPS", Sink: s}
	if _, err := h.Handle(ctx, doc); err != nil {
		t.Fatalf("a list with bad workers must be taken: %v", err)
	}
	want := []struct{ key, field, rule string }{
		{"RSSMRA77L18H50/D2", "Percettore/CodiceFiscale", "codice fiscale: length"},
		{badCF + "/D3", "Percettore/CodiceFiscale", "codice fiscale: check character"},
		{mario + "/D4", "Percettore/Cognome", "required"},
		{mario + "/D5", "Percettore/Prestazione/ImportoMensile", "decimal with at most 2 digits"},
		{mario + "/D6", "Percettore/Prestazione/TipoPrestazione", "CIGO|CIGS|FIS|NASPI|DISCOLL"},
		{mario + "/D7", "Percettore/Azienda/ComuneSedeLavoro", "Belfiore code [A-Z][0-9]{3}"},
		{mario + "/D8", "Percettore/Prestazione/DataFinePrestazione", "DataFine >= DataInizio"},
		{mario + "/D9", "Percettore/DataNascita", "xs:date (aaaa-mm-gg)"},
		{"ELENCO-7/Percettore[10]", "Percettore/CodiceFiscale", "codice fiscale: length"},
	}
	failures, err := s.Failures(ctx, FailureOpen)
	if err != nil {
		t.Fatal(err)
	}
	if len(failures) != len(want) {
		t.Fatalf("%d failures, want %d: %+v", len(failures), len(want), failures)
	}
	for i, w := range want {
		f := failures[i]
		if f.Source != "INPS" || f.Kind != KindINPS || f.Key != w.key || f.Field != w.field || f.Rule != w.rule || f.Reason == "" {
			t.Errorf("failure %d: %s %s %s %q (%s), want %s %s %q", i+1, f.Source, f.Key, f.Field, f.Rule, f.Reason, w.key, w.field, w.rule)
		}
	}
	entries, _ := s.INPSEntries(ctx, INPSMatched)
	if len(entries) != 2 || entries[0].NumeroDomanda != "D11" || entries[1].NumeroDomanda != "D1" {
		t.Fatalf("merged %+v, want D1 and D11 only", entries)
	}
	// Re-sending a rejected worker rejects it again under the same failure, attempts counted.
	res, err := s.Resend(ctx, failures[8].ID)
	if err != nil || res.Outcome != Rejected {
		t.Fatalf("resend: %+v, %v", res, err)
	}
	if again, _ := s.Failures(ctx, FailureOpen); len(again) != len(want) || again[8].Attempts != 2 {
		t.Fatalf("after resend: %+v", again)
	}
}

func TestCatalogue(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	var _ formazione.Catalog = s
	c := formazione.Course{CodiceEnte: "A944S003140", CodiceFiscaleEnte: "80123456784", DenominazioneEnte: "CENTRO RENO", CodiceCorso: "SALD-1",
		Titolo: "Saldatore 100% pratico", SedeComune: "A944", SedeIndirizzo: "VIA EMILIA 12", DataInizio: d("2026-04-13"), DataFine: d("2026-07-31"), DurataOre: 300, Posti: 18}
	steps := []struct {
		name string
		do   func() (formazione.Outcome, error)
		want formazione.Outcome
	}{
		{"publish", func() (formazione.Outcome, error) { return s.PublishCourse(ctx, "ente", c) }, formazione.Published},
		{"publish again", func() (formazione.Outcome, error) { return s.PublishCourse(ctx, "ente", c) }, formazione.Unchanged},
		{"update", func() (formazione.Outcome, error) { c2 := c; c2.Posti = 20; return s.PublishCourse(ctx, "ente", c2) }, formazione.Updated},
		{"bad body CF", func() (formazione.Outcome, error) {
			c2 := c
			c2.CodiceCorso, c2.CodiceFiscaleEnte = "X", "80123456785"
			return s.PublishCourse(ctx, "ente", c2)
		}, formazione.Refused},
		{"withdraw", func() (formazione.Outcome, error) {
			return s.WithdrawCourse(ctx, "ente", "A944S003140", "SALD-1", "annullato")
		}, formazione.Withdrawn},
		{"withdraw again", func() (formazione.Outcome, error) {
			return s.WithdrawCourse(ctx, "ente", "A944S003140", "SALD-1", "annullato")
		}, formazione.Unchanged},
		{"withdraw unknown", func() (formazione.Outcome, error) { return s.WithdrawCourse(ctx, "ente", "A944S003140", "NOPE", "x") }, formazione.Refused},
	}
	for i, st := range steps {
		o, err := st.do()
		if o != st.want {
			t.Fatalf("%s: %s, %v; want %s", st.name, o, err, st.want)
		}
		var re *RecordError
		if (st.want == formazione.Refused) != errors.As(err, &re) {
			t.Fatalf("%s: err %v", st.name, err)
		}
		if i == 2 { // published and updated: searchable
			for _, q := range []formazione.Query{{Keyword: "saldatore"}, {Keyword: "100%"}, {Comune: "A944"}, {StartsFrom: d("2026-04-01")}} {
				if got, err := s.SearchCourses(ctx, q); err != nil || len(got) != 1 || got[0].Posti != 20 {
					t.Fatalf("search %+v: %+v, %v", q, got, err)
				}
			}
			for _, q := range []formazione.Query{{Keyword: "idraulico"}, {Keyword: "_"}, {Comune: "F205"}, {StartsFrom: d("2026-05-01")}} {
				if got, _ := s.SearchCourses(ctx, q); len(got) != 0 {
					t.Fatalf("search %+v found %+v", q, got)
				}
			}
		}
	}
	if got, _ := s.SearchCourses(ctx, formazione.Query{}); len(got) != 0 {
		t.Fatalf("a withdrawn course is still searchable: %+v", got)
	}
}

func TestResend(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	rep, err := s.MergeSubjects(ctx, "comune-imola", []*anagrafe.Subject{moved(nobody)})
	if err != nil || rep.Results[0].Outcome != Rejected {
		t.Fatalf("%+v %v", rep, err)
	}
	f, _ := s.Failures(ctx, FailureOpen)
	if len(f) != 1 {
		t.Fatalf("failures %+v", f)
	}
	// still unknown: rejected again, attempts grow
	if res, err := s.Resend(ctx, f[0].ID); err != nil || res.Outcome != Rejected {
		t.Fatalf("resend: %+v %v", res, err)
	}
	// the SIL learns the worker: the re-send merges and resolves the failure
	if err := s.PutWorker(ctx, Worker{CodiceFiscale: nobody, Cognome: "C", Nome: "N", DataNascita: d("1985-12-10"), Address: oldAddr, ResidenceSince: d("2010-05-01")}); err != nil {
		t.Fatal(err)
	}
	res, err := s.Resend(ctx, f[0].ID)
	if err != nil || res.Outcome != Merged {
		t.Fatalf("resend: %+v %v", res, err)
	}
	if open, _ := s.Failures(ctx, FailureOpen); len(open) != 0 {
		t.Fatalf("still open: %+v", open)
	}
	if _, err := s.Resend(ctx, f[0].ID); err == nil {
		t.Fatal("a resolved failure was re-sent")
	}
	if w, _ := s.Worker(ctx, nobody); w.Address != newAddr {
		t.Fatalf("worker %+v", w)
	}
}

func TestPutWorkerRejectsInvalidCF(t *testing.T) {
	s := newStore(t)
	err := s.PutWorker(context.Background(), Worker{CodiceFiscale: badCF})
	var re *RecordError
	if !errors.As(err, &re) || re.Field != "codiceFiscale" {
		t.Fatalf("err = %v", err)
	}
}

// A pupil whose values ParseResult could not read is rejected alone, named by its codice fiscale
// with the field and rule, in the failures an operator lists; the rest of the extraction merges.
func TestMergePupilsUnreadableRejectedAlone(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	bad := pupil("VRDLGU08C12A944E", "2008-03-12", scuola.Interrotto, "2026-01-20")
	bad.DataNascita = time.Time{}
	bad.Unreadable = []scuola.Unreadable{{Field: "alunno/dataNascita", Rule: "xs:date (aaaa-mm-gg)", Value: "2008-13-45"}}
	good := pupil("BNCGLI09E55A944D", "2009-05-15", scuola.Ritirato, "2025-11-10")
	rep, err := s.MergePupils(ctx, "BOIS00100X", "BOIS00100X", "2025/2026", []scuola.Pupil{bad, good})
	if err != nil {
		t.Fatal(err)
	}
	if got := toStrings(outcomes(rep)); strings.Join(got, ",") != strings.Join(toStrings([]Outcome{Rejected, Merged}), ",") {
		t.Fatalf("outcomes %v, want rejected then merged (%+v)", got, rep.Results)
	}
	fails, err := s.Failures(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(fails) != 1 || fails[0].Key != "VRDLGU08C12A944E" || fails[0].Field != "alunno/dataNascita" || fails[0].Rule != "xs:date (aaaa-mm-gg)" || !strings.Contains(fails[0].Reason, "2008-13-45") {
		t.Errorf("failures %+v, want one for the unreadable dataNascita", fails)
	}
	if flags, _ := s.OrientationFlags(ctx); len(flags) != 1 || flags[0].CodiceFiscale != "BNCGLI09E55A944D" {
		t.Errorf("flags %+v, want only the good pupil", flags)
	}
}

package merge

import (
	"context"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/jmoiron/sqlx"

	"porta/adapters/anagrafe"
	"porta/adapters/formazione"
	"porta/adapters/inps"
	"porta/adapters/scuola"
	"porta/internal/pgtest"
)

// TestPostgres runs the store's rules on PostgreSQL through the "pgx" driver: the SQL is meant to
// be portable, and this is where that is checked.
func TestPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a PostgreSQL server")
	}
	dsn := pgtest.Start(t)
	db, err := sqlx.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	deadline := time.Now().Add(10 * time.Second)
	for db.PingContext(ctx) != nil && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	s, err := Open(ctx, db, Options{Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, db, Options{}); err != nil {
		t.Fatalf("opening twice: %v", err)
	}
	for _, cf := range []string{mario, paola} {
		if err := s.PutWorker(ctx, Worker{CodiceFiscale: cf, Cognome: "C", Nome: "N", DataNascita: d("1977-07-18"), Address: oldAddr, ResidenceSince: d("2010-05-01")}); err != nil {
			t.Fatal(err)
		}
	}
	want := func(rep *Report, err error, outs string) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(toStrings(outcomes(rep)), ","); got != outs {
			t.Fatalf("outcomes %s, want %s (%+v)", got, outs, rep.Results)
		}
	}
	batch := []*anagrafe.Subject{moved(mario), subject(badCF), dead(paola), moved(nobody)}
	rep, err := s.MergeSubjects(ctx, "comune", batch)
	want(rep, err, "merged,rejected,merged,rejected")
	rep, err = s.MergeSubjects(ctx, "comune", batch)
	want(rep, err, "unchanged,rejected,unchanged,rejected")
	if h, err := s.AddressHistory(ctx, mario); err != nil || len(h) != 1 || h[0].Address != oldAddr || !h[0].To.Equal(d("2025-10-01")) {
		t.Fatalf("history %+v %v", h, err)
	}
	if w, err := s.Worker(ctx, paola); err != nil || w.Status != Deceased {
		t.Fatalf("worker %+v %v", w, err)
	}
	f, err := s.Failures(ctx, FailureOpen)
	if err != nil || len(f) != 2 || f[0].Attempts != 2 {
		t.Fatalf("failures %+v %v", f, err)
	}
	if err := s.PutWorker(ctx, Worker{CodiceFiscale: nobody, Cognome: "C", Nome: "N", DataNascita: d("1985-12-10"), Address: oldAddr, ResidenceSince: d("2010-05-01")}); err != nil {
		t.Fatal(err)
	}
	if res, err := s.Resend(ctx, f[1].ID); err != nil || res.Outcome != Merged {
		t.Fatalf("resend %+v %v", res, err)
	}

	rep, err = s.MergePupils(ctx, "BOIS00100X", "BOIS00100X", "2025/2026", []scuola.Pupil{pupil("VRDLGU08C12A944E", "2008-03-12", scuola.Interrotto, "2026-01-20")})
	want(rep, err, "merged")
	rep, err = s.MergePupils(ctx, "BOIS00100X", "BOIS00100X", "2025/2026", []scuola.Pupil{pupil("VRDLGU08C12A944E", "2008-03-12", scuola.Interrotto, "2026-01-20")})
	want(rep, err, "unchanged")

	l := &inps.List{ID: "L1", Recipients: []inps.Recipient{recipient(mario, "D1"), recipient("RSSMRA85T10A562S", "D2")}}
	rep, err = s.MergeINPS(ctx, "INPS", l)
	want(rep, err, "merged,merged")
	rep, err = s.MergeINPS(ctx, "INPS", l)
	want(rep, err, "unchanged,unchanged")

	c := formazione.Course{CodiceEnte: "A944S003140", CodiceFiscaleEnte: "80123456784", DenominazioneEnte: "CENTRO RENO", CodiceCorso: "SALD-1",
		Titolo: "Saldatore 100% pratico", SedeComune: "A944", SedeIndirizzo: "VIA EMILIA 12", DataInizio: d("2026-04-13"), DataFine: d("2026-07-31"), DurataOre: 300, Posti: 18}
	for _, o := range []formazione.Outcome{formazione.Published, formazione.Unchanged} {
		if got, err := s.PublishCourse(ctx, "ente", c); err != nil || got != o {
			t.Fatalf("publish: %s %v, want %s", got, err, o)
		}
	}
	for _, q := range []formazione.Query{{Keyword: "100%"}, {Comune: "A944", StartsFrom: d("2026-04-01"), Limit: 5}} {
		if got, err := s.SearchCourses(ctx, q); err != nil || len(got) != 1 || got[0] != c {
			t.Fatalf("search %+v: %+v %v", q, got, err)
		}
	}
	if got, err := s.SearchCourses(ctx, formazione.Query{Keyword: "_"}); err != nil || len(got) != 0 {
		t.Fatalf("search _: %+v %v", got, err)
	}
	if got, err := s.WithdrawCourse(ctx, "ente", c.CodiceEnte, c.CodiceCorso, "annullato"); err != nil || got != formazione.Withdrawn {
		t.Fatalf("withdraw: %s %v", got, err)
	}
	if log, err := s.Log(ctx, ""); err != nil || len(log) != 8 {
		t.Fatalf("log: %d entries, %v", len(log), err)
	}
}

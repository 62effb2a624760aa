package merge

import (
	"context"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/jmoiron/sqlx"

	"porta/adapters/anagrafe"
	"porta/adapters/formazione"
	"porta/adapters/inps"
	"porta/adapters/scuola"
	"porta/internal/testenv"
)

// startPostgres starts a throwaway PostgreSQL server (Debian's server binaries) listening only on
// a Unix socket in a temporary directory, and returns a DSN for the "pgx" driver. As root it runs
// the server as the postgres user, since PostgreSQL refuses to run as root.
func startPostgres(t *testing.T) string {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(bins) == 0 {
		testenv.Missing(t, "PostgreSQL server binaries (initdb, pg_ctl)", "apt-get install postgresql")
	}
	bin := filepath.Dir(bins[len(bins)-1])
	dir, err := os.MkdirTemp("", "porta-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	run := func(args ...string) *exec.Cmd { return exec.Command(args[0], args[1:]...) }
	if os.Geteuid() == 0 {
		pg, err := user.Lookup("postgres")
		if err != nil {
			testenv.Missing(t, "the postgres system user (to run PostgreSQL as root)", "apt-get install postgresql")
		}
		if out, err := exec.Command("chown", pg.Uid+":"+pg.Gid, dir).CombinedOutput(); err != nil {
			t.Fatalf("chown %s: %v %s", dir, err, out)
		}
		run = func(args ...string) *exec.Cmd {
			return exec.Command("runuser", append([]string{"-u", "postgres", "--"}, args...)...)
		}
	}
	data := filepath.Join(dir, "data")
	if out, err := run(filepath.Join(bin, "initdb"), "-D", data, "-A", "trust", "-U", "porta", "--no-sync").CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	if out, err := run(filepath.Join(bin, "pg_ctl"), "-D", data, "-o", "-k "+dir+" -h '' -F", "-l", filepath.Join(dir, "log"), "-w", "start").CombinedOutput(); err != nil {
		t.Fatalf("pg_ctl start: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = run(filepath.Join(bin, "pg_ctl"), "-D", data, "-m", "immediate", "stop").Run() })
	return "host=" + dir + " user=porta dbname=postgres sslmode=disable"
}

// TestPostgres runs the store's rules on PostgreSQL through the "pgx" driver: the SQL is meant to
// be portable, and this is where that is checked.
func TestPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a PostgreSQL server")
	}
	dsn := startPostgres(t)
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

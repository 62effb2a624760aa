package merge

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"porta/adapters/anagrafe"
	"porta/adapters/codicefiscale"
	"porta/adapters/scuola"
)

var flowWorkers = flag.Int("flow.workers", 600, "workers in the end-to-end flow tests (the demo uses 10000)")

var (
	surnames = []string{"ROSSI", "BIANCHI", "VERDI", "FERRARI", "ESPOSITO", "ROMANO", "COLOMBO", "RICCI", "MARINO", "GRECO", "BRUNO", "GALLO", "CONTI", "DE LUCA", "MANCINI", "COSTA", "GIORDANO", "RIZZO", "LOMBARDI", "MORETTI"}
	names    = []struct {
		n string
		s codicefiscale.Sex
	}{{"MARIO", 'M'}, {"LUCA", 'M'}, {"GIULIA", 'F'}, {"SARA", 'F'}, {"PAOLO", 'M'}, {"ANNA", 'F'}, {"MARCO", 'M'}, {"FRANCESCA", 'F'}, {"ANDREA", 'M'}, {"CHIARA", 'F'}}
	comuni   = []anagrafe.Comune{{Nome: "BOLOGNA", CodiceIstat: "037006", Provincia: "BO"}, {Nome: "IMOLA", CodiceIstat: "037032", Provincia: "BO"}, {Nome: "CASALECCHIO DI RENO", CodiceIstat: "037011", Provincia: "BO"}}
	belfiore = []string{"A944", "E289", "B880"}
)

// people makes n distinct persons with valid codici fiscali born between from and from+years.
func people(t testing.TB, n int, seed uint64, from time.Time, years int) []anagrafe.Worker {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 1))
	seen := map[string]bool{}
	var out []anagrafe.Worker
	for len(out) < n {
		nm := names[r.IntN(len(names))]
		sn := surnames[r.IntN(len(surnames))]
		born := from.AddDate(0, 0, r.IntN(365*years))
		i := r.IntN(len(comuni))
		cf, err := codicefiscale.Generate(sn, nm.n, born, nm.s, belfiore[i])
		if err != nil {
			t.Fatal(err)
		}
		if seen[cf] {
			continue
		}
		seen[cf] = true
		out = append(out, anagrafe.Worker{CodiceFiscale: cf, Cognome: sn, Nome: nm.n, Sesso: nm.s.String(), DataNascita: born, Comune: comuni[i]})
	}
	return out
}

func openDB(t testing.TB, name string) *sqlx.DB {
	t.Helper()
	db, err := sqlx.Open("sqlite3", "file:"+filepath.Join(t.TempDir(), name)+"?_journal_mode=WAL&_synchronous=NORMAL&_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestAnagrafeFlowFindsPlantedChangesExactly runs the whole inbound anagrafe flow on generated
// data: a municipality's registry and service, one E002 consultation per worker (payloads built,
// served and read back as on the wire), and the merge. Every planted residence change, death and
// emigration must be merged once, nothing else touched, and a second pass must change nothing.
func TestAnagrafeFlowFindsPlantedChangesExactly(t *testing.T) {
	ctx := context.Background()
	today := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	workers := people(t, *flowWorkers, 42, time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC), 40)
	gen := anagrafe.Generate(workers, anagrafe.GenOptions{Seed: 42, Today: today, ResidenceChanges: 0.05, Deaths: 0.01, Emigrations: 0.01})

	reg, err := anagrafe.OpenRegistry(ctx, openDB(t, "comune.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.Put(ctx, gen.Registry...); err != nil {
		t.Fatal(err)
	}
	svc := &anagrafe.Service{Registry: reg, Now: func() time.Time { return today.Add(9 * time.Hour) }}
	store, err := Open(ctx, openDB(t, "provincia.db"), Options{Now: func() time.Time { return today }})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range gen.Known {
		if err := store.PutWorker(ctx, Worker{CodiceFiscale: k.CodiceFiscale, Cognome: k.Cognome, Nome: k.Nome, DataNascita: k.DataNascita, Address: k.Residence.Address, ResidenceSince: k.Residence.Since}); err != nil {
			t.Fatal(err)
		}
	}

	pass := func() (*Report, time.Duration) {
		start := time.Now()
		var subjects []*anagrafe.Subject
		for i, w := range workers {
			req, err := anagrafe.BuildRequest(anagrafe.Request{IDClient: fmt.Sprintf("P%d", i), From: "PROVINCIA_BO", To: "COMUNE", At: today, CodiceFiscale: w.CodiceFiscale, Reference: today, Motivo: "allineamento", CasoUso: "C020"})
			if err != nil {
				t.Fatal(err)
			}
			resp, err := svc.Handle(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			subs, err := anagrafe.ParseResponse(resp)
			if err != nil {
				t.Fatal(err)
			}
			subjects = append(subjects, subs...)
		}
		rep, err := store.MergeSubjects(ctx, "comune", subjects)
		if err != nil {
			t.Fatal(err)
		}
		return rep, time.Since(start)
	}

	rep, took := pass()
	planted := map[string]anagrafe.Change{}
	for _, p := range gen.Planted {
		planted[p.CodiceFiscale] = p.Change
	}
	merged := 0
	for _, r := range rep.Results {
		switch {
		case r.Outcome == Rejected:
			t.Errorf("%s rejected: %v", r.Key, r.Err)
		case r.Outcome == Merged && planted[r.Key] == "":
			t.Errorf("%s merged but nothing was planted: %s", r.Key, r.What)
		case r.Outcome != Merged && planted[r.Key] != "":
			t.Errorf("%s: planted %s, not merged", r.Key, planted[r.Key])
		case r.Outcome == Merged:
			merged++
			w, _ := store.Worker(ctx, r.Key)
			want := map[anagrafe.Change]Status{anagrafe.ChangeResidence: Active, anagrafe.ChangeDeath: Deceased, anagrafe.ChangeEmigration: Emigrated}[planted[r.Key]]
			if w.Status != want {
				t.Errorf("%s: status %s after %s", r.Key, w.Status, planted[r.Key])
			}
		}
	}
	if merged != len(planted) || len(planted) == 0 {
		t.Fatalf("merged %d, planted %d", merged, len(planted))
	}
	log, _ := store.Log(ctx, "")
	if len(log) != len(planted) {
		t.Errorf("%d merge_log entries for %d changes", len(log), len(planted))
	}
	t.Logf("%d workers, %d planted changes: first pass (consult + merge) %v", len(workers), len(planted), took)

	rep, took = pass()
	if rep.Count(Unchanged) != len(workers) {
		t.Fatalf("second pass: %d unchanged of %d", rep.Count(Unchanged), len(workers))
	}
	t.Logf("second pass, all unchanged: %v", took)
}

// TestScuolaFlowFlagsPlantedDropOutsExactly runs the school flow on generated pupils with a few
// invalid codici fiscali planted: every under-18 drop-out is flagged once, every invalid record is
// rejected with the check-character rule, nothing else is touched.
func TestScuolaFlowFlagsPlantedDropOutsExactly(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 6, 30, 12, 0, 0, 0, time.UTC)
	ws := people(t, *flowWorkers/2, 7, time.Date(2006, 1, 1, 0, 0, 0, 0, time.UTC), 6)
	var ps []scuola.Person
	for _, w := range ws {
		ps = append(ps, scuola.Person{CodiceFiscale: w.CodiceFiscale, Cognome: w.Cognome, Nome: w.Nome, DataNascita: w.DataNascita})
	}
	schools := []string{"BOIS00100X", "BOIS00200B"}
	gen := scuola.Generate(ps, scuola.GenOptions{Seed: 7, Schools: schools, Year: 2025, DropOuts: 0.08, Transfers: 0.04})
	// plant invalid codici fiscali: the check character of the first pupil of each school
	invalid := map[string]bool{}
	for i := range gen.Schools {
		p := &gen.Schools[i].Pupils[0]
		last := p.CodiceFiscale[15]
		p.CodiceFiscale = p.CodiceFiscale[:15] + string(rune('A'+(last-'A'+1)%26))
		invalid[p.CodiceFiscale] = true
	}
	data, err := scuola.OpenAttendance(ctx, openDB(t, "scuole.db"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range gen.Schools {
		if err := data.Put(ctx, s.School, gen.Year, s.Pupils...); err != nil {
			t.Fatal(err)
		}
	}
	svc := &scuola.Service{Data: data, Now: func() time.Time { return now }}
	store, err := Open(ctx, openDB(t, "provincia.db"), Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	wantFlags := map[string]bool{}
	for _, p := range gen.DropOuts {
		if p.AgeOn(p.DataEvento) < 18 && !invalid[p.CodiceFiscale] {
			wantFlags[p.CodiceFiscale] = true
		}
	}
	for round := 0; round < 2; round++ {
		rejected := 0
		for _, school := range schools {
			req, _ := scuola.BuildRequest(scuola.Extraction{School: school, Year: gen.Year})
			receipt, err := svc.Handle(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			id, _, err := scuola.ParseReceipt(receipt)
			if err != nil {
				t.Fatal(err)
			}
			poll, _ := scuola.BuildPoll(id)
			out, err := svc.Handle(ctx, poll)
			if err != nil {
				t.Fatal(err)
			}
			res, err := scuola.ParseResult(out)
			if err != nil || res.Status != scuola.Completed {
				t.Fatalf("%+v %v", res, err)
			}
			rep, err := store.MergePupils(ctx, school, res.School, res.Year, res.Pupils)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rep.Results {
				switch {
				case r.Outcome == Rejected:
					rejected++
					re := r.Err.(*RecordError)
					if !invalid[r.Key] || re.Rule != "codice fiscale: check character" {
						t.Errorf("rejected %s: %v", r.Key, r.Err)
					}
				case r.Outcome == Merged && (round > 0 || !wantFlags[r.Key]):
					t.Errorf("round %d: merged %s: %s", round, r.Key, r.What)
				case r.Outcome == Unchanged && round == 0 && wantFlags[r.Key]:
					t.Errorf("planted drop-out %s not flagged", r.Key)
				}
			}
		}
		if rejected != len(invalid) {
			t.Errorf("round %d: %d rejected, %d planted", round, rejected, len(invalid))
		}
	}
	flags, _ := store.OrientationFlags(ctx)
	if len(flags) != len(wantFlags) || len(flags) == 0 {
		t.Fatalf("%d flags, want %d", len(flags), len(wantFlags))
	}
	if f, _ := store.Failures(ctx, FailureOpen); len(f) != len(invalid) || f[0].Attempts != 2 {
		t.Fatalf("failures %+v", f)
	}
}

// BenchmarkMergeSubjectUnchanged measures the cost of the common case: a consultation result
// that changes nothing.
func BenchmarkMergeSubjectUnchanged(b *testing.B) {
	ctx := context.Background()
	s, err := Open(ctx, openDB(b, "bench.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	if err := s.PutWorker(ctx, Worker{CodiceFiscale: mario, Cognome: "C", Nome: "N", DataNascita: d("1977-07-18"), Address: oldAddr, ResidenceSince: d("2010-05-01")}); err != nil {
		b.Fatal(err)
	}
	batch := []*anagrafe.Subject{subject(mario)}
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.MergeSubjects(ctx, "bench", batch); err != nil {
			b.Fatal(err)
		}
	}
}

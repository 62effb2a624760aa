package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"porta/adapters/anagrafe"
	"porta/adapters/flows"
	"porta/adapters/merge"
	"porta/adapters/scuola"
)

func TestSyncAnagrafeAndScuole(t *testing.T) {
	ctx := context.Background()
	s := newSILSetup(t, 8)
	db, err := sqlx.Open("sqlite3", "file:"+filepath.Join(t.TempDir(), "peers.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	// The municipalities' registry, derived from the SIL's valid workers, with planted changes.
	var seeds []anagrafe.Worker
	var people []scuola.Person
	comuni := map[string]bool{}
	for _, w := range s.workers {
		if w.CheckIdentity() != nil {
			continue
		}
		comuni[w.Residenza.Comune] = true
		seeds = append(seeds, anagrafe.Worker{CodiceFiscale: w.CodiceFiscale, Cognome: w.Cognome, Nome: w.Nome, Sesso: w.Sesso,
			DataNascita: w.DataNascita, Comune: anagrafe.Comune{Nome: "ROMA", CodiceIstat: "058091", Provincia: "RM"}})
	}
	gen := anagrafe.Generate(seeds, anagrafe.GenOptions{Seed: 9, Today: time.Now(), ResidenceChanges: 0.4, Deaths: 0.2})
	reg, err := anagrafe.OpenRegistry(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.Put(ctx, gen.Registry...); err != nil {
		t.Fatal(err)
	}
	s.pd.Lock()
	s.pd.Handlers["consultazioneSoggetti"] = (&anagrafe.Service{Registry: reg}).Handle
	s.pd.Unlock()

	args := []string{"sync", "anagrafe", "--json"}
	for c := range comuni {
		args = append(args, "--comune", c+"=ComuneDi"+c)
	}
	code, out, errs := s.run(t, append(args, s.common()...)...)
	if code != 0 {
		t.Fatalf("sync anagrafe: %d\n%s\n%s", code, out, errs)
	}
	var got struct{ Flows []flows.SyncSummary }
	if err := json.Unmarshal([]byte(out), &got); err != nil || len(got.Flows) != 1 {
		t.Fatalf("sync anagrafe --json: %v\n%s", err, out)
	}
	// First sync: every worker learns a residence (the store knew none), and the planted deaths close records.
	a := got.Flows[0]
	if a.Sent != len(seeds) || a.Answered != len(seeds) || a.Merged != len(seeds) || a.Rejected != 1 {
		t.Errorf("sync anagrafe: %+v; want %d sent, answered and merged, and the planted bad record rejected", a, len(seeds))
	}
	code, out, _ = s.run(t, append([]string{"sync", "anagrafe"}, s.common()...)...)
	if code != 0 || !strings.Contains(out, "UNCHANGED") {
		t.Errorf("second sync anagrafe: %d\n%s", code, out)
	}

	// A school with pupils, ready at the first poll.
	for i, cf := range []string{"RSSMRA09A01H501L", "BNCLRA08B41H501S", "VRDGPP10C01H501F", "NREANN09D41H501Q"} {
		people = append(people, scuola.Person{CodiceFiscale: cf, Cognome: "Rossi", Nome: []string{"Mario", "Laura"}[i%2], DataNascita: time.Date(2009, 1, 1, 0, 0, 0, 0, time.UTC)})
	}
	sg := scuola.Generate(people, scuola.GenOptions{Seed: 2, Schools: []string{"RMIS00100A"}, Year: 2025, DropOuts: 0.5})
	att, err := scuola.OpenAttendance(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if err := att.Put(ctx, "RMIS00100A", sg.Year, sg.Schools[0].Pupils...); err != nil {
		t.Fatal(err)
	}
	svc := &scuola.Service{Data: att}
	s.pd.Lock()
	s.pd.Handlers["RichiestaEstrazione"], s.pd.Handlers["StatoEstrazione"] = svc.Handle, svc.Handle
	s.pd.Unlock()
	code, out, errs = s.run(t, append([]string{"sync", "scuole", "--json", "--every", "10ms", "--school", "ScuolaRoma:RMIS00100A:" + sg.Year}, s.common()...)...)
	if code != 0 {
		t.Fatalf("sync scuole: %d\n%s\n%s", code, out, errs)
	}
	got.Flows = nil
	json.Unmarshal([]byte(out), &got)
	db2, _ := sqlx.Open("sqlite3", s.province)
	defer db2.Close()
	st, err := merge.Open(ctx, db2, merge.Options{})
	if err != nil {
		t.Fatal(err)
	}
	flags, _ := st.OrientationFlags(ctx)
	if len(got.Flows) != 1 || got.Flows[0].Merged != len(sg.DropOuts) || len(flags) != len(sg.DropOuts) {
		t.Errorf("sync scuole: %+v, %d flags, %d drop-outs planted", got.Flows, len(flags), len(sg.DropOuts))
	}
	if code, _, errs := s.run(t, "sync", "scuole", "--school", "bad"); code != 2 || !strings.Contains(errs, "PARTY:") {
		t.Errorf("bad --school: %d %s", code, errs)
	}
}

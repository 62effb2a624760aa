package flows

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"porta/adapters/anagrafe"
	"porta/adapters/merge"
	"porta/adapters/scuola"
	"porta/adapters/sil"
	"porta/internal/pdclient"
	"porta/internal/pdclient/pdtest"
)

func openDB(t *testing.T, name string) *sqlx.DB {
	t.Helper()
	db, err := sqlx.Open("sqlite3", "file:"+filepath.Join(t.TempDir(), name)+"?_foreign_keys=on&_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestSyncAnagrafeMergesPlantedChangesOnce(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 12)
	var good []*sil.Worker
	var seeds []anagrafe.Worker
	roma := anagrafe.Comune{Nome: "ROMA", CodiceIstat: "058091", Provincia: "RM"}
	for _, w := range f.workers {
		if w.CheckIdentity() == nil {
			good = append(good, w)
			seeds = append(seeds, anagrafe.Worker{CodiceFiscale: w.CodiceFiscale, Cognome: w.Cognome, Nome: w.Nome, Sesso: w.Sesso, DataNascita: w.DataNascita, Comune: roma})
		}
	}
	gen := anagrafe.Generate(seeds, anagrafe.GenOptions{Seed: 5, Today: now, ResidenceChanges: 0.3, Deaths: 0.15, Emigrations: 0.15})
	if len(gen.Planted) == 0 {
		t.Fatal("nothing planted")
	}
	reg, err := anagrafe.OpenRegistry(ctx, openDB(t, "comune.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.Put(ctx, gen.Registry...); err != nil {
		t.Fatal(err)
	}
	for _, k := range gen.Known {
		w := merge.Worker{CodiceFiscale: k.CodiceFiscale, Cognome: k.Cognome, Nome: k.Nome, DataNascita: k.DataNascita, Status: merge.Active}
		if k.Residence != nil {
			w.Address, w.ResidenceSince = k.Residence.Address, k.Residence.Since
		}
		if err := f.store.PutWorker(ctx, w); err != nil {
			t.Fatal(err)
		}
	}
	svc := &anagrafe.Service{Registry: reg, Now: func() time.Time { return now }}
	f.pd.Handlers["consultazioneSoggetti"] = svc.Handle
	a := &Anagrafe{PD: f.sender.PD, Store: f.store, DB: f.db, Now: func() time.Time { return now },
		Route: func(w *sil.Worker) (pdclient.Route, bool) {
			return pdclient.Route{Provider: "ComuneRoma", Service: "E002Consultazione", Action: "consultazioneSoggetti"}, true
		}}
	sum, err := a.Run(ctx, f.workers)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Merged != len(gen.Planted) || sum.Sent != len(good) || sum.Answered != len(good) || sum.Rejected != len(f.workers)-len(good) {
		t.Errorf("first sync: %+v; want %d merged of %d sent, %d rejected", sum, len(gen.Planted), len(good), len(f.workers)-len(good))
	}
	for _, p := range gen.Planted {
		log, err := f.store.Log(ctx, p.CodiceFiscale)
		if err != nil || len(log) != 1 {
			t.Errorf("planted %+v: merge log %+v, %v; want one entry", p, log, err)
		}
	}
	again, err := a.Run(ctx, f.workers)
	if err != nil {
		t.Fatal(err)
	}
	if again.Merged != 0 || again.Unchanged != len(good) {
		t.Errorf("second sync: %+v; want nothing merged, %d unchanged", again, len(good))
	}
}

func TestSyncScuolePollsAndFlagsDropOuts(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 3)
	// People of school age: the generator needs them 14 to 19.
	var people []scuola.Person
	for i, cf := range []string{"RSSMRA09A01H501L", "BNCLRA08B41H501S", "VRDGPP10C01H501F", "NREANN09D41H501Q", "GLLPLA08E01H501J", "CLMSRA09H41H501H"} {
		people = append(people, scuola.Person{CodiceFiscale: cf, Cognome: "Rossi", Nome: []string{"Mario", "Laura"}[i%2], DataNascita: time.Date(2009, 1, 1, 0, 0, 0, 0, time.UTC)})
	}
	gen := scuola.Generate(people, scuola.GenOptions{Seed: 2, Schools: []string{"RMIS00100A"}, Year: 2025, DropOuts: 0.5})
	att, err := scuola.OpenAttendance(ctx, openDB(t, "scuola.db"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range gen.Schools {
		if err := att.Put(ctx, s.School, gen.Year, s.Pupils...); err != nil {
			t.Fatal(err)
		}
	}
	clock := now
	svc := &scuola.Service{Data: att, Delay: 5 * time.Second, Now: func() time.Time { return clock }}
	f.pd.Handlers["RichiestaEstrazione"] = svc.Handle
	f.pd.Handlers["StatoEstrazione"] = svc.Handle
	polls := 0
	s := &Scuole{PD: f.sender.PD, Store: f.store, Every: 2 * time.Second, Now: func() time.Time { return clock },
		Request: pdclient.Route{Service: "FrequenzeScolastiche", Action: "RichiestaEstrazione"},
		Poll:    pdclient.Route{Service: "FrequenzeScolastiche", Action: "StatoEstrazione"},
		Sleep:   func(ctx context.Context, d time.Duration) error { polls++; clock = clock.Add(d); return nil }}
	sum, err := s.Run(ctx, []School{{Party: "ScuolaRoma", Code: "RMIS00100A", Year: gen.Year}})
	if err != nil {
		t.Fatal(err)
	}
	if polls < 2 || sum.Answered != 1 {
		t.Errorf("%d sleeps, %+v: want the extraction polled until ready", polls, sum)
	}
	flags, err := f.store.OrientationFlags(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Merged != len(flags) || len(flags) != len(gen.DropOuts) || sum.Rejected != 0 {
		t.Errorf("%+v, %d flags, %d drop-outs planted", sum, len(flags), len(gen.DropOuts))
	}
	t.Logf("%d pupils, %d drop-outs planted, %d flagged", len(gen.Schools[0].Pupils), len(gen.DropOuts), len(flags))
}

// TestSyncScuoleQueuedRequest: the PD queues RichiestaEstrazione (asynchronous asymmetric) and
// answers only its identifier; the school, reached later, names the extraction after the busta.
func TestSyncScuoleQueuedRequest(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 1)
	att, err := scuola.OpenAttendance(ctx, openDB(t, "scuola.db"))
	if err != nil {
		t.Fatal(err)
	}
	p := scuola.Person{CodiceFiscale: "RSSMRA09A01H501L", Cognome: "Rossi", Nome: "Mario", DataNascita: time.Date(2009, 1, 1, 0, 0, 0, 0, time.UTC)}
	gen := scuola.Generate([]scuola.Person{p}, scuola.GenOptions{Seed: 1, Schools: []string{"RMIS00100A"}, Year: 2025, DropOuts: 1})
	if err := att.Put(ctx, "RMIS00100A", gen.Year, gen.Schools[0].Pupils...); err != nil {
		t.Fatal(err)
	}
	svc := &scuola.Service{Data: att, NewID: func(string) string { return scuola.ExtractionID(pdtest.QueuedID) }}
	var pending []byte
	f.pd.Handlers["RichiestaEstrazione"] = func(ctx context.Context, req []byte) ([]byte, error) { pending = req; return nil, nil }
	polls := 0
	f.pd.Handlers["StatoEstrazione"] = func(ctx context.Context, req []byte) ([]byte, error) {
		if polls++; polls == 1 { // the school's gateway does not know the request yet
			return nil, pdtest.ClientFault("the provider's gateway refused the request: EGOV_IT_111 RiferimentoMessaggio non valido")
		}
		if polls == 3 { // delivered between the second and third poll
			if _, err := svc.Handle(ctx, pending); err != nil {
				return nil, err
			}
		}
		return svc.Handle(ctx, req)
	}
	s := &Scuole{PD: f.sender.PD, Store: f.store, Request: pdclient.Route{Service: "FrequenzeScolastiche", Action: "RichiestaEstrazione"},
		Poll: pdclient.Route{Service: "FrequenzeScolastiche", Action: "StatoEstrazione"}, Sleep: func(context.Context, time.Duration) error { return nil }}
	sum, err := s.Run(ctx, []School{{Party: "Scuola1", Code: "RMIS00100A", Year: gen.Year}})
	if err != nil {
		t.Fatal(err)
	}
	if polls != 3 || sum.Merged != len(gen.DropOuts) || len(gen.DropOuts) != 1 {
		t.Errorf("%d polls, %+v, %d drop-outs planted", polls, sum, len(gen.DropOuts))
	}
}

package anagrafe

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/mattn/go-sqlite3"

	"porta/adapters/sil/siltest"
)

const schema = "labour/anagrafe.xsd"

func d(s string) time.Time { t, _ := time.Parse(time.DateOnly, s); return t }

var (
	bologna = Comune{"BOLOGNA", "037006", "BO"}
	imola   = Comune{"IMOLA", "037032", "BO"}
	roma    = Comune{"ROMA", "058091", "RM"}
	now     = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
)

func subjects() []*Subject {
	return []*Subject{
		{CodiceFiscale: "RSSMRA77L18H501W", Cognome: "ROSSI", Nome: "MARIO", Sesso: "M", DataNascita: d("1977-07-18"), ComuneNascita: &roma,
			Residence: &Residence{Address: Address{CAP: "40026", Comune: imola, Specie: "VIA", Denominazione: "EMILIA", Numero: 12, Lettera: "B"}, Since: d("2025-10-01")}},
		{CodiceFiscale: "GLLPLA80A01H501L", Cognome: "GALLI", Nome: "PAOLA", Sesso: "F", DataNascita: d("1980-01-01"), ComuneNascita: &roma,
			Residence: &Residence{Address: Address{CAP: "40121", Comune: bologna, Specie: "VIA", Denominazione: "ROMA", Numero: 3}, Since: d("2010-05-01")},
			Death:     &Death{Date: d("2026-01-15"), Place: &bologna}},
		{CodiceFiscale: "NREFNC07A01F205B", Cognome: "NERI", Nome: "FRANCESCO", Sesso: "M", DataNascita: d("2007-01-01"), LocalitaNascita: "MILANO",
			Residence:  &Residence{Address: Address{CAP: "40121", Comune: bologna, Specie: "PIAZZA", Denominazione: "MAGGIORE", Numero: 1}, Since: d("2019-09-01")},
			Emigration: &Emigration{Since: d("2025-12-01"), StateCode: "215", StateName: "GERMANIA"}},
	}
}

func newService(t testing.TB) *Service {
	t.Helper()
	db, err := sqlx.Open("sqlite3", "file:"+filepath.Join(t.TempDir(), "comune.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	reg, err := OpenRegistry(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.Put(context.Background(), subjects()...); err != nil {
		t.Fatal(err)
	}
	return &Service{Registry: reg, Now: func() time.Time { return now }, NewID: func() string { return "ANPR-1" }}
}

func request(cf string) Request {
	return Request{IDClient: "PROV-BO-1", From: "PROVINCIA_BO", To: "COMUNE_IMOLA", At: now, CodiceFiscale: cf,
		Reference: d("2026-03-01"), Motivo: "verifica residenza lavoratore", CasoUso: "C020"}
}

func TestConsultationGolden(t *testing.T) {
	svc := newService(t)
	for i, s := range subjects() {
		name := []string{"residenza", "decesso", "emigrazione"}[i]
		t.Run(name, func(t *testing.T) {
			req, err := BuildRequest(request(s.CodiceFiscale))
			if err != nil {
				t.Fatal(err)
			}
			siltest.Xmllint(t, schema, req)
			if i == 0 {
				siltest.Golden(t, "inbound/anagrafe/richiesta_e002.xml", req)
			}
			resp, err := svc.Handle(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			siltest.Golden(t, "inbound/anagrafe/risposta_e002_"+name+".xml", resp)
			siltest.Xmllint(t, schema, resp)
			got, err := ParseResponse(resp)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 {
				t.Fatalf("%d subjects", len(got))
			}
			if g, w := *got[0].Residence, *s.Residence; g != w {
				t.Errorf("residence\n got %+v\nwant %+v", g, w)
			}
			if (s.Death == nil) != (got[0].Death == nil) || (s.Emigration == nil) != (got[0].Emigration == nil) {
				t.Errorf("closure lost: got death %v emigration %v", got[0].Death, got[0].Emigration)
			}
			if s.Emigration != nil && *got[0].Emigration != *s.Emigration {
				t.Errorf("emigration %+v", got[0].Emigration)
			}
			if got[0].Closed() != s.Closed() {
				t.Errorf("closed %v", got[0].Closed())
			}
		})
	}
}

func TestConsultationKO(t *testing.T) {
	svc := newService(t)
	future := request("RSSMRA77L18H501W")
	future.Reference = d("2027-01-01")
	futureReq, _ := BuildRequest(future)
	unknownReq, _ := BuildRequest(request("RSSMRA85T10A562S"))
	badCF := strings.Replace(string(unknownReq), "RSSMRA85T10A562S", "RSSMRA85T10A562T", 1)
	tests := []struct {
		name, payload, code, golden string
	}{
		{"unknown", string(unknownReq), CodeNotFound, "risposta_ko_non_trovato.xml"},
		{"check character", badCF, CodeInvalidCF, "risposta_ko_cf.xml"},
		{"future reference", string(futureReq), CodeFutureDate, ""},
		{"missing criteri", `<RichiestaE002 xmlns="` + Namespace + `"><testataRichiesta/></RichiestaE002>`, CodeInvalidRequest, ""},
		{"wrong root", `<RispostaE002OK xmlns="` + Namespace + `"/>`, CodeInvalidRequest, ""},
		{"bad date", strings.Replace(string(unknownReq), "2026-03-01", "2026-02-30", 1), CodeInvalidRequest, ""},
		{"entity", `<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><RichiestaE002 xmlns="` + Namespace + `">&e;</RichiestaE002>`, CodeInvalidRequest, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := svc.Handle(context.Background(), []byte(tc.payload))
			var fe *FaultError
			if resp != nil || !errors.As(err, &fe) {
				t.Fatalf("resp %q err %v; want a FaultError", resp, err)
			}
			if len(fe.Problems) != 1 || fe.Problems[0].Code != tc.code {
				t.Fatalf("problems %+v, want %s", fe.Problems, tc.code)
			}
			siltest.Xmllint(t, schema, fe.Detail)
			if tc.golden != "" {
				siltest.Golden(t, "inbound/anagrafe/"+tc.golden, fe.Detail)
			}
			_, perr := ParseResponse(fe.Detail)
			var back *FaultError
			if !errors.As(perr, &back) || back.Problems[0] != fe.Problems[0] {
				t.Fatalf("ParseResponse of the detail: %v", perr)
			}
		})
	}
}

func TestBuildRequestRejectsInvalidCF(t *testing.T) {
	_, err := BuildRequest(request("RSSMRA85T10A562T"))
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "criteriRicerca/codiceFiscale" {
		t.Fatalf("err = %v", err)
	}
}

func TestParseResponseRejectsInvalidCF(t *testing.T) {
	resp, err := BuildResponse("A", "B", now, subjects()[0])
	if err != nil {
		t.Fatal(err)
	}
	bad := bytes.Replace(resp, []byte("RSSMRA77L18H501W"), []byte("RSSMRA77L18H501X"), 1)
	_, err = ParseResponse(bad)
	var fe *FieldError
	if !errors.As(err, &fe) || !strings.HasSuffix(fe.Field, "generalita/codiceFiscale") {
		t.Fatalf("err = %v", err)
	}
}

func TestGenerateDeterministic(t *testing.T) {
	var workers []Worker
	for _, s := range subjects() {
		workers = append(workers, Worker{s.CodiceFiscale, s.Cognome, s.Nome, s.Sesso, s.DataNascita, bologna})
	}
	for i := 0; i < 30; i++ {
		workers = append(workers, workers[i%3])
	}
	opt := GenOptions{Seed: 11, Today: now, ResidenceChanges: 0.3, Deaths: 0.1, Emigrations: 0.1}
	a, b := Generate(workers, opt), Generate(workers, opt)
	if len(a.Planted) == 0 || len(a.Planted) != len(b.Planted) {
		t.Fatalf("planted %d vs %d", len(a.Planted), len(b.Planted))
	}
	kinds := map[Change]int{}
	for i, p := range a.Planted {
		if p != b.Planted[i] {
			t.Fatal("not deterministic")
		}
		kinds[p.Change]++
	}
	if len(kinds) != 3 {
		t.Errorf("kinds planted: %v", kinds)
	}
	changed := 0
	for i := range a.Known {
		k, r := a.Known[i], a.Registry[i]
		if *k.Residence != *r.Residence || r.Closed() {
			changed++
		}
		if r.Residence.Since.Before(k.Residence.Since) {
			t.Errorf("%s: new residence before the old one", k.CodiceFiscale)
		}
	}
	if changed != len(a.Planted) {
		t.Errorf("%d subjects differ, %d planted", changed, len(a.Planted))
	}
}

// TestGenerateDatesWithinLife: over many seeds and workers of every age, from born today to
// 80, every date Generate writes (known and current residence, death, emigration) falls within
// [birth, today], and a planted change is never earlier than the residence the province knew.
func TestGenerateDatesWithinLife(t *testing.T) {
	today := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	clock := today.Add(10 * time.Hour) // Today as a clock gives it, with a time of day
	var workers []Worker
	for days := 0; days <= 80*366; days += 97 {
		workers = append(workers, Worker{CodiceFiscale: fmt.Sprintf("W%06d", days), Cognome: "C", Nome: "N", Sesso: "F", DataNascita: today.AddDate(0, 0, -days), Comune: bologna})
	}
	for _, young := range []int{0, 1, 30, 364, 365, 366, 17*365 + 200, 18 * 365, 18*365 + 200, 19*365 - 1, 19 * 365, 19*365 + 5} {
		workers = append(workers, Worker{CodiceFiscale: fmt.Sprintf("Y%06d", young), Cognome: "C", Nome: "N", Sesso: "M", DataNascita: today.AddDate(0, 0, -young), Comune: imola})
	}
	within := func(seed uint64, w Worker, what string, at time.Time) {
		if at.Before(w.DataNascita) || at.After(today) {
			t.Fatalf("seed %d, %s born %s: %s %s is outside [birth, today %s]", seed, w.CodiceFiscale, w.DataNascita.Format(time.DateOnly), what, at.Format(time.DateOnly), today.Format(time.DateOnly))
		}
	}
	planted := 0
	for seed := uint64(0); seed < 300; seed++ {
		g := Generate(workers, GenOptions{Seed: seed, Today: clock, ResidenceChanges: 0.3, Deaths: 0.2, Emigrations: 0.2})
		planted += len(g.Planted)
		for i, w := range workers {
			k, r := g.Known[i], g.Registry[i]
			within(seed, w, "known residence", k.Residence.Since)
			within(seed, w, "residence", r.Residence.Since)
			if r.Residence.Since.Before(k.Residence.Since) {
				t.Fatalf("seed %d, %s: residence since %s is before the known one since %s", seed, w.CodiceFiscale, r.Residence.Since.Format(time.DateOnly), k.Residence.Since.Format(time.DateOnly))
			}
			if r.Death != nil {
				within(seed, w, "death", r.Death.Date)
			}
			if r.Emigration != nil {
				within(seed, w, "emigration", r.Emigration.Since)
			}
		}
	}
	if planted == 0 {
		t.Fatal("no change planted")
	}
}

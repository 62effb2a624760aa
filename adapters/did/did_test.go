package did

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"porta/adapters/sil"
	"porta/adapters/sil/siltest"
	"porta/xsd"
)

func builder(t *testing.T) *Builder {
	t.Helper()
	set, err := xsd.Open()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { set.Close() })
	return &Builder{Validator: set, Now: func() time.Time { return siltest.Now }, Operator: Operator{GUID: "op-0001", CodiceFiscale: "RSSMRA77L18H501W"}}
}

// registered returns the generated workers that hold a DID.
func registered(ws []*sil.Worker) []*sil.Worker {
	var out []*sil.Worker
	for _, w := range ws {
		if !w.Admin.DataDID.IsZero() {
			out = append(out, w)
		}
	}
	return out
}

func TestGoldenAndXmllint(t *testing.T) {
	b := builder(t)
	ws, _ := siltest.Workers(t, sil.GenOptions{Workers: 12, Seed: 11})
	ws = registered(ws)
	if len(ws) < 3 {
		t.Fatalf("only %d workers with a DID", len(ws))
	}
	for i, w := range ws[:3] {
		doc, err := b.Request(w, Inserimento)
		if err != nil {
			t.Fatal(err)
		}
		siltest.Golden(t, fmt.Sprintf("outbound/did/GestisciDID_Input-%d.xml", i+1), doc)
		siltest.Xmllint(t, Schema, doc)
	}
}

func TestParseResponse(t *testing.T) {
	b := builder(t)
	ok := []byte(`<GestisciDID_Output xmlns="http://anpal.gov.it/DataModels/InformationDelivery/ConferimentoDID/1.0">
  <Profiling><IDSProfiling>P-42</IDSProfiling><Probabilita>0.123456</Probabilita><DataInserimento>2026-11-28T09:00:00Z</DataInserimento></Profiling>
  <Esito><CodiceEsito>OK</CodiceEsito></Esito>
</GestisciDID_Output>`)
	o, err := ParseResponse(b.Validator, ok)
	if err != nil {
		t.Fatal(err)
	}
	if o.Code != "OK" || o.Probability != "0.123456" || o.ProfilingID != "P-42" || !o.Inserted.Equal(siltest.Now) {
		t.Errorf("outcome %+v", o)
	}
	bad := []byte(`<GestisciDID_Output xmlns="http://anpal.gov.it/DataModels/InformationDelivery/ConferimentoDID/1.0"><Profiling><IDSProfiling>P</IDSProfiling><Probabilita>1.5</Probabilita><DataInserimento>2026-11-28T09:00:00Z</DataInserimento></Profiling><Esito><CodiceEsito>OK</CodiceEsito></Esito></GestisciDID_Output>`)
	if _, err := ParseResponse(b.Validator, bad); err == nil || !strings.Contains(err.Error(), "Probabilita") {
		t.Errorf("a probability above 1 was accepted: %v", err)
	}
}

func TestRejections(t *testing.T) {
	b := builder(t)
	ws, _ := siltest.Workers(t, sil.GenOptions{Workers: 12, Seed: 11})
	base := *registered(ws)[0]
	tests := []struct {
		name        string
		edit        func(w *sil.Worker)
		field, rule string
	}{
		{"check character", func(w *sil.Worker) { w.CodiceFiscale = w.CodiceFiscale[:15] + "0" }, "codice_fiscale", "pattern"},
		{"no DID date", func(w *sil.Worker) { w.Admin.DataDID = time.Time{} }, "data_did", "required for a DID"},
		{"unknown province", func(w *sil.Worker) { w.Residenza.Comune = "Z999" }, "res_comune", "province of residence known"},
		{"no profiling answer", func(w *sil.Worker) { w.Admin.CondizioneAnnoPrima = "" }, "condizione_anno_prima", "required for the profiling"},
		{"no education", func(w *sil.Worker) { w.Istruzione = nil }, "education", "TitoloDiStudio required"},
		{"schema: household too big", func(w *sil.Worker) { w.Admin.ComponentiFamiglia = 5000 }, "NumeroComponentiFamiglia", "schema labour/did.xsd"},
	}
	for _, tt := range tests {
		w := base
		tt.edit(&w)
		_, err := b.Request(&w, Inserimento)
		var re *sil.RecordError
		if !errors.As(err, &re) || re.Field != tt.field || re.Rule != tt.rule || re.SILID != w.ID {
			t.Errorf("%s: %v; want field %q rule %q", tt.name, err, tt.field, tt.rule)
		}
	}
	if _, err := b.Request(&base, "X"); err == nil {
		t.Error("an unknown event type was accepted")
	}
	nb := *b
	nb.Operator.CodiceFiscale = "RSSMRA77L18H501X"
	if _, err := nb.Request(&base, Inserimento); err == nil || !strings.Contains(err.Error(), "operator") {
		t.Errorf("an invalid operator CF: %v", err)
	}
}

func TestBatchRejectsPlanted(t *testing.T) {
	b := builder(t)
	ws, g := siltest.Workers(t, sil.GenOptions{Workers: 80, Seed: 9, BadCheck: 4})
	planted := map[string]bool{}
	for _, p := range g.Planted {
		planted[p.SILID] = true
	}
	ws = registered(ws)
	docs, rejected := b.Batch(ws, Inserimento)
	for _, r := range rejected {
		if !planted[r.SILID] || r.Field != "codice_fiscale" {
			t.Errorf("unexpected rejection %v", r)
		}
	}
	if len(docs)+len(rejected) != len(ws) {
		t.Errorf("%d docs + %d rejected != %d workers", len(docs), len(rejected), len(ws))
	}
}

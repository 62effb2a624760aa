package sap

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"porta/adapters/codicefiscale"
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
	return &Builder{Validator: set}
}

func TestGoldenAndXmllint(t *testing.T) {
	b := builder(t)
	ws, _ := siltest.Workers(t, sil.GenOptions{Workers: 3, Seed: 11})
	for i, w := range ws {
		doc, err := b.Document(w)
		if err != nil {
			t.Fatal(err)
		}
		siltest.Golden(t, fmt.Sprintf("outbound/sap/lavoratore-%d.xml", i+1), doc)
		siltest.Xmllint(t, Schema, doc)
	}
	body, err := b.InvioSAP(ws[0])
	if err != nil {
		t.Fatal(err)
	}
	siltest.Golden(t, "outbound/sap/invioSAP-1.xml", body)
	siltest.Xmllint(t, ServiceSchema, body)
	inner, err := ParseSAP(body)
	if err != nil {
		t.Fatal(err)
	}
	if doc, _ := b.Document(ws[0]); !bytes.Equal(inner, doc) {
		t.Errorf("the SAP carried in invioSAP is not the document:\n%s", inner)
	}
	for name, f := range map[string]func() ([]byte, error){
		"richiestaSAP":         func() ([]byte, error) { return b.RichiestaSAP("BO12345678A") },
		"verificaEsistenzaSAP": func() ([]byte, error) { return b.VerificaEsistenzaSAP(ws[0].CodiceFiscale) },
		"annullaSAP":           func() ([]byte, error) { return b.AnnullaSAP("BO12345678A") },
	} {
		body, err := f()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		siltest.Golden(t, "outbound/sap/"+name+".xml", body)
		siltest.Xmllint(t, ServiceSchema, body)
	}
	if _, err := b.RichiestaSAP("BO1234"); err == nil {
		t.Error("richiestaSAP accepted a malformed SAP code")
	}
	if _, err := b.VerificaEsistenzaSAP("RSSMRA85T10A562T"); err == nil {
		t.Error("verificaEsistenzaSAP accepted an invalid codice fiscale")
	}
}

// TestBatchRejectsPlanted: of a generated SIL, exactly the planted records are rejected, each
// with the field and rule the generator planted.
func TestBatchRejectsPlanted(t *testing.T) {
	b := builder(t)
	ws, g := siltest.Workers(t, sil.GenOptions{Workers: 60, Seed: 5, BadCheck: 3, MissingRequired: 3})
	docs, rejected := b.Batch(ws)
	if len(docs) != 54 || len(rejected) != 6 {
		t.Fatalf("%d documents, %d rejected; want 54, 6: %v", len(docs), len(rejected), rejected)
	}
	want := map[string]sil.Planted{}
	for _, p := range g.Planted {
		want[p.SILID] = p
	}
	for _, r := range rejected {
		p, ok := want[r.SILID]
		if !ok || r.Field != p.Field || r.Rule != p.Rule || r.CF != p.CF {
			t.Errorf("rejected %v, planted %+v", r, p)
		}
	}
}

func TestRejections(t *testing.T) {
	b := builder(t)
	ws, _ := siltest.Workers(t, sil.GenOptions{Workers: 1, Seed: 11})
	base := *ws[0]
	tests := []struct {
		name         string
		edit         func(w *sil.Worker)
		field, rule  string
		underlyingCF bool
	}{
		{"check character", func(w *sil.Worker) { w.CodiceFiscale = w.CodiceFiscale[:15] + next(w.CodiceFiscale[15]) }, "codice_fiscale", "check character", true},
		{"month letter", func(w *sil.Worker) { w.CodiceFiscale = w.CodiceFiscale[:8] + "Z" + w.CodiceFiscale[9:] }, "codice_fiscale", "month letter", true},
		{"no surname", func(w *sil.Worker) { w.Cognome = "" }, "cognome", "required", false},
		{"bad cap", func(w *sil.Worker) { w.Domicilio.CAP = "4012" }, "dom_cap", "5 digits", false},
		{"bad ente", func(w *sil.Worker) { w.Admin.CodiceEnteTitolare = "A944" }, "codice_ente_titolare", "codiceentetit [A-Z][0-9]{3}[A-Z][0-9]{6}", false},
		{"employer CF", func(w *sil.Worker) {
			w.Esperienze = append([]sil.Experience(nil), w.Esperienze...)
			w.Esperienze[0].AziendaCF = "12345678901"
		}, "experiences[0].azienda_cf", "codice fiscale of the employer", true},
		{"schema: profession too long", func(w *sil.Worker) {
			w.Esperienze = append([]sil.Experience(nil), w.Esperienze...)
			w.Esperienze[0].Professione = "1.2.3.4.5.6.7.8"
		}, "codprofessione", "schema labour/sap.xsd", false},
		{"schema: bad email", func(w *sil.Worker) { w.Email = "not an email" }, "email", "schema labour/sap.xsd", false},
	}
	for _, tt := range tests {
		w := base
		tt.edit(&w)
		_, err := b.Document(&w)
		var re *sil.RecordError
		if !errors.As(err, &re) {
			t.Errorf("%s: %v, want *sil.RecordError", tt.name, err)
			continue
		}
		if re.Field != tt.field || re.Rule != tt.rule || re.SILID != w.ID || re.CF != w.CodiceFiscale {
			t.Errorf("%s: field %q rule %q record %s; want %q %q", tt.name, re.Field, re.Rule, re.Record(), tt.field, tt.rule)
		}
		var ce *codicefiscale.Error
		if errors.As(err, &ce) != tt.underlyingCF {
			t.Errorf("%s: codicefiscale.Error in chain = %v", tt.name, !tt.underlyingCF)
		}
		if !strings.Contains(err.Error(), re.Record()) {
			t.Errorf("%s: message %q does not name the record", tt.name, err)
		}
	}
	if _, err := (&Builder{}).Document(&base); err == nil || !strings.Contains(err.Error(), "no validator") {
		t.Errorf("a builder without validator: %v", err)
	}
}

func next(c byte) string { return string(rune('A' + (c-'A'+1)%26)) }

// BenchmarkBatch10k reads a 10,000-worker SIL through the Source and builds and validates the
// SAP of every worker: go test -run XXX -bench Batch10k -benchtime 1x ./adapters/sap
func BenchmarkBatch10k(b *testing.B) {
	set, err := xsd.Open()
	if err != nil {
		b.Fatal(err)
	}
	defer set.Close()
	bl := &Builder{Validator: set}
	ws, _ := siltest.Workers(b, sil.GenOptions{Workers: 10000, Seed: 1, BadCheck: 10, MissingRequired: 10})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		docs, rejected := bl.Batch(ws)
		if len(docs) != 9980 || len(rejected) != 20 {
			b.Fatalf("%d docs, %d rejected", len(docs), len(rejected))
		}
	}
}

package candidatura

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
	return &Builder{
		Validator:    set,
		Now:          func() time.Time { return siltest.Now },
		Intermediary: Intermediary{CodiceFiscale: "12345678903", Denominazione: "Provincia - Servizio Lavoro", Regione: "08", Email: "lavoro@example.it"},
		Validity:     60 * 24 * time.Hour,
	}
}

func TestGoldenAndXmllint(t *testing.T) {
	b := builder(t)
	ws, _ := siltest.Workers(t, sil.GenOptions{Workers: 3, Seed: 11})
	for i, w := range ws {
		doc, err := b.Document(w)
		if err != nil {
			t.Fatal(err)
		}
		siltest.Golden(t, fmt.Sprintf("outbound/candidatura/Candidatura-%d.xml", i+1), doc)
		siltest.Xmllint(t, Schema, doc)
	}
}

func TestRejections(t *testing.T) {
	b := builder(t)
	ws, _ := siltest.Workers(t, sil.GenOptions{Workers: 1, Seed: 11})
	base := *ws[0]
	tests := []struct {
		name        string
		edit        func(w *sil.Worker)
		field, rule string
	}{
		{"check character", func(w *sil.Worker) { w.CodiceFiscale = w.CodiceFiscale[:15] + "0" }, "codice_fiscale", "pattern"},
		{"11-digit code", func(w *sil.Worker) { w.CodiceFiscale = "12345678903" }, "codice_fiscale", "personal code"},
		{"no email", func(w *sil.Worker) { w.Email = "" }, "email", "required (Recapiti/email)"},
		{"no experience", func(w *sil.Worker) { w.Esperienze = nil }, "experiences", "ProfessioneDesiderataDisponibilita needs a profession (from the latest experience)"},
		{"bad profession", func(w *sil.Worker) {
			w.Esperienze = append([]sil.Experience(nil), w.Esperienze...)
			w.Esperienze[0].Professione = "5122"
		}, "experiences[0].professione", `CP2011 ([0-9]\.){5}[0-9]{1,2}`},
		{"schema: language level", func(w *sil.Worker) {
			w.Lingue = []sil.Language{{Codice: "ENG", Letto: "D1"}}
		}, "idlivelloletto", "schema labour/candidatura.xsd"},
	}
	for _, tt := range tests {
		w := base
		tt.edit(&w)
		_, err := b.Document(&w)
		var re *sil.RecordError
		if !errors.As(err, &re) || re.Field != tt.field || re.Rule != tt.rule || re.SILID != w.ID {
			t.Errorf("%s: %v; want field %q rule %q", tt.name, err, tt.field, tt.rule)
		}
	}
	nb := *b
	nb.Intermediary.CodiceFiscale = "12345678901"
	if _, err := nb.Document(&base); err == nil || !strings.Contains(err.Error(), "intermediary") {
		t.Errorf("an invalid intermediary code: %v", err)
	}
}

func TestBatchRejectsPlanted(t *testing.T) {
	b := builder(t)
	ws, g := siltest.Workers(t, sil.GenOptions{Workers: 60, Seed: 5, BadCheck: 3, MissingRequired: 3})
	want := map[string]sil.Planted{}
	for _, p := range g.Planted {
		want[p.SILID] = p
	}
	docs, rejected := b.Batch(ws)
	seen := 0
	for _, r := range rejected {
		if p, ok := want[r.SILID]; ok {
			seen++
			if r.Field != p.Field || r.Rule != p.Rule {
				t.Errorf("rejected %v, planted %+v", r, p)
			}
			continue
		}
		// Workers too young for any experience have no profession to offer.
		if r.Field != "experiences" {
			t.Errorf("unexpected rejection %v", r)
		}
	}
	if seen != len(want) || len(docs)+len(rejected) != len(ws) {
		t.Errorf("%d planted rejected of %d; %d docs + %d rejected of %d", seen, len(want), len(docs), len(rejected), len(ws))
	}
}

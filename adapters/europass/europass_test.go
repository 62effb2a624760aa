package europass

import (
	"errors"
	"fmt"
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
	return &Builder{Validator: set, Now: func() time.Time { return siltest.Now }}
}

func TestGoldenAndXmllint(t *testing.T) {
	b := builder(t)
	ws, _ := siltest.Workers(t, sil.GenOptions{Workers: 3, Seed: 11})
	for i, w := range ws {
		doc, err := b.Document(w)
		if err != nil {
			t.Fatal(err)
		}
		siltest.Golden(t, fmt.Sprintf("outbound/europass/SkillsPassport-%d.xml", i+1), doc)
		siltest.Xmllint(t, Schema, doc)
	}
	// A worker with nothing optional: no contacts, experience, education or languages.
	w := *ws[0]
	w.Email, w.Cellulare, w.Telefono, w.Esperienze, w.Istruzione, w.Lingue = "", "", "", nil, nil, nil
	doc, err := b.Document(&w)
	if err != nil {
		t.Fatal(err)
	}
	siltest.Golden(t, "outbound/europass/SkillsPassport-minimal.xml", doc)
	siltest.Xmllint(t, Schema, doc)
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
		{"day range", func(w *sil.Worker) { w.CodiceFiscale = w.CodiceFiscale[:9] + "99" + w.CodiceFiscale[11:] }, "codice_fiscale", "day range"},
		{"no domicile", func(w *sil.Worker) { w.Domicilio.Comune = "" }, "dom_comune", "Belfiore code [A-Z][0-9]{3}"},
		{"unknown citizenship", func(w *sil.Worker) { w.Cittadinanza = "999" }, "cittadinanza", "known citizenship code"},
		{"unknown language", func(w *sil.Worker) { w.Lingue = []sil.Language{{Codice: "XXX"}} }, "languages[0].lingua", "known language code"},
		{"schema: CEFR level", func(w *sil.Worker) { w.Lingue = []sil.Language{{Codice: "ENG", Scritto: "D9"}} }, "Writing", "schema labour/europass.xsd"},
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
}

func TestBatchRejectsPlanted(t *testing.T) {
	b := builder(t)
	ws, g := siltest.Workers(t, sil.GenOptions{Workers: 60, Seed: 5, BadCheck: 3, MissingRequired: 3})
	docs, rejected := b.Batch(ws)
	want := map[string]sil.Planted{}
	for _, p := range g.Planted {
		want[p.SILID] = p
	}
	if len(docs) != 54 || len(rejected) != 6 {
		t.Fatalf("%d documents, %d rejected; want 54, 6: %v", len(docs), len(rejected), rejected)
	}
	for _, r := range rejected {
		if p := want[r.SILID]; r.Field != p.Field || r.Rule != p.Rule {
			t.Errorf("rejected %v, planted %+v", r, p)
		}
	}
}

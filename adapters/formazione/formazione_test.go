package formazione

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"porta/adapters/sil/siltest"
)

const schema = "labour/formazione.xsd"

func d(s string) time.Time { t, _ := time.Parse(time.DateOnly, s); return t }

func sample() Course {
	return Course{CodiceEnte: "A944S003140", CodiceFiscaleEnte: "80123456784", DenominazioneEnte: "CENTRO FORMAZIONE RENO",
		CodiceCorso: "SALD-2026-01", Titolo: "Saldatore a filo continuo", Descrizione: "Corso di qualifica per saldatori",
		Qualifica: "6.2.1.2.0.2", SedeComune: "A944", SedeIndirizzo: "VIA EMILIA 12", DataInizio: d("2026-04-13"),
		DataFine: d("2026-07-31"), DurataOre: 300, Posti: 18}
}

// refusal is what a Catalog returns for a record it refuses.
type refusal struct{ field, rule, reason string }

func (r *refusal) Error() string                     { return r.reason }
func (r *refusal) Problem() (string, string, string) { return r.field, r.rule, r.reason }

// memCatalog is a Catalog in memory, for the Service's own behaviour; the real one
// (adapters/merge) is tested there.
type memCatalog struct {
	courses map[string]Course
	gone    map[string]bool
	fail    error
}

func (m *memCatalog) PublishCourse(_ context.Context, _ string, c Course) (Outcome, error) {
	if m.fail != nil {
		return "", m.fail
	}
	if c.CodiceFiscaleEnte == "00000000000" {
		return Refused, &refusal{"corso/codiceFiscaleEnte", "partita IVA check", "bad check digit"}
	}
	old, ok := m.courses[c.Key()]
	m.courses[c.Key()] = c
	switch {
	case !ok:
		return Published, nil
	case old == c:
		return Unchanged, nil
	}
	return Updated, nil
}

func (m *memCatalog) WithdrawCourse(_ context.Context, _, ente, corso, _ string) (Outcome, error) {
	if _, ok := m.courses[ente+"/"+corso]; !ok {
		return Refused, &refusal{"codiceCorso", "published course", "no such course"}
	}
	m.gone[ente+"/"+corso] = true
	return Withdrawn, nil
}

func (m *memCatalog) SearchCourses(_ context.Context, q Query) ([]Course, error) {
	var out []Course
	for k, c := range m.courses {
		if !m.gone[k] && (q.Keyword == "" || strings.Contains(strings.ToLower(c.Titolo), strings.ToLower(q.Keyword))) {
			out = append(out, c)
		}
	}
	return out, nil
}

func TestServiceGolden(t *testing.T) {
	ctx := context.Background()
	cat := &memCatalog{courses: map[string]Course{}, gone: map[string]bool{}}
	svc := &Service{Source: "ente-reno", Catalog: cat}
	steps := []struct {
		name    string
		build   func() ([]byte, error)
		outcome Outcome // of the answer, "" for a search
	}{
		{"pubblica", func() ([]byte, error) { return BuildPublish(sample()) }, Published},
		{"pubblica_di_nuovo", func() ([]byte, error) { return BuildPublish(sample()) }, Unchanged},
		{"pubblica_aggiornato", func() ([]byte, error) { c := sample(); c.Posti = 20; return BuildPublish(c) }, Updated},
		{"pubblica_rifiutato", func() ([]byte, error) {
			c := sample()
			c.CodiceCorso, c.CodiceFiscaleEnte = "X-2", "00000000000"
			return BuildPublish(c)
		}, Refused},
		{"ricerca", func() ([]byte, error) { return BuildSearch(Query{Keyword: "saldatore", Limit: 10}) }, ""},
		{"ritira", func() ([]byte, error) {
			return BuildWithdraw("A944S003140", "SALD-2026-01", "annullato per mancanza di iscritti")
		}, Withdrawn},
		{"ritira_sconosciuto", func() ([]byte, error) { return BuildWithdraw("A944S003140", "NOPE", "errore") }, Refused},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			req, err := st.build()
			if err != nil {
				t.Fatal(err)
			}
			siltest.Golden(t, "inbound/formazione/"+st.name+"_richiesta.xml", req)
			siltest.Xmllint(t, schema, req)
			resp, err := svc.Handle(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			siltest.Golden(t, "inbound/formazione/"+st.name+"_risposta.xml", resp)
			siltest.Xmllint(t, schema, resp)
			if st.outcome == "" {
				cs, err := ParseSearchResult(resp)
				if err != nil || len(cs) != 1 || cs[0].Posti != 20 {
					t.Fatalf("search: %+v, %v", cs, err)
				}
				return
			}
			a, err := ParseAnswer(resp)
			if err != nil {
				t.Fatal(err)
			}
			if a.Outcome != st.outcome {
				t.Fatalf("outcome %s, want %s (%+v)", a.Outcome, st.outcome, a.Problems)
			}
			if st.outcome == Refused && (len(a.Problems) == 0 || a.Problems[0].Field == "" || a.Problems[0].Rule == "") {
				t.Fatalf("a refusal must name the field and the rule: %+v", a.Problems)
			}
		})
	}
}

func TestServiceRefusesInvalidCourseWithoutCatalog(t *testing.T) {
	cat := &memCatalog{fail: errors.New("must not be called")}
	svc := &Service{Catalog: cat}
	c := sample()
	c.DataFine = d("2026-01-01")
	c.SedeComune = "Bologna"
	// built by hand: BuildPublish refuses it too
	req, _ := marshal(&struct {
		XMLName struct{} `xml:"http://porta.lavoro.provincia.it/Formazione/CatalogoOfferta PubblicaCorso"`
		Corso   any      `xml:"corso"`
	}{Corso: courseToWire(&c)})
	resp, err := svc.Handle(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	siltest.Xmllint(t, schema, resp)
	a, err := ParseAnswer(resp)
	if err != nil || a.Outcome != Refused || len(a.Problems) != 2 {
		t.Fatalf("answer %+v, %v; want RIFIUTATO with 2 problems", a, err)
	}
	if _, err := BuildPublish(c); err == nil {
		t.Fatal("BuildPublish accepted an invalid course")
	}
}

func TestServiceErrors(t *testing.T) {
	cat := &memCatalog{courses: map[string]Course{}, gone: map[string]bool{}, fail: errors.New("database locked")}
	svc := &Service{Catalog: cat}
	req, _ := BuildPublish(sample())
	if _, err := svc.Handle(context.Background(), req); err == nil || !strings.Contains(err.Error(), "database locked") {
		t.Fatalf("a catalogue failure must be an error, got %v", err)
	}
	for _, doc := range []string{`<x`, `<RicercaCorsi xmlns="urn:x"/>`, `<EsitoRitiro xmlns="` + Namespace + `"/>`,
		`<RitiraCorso xmlns="` + Namespace + `"><codiceEnte>bad</codiceEnte></RitiraCorso>`} {
		_, err := svc.Handle(context.Background(), []byte(doc))
		var fe *FieldError
		if !errors.As(err, &fe) {
			t.Errorf("%s: err = %v, want a FieldError", doc, err)
		}
	}
}

// Package formazione is the province's training offer catalogue exchange
// (wsdl/formazione.wsdl, xsd/schemas/labour/formazione.xsd; our design): the domain course
// (Course), the search query, the builders and readers of the payloads, and the Service the
// province's gateway delivers PubblicaCorso, RitiraCorso and RicercaCorsi to, over a Catalog.
//
// Publish and withdraw are synchronous, not one-way: the body learns in the same exchange whether
// the course was accepted, and why not. This package must not store anything (the Catalog does:
// adapters/merge), nor know about the busta or HTTP.
package formazione

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	wire "porta/wsdl/formazione"
)

// Namespace is the target namespace of the catalogue's payloads.
const Namespace = "http://porta.lavoro.provincia.it/Formazione/CatalogoOfferta"

// MaxPayload caps the size of a payload this package decodes.
const MaxPayload = 4 << 20

// Course is one course of the catalogue.
type Course struct {
	CodiceEnte        string // [A-Z][0-9]{3}[A-Z][0-9]{6}, e.g. A944S003140
	CodiceFiscaleEnte string // 11 digits
	DenominazioneEnte string
	CodiceCorso       string // the body's own code; with CodiceEnte, the key
	Titolo            string
	Descrizione       string
	Qualifica         string // ISTAT CP2011, optional
	SedeComune        string // Belfiore code
	SedeIndirizzo     string
	DataInizio        time.Time
	DataFine          time.Time
	DurataOre         int
	Posti             int
}

// Key identifies the course: codiceEnte/codiceCorso.
func (c *Course) Key() string { return c.CodiceEnte + "/" + c.CodiceCorso }

// Query is a catalogue search; empty fields do not filter.
type Query struct {
	Keyword    string // in the title or description, case-insensitive
	Comune     string
	Qualifica  string
	StartsFrom time.Time
	Limit      int // 0 = the Catalog's default
}

// Outcome is the catalogue's decision (esito).
type Outcome string

// The outcomes.
const (
	Published Outcome = "PUBBLICATO"
	Updated   Outcome = "AGGIORNATO"
	Unchanged Outcome = "INVARIATO"
	Withdrawn Outcome = "RITIRATO"
	Refused   Outcome = "RIFIUTATO"
)

// Catalog keeps the courses. Publish and Withdraw are idempotent on the course key. A record the
// Catalog refuses is reported by an error with a Problem method (field, rule, reason); any other
// error is the Catalog's own failure.
type Catalog interface {
	PublishCourse(ctx context.Context, source string, c Course) (Outcome, error)
	WithdrawCourse(ctx context.Context, source, ente, corso, motivo string) (Outcome, error)
	SearchCourses(ctx context.Context, q Query) ([]Course, error)
}

// Problem is one reason for refusing a record.
type Problem struct {
	Field  string
	Rule   string
	Reason string
}

// problemer is what a Catalog's refusal error implements.
type problemer interface {
	Problem() (field, rule, reason string)
}

// FieldError reports a payload field that is missing or wrong.
type FieldError struct {
	Document string
	Problem
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("%s: %s: %s (%s)", e.Document, e.Field, e.Reason, e.Rule)
}

var (
	reEnte      = regexp.MustCompile(`^[A-Z][0-9]{3}[A-Z][0-9]{6}$`)
	reCorso     = regexp.MustCompile(`^[A-Za-z0-9._/-]{1,40}$`)
	reComune    = regexp.MustCompile(`^[A-Z][0-9]{3}$`)
	reQualifica = regexp.MustCompile(`^([0-9]\.){5}[0-9]{1,2}$`)
)

// Check returns the course's problems against the schema's rules and the catalogue's own
// (dates in order, positive duration). The codice fiscale of the body is checked by the Catalog.
func (c *Course) Check() []Problem {
	var ps []Problem
	add := func(field, rule, reason string) { ps = append(ps, Problem{field, rule, reason}) }
	if !reEnte.MatchString(c.CodiceEnte) {
		add("codiceEnte", "pattern [A-Z][0-9]{3}[A-Z][0-9]{6}", fmt.Sprintf("%q is not a body code", c.CodiceEnte))
	}
	if !reCorso.MatchString(c.CodiceCorso) {
		add("codiceCorso", "pattern [A-Za-z0-9._/-]{1,40}", fmt.Sprintf("%q is not a course code", c.CodiceCorso))
	}
	for _, f := range []struct{ name, v string }{{"denominazioneEnte", c.DenominazioneEnte}, {"titolo", c.Titolo}, {"sede/indirizzo", c.SedeIndirizzo}} {
		if strings.TrimSpace(f.v) == "" || len(f.v) > 200 {
			add(f.name, "length 1-200", "required, at most 200 characters")
		}
	}
	if len(c.Descrizione) > 4000 {
		add("descrizione", "length 0-4000", "at most 4000 characters")
	}
	if c.Qualifica != "" && !reQualifica.MatchString(c.Qualifica) {
		add("qualifica", "ISTAT CP2011 n.n.n.n.n.nn", fmt.Sprintf("%q is not a CP2011 code", c.Qualifica))
	}
	if !reComune.MatchString(c.SedeComune) {
		add("sede/codcomune", "Belfiore code [A-Z][0-9]{3}", fmt.Sprintf("%q is not a Belfiore code", c.SedeComune))
	}
	if c.DataInizio.IsZero() || c.DataFine.IsZero() {
		add("dataInizio/dataFine", "required", "both dates are required")
	} else if c.DataFine.Before(c.DataInizio) {
		add("dataFine", "dataFine >= dataInizio", "the course ends before it starts")
	}
	if c.DurataOre < 1 {
		add("durataOre", "positive", "the duration must be at least one hour")
	}
	if c.Posti < 0 {
		add("postiDisponibili", "non-negative", "places cannot be negative")
	}
	return ps
}

func ptr[T ~string](s string) *T {
	if s == "" {
		return nil
	}
	v := T(s)
	return &v
}

func str[T ~string](p *T) string {
	if p == nil {
		return ""
	}
	return strings.TrimSpace(string(*p))
}

func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(xml.Header)
	enc := xml.NewEncoder(&b)
	enc.Indent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	b.WriteByte('\n')
	return b.Bytes(), nil
}

// Root returns the local name of the payload's root element, which must be in Namespace.
func Root(data []byte) (string, error) {
	if len(data) > MaxPayload {
		return "", fmt.Errorf("formazione: payload is %d bytes, over the limit of %d", len(data), MaxPayload)
	}
	dec := xml.NewDecoder(bytes.NewReader(data))
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return "", errors.New("formazione: payload has no root element")
		}
		if err != nil {
			return "", fmt.Errorf("formazione: payload is not well-formed XML: %w", err)
		}
		switch t := tok.(type) {
		case xml.Directive:
			return "", errors.New("formazione: DTD declarations are not accepted")
		case xml.StartElement:
			if t.Name.Space != Namespace {
				return "", fmt.Errorf("formazione: root element {%s}%s is not in namespace %s", t.Name.Space, t.Name.Local, Namespace)
			}
			return t.Name.Local, nil
		}
	}
}

func decode(data []byte, root string, v any) error {
	got, err := Root(data)
	if err != nil {
		return &FieldError{root, Problem{root, "well-formed payload", err.Error()}}
	}
	if got != root {
		return &FieldError{root, Problem{root, "root element", fmt.Sprintf("root element is %s, want %s", got, root)}}
	}
	if err := xml.Unmarshal(data, v); err != nil {
		return &FieldError{root, Problem{root, "schema types", err.Error()}}
	}
	return nil
}

func courseToWire(c *Course) *wire.TipoCorso {
	ore, posti := wire.PositiveInteger(max(c.DurataOre, 0)), wire.NonNegativeInteger(max(c.Posti, 0))
	return &wire.TipoCorso{
		CodiceEnte: ptr[wire.TipoCodiceEnte](c.CodiceEnte), CodiceFiscaleEnte: ptr[wire.TipoCodiceFiscaleEnte](c.CodiceFiscaleEnte),
		DenominazioneEnte: ptr[wire.TipoTesto](c.DenominazioneEnte), CodiceCorso: ptr[wire.TipoCodiceCorso](c.CodiceCorso),
		Titolo: ptr[wire.TipoTesto](c.Titolo), Descrizione: ptr[wire.TipoTestoLungo](c.Descrizione),
		Qualifica:  ptr[wire.TipoQualifica](c.Qualifica),
		Sede:       &wire.TipoSede{Codcomune: ptr[wire.TipoComune](c.SedeComune), Indirizzo: ptr[wire.TipoTesto](c.SedeIndirizzo)},
		DataInizio: wire.NewDate(c.DataInizio), DataFine: wire.NewDate(c.DataFine),
		DurataOre: &ore, PostiDisponibili: &posti,
	}
}

func courseFromWire(w *wire.TipoCorso) Course {
	c := Course{
		CodiceEnte: str(w.CodiceEnte), CodiceFiscaleEnte: str(w.CodiceFiscaleEnte), DenominazioneEnte: str(w.DenominazioneEnte),
		CodiceCorso: str(w.CodiceCorso), Titolo: str(w.Titolo), Descrizione: str(w.Descrizione), Qualifica: str(w.Qualifica),
		DataInizio: w.DataInizio.Time(), DataFine: w.DataFine.Time(),
	}
	if w.Sede != nil {
		c.SedeComune, c.SedeIndirizzo = str(w.Sede.Codcomune), str(w.Sede.Indirizzo)
	}
	if w.DurataOre != nil {
		c.DurataOre = int(*w.DurataOre)
	}
	if w.PostiDisponibili != nil {
		c.Posti = int(*w.PostiDisponibili)
	}
	return c
}

// BuildPublish renders a PubblicaCorso.
func BuildPublish(c Course) ([]byte, error) {
	if ps := c.Check(); len(ps) > 0 {
		return nil, &FieldError{"PubblicaCorso", ps[0]}
	}
	return marshal(&wire.PubblicaCorso{Corso: courseToWire(&c)})
}

// BuildWithdraw renders a RitiraCorso.
func BuildWithdraw(ente, corso, motivo string) ([]byte, error) {
	if !reEnte.MatchString(ente) || !reCorso.MatchString(corso) || strings.TrimSpace(motivo) == "" {
		return nil, &FieldError{"RitiraCorso", Problem{"codiceEnte/codiceCorso/motivo", "required, patterns of the schema", fmt.Sprintf("%q/%q with motivo %q", ente, corso, motivo)}}
	}
	return marshal(&wire.RitiraCorso{CodiceEnte: ptr[wire.TipoCodiceEnte](ente), CodiceCorso: ptr[wire.TipoCodiceCorso](corso), Motivo: ptr[wire.TipoTesto](motivo)})
}

// BuildSearch renders a RicercaCorsi.
func BuildSearch(q Query) ([]byte, error) {
	w := &wire.RicercaCorsi{ParolaChiave: ptr[wire.TipoTesto](q.Keyword), Codcomune: ptr[wire.TipoComune](q.Comune), Qualifica: ptr[wire.TipoQualifica](q.Qualifica)}
	if !q.StartsFrom.IsZero() {
		w.DataInizioDa = wire.NewDate(q.StartsFrom)
	}
	if q.Limit > 0 {
		n := wire.PositiveInteger(q.Limit)
		w.MassimoRisultati = &n
	}
	return marshal(w)
}

// Answer is a decoded EsitoPubblicazione or EsitoRitiro.
type Answer struct {
	CodiceEnte  string
	CodiceCorso string
	Outcome     Outcome
	Problems    []Problem
}

func answerToWire(a Answer) wire.TipoEsitoOperazione {
	w := wire.TipoEsitoOperazione{CodiceEnte: ptr[wire.TipoCodiceEnte](a.CodiceEnte), CodiceCorso: ptr[wire.TipoCodiceCorso](a.CodiceCorso), Esito: ptr[wire.TipoEsito](string(a.Outcome))}
	for _, p := range a.Problems {
		w.Errore = append(w.Errore, &wire.TipoErrore{Campo: ptr[wire.TipoTesto](clip(p.Field)), Regola: ptr[wire.TipoTesto](clip(p.Rule)), Descrizione: ptr[wire.TipoTesto](clip(p.Reason))})
	}
	return w
}

func clip(s string) string {
	if len(s) > 200 {
		return s[:200]
	}
	return s
}

func answerFromWire(w *wire.TipoEsitoOperazione) *Answer {
	a := &Answer{CodiceEnte: str(w.CodiceEnte), CodiceCorso: str(w.CodiceCorso), Outcome: Outcome(str(w.Esito))}
	for _, e := range w.Errore {
		a.Problems = append(a.Problems, Problem{str(e.Campo), str(e.Regola), str(e.Descrizione)})
	}
	return a
}

// ParseAnswer reads an EsitoPubblicazione or an EsitoRitiro.
func ParseAnswer(data []byte) (*Answer, error) {
	root, err := Root(data)
	if err != nil {
		return nil, err
	}
	switch root {
	case "EsitoPubblicazione":
		var w wire.EsitoPubblicazione
		if err := decode(data, root, &w); err != nil {
			return nil, err
		}
		return answerFromWire(&w.TipoEsitoOperazione), nil
	case "EsitoRitiro":
		var w wire.EsitoRitiro
		if err := decode(data, root, &w); err != nil {
			return nil, err
		}
		return answerFromWire(&w.TipoEsitoOperazione), nil
	}
	return nil, fmt.Errorf("formazione: %s is not EsitoPubblicazione or EsitoRitiro", root)
}

// ParseSearchResult reads a RisultatoRicerca.
func ParseSearchResult(data []byte) ([]Course, error) {
	var w wire.RisultatoRicerca
	if err := decode(data, "RisultatoRicerca", &w); err != nil {
		return nil, err
	}
	out := make([]Course, 0, len(w.Corso))
	for _, c := range w.Corso {
		out = append(out, courseFromWire(c))
	}
	return out, nil
}

// Service is what the province's gateway delivers the catalogue's actions to.
type Service struct {
	// Source names the sender (the publishing body's party) for the catalogue's audit; the
	// gateway sets it per delivery, a Service being a cheap value.
	Source  string
	Catalog Catalog
}

// Handle answers one payload (the child of soap:Body): PubblicaCorso → EsitoPubblicazione,
// RitiraCorso → EsitoRitiro, RicercaCorsi → RisultatoRicerca. A course the catalogue refuses is
// answered with esito RIFIUTATO and its problems, not with an error. A payload that cannot be
// read at all gives a *FieldError; other errors are the Catalog's failures.
func (s *Service) Handle(ctx context.Context, request []byte) ([]byte, error) {
	root, err := Root(request)
	if err != nil {
		return nil, &FieldError{"payload", Problem{"root", "well-formed payload", err.Error()}}
	}
	switch root {
	case "PubblicaCorso":
		var w wire.PubblicaCorso
		if err := decode(request, root, &w); err != nil {
			return nil, err
		}
		if w.Corso == nil {
			return nil, &FieldError{root, Problem{"corso", "required", "no corso"}}
		}
		c := courseFromWire(w.Corso)
		if !reEnte.MatchString(c.CodiceEnte) || !reCorso.MatchString(c.CodiceCorso) {
			return nil, &FieldError{root, Problem{"corso/codiceEnte,codiceCorso", "patterns of the schema", fmt.Sprintf("%q/%q cannot identify a course", c.CodiceEnte, c.CodiceCorso)}}
		}
		a := Answer{CodiceEnte: c.CodiceEnte, CodiceCorso: c.CodiceCorso}
		if a.Problems = c.Check(); len(a.Problems) > 0 {
			a.Outcome = Refused
		} else if a.Outcome, a.Problems, err = decide(s.Catalog.PublishCourse(ctx, s.Source, c)); err != nil {
			return nil, err
		}
		return marshal(&wire.EsitoPubblicazione{TipoEsitoOperazione: answerToWire(a)})
	case "RitiraCorso":
		var w wire.RitiraCorso
		if err := decode(request, root, &w); err != nil {
			return nil, err
		}
		ente, corso, motivo := str(w.CodiceEnte), str(w.CodiceCorso), str(w.Motivo)
		if !reEnte.MatchString(ente) || !reCorso.MatchString(corso) {
			return nil, &FieldError{root, Problem{"codiceEnte,codiceCorso", "patterns of the schema", fmt.Sprintf("%q/%q cannot identify a course", ente, corso)}}
		}
		a := Answer{CodiceEnte: ente, CodiceCorso: corso}
		if motivo == "" {
			a.Outcome, a.Problems = Refused, []Problem{{"motivo", "required", "a withdrawal needs its reason"}}
		} else if a.Outcome, a.Problems, err = decide(s.Catalog.WithdrawCourse(ctx, s.Source, ente, corso, motivo)); err != nil {
			return nil, err
		}
		return marshal(&wire.EsitoRitiro{TipoEsitoOperazione: answerToWire(a)})
	case "RicercaCorsi":
		var w wire.RicercaCorsi
		if err := decode(request, root, &w); err != nil {
			return nil, err
		}
		q := Query{Keyword: str(w.ParolaChiave), Comune: str(w.Codcomune), Qualifica: str(w.Qualifica), StartsFrom: w.DataInizioDa.Time()}
		if w.MassimoRisultati != nil {
			q.Limit = int(min(*w.MassimoRisultati, 1000))
		}
		courses, err := s.Catalog.SearchCourses(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("formazione: search: %w", err)
		}
		out := &wire.RisultatoRicerca{NumeroRisultati: new(wire.NonNegativeInteger(len(courses)))}
		for i := range courses {
			out.Corso = append(out.Corso, courseToWire(&courses[i]))
		}
		return marshal(out)
	}
	return nil, &FieldError{"payload", Problem{"root", "one of PubblicaCorso, RitiraCorso, RicercaCorsi", root + " is not an action of this service"}}
}

// decide turns a Catalog's answer into an outcome: a refusal error becomes RIFIUTATO with its
// problem; any other error is returned.
func decide(o Outcome, err error) (Outcome, []Problem, error) {
	if err == nil {
		return o, nil, nil
	}
	var p problemer
	if errors.As(err, &p) {
		f, r, why := p.Problem()
		return Refused, []Problem{{f, r, why}}, nil
	}
	return "", nil, fmt.Errorf("formazione: catalogue: %w", err)
}

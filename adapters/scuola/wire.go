package scuola

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	wire "porta/wsdl/scuola"
	"porta/wsdl/xsdtypes"
)

// Namespace is the target namespace of the exchange's payloads.
const Namespace = "http://porta.lavoro.provincia.it/ANS/FrequenzeScolastiche"

// MaxPayload caps the size of a payload this package decodes (a large school's year).
const MaxPayload = 16 << 20

// FieldError reports a payload field that is missing or wrong: which document, which field (a
// path of element names) and what is wrong.
type FieldError struct {
	Document string
	Field    string
	Reason   string
}

func (e *FieldError) Error() string { return fmt.Sprintf("%s: %s: %s", e.Document, e.Field, e.Reason) }

var (
	reSchool = regexp.MustCompile(`^[A-Z]{2}[A-Z0-9]{2}[0-9]{5}[0-9A-Z]$`)
	reYear   = regexp.MustCompile(`^([0-9]{4})/([0-9]{4})$`)
	reID     = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
)

// CheckSchool reports whether code is a codice meccanografico.
func CheckSchool(code string) error {
	if !reSchool.MatchString(code) {
		return fmt.Errorf("%q is not a codice meccanografico (2 letters, 2 letters or digits, 5 digits, a check letter or digit)", code)
	}
	return nil
}

// CheckYear reports whether y is a school year aaaa/aaaa of two consecutive years.
func CheckYear(y string) error {
	m := reYear.FindStringSubmatch(y)
	if m == nil {
		return fmt.Errorf("%q is not a school year aaaa/aaaa", y)
	}
	a, _ := strconv.Atoi(m[1])
	b, _ := strconv.Atoi(m[2])
	if b != a+1 {
		return fmt.Errorf("school year %q: the second year must follow the first", y)
	}
	return nil
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

// Root returns the local name of the payload's root element if it is in Namespace.
func Root(data []byte) (string, error) {
	dec := xml.NewDecoder(bytes.NewReader(data))
	for {
		tok, err := dec.Token()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return "", errors.New("scuola: payload has no root element")
			}
			return "", fmt.Errorf("scuola: payload is not well-formed XML: %w", err)
		}
		switch t := tok.(type) {
		case xml.Directive:
			return "", errors.New("scuola: DTD declarations are not accepted")
		case xml.StartElement:
			if t.Name.Space != Namespace {
				return "", fmt.Errorf("scuola: root element {%s}%s is not in namespace %s", t.Name.Space, t.Name.Local, Namespace)
			}
			return t.Name.Local, nil
		}
	}
}

func decode(data []byte, root string, v any) error {
	if len(data) > MaxPayload {
		return &FieldError{root, root, fmt.Sprintf("payload is %d bytes, over the limit of %d", len(data), MaxPayload)}
	}
	got, err := Root(data)
	if err != nil {
		return &FieldError{root, root, err.Error()}
	}
	if got != root {
		return &FieldError{root, root, fmt.Sprintf("root element is %s, want %s", got, root)}
	}
	if err := xml.Unmarshal(data, v); err != nil {
		return &FieldError{root, root, err.Error()}
	}
	return nil
}

// BuildRequest renders a RichiestaEstrazione.
func BuildRequest(x Extraction) ([]byte, error) {
	if err := CheckSchool(x.School); err != nil {
		return nil, &FieldError{"RichiestaEstrazione", "codiceMeccanografico", err.Error()}
	}
	if err := CheckYear(x.Year); err != nil {
		return nil, &FieldError{"RichiestaEstrazione", "annoScolastico", err.Error()}
	}
	w := &wire.RichiestaEstrazione{
		CodiceMeccanografico: ptr[wire.TipoCodiceMeccanografico](x.School),
		AnnoScolastico:       ptr[wire.TipoAnnoScolastico](x.Year),
	}
	if !x.From.IsZero() {
		w.DataEventoDa = wire.NewDate(x.From)
	}
	return marshal(w)
}

// ParseRequest reads a RichiestaEstrazione (the ID is left empty: the school assigns it).
func ParseRequest(data []byte) (*Extraction, error) {
	var w wire.RichiestaEstrazione
	if err := decode(data, "RichiestaEstrazione", &w); err != nil {
		return nil, err
	}
	x := &Extraction{School: str(w.CodiceMeccanografico), Year: str(w.AnnoScolastico), From: w.DataEventoDa.Time()}
	if err := CheckSchool(x.School); err != nil {
		return nil, &FieldError{"RichiestaEstrazione", "codiceMeccanografico", err.Error()}
	}
	if err := CheckYear(x.Year); err != nil {
		return nil, &FieldError{"RichiestaEstrazione", "annoScolastico", err.Error()}
	}
	return x, nil
}

// BuildReceipt renders the RicevutaEstrazione for an accepted extraction.
func BuildReceipt(id string, at time.Time) ([]byte, error) {
	if !reID.MatchString(id) {
		return nil, &FieldError{"RicevutaEstrazione", "idEstrazione", fmt.Sprintf("%q is not 1-64 letters, digits, _ or -", id)}
	}
	return marshal(&wire.RicevutaEstrazione{IdEstrazione: ptr[wire.TipoIdEstrazione](id), DataOraRicezione: wire.NewDateTime(at)})
}

// ParseReceipt reads a RicevutaEstrazione and returns the extraction id.
func ParseReceipt(data []byte) (string, time.Time, error) {
	var w wire.RicevutaEstrazione
	if err := decode(data, "RicevutaEstrazione", &w); err != nil {
		return "", time.Time{}, err
	}
	id := str(w.IdEstrazione)
	if !reID.MatchString(id) {
		return "", time.Time{}, &FieldError{"RicevutaEstrazione", "idEstrazione", fmt.Sprintf("%q is not 1-64 letters, digits, _ or -", id)}
	}
	return id, w.DataOraRicezione.Time(), nil
}

// BuildPoll renders a RichiestaStatoEstrazione.
func BuildPoll(id string) ([]byte, error) {
	if !reID.MatchString(id) {
		return nil, &FieldError{"RichiestaStatoEstrazione", "idEstrazione", fmt.Sprintf("%q is not 1-64 letters, digits, _ or -", id)}
	}
	return marshal(&wire.RichiestaStatoEstrazione{IdEstrazione: ptr[wire.TipoIdEstrazione](id)})
}

// ParsePoll reads a RichiestaStatoEstrazione and returns the extraction id.
func ParsePoll(data []byte) (string, error) {
	var w wire.RichiestaStatoEstrazione
	if err := decode(data, "RichiestaStatoEstrazione", &w); err != nil {
		return "", err
	}
	id := str(w.IdEstrazione)
	if !reID.MatchString(id) {
		return "", &FieldError{"RichiestaStatoEstrazione", "idEstrazione", fmt.Sprintf("%q is not 1-64 letters, digits, _ or -", id)}
	}
	return id, nil
}

// BuildResult renders a RispostaStatoEstrazione. Pupils are written as they are: the province
// checks each record (codice fiscale included) and rejects bad ones alone.
func BuildResult(r *Result) ([]byte, error) {
	w := &wire.RispostaStatoEstrazione{IdEstrazione: ptr[wire.TipoIdEstrazione](r.ID), Stato: ptr[wire.TipoStatoEstrazione](string(r.Status))}
	switch r.Status {
	case InProgress:
	case Failed:
		w.Errore = &wire.TipoErrore{Codice: ptr[wire.TipoTesto](r.Code), Descrizione: ptr[wire.TipoTesto](r.Reason)}
	case Completed:
		w.CodiceMeccanografico = ptr[wire.TipoCodiceMeccanografico](r.School)
		w.AnnoScolastico = ptr[wire.TipoAnnoScolastico](r.Year)
		w.ListaAlunni = &wire.TipoListaAlunni{}
		v := ptr[wire.TipoValore]
		for _, p := range r.Pupils {
			anno := ""
			if p.ClasseAnno != 0 {
				anno = strconv.Itoa(p.ClasseAnno)
			}
			w.ListaAlunni.Alunno = append(w.ListaAlunni.Alunno, &wire.TipoAlunno{
				CodiceFiscale:        v(p.CodiceFiscale),
				Cognome:              v(p.Cognome),
				Nome:                 v(p.Nome),
				DataNascita:          v(isoDay(p.DataNascita)),
				Classe:               &wire.TipoClasse{Anno: v(anno), Sezione: v(p.ClasseSezione)},
				StatoFrequenza:       v(string(p.Stato)),
				MomentoComunicazione: v(string(p.Momento)),
				DataEvento:           v(isoDay(p.DataEvento)),
				ScuolaDestinazione:   v(p.ScuolaDestinazione),
			})
		}
	default:
		return nil, &FieldError{"RispostaStatoEstrazione", "stato", fmt.Sprintf("%q is not IN_CORSO, COMPLETATA or ERRORE", r.Status)}
	}
	return marshal(w)
}

// ParseResult reads a RispostaStatoEstrazione. Document-level problems are errors; the pupils are
// returned as sent, for the province to check one by one.
func ParseResult(data []byte) (*Result, error) {
	// Every value of a pupil is a string (tipoValore): one pupil's bad date or class year is noted
	// on that pupil (Pupil.Unreadable) and the merge rejects it alone (issue 4), instead of a
	// strict decoder failing the school's whole extraction.
	var w wire.RispostaStatoEstrazione
	if err := decode(data, "RispostaStatoEstrazione", &w); err != nil {
		return nil, err
	}
	r := &Result{ID: str(w.IdEstrazione), Status: Status(str(w.Stato)), School: str(w.CodiceMeccanografico), Year: str(w.AnnoScolastico)}
	switch r.Status {
	case InProgress:
	case Failed:
		if w.Errore == nil {
			return nil, &FieldError{"RispostaStatoEstrazione", "errore", "required when stato is ERRORE"}
		}
		r.Code, r.Reason = str(w.Errore.Codice), str(w.Errore.Descrizione)
	case Completed:
		if err := CheckSchool(r.School); err != nil {
			return nil, &FieldError{"RispostaStatoEstrazione", "codiceMeccanografico", err.Error()}
		}
		if err := CheckYear(r.Year); err != nil {
			return nil, &FieldError{"RispostaStatoEstrazione", "annoScolastico", err.Error()}
		}
		if w.ListaAlunni != nil {
			for _, a := range w.ListaAlunni.Alunno {
				r.Pupils = append(r.Pupils, pupilOf(a))
			}
		}
	default:
		return nil, &FieldError{"RispostaStatoEstrazione", "stato", fmt.Sprintf("%q is not IN_CORSO, COMPLETATA or ERRORE", str(w.Stato))}
	}
	return r, nil
}

// isoDay is t as an xs:date, or "" for the zero time.
func isoDay(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.DateOnly)
}

// pupilOf reads one alunno, noting each value that is not of its type in Pupil.Unreadable.
func pupilOf(a *wire.TipoAlunno) Pupil {
	p := Pupil{
		CodiceFiscale: str(a.CodiceFiscale), Cognome: str(a.Cognome), Nome: str(a.Nome),
		Stato: Stato(str(a.StatoFrequenza)), Momento: Momento(str(a.MomentoComunicazione)),
		ScuolaDestinazione: str(a.ScuolaDestinazione),
	}
	p.DataNascita = p.date("alunno/dataNascita", str(a.DataNascita))
	p.DataEvento = p.date("alunno/dataEvento", str(a.DataEvento))
	if a.Classe != nil {
		p.ClasseSezione = str(a.Classe.Sezione)
		if v := str(a.Classe.Anno); v != "" {
			n, err := strconv.ParseUint(v, 10, 32)
			if err != nil || n == 0 {
				p.Unreadable = append(p.Unreadable, Unreadable{Field: "alunno/classe/anno", Rule: "xs:positiveInteger", Value: v})
			} else {
				p.ClasseAnno = int(n)
			}
		}
	}
	return p
}

// date reads the xs:date text v of field: the zero time when absent; when not a date, the zero
// time and a note in p.Unreadable.
func (p *Pupil) date(field, v string) time.Time {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}
	}
	t, err := xsdtypes.ParseDate(v)
	if err != nil {
		p.Unreadable = append(p.Unreadable, Unreadable{Field: field, Rule: "xs:date (aaaa-mm-gg)", Value: v})
	}
	return t
}

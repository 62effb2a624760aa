// Package inps is the province's side of the INPS lists of workers of companies in crisis who
// receive income support (wsdl/inps.wsdl, xsd/schemas/labour/inps.xsd; our design in INPS naming
// style): the domain list (List, Recipient), its builder and reader, the Receiver the province's
// gateway delivers the one-way message to, and a deterministic generator of lists.
//
// It must not match workers or keep anything (a Sink does: adapters/merge), nor know about the
// busta or HTTP. Records are checked one by one downstream, so a bad worker never sinks a list:
// the schema checks each Percettore's structure only, and Parse reads a value it cannot type (a
// date that is not a date) into the record's Unreadable list instead of failing the document.
package inps

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"time"

	wire "porta/wsdl/inps"
	"porta/wsdl/xsdtypes"
)

// Namespace is the target namespace of the list.
const Namespace = "http://porta.lavoro.provincia.it/INPS/PercettoriSostegnoReddito"

// MaxPayload caps the size of a list this package decodes.
const MaxPayload = 32 << 20

// Benefit is the kind of income support (TipoPrestazione).
type Benefit string

// The benefits.
const (
	CIGO    Benefit = "CIGO"
	CIGS    Benefit = "CIGS"
	FIS     Benefit = "FIS"
	NASPI   Benefit = "NASPI"
	DISCOLL Benefit = "DISCOLL"
)

// Valid reports whether b is a known benefit.
func (b Benefit) Valid() bool {
	switch b {
	case CIGO, CIGS, FIS, NASPI, DISCOLL:
		return true
	}
	return false
}

// Company is the employer in crisis.
type Company struct {
	CodiceFiscale  string // 11 digits, or 16 for a sole trader
	Matricola      string // INPS company number, 10 digits
	RagioneSociale string
	Comune         string // Belfiore code of the workplace
}

// Recipient is one worker on the list.
type Recipient struct {
	CodiceFiscale string
	Cognome       string
	Nome          string
	DataNascita   time.Time
	Company       Company
	Benefit       Benefit
	NumeroDomanda string    // INPS application number: with the codice fiscale, the record's key
	DataInizio    time.Time // benefit start
	DataFine      time.Time // zero when open-ended
	Importo       string    // monthly amount as an xs:decimal, "" when not given
	// Unreadable lists the values Parse could not read into the typed fields above (which stay
	// zero), in document order: the record's checker rejects it for the first (adapters/merge).
	Unreadable []Unreadable `json:",omitempty"`
}

// Unreadable is a value of a record that is not of its field's type.
type Unreadable struct {
	Field string // path from Percettore, e.g. Percettore/DataNascita
	Rule  string // e.g. xs:date
	Value string // as sent
}

// date reads the xs:date text v of field: the zero time when absent; when not a date, the zero
// time and a note in r.Unreadable.
func (r *Recipient) date(field string, v *wire.ValoreType) time.Time {
	s := str(v)
	if s == "" {
		return time.Time{}
	}
	t, err := xsdtypes.ParseDate(s)
	if err != nil {
		r.Unreadable = append(r.Unreadable, Unreadable{Field: field, Rule: "xs:date (aaaa-mm-gg)", Value: s})
	}
	return t
}

// Key identifies the record: codice fiscale and application number.
func (r *Recipient) Key() string { return r.CodiceFiscale + "/" + r.NumeroDomanda }

// List is one ElencoPercettori.
type List struct {
	ID         string // IdentificativoElenco
	Date       time.Time
	Sede       string // INPS office, 4 digits
	Provincia  string
	Recipients []Recipient
}

// FieldError reports a document-level problem: which field and what is wrong.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("ElencoPercettori: %s: %s", e.Field, e.Reason)
}

func ptr[T ~string](s string) *T {
	if s == "" {
		return nil
	}
	v := T(s)
	return &v
}

func val(s string) *wire.ValoreType { return ptr[wire.ValoreType](s) }

// day is t's xs:date, "" for the zero time.
func day(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.DateOnly)
}

func str[T ~string](p *T) string {
	if p == nil {
		return ""
	}
	return strings.TrimSpace(string(*p))
}

// Build renders the list. It checks the header; the workers are written as they are (a missing
// value is left out), for the receiver to check one by one.
func Build(l *List) ([]byte, error) {
	if l.ID == "" || l.Date.IsZero() || l.Sede == "" || l.Provincia == "" {
		return nil, &FieldError{"Intestazione", "IdentificativoElenco, DataElenco, CodiceSede and CodiceProvincia are required"}
	}
	if len(l.Recipients) == 0 {
		return nil, &FieldError{"Percettore", "at least one is required"}
	}
	w := &wire.ElencoPercettori{Intestazione: &wire.IntestazioneType{
		IdentificativoElenco: ptr[wire.TestoType](l.ID), DataElenco: wire.NewDate(l.Date),
		CodiceSede: ptr[wire.CodiceSedeType](l.Sede), CodiceProvincia: ptr[wire.TestoType](l.Provincia),
	}}
	for _, r := range l.Recipients {
		w.Percettore = append(w.Percettore, &wire.PercettoreType{
			CodiceFiscale: val(r.CodiceFiscale), Cognome: val(r.Cognome), Nome: val(r.Nome), DataNascita: val(day(r.DataNascita)),
			Azienda: &wire.AziendaType{
				CodiceFiscaleAzienda: val(r.Company.CodiceFiscale), MatricolaAzienda: val(r.Company.Matricola),
				RagioneSociale: val(r.Company.RagioneSociale), ComuneSedeLavoro: val(r.Company.Comune),
			},
			Prestazione: &wire.PrestazioneType{
				TipoPrestazione: val(string(r.Benefit)), NumeroDomanda: val(r.NumeroDomanda),
				DataInizioPrestazione: val(day(r.DataInizio)), DataFinePrestazione: val(day(r.DataFine)),
				ImportoMensile: val(r.Importo),
			},
		})
	}
	var b bytes.Buffer
	b.WriteString(xml.Header)
	enc := xml.NewEncoder(&b)
	enc.Indent("", "  ")
	if err := enc.Encode(w); err != nil {
		return nil, fmt.Errorf("inps: encode list %s: %w", l.ID, err)
	}
	b.WriteByte('\n')
	return b.Bytes(), nil
}

// Parse reads an ElencoPercettori. Header problems and malformed XML are errors; the workers are
// returned as sent (a missing company gives an empty Company, a date that is not one a note in
// Unreadable), for the receiver to check one by one.
func Parse(data []byte) (*List, error) {
	if len(data) > MaxPayload {
		return nil, &FieldError{"ElencoPercettori", fmt.Sprintf("payload is %d bytes, over the limit of %d", len(data), MaxPayload)}
	}
	dec := xml.NewDecoder(bytes.NewReader(data))
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return nil, &FieldError{"ElencoPercettori", "no root element"}
		}
		if err != nil {
			return nil, &FieldError{"ElencoPercettori", "not well-formed XML: " + err.Error()}
		}
		if _, ok := tok.(xml.Directive); ok {
			return nil, &FieldError{"ElencoPercettori", "DTD declarations are not accepted"}
		}
		if t, ok := tok.(xml.StartElement); ok {
			if t.Name.Space != Namespace || t.Name.Local != "ElencoPercettori" {
				return nil, &FieldError{"ElencoPercettori", fmt.Sprintf("root element is {%s}%s, want {%s}ElencoPercettori", t.Name.Space, t.Name.Local, Namespace)}
			}
			break
		}
	}
	var w wire.ElencoPercettori
	if err := xml.Unmarshal(data, &w); err != nil {
		return nil, &FieldError{"ElencoPercettori", err.Error()}
	}
	h := w.Intestazione
	if h == nil {
		return nil, &FieldError{"Intestazione", "required"}
	}
	l := &List{ID: str(h.IdentificativoElenco), Date: h.DataElenco.Time(), Sede: str(h.CodiceSede), Provincia: str(h.CodiceProvincia)}
	if l.ID == "" {
		return nil, &FieldError{"Intestazione/IdentificativoElenco", "required"}
	}
	if l.Date.IsZero() {
		return nil, &FieldError{"Intestazione/DataElenco", "required"}
	}
	for _, p := range w.Percettore {
		r := Recipient{CodiceFiscale: str(p.CodiceFiscale), Cognome: str(p.Cognome), Nome: str(p.Nome)}
		r.DataNascita = r.date("Percettore/DataNascita", p.DataNascita)
		if a := p.Azienda; a != nil {
			r.Company = Company{CodiceFiscale: str(a.CodiceFiscaleAzienda), Matricola: str(a.MatricolaAzienda), RagioneSociale: str(a.RagioneSociale), Comune: str(a.ComuneSedeLavoro)}
		}
		if s := p.Prestazione; s != nil {
			r.Benefit = Benefit(str(s.TipoPrestazione))
			r.NumeroDomanda = str(s.NumeroDomanda)
			r.DataInizio = r.date("Percettore/Prestazione/DataInizioPrestazione", s.DataInizioPrestazione)
			r.DataFine = r.date("Percettore/Prestazione/DataFinePrestazione", s.DataFinePrestazione)
			r.Importo = str(s.ImportoMensile)
		}
		l.Recipients = append(l.Recipients, r)
	}
	if len(l.Recipients) == 0 {
		return nil, &FieldError{"Percettore", "at least one is required"}
	}
	return l, nil
}

// Sink takes a received list: it checks, matches and keeps each worker, rejecting bad ones alone.
// An error means the list could not be taken at all (storage down) and must be delivered again.
type Sink interface {
	ReceiveINPS(ctx context.Context, source string, l *List) error
}

// Receiver is what the province's gateway delivers the one-way ElencoPercettori to.
type Receiver struct {
	Source string // who sends: the INPS party's name, recorded with every merge
	Sink   Sink
}

// Handle takes one ElencoPercettori payload (the child of soap:Body). The operation is one-way,
// so a nil response and a nil error mean the list was taken (the gateway acknowledges it with the
// busta's Riscontro). A *FieldError means the document itself is unacceptable; any other error
// comes from the Sink and the delivery must be retried (the Sink is idempotent).
func (h *Receiver) Handle(ctx context.Context, request []byte) ([]byte, error) {
	l, err := Parse(request)
	if err != nil {
		return nil, err
	}
	if err := h.Sink.ReceiveINPS(ctx, h.Source, l); err != nil {
		return nil, fmt.Errorf("inps: list %s: %w", l.ID, err)
	}
	return nil, nil
}

// Person is a worker who may appear on a list.
type Person struct {
	CodiceFiscale string
	Cognome       string
	Nome          string
	DataNascita   time.Time
}

// GenOptions tunes Generate.
type GenOptions struct {
	Seed  uint64
	Date  time.Time // the list's date
	Share float64   // fraction of the people on the list
	ID    string
}

var companies = []Company{
	{"02112345679", "3700012345", "OFFICINE MECCANICHE RENO SPA", "A944"},
	{"03456789019", "3700067890", "CERAMICHE DEL SANTERNO SRL", "E289"},
	{"80123456784", "3700054321", "TESSITURA EMILIANA SRL", "B880"},
}

// Generate makes a list of a share of the people, deterministically for a seed.
func Generate(people []Person, opt GenOptions) *List {
	r := rand.New(rand.NewPCG(opt.Seed, opt.Seed^0xda942042e4dd58b5))
	l := &List{ID: opt.ID, Date: opt.Date, Sede: "1300", Provincia: "BO"}
	benefits := []Benefit{CIGO, CIGS, FIS, NASPI, DISCOLL}
	for i, p := range people {
		if r.Float64() >= opt.Share {
			continue
		}
		start := opt.Date.AddDate(0, -1-r.IntN(6), -r.IntN(28))
		rec := Recipient{
			CodiceFiscale: p.CodiceFiscale, Cognome: p.Cognome, Nome: p.Nome, DataNascita: p.DataNascita,
			Company: companies[r.IntN(len(companies))], Benefit: benefits[r.IntN(len(benefits))],
			NumeroDomanda: fmt.Sprintf("%s-%06d", opt.Date.Format("2006"), i+1), DataInizio: start,
			Importo: fmt.Sprintf("%d.%02d", 700+r.IntN(700), r.IntN(100)),
		}
		if r.IntN(2) == 0 {
			rec.DataFine = start.AddDate(0, 6+r.IntN(12), 0)
		}
		l.Recipients = append(l.Recipients, rec)
	}
	return l
}

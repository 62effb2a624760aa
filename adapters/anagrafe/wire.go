package anagrafe

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"porta/adapters/codicefiscale"
	wire "porta/wsdl/anagrafe"
)

// Namespace is the target namespace of the consultation's payloads.
const Namespace = "http://porta.lavoro.provincia.it/ANPR/E002Consultazione"

// MaxPayload caps the size of a payload this package decodes.
const MaxPayload = 1 << 20

// Error codes of rispostaKO (codiceErroreAnomalia). ANPR's own catalogue of codes is not public;
// these are ours.
const (
	CodeInvalidRequest = "E002-RICHIESTA" // the request is not a valid RichiestaE002
	CodeInvalidCF      = "E002-CF"        // the codice fiscale fails its check
	CodeNotFound       = "E002-NOTFOUND"  // no subject with that codice fiscale in this registry
	CodeFutureDate     = "E002-DATA"      // dataRiferimentoRichiesta is after today
)

// FieldError reports a payload field that is missing or wrong: which document, which field (as a
// path of element names) and what is wrong with it.
type FieldError struct {
	Document string // root element, e.g. RichiestaE002
	Field    string // e.g. criteriRicerca/codiceFiscale
	Reason   string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("%s: %s: %s", e.Document, e.Field, e.Reason)
}

// Problem is one entry of a rispostaKO's listaErrori.
type Problem struct {
	Code string // codiceErroreAnomalia
	Text string // testoErroreAnomalia
}

// FaultError is a rispostaKO: the registry understood the request but could not answer it.
// Detail holds the rispostaKO payload, which the WSDL declares as the operation's fault detail.
type FaultError struct {
	IDClient string // idOperazioneClient of the request
	Problems []Problem
	Detail   []byte
}

func (e *FaultError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.Code + " " + p.Text
	}
	return "anagrafe rispostaKO: " + strings.Join(parts, "; ")
}

// Request is a consultation by codice fiscale (RichiestaE002).
type Request struct {
	IDClient      string    // idOperazioneClient, unique per consumer
	From, To      string    // codMittente, codDestinatario
	At            time.Time // dataOraRichiesta
	CodiceFiscale string
	Reference     time.Time // dataRiferimentoRichiesta: the day the answer must describe
	Motivo        string    // motivoRichiesta
	CasoUso       string    // casoUso
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

// marshal renders a payload with an XML declaration.
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

// decode reads a payload whose root must be the named element of this namespace.
func decode(data []byte, root string, v any) error {
	if len(data) > MaxPayload {
		return &FieldError{Document: root, Field: root, Reason: fmt.Sprintf("payload is %d bytes, over the limit of %d", len(data), MaxPayload)}
	}
	dec := xml.NewDecoder(bytes.NewReader(data))
	for {
		tok, err := dec.Token()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return &FieldError{Document: root, Field: root, Reason: "no root element"}
			}
			return &FieldError{Document: root, Field: root, Reason: "not well-formed XML: " + err.Error()}
		}
		switch t := tok.(type) {
		case xml.Directive:
			return &FieldError{Document: root, Field: root, Reason: "DTD declarations are not accepted"}
		case xml.StartElement:
			if t.Name.Space != Namespace || t.Name.Local != root {
				return &FieldError{Document: root, Field: root, Reason: fmt.Sprintf("root element is {%s}%s, want {%s}%s", t.Name.Space, t.Name.Local, Namespace, root)}
			}
			if err := dec.DecodeElement(v, &t); err != nil {
				return &FieldError{Document: root, Field: root, Reason: err.Error()}
			}
			return nil
		}
	}
}

// BuildRequest renders a RichiestaE002. The codice fiscale is validated before it goes out.
func BuildRequest(r Request) ([]byte, error) {
	if err := codicefiscale.Validate(r.CodiceFiscale); err != nil {
		return nil, &FieldError{Document: "RichiestaE002", Field: "criteriRicerca/codiceFiscale", Reason: err.Error()}
	}
	for _, f := range []struct{ name, v string }{{"testataRichiesta/idOperazioneClient", r.IDClient}, {"testataRichiesta/codMittente", r.From}, {"testataRichiesta/codDestinatario", r.To}, {"datiRichiesta/motivoRichiesta", r.Motivo}, {"datiRichiesta/casoUso", r.CasoUso}} {
		if strings.TrimSpace(f.v) == "" {
			return nil, &FieldError{Document: "RichiestaE002", Field: f.name, Reason: "required"}
		}
	}
	if r.At.IsZero() || r.Reference.IsZero() {
		return nil, &FieldError{Document: "RichiestaE002", Field: "dataOraRichiesta/dataRiferimentoRichiesta", Reason: "required"}
	}
	return marshal(&wire.RichiestaE002{
		TestataRichiesta: &wire.TipoTestataRichiesta{
			IdOperazioneClient: ptr[wire.TipoTestoId](r.IDClient),
			CodMittente:        ptr[wire.TipoTesto](r.From),
			CodDestinatario:    ptr[wire.TipoTesto](r.To),
			DataOraRichiesta:   wire.NewDateTime(r.At),
		},
		CriteriRicerca: &wire.TipoCriteriRicerca{CodiceFiscale: ptr[wire.TipoCodiceFiscale](r.CodiceFiscale)},
		DatiRichiesta: &wire.TipoDatiRichiesta{
			DataRiferimentoRichiesta: wire.NewDate(r.Reference),
			MotivoRichiesta:          ptr[wire.TipoTesto](r.Motivo),
			CasoUso:                  ptr[wire.TipoTesto](r.CasoUso),
		},
	})
}

// ParseRequest reads a RichiestaE002. Every required field must be present; the codice fiscale
// is returned as sent (the Service checks it and answers rispostaKO when it is wrong).
func ParseRequest(data []byte) (*Request, error) {
	var w wire.RichiestaE002
	if err := decode(data, "RichiestaE002", &w); err != nil {
		return nil, err
	}
	missing := func(f string) error { return &FieldError{Document: "RichiestaE002", Field: f, Reason: "required"} }
	if w.TestataRichiesta == nil {
		return nil, missing("testataRichiesta")
	}
	if w.CriteriRicerca == nil || str(w.CriteriRicerca.CodiceFiscale) == "" {
		return nil, missing("criteriRicerca/codiceFiscale")
	}
	if w.DatiRichiesta == nil {
		return nil, missing("datiRichiesta")
	}
	r := &Request{
		IDClient:      str(w.TestataRichiesta.IdOperazioneClient),
		From:          str(w.TestataRichiesta.CodMittente),
		To:            str(w.TestataRichiesta.CodDestinatario),
		At:            w.TestataRichiesta.DataOraRichiesta.Time(),
		CodiceFiscale: str(w.CriteriRicerca.CodiceFiscale),
		Reference:     w.DatiRichiesta.DataRiferimentoRichiesta.Time(),
		Motivo:        str(w.DatiRichiesta.MotivoRichiesta),
		CasoUso:       str(w.DatiRichiesta.CasoUso),
	}
	for _, f := range []struct{ name, v string }{{"testataRichiesta/idOperazioneClient", r.IDClient}, {"testataRichiesta/codMittente", r.From}, {"testataRichiesta/codDestinatario", r.To}, {"datiRichiesta/motivoRichiesta", r.Motivo}, {"datiRichiesta/casoUso", r.CasoUso}} {
		if f.v == "" {
			return nil, missing(f.name)
		}
	}
	if r.At.IsZero() {
		return nil, missing("testataRichiesta/dataOraRichiesta")
	}
	if r.Reference.IsZero() {
		return nil, missing("datiRichiesta/dataRiferimentoRichiesta")
	}
	return r, nil
}

func comuneToWire(c Comune) *wire.TipoComune {
	return &wire.TipoComune{
		NomeComune:          ptr[wire.TipoTesto](c.Nome),
		CodiceIstat:         ptr[wire.TipoCodiceIstat](c.CodiceIstat),
		SiglaProvinciaIstat: ptr[wire.TipoSiglaProvincia](c.Provincia),
	}
}

func comuneFromWire(w *wire.TipoComune, field string) (Comune, error) {
	if w == nil {
		return Comune{}, &FieldError{Document: "RispostaE002OK", Field: field, Reason: "required"}
	}
	c := Comune{Nome: str(w.NomeComune), CodiceIstat: str(w.CodiceIstat), Provincia: str(w.SiglaProvinciaIstat)}
	if c.Nome == "" || c.CodiceIstat == "" || c.Provincia == "" {
		return c, &FieldError{Document: "RispostaE002OK", Field: field, Reason: "nomeComune, codiceIstat and siglaProvinciaIstat are required"}
	}
	return c, nil
}

func subjectToWire(s *Subject) *wire.TipoDatiSoggetto {
	sesso := wire.TipoSesso(s.Sesso)
	g := &wire.TipoGeneralita{
		CodiceFiscale: ptr[wire.TipoCodiceFiscale](s.CodiceFiscale),
		Cognome:       ptr[wire.TipoTesto](s.Cognome),
		Nome:          ptr[wire.TipoTesto](s.Nome),
		Sesso:         &sesso,
		DataNascita:   wire.NewDate(s.DataNascita),
		LuogoNascita:  &wire.TipoLuogoNascita{Localita: ptr[wire.TipoTesto](s.LocalitaNascita)},
	}
	if s.ComuneNascita != nil {
		g.LuogoNascita.Comune = comuneToWire(*s.ComuneNascita)
	}
	d := &wire.TipoDatiSoggetto{Generalita: g}
	if r := s.Residence; r != nil {
		n := wire.PositiveInteger(r.Address.Numero)
		d.Residenza = &wire.TipoResidenza{
			Indirizzo: &wire.TipoIndirizzo{
				Cap:    ptr[wire.TipoCap](r.Address.CAP),
				Comune: comuneToWire(r.Address.Comune),
				Toponimo: &wire.TipoToponimo{
					Specie:                ptr[wire.TipoTesto](r.Address.Specie),
					DenominazioneToponimo: ptr[wire.TipoTesto](r.Address.Denominazione),
				},
				NumeroCivico: &wire.TipoNumeroCivico{Numero: &n, Lettera: ptr[wire.TipoTesto](r.Address.Lettera)},
			},
			DataDecorrenzaResidenza: wire.NewDate(r.Since),
		}
	}
	if x := s.Death; x != nil {
		d.DatiDecesso = &wire.TipoDatiDecesso{DataEvento: wire.NewDate(x.Date)}
		if x.Place != nil {
			d.DatiDecesso.LuogoEvento = comuneToWire(*x.Place)
		}
	}
	if e := s.Emigration; e != nil {
		d.IscrizioneAIRE = &wire.TipoIscrizioneAIRE{
			DataDecorrenza:   wire.NewDate(e.Since),
			CodiceStato:      ptr[wire.TipoCodiceIstatStato](e.StateCode),
			DescrizioneStato: ptr[wire.TipoTesto](e.StateName),
		}
	}
	return d
}

func subjectFromWire(w *wire.TipoDatiSoggetto, at string) (*Subject, error) {
	bad := func(field, reason string) error {
		return &FieldError{Document: "RispostaE002OK", Field: at + "/" + field, Reason: reason}
	}
	if w == nil || w.Generalita == nil {
		return nil, bad("generalita", "required")
	}
	g := w.Generalita
	s := &Subject{
		CodiceFiscale: str(g.CodiceFiscale), Cognome: str(g.Cognome), Nome: str(g.Nome),
		DataNascita: g.DataNascita.Time(),
	}
	if g.Sesso != nil {
		s.Sesso = string(*g.Sesso)
	}
	if err := codicefiscale.Validate(s.CodiceFiscale); err != nil {
		return nil, bad("generalita/codiceFiscale", err.Error())
	}
	if s.Cognome == "" || s.Nome == "" {
		return nil, bad("generalita/cognome,nome", "required")
	}
	if s.Sesso != "M" && s.Sesso != "F" {
		return nil, bad("generalita/sesso", fmt.Sprintf("%q is not M or F", s.Sesso))
	}
	if s.DataNascita.IsZero() {
		return nil, bad("generalita/dataNascita", "required")
	}
	if g.LuogoNascita != nil {
		s.LocalitaNascita = str(g.LuogoNascita.Localita)
		if g.LuogoNascita.Comune != nil {
			c, err := comuneFromWire(g.LuogoNascita.Comune, at+"/generalita/luogoNascita/comune")
			if err != nil {
				return nil, err
			}
			s.ComuneNascita = &c
		}
	}
	if r := w.Residenza; r != nil {
		if r.Indirizzo == nil || r.Indirizzo.Toponimo == nil || r.Indirizzo.NumeroCivico == nil || r.Indirizzo.NumeroCivico.Numero == nil {
			return nil, bad("residenza/indirizzo", "cap, comune, toponimo and numeroCivico/numero are required")
		}
		c, err := comuneFromWire(r.Indirizzo.Comune, at+"/residenza/indirizzo/comune")
		if err != nil {
			return nil, err
		}
		s.Residence = &Residence{
			Address: Address{
				CAP: str(r.Indirizzo.Cap), Comune: c,
				Specie: str(r.Indirizzo.Toponimo.Specie), Denominazione: str(r.Indirizzo.Toponimo.DenominazioneToponimo),
				Numero: int(*r.Indirizzo.NumeroCivico.Numero), Lettera: str(r.Indirizzo.NumeroCivico.Lettera),
			},
			Since: r.DataDecorrenzaResidenza.Time(),
		}
		if s.Residence.Since.IsZero() {
			return nil, bad("residenza/dataDecorrenzaResidenza", "required")
		}
		if len(s.Residence.Address.CAP) != 5 || s.Residence.Address.Numero < 1 {
			return nil, bad("residenza/indirizzo", "cap must have 5 digits and numeroCivico/numero be at least 1")
		}
	}
	if x := w.DatiDecesso; x != nil {
		s.Death = &Death{Date: x.DataEvento.Time()}
		if s.Death.Date.IsZero() {
			return nil, bad("datiDecesso/dataEvento", "required")
		}
		if x.LuogoEvento != nil {
			c, err := comuneFromWire(x.LuogoEvento, at+"/datiDecesso/luogoEvento")
			if err != nil {
				return nil, err
			}
			s.Death.Place = &c
		}
	}
	if e := w.IscrizioneAIRE; e != nil {
		s.Emigration = &Emigration{Since: e.DataDecorrenza.Time(), StateCode: str(e.CodiceStato), StateName: str(e.DescrizioneStato)}
		if s.Emigration.Since.IsZero() || s.Emigration.StateCode == "" {
			return nil, bad("iscrizioneAIRE", "dataDecorrenza and codiceStato are required")
		}
	}
	return s, nil
}

func testata(idClient, idANPR, esito string, at time.Time) *wire.TipoTestataRisposta {
	return &wire.TipoTestataRisposta{
		IdOperazioneClient: ptr[wire.TipoTestoId](idClient),
		IdOperazioneANPR:   ptr[wire.TipoTestoId](idANPR),
		EsitoOperazione:    esito,
		DataOraRisposta:    wire.NewDateTime(at),
	}
}

// BuildResponse renders a RispostaE002OK for the subjects. Every codice fiscale is validated
// before it goes out.
func BuildResponse(idClient, idANPR string, at time.Time, subjects ...*Subject) ([]byte, error) {
	if len(subjects) == 0 {
		return nil, &FieldError{Document: "RispostaE002OK", Field: "listaSoggetti", Reason: "at least one datiSoggetto is required"}
	}
	lista := &wire.TipoListaSoggetti{}
	for i, s := range subjects {
		if err := codicefiscale.Validate(s.CodiceFiscale); err != nil {
			return nil, &FieldError{Document: "RispostaE002OK", Field: fmt.Sprintf("listaSoggetti/datiSoggetto[%d]/generalita/codiceFiscale", i+1), Reason: err.Error()}
		}
		lista.DatiSoggetto = append(lista.DatiSoggetto, subjectToWire(s))
	}
	return marshal(&wire.RispostaE002OK{TestataRisposta: testata(idClient, idANPR, "OK", at), ListaSoggetti: lista})
}

// BuildFault renders a rispostaKO.
func BuildFault(idClient, idANPR string, at time.Time, problems ...Problem) ([]byte, error) {
	if idClient == "" {
		idClient = "-"
	}
	lista := &wire.TipoListaErrori{}
	for _, p := range problems {
		text := p.Text
		if len(text) > 200 {
			text = text[:200]
		}
		lista.Errore = append(lista.Errore, &wire.TipoErrore{
			CodiceErroreAnomalia: ptr[wire.TipoTestoId](p.Code),
			TestoErroreAnomalia:  ptr[wire.TipoTesto](text),
			TipoErroreAnomalia:   "E",
		})
	}
	return marshal(&wire.RispostaKO{TestataRisposta: testata(idClient, idANPR, "KO", at), ListaErrori: lista})
}

// ParseResponse reads the registry's answer: the subjects of a RispostaE002OK, or a *FaultError
// for a rispostaKO. Every subject's codice fiscale is validated on the way in.
func ParseResponse(data []byte) ([]*Subject, error) {
	if rootIs(data, "rispostaKO") {
		var ko wire.RispostaKO
		if err := decode(data, "rispostaKO", &ko); err != nil {
			return nil, err
		}
		fe := &FaultError{Detail: data}
		if ko.TestataRisposta != nil {
			fe.IDClient = str(ko.TestataRisposta.IdOperazioneClient)
		}
		if ko.ListaErrori != nil {
			for _, e := range ko.ListaErrori.Errore {
				fe.Problems = append(fe.Problems, Problem{Code: str(e.CodiceErroreAnomalia), Text: str(e.TestoErroreAnomalia)})
			}
		}
		return nil, fe
	}
	var ok wire.RispostaE002OK
	if err := decode(data, "RispostaE002OK", &ok); err != nil {
		return nil, err
	}
	if ok.ListaSoggetti == nil || len(ok.ListaSoggetti.DatiSoggetto) == 0 {
		return nil, &FieldError{Document: "RispostaE002OK", Field: "listaSoggetti/datiSoggetto", Reason: "required"}
	}
	var out []*Subject
	for i, d := range ok.ListaSoggetti.DatiSoggetto {
		s, err := subjectFromWire(d, fmt.Sprintf("listaSoggetti/datiSoggetto[%d]", i+1))
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// rootIs reports whether the first element of data is the named element of Namespace.
func rootIs(data []byte, local string) bool {
	dec := xml.NewDecoder(bytes.NewReader(data))
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		if t, ok := tok.(xml.StartElement); ok {
			return t.Name.Space == Namespace && t.Name.Local == local
		}
	}
}

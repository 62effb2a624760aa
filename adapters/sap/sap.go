// Package sap builds the worker record the province sends to the Ministry of Labour: the SAP
// document (root lavoratore, Rev009 sections; xsd/schemas/labour/sap.xsd) from a SIL worker, and
// the servizicoap requests that carry it (invioSAP with the SAP as an XML string, richiestaSAP,
// verificaEsistenzaSAP, annullaSAP; wsdl/sap.wsdl, types in porta/wsdl/sap).
//
// Every record is checked (codice fiscale first, then the fields the SAP requires) and every
// document validated against its schema before it leaves; a worker that fails is rejected alone
// with a *sil.RecordError naming the record, the field and the rule. It must not send anything
// or know about the busta or HTTP.
package sap

import (
	"encoding/xml"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"time"

	"porta/adapters/codicefiscale"
	"porta/adapters/internal/document"
	"porta/adapters/sil"
	wire "porta/wsdl/sap"
)

// Schemas, relative to xsd/schemas.
const (
	Schema         = "labour/sap.xsd"             // the SAP document
	ServiceSchema  = "labour/sap-servizicoap.xsd" // the servizicoap messages
	TipoPrimoInvio = "01"                         // first send
	TipoVariazione = "02"                         // update of a SAP the Ministry holds
)

var enteRE = regexp.MustCompile(`^[A-Z][0-9]{3}[A-Z][0-9]{6}$`)

// Builder builds SAP documents and their requests. Validator is required (an *xsd.Set). The
// SAP carries the SIL's own dates only, so the builder needs no clock.
type Builder struct {
	Validator sil.Validator
}

// Document builds and validates the SAP of w. tipovariazione is 01 for a worker without a SAP
// code, 02 otherwise.
func (b *Builder) Document(w *sil.Worker) ([]byte, error) {
	doc, err := lavoratore(w)
	if err != nil {
		return nil, err
	}
	return document.Marshal(w, b.Validator, Schema, "sap", doc)
}

// Doc is one built document with the record it came from.
type Doc = document.Doc

// Batch builds the SAP of every worker and goes on past the rejected ones.
func (b *Builder) Batch(ws []*sil.Worker) ([]Doc, []*sil.RecordError) {
	return document.Batch(ws, b.Document)
}

// InvioSAP builds the invioSAP request body carrying w's SAP as an XML string in a CDATA section,
// as the ministry's samples do, validated against the servizicoap schema.
func (b *Builder) InvioSAP(w *sil.Worker) ([]byte, error) {
	doc, err := b.Document(w)
	if err != nil {
		return nil, err
	}
	return b.message(&invioSAP{SAP: cdata{string(doc)}}, w.CodiceFiscale)
}

// invioSAP is wire.InvioSAP with its string in CDATA: encoding/xml would otherwise escape every
// bracket of the document (both are the same xs:string to a reader).
type invioSAP struct {
	XMLName xml.Name `xml:"http://servizi.lavoro.gov.it/servizicoap/types invioSAP"`
	SAP     cdata    `xml:"SAP"`
}

type cdata struct {
	Text string `xml:",cdata"`
}

// RichiestaSAP builds the request for the SAP with the given code.
func (b *Builder) RichiestaSAP(codiceSAP string) ([]byte, error) {
	c := wire.CodiceSAPType(codiceSAP)
	return b.message(&wire.RichiestaSAP{CodiceSAP: &c}, codiceSAP)
}

// VerificaEsistenzaSAP builds the question whether a SAP exists for cf (checked first).
func (b *Builder) VerificaEsistenzaSAP(cf string) ([]byte, error) {
	if err := codicefiscale.Validate(cf); err != nil {
		return nil, fmt.Errorf("verificaEsistenzaSAP: %w", err)
	}
	c := wire.CodiceFiscaleType(cf)
	return b.message(&wire.VerificaEsistenzaSAP{CodiceFiscale: &c}, cf)
}

// AnnullaSAP builds the cancellation of the SAP with the given code.
func (b *Builder) AnnullaSAP(codiceSAP string) ([]byte, error) {
	c := wire.CodiceSAPType(codiceSAP)
	return b.message(&wire.AnnullaSAP{CodiceSAP: &c}, codiceSAP)
}

func (b *Builder) message(v any, what string) ([]byte, error) {
	out, err := xml.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("servizicoap %s: %w", what, err)
	}
	out = append(out, '\n')
	if b.Validator == nil {
		return nil, errors.New("servizicoap: no validator: every emitted document must be validated")
	}
	if err := b.Validator.Validate(ServiceSchema, out); err != nil {
		return nil, fmt.Errorf("servizicoap %s: %w", what, err)
	}
	return out, nil
}

// ParseSAP extracts the SAP document from an invioSAP or risposta_richiestaSAP body.
func ParseSAP(body []byte) ([]byte, error) {
	var m struct {
		SAP *string `xml:"SAP"`
	}
	if err := xml.Unmarshal(body, &m); err != nil {
		return nil, fmt.Errorf("servizicoap: %w", err)
	}
	if m.SAP == nil {
		return nil, errors.New("servizicoap: no SAP element")
	}
	return []byte(*m.SAP), nil
}

func day(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.DateOnly)
}

func lavoratore(w *sil.Worker) (*Lavoratore, error) {
	if err := w.CheckIdentity(); err != nil {
		return nil, err
	}
	if err := w.CheckAddress("dom", w.Domicilio); err != nil {
		return nil, err
	}
	if !w.Residenza.IsZero() {
		if err := w.CheckAddress("res", w.Residenza); err != nil {
			return nil, err
		}
	}
	a := w.Admin
	if !enteRE.MatchString(a.CodiceEnteTitolare) {
		return nil, w.Reject("codice_ente_titolare", "codiceentetit [A-Z][0-9]{3}[A-Z][0-9]{6}", fmt.Errorf("got %q", a.CodiceEnteTitolare))
	}
	if a.StatoOccupazionale == "" {
		return nil, w.Reject("stato_occupazionale", "required", nil)
	}
	if w.UpdatedAt.IsZero() {
		return nil, w.Reject("aggiornato_il", "required", nil)
	}
	tipo := TipoPrimoInvio
	if a.CodiceSAP != "" {
		tipo = TipoVariazione
	}
	l := &Lavoratore{
		DatiInvio: DatiInvio{
			DataUltimoAgg: day(w.UpdatedAt), IdentificativoSAP: a.CodiceSAP, CodiceEnteTit: a.CodiceEnteTitolare,
			TipoVariazione: tipo, DataDiNascita: day(w.DataNascita),
		},
		DatiAnagrafici: &DatiAnagrafici{
			DatiPersonali: DatiPersonali{w.CodiceFiscale, w.Cognome, w.Nome, w.Sesso, day(w.DataNascita), w.ComuneNascita, w.Cittadinanza},
			Domicilio:     Indirizzo{w.Domicilio.Comune, w.Domicilio.CAP, w.Domicilio.Indirizzo, w.Domicilio.Localita},
			Recapiti:      Recapiti{Telefono: w.Telefono, Cellulare: w.Cellulare, Email: w.Email},
		},
		DatiAmministrativi: &DatiAmministrativi{StatoInAnagrafe: StatoInAnagrafe{
			CodStatoOccupazionale: a.StatoOccupazionale, IndiceProfiling: a.IndiceProfiling,
			DataEvento: day(a.DataEvento), Disponibilita: day(a.DataDID),
		}},
	}
	if a.StatoOccupazionale == "DI" {
		n := a.AnzianitaMesi
		l.DatiAmministrativi.StatoInAnagrafe.Anzianita = &n
	}
	if a.CategoriaProtetta != "" {
		l.DatiAmministrativi.AltreNotizie = &AltreNotizie{CategorieProtette: a.CategoriaProtetta}
	}
	if !w.Residenza.IsZero() {
		l.DatiAnagrafici.Residenza = &Indirizzo{w.Residenza.Comune, w.Residenza.CAP, w.Residenza.Indirizzo, w.Residenza.Localita}
	}
	for i, e := range w.Esperienze {
		field := fmt.Sprintf("experiences[%d].", i)
		if err := codicefiscale.Validate(e.AziendaCF); err != nil {
			return nil, w.Reject(field+"azienda_cf", "codice fiscale of the employer", err)
		}
		if e.DataInizio.IsZero() {
			return nil, w.Reject(field+"data_inizio", "required", nil)
		}
		if !e.DataFine.IsZero() && e.DataFine.Before(e.DataInizio) {
			return nil, w.Reject(field+"data_fine", "not before data_inizio", fmt.Errorf("%s < %s", day(e.DataFine), day(e.DataInizio)))
		}
		x := Esperienza{
			Azienda:    Azienda{e.AziendaCF, e.AziendaNome, e.AziendaIndirizzo, e.Ateco},
			DataInizio: day(e.DataInizio), DataFine: day(e.DataFine), CodProfessione: e.Professione, Compiti: e.Compiti,
		}
		if e.TipoContratto != "" {
			x.TipoRapporto = &TipoRapporto{e.TipoContratto}
		}
		if e.ComuneLavoro != "" {
			x.LuogoLavoro = &LuogoLavoro{e.ComuneLavoro}
		}
		if l.Esperienze == nil {
			l.Esperienze = &EsperienzeLst{}
		}
		l.Esperienze.Esperienza = append(l.Esperienze.Esperienza, x)
	}
	var al Allegato
	for _, e := range w.Istruzione {
		if l.LivelliIstruzione == nil {
			l.LivelliIstruzione = &LivelliIstruzione{}
			al.TitoliStudio = &TitoliStudio{}
		}
		l.LivelliIstruzione.Cod = append(l.LivelliIstruzione.Cod, e.Livello)
		t := TitoloStudio{CodLivello: e.Livello, CorsoStudio: e.Corso, Descrizione: e.Descrizione, CodComuneFrequenza: e.ComuneFrequenza, Votazione: e.Votazione}
		if e.AnnoTermine > 0 {
			t.AnnoTermine = strconv.Itoa(e.AnnoTermine)
		}
		al.TitoliStudio.Titolo = append(al.TitoliStudio.Titolo, t)
	}
	for _, g := range w.Lingue {
		if al.LingueStraniere == nil {
			al.LingueStraniere = &LingueStraniere{}
		}
		al.LingueStraniere.Lingua = append(al.LingueStraniere.Lingua, LinguaStraniera{g.Codice, g.Letto, g.Scritto, g.Parlato})
	}
	if al.TitoliStudio != nil || al.LingueStraniere != nil {
		l.Allegato = &al
	}
	return l, nil
}

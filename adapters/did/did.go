// Package did builds the DID (Dichiarazione di Immediata Disponibilità) request the province
// sends to the national ANPAL service gestisciDID (wsdl/did.wsdl, xsd/schemas/labour/did.xsd,
// types in porta/wsdl/did): the profiling variables computed from a SIL worker, the DID event and
// the operator, and reads the answer (the profiling and the outcome).
//
// Every record is checked (codice fiscale first) and every request validated against the schema;
// a worker that fails is rejected alone with a *sil.RecordError naming the record, the field and
// the rule. It must not send anything or know about the busta or HTTP.
package did

import (
	"encoding/xml"
	"errors"
	"fmt"
	"regexp"
	"time"

	"porta/adapters/codicefiscale"
	"porta/adapters/internal/document"
	"porta/adapters/sil"
	wire "porta/wsdl/did"
)

// Schema is the DID schema, relative to xsd/schemas.
const Schema = "labour/did.xsd"

// Event is the DID event type (TipoEvento).
type Event string

// The event types; S and A are in the schema but their meaning is not confirmed by public code.
const (
	Inserimento Event = "I"
	Convalida   Event = "C"
	Revoca      Event = "R"
)

// Operator is who files the DID: the CPI operator's GUID and codice fiscale.
type Operator struct {
	GUID          string
	CodiceFiscale string
}

// Builder builds gestisciDID requests. Validator (an *xsd.Set) and Now are required; Now stamps
// DataEvento and is the reference for ages and durations.
type Builder struct {
	Validator sil.Validator
	Now       func() time.Time
	Operator  Operator
}

var enteRE = regexp.MustCompile(`^[A-Z][0-9]{3}[A-Z][0-9]{6}$`)

// Request builds and validates the GestisciDID_Input of w for the event ev.
func (b *Builder) Request(w *sil.Worker, ev Event) ([]byte, error) {
	if b.Now == nil {
		return nil, errors.New("did: Builder.Now is required")
	}
	if err := codicefiscale.Validate(b.Operator.CodiceFiscale); err != nil {
		return nil, fmt.Errorf("did: operator: %w", err)
	}
	if b.Operator.GUID == "" {
		return nil, errors.New("did: operator GUID is required")
	}
	in, err := b.input(w, ev)
	if err != nil {
		return nil, err
	}
	return document.Marshal(w, b.Validator, Schema, "did", in)
}

// Doc is one built request with the record it came from.
type Doc = document.Doc

// Batch builds the requests of every worker and goes on past the rejected ones.
func (b *Builder) Batch(ws []*sil.Worker, ev Event) ([]Doc, []*sil.RecordError) {
	return document.Batch(ws, func(w *sil.Worker) ([]byte, error) { return b.Request(w, ev) })
}

func ptr[T any](v T) *T { return &v }

func siNo(b bool) *wire.SiNoType {
	if b {
		return ptr(wire.SiNoTypeSI)
	}
	return ptr(wire.SiNoTypeNO)
}

func months(from, to time.Time) int {
	m := (to.Year()-from.Year())*12 + int(to.Month()-from.Month())
	if to.Day() < from.Day() {
		m--
	}
	return max(m, 0)
}

func (b *Builder) input(w *sil.Worker, ev Event) (*wire.GestisciDID_Input, error) {
	if err := w.CheckIdentity(); err != nil {
		return nil, err
	}
	switch ev {
	case Inserimento, Convalida, Revoca:
	default:
		return nil, w.Reject("-", "TipoEvento I, C or R", fmt.Errorf("got %q", ev))
	}
	a := w.Admin
	if a.DataDID.IsZero() {
		return nil, w.Reject("data_did", "required for a DID", nil)
	}
	if !enteRE.MatchString(a.CodiceEnteTitolare) {
		return nil, w.Reject("codice_ente_titolare", "codiceentetit [A-Z][0-9]{3}[A-Z][0-9]{6}", fmt.Errorf("got %q", a.CodiceEnteTitolare))
	}
	if a.CondizioneAnnoPrima == "" {
		return nil, w.Reject("condizione_anno_prima", "required for the profiling", nil)
	}
	if a.IscrittoFormazione != "SI" && a.IscrittoFormazione != "NO" {
		return nil, w.Reject("iscritto_formazione", "SI or NO", fmt.Errorf("got %q", a.IscrittoFormazione))
	}
	if a.ComponentiFamiglia < 1 {
		return nil, w.Reject("componenti_famiglia", "at least 1", fmt.Errorf("got %d", a.ComponentiFamiglia))
	}
	home := w.Residenza.Comune
	field := "res_comune"
	if home == "" {
		home, field = w.Domicilio.Comune, "dom_comune"
	}
	place, ok := codicefiscale.Lookup(home)
	if !ok || place.Province == "EE" {
		return nil, w.Reject(field, "province of residence known", fmt.Errorf("no province for comune %q in the Belfiore table", home))
	}
	livello := ""
	for _, e := range w.Istruzione {
		if e.Livello > livello {
			livello = e.Livello
		}
	}
	if livello == "" {
		return nil, w.Reject("education", "TitoloDiStudio required", errors.New("the SIL holds no qualification"))
	}
	now := b.Now().UTC().Truncate(time.Second)
	age := now.Year() - w.DataNascita.Year()
	if now.Month() < w.DataNascita.Month() || (now.Month() == w.DataNascita.Month() && now.Day() < w.DataNascita.Day()) {
		age--
	}
	v := &wire.VariabiliDiProfilingType{
		Eta:                                ptr(wire.EtaType(age)),
		Genere:                             ptr(wire.GenereType(w.Sesso)),
		Cittadinanza:                       ptr(wire.CittadinanzaType(w.Cittadinanza)),
		TitoloDiStudio:                     ptr(wire.CodiceType(livello)),
		ProvinciaDiResidenza:               ptr(wire.ProvinciaType(place.Province)),
		HaMaiAvutoUnLavoro:                 siNo(len(w.Esperienze) > 0),
		CondizioneOccupazionaleUnAnnoPrima: ptr(wire.CodiceType(a.CondizioneAnnoPrima)),
		DaQuantiMesiStaCercandoLavoro:      ptr(wire.MesiType(months(a.DataDID, now))),
		AttualmenteIscrittoScuolaUniversitaOCorsoFormazione: siNo(a.IscrittoFormazione == "SI"),
		NumeroComponentiFamiglia:                            ptr(wire.MesiType(a.ComponentiFamiglia)),
		PresenzaFigliACarico:                                siNo(a.FigliACarico > 0),
	}
	if n := len(w.Esperienze); n > 0 {
		if end := w.Esperienze[n-1].DataFine; !end.IsZero() {
			v.DaQuantiMesiConclusoUltimoRappLavoro = ptr(wire.MesiType(months(end, now)))
		}
	}
	return &wire.GestisciDID_Input{
		VariabiliDiProfiling: v,
		InformazioniDID: &wire.InformazioniDIDType{
			CodiceFiscale:       ptr(wire.CodiceFiscaleType(w.CodiceFiscale)),
			TipoEvento:          ptr(wire.TipoEventoType(ev)),
			DataEvento:          wire.NewDateTime(now),
			DataDID:             wire.NewDateTime(a.DataDID),
			CodiceEntePromotore: ptr(wire.CodiceEnteType(a.CodiceEnteTitolare)),
		},
		GUIDOperatore:          ptr(wire.TestoType(b.Operator.GUID)),
		CodiceFiscaleOperatore: ptr(wire.CodiceFiscaleType(b.Operator.CodiceFiscale)),
		Applicazione:           ptr(wire.ApplicazioneTypeBAT),
	}, nil
}

// Outcome is what the national service answered.
type Outcome struct {
	Code        string // CodiceEsito
	Description string
	Probability string // Probabilita, the profiling index as its exact decimal, "" if absent
	ProfilingID string
	Inserted    time.Time
}

// ParseResponse reads a GestisciDID_Output (validated against the schema first).
func ParseResponse(v sil.Validator, body []byte) (*Outcome, error) {
	if v == nil {
		return nil, errors.New("did: no validator")
	}
	if err := v.Validate(Schema, body); err != nil {
		return nil, fmt.Errorf("did response: %w", err)
	}
	var out wire.GestisciDID_Output
	if err := xml.Unmarshal(body, &out); err != nil {
		return nil, fmt.Errorf("did response: %w", err)
	}
	o := &Outcome{}
	if out.Esito != nil && out.Esito.CodiceEsito != nil {
		o.Code = string(*out.Esito.CodiceEsito)
		if out.Esito.DescrizioneEsito != nil {
			o.Description = string(*out.Esito.DescrizioneEsito)
		}
	}
	if p := out.Profiling; p != nil {
		if p.Probabilita != nil {
			o.Probability = string(*p.Probabilita)
		}
		if p.IDSProfiling != nil {
			o.ProfilingID = string(*p.IDSProfiling)
		}
		o.Inserted = p.DataInserimento.Time()
	}
	return o, nil
}

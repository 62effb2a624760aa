// Package labour is the table of the provincial labour network's cooperation services: for each,
// its name, provider, profile, actions, payload schema, WSDL, built-in backend and consumers, and
// for the documents the province sends about each SIL worker (SAP, DID, Candidatura, Europass) how
// to build one, how to read the provider's answer, and what the simulated provider answers.
//
// Everything that names a labour service reads it here: porta demo and porta sim (the network's
// registries), the built-in backends of porta serve (the providers' intakes), the SIL flows
// (adapters/flows: porta sil send, porta failures retry) and the test double of the PD. A new
// service is one entry in Services (with its WSDL under wsdl/ and its schema under xsd/schemas),
// plus an adapter package when it carries worker documents.
//
// It must not know HTTP or the eGov busta.
package labour

import (
	"encoding/xml"
	"errors"
	"fmt"
	"time"

	"porta/adapters/candidatura"
	"porta/adapters/did"
	"porta/adapters/europass"
	"porta/adapters/sap"
	"porta/adapters/sil"
	wiresap "porta/wsdl/sap"
)

// Service is one cooperation service of the network.
type Service struct {
	Name       string   // Servizio, as the registries spell it
	Providers  []string // the parties that provide it (erogatori)
	Consumers  []string // the parties that may call it (fruitori)
	Profile    string   // registry spelling: oneway, sync, async-symmetric, async-asymmetric
	OneWayAck  bool     // a one-way service that asks for a riscontro
	Actions    []string
	Correlated map[string]string // async-asymmetric: status action -> request action
	Schema     string            // the actions' payload schema, under xsd/schemas
	WSDL       string            // the embedded WSDL's file name (package wsdl)
	Adapter    string            // the built-in backend of its providers (delivery: adapter:NAME)
	// CF is where its payloads carry a person's codice fiscale, the business identifier the
	// registries declare as trace: ids: {cf: CF} (paths from the SOAP Body; see go doc
	// porta/registry TracePolicy): an operator finds the person's exchanges by it.
	CF []string

	// Worker is set for a document the province sends about each SIL worker.
	Worker *WorkerDoc
}

// Sync reports whether the service answers in the same exchange.
func (s *Service) Sync() bool { return s.Profile == "sync" }

// WorkerDoc is a document the province sends about each SIL worker (porta sil send --what).
type WorkerDoc struct {
	What   string // its name in --what and its kind in the failures table
	Action string // the action that carries it
	// NotCarried are the SIL fields the document does not carry: a record invalid only there is
	// not rejected (the demo checks its planted invalid records against this).
	NotCarried []string
	// Concerns reports whether a valid worker has this document to send (nil: every worker).
	Concerns func(w *sil.Worker) bool
	// Build builds and validates the payload for w.
	Build func(o *Options, w *sil.Worker) ([]byte, error)
	// Reply reads the provider's synchronous answer; an error is the record's rejection. Nil for
	// a one-way document.
	Reply func(o *Options, payload []byte) error
	// Check, at the provider's intake, returns the document the payload carries (nil: the payload
	// itself), or an error refusing it.
	Check func(v sil.Validator, payload []byte) ([]byte, error)
	// Answer is the simulated provider's answer to the n-th document it kept (nil: none, one-way).
	Answer func(n int64) []byte
}

// Options are what the builders need beyond the SIL worker. Validator is required.
type Options struct {
	Validator sil.Validator    // an *xsd.Set
	Now       func() time.Time // time.Now when nil

	Generator    string                   // europass: DocumentInfo/Generator; "Porta" when empty
	Operator     did.Operator             // did: the CPI operator filing the DID
	DIDEvent     did.Event                // did: the event filed; did.Inserimento when empty
	Intermediary candidatura.Intermediary // candidatura: the publishing employment service
	Validity     time.Duration            // candidatura: how long it stays published; 60 days when 0
}

// NetworkOptions are the options of the province of porta demo's network: a CPI operator filing
// the DIDs and the employment service publishing the candidatures.
func NetworkOptions(v sil.Validator, now func() time.Time) Options {
	return Options{Validator: v, Now: now,
		Operator: did.Operator{GUID: "cpi-bologna-01", CodiceFiscale: "RSSMRA77L18H501W"},
		Intermediary: candidatura.Intermediary{CodiceFiscale: "12345678903", Denominazione: "Provincia - Servizio Lavoro",
			Regione: "08", Email: "lavoro@provincia.example.it"}}
}

func (o *Options) now() func() time.Time {
	if o.Now != nil {
		return o.Now
	}
	return time.Now
}

// The worker documents' names (WorkerDoc.What).
const (
	WhatSAP         = "sap"
	WhatCandidatura = "candidatura"
	WhatEuropass    = "europass"
	WhatDID         = "did"
)

// Party names of the network, as the registries of porta demo and porta sim spell them (letters
// and digits: they form eGov identifiers).
const (
	Provincia   = "Provincia"
	Ministero   = "Ministero"
	BorsaLavoro = "BorsaLavoro"
	Europass    = "Europass"
	Comune1     = "Comune1"
	Comune2     = "Comune2"
	Scuola1     = "Scuola1"
	Scuola2     = "Scuola2"
	INPS        = "INPS"
	Ente        = "Ente"
)

// ProfileLineeGuida is the registry's spelling of the Linee Guida 1.1 interoperability profile
// (a party's profile:, spec §11); every other party runs the default, egov-1.1.
const ProfileLineeGuida = "linee-guida-1.1"

// lineeGuida are the parties that run the Linee Guida 1.1 profile: Europass, which receives the
// CVs, and INPS, which sends its list of recipients. Their one-way services have no riscontro
// (the profile has none): delivery rests on the transport answer and the duplicate filter.
var lineeGuida = map[string]bool{Europass: true, INPS: true}

// PartyProfile returns the interoperability profile of a party of the network, as its registry
// entry spells it.
func PartyProfile(party string) string {
	if lineeGuida[party] {
		return ProfileLineeGuida
	}
	return "egov-1.1"
}

// Services is the network's services; the worker documents first, in the order porta sil send
// sends them and porta demo reports them.
var Services = []*Service{
	{Name: "SAP", Providers: []string{Ministero}, Consumers: []string{Provincia}, Profile: "sync",
		Actions: []string{"invioSAP", "richiestaSAP", "verificaEsistenzaSAP", "annullaSAP"},
		Schema:  sap.ServiceSchema, WSDL: "sap.wsdl", Adapter: "ministerosap",
		CF: []string{"parse-xml(/invioSAP/SAP)/lavoratore/datianagrafici/datipersonali/codicefiscale",
			"parse-xml(/risposta_richiestaSAP/SAP)/lavoratore/datianagrafici/datipersonali/codicefiscale",
			"/verificaEsistenzaSAP/CodiceFiscale"},
		Worker: &WorkerDoc{What: WhatSAP, Action: "invioSAP",
			Build: func(o *Options, w *sil.Worker) ([]byte, error) {
				return (&sap.Builder{Validator: o.Validator}).InvioSAP(w)
			},
			Reply: sapReply,
			Check: func(v sil.Validator, payload []byte) ([]byte, error) {
				doc, err := sap.ParseSAP(payload)
				if err != nil {
					return nil, fmt.Errorf("invioSAP/SAP: %w", err)
				}
				if err := v.Validate(sap.Schema, doc); err != nil {
					return nil, fmt.Errorf("invioSAP/SAP is not a valid SAP: %w", err)
				}
				return doc, nil
			},
			Answer: func(n int64) []byte {
				return fmt.Appendf(nil, `<typ:risposta_invioSAP xmlns:typ="http://servizi.lavoro.gov.it/servizicoap/types"><typ:Esito>OK</typ:Esito><typ:CodiceSAP>SP%08dA</typ:CodiceSAP></typ:risposta_invioSAP>`, n%100000000)
			},
		}},
	{Name: "DID", Providers: []string{Ministero}, Consumers: []string{Provincia}, Profile: "sync",
		Actions: []string{"gestisciDID"}, Schema: did.Schema, WSDL: "did.wsdl", Adapter: "ministerodid",
		CF: []string{"/GestisciDID_Input/InformazioniDID/CodiceFiscale"},
		Worker: &WorkerDoc{What: WhatDID, Action: "gestisciDID",
			NotCarried: []string{"dom_comune"}, // the DID carries no domicile
			Concerns:   func(w *sil.Worker) bool { return !w.Admin.DataDID.IsZero() },
			Build: func(o *Options, w *sil.Worker) ([]byte, error) {
				ev := o.DIDEvent
				if ev == "" {
					ev = did.Inserimento
				}
				return (&did.Builder{Validator: o.Validator, Now: o.now(), Operator: o.Operator}).Request(w, ev)
			},
			Reply: func(o *Options, payload []byte) error {
				if payload == nil {
					return errors.New("no GestisciDID_Output in the reply")
				}
				r, err := did.ParseResponse(o.Validator, payload)
				if err != nil {
					return err
				}
				if r.Code != "OK" {
					return fmt.Errorf("CodiceEsito %s: %s", r.Code, r.Description)
				}
				return nil
			},
			Answer: func(int64) []byte {
				return []byte(`<tns:GestisciDID_Output xmlns:tns="http://anpal.gov.it/DataModels/InformationDelivery/ConferimentoDID/1.0"><tns:Esito><tns:CodiceEsito>OK</tns:CodiceEsito><tns:DescrizioneEsito>DID acquisita</tns:DescrizioneEsito></tns:Esito></tns:GestisciDID_Output>`)
			},
		}},
	{Name: "Candidatura", Providers: []string{BorsaLavoro}, Consumers: []string{Provincia}, Profile: "oneway", OneWayAck: true,
		Actions: []string{"invioCandidatura"}, Schema: candidatura.Schema, WSDL: "candidatura.wsdl", Adapter: "borsalavoro",
		CF: []string{"/Candidatura/Lavoratore/DatiAnagrafici/codicefiscale"},
		Worker: &WorkerDoc{What: WhatCandidatura, Action: "invioCandidatura",
			Build: func(o *Options, w *sil.Worker) ([]byte, error) {
				validity := o.Validity
				if validity == 0 {
					validity = 60 * 24 * time.Hour
				}
				return (&candidatura.Builder{Validator: o.Validator, Now: o.now(), Intermediary: o.Intermediary, Validity: validity}).Document(w)
			},
		}},
	{Name: "CVEuropass", Providers: []string{Europass}, Consumers: []string{Provincia}, Profile: "oneway", // Europass: Linee Guida, no riscontro
		Actions: []string{"invioEuropass"}, Schema: europass.Schema, WSDL: "europass.wsdl", Adapter: "europass",
		Worker: &WorkerDoc{What: WhatEuropass, Action: "invioEuropass",
			Build: func(o *Options, w *sil.Worker) ([]byte, error) {
				gen := o.Generator
				if gen == "" {
					gen = "Porta"
				}
				return (&europass.Builder{Validator: o.Validator, Now: o.now(), Generator: gen}).Document(w)
			},
		}},
	{Name: "PercettoriSostegno", Providers: []string{Provincia}, Consumers: []string{INPS}, Profile: "oneway", // INPS: Linee Guida, no riscontro
		Actions: []string{"InvioElencoPercettori"}, Schema: "labour/inps.xsd", WSDL: "inps.wsdl", Adapter: "inps",
		CF: []string{"/ElencoPercettori/Percettore/CodiceFiscale"}},
	{Name: "CatalogoFormazione", Providers: []string{Provincia}, Consumers: []string{Ente, Scuola1, Scuola2}, Profile: "sync",
		Actions: []string{"PubblicaCorso", "RicercaCorsi", "RitiraCorso"}, Schema: "labour/formazione.xsd", WSDL: "formazione.wsdl", Adapter: "formazione"},
	{Name: "Anagrafe", Providers: []string{Comune1, Comune2}, Consumers: []string{Provincia}, Profile: "sync",
		Actions: []string{"consultazioneSoggetti"}, Schema: "labour/anagrafe.xsd", WSDL: "anagrafe.wsdl", Adapter: "anagrafe",
		CF: []string{"/RichiestaE002/criteriRicerca/codiceFiscale", "/RispostaE002OK/listaSoggetti/datiSoggetto/generalita/codiceFiscale"}},
	{Name: "FrequenzeScolastiche", Providers: []string{Scuola1, Scuola2}, Consumers: []string{Provincia}, Profile: "async-asymmetric",
		Actions: []string{"RichiestaEstrazione", "StatoEstrazione"}, Correlated: map[string]string{"StatoEstrazione": "RichiestaEstrazione"},
		Schema: "labour/scuola.xsd", WSDL: "scuola.wsdl", Adapter: "scuola",
		CF: []string{"/RispostaStatoEstrazione/listaAlunni/alunno/codiceFiscale"}},
}

// WorkerDocs returns the services that carry worker documents, in sending order.
func WorkerDocs() []*Service {
	var out []*Service
	for _, s := range Services {
		if s.Worker != nil {
			out = append(out, s)
		}
	}
	return out
}

// AllWhat lists the worker documents' names, in sending order.
func AllWhat() []string {
	var out []string
	for _, s := range WorkerDocs() {
		out = append(out, s.Worker.What)
	}
	return out
}

// ByWhat returns the service carrying the worker document what, or nil.
func ByWhat(what string) *Service {
	for _, s := range WorkerDocs() {
		if s.Worker.What == what {
			return s
		}
	}
	return nil
}

// ByName returns the service called name, or nil.
func ByName(name string) *Service {
	for _, s := range Services {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// ByAction returns the service with the action, or nil (action names are unique in the network).
func ByAction(action string) *Service {
	for _, s := range Services {
		for _, a := range s.Actions {
			if a == action {
				return s
			}
		}
	}
	return nil
}

// sapReply reads a risposta_invioSAP: anything but Esito OK is the record's rejection.
func sapReply(_ *Options, payload []byte) error {
	if payload == nil {
		return errors.New("no risposta_invioSAP in the reply")
	}
	var r wiresap.Risposta_invioSAP
	if err := xml.Unmarshal(payload, &r); err != nil {
		return fmt.Errorf("risposta_invioSAP: %w", err)
	}
	if r.Esito == nil || *r.Esito != wiresap.EsitoInvioTypeOK {
		esito := "none"
		if r.Esito != nil {
			esito = string(*r.Esito)
		}
		return fmt.Errorf("Esito %s: %s", esito, r.MessaggioErrore)
	}
	return nil
}

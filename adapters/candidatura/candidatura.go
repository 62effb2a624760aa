// Package candidatura builds the worker's candidature for the Borsa Lavoro: the Cliclavoro
// Candidatura (Lavoratore, DatiCurriculari, DatiSistema; xsd/schemas/labour/candidatura.xsd,
// types in porta/wsdl/candidatura) from a SIL worker, sent one-way (wsdl/candidatura.wsdl).
//
// Every record is checked (codice fiscale first) and every document validated against the schema;
// a worker that fails is rejected alone with a *sil.RecordError naming the record, the field and
// the rule. It must not send anything or know about the busta or HTTP (acknowledgement and
// duplicate filtering are the gateway's).
package candidatura

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"time"

	"porta/adapters/codicefiscale"
	"porta/adapters/internal/document"
	"porta/adapters/sil"
	wire "porta/wsdl/candidatura"
)

// Schema is the Candidatura schema, relative to xsd/schemas.
const Schema = "labour/candidatura.xsd"

// Intermediary is the body publishing the candidature (the province's employment service).
type Intermediary struct {
	CodiceFiscale string // 11 digits
	Denominazione string
	Regione       string // ambitodiffusione: the 2-digit ISTAT region code
	Email         string
}

// Builder builds Candidature. Validator (an *xsd.Set), Now and the Intermediary are required;
// Validity is how long a candidature stays published (datascadenza = Now + Validity).
type Builder struct {
	Validator    sil.Validator
	Now          func() time.Time
	Intermediary Intermediary
	Validity     time.Duration
}

// TipoEsperienza is the kind of experience sent for every SIL experience: employment. The
// ministry's code table is not public; 01 stands for lavoro subordinato here.
const TipoEsperienza = "01"

var (
	regioneRE = regexp.MustCompile(`^[0-9]{2}$`)
	codiceRE  = regexp.MustCompile(`^[0-9A-Z]{1,30}$`)
	profRE    = regexp.MustCompile(`^([0-9]\.){5}[0-9]{1,2}$`)
)

// Document builds and validates the Candidatura of w.
func (b *Builder) Document(w *sil.Worker) ([]byte, error) {
	if err := b.check(); err != nil {
		return nil, err
	}
	c, err := b.candidatura(w)
	if err != nil {
		return nil, err
	}
	return document.Marshal(w, b.Validator, Schema, "candidatura", c)
}

// Doc is one built document with the record it came from.
type Doc = document.Doc

// Batch builds the Candidatura of every worker and goes on past the rejected ones.
func (b *Builder) Batch(ws []*sil.Worker) ([]Doc, []*sil.RecordError) {
	return document.Batch(ws, b.Document)
}

func (b *Builder) check() error {
	i := b.Intermediary
	switch {
	case b.Now == nil:
		return errors.New("candidatura: Builder.Now is required")
	case b.Validity <= 0:
		return errors.New("candidatura: Builder.Validity must be positive")
	case len(i.CodiceFiscale) != 11:
		return fmt.Errorf("candidatura: intermediary codice fiscale %q: want the 11-digit code of the body", i.CodiceFiscale)
	case i.Denominazione == "":
		return errors.New("candidatura: intermediary denominazione is required")
	case !regioneRE.MatchString(i.Regione):
		return fmt.Errorf("candidatura: intermediary regione %q: want the 2-digit region code", i.Regione)
	}
	if err := codicefiscale.Validate(i.CodiceFiscale); err != nil {
		return fmt.Errorf("candidatura: intermediary: %w", err)
	}
	return nil
}

func ptr[T any](v T) *T { return &v }

// opt returns nil for "", else a pointer to the value.
func opt[T ~string](s string) *T {
	if s == "" {
		return nil
	}
	v := T(s)
	return &v
}

func (b *Builder) candidatura(w *sil.Worker) (*wire.Candidatura, error) {
	if err := w.CheckIdentity(); err != nil {
		return nil, err
	}
	if err := w.CheckAddress("dom", w.Domicilio); err != nil {
		return nil, err
	}
	if w.Domicilio.Indirizzo == "" {
		return nil, w.Reject("dom_indirizzo", "required (Recapiti/indirizzo)", nil)
	}
	if w.Email == "" {
		return nil, w.Reject("email", "required (Recapiti/email)", nil)
	}
	if w.Admin.CodiceEnteTitolare == "" {
		return nil, w.Reject("codice_ente_titolare", "required (DatiSistema/idintermediario)", nil)
	}
	code := w.Admin.CodiceEnteTitolare + fmt.Sprintf("%010s", w.ID)
	if !codiceRE.MatchString(code) {
		return nil, w.Reject("id", "codicecandidatura [0-9A-Z]{1,30} from the CPI code and the SIL id", fmt.Errorf("got %q", code))
	}
	now := b.Now().UTC().Truncate(time.Second)

	l := &wire.LavoratoreType{}
	a := &l.DatiAnagrafici
	a.Codicefiscale = ptr(wire.CodiceFiscale(w.CodiceFiscale))
	a.Cognome, a.Nome = ptr(wire.Testo(w.Cognome)), ptr(wire.Testo(w.Nome))
	a.Sesso = ptr(wire.Sesso(w.Sesso))
	a.Datanascita = wire.NewDate(w.DataNascita)
	a.Idcomune = ptr(wire.Comune(w.ComuneNascita))
	a.Idcittadinanza = ptr(wire.Cittadinanza(w.Cittadinanza))
	l.Domicilio.Idcomune = ptr(wire.Comune(w.Domicilio.Comune))
	l.Domicilio.Cap = ptr(wire.Cap(w.Domicilio.CAP))
	r := &l.Recapiti
	r.Indirizzo = ptr(wire.Testo(w.Domicilio.Indirizzo))
	r.Telefono, r.Cellulare = opt[wire.Telefono](w.Telefono), opt[wire.Telefono](w.Cellulare)
	r.Email = ptr(wire.Email(w.Email))

	d := &wire.DatiCurriculariType{}
	d.EsperienzeLavorative = slices.Grow(d.EsperienzeLavorative, len(w.Esperienze))[:len(w.Esperienze)]
	for i, e := range w.Esperienze {
		field := fmt.Sprintf("experiences[%d].", i)
		if !profRE.MatchString(e.Professione) {
			return nil, w.Reject(field+"professione", "CP2011 ([0-9]\\.){5}[0-9]{1,2}", fmt.Errorf("got %q", e.Professione))
		}
		if e.DataInizio.IsZero() {
			return nil, w.Reject(field+"data_inizio", "required", nil)
		}
		x := &d.EsperienzeLavorative[i]
		x.Tipoesperienza = ptr(wire.TipoEsperienza(TipoEsperienza))
		x.Qualificasvolta = ptr(wire.Professione(e.Professione))
		x.Descrqualificasvolta = opt[wire.Testo](e.DescrProfessione)
		x.Principalimansioni = opt[wire.TestoLungo](e.Compiti)
		x.Nomedatore = ptr(wire.Testo(e.AziendaNome))
		x.Datainizio = wire.NewDate(e.DataInizio)
		if !e.DataFine.IsZero() {
			x.Datafine = wire.NewDate(e.DataFine)
		}
		x.Indirizzodatore = opt[wire.Testo](e.AziendaIndirizzo)
	}
	d.Istruzione = slices.Grow(d.Istruzione, len(w.Istruzione))[:len(w.Istruzione)]
	for i, e := range w.Istruzione {
		x := &d.Istruzione[i]
		x.Titolostudio = ptr(wire.TitoloStudio(e.Livello))
		x.Descrizioneistruzione = opt[wire.Testo](e.Descrizione)
		x.Votazione = opt[wire.Testo](e.Votazione)
	}
	d.Lingue = slices.Grow(d.Lingue, len(w.Lingue))[:len(w.Lingue)]
	for i, g := range w.Lingue {
		x := &d.Lingue[i]
		x.Idlingua = ptr(wire.Lingua(g.Codice))
		x.Idlivelloletto = opt[wire.LivelloLingua](g.Letto)
		x.Idlivelloscritto = opt[wire.LivelloLingua](g.Scritto)
		x.Idlivelloparlato = opt[wire.LivelloLingua](g.Parlato)
	}
	// The desired profession: the one of the latest experience (the SIL keeps no wish list).
	if len(w.Esperienze) == 0 {
		return nil, w.Reject("experiences", "ProfessioneDesiderataDisponibilita needs a profession (from the latest experience)", errors.New("the SIL holds no experience"))
	}
	last := w.Esperienze[len(w.Esperienze)-1]
	d.ProfessioneDesiderataDisponibilita = slices.Grow(d.ProfessioneDesiderataDisponibilita, 1)[:1]
	d.ProfessioneDesiderataDisponibilita[0].Idprofessione = ptr(wire.Professione(last.Professione))
	d.ProfessioneDesiderataDisponibilita[0].Descrprofessione = opt[wire.Testo](last.DescrProfessione)

	im := b.Intermediary
	s := &wire.DatiSistemaType{
		Ambitodiffusione:           ptr(wire.Regione(im.Regione)),
		Datainserimento:            wire.NewDateTime(now),
		Datascadenza:               wire.NewDate(now.Add(b.Validity)),
		Idintermediario:            w.Admin.CodiceEnteTitolare,
		Codicefiscaleintermediario: ptr(wire.CodiceFiscale(im.CodiceFiscale)),
		Denominazioneintermediario: ptr(wire.Testo(im.Denominazione)),
		Emailintermediario:         opt[wire.Email](im.Email),
		Visibilita:                 ptr(wire.SiNo("SI")),
		Tipocandidatura:            ptr(wire.TipoCandidatura("01")),
		Codicecandidatura:          ptr(wire.CodiceCandidatura(code)),
	}
	return &wire.Candidatura{Lavoratore: l, DatiCurriculari: d, DatiSistema: s}, nil
}

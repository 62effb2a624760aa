// Package europass builds the worker's CV as a Europass v3 SkillsPassport (DocumentInfo and
// LearnerInfo with Identification, WorkExperience, Education and Skills;
// xsd/schemas/labour/europass.xsd, types in porta/wsdl/europass) from a SIL worker, sent one-way
// (wsdl/europass.wsdl).
//
// Every record is checked (codice fiscale first) and every document validated against the schema;
// a worker that fails is rejected alone with a *sil.RecordError naming the record, the field and
// the rule. It must not send anything or know about the busta or HTTP.
package europass

import (
	"errors"
	"fmt"
	"time"

	"porta/adapters/internal/document"
	"porta/adapters/sil"
	wire "porta/wsdl/europass"
)

// Schema is the Europass schema, relative to xsd/schemas.
const Schema = "labour/europass.xsd"

// XSDVersion is the Europass schema version the documents claim.
const XSDVersion = "V3.4"

// Builder builds SkillsPassports. Validator (an *xsd.Set) and Now are required.
type Builder struct {
	Validator sil.Validator
	Now       func() time.Time
	Generator string // DocumentInfo/Generator, e.g. "Porta"
}

// languages maps the SIL's 3-letter codes to the ISO 639-1 codes and labels Europass uses.
var languages = map[string][2]string{
	"ITA": {"it", "Italiano"}, "ENG": {"en", "Inglese"}, "FRA": {"fr", "Francese"}, "DEU": {"de", "Tedesco"},
	"SPA": {"es", "Spagnolo"}, "ARA": {"ar", "Arabo"}, "RUM": {"ro", "Rumeno"}, "POR": {"pt", "Portoghese"},
	"RUS": {"ru", "Russo"}, "CHI": {"zh", "Cinese"}, "ALB": {"sq", "Albanese"},
}

// citizenships maps the 3-digit citizenship codes the synthetic SIL uses to ISO 3166 countries.
var citizenships = map[string][2]string{
	"000": {"IT", "Italiana"}, "201": {"AL", "Albanese"}, "235": {"RO", "Rumena"}, "436": {"MA", "Marocchina"},
}

// eqf maps the 2-digit study levels to EQF levels (Level/Code).
var eqf = map[string]string{"10": "1", "20": "2", "30": "3", "40": "4", "50": "6", "60": "7", "70": "8"}

// Document builds and validates the SkillsPassport of w.
func (b *Builder) Document(w *sil.Worker) ([]byte, error) {
	if b.Now == nil {
		return nil, errors.New("europass: Builder.Now is required")
	}
	sp, err := b.passport(w)
	if err != nil {
		return nil, err
	}
	return document.Marshal(w, b.Validator, Schema, "europass", sp)
}

// Doc is one built document with the record it came from.
type Doc = document.Doc

// Batch builds the SkillsPassport of every worker and goes on past the rejected ones.
func (b *Builder) Batch(ws []*sil.Worker) ([]Doc, []*sil.RecordError) {
	return document.Batch(ws, b.Document)
}

func ptr[T any](v T) *T { return &v }

func opt[T ~string](s string) *T {
	if s == "" {
		return nil
	}
	v := T(s)
	return &v
}

func str(s string) *wire.NonEmptyString { return opt[wire.NonEmptyString](s) }

func label(code, lbl string) *wire.CodeLabelType {
	return &wire.CodeLabelType{Code: str(code), Label: str(lbl)}
}

func (b *Builder) passport(w *sil.Worker) (*wire.SkillsPassport, error) {
	if err := w.CheckIdentity(); err != nil {
		return nil, err
	}
	if err := w.CheckAddress("dom", w.Domicilio); err != nil {
		return nil, err
	}
	if w.UpdatedAt.IsZero() {
		return nil, w.Reject("aggiornato_il", "required (DocumentInfo/LastUpdateDate)", nil)
	}
	now := b.Now().UTC().Truncate(time.Second)
	nat, ok := citizenships[w.Cittadinanza]
	if !ok {
		return nil, w.Reject("cittadinanza", "known citizenship code", fmt.Errorf("no ISO country for %q", w.Cittadinanza))
	}

	contact := &wire.ContactInfoType{Address: &wire.AddressType{Contact: &wire.AddressContactType{
		AddressLine: str(w.Domicilio.Indirizzo), PostalCode: str(w.Domicilio.CAP), Municipality: str(w.Domicilio.Localita),
		Country: &wire.CountryType{Code: ptr(wire.CountryCode("IT")), Label: str("Italia")},
	}}}
	if w.Email != "" {
		contact.Email = &wire.EmailType{Contact: str(w.Email)}
	}
	var phones []*wire.TelephoneType
	for _, p := range []struct{ n, use, lbl string }{{w.Cellulare, "mobile", "Cellulare"}, {w.Telefono, "home", "Abitazione"}} {
		if p.n != "" {
			phones = append(phones, &wire.TelephoneType{Contact: str(p.n), Use: label(p.use, p.lbl)})
		}
	}
	if len(phones) > 0 {
		contact.TelephoneList = &wire.TelephoneListType{Telephone: phones}
	}
	li := &wire.LearnerInfoType{Identification: &wire.IdentificationType{
		PersonName:  &wire.PersonNameType{FirstName: str(w.Nome), Surname: str(w.Cognome)},
		ContactInfo: contact,
		Demographics: &wire.DemographicsType{
			Birthdate:       wire.NewDateType(w.DataNascita),
			Gender:          &wire.GenderType{Code: ptr(wire.GenderCode(w.Sesso))},
			NationalityList: &wire.NationalityListType{Nationality: []*wire.CountryType{{Code: ptr(wire.CountryCode(nat[0])), Label: str(nat[1])}}},
		},
	}}

	for i, e := range w.Esperienze {
		field := fmt.Sprintf("experiences[%d].", i)
		if e.DataInizio.IsZero() {
			return nil, w.Reject(field+"data_inizio", "required", nil)
		}
		if e.AziendaNome == "" {
			return nil, w.Reject(field+"azienda_nome", "required (Employer/Name)", nil)
		}
		p := &wire.PeriodType{From: wire.NewDateType(e.DataInizio)}
		if e.DataFine.IsZero() {
			p.Current = true
		} else {
			p.To = wire.NewDateType(e.DataFine)
		}
		x := &wire.WorkExperienceType{
			Period: p, Position: label(e.Professione, e.DescrProfessione), Activities: str(e.Compiti),
			Employer: &wire.OrganisationType{Name: str(e.AziendaNome)},
		}
		if e.Ateco != "" {
			x.Employer.Sector = label(e.Ateco, "")
		}
		if li.WorkExperienceList == nil {
			li.WorkExperienceList = &wire.WorkExperienceListType{}
		}
		li.WorkExperienceList.WorkExperience = append(li.WorkExperienceList.WorkExperience, x)
	}
	for i, e := range w.Istruzione {
		field := fmt.Sprintf("education[%d].", i)
		if e.Descrizione == "" {
			return nil, w.Reject(field+"descrizione", "required (Education/Title)", nil)
		}
		if e.AnnoTermine == 0 {
			return nil, w.Reject(field+"anno_termine", "required (Education/Period)", nil)
		}
		// The SIL keeps the year of completion only: the period is that year.
		y := wire.GYear(fmt.Sprintf("%04d", e.AnnoTermine))
		x := &wire.EducationType{
			Period: &wire.PeriodType{From: &wire.DateType{Year: &y}, To: &wire.DateType{Year: &y}},
			Title:  str(e.Descrizione),
		}
		if e.Istituto != "" {
			x.Organisation = &wire.OrganisationType{Name: str(e.Istituto)}
		}
		if l, ok := eqf[e.Livello]; ok {
			x.Level = &wire.LevelType{Code: ptr(wire.EQFLevel(l))}
		}
		if li.EducationList == nil {
			li.EducationList = &wire.EducationListType{}
		}
		li.EducationList.Education = append(li.EducationList.Education, x)
	}
	ling := &wire.LinguisticType{}
	if w.Cittadinanza == "000" {
		ling.MotherTongueList = &wire.MotherTongueListType{MotherTongue: []*wire.MotherTongueType{{
			Description: &wire.LanguageType{Code: ptr(wire.LanguageCode("it")), Label: str("Italiano")}}}}
	}
	for i, g := range w.Lingue {
		lang, ok := languages[g.Codice]
		if !ok {
			return nil, w.Reject(fmt.Sprintf("languages[%d].lingua", i), "known language code", fmt.Errorf("no ISO 639-1 code for %q", g.Codice))
		}
		if ling.ForeignLanguageList == nil {
			ling.ForeignLanguageList = &wire.ForeignLanguageListType{}
		}
		ling.ForeignLanguageList.ForeignLanguage = append(ling.ForeignLanguageList.ForeignLanguage, &wire.ForeignLanguageType{
			Description: &wire.LanguageType{Code: ptr(wire.LanguageCode(lang[0])), Label: str(lang[1])},
			ProficiencyLevel: &wire.ProficiencyLevelType{
				Reading:           opt[wire.CEFRLevel](g.Letto), // the SIL has no listening level: Listening is left out
				SpokenInteraction: opt[wire.CEFRLevel](g.Parlato), SpokenProduction: opt[wire.CEFRLevel](g.Parlato),
				Writing: opt[wire.CEFRLevel](g.Scritto),
			},
		})
	}
	if ling.MotherTongueList != nil || ling.ForeignLanguageList != nil {
		li.Skills = &wire.SkillsType{Linguistic: ling}
	}
	gen := b.Generator
	if gen == "" {
		gen = "Porta"
	}
	return &wire.SkillsPassport{
		Locale: ptr(wire.Locale("it")),
		DocumentInfo: &wire.DocumentInfoType{
			DocumentType: str("ECV"), CreationDate: wire.NewDateTime(now), LastUpdateDate: wire.NewDateTime(w.UpdatedAt),
			XSDVersion: str(XSDVersion), Generator: str(gen),
		},
		LearnerInfo: li,
	}, nil
}

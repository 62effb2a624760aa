// Package sil is the province's SIL (Sistema Informativo Lavoro) as a read-only source of worker
// records: the domain Worker (anagrafica, residence and domicile, contacts, administrative state
// and DID, experiences, education, languages), a Source over any sqlx database whose queries and
// column-to-field mapping live in a YAML configuration, not in code, and a deterministic
// synthetic SIL generator that writes a SQLite database with the documented schema (schema.sql)
// and the matching default mapping (default.yaml).
//
// It also owns what every outbound builder shares: RecordError, the typed rejection of one record
// (naming the record, the field and the rule), Batch, which goes on past rejected records, and
// the Validator a builder checks its documents with.
//
// It must not write to the SIL (Source opens it read-only; SQLite with mode=ro), build any
// document, or know about the busta or HTTP.
package sil

import (
	"time"
)

// Worker is one worker as the SIL knows it. Dates are calendar days (UTC midnight); a zero time
// means the SIL has no value. Codes follow the ministry's conventions: Belfiore codes for places,
// 3-digit citizenship codes, ISTAT CP2011 professions, ATECO 2007 sectors, CEFR language levels.
type Worker struct {
	ID            string // the SIL's own key
	CodiceFiscale string
	Cognome       string
	Nome          string
	Sesso         string // M or F
	DataNascita   time.Time
	ComuneNascita string // Belfiore code (Z... abroad)
	Cittadinanza  string // 3 digits, 000 = Italian

	Residenza Address
	Domicilio Address

	Telefono  string
	Cellulare string
	Email     string

	Admin AdminState

	Esperienze []Experience
	Istruzione []Education
	Lingue     []Language

	UpdatedAt time.Time // last change in the SIL
}

// Address is a residence or domicile.
type Address struct {
	Comune    string // Belfiore code
	CAP       string // 5 digits
	Indirizzo string
	Localita  string
}

// IsZero reports whether the SIL holds no address.
func (a Address) IsZero() bool { return a == Address{} }

// AdminState is the worker's administrative state at the employment centre (CPI).
type AdminState struct {
	CodiceEnteTitolare  string // the CPI holding the record, e.g. A944C000123
	CodiceSAP           string // identificativo SAP, once the Ministry assigned one
	StatoOccupazionale  string // DI, IN, OC, AL
	DataDID             time.Time
	DataEvento          time.Time
	AnzianitaMesi       int    // months of unemployment
	IndiceProfiling     string // decimal as text, e.g. 0.4521
	CategoriaProtetta   string // SI/NO
	CondizioneAnnoPrima string // DID profiling: condition one year before (code)
	ComponentiFamiglia  int    // DID profiling: household size
	FigliACarico        int    // DID profiling: dependent children
	IscrittoFormazione  string // DID profiling: enrolled in school, university or a course now (SI/NO)
}

// Experience is one work experience.
type Experience struct {
	AziendaCF        string
	AziendaNome      string
	AziendaIndirizzo string
	Ateco            string // ATECO 2007, e.g. 47.11.10
	DataInizio       time.Time
	DataFine         time.Time // zero: still employed
	Professione      string    // ISTAT CP2011, e.g. 5.1.2.2.0.1
	DescrProfessione string
	Compiti          string
	TipoContratto    string // e.g. A.01.00
	ComuneLavoro     string // Belfiore code
}

// Education is one qualification.
type Education struct {
	Livello         string // 2-digit level of the ministry's "Livello di Studio" table
	Corso           string // course code (up to 8)
	Descrizione     string
	AnnoTermine     int
	Votazione       string
	ComuneFrequenza string // Belfiore code
	Istituto        string
}

// Language is one foreign language with CEFR levels (A1–C2).
type Language struct {
	Codice  string // 3 letters, e.g. ENG
	Letto   string
	Scritto string
	Parlato string
}

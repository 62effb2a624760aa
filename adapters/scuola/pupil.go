package scuola

import "time"

// Stato is a pupil's attendance state (statoFrequenza).
type Stato string

// The attendance states.
const (
	Frequentante Stato = "frequentante" // attending
	Ritirato     Stato = "ritirato"     // withdrawn by the family
	Trasferito   Stato = "trasferito"   // moved to another school
	Interrotto   Stato = "interrotto"   // stopped attending (drop-out)
)

// Valid reports whether s is one of the four states.
func (s Stato) Valid() bool {
	switch s {
	case Frequentante, Ritirato, Trasferito, Interrotto:
		return true
	}
	return false
}

// LeftSchool reports whether the state means the pupil left education: withdrawn or interrupted
// (a transfer is not leaving school).
func (s Stato) LeftSchool() bool { return s == Ritirato || s == Interrotto }

// Momento is the ANS communication moment that produced the record.
type Momento string

// The communication moments.
const (
	Avvio         Momento = "AVVIO"         // September: attending pupils
	Trasferimento Momento = "TRASFERIMENTO" // transfer during the year
	Interruzione  Momento = "INTERRUZIONE"  // withdrawal or interruption during the year
	Esito         Momento = "ESITO"         // end of the year
)

// Pupil is one pupil's attendance record at a school in a school year.
type Pupil struct {
	CodiceFiscale      string
	Cognome            string
	Nome               string
	DataNascita        time.Time
	ClasseAnno         int    // 1 to 5
	ClasseSezione      string // e.g. "A"
	Stato              Stato
	Momento            Momento
	DataEvento         time.Time
	ScuolaDestinazione string // codice meccanografico, for Trasferito
	// Unreadable lists the values ParseResult could not read into the typed fields above (which
	// stay zero), in document order: the merge rejects the pupil for the first (adapters/merge).
	Unreadable []Unreadable `json:",omitempty"`
}

// Unreadable is a value of a pupil's record that is not of its field's type.
type Unreadable struct {
	Field string // path from alunno, e.g. alunno/dataNascita
	Rule  string // e.g. xs:date
	Value string // as sent
}

// AgeOn returns the pupil's age in whole years on day t.
func (p *Pupil) AgeOn(t time.Time) int {
	y := t.Year() - p.DataNascita.Year()
	if t.Month() < p.DataNascita.Month() || (t.Month() == p.DataNascita.Month() && t.Day() < p.DataNascita.Day()) {
		y--
	}
	return y
}

// Extraction is a request for a school's attendance records in a school year.
type Extraction struct {
	ID     string
	School string    // codice meccanografico
	Year   string    // anno scolastico, aaaa/aaaa
	From   time.Time // only events on or after this day; zero = the whole year
}

// Status is the state of an extraction (stato).
type Status string

// Extraction states.
const (
	InProgress Status = "IN_CORSO"
	Completed  Status = "COMPLETATA"
	Failed     Status = "ERRORE"
)

// Result is a poll's answer: in progress, or completed with the pupils, or failed with a reason.
type Result struct {
	ID     string
	Status Status
	School string
	Year   string
	Pupils []Pupil
	Code   string // for Failed
	Reason string // for Failed
}

package anagrafe

import (
	"fmt"
	"time"
)

// Comune is an Italian municipality as ANPR names it.
type Comune struct {
	Nome        string // nomeComune
	CodiceIstat string // 6 digits
	Provincia   string // siglaProvinciaIstat, 2 letters
}

// Address is a residence address (tipoIndirizzo).
type Address struct {
	CAP           string
	Comune        Comune
	Specie        string // toponym kind: VIA, PIAZZA, …
	Denominazione string // toponym name
	Numero        int    // house number, from 1
	Lettera       string // optional letter after the number
}

// String renders the address on one line, as an operator reads it.
func (a Address) String() string {
	n := fmt.Sprint(a.Numero)
	if a.Lettera != "" {
		n += "/" + a.Lettera
	}
	return fmt.Sprintf("%s %s %s, %s %s (%s)", a.Specie, a.Denominazione, n, a.CAP, a.Comune.Nome, a.Comune.Provincia)
}

// Residence is an address and the day it took effect (dataDecorrenzaResidenza).
type Residence struct {
	Address Address
	Since   time.Time
}

// Death records a death (datiDecesso).
type Death struct {
	Date  time.Time
	Place *Comune // nil when not known
}

// Emigration records an enrolment in AIRE, the registry of Italians resident abroad.
type Emigration struct {
	Since     time.Time
	StateCode string // ISTAT 3-digit state code
	StateName string
}

// Subject is a person as the municipal registry knows them (datiSoggetto).
type Subject struct {
	CodiceFiscale string
	Cognome       string
	Nome          string
	Sesso         string // M or F
	DataNascita   time.Time
	// Birth place: an Italian comune, or LocalitaNascita for a birth abroad.
	ComuneNascita   *Comune
	LocalitaNascita string

	Residence  *Residence
	Death      *Death
	Emigration *Emigration
}

// Closed reports whether the registry closed the person's record here: dead or emigrated.
func (s *Subject) Closed() bool { return s.Death != nil || s.Emigration != nil }

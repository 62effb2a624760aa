package envelope

import "time"

// Profile is the collaboration profile (ProfiloCollaborazione).
type Profile int

const (
	ProfileNone     Profile = iota // absent: a busta di servizio (riscontri or exceptions only)
	OneWay                         // EGOV_IT_MessaggioSingoloOneWay
	Sync                           // EGOV_IT_ServizioSincrono
	AsyncSymmetric                 // EGOV_IT_ServizioAsincronoSimmetrico
	AsyncAsymmetric                // EGOV_IT_ServizioAsincronoAsimmetrico
)

// Time source values of OraRegistrazione@tempo.
const (
	TimeSPC   = "EGOV_IT_SPC"
	TimeLocal = "EGOV_IT_Locale"
)

// Party is one IdentificativoParte: a soggetto's name with its type (tipo, e.g. "SPC") and an
// optional indirizzoTelematico.
type Party struct {
	Type    string `json:"type"`
	Name    string `json:"name"`
	Address string `json:"address,omitempty"`
}

// Timestamp is an OraRegistrazione: a time and its source (TimeSPC or TimeLocal).
type Timestamp struct {
	Time   time.Time `json:"time"`
	Source string    `json:"source"`
}

// Transmission is ProfiloTrasmissione.
type Transmission struct {
	// AtMostOnce is inoltro="EGOV_IT_ALPIUUNAVOLTA" (the receiver filters duplicates); false is
	// EGOV_IT_PIUDIUNAVOLTA, the schema's default.
	AtMostOnce bool `json:"at_most_once"`
	// AckRequested is confermaRicezione="true": the receiver answers with a Riscontro.
	AckRequested bool `json:"ack_requested"`
}

// Ack is one Riscontro of ListaRiscontri: the acknowledged busta's Identificatore and time.
type Ack struct {
	ID   string    `json:"id"`
	Time Timestamp `json:"time"`
}

// Hop is one Trasmissione of ListaTrasmissioni.
type Hop struct {
	Origin      Party     `json:"origin"`
	Destination Party     `json:"destination"`
	Time        Timestamp `json:"time"`
}

// Header is the whole eGov_IT:Intestazione: IntestazioneMessaggio plus the three lists. Fields
// follow the schema's order. Optional elements are absent when their field is the zero value
// (Profile == ProfileNone, empty strings, nil pointers, Sequence == 0, empty slices).
type Header struct {
	// Sender is Mittente: one or more IdentificativoParte; the first one is the sending party.
	Sender   []Party `json:"sender"`
	Receiver Party   `json:"receiver"` // Destinatario

	Profile               Profile `json:"profile,omitempty"`                 // ProfiloCollaborazione
	CorrelatedService     string  `json:"correlated_service,omitempty"`      // ProfiloCollaborazione@servizioCorrelato
	CorrelatedServiceType string  `json:"correlated_service_type,omitempty"` // ProfiloCollaborazione@tipo

	Conversation string `json:"conversation,omitempty"` // Collaborazione
	ServiceType  string `json:"service_type,omitempty"` // Servizio@tipo
	Service      string `json:"service,omitempty"`      // Servizio
	Action       string `json:"action,omitempty"`       // Azione

	ID        string     `json:"id"`                   // Messaggio/Identificatore
	Time      Timestamp  `json:"time"`                 // Messaggio/OraRegistrazione
	RelatesTo string     `json:"relates_to,omitempty"` // Messaggio/RiferimentoMessaggio
	Expires   *time.Time `json:"expires,omitempty"`    // Messaggio/Scadenza

	Transmission *Transmission `json:"transmission,omitempty"` // ProfiloTrasmissione
	Sequence     int           `json:"sequence,omitempty"`     // Sequenza@numeroProgressivo (1..9999999)

	Acks          []Ack       `json:"acks,omitempty"`          // ListaRiscontri
	Transmissions []Hop       `json:"transmissions,omitempty"` // ListaTrasmissioni
	Exceptions    []Exception `json:"exceptions,omitempty"`    // ListaEccezioni
}

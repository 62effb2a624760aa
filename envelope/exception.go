package envelope

// Code is an eGov exception code (codiceEccezione), e.g. "EGOV_IT_117". The constants below
// cover every code of the schema's codiceEccezioneType.
type Code string

// Severity is an Eccezione's rilevanza.
type Severity string

const (
	SeverityInfo   Severity = "INFO"
	SeverityMinor  Severity = "LIEVE"
	SeveritySevere Severity = "GRAVE"
)

// Context values of Eccezione@contestoCodifica.
const (
	ContextValidation = "ErroreIntestazioneMessaggioSPCoop"
	ContextProcessing = "ErroreProcessamentoMessaggioSPCoop"
)

// Exception is one Eccezione of ListaEccezioni.
type Exception struct {
	Context  string   `json:"context"`  // contestoCodifica
	Code     Code     `json:"code"`     // codiceEccezione
	Severity Severity `json:"severity"` // rilevanza
	Position string   `json:"position"` // posizione, e.g. "Messaggio/Identificatore"
}

package envelope

import (
	"fmt"
	"strings"

	"porta/internal/clip"
)

// MaxDetail is how long an exception's explanation may be, in bytes: details repeat values a
// peer sent, and are logged and traced (clip.To marks the cut).
const MaxDetail = 1024

// The eGov exception codes of the schema's codiceEccezioneType (spec §4). The schema defines no
// 5xx codes.
const (
	CodeEnvelopeFormat              Code = "EGOV_IT_001"
	CodeHeaderFormat                Code = "EGOV_IT_002"
	CodeBodyFormat                  Code = "EGOV_IT_003"
	CodeHeaderContent               Code = "EGOV_IT_100"
	CodeUnknownSender               Code = "EGOV_IT_101"
	CodeUnknownReceiver             Code = "EGOV_IT_102"
	CodeInvalidProfile              Code = "EGOV_IT_103"
	CodeInvalidConversation         Code = "EGOV_IT_104"
	CodeUnknownService              Code = "EGOV_IT_105"
	CodeUnknownAction               Code = "EGOV_IT_106"
	CodeIDUndefined                 Code = "EGOV_IT_107"
	CodeInvalidTime                 Code = "EGOV_IT_108"
	CodeRelatesToUndefined          Code = "EGOV_IT_109"
	CodeInvalidID                   Code = "EGOV_IT_110"
	CodeInvalidRelatesTo            Code = "EGOV_IT_111"
	CodeInvalidExpiry               Code = "EGOV_IT_112"
	CodeInvalidTransmission         Code = "EGOV_IT_113"
	CodeInvalidSequence             Code = "EGOV_IT_114"
	CodeInvalidAcks                 Code = "EGOV_IT_115"
	CodeInvalidHops                 Code = "EGOV_IT_116"
	CodeInvalidSignature            Code = "EGOV_IT_117"
	CodeInvalidAttachmentRef        Code = "EGOV_IT_118"
	CodeAttachmentMissing           Code = "EGOV_IT_119"
	CodeAttachmentUndefined         Code = "EGOV_IT_120"
	CodeSecurityPolicy              Code = "EGOV_IT_200"
	CodeSenderNotAuthorized         Code = "EGOV_IT_201"
	CodeInvalidXMLSignature         Code = "EGOV_IT_202"
	CodeInvalidPKCS7                Code = "EGOV_IT_203"
	CodeProcessing                  Code = "EGOV_IT_300"
	CodeExpired                     Code = "EGOV_IT_301"
	CodeTimeTransparency            Code = "EGOV_IT_400"
	CodeTimeTransparencyUnsupported Code = "EGOV_IT_401"
	CodeInvalidTransmissionAttrs    Code = "EGOV_IT_402"
)

// meanings holds the Italian text of every code, as the CNIPA schema's annotations word it.
var meanings = map[Code]string{
	CodeEnvelopeFormat:              "Formato Busta non corretto",
	CodeHeaderFormat:                "Formato Intestazione non corretto",
	CodeBodyFormat:                  "Formato Corpo non corretto",
	CodeHeaderContent:               "Errore nel contenuto dell'Intestazione della busta",
	CodeUnknownSender:               "Mittente sconosciuto",
	CodeUnknownReceiver:             "Destinatario sconosciuto",
	CodeInvalidProfile:              "Profilo di Collaborazione non valido",
	CodeInvalidConversation:         "Identificativo di Collaborazione non valido",
	CodeUnknownService:              "Servizio sconosciuto",
	CodeUnknownAction:               "Azione sconosciuta",
	CodeIDUndefined:                 "Identificatore non definito",
	CodeInvalidTime:                 "OraRegistrazione non valida",
	CodeRelatesToUndefined:          "RiferimentoMessaggio non definito",
	CodeInvalidID:                   "Identificatore non valido",
	CodeInvalidRelatesTo:            "RiferimentoMessaggio non valido",
	CodeInvalidExpiry:               "Scadenza non valida",
	CodeInvalidTransmission:         "ProfiloTrasmissione non valido",
	CodeInvalidSequence:             "Sequenza non valida",
	CodeInvalidAcks:                 "ListaRiscontri non valida",
	CodeInvalidHops:                 "ListaTrasmissioni non valida",
	CodeInvalidSignature:            "Firma non valida",
	CodeInvalidAttachmentRef:        "Riferimento allegato non valido",
	CodeAttachmentMissing:           "Allegato non presente",
	CodeAttachmentUndefined:         "Allegato non definito",
	CodeSecurityPolicy:              "Errore nelle politiche di sicurezza",
	CodeSenderNotAuthorized:         "Mittente non autorizzato",
	CodeInvalidXMLSignature:         "Firma XML non valida",
	CodeInvalidPKCS7:                "Firma PKCS#7 non valida",
	CodeProcessing:                  "Errore nel processamento del messaggio SPCoop",
	CodeExpired:                     "Messaggio scaduto",
	CodeTimeTransparency:            "Errore nella gestione della trasparenza temporale",
	CodeTimeTransparencyUnsupported: "Gestione della trasparenza temporale non supportata",
	CodeInvalidTransmissionAttrs:    "Attributi di ProfiloTrasmissione non validi per la trasparenza temporale",
}

// Meaning is the code's Italian description, or "" for a code the schema does not define.
func (c Code) Meaning() string { return meanings[c] }

// Valid reports whether c is one of the schema's codes.
func (c Code) Valid() bool { _, ok := meanings[c]; return ok }

// Codes lists every code of the schema in ascending order.
func Codes() []Code {
	out := make([]Code, 0, len(meanings))
	for c := range meanings {
		out = append(out, c)
	}
	for i := 1; i < len(out); i++ { // insertion sort: 33 items, no import for so little
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// processing reports whether c is reported in the processing context (spec §4: 300-style codes).
func (c Code) processing() bool { return c == CodeProcessing || c == CodeExpired }

// ProtocolError is a failure the eGov protocol reports with exception codes. Exceptions lists
// every exception found (spec §10: every error is reported, not only the first); Detail says in
// English what failed, for logs and the command line, and is never sent back in a validation
// fault. Bare means the header could not be read at all, so the answer is a bare SOAP Fault
// (soap:Client, EGOV_IT_001) with no busta.
type ProtocolError struct {
	Exceptions []Exception
	Detail     string
	Bare       bool
	// details holds one English explanation per exception, in the same order, when known.
	details []string
}

// NewError is a ProtocolError with one GRAVE exception: code at position (a posizione string
// such as "Messaggio/Identificatore"), in the validation context, or the processing context for
// EGOV_IT_300 and EGOV_IT_301.
func NewError(code Code, position, detail string) *ProtocolError {
	e := &ProtocolError{Detail: clip.To(detail, MaxDetail)}
	e.add(code, SeveritySevere, position, detail)
	return e
}

// add appends an exception with its explanation, cut to MaxDetail bytes.
func (e *ProtocolError) add(code Code, sev Severity, position, detail string) {
	detail = clip.To(detail, MaxDetail)
	ctx := ContextValidation
	if code.processing() {
		ctx = ContextProcessing
	}
	e.Exceptions = append(e.Exceptions, Exception{Context: ctx, Code: code, Severity: sev, Position: position})
	e.details = append(e.details, detail)
	if e.Detail == "" {
		e.Detail = detail
	}
}

// Code is the first GRAVE exception's code (the first exception's when none is GRAVE), or
// EGOV_IT_001 for an error without exceptions.
func (e *ProtocolError) Code() Code {
	for _, x := range e.Exceptions {
		if x.Severity == SeveritySevere {
			return x.Code
		}
	}
	if len(e.Exceptions) > 0 {
		return e.Exceptions[0].Code
	}
	return CodeEnvelopeFormat
}

// Processing reports whether the answer is the soap:Server / EGOV_IT_300 fault rather than an
// error busta: the message was valid but could not be processed.
func (e *ProtocolError) Processing() bool {
	c := e.Code()
	return c == CodeProcessing
}

// Severe reports whether any exception is GRAVE: only INFO and LIEVE exceptions are tolerated
// deviations that do not refuse the busta.
func (e *ProtocolError) Severe() bool {
	for _, x := range e.Exceptions {
		if x.Severity == SeveritySevere {
			return true
		}
	}
	return false
}

// Lines is one "EGOV_IT_NNN: posizione: what failed" line per exception, as the command line
// prints them.
func (e *ProtocolError) Lines() []string {
	out := make([]string, 0, len(e.Exceptions))
	for i, x := range e.Exceptions {
		out = append(out, fmt.Sprintf("%s: %s: %s", x.Code, x.Position, e.detail(i)))
	}
	return out
}

// detail is the explanation of exception i: its own, else Detail for the first, else the code's
// meaning.
func (e *ProtocolError) detail(i int) string {
	if i < len(e.details) && e.details[i] != "" {
		return e.details[i]
	}
	if i == 0 && e.Detail != "" {
		return e.Detail
	}
	return e.Exceptions[i].Code.Meaning()
}

// Error is "EGOV_IT_117 Security/Signature: digest of #Body does not match", with further
// exceptions appended after "; ".
func (e *ProtocolError) Error() string {
	if len(e.Exceptions) == 0 {
		return string(CodeEnvelopeFormat) + ": " + e.Detail
	}
	parts := make([]string, len(e.Exceptions))
	for i, x := range e.Exceptions {
		parts[i] = fmt.Sprintf("%s %s: %s", x.Code, x.Position, e.detail(i))
	}
	return strings.Join(parts, "; ")
}

package envelope

import "fmt"

// Interop is a party's interoperability profile (spec §11): plain busta eGov 1.1, or CNIPA's Linee
// Guida 1.1 for the busta, stricter in what a busta may carry. The registry gives each party one;
// a gateway checks what it receives from a party, and builds what it sends to it, by that party's
// profile.
type Interop string

const (
	InteropEGov       Interop = "egov-1.1"        // the busta specification as it stands (the default)
	InteropLineeGuida Interop = "linee-guida-1.1" // the Linee Guida 1.1 rules on top of it
)

// Interops lists the profiles a registry accepts, the default first.
var Interops = []Interop{InteropEGov, InteropLineeGuida}

// ParseInterop reads a registry's spelling of a profile; "" is the default, InteropEGov.
func ParseInterop(s string) (Interop, error) {
	switch Interop(s) {
	case "":
		return InteropEGov, nil
	case InteropEGov, InteropLineeGuida:
		return Interop(s), nil
	}
	return "", fmt.Errorf("interoperability profile %q is not one of %s, %s", s, InteropEGov, InteropLineeGuida)
}

// LineeGuida applies the Linee Guida 1.1 rules (spec §11) to h, a busta received from a party
// that runs that profile. It returns the GRAVE exceptions, which refuse the busta with an error
// busta, and the INFO ones: tolerated deviations, reported in the reply's ListaEccezioni (HTTP 200,
// no fault; for a one-way, in the trace only). Both lists are in header order, in the validation
// context, with the posizione spellings of spec §10; nil when there is nothing to say.
//
// The rules only read h: the party and service names are the registry's business (other checks),
// and what a tolerated field means for delivery (a Sequenza is ignored, duplicates are always
// filtered) is the receiver's. An error busta (one carrying ListaEccezioni) is an answer, not a
// request: it need not name a profile, service or action.
func LineeGuida(h *Header) (grave, info []Exception) {
	bad := func(code Code, pos string) { grave = append(grave, validation(code, SeveritySevere, pos)) }
	note := func(code Code, pos string) { info = append(info, validation(code, SeverityInfo, pos)) }
	const spc = "SPC"

	if len(h.Sender) > 0 {
		s := h.Sender[0]
		if s.Type != spc {
			// The Identificatore is built from the sender's SPC identity, so it is not one either.
			bad(CodeUnknownSender, "Mittente/IdentificativoParte/tipo")
			bad(CodeInvalidID, "Messaggio/Identificatore")
		}
		if s.Address != "" {
			note(CodeUnknownSender, "Mittente/IdentificativoParte/indirizzoTelematico")
		}
	}
	if h.Receiver.Type != spc {
		bad(CodeUnknownReceiver, "Destinatario/IdentificativoParte/tipo")
	}
	if h.Receiver.Address != "" {
		note(CodeUnknownReceiver, "Destinatario/IdentificativoParte/indirizzoTelematico")
	}
	request := len(h.Exceptions) == 0
	switch {
	case h.Profile == ProfileNone && request:
		bad(CodeInvalidProfile, "ProfiloCollaborazione")
	case h.Profile != ProfileNone:
		if h.CorrelatedServiceType != "" {
			note(CodeInvalidProfile, "ProfiloCollaborazione/tipo")
		}
		if h.CorrelatedService != "" {
			note(CodeInvalidProfile, "ProfiloCollaborazione/servizioCorrelato")
		}
	}
	switch {
	case (h.Profile == AsyncSymmetric || h.Profile == AsyncAsymmetric) && h.Conversation == "":
		bad(CodeInvalidConversation, "Collaborazione")
	case h.Profile == Sync && h.RelatesTo == "" && h.Conversation != "":
		note(CodeInvalidConversation, "Collaborazione")
	}
	switch {
	case h.Service == "" && request:
		bad(CodeUnknownService, "Servizio")
	case h.Service != "" && h.ServiceType != spc:
		bad(CodeUnknownService, "Servizio/tipo")
	}
	if h.Action == "" && request {
		bad(CodeUnknownAction, "Azione")
	}
	if h.Time.Source != TimeSPC {
		bad(CodeInvalidTime, "Messaggio/OraRegistrazione/tempo")
	}
	if t := h.Transmission; t != nil {
		if !t.AtMostOnce {
			bad(CodeInvalidTransmission, "ProfiloTrasmissione/inoltro")
		}
		if t.AckRequested {
			bad(CodeInvalidTransmission, "ProfiloTrasmissione/confermaRicezione")
		}
	}
	if h.Sequence > 0 {
		note(CodeTimeTransparencyUnsupported, "Sequenza")
	}
	if len(h.Acks) > 0 && h.Profile == OneWay {
		note(CodeInvalidAcks, "ListaRiscontri")
	}
	for _, a := range h.Acks {
		if a.Time.Source != TimeSPC {
			bad(CodeInvalidAcks, "ListaRiscontri/Riscontro/OraRegistrazione/tempo")
		}
	}
	for _, t := range h.Transmissions {
		for _, end := range []struct {
			name string
			p    Party
		}{{"Origine", t.Origin}, {"Destinazione", t.Destination}} {
			at := "ListaTrasmissioni/Trasmissione/" + end.name + "/IdentificativoParte/"
			if end.p.Type != spc {
				bad(CodeInvalidHops, at+"tipo")
			}
			if end.p.Address != "" {
				note(CodeInvalidHops, at+"indirizzoTelematico")
			}
		}
		if t.Time.Source != TimeSPC {
			bad(CodeInvalidHops, "ListaTrasmissioni/Trasmissione/OraRegistrazione/tempo")
		}
	}
	return grave, info
}

func validation(code Code, sev Severity, pos string) Exception {
	return Exception{Context: ContextValidation, Code: code, Severity: sev, Position: pos}
}

// LineeGuidaError is the refusal of a busta whose Linee Guida 1.1 check found the GRAVE
// exceptions grave (LineeGuida), each explained as a rule of the profile; nil when grave is empty.
func LineeGuidaError(grave []Exception) *ProtocolError {
	if len(grave) == 0 {
		return nil
	}
	e := &ProtocolError{}
	for _, x := range grave {
		e.add(x.Code, x.Severity, x.Position, x.Position+" breaks the Linee Guida 1.1 profile of the sender")
	}
	return e
}

// ForLineeGuida makes h, a busta this gateway sends to a party running the Linee Guida 1.1
// profile, obey it: ProfiloTrasmissione is inoltro EGOV_IT_ALPIUUNAVOLTA without
// confermaRicezione (the receiver filters duplicates; there is no riscontro), no Sequenza, no
// indirizzoTelematico, and every OraRegistrazione from the SPC clock. Party and service types are
// the registry's, which keeps them SPC for such a party (registry check). servizioCorrelato stays
// where the profile needs it to correlate (an asynchronous request names its callback service):
// the profile tolerates it (INFO).
func ForLineeGuida(h *Header) {
	h.Transmission = &Transmission{AtMostOnce: true}
	h.Sequence = 0
	for i := range h.Sender {
		h.Sender[i].Address = ""
	}
	h.Receiver.Address = ""
	h.Time.Source = TimeSPC
	for i := range h.Acks {
		h.Acks[i].Time.Source = TimeSPC
	}
}

// LineeGuidaTolerated returns err, the parse error of a busta from a Linee Guida 1.1 party,
// without the exceptions the profile turns into an INFO: the preconditions of a Sequenza
// (Collaborazione, 114 Sequenza; ProfiloTrasmissione with riscontro, 402), since the profile
// ignores Sequenza altogether (401 INFO, LineeGuida). It returns nil when nothing else is left,
// and err itself when it is not a *ProtocolError or has nothing to drop.
func LineeGuidaTolerated(err error) error {
	pe, ok := err.(*ProtocolError)
	if !ok || pe.Bare {
		return err
	}
	out := &ProtocolError{Bare: pe.Bare}
	for i, x := range pe.Exceptions {
		if (x.Code == CodeInvalidSequence && x.Position == "Sequenza") || (x.Code == CodeInvalidTransmissionAttrs && x.Position == "ProfiloTrasmissione") {
			continue
		}
		out.add(x.Code, x.Severity, x.Position, pe.detail(i))
	}
	switch len(out.Exceptions) {
	case 0:
		return nil
	case len(pe.Exceptions):
		return err
	}
	return out
}

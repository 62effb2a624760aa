package gateway

import (
	"context"

	"porta/envelope"
)

// The interoperability profile of each party (spec §11): a party that runs the Linee Guida 1.1
// profile has its buste checked by envelope.LineeGuida on receipt, and gets buste built for the
// profile (envelope.ForLineeGuida). The rules live in the envelope package; this file only
// consults them where the pipeline needs them:
//
//   - checkInterop (a PA stage, before the sender stage so that a wrong Mittente tipo gets its 110
//     too) refuses a busta with the GRAVE exceptions and keeps the INFO ones on the inbound busta;
//   - the later stages read in.lineeGuida: a Sequenza is ignored (401 INFO, no ordering), and
//     duplicates are always filtered (filtersDuplicates);
//   - the answer (a synchronous reply, a ricevuta) carries the INFO exceptions in its
//     ListaEccezioni with HTTP 200 (replyFor); a one-way's are in its trace record only;
//   - every busta to or from such a party, from the PD or as a reply, obeys the profile
//     (conform, replyFor);
//   - a reply from such a party is checked by the same rules (checkReplyProfile), and the INFO
//     exceptions of any reply are traced with it.

// lineeGuida reports whether the party runs the Linee Guida 1.1 profile.
func lineeGuida(p *Party) bool { return p != nil && p.Interop == envelope.InteropLineeGuida }

// checkInterop applies the sender's interoperability profile. It looks the sender up by name
// itself: an unknown sender is the sender stage's to refuse.
func (g *Gateway) checkInterop(_ context.Context, in *inbound) (*reply, error) {
	p, ok := g.dir.Party(in.h.Sender[0].Name)
	if !ok || !lineeGuida(p) {
		return nil, nil
	}
	in.lineeGuida = true
	grave, info := envelope.LineeGuida(in.h)
	if err := envelope.LineeGuidaError(grave); err != nil {
		return nil, err
	}
	in.notes = info
	return nil, nil
}

// sequence is the Sequenza the inbox orders the busta by: none from a Linee Guida sender, whose
// profile has no ordered delivery.
func (in *inbound) sequence() int {
	if in.lineeGuida {
		return 0
	}
	return in.h.Sequence
}

// replyFor finishes h, the header of a busta answering in (a synchronous reply or a ricevuta): the
// INFO exceptions of a Linee Guida sender in its ListaEccezioni, and the profile's rules when
// either end runs it.
func (g *Gateway) replyFor(in *inbound, h *envelope.Header) {
	if in.lineeGuida {
		h.Exceptions = append(h.Exceptions, in.notes...)
	}
	us, _ := g.dir.Party(senderOf(h))
	if in.lineeGuida || lineeGuida(us) {
		envelope.ForLineeGuida(h)
	}
}

// conform makes h, a busta this gateway sends for the party from to the party to, obey the
// profile of either: a Linee Guida party's own buste follow its profile too.
func conform(h *envelope.Header, from, to *Party) {
	if lineeGuida(from) || lineeGuida(to) {
		envelope.ForLineeGuida(h)
	}
}

// checkReplyProfile applies the profile of the party that answered (h, a verified reply busta
// that is no fault) on receipt, as the PA does for requests: a Linee Guida partner's GRAVE
// deviations make the reply invalid; its INFO ones are traced with it by the callers.
func (g *Gateway) checkReplyProfile(h *envelope.Header) error {
	p, ok := g.dir.Party(senderOf(h))
	if !ok || !lineeGuida(p) {
		return nil
	}
	grave, _ := envelope.LineeGuida(h)
	if perr := envelope.LineeGuidaError(grave); perr != nil {
		return &AppError{FaultCode: "Server", Reason: ReasonPeerReplyInvalid, Message: "the reply of " + p.Name + " breaks its Linee Guida 1.1 profile", Err: perr}
	}
	return nil
}

// tolerate applies the profile of h's sender to err, the error of reading h (the header stage,
// and the signature stage's reading of the signed header): from a Linee Guida sender what the
// profile only notes (a Sequenza's preconditions) is no error. The sender is looked up by name:
// who it really is is checked later.
func (g *Gateway) tolerate(h *envelope.Header, err error) error {
	if err == nil || h == nil || len(h.Sender) == 0 {
		return err
	}
	if p, ok := g.dir.Party(h.Sender[0].Name); ok && lineeGuida(p) {
		return envelope.LineeGuidaTolerated(err)
	}
	return err
}

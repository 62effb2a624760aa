package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/beevik/etree"

	"porta/envelope"
	"porta/internal/clip"
)

// How the Porta Applicativa answers a busta that passed every stage: by kind, deliver now
// (synchronous, richiesta-stato) or store in the inbox before answering (one-way, asynchronous).

const (
	fnPD = "PortaDelegata"
	fnPA = "PortaApplicativa"
)

func (g *Gateway) process(ctx context.Context, in *inbound) (*reply, error) {
	h := in.h
	g.takeAcks(ctx, h)
	recIn := g.record(Inbound, fnPA, h, in.raw)
	recIn.Peer, recIn.Signer, recIn.Outcome, recIn.Exceptions = in.r.RemoteAddr, g.fingerprint(in.signer.Raw), OutcomeReceived, in.notes
	recIn.IDs = businessIDs(in.service, in.body)
	g.stampClient(recIn, in.r)
	switch in.kind {
	case kindService:
		recIn.HTTPStatus = http.StatusOK
		if len(h.Exceptions) > 0 {
			// The Body as received: the verified copy is canonical (exclusive C14N), which drops
			// the declaration of the prefix faultcode's QName uses in its text.
			g.traceErrorBusta(recIn, h, in.msg.Body)
		}
		if err := g.store.Trace(ctx, recIn); err != nil {
			return nil, err
		}
		g.observe("", Inbound, OutcomeReceived, in.start)
		return &reply{status: http.StatusOK}, nil
	case kindSync, kindStatus:
		return g.deliverNow(ctx, in, recIn)
	}

	// One-way and asynchronous: the inbox, then the answer.
	data, err := in.queuedDelivery(len(in.raw))
	if err != nil {
		return nil, err
	}
	m := &QueuedMessage{
		ID: h.ID, Party: h.Receiver.Name, Service: h.Service, Conversation: h.Conversation, Sequence: in.sequence(),
		Data: data, Header: h, Created: g.now(), Expires: g.now().Add(g.opt.Window),
	}
	var answer *etree.Document
	var ah *envelope.Header
	switch {
	case in.kind == kindOneWay && h.Transmission != nil && h.Transmission.AckRequested:
		ah, answer, err = g.riscontro(ctx, h)
	case in.kind == kindRequest || in.kind == kindResponse:
		ah, answer, err = g.ricevuta(ctx, in)
	}
	if err != nil {
		return nil, err
	}
	recs := []*Record{recIn}
	var out []byte
	if answer != nil {
		if out, err = g.sign(answer, 0); err != nil {
			return nil, err
		}
		recOut := g.record(Outbound, fnPA, ah, out)
		recOut.Transaction, recOut.Peer, recOut.Outcome, recOut.HTTPStatus = h.ID, in.r.RemoteAddr, OutcomeSent, http.StatusOK
		recs = append(recs, recOut)
	}
	recIn.HTTPStatus = http.StatusOK
	err = g.in.enqueue(ctx, g, m, func(ctx context.Context, m *QueuedMessage) error {
		return g.store.Enqueue(ctx, Inbox, m, recs...)
	})
	if errors.Is(err, ErrDuplicate) {
		// The inbox already holds this ID: another copy won the race past the duplicates stage, or
		// the sender does not ask for filtering (PIUDIUNAVOLTA) and re-sent it. Where the spec
		// wants the duplicate refused (filtering on, no riscontro to repeat), refuse it; otherwise
		// answer as the first time, without a second delivery.
		if in.filtersDuplicates() && !(in.kind == kindOneWay && answer != nil) {
			return nil, envelope.NewError(envelope.CodeInvalidID, "Messaggio/Identificatore", "busta "+h.ID+" was already received")
		}
		recIn.Outcome = OutcomeDuplicate
		if err := g.store.Trace(ctx, recs...); err != nil {
			return nil, err
		}
		g.observe(h.Service, Inbound, OutcomeDuplicate, in.start)
		return &reply{status: http.StatusOK, body: out}, nil
	}
	if err != nil {
		return nil, err
	}
	g.observe(h.Service, Inbound, OutcomeReceived, in.start)
	return &reply{status: http.StatusOK, body: out}, nil
}

// deliverNow hands a synchronous request or a richiesta-stato to the backend and answers with the
// reply busta carrying the backend's answer (or its Fault, HTTP 500).
// traceErrorBusta fills the trace record of a received error busta: it is an answer, so it gets
// none, but what it carries (every Eccezione, with code, rilevanza and posizione) and the
// EGOV_IT_003 this gateway finds in its Body (envelope.CheckErrorBusta) are recorded, where an
// operator sees them (spec §10, "Incoming error buste").
func (g *Gateway) traceErrorBusta(rec *Record, h *envelope.Header, body *etree.Element) {
	own := envelope.CheckErrorBusta(h, body, false)
	rec.Exceptions = append(append([]envelope.Exception(nil), h.Exceptions...), own...)
	var b strings.Builder
	fmt.Fprintf(&b, "error busta carrying %d exception(s):", len(h.Exceptions))
	for _, x := range h.Exceptions {
		fmt.Fprintf(&b, " %s %s %q;", x.Code, x.Severity, x.Position)
	}
	if len(own) > 0 {
		rec.Outcome = OutcomeError
		b.WriteString(" its Body is not the eGov fault:")
		for _, x := range own {
			fmt.Fprintf(&b, " %s %q;", x.Code, x.Position)
		}
	}
	rec.Detail = strings.TrimSuffix(b.String(), ";")
	g.log.Info("error busta received", "id", h.ID, "relates_to", h.RelatesTo, "detail", rec.Detail)
}

func (g *Gateway) deliverNow(ctx context.Context, in *inbound, recIn *Record) (*reply, error) {
	h := in.h
	be, ok := g.dir.Backend(in.service)
	if !ok {
		return nil, fmt.Errorf("service %s of %s has no delivery endpoint in the registry", h.Service, h.Receiver.Name)
	}
	ct, env, err := in.deliveryOf(len(in.raw))
	if err != nil {
		return nil, err
	}
	rep, err := be.Deliver(ctx, &Delivery{Header: h, Envelope: env, ContentType: ct})
	if err != nil {
		return nil, &backendError{fmt.Errorf("deliver %s to %s: %w", h.ID, h.Service, err)}
	}
	rdoc, err := g.parseXML(rep.Envelope)
	if err != nil {
		return nil, fmt.Errorf("backend of %s answered %s: %w", h.Service, h.ID, err)
	}
	_, rbody, err := soapParts(rdoc)
	if err != nil {
		return nil, fmt.Errorf("backend of %s answered %s: %w", h.Service, h.ID, err)
	}
	ids := businessIDs(in.service, rbody) // before payload moves the answer into the reply busta
	rh, err := g.replyHeader(ctx, h, true)
	if err != nil {
		return nil, err
	}
	g.replyFor(in, rh)
	status := http.StatusOK
	if bodyFault(rbody) != nil {
		status = http.StatusInternalServerError
	}
	doc := envelope.NewEnvelope(rh, payload(rbody)...)
	out, err := g.sign(doc, sizeHint(len(rep.Envelope)))
	if err != nil {
		return nil, err
	}
	recIn.HTTPStatus = status
	if in.r.Context().Err() != nil {
		// The backend has the message and answered: it was delivered, though nobody reads the reply.
		recIn.Detail = "delivered; the sender hung up before the reply"
	}
	recOut := g.record(Outbound, fnPA, rh, out)
	recOut.Transaction, recOut.Peer, recOut.Outcome, recOut.HTTPStatus = h.ID, in.r.RemoteAddr, OutcomeSent, status
	recOut.IDs = ids
	if err := g.store.Trace(ctx, recIn, recOut); err != nil {
		return nil, err
	}
	g.observe(h.Service, Inbound, OutcomeReceived, in.start)
	return &reply{status: status, body: out}, nil
}

// answerDuplicate repeats the riscontro of a one-way busta already accepted: HTTP 200, the message
// is not delivered again.
func (g *Gateway) answerDuplicate(ctx context.Context, in *inbound) (*reply, error) {
	ah, doc, err := g.riscontro(ctx, in.h)
	if err != nil {
		return nil, err
	}
	out, err := g.sign(doc, 0)
	if err != nil {
		return nil, err
	}
	recIn := g.record(Inbound, fnPA, in.h, in.raw)
	recIn.Peer, recIn.Signer, recIn.Outcome, recIn.HTTPStatus = in.r.RemoteAddr, g.fingerprint(in.signer.Raw), OutcomeDuplicate, http.StatusOK
	recIn.IDs = businessIDs(in.service, in.body)
	g.stampClient(recIn, in.r)
	recOut := g.record(Outbound, fnPA, ah, out)
	recOut.Transaction, recOut.Peer, recOut.Outcome, recOut.HTTPStatus = in.h.ID, in.r.RemoteAddr, OutcomeSent, http.StatusOK
	if err := g.store.Trace(ctx, recIn, recOut); err != nil {
		return nil, err
	}
	g.observe(in.h.Service, Inbound, OutcomeDuplicate, in.start)
	return &reply{status: http.StatusOK, body: out}, nil
}

// takeAcks completes the outbox entries acknowledged by riscontri piggy-backed on a busta.
func (g *Gateway) takeAcks(ctx context.Context, h *envelope.Header) {
	for _, a := range h.Acks {
		if err := g.store.Done(ctx, Outbox, a.ID, nil); err != nil {
			g.log.Debug("riscontro for a busta not in the outbox", "id", clip.Echo(a.ID), "err", err)
		}
	}
}

// refuse answers a busta that failed a stage, after tracing it: a bare fault when the busta could
// not be read, the EGOV_IT_300 fault for a processing error, else an error busta with the
// exceptions and the soap:Client fault. Always HTTP 500.
//
// With reason ReasonBackendUnreachable the EGOV_IT_300 fault says so in its detail (the
// faultstring is the one the specification fixes) and in Porta-Error-Reason.
//
// The refusal is traced whether or not the sender still waits (on a context of its own), with the
// TLS client certificate it came with, and with at most Options.RefusedBodyMax bytes of it.
func (g *Gateway) refuse(ctx context.Context, in *inbound, perr *envelope.ProtocolError, reason Reason) *reply {
	ctx, cancel := outliveCaller(ctx)
	defer cancel()
	rec := g.record(Inbound, fnPA, in.h, in.raw)
	why := clip.To(perr.Error(), maxLoggedError)
	rec.Peer, rec.Outcome, rec.Exceptions, rec.Detail, rec.HTTPStatus = in.r.RemoteAddr, OutcomeError, perr.Exceptions, why, http.StatusInternalServerError
	rec.Reason, rec.Cap = reason, g.opt.RefusedBodyMax
	g.stampClient(rec, in.r)
	if in.signer != nil {
		rec.Signer = g.fingerprint(in.signer.Raw)
	}
	recs := []*Record{rec}
	var out []byte
	if perr.Bare || in.h == nil {
		// Not read at all: a bare fault. A header read without its Mittente (an attempted eGov
		// header under another name, no IntestazioneMessaggio) gets an error busta to Sconosciuto.
		out = mustBytes(envelope.BareFault())
	} else if perr.Code() == envelope.CodeProcessing {
		detail := ""
		if reason == ReasonBackendUnreachable {
			detail = backendUnreachable
		}
		out = mustBytes(envelope.ProcessingFault(detail))
	} else if eh, doc, err := g.errorBusta(ctx, in, perr); err != nil {
		g.log.Error("build error busta", "id", idOf(in.h), "err", err)
		out = mustBytes(envelope.BareFault())
	} else if out, err = g.sign(doc, 0); err != nil {
		g.log.Error("sign error busta", "id", idOf(in.h), "err", err)
		out = mustBytes(envelope.BareFault())
	} else {
		r := g.record(Outbound, fnPA, eh, out)
		r.Transaction, r.Peer, r.Outcome, r.HTTPStatus = in.h.ID, in.r.RemoteAddr, OutcomeError, http.StatusInternalServerError
		recs = append(recs, r)
	}
	if err := g.store.Trace(ctx, recs...); err != nil {
		// The busta was refused anyway; the answer must not claim more than that.
		g.log.Error("trace refused busta", "id", idOf(in.h), "err", err)
	}
	service := ""
	if in.h != nil {
		service = in.h.Service
	}
	g.observe(service, Inbound, OutcomeError, in.start)
	g.log.Info("busta refused", "id", idOf(in.h), "code", perr.Code(), "err", why)
	rep := &reply{status: http.StatusInternalServerError, body: out}
	if reason != "" {
		rep.header = http.Header{HeaderErrorReason: {string(reason)}}
	}
	return rep
}

func mustBytes(doc *etree.Document) []byte {
	b, err := doc.WriteToBytes()
	if err != nil {
		panic("gateway: serialise a fault built here: " + err.Error())
	}
	return b
}

// errorBusta builds the error busta answering in.h (envelope.ErrorHeader and ErrorBusta: parties
// swapped, a new ID, RiferimentoMessaggio the refused busta's ID when it is valid, the exceptions,
// the soap:Client fault without detail). A receiver this gateway does not host is replaced by
// the default identity.
func (g *Gateway) errorBusta(ctx context.Context, in *inbound, perr *envelope.ProtocolError) (*envelope.Header, *etree.Document, error) {
	req := in.h
	us := envelope.Party{Type: req.Receiver.Type, Name: req.Receiver.Name}
	if !g.dir.Hosted(us.Name) {
		p, ok := g.dir.Party(g.opt.Default)
		if !ok {
			return nil, nil, fmt.Errorf("no default identity to answer as")
		}
		us = envelope.Party{Type: p.Type, Name: p.Name}
	}
	id, err := g.nextID(ctx, us.Name)
	if err != nil {
		return nil, nil, err
	}
	h := envelope.ErrorHeader(req, us, id, g.now(), perr.Exceptions)
	if p, ok := g.dir.Party(h.Receiver.Name); ok && p.Type != "" {
		// A registered party is answered with its registered type, never a wrong one it named
		// itself with (invalid values are not echoed back, spec §10).
		h.Receiver.Type = p.Type
	}
	return h, envelope.ErrorBusta(h), nil
}

// replyHeader starts the header of a busta answering req (envelope.ReplyHeader: parties swapped,
// a new ID from the answering party, RiferimentoMessaggio = req's ID). With same it also copies
// the profile, service, action, conversation and transmission, as a synchronous reply does and
// as this gateway's ricevute and richiesta-stato replies do.
func (g *Gateway) replyHeader(ctx context.Context, req *envelope.Header, same bool) (*envelope.Header, error) {
	id, err := g.nextID(ctx, req.Receiver.Name)
	if err != nil {
		return nil, err
	}
	h := envelope.ReplyHeader(req, id, g.now())
	if same {
		h.Profile, h.ServiceType, h.Service, h.Action = req.Profile, req.ServiceType, req.Service, req.Action
		h.Conversation = req.Conversation
		if req.Transmission != nil {
			t := *req.Transmission
			h.Transmission = &t
		}
	}
	return h, nil
}

// riscontro is the busta di servizio acknowledging a one-way busta (envelope.AckHeader).
func (g *Gateway) riscontro(ctx context.Context, req *envelope.Header) (*envelope.Header, *etree.Document, error) {
	id, err := g.nextID(ctx, req.Receiver.Name)
	if err != nil {
		return nil, nil, err
	}
	h := envelope.AckHeader(req, id, g.now())
	return h, envelope.NewEnvelope(h), nil
}

// ricevuta is the synchronous receipt of an asynchronous request or risposta. For an asymmetric
// request it names the correlated service the status is asked on.
func (g *Gateway) ricevuta(ctx context.Context, in *inbound) (*envelope.Header, *etree.Document, error) {
	req, s := in.h, in.service
	h, err := g.replyHeader(ctx, req, true)
	if err != nil {
		return nil, nil, err
	}
	if req.Profile == envelope.AsyncAsymmetric {
		h.CorrelatedService, h.CorrelatedServiceType = s.Name, s.Type
		if s.Correlated != "" {
			h.CorrelatedService = s.Correlated
		}
	}
	if req.Transmission != nil && req.Transmission.AckRequested {
		h.Acks = []envelope.Ack{{ID: req.ID, Time: req.Time}}
	}
	g.replyFor(in, h)
	return h, envelope.NewEnvelope(h), nil
}

// sign signs a busta in place and serialises it into a buffer of hint bytes (docBytes).
func (g *Gateway) sign(doc *etree.Document, hint int) ([]byte, error) {
	if err := g.signer.Sign(doc); err != nil {
		return nil, fmt.Errorf("sign busta: %w", err)
	}
	b, err := docBytes(doc, hint)
	if err != nil {
		return nil, fmt.Errorf("serialise busta: %w", err)
	}
	return b, nil
}

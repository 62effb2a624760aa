package gateway

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/beevik/etree"

	"porta/envelope"
	"porta/internal/xmlsafe"
)

// The Porta Applicativa: POST /pa takes buste from peer gateways. Each busta goes through the
// stages of paStages in order; the first that fails answers with its eGov code, HTTP 500. The
// stages, their codes and the answers are listed in the package documentation (doc.go).
//
// A busta that passed is handled by kind (process in answer.go): one-way and asynchronous buste
// are traced and put in the inbox in one transaction before the answer (HTTP 200, the riscontro
// or the ricevuta); synchronous requests and richieste-stato are delivered to the backend at once
// and answered with the reply busta.

// kind is what an inbound busta is, once its profile and correlation are known.
type kind int

const (
	kindUnknown  kind = iota // not classified yet
	kindService              // busta di servizio: riscontri or exceptions only
	kindOneWay               // one-way request → inbox, HTTP 200 (+ riscontro)
	kindSync                 // synchronous request → backend, reply busta
	kindRequest              // asynchronous request → inbox, ricevuta
	kindResponse             // asynchronous symmetric risposta → inbox, ricevuta
	kindStatus               // asynchronous asymmetric richiesta-stato → backend, reply busta
)

// inbound is one busta moving through the pipeline.
type inbound struct {
	r       *http.Request
	start   time.Time
	raw     []byte
	doc     *etree.Document
	msg     *envelope.Message // as parsed, before the signature is checked
	h       *envelope.Header  // the header; from the signature stage on, the verified one
	body    *etree.Element    // the Body; from the signature stage on, the verified one
	sender  *Party
	service *Service
	kind    kind
	signer  *x509.Certificate
}

// stage is one step of the inbound pipeline. It returns its outcome as a value: nothing (nil, nil:
// go on), an answer that ends the pipeline without error (a duplicate whose riscontro is
// repeated), a *envelope.ProtocolError for a busta it refuses, or any other error for a failure of
// the gateway itself (answered as EGOV_IT_300). Only servePA writes.
type stage struct {
	name string
	run  func(g *Gateway, ctx context.Context, in *inbound) (*reply, error)
}

// paStages are the checks of every inbound busta, in order (see the package documentation).
var paStages = []stage{
	{"well-formedness", (*Gateway).checkWellFormed},     // 001, bare fault
	{"header", (*Gateway).checkHeader},                  // 001/002 (actor, mustUnderstand), 1xx field formats
	{"sender", (*Gateway).checkSender},                  // 101 Mittente/IdentificativoParte
	{"receiver", (*Gateway).checkReceiver},              // 102 Destinatario/IdentificativoParte
	{"service and action", (*Gateway).checkService},     // 105 Servizio, 106 Azione
	{"payload schema", (*Gateway).checkSchema},          // 003 Body
	{"profile", (*Gateway).checkProfile},                // 103 ProfiloCollaborazione
	{"identifiers", (*Gateway).checkIdentifiers},        // 110 Identificatore, 104 Collaborazione
	{"RiferimentoMessaggio", (*Gateway).checkRelatesTo}, // 109/111 Messaggio/RiferimentoMessaggio
	{"expiry", (*Gateway).checkExpiry},                  // 301 Messaggio/Scadenza
	{"signature", (*Gateway).checkSignature},            // 117, 200, 202
	{"authorisation", (*Gateway).checkAuthorisation},    // 201 Mittente
	{"duplicates", (*Gateway).checkDuplicate},           // 110 Messaggio/Identificatore, or riscontro again
}

// PA returns the Porta Applicativa handler, to be served at /pa over HTTPS with client
// certificates.
func (g *Gateway) PA() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /pa", g.servePA)
	mux.HandleFunc("POST /pa/", g.servePA)
	return mux
}

func (g *Gateway) servePA(w http.ResponseWriter, r *http.Request) {
	writeReply(w, g.pa(r.Context(), &inbound{r: r, start: g.now()}))
}

// pa runs a busta through paStages and process, and returns the answer.
func (g *Gateway) pa(ctx context.Context, in *inbound) *reply {
	raw, err := readBody(in.r, g.opt.MaxMessage)
	in.raw = raw
	if err != nil {
		return g.refuse(ctx, in, bare(envelope.CodeEnvelopeFormat, "Intestazione", err.Error()), "")
	}
	for _, s := range paStages {
		if rep, done := g.runStage(ctx, in, s); done {
			return rep
		}
	}
	// A busta that passed is handled to the end whether or not its sender still waits: a delivery
	// under way finishes and is traced as what it was, not as a failure.
	pctx, cancel := outliveCaller(ctx)
	defer cancel()
	if rep, done := g.runStage(pctx, in, stage{"processing", (*Gateway).process}); done {
		return rep
	}
	return g.refuse(pctx, in, envelope.NewError(envelope.CodeProcessing, "", "no stage answered"), "")
}

// runStage runs one stage; done reports that the pipeline ends with rep.
func (g *Gateway) runStage(ctx context.Context, in *inbound, s stage) (rep *reply, done bool) {
	rep, err := s.run(g, ctx, in)
	if err != nil {
		var perr *envelope.ProtocolError
		var be *backendError
		var reason Reason
		switch {
		case errors.As(err, &perr):
		case errors.As(err, &be):
			g.log.Warn("porta applicativa: backend unreachable", "stage", s.name, "id", idOf(in.h), "err", err)
			perr, reason = envelope.NewError(envelope.CodeProcessing, "", backendUnreachable), ReasonBackendUnreachable
		default:
			g.log.Error("porta applicativa", "stage", s.name, "id", idOf(in.h), "err", err)
			perr = envelope.NewError(envelope.CodeProcessing, "", s.name+" failed")
		}
		return g.refuse(ctx, in, perr, reason), true
	}
	return rep, rep != nil
}

func idOf(h *envelope.Header) string {
	if h == nil {
		return ""
	}
	return h.ID
}

// readBody reads a request body up to limit bytes.
func readBody(r *http.Request, limit int64) ([]byte, error) {
	b, over, err := readLimited(r.Body, r.ContentLength, limit)
	if err != nil {
		return nil, fmt.Errorf("read request: %w", err)
	}
	if over {
		return nil, fmt.Errorf("request over %d bytes", limit)
	}
	return b, nil
}

// bare is a protocol error answered with a bare fault: the busta could not be read.
func bare(code envelope.Code, position, detail string) *envelope.ProtocolError {
	e := envelope.NewError(code, position, detail)
	e.Bare = true
	return e
}

func (g *Gateway) checkWellFormed(_ context.Context, in *inbound) (*reply, error) {
	if ct := in.r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(strings.ToLower(ct), "text/xml") {
		return nil, bare(envelope.CodeEnvelopeFormat, "Intestazione", "Content-Type "+ct+": SOAP 1.1 wants text/xml")
	}
	lim := g.verify.Limits
	if lim == (xmlsafe.Limits{}) {
		lim = xmlsafe.DefaultLimits
	}
	doc, err := xmlsafe.Parse(in.raw, lim)
	if err != nil {
		return nil, bare(envelope.CodeEnvelopeFormat, "Intestazione", err.Error())
	}
	in.doc = doc
	return nil, nil
}

func (g *Gateway) checkHeader(_ context.Context, in *inbound) (*reply, error) {
	if _, _, err := soapParts(in.doc); err != nil {
		return nil, bare(envelope.CodeEnvelopeFormat, "Intestazione", err.Error())
	}
	msg, err := envelope.ParseDocument(in.doc)
	if msg != nil {
		in.msg, in.h, in.body = msg, msg.Header, msg.Body
	}
	if err != nil {
		return nil, err
	}
	if in.h == nil || len(in.h.Sender) == 0 {
		return nil, bare(envelope.CodeEnvelopeFormat, "Intestazione", "the busta names no Mittente")
	}
	return nil, nil
}

func (g *Gateway) checkSender(_ context.Context, in *inbound) (*reply, error) {
	s := in.h.Sender[0]
	p, ok := g.dir.Party(s.Name)
	if !ok {
		return nil, envelope.NewError(envelope.CodeUnknownSender, "Mittente/IdentificativoParte", "party "+s.Name+" is not in the registry")
	}
	if p.Type != "" && !strings.EqualFold(p.Type, s.Type) {
		return nil, envelope.NewError(envelope.CodeUnknownSender, "Mittente/IdentificativoParte/tipo", "party "+s.Name+" has type "+p.Type+", not "+s.Type)
	}
	in.sender = p
	return nil, nil
}

func (g *Gateway) checkReceiver(_ context.Context, in *inbound) (*reply, error) {
	if !g.dir.Hosted(in.h.Receiver.Name) {
		return nil, envelope.NewError(envelope.CodeUnknownReceiver, "Destinatario/IdentificativoParte", "party "+in.h.Receiver.Name+" is not hosted by this gateway")
	}
	return nil, nil
}

func (g *Gateway) checkService(_ context.Context, in *inbound) (*reply, error) {
	h := in.h
	if h.Profile == envelope.ProfileNone && h.Service == "" {
		in.kind = kindService
		return nil, nil
	}
	if h.Service == "" {
		return nil, envelope.NewError(envelope.CodeUnknownService, "Servizio", "busta with a profile names no service")
	}
	s, ok := g.dir.Service(h.Receiver.Name, h.Service)
	if !ok {
		return nil, envelope.NewError(envelope.CodeUnknownService, "Servizio", "service "+h.Service+" of "+h.Receiver.Name+" is not in the registry")
	}
	if s.Type != "" && h.ServiceType != "" && !strings.EqualFold(s.Type, h.ServiceType) {
		return nil, envelope.NewError(envelope.CodeUnknownService, "Servizio/tipo", "service "+h.Service+" has type "+s.Type)
	}
	if len(s.Actions) > 0 {
		if _, ok := s.Actions[h.Action]; !ok {
			return nil, envelope.NewError(envelope.CodeUnknownAction, "Azione", "action "+h.Action+" is not an action of "+h.Service)
		}
	}
	in.service = s
	return nil, nil
}

func (g *Gateway) checkSchema(_ context.Context, in *inbound) (*reply, error) {
	if in.service == nil || in.service.Schemas[in.h.Action] == "" || in.body == nil {
		return nil, nil
	}
	return nil, g.validatePayload(in.service, in.h.Action, in.body, len(in.raw), func(detail string) error {
		return envelope.NewError(envelope.CodeBodyFormat, "Body", detail)
	})
}

// validatePayload validates each payload element of body against the service's schema; size is
// the length of the message body came in.
func (g *Gateway) validatePayload(s *Service, action string, body *etree.Element, size int, fail func(string) error) error {
	schema := s.Schemas[action]
	if g.valid == nil {
		return fmt.Errorf("service %s names schema %s but the gateway has no validator", s.Name, schema)
	}
	kids := body.ChildElements()
	if len(kids) == 0 {
		return fail("empty Body: the service wants a payload valid against " + schema)
	}
	for _, k := range kids {
		d := etree.NewDocument()
		d.SetRoot(detached(k))
		hint := 0
		if len(kids) == 1 {
			hint = size
		}
		b, err := docBytes(d, hint)
		if err != nil {
			return err
		}
		if err := g.valid.Validate(schema, b); err != nil {
			return fail(fmt.Sprintf("payload <%s> is not valid against %s: %v", k.Tag, schema, err))
		}
	}
	return nil
}

func (g *Gateway) checkProfile(_ context.Context, in *inbound) (*reply, error) {
	if in.kind == kindService {
		return nil, nil
	}
	if in.h.Profile != in.service.Profile {
		return nil, envelope.NewError(envelope.CodeInvalidProfile, "ProfiloCollaborazione", "ProfiloCollaborazione diverso da quanto specificato nel registro")
	}
	switch in.h.Profile {
	case envelope.OneWay:
		in.kind = kindOneWay
	case envelope.Sync:
		in.kind = kindSync
	case envelope.AsyncSymmetric:
		in.kind = kindRequest
		if in.h.RelatesTo != "" {
			in.kind = kindResponse
		}
	case envelope.AsyncAsymmetric:
		in.kind = kindRequest
		if in.service.Actions[in.h.Action] != "" {
			in.kind = kindStatus
		}
	}
	return nil, nil
}

func (g *Gateway) checkIdentifiers(_ context.Context, in *inbound) (*reply, error) {
	h := in.h
	if err := envelope.ValidateID(h.ID); err != nil {
		return nil, envelope.NewError(envelope.CodeInvalidID, "Messaggio/Identificatore", err.Error())
	}
	parts := strings.Split(h.ID, "_")
	port := in.sender.PortID
	if port == "" {
		port = envelope.DefaultPortID(in.sender.Name)
	}
	if !strings.EqualFold(parts[0], in.sender.Name) || !strings.EqualFold(parts[1], port) {
		return nil, envelope.NewError(envelope.CodeInvalidID, "Messaggio/Identificatore", "identifier is not owned by the sender "+in.sender.Name+"_"+port)
	}
	if h.Conversation != "" {
		if err := envelope.ValidateID(h.Conversation); err != nil {
			return nil, envelope.NewError(envelope.CodeInvalidConversation, "Collaborazione", err.Error())
		}
	}
	switch in.kind {
	case kindRequest:
		if h.Conversation != h.ID {
			return nil, envelope.NewError(envelope.CodeInvalidConversation, "Collaborazione", "an asynchronous request starts its conversation: Collaborazione must equal its Identificatore")
		}
	case kindResponse, kindStatus:
		if h.Conversation != h.RelatesTo {
			return nil, envelope.NewError(envelope.CodeInvalidConversation, "Collaborazione", "Collaborazione must equal RiferimentoMessaggio, the request's identifier")
		}
	}
	if h.Sequence > 0 && h.Conversation == "" {
		return nil, envelope.NewError(envelope.CodeInvalidSequence, "Sequenza", "Sequenza without Collaborazione")
	}
	return nil, nil
}

func (g *Gateway) checkRelatesTo(ctx context.Context, in *inbound) (*reply, error) {
	h := in.h
	const pos = "Messaggio/RiferimentoMessaggio"
	if h.RelatesTo == "" {
		if in.kind == kindStatus {
			return nil, envelope.NewError(envelope.CodeRelatesToUndefined, pos, "a richiesta-stato must name the request it asks about")
		}
		return nil, nil
	}
	if err := envelope.ValidateID(h.RelatesTo); err != nil {
		return nil, envelope.NewError(envelope.CodeInvalidRelatesTo, pos, err.Error())
	}
	sender := h.Sender[0].Name
	switch in.kind {
	case kindResponse:
		// The risposta answers a request this gateway sent to the sender, naming this service
		// as the correlated one.
		rec, err := g.store.Lookup(ctx, h.RelatesTo, Outbound)
		if err != nil {
			return nil, err
		}
		if rec == nil || rec.Header == nil || rec.Header.Receiver.Name != sender || senderOf(rec.Header) != h.Receiver.Name ||
			rec.Header.Profile != envelope.AsyncSymmetric || rec.Header.RelatesTo != "" || !strings.EqualFold(rec.Header.CorrelatedService, h.Service) {
			return nil, envelope.NewError(envelope.CodeInvalidRelatesTo, pos, "no asynchronous request with this identifier was sent to "+sender+" for the correlated service "+h.Service)
		}
	case kindStatus:
		// The richiesta-stato asks about a request this gateway received from the sender on the
		// action the status action is correlated with.
		rec, err := g.store.Lookup(ctx, h.RelatesTo, Inbound)
		if err != nil {
			return nil, err
		}
		want := in.service.Actions[h.Action]
		if rec == nil || rec.Header == nil || senderOf(rec.Header) != sender || rec.Header.Service != h.Service || rec.Header.Action != want {
			return nil, envelope.NewError(envelope.CodeInvalidRelatesTo, pos, "no request "+h.Service+"/"+want+" with this identifier was received from "+sender)
		}
	default:
		// Elsewhere a RiferimentoMessaggio must at least name a busta exchanged with the sender.
		for _, dir := range []Direction{Outbound, Inbound} {
			rec, err := g.store.Lookup(ctx, h.RelatesTo, dir)
			if err != nil {
				return nil, err
			}
			if rec != nil {
				return nil, nil
			}
		}
		return nil, envelope.NewError(envelope.CodeInvalidRelatesTo, pos, "no busta with this identifier was exchanged with "+sender)
	}
	return nil, nil
}

func (g *Gateway) checkExpiry(_ context.Context, in *inbound) (*reply, error) {
	now := g.now()
	if e := in.h.Expires; e != nil && e.Before(now) {
		return nil, expired(fmt.Sprintf("Scadenza %s is past", e.Format(time.RFC3339)))
	}
	if t := in.h.Time.Time; !t.IsZero() && now.Sub(t) > g.opt.Window {
		return nil, expired(fmt.Sprintf("OraRegistrazione %s is older than %s", t.Format(time.RFC3339), g.opt.Window))
	}
	return nil, nil
}

func expired(detail string) error {
	return envelope.NewError(envelope.CodeExpired, "Messaggio/Scadenza", detail)
}

func (g *Gateway) checkSignature(_ context.Context, in *inbound) (*reply, error) {
	// A KeyInfo that names the certificate instead of carrying it is resolved among the claimed
	// Mittente's registered certificates only (checkSender found the party).
	v, err := g.verify.VerifyDocumentFrom(in.doc, in.sender.Certs)
	if err != nil {
		return nil, envelope.SecurityError(err)
	}
	intestazione := v.Parts[envelope.IntestazioneName]
	if intestazione == nil {
		return nil, envelope.NewError(envelope.CodeSecurityPolicy, "Intestazione", "the busta header is not signed")
	}
	h, err := envelope.ParseHeader(intestazione)
	if err != nil {
		return nil, err
	}
	if d := headerDiff(in.h, h); d != "" {
		return nil, envelope.NewError(envelope.CodeInvalidXMLSignature, "Intestazione", "the signed header differs from the one read: "+d)
	}
	in.h, in.body, in.signer = h, v.Body, v.Certificate
	return nil, nil
}

// headerDiff names the first field on which the checked header and the verified one differ.
func headerDiff(a, b *envelope.Header) string {
	switch {
	case a.ID != b.ID:
		return "Identificatore"
	case len(b.Sender) == 0 || a.Sender[0] != b.Sender[0]:
		return "Mittente"
	case a.Receiver != b.Receiver:
		return "Destinatario"
	case a.Service != b.Service || a.ServiceType != b.ServiceType:
		return "Servizio"
	case a.Action != b.Action:
		return "Azione"
	case a.Profile != b.Profile:
		return "ProfiloCollaborazione"
	case a.RelatesTo != b.RelatesTo:
		return "RiferimentoMessaggio"
	case a.Conversation != b.Conversation:
		return "Collaborazione"
	case a.Sequence != b.Sequence:
		return "Sequenza"
	case !a.Time.Time.Equal(b.Time.Time):
		return "OraRegistrazione"
	case !sameTime(a.Expires, b.Expires):
		return "Scadenza"
	case !sameTransmission(a.Transmission, b.Transmission):
		return "ProfiloTrasmissione"
	case a.CorrelatedService != b.CorrelatedService || a.CorrelatedServiceType != b.CorrelatedServiceType:
		return "ProfiloCollaborazione/servizioCorrelato"
	}
	return ""
}

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

// sameTransmission compares ProfiloTrasmissione; absent is the schema's default (PIUDIUNAVOLTA,
// no confermaRicezione).
func sameTransmission(a, b *envelope.Transmission) bool {
	var none envelope.Transmission
	if a == nil {
		a = &none
	}
	if b == nil {
		b = &none
	}
	return *a == *b
}

func (g *Gateway) checkAuthorisation(_ context.Context, in *inbound) (*reply, error) {
	const pos = "Mittente/IdentificativoParte"
	name := in.sender.Name
	if in.signer == nil || !belongsTo(in.signer, in.sender) {
		return nil, envelope.NewError(envelope.CodeSenderNotAuthorized, pos, "the busta is not signed with a certificate of "+name)
	}
	if tls := in.r.TLS; tls != nil && len(tls.PeerCertificates) > 0 && !belongsTo(tls.PeerCertificates[0], in.sender) {
		return nil, envelope.NewError(envelope.CodeSenderNotAuthorized, pos, "the TLS client certificate is not one of "+name)
	}
	if in.kind != kindService && !g.dir.MayConsume(name, in.service) {
		return nil, envelope.NewError(envelope.CodeSenderNotAuthorized, pos, name+" may not call "+in.service.Name)
	}
	return nil, nil
}

// belongsTo reports whether cert is one of the party's certificates or is issued by one of its CA
// certificates.
func belongsTo(cert *x509.Certificate, p *Party) bool {
	for _, c := range p.Certs {
		if bytes.Equal(c.Raw, cert.Raw) {
			return true
		}
		if c.IsCA && cert.CheckSignatureFrom(c) == nil {
			return true
		}
	}
	return false
}

// filtersDuplicates reports whether a copy of the busta is refused (or, one-way with riscontro,
// answered again without delivery): the sender asks for inoltro ALPIUUNAVOLTA, or the service
// filters duplicates whatever the sender asks.
func (in *inbound) filtersDuplicates() bool {
	return (in.h.Transmission != nil && in.h.Transmission.AtMostOnce) || (in.service != nil && in.service.FilterDuplicates)
}

func (g *Gateway) checkDuplicate(ctx context.Context, in *inbound) (*reply, error) {
	h := in.h
	if !in.filtersDuplicates() || in.kind == kindService {
		return nil, nil
	}
	dup := envelope.NewError(envelope.CodeInvalidID, "Messaggio/Identificatore", "busta "+h.ID+" was already received")
	switch in.kind {
	case kindSync, kindStatus:
		err := g.store.Remember(ctx, senderOf(h), h.ID, g.now().Add(g.opt.Window))
		if errors.Is(err, ErrDuplicate) {
			return nil, dup
		}
		return nil, err
	}
	seen, err := g.store.Seen(ctx, senderOf(h), h.ID)
	if err != nil || !seen {
		return nil, err
	}
	if in.kind == kindOneWay && h.Transmission != nil && h.Transmission.AckRequested {
		return g.answerDuplicate(ctx, in)
	}
	return nil, dup
}

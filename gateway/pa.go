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
	"porta/envelope/wssec"
	"porta/internal/clip"
	"porta/internal/swa"
	"porta/internal/xmlsafe"
)

// The Porta Applicativa: POST /pa takes buste from peer gateways. Each busta goes through the
// stages of paStages in order. The header stages (collect) are all run and every problem they
// find is gathered into one ListaEccezioni, answered once (spec §10); from the first later stage
// on, the first that fails answers with its eGov code, HTTP 500. The stages, their codes and the
// answers are listed in the package documentation (doc.go).
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
	// parsed is what the busta model reported reading the header (nil when nothing): the later
	// header stages do not report again what it already did.
	parsed *envelope.ProtocolError
	// found is the header problems the collect stages gathered so far (see paStages).
	found  *envelope.ProtocolError
	kind   kind
	signer *x509.Certificate
	swa    *withAttachments // SOAP with Attachments: the parts and the Manifest (swa.go); nil for text/xml
	// lineeGuida is set when the sender runs the Linee Guida 1.1 profile; notes are the INFO
	// exceptions its busta earned (checkInterop), answered in the reply's ListaEccezioni.
	lineeGuida bool
	notes      []envelope.Exception
}

// stage is one step of the inbound pipeline. It returns its outcome as a value: nothing (nil, nil:
// go on), an answer that ends the pipeline without error (a duplicate whose riscontro is
// repeated), a *envelope.ProtocolError for a busta it refuses, or any other error for a failure of
// the gateway itself (answered as EGOV_IT_300). Only servePA writes.
//
// A collect stage reads only the header: its protocol errors are gathered with those of the other
// collect stages and answered together, once the first stage that is not collect is reached.
type stage struct {
	name    string
	run     func(g *Gateway, ctx context.Context, in *inbound) (*reply, error)
	collect bool
}

// paStages are the checks of every inbound busta, in order (see the package documentation).
var paStages = []stage{
	{"well-formedness", (*Gateway).checkWellFormed, false},     // 001, bare fault
	{"header", (*Gateway).checkHeader, true},                   // 001/002 (actor, mustUnderstand, namespace), 1xx field formats
	{"interop", (*Gateway).checkInterop, true},                 // the sender's profile (lineeguida.go): 1xx GRAVE, INFO answered
	{"sender", (*Gateway).checkSender, true},                   // 101 Mittente/IdentificativoParte[/tipo]
	{"receiver", (*Gateway).checkReceiver, true},               // 102 Destinatario/IdentificativoParte[/tipo]
	{"service and action", (*Gateway).checkService, true},      // 105 Servizio, 106 Azione
	{"profile", (*Gateway).checkProfile, true},                 // 103 ProfiloCollaborazione
	{"identifiers", (*Gateway).checkIdentifiers, true},         // 110 Identificatore, 104 Collaborazione
	{"ListaTrasmissioni", (*Gateway).checkTransmissions, true}, // 116 ListaTrasmissioni/Trasmissione/...
	{"RiferimentoMessaggio", (*Gateway).checkRelatesTo, true},  // 109/111 Messaggio/RiferimentoMessaggio
	{"expiry", (*Gateway).checkExpiry, true},                   // 301 Messaggio/Scadenza
	{"attachments", (*Gateway).checkAttachments, false},        // 003 Descrizione: the eGov Manifest of SwA
	{"payload schema", (*Gateway).checkSchema, false},          // 003 Body
	{"signature", (*Gateway).checkSignature, false},            // 117, 200, 202
	{"authorisation", (*Gateway).checkAuthorisation, false},    // 201 Mittente
	{"duplicates", (*Gateway).checkDuplicate, false},           // 110 Messaggio/Identificatore, or riscontro again
}

// PA returns the Porta Applicativa handler, to be served at /pa over HTTPS with client
// certificates.
func (g *Gateway) PA() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /pa", g.servePA)
	mux.HandleFunc("POST /pa/", g.servePA)
	return g.admit("pa", mux)
}

func (g *Gateway) servePA(w http.ResponseWriter, r *http.Request) {
	writeReply(w, g.pa(r.Context(), &inbound{r: r, start: g.now()}))
}

// pa runs a busta through paStages and process, and returns the answer.
func (g *Gateway) pa(ctx context.Context, in *inbound) *reply {
	raw, err := readBody(in.r, g.opt.MaxMessage)
	in.raw = raw
	if errors.Is(err, errBusy) {
		return g.busy("pa", refusedBytes)
	}
	if err != nil {
		return g.refuse(ctx, in, bare(envelope.CodeEnvelopeFormat, "Intestazione", err.Error()), "")
	}
	for _, s := range paStages {
		if in.found != nil && !s.collect {
			return g.refuse(ctx, in, in.found, "")
		}
		rep, err := s.run(g, ctx, in)
		if perr, ok := collectable(s, in, err); ok {
			in.found = mergeProblems(in.found, perr)
			continue
		}
		if rep, done := g.stageOutcome(ctx, in, s, rep, err); done {
			return rep
		}
	}
	if in.found != nil {
		return g.refuse(ctx, in, in.found, "")
	}
	// A busta that passed is handled to the end whether or not its sender still waits: a delivery
	// under way finishes and is traced as what it was, not as a failure.
	pctx, cancel := outliveCaller(ctx)
	defer cancel()
	if rep, done := g.runStage(pctx, in, stage{"processing", (*Gateway).process, false}); done {
		return rep
	}
	return g.refuse(pctx, in, envelope.NewError(envelope.CodeProcessing, "", "no stage answered"), "")
}

// runStage runs one stage; done reports that the pipeline ends with rep.
func (g *Gateway) runStage(ctx context.Context, in *inbound, s stage) (rep *reply, done bool) {
	rep, err := s.run(g, ctx, in)
	return g.stageOutcome(ctx, in, s, rep, err)
}

// collectable reports whether err, returned by stage s, is a header problem to gather with the
// others rather than answer at once: a validation error of a collect stage on a busta whose
// header names its Mittente. A bare error, a processing error and an unreadable header answer
// at once.
func collectable(s stage, in *inbound, err error) (*envelope.ProtocolError, bool) {
	if !s.collect || err == nil {
		return nil, false
	}
	var perr *envelope.ProtocolError // on the heap (errors.As): only when there is an error
	if !errors.As(err, &perr) {
		return nil, false
	}
	if perr.Bare || perr.Processing() || in.h == nil || len(in.h.Sender) == 0 {
		return nil, false
	}
	return perr, true
}

// mergeProblems adds perr's problems to found (a new error when found is nil), each once.
func mergeProblems(found, perr *envelope.ProtocolError) *envelope.ProtocolError {
	if found == nil {
		found = &envelope.ProtocolError{}
	}
	found.Merge(perr)
	return found
}

// reported reports whether the busta model or a collect stage already reported a problem at
// posizione pos or under it, so that no problem is reported twice.
func (in *inbound) reported(pos string) bool {
	for _, e := range []*envelope.ProtocolError{in.parsed, in.found} {
		if e == nil {
			continue
		}
		for _, x := range e.Exceptions {
			if x.Position == pos || strings.HasPrefix(x.Position, pos+"/") {
				return true
			}
		}
	}
	return false
}

// stageOutcome turns what stage s returned into the pipeline's course; done reports that the
// pipeline ends with rep.
func (g *Gateway) stageOutcome(ctx context.Context, in *inbound, s stage, rep *reply, err error) (*reply, bool) {
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

// idOf is the busta's Identificatore as read, for the log: cut to clip.Max bytes (it may not
// have been validated yet).
func idOf(h *envelope.Header) string {
	if h == nil {
		return ""
	}
	return clip.Echo(h.ID)
}

// readBody reads a request body up to limit bytes, charged to the request's lease (errBusy when
// the budget is spent).
func readBody(r *http.Request, limit int64) ([]byte, error) {
	b, over, err := readLimited(r.Body, r.ContentLength, limit, leaseOf(r.Context()))
	if errors.Is(err, errBusy) {
		return nil, err
	}
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
	ct := in.r.Header.Get("Content-Type")
	if swa.IsMultipart(ct) {
		// SOAP with Attachments: the envelope is the root part, and what is traced from here on.
		root, parts, err := readMessage(in.r, in.raw)
		if err != nil {
			return nil, bare(envelope.CodeEnvelopeFormat, "Intestazione", "SOAP with Attachments: "+err.Error())
		}
		in.raw, in.swa = root, &withAttachments{parts: parts}
	} else if ct != "" && !strings.HasPrefix(strings.ToLower(ct), "text/xml") {
		return nil, bare(envelope.CodeEnvelopeFormat, "Intestazione", "Content-Type "+clip.Echo(ct)+": SOAP 1.1 wants text/xml, or multipart/related with attachments")
	}
	doc, err := g.parseXML(in.raw)
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
	if err = g.tolerate(in.h, err); err != nil {
		var perr *envelope.ProtocolError
		if errors.As(err, &perr) {
			in.parsed = perr
		}
		return nil, err
	}
	if in.h == nil || len(in.h.Sender) == 0 {
		return nil, bare(envelope.CodeEnvelopeFormat, "Intestazione", "the busta names no Mittente")
	}
	return nil, nil
}

func (g *Gateway) checkSender(_ context.Context, in *inbound) (*reply, error) {
	s := in.h.Sender[0]
	const pos = "Mittente/IdentificativoParte"
	if s.Name == "" && in.reported(pos) {
		return nil, nil
	}
	p, ok := g.dir.Party(s.Name)
	if !ok {
		return nil, envelope.NewError(envelope.CodeUnknownSender, pos, "party "+clip.Echo(s.Name)+" is not in the registry")
	}
	if !sameType(p, s) {
		return nil, envelope.NewError(envelope.CodeUnknownSender, pos+"/tipo", "party "+s.Name+" has type "+p.Type+", not "+clip.Echo(s.Type))
	}
	in.sender = p
	return nil, nil
}

// sameType reports whether the busta names party p with its registered type (any, when the
// registry records none).
func sameType(p *Party, named envelope.Party) bool {
	return p.Type == "" || strings.EqualFold(p.Type, named.Type)
}

func (g *Gateway) checkReceiver(_ context.Context, in *inbound) (*reply, error) {
	r := in.h.Receiver
	const pos = "Destinatario/IdentificativoParte"
	if r.Name == "" && in.reported(pos) {
		return nil, nil
	}
	if !g.dir.Hosted(r.Name) {
		return nil, envelope.NewError(envelope.CodeUnknownReceiver, pos, "party "+clip.Echo(r.Name)+" is not hosted by this gateway")
	}
	if p, ok := g.dir.Party(r.Name); ok && r.Type != "" && !sameType(p, r) {
		return nil, envelope.NewError(envelope.CodeUnknownReceiver, pos+"/tipo", "party "+r.Name+" has type "+p.Type+", not "+clip.Echo(r.Type))
	}
	return nil, nil
}

func (g *Gateway) checkService(_ context.Context, in *inbound) (*reply, error) {
	h := in.h
	// From a Linee Guida 1.1 partner, a busta whose exceptions are all notes (INFO, LIEVE) and
	// whose Body holds no Fault is an ordinary one (spec §11).
	errorBusta := len(h.Exceptions) > 0 && !(in.lineeGuida && in.msg != nil && envelope.NotesOnly(h, in.msg.Body))
	if errorBusta || (h.Profile == envelope.ProfileNone && h.Service == "") {
		// A busta di servizio; an error busta is one too, whatever service it names: it answers
		// a busta, is checked (CheckErrorBusta) and traced, and is never delivered (spec §10).
		in.kind = kindService
		return nil, nil
	}
	if !g.dir.Hosted(h.Receiver.Name) {
		return nil, nil // the receiver stage refused it: its services cannot be known
	}
	if h.Service == "" {
		if in.reported("Servizio") {
			return nil, nil
		}
		return nil, envelope.NewError(envelope.CodeUnknownService, "Servizio", "busta with a profile names no service")
	}
	s, ok := g.dir.Service(h.Receiver.Name, h.Service)
	if !ok {
		return nil, envelope.NewError(envelope.CodeUnknownService, "Servizio", "service "+clip.Echo(h.Service)+" of "+h.Receiver.Name+" is not in the registry")
	}
	if s.Type != "" && h.ServiceType != "" && !strings.EqualFold(s.Type, h.ServiceType) {
		return nil, envelope.NewError(envelope.CodeUnknownService, "Servizio/tipo", "service "+h.Service+" has type "+s.Type)
	}
	if len(s.Actions) > 0 {
		if _, ok := s.Actions[h.Action]; !ok {
			return nil, envelope.NewError(envelope.CodeUnknownAction, "Azione", "action "+clip.Echo(h.Action)+" is not an action of "+h.Service)
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
		hint := 0
		if len(kids) == 1 {
			hint = size
		}
		// The payload as a document of its own (the namespaces in scope declared on it), written
		// from the tree in place rather than from a copy.
		err := xmlsafe.UseElement(k, inScope(k, k.Parent()), hint, func(b []byte) error {
			return g.valid.Validate(schema, b)
		})
		if err != nil {
			return fail(fmt.Sprintf("payload <%s> is not valid against %s: %s", clip.Echo(k.Tag), schema, clip.To(err.Error(), envelope.MaxDetail)))
		}
	}
	return nil
}

// posProfileMismatch is the posizione of a profile other than the registered one, word for word
// as the reference implementation writes it (spec §10).
const posProfileMismatch = "ProfiloCollaborazione diverso da quanto specificato nel registro"

func (g *Gateway) checkProfile(_ context.Context, in *inbound) (*reply, error) {
	if in.kind == kindService || in.service == nil || in.reported("ProfiloCollaborazione") {
		return nil, nil
	}
	if in.h.Profile != in.service.Profile {
		return nil, envelope.NewError(envelope.CodeInvalidProfile, posProfileMismatch,
			fmt.Sprintf("ProfiloCollaborazione %s, but the registry gives %s for %s", in.h.Profile, in.service.Profile, in.service.Name))
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
	if err := g.checkOwner(in); err != nil {
		return nil, err
	}
	if h.Conversation != "" {
		if err := envelope.ValidateID(h.Conversation); err != nil {
			return nil, envelope.NewError(envelope.CodeInvalidConversation, "Collaborazione", err.Error())
		}
	}
	if in.reported("Collaborazione") {
		return nil, nil
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
	if h.Sequence > 0 && h.Conversation == "" && !in.lineeGuida { // Linee Guida: Sequenza ignored (401 INFO)
		return nil, envelope.NewError(envelope.CodeInvalidSequence, "Sequenza", "Sequenza without Collaborazione")
	}
	return nil, nil
}

// checkOwner checks that the Identificatore belongs to the Mittente: its first two parts are the
// sender's name and identificativo porta. The owner is the registered party the busta names, by
// name and type: a sender named with a type other than its registered one owns no identifier
// (spec §10: a wrong Mittente tipo gets both 101 and 110). A sender the registry does not know
// at all is reported by the sender stage alone, as the reference implementation does.
func (g *Gateway) checkOwner(in *inbound) error {
	h := in.h
	const pos = "Messaggio/Identificatore"
	if in.reported(pos) {
		return nil
	}
	if err := envelope.ValidateID(h.ID); err != nil {
		return envelope.NewError(envelope.CodeInvalidID, pos, err.Error())
	}
	s := h.Sender[0]
	p, ok := g.dir.Party(s.Name)
	if !ok {
		return nil
	}
	if !sameType(p, s) {
		return envelope.NewError(envelope.CodeInvalidID, pos, "identifier of "+s.Name+", but no party "+s.Type+"/"+s.Name+" is registered to own it")
	}
	parts := strings.Split(h.ID, "_")
	port := p.PortID
	if port == "" {
		port = envelope.DefaultPortID(p.Name)
	}
	if !strings.EqualFold(parts[0], p.Name) || !strings.EqualFold(parts[1], port) {
		return envelope.NewError(envelope.CodeInvalidID, pos, "identifier is not owned by the sender "+p.Name+"_"+port)
	}
	return nil
}

// checkTransmissions checks the parties of ListaTrasmissioni against the registry, as the
// parties of the busta are: each Origine and Destinazione names a registered party with its
// registered type (spec §10). The form of the list (empty list, missing or extra elements,
// indirizzoTelematico not a URL) is the busta model's.
func (g *Gateway) checkTransmissions(_ context.Context, in *inbound) (*reply, error) {
	var perr *envelope.ProtocolError
	fail := func(pos, detail string) {
		e := envelope.NewError(envelope.CodeInvalidHops, pos, detail)
		if perr == nil {
			perr = e
			return
		}
		perr.Exceptions = append(perr.Exceptions, e.Exceptions...)
	}
	for _, hop := range in.h.Transmissions {
		for _, side := range []struct {
			name  string
			party envelope.Party
		}{{"Origine", hop.Origin}, {"Destinazione", hop.Destination}} {
			pos := "ListaTrasmissioni/Trasmissione/" + side.name + "/IdentificativoParte"
			if side.party.Name == "" {
				continue // missing or empty: reported by the busta model
			}
			p, ok := g.dir.Party(side.party.Name)
			switch {
			case !ok:
				fail(pos, side.name+" "+side.party.Name+" is not in the registry")
			case side.party.Type != "" && !sameType(p, side.party):
				fail(pos+"/tipo", side.name+" "+side.party.Name+" has type "+p.Type+", not "+side.party.Type)
			}
		}
	}
	if perr == nil {
		return nil, nil
	}
	return nil, perr
}

func (g *Gateway) checkRelatesTo(ctx context.Context, in *inbound) (*reply, error) {
	h := in.h
	const pos = "Messaggio/RiferimentoMessaggio"
	if in.reported(pos) {
		return nil, nil
	}
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
		// action the status action is correlated with (kindStatus implies a known service).
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
	var atts []wssec.Attachment
	if in.swa != nil {
		atts = wssecAttachments(in.swa.parts)
	}
	// A KeyInfo that names the certificate instead of carrying it is resolved among the claimed
	// Mittente's registered certificates only (checkSender found the party).
	v, err := g.verifier().VerifyAttachments(in.doc, atts, in.sender.Certs)
	if err != nil {
		return nil, envelope.SecurityError(err)
	}
	intestazione := v.Parts[envelope.IntestazioneName]
	if intestazione == nil {
		return nil, envelope.NewError(envelope.CodeSecurityPolicy, "Intestazione", "the busta header is not signed")
	}
	h, err := envelope.ParseHeader(intestazione)
	if err = g.tolerate(h, err); err != nil {
		return nil, err
	}
	if d := headerDiff(in.h, h); d != "" {
		return nil, envelope.NewError(envelope.CodeInvalidXMLSignature, "Intestazione", "the signed header differs from the one read: "+d)
	}
	in.h, in.body, in.signer = h, v.Body, v.Certificate
	if in.swa != nil {
		// The Manifest and the Richiesta part again, from what was verified.
		cids := make([]string, len(in.swa.parts))
		for i, p := range in.swa.parts {
			cids[i] = p.ContentID
		}
		el := envelope.ManifestIn(v.Body)
		if el == nil {
			return nil, envelope.NewError(envelope.CodeInvalidXMLSignature, "Descrizione", "the signed Body holds no eGov Manifest")
		}
		if in.swa.manifest, err = envelope.ParseManifest(el, cids); err != nil {
			return nil, err
		}
		if in.body, err = g.requestBody(in); err != nil {
			return nil, err
		}
	}
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
// answered again without delivery): the sender asks for inoltro ALPIUUNAVOLTA, the service
// filters duplicates whatever the sender asks, or the sender runs the Linee Guida 1.1 profile
// (which always filters, spec §11).
func (in *inbound) filtersDuplicates() bool {
	return in.lineeGuida || (in.h.Transmission != nil && in.h.Transmission.AtMostOnce) || (in.service != nil && in.service.FilterDuplicates)
}

// checkDuplicate is the replay cache. A synchronous request or a richiesta-stato is delivered at
// once, so whatever the service and the sender ask, its Identificatore goes into the duplicate
// history before delivery and a copy (a replay of the same signed busta, valid until its Scadenza
// plus the clock skew) is refused with 110 and never delivered again; the history outlives
// Window, beyond which checkExpiry refuses it anyway. One-way and asynchronous buste reach the
// inbox, which holds each Identificatore once (process); here they are refused or answered
// again early when filtering is asked.
func (g *Gateway) checkDuplicate(ctx context.Context, in *inbound) (*reply, error) {
	h := in.h
	if in.kind == kindService {
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
	if !in.filtersDuplicates() {
		return nil, nil
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

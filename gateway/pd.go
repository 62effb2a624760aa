package gateway

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/beevik/etree"

	"porta/audit"
	"porta/envelope"
	"porta/internal/clip"
	"porta/internal/swa"
	"porta/internal/xmlsafe"
)

// The Porta Delegata: POST /pd/{consumer}/{provider}/{service}/{action} takes a SOAP 1.1 request
// from a local application, wraps it in a signed busta and sends it to the provider's gateway.
// The action may also come from the SOAPAction header (POST /pd/{consumer}/{provider}/{service}),
// which is the address the ?wsdl answer advertises.

// Integration headers.
const (
	HeaderMessageID      = "Porta-Message-ID"
	HeaderRelatesTo      = "Porta-Relates-To"
	HeaderConversationID = "Porta-Conversation-ID"
	HeaderSender         = "Porta-Sender"
	HeaderService        = "Porta-Service"
	HeaderAction         = "Porta-Action"
	// HeaderDeliveryAttempt numbers the inbox's deliveries of one Porta-Message-ID to a backend
	// from 1; more than 1 is a re-delivery after a crash or an error.
	HeaderDeliveryAttempt = "Porta-Delivery-Attempt"
)

// PD returns the Porta Delegata handler for local applications.
func (g *Gateway) PD() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /pd/{consumer}/{provider}/{service}/{action}", g.servePD)
	mux.HandleFunc("POST /pd/{consumer}/{provider}/{service}", g.servePD)
	mux.HandleFunc("GET /pd/{consumer}/{provider}/{service}/{action}", g.serveWSDL)
	mux.HandleFunc("GET /pd/{consumer}/{provider}/{service}", g.serveWSDL)
	return g.admit("pd", mux)
}

// outbound is one request of a local application moving through the Porta Delegata's steps.
type outbound struct {
	r        *http.Request
	start    time.Time
	app      string // the authenticated application
	consumer *Party
	provider *Party
	service  *Service
	raw      []byte         // the request as read
	body     *etree.Element // its soap:Body
	action   string
	h        *envelope.Header
	data     []byte             // the signed busta as sent (framed by swa.Frame when it has attachments)
	parts    []swa.Part         // the application's attachments (SwA), nil for text/xml
	root     []byte             // with attachments: the signed root envelope, what is traced
	traced   bool               // the step that failed traced the exchange itself (the busta went out)
	ids      []audit.BusinessID // the payload's business identifiers, read once (businessIDs)
	released bool               // raw and body were let go once the busta was signed (release)
	idem     *IdempotentRequest // the request's Idempotency-Key, to be kept with it; nil = none
	idemKept bool               // idem is kept in the store (a synchronous request), to be settled with the answer
	idemHash *[32]byte          // requestHash, taken while the request's bytes are held (a re-check after signing finds them released)
}

// reply is a stage's answer, ready to be written by the one place that writes (writeReply): an
// HTTP status, the headers to add, and a body (none for a bare status).
type reply struct {
	status int
	header http.Header
	body   []byte
	// doc, when set instead of body, is written out from its tree: a large payload relayed to
	// the application is not copied into one more buffer of its size.
	doc *xmlsafe.Serialization
}

// bytes is the answer's body in one buffer (for a kept idempotent answer).
func (rep *reply) bytes() []byte {
	if rep.doc != nil {
		return rep.doc.AppendTo(make([]byte, 0, rep.doc.Len()))
	}
	return rep.body
}

// writeReply writes a stage's answer.
func writeReply(w http.ResponseWriter, rep *reply) {
	for k, v := range rep.header {
		w.Header()[k] = v
	}
	switch {
	case rep.doc != nil:
		w.Header().Set("Content-Type", contentTypeSOAP)
		w.Header().Set("Content-Length", strconv.Itoa(rep.doc.Len()))
		w.WriteHeader(rep.status)
		_, _ = rep.doc.WriteTo(w)
	case rep.body == nil:
		w.WriteHeader(rep.status)
	default:
		writeBytes(w, rep.status, rep.body)
	}
}

// pdStep is one step of the Porta Delegata. A step returns its outcome as a value: nothing (nil,
// nil: go on), the answer to the application (a *reply: the request is done), or an error: an
// *AppError for a request the gateway refuses, any other error for a failure of the gateway itself
// (answered as EGOV_IT_300).
type pdStep struct {
	name   string
	reason Reason // of the step's *AppError refusals that name none; other errors are ReasonGatewayError
	run    func(g *Gateway, ctx context.Context, out *outbound) (*reply, error)
}

// pdSteps are the steps of every request of a local application, in order (see the package
// documentation).
var pdSteps = []pdStep{
	{"authenticate", ReasonCredentialsInvalid, (*Gateway).authenticateThrottled}, // HTTP Basic or client certificate, behind the throttle (throttle.go)
	{"route", ReasonRouteUnknown, (*Gateway).route},                              // consumer hosted, provider and service registered
	{"authorise", ReasonNotAuthorised, (*Gateway).authorise},                     // the application may call the service as the consumer
	{"read payload", ReasonPayloadInvalid, (*Gateway).readPayload},               // a SOAP 1.1 envelope within limits, a registered action
	{"validate payload", ReasonPayloadInvalid, (*Gateway).validateOut},           // against the action's schema, if any
	{"idempotency", ReasonIdempotencyConflict, (*Gateway).checkIdempotency},      // Idempotency-Key: a retry is answered again (idempotency.go)
	{"build header", ReasonCorrelationInvalid, (*Gateway).buildOutHeader},        // identifiers, profile, correlation, sequence
	{"sign", ReasonGatewayError, (*Gateway).signOut},                             // WS-Security
	{"keep idempotency key", ReasonGatewayError, (*Gateway).keepIdempotent},      // sync under a key: kept with its busta before sending
	{"send synchronously", ReasonPeerReplyInvalid, (*Gateway).sendSync},          // sync and richiesta-stato: the reply's payload
	{"trace and queue", ReasonGatewayError, (*Gateway).traceAndQueue},            // everything else: the outbox, then 200
}

func (g *Gateway) servePD(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	out := &outbound{r: r, start: g.now()}
	for _, s := range pdSteps {
		rep, err := s.run(g, ctx, out)
		if err != nil {
			rep = g.refusePD(ctx, out, s, err)
		}
		if rep != nil {
			g.settleIdempotent(ctx, out, rep)
			writeReply(w, rep)
			return
		}
	}
	// The last step always answers.
	writeReply(w, g.refusePD(ctx, out, pdStep{name: "answer"}, errors.New("no step answered the request")))
}

// refusePD turns a step's error into the fault answered to the application, with its reason, and
// traces the refusal (tracePDRefusal).
func (g *Gateway) refusePD(ctx context.Context, out *outbound, step pdStep, err error) *reply {
	var ae *AppError
	if !errors.As(err, &ae) {
		ae = &AppError{FaultCode: "Server", Message: "the gateway could not process the request", Reason: ReasonGatewayError, Err: err}
	}
	reason := ae.Reason
	if reason == "" {
		reason = step.reason
	}
	id := ""
	if out.h != nil {
		id = out.h.ID
	}
	service := g.serviceLabel(out)
	g.observe(service, Outbound, OutcomeError, out.start)
	g.metrics.refusals.WithLabelValues(service, string(reason)).Inc()
	level := slog.LevelInfo
	if errors.Is(ae, audit.ErrConflict) {
		// Another process writes this node's chain: records are being lost (porta serve's node
		// lock should make this impossible; see audit.LockNode).
		level = slog.LevelError
	}
	g.log.Log(context.Background(), level, "porta delegata: request failed", "path", clip.Echo(out.r.URL.Path), "remote", out.r.RemoteAddr, "app", clip.Echo(out.app), "step", step.name, "reason", reason, "id", id, "err", clip.To(ae.Error(), maxLoggedError))
	g.tracePDRefusal(ctx, out, step, reason, ae)
	portID := ""
	if out.consumer != nil {
		portID = out.consumer.PortID
	}
	status := ae.Status
	if status == 0 {
		status = http.StatusInternalServerError
	}
	rep := &reply{status: status, header: http.Header{}}
	rep.header.Set(HeaderErrorReason, string(reason))
	if id != "" {
		rep.header.Set(HeaderMessageID, id)
	}
	b, err := ae.document(portID, g.now()).WriteToBytes()
	if err != nil {
		return &reply{status: status, header: rep.header, body: []byte{}}
	}
	rep.body = b
	return rep
}

// tracePDRefusal traces a refused request of a local application, whether or not the
// application still waits: who asked (remote address, application once authenticated, TLS client
// certificate), what (the busta header once built, else the URL's route), the reason and the
// error, and at most Options.RefusedBodyMax bytes of the request. A request refused after its busta
// was sent is traced by the step that sent it; this record says how the application was answered.
func (g *Gateway) tracePDRefusal(ctx context.Context, out *outbound, step pdStep, reason Reason, ae *AppError) {
	if out.traced {
		return
	}
	ctx, cancel := outliveCaller(ctx)
	defer cancel()
	raw := out.raw
	if out.released {
		raw = out.traceData() // the signed busta, which carries the request's payload
	}
	rec := g.record(Outbound, fnPD, out.h, raw)
	rec.IDs = out.ids
	if out.h == nil {
		// The URL's route names the service: its trace policy applies to the refused request too.
		rec.Header = &envelope.Header{
			Sender:   []envelope.Party{{Name: out.r.PathValue("consumer")}},
			Receiver: envelope.Party{Name: out.r.PathValue("provider")},
			Service:  out.r.PathValue("service"), Action: out.r.PathValue("action"),
		}
		g.keepBody(rec, rec.Header, out.raw)
	}
	rec.Peer, rec.Application, rec.Reason, rec.Cap = out.r.RemoteAddr, out.app, reason, g.opt.RefusedBodyMax
	rec.Outcome, rec.HTTPStatus, rec.Exceptions = OutcomeError, http.StatusInternalServerError, ae.Exceptions
	rec.Detail = fmt.Sprintf("refused at step %s (%s): %v", step.name, out.r.URL.Path, ae)
	g.stampClient(rec, out.r)
	if err := g.store.Trace(ctx, rec); err != nil {
		g.log.Error("trace refused request", "path", out.r.URL.Path, "remote", out.r.RemoteAddr, "err", err)
	}
}

// serviceLabel is the service a refused request named, for the metrics: the routed service, or
// the URL's provider and service when the registry knows them (the step that failed may precede
// the route), else "" (an unknown name would let any caller mint label values).
func (g *Gateway) serviceLabel(out *outbound) string {
	if out.service != nil {
		return out.service.Name
	}
	if s, ok := g.dir.Service(out.r.PathValue("provider"), out.r.PathValue("service")); ok {
		return s.Name
	}
	return ""
}

// clientErr is a refusal the caller must act on. Values of the request in a must be cut with
// clip.Echo; the whole text is cut to envelope.MaxDetail as well.
func clientErr(format string, a ...any) *AppError {
	return &AppError{FaultCode: "Client", Message: clip.To(fmt.Sprintf(format, a...), envelope.MaxDetail)}
}

func (g *Gateway) authenticate(_ context.Context, out *outbound) (*reply, error) {
	if !credentialsPresented(out.r) {
		return nil, &AppError{FaultCode: "Client", Message: "authentication failed: no credentials; send HTTP Basic or a TLS client certificate", Reason: ReasonCredentialsMissing}
	}
	app, err := g.dir.Application(out.r)
	if err != nil {
		// One text for every refusal of presented credentials: the caller must not learn which
		// user names exist. The cause is in the server's log.
		return nil, &AppError{FaultCode: "Client", Message: "authentication failed: the credentials were not accepted", Reason: ReasonCredentialsInvalid, Err: err}
	}
	out.app = app
	return nil, nil
}

func (g *Gateway) route(_ context.Context, out *outbound) (*reply, error) {
	r := out.r
	consumer, provider, service := r.PathValue("consumer"), r.PathValue("provider"), r.PathValue("service")
	if !g.dir.Hosted(consumer) {
		return nil, clientErr("consumer %q is not a party hosted by this gateway", clip.Echo(consumer))
	}
	out.consumer, _ = g.dir.Party(consumer)
	if out.consumer == nil {
		return nil, clientErr("consumer %q is not in the registry", consumer)
	}
	p, ok := g.dir.Party(provider)
	if !ok {
		return nil, clientErr("provider %q is not in the registry", clip.Echo(provider))
	}
	out.provider = p
	s, ok := g.dir.Service(provider, service)
	if !ok {
		return nil, clientErr("service %q of %s is not in the registry", clip.Echo(service), provider)
	}
	out.service = s
	return nil, nil
}

func (g *Gateway) authorise(_ context.Context, out *outbound) (*reply, error) {
	if !g.dir.AppMay(out.app, out.consumer.Name, out.service) {
		return nil, clientErr("application %q may not call %s/%s as %s", out.app, out.provider.Name, out.service.Name, out.consumer.Name)
	}
	return nil, nil
}

func (g *Gateway) readPayload(_ context.Context, out *outbound) (*reply, error) {
	raw, err := readBody(out.r, g.opt.MaxMessage)
	if errors.Is(err, errBusy) {
		return g.busy("pd", refusedBytes), nil
	}
	if err != nil {
		return nil, clientErr("%v", err)
	}
	out.raw = raw
	root, parts, err := readMessage(out.r, raw)
	if err != nil {
		return nil, clientErr("request is not acceptable SOAP with Attachments: %v", err)
	}
	out.parts = parts
	doc, err := g.parseXML(root)
	if err != nil {
		return nil, clientErr("request is not acceptable XML: %v", err)
	}
	_, body, err := soapParts(doc)
	if err != nil {
		return nil, clientErr("request is not a SOAP 1.1 envelope: %v", err)
	}
	out.body = body
	if out.parts != nil {
		if err := checkSwARequest(body, out.parts); err != nil {
			return nil, err
		}
	}
	s := out.service
	out.action = out.r.PathValue("action")
	if out.action == "" {
		out.action = actionOf(out.r, body)
	}
	if len(s.Actions) > 0 {
		if _, ok := s.Actions[out.action]; !ok {
			ae := clientErr("action %q is not an action of %s (from the URL path or the SOAPAction header)", clip.Echo(out.action), s.Name)
			ae.Reason = ReasonRouteUnknown
			return nil, ae
		}
	}
	// Before signing moves the payload into the busta: every record of the request carries them.
	out.ids = businessIDs(s, body)
	return nil, nil
}

func (g *Gateway) validateOut(_ context.Context, out *outbound) (*reply, error) {
	if out.service.Schemas[out.action] == "" {
		return nil, nil
	}
	return nil, g.validatePayload(out.service, out.action, out.body, len(out.raw), func(d string) error { return clientErr("%s", d) })
}

func (g *Gateway) buildOutHeader(ctx context.Context, out *outbound) (*reply, error) {
	if out.data != nil {
		return nil, nil // the busta kept under an Idempotency-Key, sent again
	}
	h, err := g.buildHeader(ctx, out.r, out, out.action)
	if err != nil {
		return nil, err
	}
	out.h = h
	return nil, nil
}

func (g *Gateway) signOut(_ context.Context, out *outbound) (*reply, error) {
	if out.data != nil {
		return nil, nil // the busta kept under an Idempotency-Key, sent again
	}
	if out.parts != nil {
		manifest, parts, err := buildSwA(out.body, out.parts, len(out.raw))
		if err != nil {
			return nil, err
		}
		out.root, out.data, err = g.signSwA(envelope.NewEnvelope(out.h, manifest), parts, sizeHint(len(out.raw)))
		return nil, err
	}
	busta := envelope.NewEnvelope(out.h, payload(out.body)...)
	var err error
	out.data, err = g.sign(busta, sizeHint(len(out.raw)))
	if err == nil {
		out.release()
	}
	return nil, err
}

// release lets the request go once its busta is signed: from here the busta, which carries the
// payload, is what is sent, traced and kept (a refusal traces it in the request's place), so a
// 10 MB request, and the tree read from it, which shares its memory, are not held while the busta
// travels and its reply comes back.
func (out *outbound) release() {
	out.raw, out.body, out.released = nil, nil, true
}

// traceData is what the trace keeps of the busta sent: the signed envelope (with attachments,
// the root part: its SignedInfo holds each attachment's digest).
func (out *outbound) traceData() []byte {
	if out.root != nil {
		return out.root
	}
	return out.data
}

// synchronous reports whether the request is sent at once and answered with the reply: a
// synchronous request or a richiesta-stato.
func (out *outbound) synchronous() bool {
	s := out.service
	return s.Profile == envelope.Sync || (s.Profile == envelope.AsyncAsymmetric && s.Actions[out.action] != "")
}

// traceAndQueue puts one-way and asynchronous requests and risposte in the outbox with their trace
// record, in one transaction, and answers 200 with the integration headers.
func (g *Gateway) traceAndQueue(ctx context.Context, out *outbound) (*reply, error) {
	ctx, cancel := outliveCaller(ctx) // accepted is accepted, whether or not the application waits
	defer cancel()
	h := out.h
	rec := g.record(Outbound, fnPD, h, out.traceData())
	rec.Peer, rec.Outcome, rec.Application, rec.IDs = out.provider.URL, OutcomeQueued, out.app, out.ids
	g.stampClient(rec, out.r)
	expires := g.now().Add(g.opt.Expiry)
	if h.Expires != nil {
		expires = *h.Expires
	}
	m := &QueuedMessage{
		ID: h.ID, Party: out.provider.Name, Service: out.service.Name, Conversation: h.Conversation, Sequence: h.Sequence,
		Data: out.data, Header: h, Created: g.now(), Expires: expires,
	}
	rep := &reply{status: http.StatusOK, header: integration(h)}
	if out.idem != nil {
		var err error
		if rep, err = g.enqueueIdempotent(ctx, out, m, rec); err != nil || rep.header.Get(HeaderIdempotentReplay) != "" {
			return rep, err
		}
	} else if err := g.out.enqueue(ctx, g, m, func(ctx context.Context, m *QueuedMessage) error {
		return g.store.Enqueue(ctx, Outbox, m, rec)
	}); err != nil {
		return nil, fmt.Errorf("enqueue %s: %w", h.ID, err)
	}
	g.observe(out.service.Name, Outbound, OutcomeQueued, out.start)
	return rep, nil
}

// actionOf finds the action of a request whose URL names none: the SOAPAction header (a URI whose
// last path segment is the action, or the bare name), else the payload's root element.
func actionOf(r *http.Request, body *etree.Element) string {
	sa := strings.Trim(r.Header.Get("SOAPAction"), `" `)
	if i := strings.LastIndexAny(sa, "/#:"); i >= 0 {
		sa = sa[i+1:]
	}
	if sa != "" {
		return sa
	}
	if kids := body.ChildElements(); len(kids) > 0 {
		return kids[0].Tag
	}
	return ""
}

// integration is the integration headers answering a request: the busta's identifiers.
func integration(h *envelope.Header) http.Header {
	hd := http.Header{}
	hd.Set(HeaderMessageID, h.ID)
	if h.RelatesTo != "" {
		hd.Set(HeaderRelatesTo, h.RelatesTo)
	}
	if h.Conversation != "" {
		hd.Set(HeaderConversationID, h.Conversation)
	}
	return hd
}

// buildHeader makes the busta header of an outbound request: IDs from the consumer's generator,
// ProfiloTrasmissione from the service flags, Collaborazione and RiferimentoMessaggio from the
// integration headers as the profile requires, Sequenza when in-order delivery is on.
func (g *Gateway) buildHeader(ctx context.Context, r *http.Request, out *outbound, action string) (*envelope.Header, error) {
	s := out.service
	id, err := g.nextID(ctx, out.consumer.Name)
	if err != nil {
		return nil, err
	}
	now := g.now()
	h := &envelope.Header{
		Sender:   []envelope.Party{{Type: orSPC(out.consumer.Type), Name: out.consumer.Name}},
		Receiver: envelope.Party{Type: orSPC(out.provider.Type), Name: out.provider.Name},
		Profile:  s.Profile, ServiceType: orSPC(s.Type), Service: s.Name, Action: action,
		ID: id, Time: envelope.Timestamp{Time: now, Source: envelope.TimeSPC},
		Transmission: &envelope.Transmission{AtMostOnce: s.FilterDuplicates || s.InOrder, AckRequested: s.Ack || s.InOrder},
	}
	if s.Expiry > 0 {
		e := now.Add(s.Expiry)
		h.Expires = &e
	}
	relates := strings.TrimSpace(r.Header.Get(HeaderRelatesTo))
	conv := strings.TrimSpace(r.Header.Get(HeaderConversationID))
	for name, v := range map[string]string{HeaderRelatesTo: relates, HeaderConversationID: conv} {
		if v != "" {
			if err := envelope.ValidateID(v); err != nil {
				return nil, clientErr("header %s: %v", name, err)
			}
		}
	}
	switch s.Profile {
	case envelope.AsyncSymmetric:
		if relates == "" {
			// A request: it starts the conversation and names the consumer's callback service.
			h.Conversation, h.CorrelatedService, h.CorrelatedServiceType = id, s.Correlated, orSPC(s.Type)
			break
		}
		// A risposta: it answers a request this gateway received from the provider (the party
		// that is now the receiver) on the correlated service.
		rec, err := g.store.Lookup(ctx, relates, Inbound)
		if err != nil {
			return nil, err
		}
		if rec == nil || rec.Header == nil || senderOf(rec.Header) != out.provider.Name || rec.Header.Profile != envelope.AsyncSymmetric || !strings.EqualFold(rec.Header.CorrelatedService, s.Name) {
			return nil, clientErr("%s %s names no asynchronous request received from %s with %s as its correlated service", HeaderRelatesTo, relates, out.provider.Name, s.Name)
		}
		h.RelatesTo, h.Conversation = relates, relates
	case envelope.AsyncAsymmetric:
		if s.Actions[action] == "" {
			h.Conversation = id
			break
		}
		// A richiesta-stato: it asks about a request this gateway sent on the correlated action.
		if relates == "" {
			return nil, clientErr("action %s asks for the status of a request: send its identifier in %s", action, HeaderRelatesTo)
		}
		rec, err := g.store.Lookup(ctx, relates, Outbound)
		if err != nil {
			return nil, err
		}
		if rec == nil || rec.Header == nil || rec.Header.Receiver.Name != out.provider.Name || rec.Header.Service != s.Name || rec.Header.Action != s.Actions[action] {
			return nil, clientErr("%s %s names no %s/%s request sent to %s", HeaderRelatesTo, relates, s.Name, s.Actions[action], out.provider.Name)
		}
		h.RelatesTo, h.Conversation = relates, relates
	default:
		h.RelatesTo, h.Conversation = relates, conv
	}
	if s.InOrder && s.Profile == envelope.OneWay {
		if h.Conversation == "" {
			h.Conversation = id
		}
		n, err := g.store.Reserve(ctx, "seq_"+h.Conversation, 1)
		if err != nil {
			return nil, fmt.Errorf("sequence number of %s: %w", h.Conversation, err)
		}
		h.Sequence = n
	}
	conform(h, out.consumer, out.provider)
	return h, nil
}

func orSPC(t string) string {
	if t == "" {
		return "SPC"
	}
	return t
}

// sendSync sends a synchronous request (or a richiesta-stato), waits for the reply busta, checks it
// and answers the application with the reply's payload. Other requests go on to the outbox.
func (g *Gateway) sendSync(ctx context.Context, out *outbound) (*reply, error) {
	if !out.synchronous() {
		return nil, nil
	}
	// The busta goes out and its outcome is traced whether or not the application still waits:
	// the provider may act on it.
	ctx, cancel := outliveCaller(ctx)
	defer cancel()
	h := out.h
	recOut := g.record(Outbound, fnPD, h, out.traceData())
	recOut.Peer, recOut.Application, recOut.IDs = out.provider.URL, out.app, out.ids
	g.stampClient(recOut, out.r)
	status, peerHdr, body, err := g.post(ctx, out.provider.URL, h.Action, out.data)
	recOut.HTTPStatus = status
	if err != nil {
		recOut.Outcome, recOut.Detail, recOut.Reason = OutcomeError, err.Error(), ReasonPeerUnreachable
		out.traced = true
		g.traceQuiet(ctx, recOut)
		return nil, &AppError{FaultCode: "Server", Message: "the provider's gateway could not be reached", Reason: ReasonPeerUnreachable, Err: err}
	}
	ans, err := g.readAnswer(h, status, body)
	if err == nil && ans == nil {
		err = &AppError{FaultCode: "Server", Message: fmt.Sprintf("the provider's gateway answered HTTP %d with no reply busta", status), Reason: ReasonPeerReplyInvalid}
	}
	var ae *AppError
	if errors.As(err, &ae) && ae.Reason == ReasonPeerRefused && peerHdr.Get(HeaderErrorReason) == string(ReasonBackendUnreachable) {
		ae.Reason = ReasonBackendUnreachable
	}
	if err != nil {
		recOut.Outcome, recOut.Detail, recOut.Reason = OutcomeError, err.Error(), ReasonPeerReplyInvalid
		if ae != nil {
			recOut.Reason = ae.Reason
		}
		out.traced = true
		recs := []*Record{recOut}
		if ans != nil && ans.h != nil {
			ri := g.record(Inbound, fnPD, ans.h, body)
			ri.Transaction, ri.Peer, ri.Outcome, ri.HTTPStatus, ri.Exceptions = h.ID, out.provider.URL, OutcomeError, status, ans.h.Exceptions
			ri.IDs = businessIDs(out.service, ans.body)
			recs = append(recs, ri)
		}
		g.traceQuiet(ctx, recs...)
		return nil, err
	}
	recOut.Outcome = OutcomeSent
	recIn := g.record(Inbound, fnPD, ans.h, body)
	recIn.Transaction, recIn.Peer, recIn.Outcome, recIn.HTTPStatus, recIn.Signer = h.ID, out.provider.URL, OutcomeReceived, status, g.fingerprint(ans.signer)
	recIn.Exceptions = ans.h.Exceptions // a Linee Guida partner's INFO exceptions, traced
	recIn.IDs = businessIDs(out.service, ans.body)
	if err := g.store.Trace(ctx, recOut, recIn); err != nil {
		return nil, err
	}
	code := http.StatusOK
	outcome := OutcomeSent
	if bodyFault(ans.body) != nil {
		code, outcome = http.StatusInternalServerError, OutcomeError
	}
	resp, err := xmlsafe.Serialize(plainEnvelope(payload(ans.body)))
	if err != nil {
		return nil, err
	}
	g.observe(h.Service, Outbound, outcome, out.start)
	return &reply{status: code, header: integration(ans.h), doc: resp}, nil
}

func (g *Gateway) traceQuiet(ctx context.Context, recs ...*Record) {
	if err := g.store.Trace(ctx, recs...); err != nil {
		g.log.Error("trace", "id", recs[0].Transaction, "err", err)
	}
}

// post sends a busta to a peer gateway and returns its HTTP status, headers and body.
func (g *Gateway) post(ctx context.Context, url, action string, data []byte) (int, http.Header, []byte, error) {
	if url == "" {
		return 0, nil, nil, errors.New("the receiver has no inbound URL in the registry")
	}
	ctx, cancel := context.WithTimeout(ctx, g.opt.PeerTimeout)
	defer cancel()
	ct, data := swa.Unframe(data)
	if ct == "" {
		ct = contentTypeSOAP
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(data))
	if err != nil {
		return 0, nil, nil, fmt.Errorf("post to %s: %w", url, err)
	}
	req.Header.Set("Content-Type", ct)
	req.Header.Set("SOAPAction", `"`+action+`"`)
	resp, err := g.peerClient().Do(req)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("post to %s: %w", url, err)
	}
	defer resp.Body.Close()
	b, over, err := readLimited(resp.Body, resp.ContentLength, g.opt.MaxMessage, leaseOf(ctx))
	if err != nil {
		return resp.StatusCode, resp.Header, nil, fmt.Errorf("read answer of %s: %w", url, err)
	}
	if over {
		return resp.StatusCode, resp.Header, nil, fmt.Errorf("answer of %s over %d bytes", url, g.opt.MaxMessage)
	}
	return resp.StatusCode, resp.Header, b, nil
}

// answer is a peer's reply busta, verified.
type answer struct {
	h      *envelope.Header
	body   *etree.Element
	signer []byte // DER of the signer certificate
}

// readAnswer reads a peer's reply to the busta req. An empty 200 is a plain one-way success (nil
// answer, nil error). A fault comes back as an *AppError carrying the peer's exceptions: a bare
// fault or an error busta (soap:Client) is permanent, a soap:Server fault may be retried. A reply
// busta is verified and must come from req's receiver; it must answer req (RiferimentoMessaggio)
// or acknowledge it (Riscontro).
func (g *Gateway) readAnswer(req *envelope.Header, status int, body []byte) (*answer, error) {
	if status == http.StatusOK && len(bytes.TrimSpace(body)) == 0 {
		return nil, nil
	}
	doc, err := g.parseXML(body)
	if err != nil {
		return nil, &AppError{FaultCode: "Server", Reason: ReasonPeerReplyInvalid, Message: fmt.Sprintf("the provider's gateway answered HTTP %d with unreadable XML", status), Err: err}
	}
	_, sbody, err := soapParts(doc)
	if err != nil {
		return nil, &AppError{FaultCode: "Server", Reason: ReasonPeerReplyInvalid, Message: fmt.Sprintf("the provider's gateway answered HTTP %d without a SOAP envelope", status), Err: err}
	}
	msg, perr := envelope.ParseDocument(doc)
	if msg != nil && msg.Header == nil {
		msg = nil
	}
	if f := bodyFault(sbody); f != nil && (msg == nil || len(msg.Header.Exceptions) > 0 || perr != nil) {
		// A fault from the peer gateway itself: a bare fault or an error busta. Its exceptions are
		// reported as they are; the exchange failed either way.
		text := "the provider's gateway refused the request: " + clip.Echo(childText(f, "faultstring"))
		if d := childText(f, "detail"); d != "" && len(d) <= 200 {
			text += ": " + d
		}
		ae := &AppError{FaultCode: faultCodeOf(f), Message: text, Reason: ReasonPeerRefused}
		var a *answer
		if msg != nil {
			ae.Exceptions = msg.Header.Exceptions
			a = &answer{h: msg.Header, body: msg.Body}
		}
		return a, ae
	}
	if perr != nil {
		return nil, &AppError{FaultCode: "Server", Reason: ReasonPeerReplyInvalid, Message: "the provider's gateway answered with a busta that is not valid", Err: perr}
	}
	var known []*x509.Certificate // the provider's registered certificates, for a KeyInfo that only names one
	if p, ok := g.dir.Party(req.Receiver.Name); ok {
		known = p.Certs
	}
	v, err := g.verifier().VerifyDocumentFrom(doc, known)
	if err != nil {
		return nil, &AppError{FaultCode: "Server", Reason: ReasonPeerReplyInvalid, Message: "the signature of the provider's reply is not valid", Err: envelope.SecurityError(err)}
	}
	intestazione := v.Parts[envelope.IntestazioneName]
	if intestazione == nil {
		return nil, &AppError{FaultCode: "Server", Reason: ReasonPeerReplyInvalid, Message: "the provider's reply carries no signed busta"}
	}
	h, err := envelope.ParseHeader(intestazione)
	if err != nil {
		return nil, &AppError{FaultCode: "Server", Reason: ReasonPeerReplyInvalid, Message: "the provider's signed reply header is not valid", Err: err}
	}
	if len(h.Sender) == 0 {
		return nil, &AppError{FaultCode: "Server", Reason: ReasonPeerReplyInvalid, Message: "the provider's reply names no Mittente"}
	}
	a := &answer{h: h, body: v.Body}
	if v.Certificate != nil {
		a.signer = v.Certificate.Raw
	}
	if senderOf(h) != req.Receiver.Name {
		return a, &AppError{FaultCode: "Server", Reason: ReasonPeerReplyInvalid, Message: fmt.Sprintf("the reply comes from %s, not from %s", clip.Echo(senderOf(h)), req.Receiver.Name)}
	}
	if p, ok := g.dir.Party(req.Receiver.Name); !ok || v.Certificate == nil || !belongsTo(v.Certificate, p) {
		return a, &AppError{FaultCode: "Server", Reason: ReasonPeerReplyInvalid, Message: "the reply is not signed with a certificate of " + req.Receiver.Name}
	}
	if h.RelatesTo != req.ID && !acks(h, req.ID) {
		return a, &AppError{FaultCode: "Server", Reason: ReasonPeerReplyInvalid, Message: fmt.Sprintf("the reply answers %q, not the request %s", clip.Echo(h.RelatesTo), req.ID)}
	}
	if err := g.checkReplyProfile(h); err != nil {
		return a, err
	}
	return a, nil
}

func acks(h *envelope.Header, id string) bool {
	for _, a := range h.Acks {
		if a.ID == id {
			return true
		}
	}
	return false
}

// faultCodeOf returns "Client" or "Server" from a SOAP 1.1 Fault.
func faultCodeOf(f *etree.Element) string {
	if strings.HasSuffix(childText(f, "faultcode"), "Client") {
		return "Client"
	}
	return "Server"
}

// childText is the trimmed text of el's first child with the given local name, or "".
func childText(el *etree.Element, tag string) string {
	for c := range el.ChildElementsSeq() {
		if c.Tag == tag {
			return strings.TrimSpace(c.Text())
		}
	}
	return ""
}

// senderOf is the sending party's name of a header, or "".
func senderOf(h *envelope.Header) string {
	if h == nil || len(h.Sender) == 0 {
		return ""
	}
	return h.Sender[0].Name
}

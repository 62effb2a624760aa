package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/beevik/etree"

	"porta/envelope"
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
)

// PD returns the Porta Delegata handler for local applications.
func (g *Gateway) PD() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /pd/{consumer}/{provider}/{service}/{action}", g.servePD)
	mux.HandleFunc("POST /pd/{consumer}/{provider}/{service}", g.servePD)
	mux.HandleFunc("GET /pd/{consumer}/{provider}/{service}/{action}", g.serveWSDL)
	mux.HandleFunc("GET /pd/{consumer}/{provider}/{service}", g.serveWSDL)
	return mux
}

// outbound is one request of a local application moving through the Porta Delegata.
type outbound struct {
	start    time.Time
	consumer *Party
	provider *Party
	service  *Service
	h        *envelope.Header
	data     []byte // the signed busta
}

func (g *Gateway) servePD(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	out := &outbound{start: g.now()}
	err := g.pd(ctx, w, r, out)
	if err == nil {
		return
	}
	var ae *AppError
	if !errors.As(err, &ae) {
		ae = &AppError{FaultCode: "Server", Message: "the gateway could not process the request", Err: err}
	}
	service, id := "", ""
	if out.h != nil {
		service, id = out.h.Service, out.h.ID
	}
	g.observe(service, Outbound, OutcomeError, out.start)
	g.log.Info("porta delegata: request failed", "path", r.URL.Path, "id", id, "err", ae)
	portID := ""
	if out.consumer != nil {
		portID = out.consumer.PortID
	}
	if id != "" {
		w.Header().Set(HeaderMessageID, id)
	}
	writeDoc(w, http.StatusInternalServerError, ae.document(portID, g.now()))
}

func clientErr(format string, a ...any) *AppError {
	return &AppError{FaultCode: "Client", Message: fmt.Sprintf(format, a...)}
}

func (g *Gateway) pd(ctx context.Context, w http.ResponseWriter, r *http.Request, out *outbound) error {
	consumer, provider, service := r.PathValue("consumer"), r.PathValue("provider"), r.PathValue("service")
	// Authentication, then the route, then authorisation.
	app, err := g.dir.Application(r)
	if err != nil {
		return &AppError{FaultCode: "Client", Message: "authentication failed", Err: err}
	}
	if !g.dir.Hosted(consumer) {
		return clientErr("consumer %q is not a party hosted by this gateway", consumer)
	}
	out.consumer, _ = g.dir.Party(consumer)
	if out.consumer == nil {
		return clientErr("consumer %q is not in the registry", consumer)
	}
	p, ok := g.dir.Party(provider)
	if !ok {
		return clientErr("provider %q is not in the registry", provider)
	}
	out.provider = p
	s, ok := g.dir.Service(provider, service)
	if !ok {
		return clientErr("service %q of %s is not in the registry", service, provider)
	}
	out.service = s
	if !g.dir.AppMay(app, consumer, s) {
		return clientErr("application %q may not call %s/%s as %s", app, provider, service, consumer)
	}

	raw, err := readBody(r, g.opt.MaxMessage)
	if err != nil {
		return clientErr("%v", err)
	}
	lim := g.verify.Limits
	if lim == (xmlsafe.Limits{}) {
		lim = xmlsafe.DefaultLimits
	}
	doc, err := xmlsafe.Parse(raw, lim)
	if err != nil {
		return clientErr("request is not acceptable XML: %v", err)
	}
	_, body, err := soapParts(doc)
	if err != nil {
		return clientErr("request is not a SOAP 1.1 envelope: %v", err)
	}
	action := r.PathValue("action")
	if action == "" {
		action = actionOf(r, body)
	}
	if len(s.Actions) > 0 {
		if _, ok := s.Actions[action]; !ok {
			return clientErr("action %q is not an action of %s (from the URL path or the SOAPAction header)", action, service)
		}
	}
	if s.Schemas[action] != "" {
		if err := g.validatePayload(s, action, body, len(raw), func(d string) error { return clientErr("%s", d) }); err != nil {
			return err
		}
	}

	h, err := g.buildHeader(ctx, r, out, action)
	if err != nil {
		return err
	}
	out.h = h
	busta := envelope.NewEnvelope(h, payload(body)...)
	if out.data, err = g.sign(busta, sizeHint(len(raw))); err != nil {
		return err
	}

	if s.Profile == envelope.Sync || (s.Profile == envelope.AsyncAsymmetric && s.Actions[action] != "") {
		return g.pdSync(ctx, w, r, out)
	}
	// One-way and asynchronous requests and risposte: the outbox, then the answer.
	rec := g.record(Outbound, fnPD, h, out.data)
	rec.Peer, rec.Outcome = p.URL, OutcomeQueued
	expires := g.now().Add(g.opt.Expiry)
	if h.Expires != nil {
		expires = *h.Expires
	}
	m := &QueuedMessage{
		ID: h.ID, Party: provider, Service: service, Conversation: h.Conversation, Sequence: h.Sequence,
		Data: out.data, Header: h, Created: g.now(), Expires: expires,
	}
	if err := g.store.Enqueue(ctx, Outbox, m, rec); err != nil {
		return fmt.Errorf("enqueue %s: %w", h.ID, err)
	}
	wake(g.wakeOut)
	g.observe(service, Outbound, OutcomeQueued, out.start)
	setIntegration(w.Header(), h)
	w.WriteHeader(http.StatusOK)
	return nil
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

func setIntegration(hd http.Header, h *envelope.Header) {
	hd.Set(HeaderMessageID, h.ID)
	if h.RelatesTo != "" {
		hd.Set(HeaderRelatesTo, h.RelatesTo)
	}
	if h.Conversation != "" {
		hd.Set(HeaderConversationID, h.Conversation)
	}
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
	return h, nil
}

func orSPC(t string) string {
	if t == "" {
		return "SPC"
	}
	return t
}

// pdSync sends a synchronous request (or a richiesta-stato), waits for the reply busta, checks it
// and answers the application with the reply's payload.
func (g *Gateway) pdSync(ctx context.Context, w http.ResponseWriter, r *http.Request, out *outbound) error {
	h := out.h
	recOut := g.record(Outbound, fnPD, h, out.data)
	recOut.Peer = out.provider.URL
	status, body, err := g.post(ctx, out.provider.URL, h.Action, out.data)
	recOut.HTTPStatus = status
	if err != nil {
		recOut.Outcome, recOut.Detail = OutcomeError, err.Error()
		g.traceQuiet(ctx, recOut)
		return &AppError{FaultCode: "Server", Message: "the provider's gateway could not be reached", Err: err}
	}
	ans, err := g.readAnswer(h, status, body)
	if err == nil && ans == nil {
		err = &AppError{FaultCode: "Server", Message: fmt.Sprintf("the provider's gateway answered HTTP %d with no reply busta", status)}
	}
	if err != nil {
		recOut.Outcome, recOut.Detail = OutcomeError, err.Error()
		recs := []*Record{recOut}
		if ans != nil && ans.h != nil {
			ri := g.record(Inbound, fnPD, ans.h, body)
			ri.Transaction, ri.Peer, ri.Outcome, ri.HTTPStatus, ri.Exceptions = h.ID, out.provider.URL, OutcomeError, status, ans.h.Exceptions
			recs = append(recs, ri)
		}
		g.traceQuiet(ctx, recs...)
		return err
	}
	recOut.Outcome = OutcomeSent
	recIn := g.record(Inbound, fnPD, ans.h, body)
	recIn.Transaction, recIn.Peer, recIn.Outcome, recIn.HTTPStatus, recIn.Signer = h.ID, out.provider.URL, OutcomeReceived, status, fingerprint(ans.signer)
	if err := g.store.Trace(ctx, recOut, recIn); err != nil {
		return err
	}
	code := http.StatusOK
	outcome := OutcomeSent
	if bodyFault(ans.body) != nil {
		code, outcome = http.StatusInternalServerError, OutcomeError
	}
	resp, err := docBytes(plainEnvelope(payload(ans.body)), len(body))
	if err != nil {
		return err
	}
	g.observe(h.Service, Outbound, outcome, out.start)
	setIntegration(w.Header(), ans.h)
	writeBytes(w, code, resp)
	return nil
}

func (g *Gateway) traceQuiet(ctx context.Context, recs ...*Record) {
	if err := g.store.Trace(ctx, recs...); err != nil {
		g.log.Error("trace", "id", recs[0].Transaction, "err", err)
	}
}

// post sends a busta to a peer gateway and returns its HTTP status and body.
func (g *Gateway) post(ctx context.Context, url, action string, data []byte) (int, []byte, error) {
	if url == "" {
		return 0, nil, errors.New("the receiver has no inbound URL in the registry")
	}
	ctx, cancel := context.WithTimeout(ctx, g.opt.PeerTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(data))
	if err != nil {
		return 0, nil, fmt.Errorf("post to %s: %w", url, err)
	}
	req.Header.Set("Content-Type", contentTypeSOAP)
	req.Header.Set("SOAPAction", `"`+action+`"`)
	resp, err := g.client.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("post to %s: %w", url, err)
	}
	defer resp.Body.Close()
	b, over, err := readLimited(resp.Body, resp.ContentLength, g.opt.MaxMessage)
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("read answer of %s: %w", url, err)
	}
	if over {
		return resp.StatusCode, nil, fmt.Errorf("answer of %s over %d bytes", url, g.opt.MaxMessage)
	}
	return resp.StatusCode, b, nil
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
	lim := g.verify.Limits
	if lim == (xmlsafe.Limits{}) {
		lim = xmlsafe.DefaultLimits
	}
	doc, err := xmlsafe.Parse(body, lim)
	if err != nil {
		return nil, &AppError{FaultCode: "Server", Message: fmt.Sprintf("the provider's gateway answered HTTP %d with unreadable XML", status), Err: err}
	}
	_, sbody, err := soapParts(doc)
	if err != nil {
		return nil, &AppError{FaultCode: "Server", Message: fmt.Sprintf("the provider's gateway answered HTTP %d without a SOAP envelope", status), Err: err}
	}
	msg, perr := envelope.ParseDocument(doc)
	if msg != nil && msg.Header == nil {
		msg = nil
	}
	if f := bodyFault(sbody); f != nil && (msg == nil || len(msg.Header.Exceptions) > 0 || perr != nil) {
		// A fault from the peer gateway itself: a bare fault or an error busta. Its exceptions are
		// reported as they are; the exchange failed either way.
		ae := &AppError{FaultCode: faultCodeOf(f), Message: "the provider's gateway refused the request: " + childText(f, "faultstring")}
		var a *answer
		if msg != nil {
			ae.Exceptions = msg.Header.Exceptions
			a = &answer{h: msg.Header, body: msg.Body}
		}
		return a, ae
	}
	if perr != nil {
		return nil, &AppError{FaultCode: "Server", Message: "the provider's gateway answered with a busta that is not valid", Err: perr}
	}
	v, err := g.verify.VerifyDocument(doc)
	if err != nil {
		return nil, &AppError{FaultCode: "Server", Message: "the signature of the provider's reply is not valid", Err: envelope.SecurityError(err)}
	}
	intestazione := v.Parts[envelope.IntestazioneName]
	if intestazione == nil {
		return nil, &AppError{FaultCode: "Server", Message: "the provider's reply carries no signed busta"}
	}
	h, err := envelope.ParseHeader(intestazione)
	if err != nil {
		return nil, &AppError{FaultCode: "Server", Message: "the provider's signed reply header is not valid", Err: err}
	}
	if len(h.Sender) == 0 {
		return nil, &AppError{FaultCode: "Server", Message: "the provider's reply names no Mittente"}
	}
	a := &answer{h: h, body: v.Body}
	if v.Certificate != nil {
		a.signer = v.Certificate.Raw
	}
	if senderOf(h) != req.Receiver.Name {
		return a, &AppError{FaultCode: "Server", Message: fmt.Sprintf("the reply comes from %s, not from %s", senderOf(h), req.Receiver.Name)}
	}
	if p, ok := g.dir.Party(req.Receiver.Name); !ok || v.Certificate == nil || !belongsTo(v.Certificate, p) {
		return a, &AppError{FaultCode: "Server", Message: "the reply is not signed with a certificate of " + req.Receiver.Name}
	}
	if h.RelatesTo != req.ID && !acks(h, req.ID) {
		return a, &AppError{FaultCode: "Server", Message: fmt.Sprintf("the reply answers %q, not the request %s", h.RelatesTo, req.ID)}
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
	for _, c := range el.ChildElements() {
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

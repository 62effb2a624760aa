package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"porta/envelope"
	"porta/internal/swa"
	"porta/internal/xmlsafe"
)

// Backend is the local application that provides a service: the gateway hands it each inbound
// request with the busta stripped and, for synchronous exchanges, relays its reply. Built-in
// adapters implement it in-process; HTTPBackend reaches an application over HTTP.
//
// Deliver must be idempotent on Delivery.Header.ID: after a crash the inbox may deliver the same
// message again, and the ID is the key the application uses to recognise it; Delivery.Attempt
// says when it is such a re-delivery.
type Backend interface {
	Deliver(ctx context.Context, d *Delivery) (*Reply, error)
}

// Delivery is one inbound message for a backend.
type Delivery struct {
	// Header is the verified busta header (sender, service, action, IDs, conversation).
	Header *envelope.Header
	// Envelope is the SOAP 1.1 envelope with the payload and no busta; with attachments, the whole
	// SwA message (multipart/related) whose root part is that envelope.
	Envelope []byte
	// Attempt numbers the inbox's deliveries of this message from 1 (0: delivered at once, as a
	// synchronous request is). More than 1 means an earlier attempt may have reached the backend.
	Attempt int
	// ContentType is Envelope's media type when it is not text/xml: the multipart/related of SwA.
	ContentType string
}

// Reply is a backend's answer: a SOAP 1.1 envelope with the response payload or a Fault. Once
// returned, Envelope is the gateway's: it reads the tree in place, so the backend must not write
// to it again.
type Reply struct {
	Status   int // HTTP status of the backend's answer (200, or 500 with a Fault)
	Envelope []byte
}

// HTTPBackend delivers to a local application's HTTP endpoint: a POST of the SOAP 1.1 envelope
// with the integration headers Porta-Message-ID (the idempotency key), Porta-Relates-To,
// Porta-Conversation-ID, Porta-Sender, Porta-Service, Porta-Action and, for the inbox's
// deliveries, Porta-Delivery-Attempt (more than 1 on a re-delivery of the same Porta-Message-ID).
type HTTPBackend struct {
	URL      string
	Client   *http.Client // nil = http.DefaultClient
	Username string       // optional HTTP Basic credentials towards the application
	Password string
	Timeout  time.Duration // per call; 30s when zero
	// MaxReply caps the size of the reply read; 64 MiB when zero.
	MaxReply int64
}

// Deliver implements Backend. A status other than 2xx or 500 (the SOAP fault status) is an error:
// the inbox retries it later.
func (b *HTTPBackend) Deliver(ctx context.Context, d *Delivery) (*Reply, error) {
	timeout := b.Timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	sent := &sentBody{all: d.Envelope, rest: d.Envelope}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.URL, sent)
	if err != nil {
		return nil, fmt.Errorf("backend %s: %w", b.URL, err)
	}
	req.ContentLength, req.GetBody = int64(len(d.Envelope)), sent.again
	if len(d.Envelope) == 0 {
		req.Body = http.NoBody // a zero ContentLength with a Body would be sent chunked
	}
	h := d.Header
	req.Header.Set("Content-Type", contentTypeSOAP)
	if d.ContentType != "" {
		req.Header.Set("Content-Type", d.ContentType)
	}
	req.Header.Set("SOAPAction", `"`+h.Action+`"`)
	if b.Username != "" {
		req.SetBasicAuth(b.Username, b.Password)
	}
	req.Header.Set("Porta-Message-ID", h.ID)
	if h.RelatesTo != "" {
		req.Header.Set("Porta-Relates-To", h.RelatesTo)
	}
	if h.Conversation != "" {
		req.Header.Set("Porta-Conversation-ID", h.Conversation)
	}
	if len(h.Sender) > 0 {
		req.Header.Set("Porta-Sender", h.Sender[0].Name)
	}
	req.Header.Set("Porta-Service", h.Service)
	req.Header.Set("Porta-Action", h.Action)
	if d.Attempt > 0 {
		req.Header.Set(HeaderDeliveryAttempt, strconv.Itoa(d.Attempt))
	}
	client := b.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	sent.release()
	if err != nil {
		return nil, fmt.Errorf("backend %s: %w", b.URL, err)
	}
	defer resp.Body.Close()
	limit := b.MaxReply
	if limit == 0 {
		limit = 64 << 20
	}
	body, over, err := readLimited(resp.Body, resp.ContentLength, limit, leaseOf(ctx))
	if err != nil {
		return nil, fmt.Errorf("backend %s: read reply: %w", b.URL, err)
	}
	if over {
		return nil, fmt.Errorf("backend %s: reply over %d bytes", b.URL, limit)
	}
	if resp.StatusCode/100 != 2 && resp.StatusCode != http.StatusInternalServerError {
		return nil, fmt.Errorf("backend %s: HTTP %s", b.URL, resp.Status)
	}
	return &Reply{Status: resp.StatusCode, Envelope: body}, nil
}

// sentBody is a request body whose bytes are let go once the request is answered. net/http keeps
// a request until its answer's body is read, and with a bytes.Reader body it keeps the bytes too
// (in the reader and in GetBody): a delivered 10 MB envelope was held while the backend's reply,
// as large, was read. Read hands out rest and drops it at its end; again (GetBody, for a retry
// on a fresh connection before any answer) reads all from the start until release drops it.
type sentBody struct {
	mu   sync.Mutex
	all  []byte
	rest []byte
}

func (s *sentBody) Read(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.rest) == 0 {
		s.rest = nil
		return 0, io.EOF
	}
	n := copy(p, s.rest)
	s.rest = s.rest[n:]
	return n, nil
}

func (s *sentBody) Close() error {
	s.mu.Lock()
	s.rest = nil
	s.mu.Unlock()
	return nil
}

func (s *sentBody) again() (io.ReadCloser, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.all == nil {
		return nil, errors.New("request body already released")
	}
	return &sentBody{rest: s.all}, nil
}

// release drops the bytes: the request was answered, or failed.
func (s *sentBody) release() {
	s.mu.Lock()
	s.all, s.rest = nil, nil
	s.mu.Unlock()
}

// PayloadHandler is a built-in service answering one payload (the child of soap:Body) with
// another, as the adapters' services do (anagrafe.Service, scuola.Service, ...). A nil answer
// means an empty Body (a one-way service).
type PayloadHandler interface {
	Handle(ctx context.Context, payload []byte) ([]byte, error)
}

// HandlerBackend delivers to a PayloadHandler in-process. An error of the handler becomes a
// SOAP Fault (HTTP 500): soap:Client when ClientError reports the request was at fault (for
// example an adapter's *FieldError), soap:Server otherwise, with the error text as faultstring.
type HandlerBackend struct {
	Handler     PayloadHandler
	ClientError func(error) bool // nil: every error is soap:Server
}

// Deliver implements Backend.
func (b *HandlerBackend) Deliver(ctx context.Context, d *Delivery) (*Reply, error) {
	envBytes := d.Envelope
	if d.ContentType != "" {
		// A built-in service reads the payload only; the attachments are not its business.
		m, err := swa.Parse(d.ContentType, d.Envelope)
		if err != nil {
			return nil, fmt.Errorf("built-in backend: %w", err)
		}
		envBytes = m.Root.Content
	}
	doc, err := xmlsafe.Parse(envBytes, xmlsafe.DefaultLimits)
	if err != nil {
		return nil, fmt.Errorf("built-in backend: %w", err)
	}
	_, body, err := soapParts(doc)
	if err != nil {
		return nil, fmt.Errorf("built-in backend: %w", err)
	}
	kids := body.ChildElements()
	if len(kids) != 1 {
		return faultReply("Client", fmt.Sprintf("the request carries %d payload elements, want 1", len(kids))), nil
	}
	out, err := b.Handler.Handle(ctx, ownDocument(kids[0], 0))
	if err != nil {
		code := "Server"
		if b.ClientError != nil && b.ClientError(err) {
			code = "Client"
		}
		return faultReply(code, err.Error()), nil
	}
	rdoc := plainEnvelope(nil)
	if len(out) > 0 {
		p, err := xmlsafe.Parse(out, xmlsafe.DefaultLimits)
		if err != nil {
			return nil, fmt.Errorf("built-in backend answered with bad XML: %w", err)
		}
		_, rbody, _ := soapParts(rdoc)
		rbody.AddChild(p.Root())
	}
	b2, err := rdoc.WriteToBytes()
	if err != nil {
		return nil, err
	}
	return &Reply{Status: http.StatusOK, Envelope: b2}, nil
}

func faultReply(code, msg string) *Reply {
	doc := plainEnvelope(nil)
	_, body, _ := soapParts(doc)
	addFault(body, code, msg, nil)
	b, _ := doc.WriteToBytes()
	return &Reply{Status: http.StatusInternalServerError, Envelope: b}
}

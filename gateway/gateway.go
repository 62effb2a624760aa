package gateway

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/beevik/etree"

	"porta/audit"
	"porta/envelope"
	"porta/envelope/wssec"
	"porta/internal/lockout"
	"porta/internal/xmlsafe"
)

// ErrDuplicate is returned by Store.Enqueue and Store.Remember when the busta ID is already in the
// duplicate history: another copy of the message was accepted first.
var ErrDuplicate = errors.New("busta already accepted")

// ErrKeyTaken is returned by the Store's idempotency methods when the application's
// Idempotency-Key is already kept.
var ErrKeyTaken = errors.New("idempotency key already kept")

// Options are the gateway's tunables. The zero value of each field picks the documented default.
type Options struct {
	// Node names this gateway instance in queue leases (several nodes may share one store).
	Node string
	// BodyMode is how much of each envelope the audit trail keeps for services whose trace policy
	// names none: "full", "header", "none" or "encrypted" (protect.go).
	BodyMode string
	// MaxMessage caps the size of a request body, in bytes (default 16 MiB).
	MaxMessage int64
	// RefusedBodyMax caps what the trail keeps of a refused message, in bytes (default 64 KiB):
	// its first bytes, with the size and SHA-256 of the whole (Record.Cap).
	RefusedBodyMax int64
	// InflightBytes bounds the buffer bytes all requests of the PD and the PA hold at once while
	// they read bodies and answers (default 256 MiB); see admission.go.
	InflightBytes int64
	// PeerRequests bounds the requests one peer (TLS client certificate, else remote IP address)
	// has in flight on one listener (default 256).
	PeerRequests int
	// ListenerRequests bounds the requests in flight on each listener (default 1024).
	ListenerRequests int
	// RetryAfter is the Retry-After of a request refused by those limits (default 5s).
	RetryAfter time.Duration
	// PeerTimeout bounds each call to a peer gateway (default 30s).
	PeerTimeout time.Duration
	// Window is how old an inbound busta's OraRegistrazione may be (default 7200 minutes, spec §3).
	Window time.Duration
	// Expiry is how long the outbox re-sends a message whose service sets no expiry (default 24h).
	Expiry time.Duration
	// MaxAttempts, when not 0, makes the outbox give up after that many sends (else it tries
	// until the message expires).
	MaxAttempts int
	// RetryMin and RetryMax bound the outbox and inbox back-off (defaults 1s and 5m).
	RetryMin, RetryMax time.Duration
	// Lease is how long a worker holds a queued message (default 1m).
	Lease time.Duration
	// IdempotencyWindow is how long the Porta Delegata keeps an application's Idempotency-Key
	// and the answer it gave under it (default 24h).
	IdempotencyWindow time.Duration
	// PurgeEvery is how often Run purges expired state from a store that supports it (default 1h).
	PurgeEvery time.Duration
	// Poll is how often idle workers look at the queues (default 1s; new messages wake them at once).
	Poll time.Duration
	// PDBase is the externally visible URL of the Porta Delegata listener, used in ?wsdl answers;
	// when empty the request's Host is used.
	PDBase string
	// Throttle configures the Porta Delegata's authentication throttle (see throttle.go).
	Throttle ThrottleOptions
	// Default is the default identity of the gateway (the first hosted party): the sender of
	// error buste answering a busta whose receiver cannot be read.
	Default string
}

func (o *Options) defaults() {
	if o.Node == "" {
		o.Node = "node"
	}
	if o.BodyMode == "" {
		o.BodyMode = "full"
	}
	if o.MaxMessage == 0 {
		o.MaxMessage = 16 << 20
	}
	if o.RefusedBodyMax <= 0 {
		o.RefusedBodyMax = DefaultRefusedBodyMax
	}
	if o.InflightBytes == 0 {
		o.InflightBytes = DefaultInflightBytes
	}
	if o.PeerRequests == 0 {
		o.PeerRequests = DefaultPeerRequests
	}
	if o.ListenerRequests == 0 {
		o.ListenerRequests = DefaultListenerRequests
	}
	if o.RetryAfter == 0 {
		o.RetryAfter = DefaultRetryAfter
	}
	if o.PeerTimeout == 0 {
		o.PeerTimeout = 30 * time.Second
	}
	if o.Window == 0 {
		o.Window = 7200 * time.Minute
	}
	if o.Expiry == 0 {
		o.Expiry = 24 * time.Hour
	}
	if o.RetryMin == 0 {
		o.RetryMin = time.Second
	}
	if o.RetryMax == 0 {
		o.RetryMax = 5 * time.Minute
	}
	if o.Lease == 0 {
		o.Lease = time.Minute
	}
	if o.IdempotencyWindow == 0 {
		o.IdempotencyWindow = 24 * time.Hour
	}
	if o.PurgeEvery == 0 {
		o.PurgeEvery = time.Hour
	}
	if o.Poll == 0 {
		o.Poll = time.Second
	}
}

// Deps are the collaborators a Gateway is built from. Directory, Store, Signer, Verifier and
// Client are required.
type Deps struct {
	Directory Directory
	Store     Store
	Signer    *wssec.Signer
	Verifier  *wssec.Verifier
	Validator Validator    // payload schemas; nil = no service may name a schema
	Client    *http.Client // calls to peer gateways: mTLS, pooled connections
	Clock     func() time.Time
	Logger    *slog.Logger
	// Hosted lists the parties this gateway hosts; Certificates are its own (signing, TLS), whose
	// validity /readyz checks and /metrics reports.
	Hosted       []string
	Certificates []*x509.Certificate
	// Large is told while the gateway holds large messages; nil: nobody is.
	Large LargeMessages
}

// LargeMessage is the size from which a message is large: a request or answer body read, or a
// queued message sent or delivered, of this many bytes or more is held under LargeMessages.
const LargeMessage = 1 << 20

// LargeMessages is told when the gateway starts holding a large message (Hold) and when it no
// longer does (Release, once per Hold; holds overlap). A large message is held as a few whole
// copies for the length of its exchange (the bytes read, the signed busta, the trace record),
// and with a garbage collector that lets the heap grow to three times what is live before it
// runs, those copies set the process's peak memory: the process may collect more eagerly while
// one is held (cmd/porta's gcPacer lowers GOGC). Both are called from many goroutines.
type LargeMessages interface {
	Hold()
	Release()
}

// Gateway is one porta di dominio: the Porta Delegata for local applications, the Porta
// Applicativa for peer gateways, the admin listener and the background workers.
type Gateway struct {
	opt     Options
	dir     Directory // liveDirectory: the current registry's (reload.go)
	cur     atomic.Pointer[current]
	store   Store
	signer  *wssec.Signer
	valid   Validator
	now     func() time.Time
	log     *slog.Logger
	metrics *metrics
	adm     *admission

	throttle *lockout.Table // of the PD's authentication

	idsMu sync.Mutex
	ids   map[string]*envelope.IDGenerator // per hosted party

	hosted []string
	own    []*x509.Certificate
	seen   certCache // fingerprints and subjects of the certificates seen, traced per message

	out, in *worker // the outbox sender and the inbox deliverer (workers.go)
}

// New builds a Gateway. It does no I/O; Run starts the workers.
func New(opt Options, d Deps) (*Gateway, error) {
	switch {
	case d.Directory == nil:
		return nil, errors.New("gateway: no registry (Deps.Directory)")
	case d.Store == nil:
		return nil, errors.New("gateway: no store (Deps.Store)")
	case d.Signer == nil:
		return nil, errors.New("gateway: no signer (Deps.Signer)")
	case d.Verifier == nil:
		return nil, errors.New("gateway: no verifier (Deps.Verifier)")
	case d.Client == nil:
		return nil, errors.New("gateway: no HTTP client for peers (Deps.Client)")
	}
	opt.defaults()
	switch opt.BodyMode {
	case "full", "header", "none", "encrypted":
	default:
		return nil, fmt.Errorf("gateway: body mode %q: want full, header, none or encrypted", opt.BodyMode)
	}
	g := &Gateway{
		opt: opt, store: d.Store, signer: d.Signer,
		valid: d.Validator, now: d.Clock, log: d.Logger, hosted: d.Hosted, own: d.Certificates,
		ids:      map[string]*envelope.IDGenerator{},
		throttle: lockout.New(opt.Throttle),
	}
	g.out, g.in = newWorker(Outbox, g.sendQueued), newWorker(Inbox, g.deliverQueued)
	g.dir = liveDirectory{g}
	g.cur.Store(&current{dir: d.Directory, verify: d.Verifier, client: d.Client})
	if g.now == nil {
		g.now = time.Now
	}
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	if g.opt.Default == "" && len(g.hosted) > 0 {
		g.opt.Default = g.hosted[0]
	}
	g.adm = newAdmission(g.opt)
	g.adm.large = d.Large
	g.metrics = newMetrics(g)
	return g, nil
}

// nextID returns a new Identificatore owned by the hosted party.
func (g *Gateway) nextID(ctx context.Context, party string) (string, error) {
	g.idsMu.Lock()
	gen, ok := g.ids[party]
	if !ok {
		p, known := g.dir.Party(party)
		if !known {
			g.idsMu.Unlock()
			return "", fmt.Errorf("new identifier: party %q is not in the registry", party)
		}
		port := p.PortID
		if port == "" {
			port = envelope.DefaultPortID(party)
		}
		gen = envelope.NewIDGenerator(party, port, g.now, g.store)
		g.ids[party] = gen
	}
	g.idsMu.Unlock()
	id, err := gen.Next(ctx)
	if err != nil {
		return "", fmt.Errorf("new identifier for %s: %w", party, err)
	}
	return id, nil
}

// wake nudges a worker without blocking.
func wake(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// record starts a trace record for a busta.
func (g *Gateway) record(dir Direction, function string, h *envelope.Header, raw []byte) *Record {
	r := &Record{Direction: dir, Function: function, Time: g.now(), Header: h}
	if h != nil {
		r.Transaction = h.ID
	}
	// The payload is the SOAP Body's content (the application's document); the whole envelope
	// has its own hash in the trace (audit.Record.RawHash). An unreadable envelope is hashed whole.
	payload := raw
	if b, err := audit.BodyContent(raw); err == nil {
		payload = b
	}
	r.PayloadSize = len(payload)
	r.PayloadHash = sha256.Sum256(payload)
	g.keepBody(r, h, raw) // the service's trace policy (protect.go)
	return r
}

// DefaultRefusedBodyMax is how much of a refused message the trail keeps unless configured.
const DefaultRefusedBodyMax = 64 << 10

// The admission limits unless configured (Options, admission.go; porta.yaml's limits).
const (
	DefaultInflightBytes    = 256 << 20
	DefaultPeerRequests     = 256
	DefaultListenerRequests = 1024
	DefaultRetryAfter       = 5 * time.Second
)

// afterCallerTimeout bounds what the gateway does for a request once its caller may have hung up:
// finishing a delivery already under way and tracing its outcome.
const afterCallerTimeout = 2 * time.Minute

// outliveCaller returns a context that the caller's hanging up does not cancel (its values kept),
// with a deadline of its own: a refusal is traced and a delivery under way is finished and traced
// whether or not anyone is still waiting for the answer.
func outliveCaller(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), afterCallerTimeout)
}

// stampClient records on rec the TLS client certificate r came with, if any.
func (g *Gateway) stampClient(rec *Record, r *http.Request) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return
	}
	c := r.TLS.PeerCertificates[0]
	ci := g.seen.get(c.Raw)
	rec.ClientSubject, rec.ClientCert = ci.subject(c), ci.fingerprint
}

// fingerprint is the hex SHA-256 of a certificate, as traced.
func (g *Gateway) fingerprint(der []byte) string {
	if der == nil {
		return ""
	}
	return g.seen.get(der).fingerprint
}

// certCache remembers what is traced of the certificates a gateway meets (a few peers' and
// applications', on every message: two to four SHA-256 and hex encodings and a subject written
// out an exchange), by their DER. Past certCacheMax certificates it starts again.
type certCache struct {
	mu sync.Mutex
	m  map[string]*certInfo
}

const certCacheMax = 1024

// certInfo is what is traced of one certificate.
type certInfo struct {
	fingerprint string
	once        sync.Once
	subj        string // c.Subject.String(), written out at the first need
}

// subject is the subject of c, the certificate ci is of.
func (ci *certInfo) subject(c *x509.Certificate) string {
	ci.once.Do(func() { ci.subj = c.Subject.String() })
	return ci.subj
}

func (cc *certCache) get(der []byte) *certInfo {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if ci, ok := cc.m[string(der)]; ok {
		return ci
	}
	if cc.m == nil || len(cc.m) >= certCacheMax {
		cc.m = map[string]*certInfo{}
	}
	sum := sha256.Sum256(der)
	ci := &certInfo{fingerprint: hex.EncodeToString(sum[:])}
	cc.m[string(der)] = ci
	return ci
}

// parseXML reads an XML message (a busta, a reply, an attachment) with the caps of the node's
// verifier (porta.yaml's limits), or xmlsafe's defaults when none are set. The message is the
// gateway's: a buffer it read itself, a backend's Reply or a record of its store, never written
// to afterwards, so the tree shares its memory (xmlsafe.ParseOwned) instead of holding a copy.
func (g *Gateway) parseXML(data []byte) (*etree.Document, error) {
	lim := g.verifier().Limits
	if lim == (xmlsafe.Limits{}) {
		lim = xmlsafe.DefaultLimits
	}
	return xmlsafe.ParseOwned(data, lim)
}

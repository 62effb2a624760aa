package gateway

import (
	"context"
	"crypto/x509"
	"net/http"
	"time"

	"porta/audit"
	"porta/envelope"
	"porta/registry"
)

// The gateway's view of its collaborators. Each interface lists only what the pipeline asks; the
// registry and audit packages satisfy them (through the small adapters in open.go), and tests can
// reason about each stage alone.

// Party is a soggetto as the gateway needs it.
type Party struct {
	Name   string
	Type   string // IdentificativoParte@tipo, e.g. "SPC"
	PortID string // identificativo porta, the second part of its identifiers
	URL    string // its Porta Applicativa (inbound) URL
	Certs  []*x509.Certificate
	// Interop is the party's interoperability profile: what it may send us and what we send it
	// (spec §11; "" is envelope.InteropEGov).
	Interop envelope.Interop
}

// Service is an agreement (accordo di servizio parte specifica) as the gateway needs it.
type Service struct {
	Provider string
	Type     string // Servizio@tipo, e.g. "SPC"
	Name     string
	Profile  envelope.Profile
	// Actions maps each action name to the action it is correlated with ("" for none): for an
	// asynchronous asymmetric service the status action names its request action.
	Actions map[string]string
	// Correlated is the correlated service: for an asynchronous symmetric request, the
	// consumer's service that receives the risposta; for that callback service, the request's.
	Correlated string

	FilterDuplicates bool          // inoltro EGOV_IT_ALPIUUNAVOLTA
	Ack              bool          // confermaRicezione
	InOrder          bool          // Sequenza, consegna in ordine
	Expiry           time.Duration // Scadenza of outbound buste, and the outbox's give-up time; 0 = default
	// Schemas names, per action, the schema a request's payload must be valid against (the
	// registry resolves service defaults); a missing or empty entry means no validation.
	Schemas map[string]string
	WSDL    string // path of the WSDL served on ?wsdl; "" = none
	// Trace is the service's personal-data policy (the registry's trace:): how its messages are
	// kept (protect.go) and the business identifiers the gateway reads from them (ids.go).
	Trace registry.TracePolicy
}

// Directory is what the gateway asks the service registry.
type Directory interface {
	// Party returns a known party by name.
	Party(name string) (*Party, bool)
	// Hosted reports whether this gateway hosts the party (is its porta di dominio).
	Hosted(name string) bool
	// Service returns the service name provided by provider.
	Service(provider, name string) (*Service, bool)
	// MayConsume reports whether the remote party consumer is authorised to call the service.
	MayConsume(consumer string, s *Service) bool
	// Application authenticates a local application from its request (TLS client certificate or
	// HTTP Basic). It returns the application's name, or an error saying why not.
	Application(r *http.Request) (string, error)
	// AppMay reports whether the local application may call the service as consumer.
	AppMay(app, consumer string, s *Service) bool
	// Backend returns where the provided service of a hosted party is delivered.
	Backend(s *Service) (Backend, bool)
}

// Validator validates a payload element (serialised) against a named schema.
type Validator interface {
	Validate(schema string, payload []byte) error
}

// Direction of a traced busta.
type Direction string

const (
	Inbound  Direction = "in"
	Outbound Direction = "out"
)

// Record is one traced busta (tracciamento): what the gateway saw or sent, and how it ended.
type Record struct {
	Transaction string
	Direction   Direction
	Function    string // "PortaDelegata" or "PortaApplicativa"
	Time        time.Time
	Header      *envelope.Header // nil when the busta could not be read
	Outcome     string           // see the Outcome constants
	Exceptions  []envelope.Exception
	HTTPStatus  int
	Peer        string // remote address, or the URL sent to
	Signer      string // SHA-256 fingerprint of the signer certificate, hex
	PayloadHash [32]byte
	PayloadSize int
	Raw         []byte // the envelope (masked per the service's trace policy); the store applies BodyMode
	// BodyMode is how the store keeps Raw: "full", "header", "none" or "encrypted", from the
	// service's trace policy or the gateway's default (protect.go).
	BodyMode string
	Detail   string // error text for operators
	// ClientSubject and ClientCert name the TLS client certificate of the connection a busta or
	// request came in on (subject; SHA-256 fingerprint, hex): set on every inbound record.
	ClientSubject string
	ClientCert    string
	Application   string // the local application of a Porta Delegata request, once authenticated
	Reason        Reason // the category of a Porta Delegata refusal
	// Cap, when more than 0, bounds the bytes the store keeps of this record (a refused message):
	// the first Cap bytes of Raw, with the size and SHA-256 of the whole (audit.Record.Cap).
	Cap int64
	// IDs are the business identifiers found in the payload (businessIDs), in clear: the store
	// keeps only their keyed hashes.
	IDs []audit.BusinessID
}

// Outcomes of a traced busta.
const (
	OutcomeSent      = "sent"      // sent and answered (sync reply received, or acknowledged)
	OutcomeQueued    = "queued"    // accepted into the outbox
	OutcomeReceived  = "received"  // accepted inbound
	OutcomeDuplicate = "duplicate" // inbound duplicate, filtered
	OutcomeError     = "error"     // refused or failed
	OutcomeExpired   = "expired"   // gave up re-sending
	// OutcomeRedelivered marks an inbox message handed to its backend again (Porta-Delivery-Attempt
	// > 1): an earlier attempt may have reached it before a crash or an error.
	OutcomeRedelivered = "redelivered"
)

// QueuedMessage is one entry of a durable queue: an outbound busta waiting for its
// acknowledgement (outbox) or an inbound payload waiting for delivery to its backend (inbox).
type QueuedMessage struct {
	ID           string // busta Identificatore
	Party        string // outbox: the receiver; inbox: the hosted receiving party
	Service      string
	Conversation string
	Sequence     int // 0 = no ordering
	Data         []byte
	Header       *envelope.Header
	Attempts     int
	// Leases counts the times a worker took the message, this time included (the store's
	// count; 0 when it keeps none): more than 1 means an earlier attempt may have reached the
	// peer or the backend before a crash or an error, so this one is a re-delivery.
	Leases    int
	NotBefore time.Time
	Expires   time.Time
	Created   time.Time
	// Owner and LeaseUntil, set on a message given to Enqueue, ask for it leased to Owner in the
	// same transaction (the enqueuer's worker takes it at once, without a Lease round trip): the
	// store leases it only if Lease would hand it out now (an inbox message that is not the next
	// of its conversation waits), and then sets Leases to 1; otherwise it leaves Leases 0.
	Owner      string
	LeaseUntil time.Time
}

// Queue names.
const (
	Outbox = "outbox"
	Inbox  = "inbox"
)

// Store is what the gateway asks the audit store: traces, the two durable queues, the duplicate
// history and the identifier counters. Implementations must make each method atomic.
type Store interface {
	envelope.CounterStore
	Ping(ctx context.Context) error
	// Trace appends records to the audit trail, returning once they are durable.
	Trace(ctx context.Context, recs ...*Record) error
	// Enqueue traces recs and adds m to queue in one transaction, leased to m.Owner when it asks
	// (see QueuedMessage). For the inbox it also adds the sender (m.Header.Sender[0]) and m.ID to
	// the duplicate history, returning ErrDuplicate (and changing nothing) when they are there.
	Enqueue(ctx context.Context, queue string, m *QueuedMessage, recs ...*Record) error
	// Lease takes up to n messages due now for owner for the lease time. For the inbox a message
	// whose sequence number is not the next of its conversation is held.
	Lease(ctx context.Context, queue, owner string, n int, lease time.Duration) ([]*QueuedMessage, error)
	// Done removes a message (acknowledged or delivered) and traces rec (may be nil). It need not
	// be durable when it returns, only visible and durable with the store's next durable write
	// (audit.Store.CompleteLazy): a settling lost to a power loss, never to a crashed process,
	// makes the message due again once its lease runs out, and handling it twice is harmless:
	//   - outbox: the re-send carries the same Identificatore to a provider that accepted it
	//     durably (its inbox and duplicate history in one commit, before it acknowledged). A
	//     one-way busta with riscontro is answered with the riscontro again, never delivered
	//     again; one the provider filters (ALPIUUNAVOLTA, or the service's or Linee Guida's
	//     filtering) is refused with EGOV_IT_110, which the sender takes for the acknowledgement
	//     of a re-send (sendQueued); a busta that asks for no filtering (PIUDIUNAVOLTA) accepts
	//     a second delivery by its profile, as after any lost acknowledgement (a Porta provider
	//     answers it again from its inbox's duplicate history all the same). The lost trace
	//     record of the answer is written when the re-send is answered.
	//   - inbox: the backend gets the message again under the same Porta-Message-ID, its
	//     idempotency key, with Porta-Delivery-Attempt > 1 and a redelivered trace record: the
	//     exactly-once protocol of a crash between delivery and settling (audit's package doc),
	//     whose window this widens from the settling's commit to the next durable one, and
	//     only for a power loss.
	// Fail stays durable: a message given up is visible as failed after any loss.
	Done(ctx context.Context, queue, id string, rec *Record) error
	// Retry releases a message to be tried again at next.
	Retry(ctx context.Context, queue, id string, next time.Time, reason string) error
	// Fail removes a message for good, keeping it visible as failed with the reason, and traces rec.
	Fail(ctx context.Context, queue, id, reason string, rec *Record) error
	// Seen reports whether an inbound busta with this sender and ID was already accepted.
	Seen(ctx context.Context, sender, id string) (bool, error)
	// Remember adds an inbound busta's sender and ID to the duplicate history, or returns
	// ErrDuplicate when they are already there. The history is kept at least until the given time.
	Remember(ctx context.Context, sender, id string, until time.Time) error
	// Lookup returns the last traced record of a busta by ID and direction, or nil.
	Lookup(ctx context.Context, id string, dir Direction) (*Record, error)
	// Depth returns the number of messages in a queue and the age of the oldest.
	Depth(ctx context.Context, queue string) (n int, oldest time.Duration, err error)

	// IdempotentRequest returns the request an application sent under an Idempotency-Key, or
	// nil when there is none or it expired.
	IdempotentRequest(ctx context.Context, app, key string) (*IdempotentRequest, error)
	// EnqueueIdempotent is Enqueue that also keeps r, in the same transaction; when r's key is
	// already kept it changes nothing and returns ErrKeyTaken.
	EnqueueIdempotent(ctx context.Context, queue string, m *QueuedMessage, r *IdempotentRequest, recs ...*Record) error
	// KeepIdempotent keeps r durably (a synchronous request about to be sent), or returns
	// ErrKeyTaken when its key is kept.
	KeepIdempotent(ctx context.Context, r *IdempotentRequest) error
	// SettleIdempotent stores the answer given to the request kept under (app, key).
	SettleIdempotent(ctx context.Context, app, key string, status int, header http.Header, body []byte) error
}

// IdempotentRequest is a request an application sent to the Porta Delegata with an
// Idempotency-Key: what it asked, the busta sent for it and the answer it was given.
type IdempotentRequest struct {
	App, Key string
	Hash     [32]byte // of the route, the integration headers and the body
	MsgID    string   // the Identificatore sent
	// Status is the HTTP status answered; 0 while a synchronous exchange is under way, when
	// Body holds the signed busta being sent.
	Status  int
	Header  http.Header
	Body    []byte
	Created time.Time
	Expires time.Time
}

package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/beevik/etree"

	"porta/audit"
	"porta/envelope"
	"porta/internal/xmlsafe"
)

// auditStore adapts the audit store (which must not know the gateway's or the envelope's types)
// to Store: records and queue items are flattened to its plain fields, the busta header kept as
// its Intestazione XML on records and as JSON in the items' Meta.
type auditStore struct {
	s         *audit.Store
	retention time.Duration
}

// NewAuditStore adapts an open audit store; retention is how long the duplicate history is kept.
func NewAuditStore(s *audit.Store, retention time.Duration) Store {
	return &auditStore{s: s, retention: retention}
}

func (a *auditStore) Reserve(ctx context.Context, key string, n int) (int, error) {
	return a.s.Reserve(ctx, key, n)
}

func (a *auditStore) Ping(ctx context.Context) error { return a.s.Ping(ctx) }

func (a *auditStore) Trace(ctx context.Context, recs ...*Record) error {
	return a.s.Append(ctx, toAudit(recs)...)
}

func (a *auditStore) Enqueue(ctx context.Context, queue string, m *QueuedMessage, recs ...*Record) error {
	it, err := toItem(queue, m)
	if err != nil {
		return err
	}
	b := audit.Batch{Items: []*audit.Item{it}, Records: toAudit(recs)}
	if queue == Inbox {
		b.Seen = []audit.SeenKey{{Sender: senderOf(m.Header), ID: m.ID}}
	}
	err = a.s.Write(ctx, b)
	if errors.Is(err, audit.ErrDuplicate) {
		return fmt.Errorf("%w: %v", ErrDuplicate, err)
	}
	leased(m, it)
	return err
}

// leased tells m whether Write leased its item (see QueuedMessage.Owner).
func leased(m *QueuedMessage, it *audit.Item) {
	m.Leases, m.Owner, m.LeaseUntil = it.Leases, it.LeaseOwner, it.LeaseUntil
}

func (a *auditStore) Lease(ctx context.Context, queue, owner string, n int, lease time.Duration) ([]*QueuedMessage, error) {
	items, err := a.s.Claim(ctx, owner, audit.Kind(queue), n, lease)
	if err != nil {
		return nil, err
	}
	out := make([]*QueuedMessage, 0, len(items))
	for _, it := range items {
		m, err := fromItem(it)
		if err != nil {
			// An item this gateway cannot read back is failed visibly, not retried forever.
			_ = a.s.Fail(ctx, it.Kind, it.MsgID, err.Error())
			continue
		}
		out = append(out, m)
	}
	return out, nil
}

func (a *auditStore) Done(ctx context.Context, queue, id string, rec *Record) error {
	return a.s.CompleteLazy(ctx, audit.Kind(queue), id, toAudit(nonNil(rec))...) // see Store.Done
}

func (a *auditStore) Retry(ctx context.Context, queue, id string, next time.Time, reason string) error {
	return a.s.Retry(ctx, audit.Kind(queue), id, next, reason)
}

func (a *auditStore) Fail(ctx context.Context, queue, id, reason string, rec *Record) error {
	return a.s.Fail(ctx, audit.Kind(queue), id, reason, toAudit(nonNil(rec))...)
}

func (a *auditStore) Seen(ctx context.Context, sender, id string) (bool, error) {
	known, _, err := a.s.Known(ctx, sender, id)
	return known, err
}

func (a *auditStore) Remember(ctx context.Context, sender, id string, _ time.Time) error {
	first, err := a.s.Seen(ctx, sender, id)
	if err != nil {
		return err
	}
	if !first {
		return ErrDuplicate
	}
	return nil
}

func (a *auditStore) Lookup(ctx context.Context, id string, dir Direction) (*Record, error) {
	r, err := a.s.Lookup(ctx, id, audit.Direction(dir))
	if err != nil || r == nil {
		return nil, err
	}
	return fromAudit(r), nil
}

func (a *auditStore) Depth(ctx context.Context, queue string) (int, time.Duration, error) {
	st, err := a.s.Stats(ctx, audit.Kind(queue))
	return st.Depth, st.Oldest, err
}

// Purge implements Purger: the duplicate history older than the retention and the expired
// idempotency keys are forgotten.
func (a *auditStore) Purge(ctx context.Context, _ time.Time) error {
	_, err := a.s.PurgeSeen(ctx, a.retention)
	if _, perr := a.s.PurgeIdempotent(ctx); err == nil {
		err = perr
	}
	return err
}

func (a *auditStore) IdempotentRequest(ctx context.Context, app, key string) (*IdempotentRequest, error) {
	r, err := a.s.IdempotentRequest(ctx, app, key)
	if err != nil || r == nil {
		return nil, err
	}
	out := &IdempotentRequest{App: r.App, Key: r.Key, MsgID: r.MsgID, Status: r.Status, Body: r.Body, Created: r.Created, Expires: r.Expires, Header: http.Header{}}
	copy(out.Hash[:], r.Hash)
	if len(r.Header) > 0 {
		if err := json.Unmarshal(r.Header, &out.Header); err != nil {
			return nil, fmt.Errorf("idempotency key %q of %s: unreadable headers: %w", key, app, err)
		}
	}
	return out, nil
}

func (a *auditStore) EnqueueIdempotent(ctx context.Context, queue string, m *QueuedMessage, r *IdempotentRequest, recs ...*Record) error {
	it, err := toItem(queue, m)
	if err != nil {
		return err
	}
	ar, err := toIdempotent(r)
	if err != nil {
		return err
	}
	err = a.s.Write(ctx, audit.Batch{Items: []*audit.Item{it}, Records: toAudit(recs), Idempotent: ar})
	if errors.Is(err, audit.ErrKeyTaken) {
		return fmt.Errorf("%w: %v", ErrKeyTaken, err)
	}
	leased(m, it)
	return err
}

func (a *auditStore) KeepIdempotent(ctx context.Context, r *IdempotentRequest) error {
	ar, err := toIdempotent(r)
	if err != nil {
		return err
	}
	err = a.s.KeepIdempotent(ctx, ar)
	if errors.Is(err, audit.ErrKeyTaken) {
		return fmt.Errorf("%w: %v", ErrKeyTaken, err)
	}
	return err
}

func (a *auditStore) SettleIdempotent(ctx context.Context, app, key string, status int, header http.Header, body []byte) error {
	h, err := json.Marshal(header)
	if err != nil {
		return err
	}
	return a.s.SettleIdempotent(ctx, app, key, status, h, body)
}

func toIdempotent(r *IdempotentRequest) (*audit.Idempotent, error) {
	h, err := json.Marshal(r.Header)
	if err != nil {
		return nil, fmt.Errorf("idempotency key %q of %s: %w", r.Key, r.App, err)
	}
	return &audit.Idempotent{App: r.App, Key: r.Key, Hash: r.Hash[:], MsgID: r.MsgID, Status: r.Status,
		Header: h, Body: r.Body, Created: r.Created, Expires: r.Expires}, nil
}

func nonNil(r *Record) []*Record {
	if r == nil {
		return nil
	}
	return []*Record{r}
}

func toAudit(recs []*Record) []*audit.Record {
	out := make([]*audit.Record, len(recs))
	for i, r := range recs {
		ar := &audit.Record{
			Transaction: r.Transaction, Direction: audit.Direction(r.Direction), Function: r.Function,
			Recorded: r.Time, Outcome: r.Outcome, HTTPStatus: r.HTTPStatus, Peer: r.Peer, Signer: r.Signer,
			PayloadHash: r.PayloadHash[:], PayloadSize: int64(r.PayloadSize), Raw: r.Raw, Detail: r.Detail,
			ClientSubject: r.ClientSubject, ClientCert: r.ClientCert, Application: r.Application, Reason: string(r.Reason), Cap: r.Cap,
			IDs: r.IDs,
		}
		if r.PayloadSize == 0 && len(r.Raw) == 0 {
			ar.PayloadHash = nil
		}
		ar.Keep = audit.BodyMode(r.BodyMode)
		xs, h := r.Exceptions, r.Header
		if r.BodyMode != "" && r.BodyMode != "full" {
			ar.Detail, xs = scrubValues(r.Detail), scrubExceptions(xs)
			if h != nil {
				if hx := scrubExceptions(h.Exceptions); len(hx) > 0 && &hx[0] != &h.Exceptions[0] {
					c := *h
					c.Exceptions, h = hx, &c
				}
			}
		}
		for _, e := range xs {
			ar.Exceptions = append(ar.Exceptions, audit.Exception{Code: string(e.Code), Severity: string(e.Severity), Context: e.Context, Position: e.Position})
		}
		if h != nil {
			ar.ID, ar.RelatesTo, ar.Conversation = h.ID, h.RelatesTo, h.Conversation
			ar.Sender, ar.Receiver, ar.Service, ar.Action = senderOf(h), h.Receiver.Name, h.Service, h.Action
			if h.Profile != envelope.ProfileNone {
				ar.Profile = h.Profile.String()
			}
			ar.Time = h.Time.Time
			d := etree.NewDocument()
			d.SetRoot(h.Element())
			ar.Header, _ = d.WriteToBytes()
		}
		out[i] = ar
	}
	return out
}

// fromAudit rebuilds a Record from the trail; the header comes from the stored Intestazione.
func fromAudit(ar *audit.Record) *Record {
	r := &Record{
		Transaction: ar.Transaction, Direction: Direction(ar.Direction), Function: ar.Function, Time: ar.Recorded,
		Outcome: ar.Outcome, HTTPStatus: ar.HTTPStatus, Peer: ar.Peer, Signer: ar.Signer,
		PayloadSize: int(ar.PayloadSize), Raw: ar.Raw, Detail: ar.Detail,
		ClientSubject: ar.ClientSubject, ClientCert: ar.ClientCert, Application: ar.Application, Reason: Reason(ar.Reason),
	}
	copy(r.PayloadHash[:], ar.PayloadHash)
	for _, e := range ar.Exceptions {
		r.Exceptions = append(r.Exceptions, envelope.Exception{Code: envelope.Code(e.Code), Severity: envelope.Severity(e.Severity), Context: e.Context, Position: e.Position})
	}
	if len(ar.Header) > 0 {
		if doc, err := xmlsafe.Parse(ar.Header, xmlsafe.DefaultLimits); err == nil {
			if h, err := envelope.ParseHeader(doc.Root()); err == nil {
				r.Header = h
			}
		}
	}
	if r.Header == nil && ar.ID != "" {
		r.Header = &envelope.Header{
			Sender: []envelope.Party{{Name: ar.Sender}}, Receiver: envelope.Party{Name: ar.Receiver},
			ID: ar.ID, RelatesTo: ar.RelatesTo, Conversation: ar.Conversation, Service: ar.Service, Action: ar.Action,
		}
		if p, err := envelope.ParseProfile(ar.Profile); err == nil {
			r.Header.Profile = p
		}
	}
	return r
}

// meta is what a queue item carries besides its payload: the busta header (Profile has no JSON
// form of its own in Header).
type meta struct {
	Header  *envelope.Header `json:"header"`
	Profile envelope.Profile `json:"profile"`
}

func toItem(queue string, m *QueuedMessage) (*audit.Item, error) {
	b, err := json.Marshal(meta{Header: m.Header, Profile: m.Header.Profile})
	if err != nil {
		return nil, fmt.Errorf("queue %s: %w", m.ID, err)
	}
	return &audit.Item{
		Kind: audit.Kind(queue), MsgID: m.ID, Party: m.Party, Service: m.Service,
		Conversation: m.Conversation, Sequence: int64(m.Sequence), Payload: m.Data, Meta: b,
		NotBefore: m.NotBefore, Deadline: m.Expires, Created: m.Created, Attempts: m.Attempts,
		LeaseOwner: m.Owner, LeaseUntil: m.LeaseUntil,
	}, nil
}

func fromItem(it *audit.Item) (*QueuedMessage, error) {
	var md meta
	if err := json.Unmarshal(it.Meta, &md); err != nil || md.Header == nil {
		return nil, fmt.Errorf("queue item %s: unreadable header: %v", it.MsgID, err)
	}
	md.Header.Profile = md.Profile
	return &QueuedMessage{
		ID: it.MsgID, Party: it.Party, Service: it.Service, Conversation: it.Conversation, Sequence: int(it.Sequence),
		Data: it.Payload, Header: md.Header, Attempts: it.Attempts, Leases: it.Leases, NotBefore: it.NotBefore, Expires: it.Deadline, Created: it.Created,
	}, nil
}

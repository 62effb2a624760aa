package audit

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
)

// Kind names a durable queue.
type Kind string

const (
	Outbox Kind = "outbox" // buste to send, until acknowledged or expired
	Inbox  Kind = "inbox"  // received buste to deliver to the local backend
)

// Item states.
const (
	StateReady  = "ready"  // waiting, leased or due again later
	StateFailed = "failed" // given up; visible with its reason until Requeue
)

// Item is one entry of a durable queue, keyed by (Kind, MsgID).
type Item struct {
	ID           int64  `json:"id"` // filled by the store
	Kind         Kind   `json:"kind"`
	MsgID        string `json:"msg_id"` // the busta ID: the idempotency key of delivery
	Party        string `json:"party"`  // outbox: the receiver; inbox: the hosted receiving party
	Service      string `json:"service"`
	Conversation string `json:"conversation,omitempty"`
	Sequence     int64  `json:"sequence,omitempty"` // > 0: delivered in order within Conversation
	Payload      []byte `json:"-"`
	Meta         []byte `json:"-"` // the caller's own data (e.g. the header), returned as given
	State        string `json:"state"`
	Attempts     int    `json:"attempts"`
	// Leases counts the times a worker claimed the item, this claim included: a claim after the
	// first follows a crash (the lease ran out) or a failed attempt, so the item's effect may
	// already have happened once.
	Leases    int       `json:"leases"`
	NotBefore time.Time `json:"not_before"`
	Deadline  time.Time `json:"deadline,omitzero"` // zero: never expires
	Created   time.Time `json:"created"`
	// LeaseOwner and LeaseUntil are the item's lease. Given to Write, they ask for the item
	// leased to LeaseOwner in the transaction that queues it, as if claimed at once (the
	// enqueuer hands it to its own worker, with no Claim round trip): Write then sets Leases to
	// 1. It leases only an item that Claim would take now (due, and the next of its conversation
	// when ordered); otherwise it clears both and leaves Leases 0, and the item waits for Claim.
	LeaseOwner string    `json:"lease_owner,omitempty"`
	LeaseUntil time.Time `json:"lease_until,omitzero"`
	LastError  string    `json:"last_error,omitempty"`

	sealed struct { // Payload and Meta as stored, sealed by Write in the caller's goroutine
		done          bool
		payload, meta []byte
	}
}

func (it *Item) check() error {
	if it == nil {
		return errors.New("audit: nil queue item")
	}
	if it.Kind != Outbox && it.Kind != Inbox {
		return fmt.Errorf("queue item %q: kind %q, want outbox or inbox", it.MsgID, it.Kind)
	}
	if it.MsgID == "" {
		return fmt.Errorf("%s item: empty message ID", it.Kind)
	}
	if it.Sequence < 0 || (it.Sequence > 0 && it.Conversation == "") {
		return fmt.Errorf("%s item %q: sequence %d needs a conversation and must not be negative", it.Kind, it.MsgID, it.Sequence)
	}
	return nil
}

// Enqueue adds items to their queues in one transaction (with no trace record; use Write to
// trace them atomically).
func (s *Store) Enqueue(ctx context.Context, items ...*Item) error {
	return s.Write(ctx, Batch{Items: items})
}

func (s *Store) enqueue(ctx context.Context, tx *sqlx.Tx, it *Item, now time.Time) error {
	if it.Created.IsZero() {
		it.Created = now
	}
	if it.NotBefore.IsZero() {
		it.NotBefore = it.Created
	}
	it.State = StateReady
	lease := it.LeaseOwner != "" && it.LeaseUntil.After(now) && !it.NotBefore.After(now) &&
		(it.Deadline.IsZero() || it.Deadline.After(now))
	if it.Sequence > 0 {
		if _, err := s.exec(ctx, tx, `INSERT INTO queue_seq (kind, conversation, next) VALUES (?, ?, 1) ON CONFLICT (kind, conversation) DO NOTHING`, string(it.Kind), it.Conversation); err != nil {
			return fmt.Errorf("%s item %q: sequence state: %w", it.Kind, it.MsgID, err)
		}
		var next int64
		if err := s.queryRow(ctx, tx, `SELECT next FROM queue_seq WHERE kind = ? AND conversation = ?`, string(it.Kind), it.Conversation).Scan(&next); err != nil {
			return fmt.Errorf("%s item %q: sequence state: %w", it.Kind, it.MsgID, err)
		}
		if it.Sequence < next {
			return fmt.Errorf("%s item %q: sequence %d of conversation %q was already delivered (next is %d): %w", it.Kind, it.MsgID, it.Sequence, it.Conversation, next, ErrDuplicate)
		}
		lease = lease && it.Sequence == next
	}
	it.Leases = 0
	if lease {
		it.Leases = 1
	} else {
		it.LeaseOwner, it.LeaseUntil = "", time.Time{}
	}
	payload, meta := it.Payload, it.Meta
	if it.sealed.done {
		payload, meta = it.sealed.payload, it.sealed.meta
	}
	err := s.queryRow(ctx, tx, `INSERT INTO queue_item (kind, msg_id, party, service, conversation, sequence, payload, meta,
		state, attempts, not_before, deadline, created, lease_owner, lease_until, last_error, leases)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '', ?) RETURNING id`,
		string(it.Kind), it.MsgID, it.Party, it.Service, it.Conversation, it.Sequence, nz(payload), nz(meta),
		it.State, it.Attempts, micros(it.NotBefore), micros(it.Deadline), micros(it.Created),
		it.LeaseOwner, micros(it.LeaseUntil), it.Leases).Scan(&it.ID)
	if isUnique(err) {
		return fmt.Errorf("%s item %q: %w: already queued", it.Kind, it.MsgID, ErrDuplicate)
	}
	if err != nil {
		return fmt.Errorf("%s item %q: %w", it.Kind, it.MsgID, err)
	}
	return nil
}

const itemColumns = `id, kind, msg_id, party, service, conversation, sequence, payload, meta, state, attempts,
	not_before, deadline, created, lease_owner, lease_until, last_error, leases`

func scanItem(sc scanner) (*Item, error) {
	var it Item
	var kind string
	var nb, dl, cr, lu int64
	if err := sc.Scan(&it.ID, &kind, &it.MsgID, &it.Party, &it.Service, &it.Conversation, &it.Sequence, &it.Payload, &it.Meta,
		&it.State, &it.Attempts, &nb, &dl, &cr, &it.LeaseOwner, &lu, &it.LastError, &it.Leases); err != nil {
		return nil, err
	}
	it.Kind = Kind(kind)
	it.NotBefore, it.Deadline, it.Created, it.LeaseUntil = fromMicros(nb), fromMicros(dl), fromMicros(cr), fromMicros(lu)
	return &it, nil
}

// claimable selects the items of a kind that are due, not leased (or whose lease ran out), not
// past their deadline, and, when ordered, the next of their conversation.
const claimable = `SELECT q.id FROM queue_item q
	WHERE q.kind = ? AND q.state = 'ready' AND q.not_before <= ? AND q.lease_until < ?
	AND (q.deadline = 0 OR q.deadline > ?)
	AND (q.sequence = 0 OR q.sequence = (SELECT s.next FROM queue_seq s WHERE s.kind = q.kind AND s.conversation = q.conversation))
	ORDER BY q.id LIMIT ?`

// Claim leases up to limit due items of kind to owner until now+lease, oldest first, counting
// the claim in Leases. An item stays leased to one owner at a time; when the lease runs out any
// owner may claim it again.
// The claim is one of the writer's durable writes, committed with whatever else it commits (no
// second connection contending for SQLite's write lock, no commit of its own). PostgreSQL skips
// rows another node is claiming (FOR UPDATE SKIP LOCKED); SQLite does it in one UPDATE …
// RETURNING under the database's write lock.
func (s *Store) Claim(ctx context.Context, owner string, kind Kind, limit int, lease time.Duration) ([]*Item, error) {
	if owner == "" || limit <= 0 || lease <= 0 {
		return nil, fmt.Errorf("claim %s: owner %q, limit %d, lease %v: want a name and positive limit and lease", kind, owner, limit, lease)
	}
	sub := claimable
	if s.dialect == "postgres" {
		sub += " FOR UPDATE SKIP LOCKED"
	}
	query := `UPDATE queue_item SET lease_owner = ?, lease_until = ?, leases = leases + 1
		WHERE id IN (` + sub + `) RETURNING ` + claimedColumns
	var out []*Item
	err := s.submit(ctx, &op{fn: func(ctx context.Context, tx *sqlx.Tx) error {
		out = out[:0]
		now := micros(s.now())
		rows, err := s.query(ctx, tx, query, owner, now+lease.Microseconds(), string(kind), now, now, now, limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			it, err := scanItem(rows)
			if err != nil {
				return err
			}
			out = append(out, it)
		}
		return rows.Err()
	}})
	if err != nil {
		return nil, fmt.Errorf("claim %s for %s: %w", kind, owner, err)
	}
	slices.SortFunc(out, func(a, b *Item) int { return cmp.Compare(a.ID, b.ID) })
	kept := out[:0]
	for _, it := range out { // large payloads read, and items opened, here: not in the writer's transaction
		var err error
		if it.Payload == nil { // large: read on its own
			err = s.db.QueryRowxContext(ctx, s.q(`SELECT payload FROM queue_item WHERE id = ?`), it.ID).Scan(&it.Payload)
			if isNoRows(err) {
				continue // removed since (an operator's purge): nothing to deliver
			}
		}
		if err == nil {
			err = s.openItem(it)
		}
		if err != nil {
			return nil, fmt.Errorf("claim %s for %s: %w", kind, owner, err)
		}
		kept = append(kept, it)
	}
	return kept, nil
}

// claimedColumns are itemColumns as Claim returns them: the payload only when it is smaller than
// largeArg, else NULL, and read after by id. SQLite evaluates RETURNING for every row into a
// table of its own before it hands back the first, so a payload returned there is copied twice
// more, beside the row the UPDATE rewrites: three copies of a 10 MB message at once. (length()
// of a blob reads its size, not its bytes.)
var claimedColumns = strings.Replace(itemColumns, "payload", "CASE WHEN length(payload) < "+strconv.Itoa(largeArg)+" THEN payload END", 1)

// ErrNotQueued is returned (wrapped) when an item named by kind and message ID is not in the
// queue in the state the operation needs.
var ErrNotQueued = errors.New("not in the queue")

// Complete removes a delivered or acknowledged item and appends recs, in one transaction, durable
// when it returns. For an ordered item it advances its conversation to the next sequence.
func (s *Store) Complete(ctx context.Context, kind Kind, msgID string, recs ...*Record) error {
	return s.complete(ctx, kind, msgID, false, recs)
}

// CompleteLazy is Complete committed without waiting for the disk, as Seen is: visible at once to
// every reader and node, durable with the store's next durable commit (on SQLite the next
// synchronous commit syncs the WAL this one was written to; on PostgreSQL the transaction runs
// with synchronous_commit off, and any later synchronous commit flushes the WAL past it). A
// crashed process loses nothing of it. A power loss, or a crash of the PostgreSQL server, before
// the next durable commit loses the settling and recs together (the chain then ends before
// them, unbroken): the item is claimable again once its lease runs out, and is handled a second
// time, its Leases counting the claim. It is for callers to whom a second handling is harmless;
// the gateway's case is argued on its Store.Done.
func (s *Store) CompleteLazy(ctx context.Context, kind Kind, msgID string, recs ...*Record) error {
	return s.complete(ctx, kind, msgID, true, recs)
}

func (s *Store) complete(ctx context.Context, kind Kind, msgID string, lazy bool, recs []*Record) error {
	return s.submit(ctx, &op{lazy: lazy, recs: recs, fn: func(ctx context.Context, tx *sqlx.Tx) error {
		return s.settle(ctx, tx, kind, msgID, `DELETE FROM queue_item WHERE kind = ? AND msg_id = ? AND state = 'ready'`)
	}})
}

// Fail gives an item up: it leaves the claimable items but stays listed (Failed) with reason
// until Requeue; recs are appended in the same transaction. An ordered item's conversation
// advances, so later items are not held forever behind it.
func (s *Store) Fail(ctx context.Context, kind Kind, msgID, reason string, recs ...*Record) error {
	now := micros(s.now())
	return s.submit(ctx, &op{recs: recs, fn: func(ctx context.Context, tx *sqlx.Tx) error {
		return s.settle(ctx, tx, kind, msgID, `UPDATE queue_item SET state = 'failed', last_error = ?, lease_owner = '', lease_until = 0, not_before = ?
			WHERE kind = ? AND msg_id = ? AND state = 'ready'`, reason, now)
	}})
}

// settle runs change, a statement on the ready item (kind, msgID) whose last two parameters
// are the kind and the message ID (args are those before), and advances the item's conversation
// when it is ordered: one statement returning what advancing needs, not a read of the whole item
// (its payload included) before a change by ID.
func (s *Store) settle(ctx context.Context, tx *sqlx.Tx, kind Kind, msgID, change string, args ...any) error {
	it := Item{Kind: kind, MsgID: msgID}
	err := s.queryRow(ctx, tx, change+` RETURNING sequence, conversation`, append(args, string(kind), msgID)...).Scan(&it.Sequence, &it.Conversation)
	if isNoRows(err) {
		return fmt.Errorf("%s item %q: %w (state %s)", kind, msgID, ErrNotQueued, StateReady)
	}
	if err != nil {
		return fmt.Errorf("%s item %q: %w", kind, msgID, err)
	}
	return s.advance(ctx, tx, &it)
}

func (s *Store) advance(ctx context.Context, tx *sqlx.Tx, it *Item) error {
	if it.Sequence == 0 {
		return nil
	}
	if _, err := s.exec(ctx, tx, `UPDATE queue_seq SET next = ? WHERE kind = ? AND conversation = ? AND next = ?`,
		it.Sequence+1, string(it.Kind), it.Conversation, it.Sequence); err != nil {
		return fmt.Errorf("%s item %q: advance conversation %q: %w", it.Kind, it.MsgID, it.Conversation, err)
	}
	return nil
}

// Retry releases a claimed item to be tried again at next, counting the attempt and keeping
// lastErr for operators. Like Claim, it is one of the writer's durable writes.
func (s *Store) Retry(ctx context.Context, kind Kind, msgID string, next time.Time, lastErr string) error {
	return s.submit(ctx, &op{fn: func(ctx context.Context, tx *sqlx.Tx) error {
		res, err := s.exec(ctx, tx, `UPDATE queue_item SET attempts = attempts + 1, not_before = ?, last_error = ?,
			lease_owner = '', lease_until = 0 WHERE kind = ? AND msg_id = ? AND state = 'ready'`, micros(next), lastErr, string(kind), msgID)
		return affected(res, err, fmt.Sprintf("retry %s %q", kind, msgID))
	}})
}

// Requeue makes a failed item ready again at once, its attempts and last error kept. An ordered
// item is requeued out of order: its conversation has moved past it.
func (s *Store) Requeue(ctx context.Context, kind Kind, msgID string) error {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE queue_item SET state = 'ready', sequence = 0, not_before = ?, deadline = 0
		WHERE kind = ? AND msg_id = ? AND state = 'failed'`), micros(s.now()), string(kind), msgID)
	return affected(res, err, fmt.Sprintf("requeue %s %q", kind, msgID))
}

func affected(res sql.Result, err error, what string) error {
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", what, ErrNotQueued)
	}
	return nil
}

// Expire fails the ready items of kind whose deadline has passed and are not leased (a leased
// one is failed by its worker or expires after its lease), returning them so the caller can
// trace each. Ordered conversations advance past them.
func (s *Store) Expire(ctx context.Context, kind Kind) ([]*Item, error) {
	now := micros(s.now())
	rows, err := s.db.QueryxContext(ctx, s.q(`SELECT `+itemColumns+` FROM queue_item
		WHERE kind = ? AND state = 'ready' AND deadline <> 0 AND deadline <= ? AND lease_until < ? ORDER BY id LIMIT 1000`), string(kind), now, now)
	if err != nil {
		return nil, fmt.Errorf("expire %s: %w", kind, err)
	}
	var due []*Item
	for rows.Next() {
		it, err := scanItem(rows)
		if err == nil {
			err = s.openItem(it)
		}
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("expire %s: %w", kind, err)
		}
		due = append(due, it)
	}
	rows.Close()
	var out []*Item
	for _, it := range due {
		err := s.Fail(ctx, kind, it.MsgID, "expired: deadline "+it.Deadline.Format(time.RFC3339))
		if errors.Is(err, ErrNotQueued) {
			continue // completed or failed meanwhile
		}
		if err != nil {
			return out, err
		}
		it.State, it.LastError = StateFailed, "expired"
		out = append(out, it)
	}
	return out, nil
}

// Failed lists the failed items of kind, newest first, with their reasons.
func (s *Store) Failed(ctx context.Context, kind Kind, limit int) ([]*Item, error) {
	return s.items(ctx, kind, StateFailed, `id DESC`, limit)
}

// Pending lists the ready items of kind (waiting, leased, or due again later), oldest first.
func (s *Store) Pending(ctx context.Context, kind Kind, limit int) ([]*Item, error) {
	return s.items(ctx, kind, StateReady, `id`, limit)
}

// items lists up to limit (default 100) items of kind in state, in order (a constant of this
// package).
func (s *Store) items(ctx context.Context, kind Kind, state, order string, limit int) ([]*Item, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := s.db.QueryxContext(ctx, s.q(`SELECT `+itemColumns+` FROM queue_item WHERE kind = ? AND state = ? ORDER BY `+order+` LIMIT ?`), string(kind), state, limit)
	if err != nil {
		return nil, fmt.Errorf("%s %s items: %w", state, kind, err)
	}
	defer rows.Close()
	var out []*Item
	for rows.Next() {
		it, err := scanItem(rows)
		if err == nil {
			err = s.openItem(it)
		}
		if err != nil {
			return nil, fmt.Errorf("%s %s items: %w", state, kind, err)
		}
		out = append(out, it)
	}
	return out, rows.Err()
}

// QueueStats describes a queue.
type QueueStats struct {
	Depth  int           // items not yet completed or failed (leased ones included)
	Leased int           // of which leased now
	Failed int           // failed items kept for operators
	Oldest time.Duration // age of the oldest item of Depth; 0 when empty
}

// Stats returns the depth, leases, failures and oldest age of a queue.
func (s *Store) Stats(ctx context.Context, kind Kind) (QueueStats, error) {
	now := s.now()
	var st QueueStats
	var oldest sql.NullInt64
	err := s.db.QueryRowxContext(ctx, s.q(`SELECT
		COALESCE(SUM(CASE WHEN state = 'ready' THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN state = 'ready' AND lease_until >= ? THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN state = 'failed' THEN 1 ELSE 0 END), 0),
		MIN(CASE WHEN state = 'ready' THEN created END)
		FROM queue_item WHERE kind = ?`), micros(now), string(kind)).Scan(&st.Depth, &st.Leased, &st.Failed, &oldest)
	if err != nil {
		return st, fmt.Errorf("stats of %s: %w", kind, err)
	}
	if oldest.Valid {
		st.Oldest = now.Sub(fromMicros(oldest.Int64))
	}
	return st, nil
}

func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }

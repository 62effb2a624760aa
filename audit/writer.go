package audit

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
)

// ErrDuplicate is returned (wrapped, with what was duplicated) when a write meets the duplicate
// history, an item already queued, or an ordered item below its conversation's next sequence.
var ErrDuplicate = errors.New("duplicate")

// ErrConflict is returned when another writer appended to this node's chain: two Stores were
// opened with the same Options.Node on one database.
var ErrConflict = errors.New("another store writes this node's chain")

// head is the last record of the node's chain.
type head struct {
	seq  int64
	hash []byte
}

// op is one caller's write, committed with others in one transaction by the writer.
type op struct {
	fn   func(ctx context.Context, tx *sqlx.Tx) error // may be nil
	recs []*Record
	done chan error
}

func (s *Store) loadHead(ctx context.Context, db execer) (head, error) {
	var h head
	err := db.QueryRowxContext(ctx, s.q(`SELECT seq, hash FROM trace WHERE node = ? ORDER BY seq DESC LIMIT 1`), s.opt.Node).Scan(&h.seq, &h.hash)
	if err != nil && !isNoRows(err) {
		return h, fmt.Errorf("load chain head of node %s: %w", s.opt.Node, err)
	}
	return h, nil
}

// Append adds records to this node's chain and returns once they are committed. The records
// are filled in place (Node, Seq, Recorded, BodyMode, Raw per body mode, hashes). Concurrent
// calls share transactions. If ctx ends first, Append returns its error and the records may or
// may not have been committed.
func (s *Store) Append(ctx context.Context, recs ...*Record) error {
	if len(recs) == 0 {
		return nil
	}
	return s.submit(ctx, &op{recs: recs})
}

// Batch is a set of writes committed atomically with one another.
type Batch struct {
	// Seen entries are added to the duplicate history first; if any is already there, nothing of
	// the batch is written and Write returns an error wrapping ErrDuplicate.
	Seen []SeenKey
	// Items are added to their queues.
	Items []*Item
	// Records are appended to the chain.
	Records []*Record
}

// Write commits b atomically ("accepted ⇒ traced and queued"), sharing the transaction with
// concurrent writes, and returns once it is committed. Items get their ID filled.
func (s *Store) Write(ctx context.Context, b Batch) error {
	for _, it := range b.Items {
		if err := it.check(); err != nil {
			return err
		}
	}
	now := s.now()
	return s.submit(ctx, &op{recs: b.Records, fn: func(ctx context.Context, tx *sqlx.Tx) error {
		for _, k := range b.Seen {
			first, err := s.seen(ctx, tx, k, now)
			if err != nil {
				return err
			}
			if !first {
				return fmt.Errorf("busta %s from %s: %w: already in the duplicate history", k.ID, k.Sender, ErrDuplicate)
			}
		}
		for _, it := range b.Items {
			if err := s.enqueue(ctx, tx, it, now); err != nil {
				return err
			}
		}
		return nil
	}})
}

func (s *Store) submit(ctx context.Context, o *op) error {
	if s.ops == nil {
		return errors.New("audit store opened read-only")
	}
	for _, r := range o.recs {
		if r == nil {
			return errors.New("audit: nil record")
		}
	}
	o.done = make(chan error, 1)
	select {
	case s.ops <- o:
	case <-s.stop:
		return errClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-o.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// writer is the one goroutine that writes the chain: it owns h, the chain head.
func (s *Store) writer(h head) {
	defer close(s.stopped)
	ctx := context.Background()
	batch := make([]*op, 0, s.opt.BatchSize)
	for {
		batch = batch[:0]
		select {
		case o := <-s.ops:
			batch = append(batch, o)
		case <-s.stop:
			// Drain what was submitted before Close.
			for {
				select {
				case o := <-s.ops:
					h = s.commit(ctx, h, []*op{o})
				default:
					return
				}
			}
		}
		var linger <-chan time.Time
		if s.opt.Linger > 0 {
			linger = time.After(s.opt.Linger)
		}
	fill:
		for len(batch) < s.opt.BatchSize {
			if linger == nil {
				select {
				case o := <-s.ops:
					batch = append(batch, o)
				default:
					break fill
				}
				continue
			}
			select {
			case o := <-s.ops:
				batch = append(batch, o)
			case <-linger:
				break fill
			}
		}
		h = s.commit(ctx, h, batch)
	}
}

// commit writes batch in one transaction and answers each op. Each op with a function runs
// inside a savepoint, so one op's refusal (a duplicate) does not undo the others. The records of
// the ops that succeeded are chained in order and inserted in multi-row statements (one round
// trip per insertChunk records on PostgreSQL).
func (s *Store) commit(ctx context.Context, start head, batch []*op) head {
	errs := make([]error, len(batch))
	fail := func(err error) head {
		for _, o := range batch {
			o.done <- err
		}
		if isUnique(err) {
			// Somebody else extended our chain; continue from the database's head.
			if nh, herr := s.loadHead(ctx, s.db); herr == nil {
				return nh
			}
		}
		return start
	}
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return fail(fmt.Errorf("audit write: begin: %w", err))
	}
	now := s.now()
	h := start
	var pending []*Record
	for i, o := range batch {
		for _, r := range o.recs {
			if errs[i] = r.prepare(s.opt.Node, s.opt.BodyMode, now); errs[i] != nil {
				break
			}
		}
		if errs[i] != nil {
			continue
		}
		if o.fn != nil {
			if _, err := tx.ExecContext(ctx, "SAVEPOINT op"); err != nil {
				tx.Rollback()
				return fail(fmt.Errorf("audit write: savepoint: %w", err))
			}
			if errs[i] = o.fn(ctx, tx); errs[i] != nil {
				if _, err := tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT op"); err != nil {
					tx.Rollback()
					return fail(fmt.Errorf("audit write: rollback to savepoint: %w", err))
				}
				continue
			}
			if _, err := tx.ExecContext(ctx, "RELEASE SAVEPOINT op"); err != nil {
				tx.Rollback()
				return fail(fmt.Errorf("audit write: release savepoint: %w", err))
			}
		}
		for _, r := range o.recs {
			r.Seq, r.PrevHash = h.seq+1, nz(h.hash)
			r.Hash = r.Digest(r.PrevHash)
			h = head{r.Seq, r.Hash}
			pending = append(pending, r)
		}
	}
	if err := s.insertRecords(ctx, tx, pending); err != nil {
		tx.Rollback()
		if isUnique(err) {
			err = fmt.Errorf("%w: node %s: %v", ErrConflict, s.opt.Node, err)
		}
		return fail(fmt.Errorf("audit write: %w", err))
	}
	if h.seq != start.seq {
		if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO chain_head (node, seq, hash) VALUES (?, ?, ?)
			ON CONFLICT (node) DO UPDATE SET seq = excluded.seq, hash = excluded.hash`), s.opt.Node, h.seq, h.hash); err != nil {
			tx.Rollback()
			return fail(fmt.Errorf("audit write: chain head: %w", err))
		}
	}
	if err := tx.Commit(); err != nil {
		return fail(fmt.Errorf("audit write: commit: %w", err))
	}
	for i, o := range batch {
		o.done <- errs[i]
	}
	return h
}

// insertChunk is how many records one INSERT carries (29 parameters each, within both
// databases' limits).
const insertChunk = 64

func (s *Store) insertRecords(ctx context.Context, tx *sqlx.Tx, recs []*Record) error {
	for len(recs) > 0 {
		n := min(len(recs), insertChunk)
		q := insertTrace + strings.Repeat(", "+traceValues, n-1)
		args := make([]any, 0, 29*n)
		for _, r := range recs[:n] {
			exc, err := encodeExceptions(r.Exceptions)
			if err != nil {
				return fmt.Errorf("record %q: %w", r.ID, err)
			}
			args = append(args, r.args(exc)...)
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(q), args...); err != nil {
			return fmt.Errorf("records %d to %d: %w", recs[0].Seq, recs[n-1].Seq, err)
		}
		recs = recs[n:]
	}
	return nil
}

const traceColumns = `node, seq, tx, direction, function, msg_id, relates_to, conversation, sender, receiver,
	service, action, profile, busta_time, recorded, outcome, exceptions, http_status, peer, signer,
	payload_hash, payload_size, header, body_mode, raw, raw_hash, detail, prev_hash, hash`

const traceValues = `(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

const insertTrace = `INSERT INTO trace (` + traceColumns + `) VALUES ` + traceValues

func nz(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

func (r *Record) args(exc string) []any {
	return []any{r.Node, r.Seq, r.Transaction, string(r.Direction), r.Function, r.ID, r.RelatesTo, r.Conversation,
		r.Sender, r.Receiver, r.Service, r.Action, r.Profile, micros(r.Time), micros(r.Recorded), r.Outcome, exc,
		r.HTTPStatus, r.Peer, r.Signer, nz(r.PayloadHash), r.PayloadSize, nz(r.Header), string(r.BodyMode), nz(r.Raw),
		nz(r.RawHash), r.Detail, nz(r.PrevHash), r.Hash}
}

// scanner is what *sql.Rows and *sqlx.Row offer.
type scanner interface{ Scan(dest ...any) error }

// scanRecord reads a row selected with traceColumns.
func scanRecord(sc scanner) (*Record, error) {
	var r Record
	var dir, mode string
	var t, rec int64
	var exc []byte
	err := sc.Scan(&r.Node, &r.Seq, &r.Transaction, &dir, &r.Function, &r.ID, &r.RelatesTo, &r.Conversation,
		&r.Sender, &r.Receiver, &r.Service, &r.Action, &r.Profile, &t, &rec, &r.Outcome, &exc,
		&r.HTTPStatus, &r.Peer, &r.Signer, &r.PayloadHash, &r.PayloadSize, &r.Header, &mode, &r.Raw,
		&r.RawHash, &r.Detail, &r.PrevHash, &r.Hash)
	if err != nil {
		return nil, err
	}
	r.Direction, r.BodyMode = Direction(dir), BodyMode(mode)
	r.Time, r.Recorded = fromMicros(t), fromMicros(rec)
	if r.Exceptions, err = decodeExceptions(exc); err != nil {
		return nil, fmt.Errorf("record %s/%d: %w", r.Node, r.Seq, err)
	}
	return &r, nil
}

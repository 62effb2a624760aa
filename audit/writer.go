package audit

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"database/sql/driver"
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
	// tails[i] is recs[i]'s encoding after the previous hash (Record.appendTail) and excs[i] its
	// exceptions column: submit computes them in the caller's goroutine, so the writer's
	// transaction only chains (one SHA-256 over the head and the tail) and inserts.
	tails [][]byte
	excs  []string
	// lazy marks a write that must be committed and visible at once but need not be durable
	// before its caller goes on, because the caller makes it durable with a later write before
	// it answers anyone (Seen). The writer commits lazy ops in a transaction of their own that
	// does not wait for the disk; the next durable commit of the same log makes them durable.
	lazy bool
	done chan error
}

func (s *Store) loadHead(ctx context.Context, db execer) (head, error) {
	var h head
	err := db.QueryRowxContext(ctx, s.q(`SELECT seq, hash FROM trace WHERE node = ? ORDER BY seq DESC LIMIT 1`), s.opt.Node).Scan(&h.seq, &h.hash)
	if isNoRows(err) {
		// No records: a new chain, or one whose records were all archived, which goes on from
		// its base.
		b, err := s.chainBase(ctx, db, s.opt.Node)
		if b != nil {
			h = head{b.Seq, b.Hash}
		}
		return h, err
	}
	if err != nil {
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
	// Idempotent, when set, is kept with the rest (the Idempotency-Key of the request that made
	// the items); if its key is already kept, nothing of the batch is written and Write returns an
	// error wrapping ErrKeyTaken.
	Idempotent *Idempotent
}

// Write commits b atomically ("accepted ⇒ traced and queued"), sharing the transaction with
// concurrent writes, and returns once it is committed. Items get their ID filled.
func (s *Store) Write(ctx context.Context, b Batch) error {
	for _, it := range b.Items {
		if err := it.check(); err != nil {
			return err
		}
		if err := s.sealItem(it); err != nil {
			return err
		}
	}
	if b.Idempotent != nil {
		if err := s.sealIdempotent(b.Idempotent); err != nil {
			return fmt.Errorf("idempotency key %q of %s: %w", b.Idempotent.Key, b.Idempotent.App, err)
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
		if b.Idempotent != nil {
			if err := s.keep(ctx, tx, b.Idempotent, now); err != nil {
				return err
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
	if len(o.recs) > 0 {
		now := s.now()
		o.tails, o.excs = make([][]byte, len(o.recs)), make([]string, len(o.recs))
		for i, r := range o.recs {
			if r == nil {
				return errors.New("audit: nil record")
			}
			if err := r.prepare(s.opt.Node, s.opt.BodyMode, s.opt.Keys, now); err != nil {
				return err
			}
			r.indexIDs(s.opt.IndexKey)
			exc, err := encodeExceptions(r.Exceptions)
			if err != nil {
				return fmt.Errorf("record %q: %w", r.ID, err)
			}
			o.excs[i], o.tails[i] = exc, r.appendTail(nil)
			r.rawSum = nil
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
					h = s.commitBatch(ctx, h, []*op{o})
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
		h = s.commitBatch(ctx, h, batch)
		// Drop the ops (and the records and envelopes they hold) while the writer idles:
		// batch[:0] alone would keep a 10 MB envelope reachable until the next batch.
		clear(batch)
		if s.catchUp.Swap(false) && s.wconn != nil {
			// The WAL outgrew its bound: copy the rest now, so the next transaction restarts it
			// (see walRestartPages). A failure leaves it to the next round.
			s.wconn.ExecContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)")
		}
	}
}

// commitBatch commits the lazy ops of batch in a transaction that does not wait for the disk,
// then the others in a durable one.
func (s *Store) commitBatch(ctx context.Context, h head, batch []*op) head {
	lazy, durable := batch[:0:0], batch[:0:0]
	for _, o := range batch {
		if o.lazy {
			lazy = append(lazy, o)
		} else {
			durable = append(durable, o)
		}
	}
	if len(lazy) > 0 {
		h = s.commit(ctx, h, lazy, false)
	}
	if len(durable) > 0 {
		h = s.commit(ctx, h, durable, true)
	}
	return h
}

// commit writes batch in one transaction and answers each op. When the batch has several ops,
// each op with a function runs inside a savepoint, so one op's refusal (a duplicate) does not
// undo the others. The records of the ops that succeeded are chained in order and inserted with
// prepared statements (multi-row, one round trip per insertChunk records on PostgreSQL). With
// durable unset the commit does not wait for the disk (see op.lazy).
func (s *Store) commit(ctx context.Context, start head, batch []*op, durable bool) head {
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
	tx, err := s.begin(ctx, durable)
	if err != nil {
		return fail(fmt.Errorf("audit write: begin: %w", err))
	}
	defer s.end(ctx, durable)
	h := start
	var pending []*Record
	var excs []string
	savepoints := len(batch) > 1
	for i, o := range batch {
		if o.fn != nil {
			if !savepoints {
				if errs[i] = o.fn(ctx, tx); errs[i] != nil {
					tx.Rollback()
					o.done <- errs[i]
					return start
				}
			} else {
				if _, err := s.exec(ctx, tx, "SAVEPOINT op"); err != nil {
					tx.Rollback()
					return fail(fmt.Errorf("audit write: savepoint: %w", err))
				}
				if errs[i] = o.fn(ctx, tx); errs[i] != nil {
					if _, err := s.exec(ctx, tx, "ROLLBACK TO SAVEPOINT op"); err != nil {
						tx.Rollback()
						return fail(fmt.Errorf("audit write: rollback to savepoint: %w", err))
					}
					continue
				}
				if _, err := s.exec(ctx, tx, "RELEASE SAVEPOINT op"); err != nil {
					tx.Rollback()
					return fail(fmt.Errorf("audit write: release savepoint: %w", err))
				}
			}
		}
		for j, r := range o.recs {
			r.Seq, r.PrevHash = h.seq+1, nz(h.hash)
			s.scratch = appendHead(s.scratch[:0], r.Node, r.PrevHash)
			s.hasher.Reset()
			s.hasher.Write(s.scratch)
			s.hasher.Write(o.tails[j])
			r.Hash = s.hasher.Sum(make([]byte, 0, sha256.Size))
			h = head{r.Seq, r.Hash}
			pending, excs = append(pending, r), append(excs, o.excs[j])
		}
	}
	if err := s.insertRecords(ctx, tx, pending, excs); err != nil {
		tx.Rollback()
		if isUnique(err) {
			err = fmt.Errorf("%w: node %s: %v", ErrConflict, s.opt.Node, err)
		}
		return fail(fmt.Errorf("audit write: %w", err))
	}
	if err := s.insertIDs(ctx, tx, pending); err != nil {
		tx.Rollback()
		return fail(fmt.Errorf("audit write: %w", err))
	}
	if h.seq != start.seq {
		if _, err := s.exec(ctx, tx, `INSERT INTO chain_head (node, seq, hash) VALUES (?, ?, ?)
			ON CONFLICT (node) DO UPDATE SET seq = excluded.seq, hash = excluded.hash`, s.opt.Node, h.seq, h.hash); err != nil {
			tx.Rollback()
			return fail(fmt.Errorf("audit write: chain head: %w", err))
		}
	}
	if err := tx.Commit(); err != nil {
		return fail(fmt.Errorf("audit write: commit: %w", err))
	}
	if durable {
		s.written.Store(true)
	}
	for i, o := range batch {
		o.done <- errs[i]
	}
	return h
}

// begin starts the writer's transaction. On SQLite the writer has a connection of its own
// (s.wconn), on which a lazy transaction runs with synchronous=NORMAL (the WAL is written but not
// synced; the next FULL commit syncs it, and with it this one); on PostgreSQL a lazy transaction
// sets synchronous_commit off for itself (visible to every node at once, flushed with the next
// synchronous commit).
func (s *Store) begin(ctx context.Context, durable bool) (*sqlx.Tx, error) {
	if s.wconnErr != nil {
		return nil, fmt.Errorf("the writer's connection: %w", s.wconnErr)
	}
	if s.dialect == "postgres" {
		tx, err := s.db.BeginTxx(ctx, nil)
		if err == nil && !durable {
			if _, err = tx.ExecContext(ctx, "SET LOCAL synchronous_commit TO OFF"); err != nil {
				tx.Rollback()
			}
		}
		return tx, err
	}
	if !durable {
		if _, err := s.wconn.ExecContext(ctx, "PRAGMA synchronous = NORMAL"); err != nil {
			return nil, err
		}
	}
	tx, err := s.wconn.BeginTxx(ctx, nil)
	if err != nil && !durable {
		s.end(ctx, durable)
	}
	return tx, err
}

// end restores the writer's connection after a lazy transaction. If it cannot, the connection
// is dropped for a fresh one (opened with synchronous=FULL), so a durable write never runs on it.
func (s *Store) end(ctx context.Context, durable bool) {
	if s.wconn == nil || durable {
		return
	}
	if _, err := s.wconn.ExecContext(ctx, "PRAGMA synchronous = FULL"); err != nil {
		s.wconn.Raw(func(any) error { return driver.ErrBadConn })
		s.wconn.Close()
		s.wconn, s.wconnErr = s.db.Connx(ctx)
		if s.wconnErr != nil {
			s.wconn = nil
		}
	}
}

// insertChunk is how many records one INSERT carries (35 parameters each, within both
// databases' limits).
const insertChunk = 64

func (s *Store) insertRecords(ctx context.Context, tx *sqlx.Tx, recs []*Record, excs []string) error {
	for len(recs) > 0 {
		n := min(len(recs), insertChunk)
		if s.dialect == "sqlite" {
			// SQLite: one prepared single-row statement, stepped per record (no round trips
			// to save, and one statement to prepare instead of one per batch size).
			n = 1
		}
		args := make([]any, 0, 35*n)
		for i, r := range recs[:n] {
			args = append(args, r.args(excs[i])...)
		}
		if _, err := s.exec(ctx, tx, insertTraceN(n), args...); err != nil {
			return fmt.Errorf("records %d to %d: %w", recs[0].Seq, recs[n-1].Seq, err)
		}
		recs, excs = recs[n:], excs[n:]
	}
	return nil
}

var insertTraces [insertChunk + 1]string

func init() {
	for n := 1; n <= insertChunk; n++ {
		insertTraces[n] = insertTrace + strings.Repeat(", "+traceValues, n-1)
	}
}

// insertTraceN is the INSERT of n records.
func insertTraceN(n int) string { return insertTraces[n] }

// exec runs one of the writer's statements in tx, prepared once per Store and connection.
func (s *Store) exec(ctx context.Context, tx *sqlx.Tx, query string, args ...any) (sql.Result, error) {
	st, err := s.prepared(ctx, tx, query, args)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return tx.ExecContext(ctx, tx.Rebind(query), args...)
	}
	return st.ExecContext(ctx, args...)
}

// queryRow is exec for a statement returning one row.
func (s *Store) queryRow(ctx context.Context, tx *sqlx.Tx, query string, args ...any) *sqlx.Row {
	st, err := s.prepared(ctx, tx, query, args)
	if err != nil || st == nil {
		return tx.QueryRowxContext(ctx, tx.Rebind(query), args...) // err: reports the same error
	}
	return st.QueryRowxContext(ctx, args...)
}

// query is exec for a statement returning rows.
func (s *Store) query(ctx context.Context, tx *sqlx.Tx, query string, args ...any) (*sqlx.Rows, error) {
	st, err := s.prepared(ctx, tx, query, args)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return tx.QueryxContext(ctx, tx.Rebind(query), args...)
	}
	return st.QueryxContext(ctx, args...)
}

// prepared is query prepared on tx's connection for exec, queryRow and query, or nil when it runs
// unprepared: on PostgreSQL (pgx keeps its own cache of prepared statements per connection) and
// with a large blob among args (largeArg).
func (s *Store) prepared(ctx context.Context, tx *sqlx.Tx, query string, args []any) (*sqlx.Stmt, error) {
	if s.dialect == "postgres" || carriesLarge(args) {
		return nil, nil
	}
	return s.stmt(ctx, tx, query)
}

// largeArg is the size from which a blob is bound to a statement prepared for it alone. A
// prepared statement keeps what it was last bound (the SQLite driver copies a blob into C memory
// of the statement's, and SQLite copies it again when it is bound, until the next binding), so a
// 10 MB envelope bound to a statement kept for the life of the Store stayed resident after its
// transaction; a statement prepared for one execution frees them when it is closed. Parsing the
// statement again costs nothing beside a blob this size.
const largeArg = 256 << 10

// carriesLarge reports whether args hold a blob of largeArg bytes or more.
func carriesLarge(args []any) bool {
	for _, a := range args {
		if b, ok := a.([]byte); ok && len(b) >= largeArg {
			return true
		}
	}
	return false
}

// stmt returns query (written with ? placeholders) prepared on tx's connection (SQLite: pgx
// keeps its own cache of prepared statements per connection). The statements
// are prepared on the database once and bound to each connection the first time it runs them
// (database/sql keeps one prepared statement per connection), which took a tenth of the
// writer's CPU when every statement was parsed again.
func (s *Store) stmt(ctx context.Context, tx *sqlx.Tx, query string) (*sqlx.Stmt, error) {
	s.stmtMu.Lock()
	st, ok := s.stmts[query]
	if !ok {
		var err error
		if st, err = s.db.PreparexContext(ctx, s.q(query)); err != nil {
			s.stmtMu.Unlock()
			return nil, err
		}
		s.stmts[query] = st
	}
	s.stmtMu.Unlock()
	return tx.StmtxContext(ctx, st), nil
}

const traceColumns = `node, seq, tx, direction, function, msg_id, relates_to, conversation, sender, receiver,
	service, action, profile, busta_time, recorded, outcome, exceptions, http_status, peer, signer,
	payload_hash, payload_size, header, body_mode, raw, raw_hash, detail, prev_hash, hash,
	client_subject, client_cert, application, reason, raw_size, ids`

// traceSelect is what readers select: the inserted columns, then those set only after insert
// (a purged body's digest and time, migration 00008).
const traceSelect = traceColumns + `, raw_digest, purged`

const traceValues = `(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

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
		nz(r.RawHash), r.Detail, nz(r.PrevHash), r.Hash, r.ClientSubject, r.ClientCert, r.Application, r.Reason, r.RawSize,
		nz(encodeIDs(nil, r.IDKeys))}
}

// scanner is what *sql.Rows and *sqlx.Row offer.
type scanner interface{ Scan(dest ...any) error }

// scanRecord reads a row selected with traceSelect.
func scanRecord(sc scanner) (*Record, error) {
	var r Record
	var dir, mode string
	var t, rec, purged int64
	var exc, ids []byte
	err := sc.Scan(&r.Node, &r.Seq, &r.Transaction, &dir, &r.Function, &r.ID, &r.RelatesTo, &r.Conversation,
		&r.Sender, &r.Receiver, &r.Service, &r.Action, &r.Profile, &t, &rec, &r.Outcome, &exc,
		&r.HTTPStatus, &r.Peer, &r.Signer, &r.PayloadHash, &r.PayloadSize, &r.Header, &mode, &r.Raw,
		&r.RawHash, &r.Detail, &r.PrevHash, &r.Hash, &r.ClientSubject, &r.ClientCert, &r.Application, &r.Reason, &r.RawSize, &ids,
		&r.RawDigest, &purged)
	if err != nil {
		return nil, err
	}
	if r.IDKeys, err = decodeIDs(ids); err != nil {
		return nil, fmt.Errorf("record %s/%d: %w", r.Node, r.Seq, err)
	}
	r.Direction, r.BodyMode = Direction(dir), BodyMode(mode)
	r.Time, r.Recorded, r.Purged = fromMicros(t), fromMicros(rec), fromMicros(purged)
	if len(r.RawDigest) == 0 {
		r.RawDigest = nil
	}
	if r.Exceptions, err = decodeExceptions(exc); err != nil {
		return nil, fmt.Errorf("record %s/%d: %w", r.Node, r.Seq, err)
	}
	return &r, nil
}

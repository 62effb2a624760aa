package audit

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

// Idempotent is a request an application sent with an Idempotency-Key: what it asked (the hash
// of its route and body), the busta sent for it and the answer it was given, kept until Expires so
// that a retry under the same key is answered again instead of sent again.
type Idempotent struct {
	App     string // the authenticated application: keys are its own
	Key     string
	Hash    []byte // of the request; a retry with another hash is a conflict
	MsgID   string // the Identificatore sent for it
	Status  int    // the HTTP status answered; 0 while a synchronous exchange is under way
	Header  []byte // the answer's headers, as the caller encoded them
	Body    []byte // the answer's body
	Created time.Time
	Expires time.Time

	sealed struct { // Header and Body as stored, sealed in the caller's goroutine
		done         bool
		header, body []byte
	}
}

// ErrKeyTaken is returned (wrapped) when an Idempotency-Key is already kept for the application.
var ErrKeyTaken = errors.New("idempotency key already kept")

// IdempotentRequest returns the request kept under (app, key), or nil when there is none or it
// expired.
func (s *Store) IdempotentRequest(ctx context.Context, app, key string) (*Idempotent, error) {
	r := Idempotent{App: app, Key: key}
	var cr, ex int64
	err := s.db.QueryRowxContext(ctx, s.q(`SELECT request_hash, msg_id, status, header, body, created, expires
		FROM idempotency WHERE app = ? AND idem_key = ? AND expires > ?`), app, key, micros(s.now())).
		Scan(&r.Hash, &r.MsgID, &r.Status, &r.Header, &r.Body, &cr, &ex)
	if isNoRows(err) {
		return nil, nil
	}
	if err == nil {
		r.Header, err = s.openValue(r.Header, purposeIdemHead)
	}
	if err == nil {
		r.Body, err = s.openValue(r.Body, purposeIdemBody)
	}
	if err != nil {
		return nil, fmt.Errorf("idempotency key %q of %s: %w", key, app, err)
	}
	r.Created, r.Expires = fromMicros(cr), fromMicros(ex)
	return &r, nil
}

// keep inserts r in tx, or fails with ErrKeyTaken when a live entry holds its key (an expired
// one is replaced).
func (s *Store) keep(ctx context.Context, tx *sqlx.Tx, r *Idempotent, now time.Time) error {
	if r.App == "" || r.Key == "" {
		return fmt.Errorf("idempotency key %q of %q: want an application and a key", r.Key, r.App)
	}
	if r.Created.IsZero() {
		r.Created = now
	}
	if _, err := s.exec(ctx, tx, `DELETE FROM idempotency WHERE app = ? AND idem_key = ? AND expires <= ?`, r.App, r.Key, micros(now)); err != nil {
		return fmt.Errorf("idempotency key %q of %s: %w", r.Key, r.App, err)
	}
	header, body := r.Header, r.Body
	if r.sealed.done {
		header, body = r.sealed.header, r.sealed.body
	}
	res, err := s.exec(ctx, tx, `INSERT INTO idempotency (app, idem_key, request_hash, msg_id, status, header, body, created, expires)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (app, idem_key) DO NOTHING`,
		r.App, r.Key, nz(r.Hash), r.MsgID, r.Status, nz(header), nz(body), micros(r.Created), micros(r.Expires))
	if err != nil {
		return fmt.Errorf("idempotency key %q of %s: %w", r.Key, r.App, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return fmt.Errorf("idempotency key %q of %s: %w", r.Key, r.App, ErrKeyTaken)
	}
	return nil
}

// KeepIdempotent keeps r durably, or returns an error wrapping ErrKeyTaken when its key is kept.
func (s *Store) KeepIdempotent(ctx context.Context, r *Idempotent) error {
	now := s.now()
	if err := s.sealIdempotent(r); err != nil {
		return fmt.Errorf("idempotency key %q of %s: %w", r.Key, r.App, err)
	}
	return s.submit(ctx, &op{fn: func(ctx context.Context, tx *sqlx.Tx) error { return s.keep(ctx, tx, r, now) }})
}

// SettleIdempotent stores the answer given to the request kept under (app, key).
func (s *Store) SettleIdempotent(ctx context.Context, app, key string, status int, header, body []byte) error {
	header, err := s.sealValue(header, purposeIdemHead)
	if err == nil {
		body, err = s.sealValue(body, purposeIdemBody)
	}
	if err != nil {
		return fmt.Errorf("idempotency key %q of %s: %w", key, app, err)
	}
	return s.submit(ctx, &op{fn: func(ctx context.Context, tx *sqlx.Tx) error {
		res, err := s.exec(ctx, tx, `UPDATE idempotency SET status = ?, header = ?, body = ? WHERE app = ? AND idem_key = ?`,
			status, nz(header), nz(body), app, key)
		if err != nil {
			return fmt.Errorf("idempotency key %q of %s: %w", key, app, err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return fmt.Errorf("idempotency key %q of %s: not kept", key, app)
		}
		return nil
	}})
}

// PurgeIdempotent drops the expired keys and returns how many it removed.
func (s *Store) PurgeIdempotent(ctx context.Context) (int64, error) {
	res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM idempotency WHERE expires <= ?`), micros(s.now()))
	if err != nil {
		return 0, fmt.Errorf("purge idempotency keys: %w", err)
	}
	return res.RowsAffected()
}

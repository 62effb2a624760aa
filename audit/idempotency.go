package audit

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
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
	keys := s.storedKeys(key)
	err := s.db.QueryRowxContext(ctx, s.q(`SELECT request_hash, msg_id, status, header, body, created, expires
		FROM idempotency WHERE app = ? AND idem_key IN (`+placeholders(len(keys))+`) AND expires > ? LIMIT 1`), args(app, keys, micros(s.now()))...).
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
	keys := s.storedKeys(r.Key)
	if _, err := s.exec(ctx, tx, `DELETE FROM idempotency WHERE app = ? AND idem_key IN (`+placeholders(len(keys))+`) AND expires <= ?`, args(r.App, keys, micros(now))...); err != nil {
		return fmt.Errorf("idempotency key %q of %s: %w", r.Key, r.App, err)
	}
	if older := keys[1:]; len(older) > 0 {
		// Kept under an older key's tag, or in clear before the keys: taken all the same.
		var n int
		if err := s.queryRow(ctx, tx, `SELECT COUNT(*) FROM idempotency WHERE app = ? AND idem_key IN (`+placeholders(len(older))+`)`, args(r.App, older)...).Scan(&n); err != nil {
			return fmt.Errorf("idempotency key %q of %s: %w", r.Key, r.App, err)
		}
		if n > 0 {
			return fmt.Errorf("idempotency key %q of %s: %w", r.Key, r.App, ErrKeyTaken)
		}
	}
	header, body := r.Header, r.Body
	if r.sealed.done {
		header, body = r.sealed.header, r.sealed.body
	}
	res, err := s.exec(ctx, tx, `INSERT INTO idempotency (app, idem_key, request_hash, msg_id, status, header, body, created, expires)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (app, idem_key) DO NOTHING`,
		r.App, keys[0], nz(r.Hash), r.MsgID, r.Status, nz(header), nz(body), micros(r.Created), micros(r.Expires))
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
	keys := s.storedKeys(key)
	return s.submit(ctx, &op{fn: func(ctx context.Context, tx *sqlx.Tx) error {
		res, err := s.exec(ctx, tx, `UPDATE idempotency SET status = ?, header = ?, body = ? WHERE app = ? AND idem_key IN (`+placeholders(len(keys))+`)`,
			append([]any{status, nz(header), nz(body)}, args(app, keys)...)...)
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

// storedKeys returns how an application's Idempotency-Key may be stored, the one to store first:
// with trace keys, its tag under each key, newest first (an application may put a codice
// fiscale in its keys, and the store must find a key again, not read it), then the key in clear
// as stored before there were keys; without, the key itself.
func (s *Store) storedKeys(key string) []string {
	if s.opt.Keys == nil {
		return []string{key}
	}
	tags := s.opt.Keys.Tags([]byte(key), purposeIdemKey)
	out := make([]string, 0, len(tags)+1)
	for _, t := range tags {
		out = append(out, "~"+base64.RawURLEncoding.EncodeToString(t))
	}
	return append(out, key)
}

// placeholders returns n comma-separated ? placeholders.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// args flattens first, the strings of list, then rest into statement arguments.
func args(first any, list []string, rest ...any) []any {
	out := make([]any, 0, 1+len(list)+len(rest))
	out = append(out, first)
	for _, v := range list {
		out = append(out, v)
	}
	return append(out, rest...)
}

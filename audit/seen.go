package audit

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

// DefaultSeenAge is how long the duplicate history keeps an ID by default: 7200 minutes (five
// days), longer than any busta's expiry on the network.
const DefaultSeenAge = 7200 * time.Minute

// SeenKey names an inbound busta in the duplicate history.
type SeenKey struct {
	Sender string // the sending party
	ID     string // its Identificatore
}

// Seen adds (sender, id) to the duplicate history if it is absent and reports whether it was
// new, atomically: of two nodes receiving the same busta at once, exactly one sees true. The
// insert goes through the writer (a write of its own would, on SQLite, wait for the writer's
// lock in the busy handler's sleeps) and is committed visible to every node at once but without
// waiting for the disk: it becomes durable with this Store's next durable write (Append, Write,
// Complete, Fail). The caller must make one before it answers anyone on the strength of it, as
// the gateway does: it checks a synchronous busta here, delivers it, then traces the exchange
// (or the refusal) and only then answers. An entry lost to a power cut before that write
// belongs to a busta nobody was answered for, whose sender will send it again. This saves the
// provider one of the two disk syncs of a synchronous exchange.
func (s *Store) Seen(ctx context.Context, sender, id string) (first bool, err error) {
	k, now := SeenKey{sender, id}, s.now()
	var isNew bool
	err = s.submit(ctx, &op{lazy: true, fn: func(ctx context.Context, tx *sqlx.Tx) error {
		var err error
		isNew, err = s.seen(ctx, tx, k, now)
		return err
	}})
	if err != nil {
		return false, err
	}
	return isNew, nil
}

func (s *Store) seen(ctx context.Context, tx *sqlx.Tx, k SeenKey, now time.Time) (bool, error) {
	if k.ID == "" {
		return false, fmt.Errorf("duplicate history: empty ID (sender %q)", k.Sender)
	}
	res, err := s.exec(ctx, tx, `INSERT INTO seen (sender, msg_id, first_seen) VALUES (?, ?, ?) ON CONFLICT (sender, msg_id) DO NOTHING`, k.Sender, k.ID, micros(now))
	if err != nil {
		return false, fmt.Errorf("duplicate history %s from %s: %w", k.ID, k.Sender, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("duplicate history %s from %s: %w", k.ID, k.Sender, err)
	}
	return n == 1, nil
}

// Known reports whether (sender, id) is in the duplicate history, without adding it, and
// returns the reply stored for it (nil if none).
func (s *Store) Known(ctx context.Context, sender, id string) (known bool, reply []byte, err error) {
	err = s.db.QueryRowxContext(ctx, s.q(`SELECT reply FROM seen WHERE sender = ? AND msg_id = ?`), sender, id).Scan(&reply)
	if isNoRows(err) {
		return false, nil, nil
	}
	if err == nil {
		reply, err = s.openValue(reply, purposeReply)
	}
	if err != nil {
		return false, nil, fmt.Errorf("duplicate history %s from %s: %w", id, sender, err)
	}
	return true, reply, nil
}

// SetReply stores the reply to repeat to duplicates of (sender, id), e.g. the riscontro.
func (s *Store) SetReply(ctx context.Context, sender, id string, reply []byte) error {
	reply, err := s.sealValue(reply, purposeReply)
	if err != nil {
		return fmt.Errorf("reply for %s from %s: %w", id, sender, err)
	}
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE seen SET reply = ? WHERE sender = ? AND msg_id = ?`), nz(reply), sender, id)
	if err := affected(res, err, fmt.Sprintf("reply for %s from %s", id, sender)); err != nil {
		return fmt.Errorf("%w (not in the duplicate history)", err)
	}
	return nil
}

// PurgeSeen forgets the IDs first seen longer than age ago (DefaultSeenAge when age <= 0) and
// returns how many it removed.
func (s *Store) PurgeSeen(ctx context.Context, age time.Duration) (int64, error) {
	if age <= 0 {
		age = DefaultSeenAge
	}
	res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM seen WHERE first_seen < ?`), micros(s.now().Add(-age)))
	if err != nil {
		return 0, fmt.Errorf("purge duplicate history: %w", err)
	}
	return res.RowsAffected()
}

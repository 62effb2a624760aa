package audit

import (
	"context"
	"fmt"
	"time"
)

// Span is one transaction (exchange) of a node's trail, summed up from its records: the first
// and last times it was recorded (a request and its reply, a busta queued and its
// acknowledgement), how many records it has, its service and its peer (the receiver of its
// outbound records, the sender of its inbound ones), and the worst outcome among them.
type Span struct {
	First, Last time.Time
	Records     int
	Service     string
	Peer        string
	Worst       string // "error" or "expired" when a record has that outcome, else ""
}

// Spans calls fn with each transaction that has records in [from, to), its records outside the
// range left out, skipping the records of function skip (for the statistics of the management
// API, which leaves operator actions out). A record without a transaction id is a transaction of
// its own. The database does the grouping, so the cost is one pass over the range.
func (s *Store) Spans(ctx context.Context, from, to time.Time, skip string, fn func(Span) error) error {
	// MAX, not MIN, of service and peer: a riscontro of the transaction names no service ('').
	rows, err := s.db.QueryxContext(ctx, s.q(`SELECT MIN(recorded), MAX(recorded), COUNT(*), MAX(service),
		MAX(CASE WHEN direction = 'out' THEN receiver ELSE sender END),
		MAX(CASE WHEN outcome = 'error' THEN 2 WHEN outcome = 'expired' THEN 1 ELSE 0 END)
		FROM trace WHERE recorded >= ? AND recorded < ? AND function <> ?
		GROUP BY node, CASE WHEN tx = '' THEN 'seq:' || seq ELSE tx END`), micros(from), micros(to), skip)
	if err != nil {
		return fmt.Errorf("transaction spans: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var sp Span
		var first, last int64
		var worst int
		if err := rows.Scan(&first, &last, &sp.Records, &sp.Service, &sp.Peer, &worst); err != nil {
			return fmt.Errorf("transaction spans: %w", err)
		}
		sp.First, sp.Last = fromMicros(first), fromMicros(last)
		sp.Worst = [...]string{"", "expired", "error"}[worst]
		if err := fn(sp); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("transaction spans: %w", err)
	}
	return nil
}

package audit

import (
	"context"
	"crypto/sha256"
	"fmt"
	"time"
)

// Retention says how long the trail keeps the bodies of each service's messages: the service's
// own (registry trace: retention) or the gateway's default (porta.yaml trace.retention); 0 keeps
// them until the records are archived.
type Retention struct {
	Default  time.Duration
	Services map[string]time.Duration // by the service's name as traced (Record.Service)
}

// For returns the retention of service.
func (r Retention) For(service string) time.Duration {
	if d, ok := r.Services[service]; ok && d > 0 {
		return d
	}
	return r.Default
}

// purgeBatch is how many records one purge transaction empties.
const purgeBatch = 256

// PurgeBodies empties the stored envelope (Raw) of every record, of any node, whose service's
// retention ran out before now, keeping in its place the SHA-256 the chain hash covers
// (RawDigest) and the time (Purged), so that the chain still verifies; the record's business
// identifiers (table trace_id, when the store has it) go with the body. The rest of the record
// (header, parties, identifiers, outcome) stays until the record is archived (Archive). It
// returns how many records it purged.
func (s *Store) PurgeBodies(ctx context.Context, r Retention, now time.Time) (int64, error) {
	var services []string
	if err := s.db.SelectContext(ctx, &services, `WITH RECURSIVE n(service) AS (
		SELECT MIN(service) FROM trace
		UNION ALL SELECT (SELECT MIN(t.service) FROM trace t WHERE t.service > n.service) FROM n WHERE n.service IS NOT NULL)
		SELECT service FROM n WHERE service IS NOT NULL`); err != nil {
		return 0, fmt.Errorf("purge bodies: services: %w", err)
	}
	ids, err := s.hasIDs(ctx)
	if err != nil {
		return 0, err
	}
	var total int64
	for _, svc := range services {
		keep := r.For(svc)
		if keep <= 0 {
			continue
		}
		cutoff := micros(now.Add(-keep))
		for {
			n, err := s.purgeSome(ctx, svc, cutoff, micros(now), ids)
			total += n
			if err != nil {
				return total, fmt.Errorf("purge bodies of service %s: %w", svc, err)
			}
			if n < purgeBatch {
				break
			}
		}
	}
	return total, nil
}

// purgeSome purges up to purgeBatch records of service recorded before cutoff, in one transaction.
func (s *Store) purgeSome(ctx context.Context, service string, cutoff, now int64, ids bool) (int64, error) {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	type row struct {
		Node string `db:"node"`
		Seq  int64  `db:"seq"`
		Raw  []byte `db:"raw"`
	}
	var rows []row
	if err := tx.SelectContext(ctx, &rows, tx.Rebind(`SELECT node, seq, raw FROM trace
		WHERE service = ? AND recorded < ? AND purged = 0 ORDER BY recorded, node, seq LIMIT ?`), service, cutoff, purgeBatch); err != nil {
		return 0, err
	}
	for _, r := range rows {
		sum := sha256.Sum256(r.Raw)
		if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE trace SET raw = ?, raw_digest = ?, purged = ? WHERE node = ? AND seq = ? AND purged = 0`),
			[]byte{}, sum[:], now, r.Node, r.Seq); err != nil {
			return 0, err
		}
		if ids {
			if _, err := tx.ExecContext(ctx, tx.Rebind(`DELETE FROM trace_id WHERE node = ? AND seq = ?`), r.Node, r.Seq); err != nil {
				return 0, fmt.Errorf("business identifiers of %s/%d: %w", r.Node, r.Seq, err)
			}
		}
	}
	return int64(len(rows)), tx.Commit()
}

// hasIDs reports whether the store has the business identifiers' table, trace_id (keyed by the
// record's node and seq).
func (s *Store) hasIDs(ctx context.Context) (bool, error) {
	q := `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'trace_id'`
	if s.dialect == "postgres" {
		q = `SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'trace_id'`
	}
	var n int
	if err := s.db.QueryRowxContext(ctx, q).Scan(&n); err != nil {
		return false, fmt.Errorf("look for table trace_id: %w", err)
	}
	return n > 0, nil
}

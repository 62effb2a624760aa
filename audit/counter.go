package audit

import (
	"context"
	"fmt"
)

// Reserve reserves n consecutive values of the counter key and returns the first; a new key
// starts at 1. It is one atomic statement, so nodes sharing a database never hand out the same
// value. It satisfies envelope.CounterStore (keys like "Party_PartySPCoopIT_2026-11-28_09:15").
func (s *Store) Reserve(ctx context.Context, key string, n int) (first int, err error) {
	if key == "" || n < 1 {
		return 0, fmt.Errorf("reserve %d values of counter %q: want a key and n >= 1", n, key)
	}
	var next int64
	err = s.db.QueryRowxContext(ctx, s.q(`INSERT INTO counter (key, next) VALUES (?, ?)
		ON CONFLICT (key) DO UPDATE SET next = counter.next + ? RETURNING next`), key, int64(n)+1, int64(n)).Scan(&next)
	if err != nil {
		return 0, fmt.Errorf("reserve %d values of counter %q: %w", n, key, err)
	}
	return int(next) - n, nil
}

package audit

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Benchmarks. The figures in the package's report come from:
//
//	go test ./audit -run '^$' -bench . -benchtime 3x                      # 100k rows
//	PORTA_AUDIT_ROWS=1000000 go test ./audit -run '^$' -bench 'Verify|Query' -benchtime 3x
//
// The loaded database is kept in $TMPDIR/porta-audit-bench-ROWS.db and reused by later runs.

// benchRows is the number of trace records BenchmarkVerify and BenchmarkQuery work on.
func benchRows(b *testing.B) int {
	n := 100000
	if v := os.Getenv("PORTA_AUDIT_ROWS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			b.Fatalf("PORTA_AUDIT_ROWS=%q: want a positive number", v)
		}
	}
	return n
}

// synthetic returns record i of a realistic spread: 60 parties, 25 services, conversations of 4
// buste, 30 days of traffic, header-mode envelopes of about 600 bytes.
func synthetic(i int, start time.Time, span time.Duration, rows int) *Record {
	r := rec(i + 1)
	r.Sender = fmt.Sprintf("Comune%02d", i%60)
	r.Receiver = fmt.Sprintf("Ente%02d", (i/7)%60)
	r.Service = fmt.Sprintf("Servizio%02d", (i/3)%25)
	r.Conversation = busta(i - i%4 + 1)
	if i%4 != 0 {
		r.RelatesTo = busta(i - i%4 + 1)
	}
	r.Outcome = []string{"sent", "received", "delivered", "acked", "queued", "sent", "received", "error"}[i%8]
	if i%2 == 1 {
		r.Direction = In
	}
	r.Recorded = start.Add(time.Duration(int64(span) / int64(rows) * int64(i)))
	r.Time = r.Recorded
	raw, _ := StripBody(r.Raw)
	h := sha256.Sum256(r.Raw)
	r.Raw, r.RawHash, r.BodyMode = raw, h[:], BodyHeader
	return r
}

// BulkLoad appends rows synthetic records to s's chain in transactions of 20,000, bypassing the
// group-commit writer (nothing else may write while it runs). It is how the scale benchmarks
// get millions of rows in minutes.
func bulkLoad(ctx context.Context, s *Store, rows int) error {
	start := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	h, err := s.loadHead(ctx, s.db)
	if err != nil {
		return err
	}
	for i := int(h.seq); i < rows; {
		tx, err := s.db.BeginTxx(ctx, nil)
		if err != nil {
			return err
		}
		ins, err := tx.PreparexContext(ctx, tx.Rebind(insertTrace))
		if err != nil {
			tx.Rollback()
			return err
		}
		for end := min(i+20000, rows); i < end; i++ {
			r := synthetic(i, start, 30*24*time.Hour, rows)
			if err := r.prepare(s.opt.Node, BodyHeader, r.Recorded); err != nil {
				tx.Rollback()
				return err
			}
			r.Seq, r.PrevHash = h.seq+1, nz(h.hash)
			r.Hash = r.Digest(r.PrevHash)
			if _, err := ins.ExecContext(ctx, r.args("")...); err != nil {
				tx.Rollback()
				return err
			}
			h = head{r.Seq, r.Hash}
		}
		ins.Close()
		if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO chain_head (node, seq, hash) VALUES (?, ?, ?)
			ON CONFLICT (node) DO UPDATE SET seq = excluded.seq, hash = excluded.hash`), s.opt.Node, h.seq, h.hash); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
}

// loaded opens the cached benchmark database of n rows, loading it the first time.
func loaded(b *testing.B, n int) *Store {
	b.Helper()
	path := filepath.Join(os.TempDir(), fmt.Sprintf("porta-audit-bench-%d.db", n))
	s, err := Open(ctx, "sqlite:"+path, Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	t0 := time.Now()
	if err := bulkLoad(ctx, s, n); err != nil {
		b.Fatal(err)
	}
	if d := time.Since(t0); d > time.Second {
		b.Logf("loaded %d rows in %v (%.0f rows/s)", n, d.Round(time.Millisecond), float64(n)/d.Seconds())
		if _, err := s.db.ExecContext(ctx, "ANALYZE"); err != nil {
			b.Fatal(err)
		}
	}
	return s
}

// BenchmarkAppend measures batched appends on SQLite (synchronous=FULL) from many goroutines,
// as the gateway's handlers call it.
func BenchmarkAppend(b *testing.B) {
	for _, conc := range []int{1, 16, 128} {
		b.Run(fmt.Sprintf("sqlite/callers=%d", conc), func(b *testing.B) {
			s, err := Open(ctx, "sqlite:"+filepath.Join(b.TempDir(), "a.db"), Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			var n atomic.Int64
			b.SetParallelism((conc + 1) / 2)
			if conc == 1 {
				b.SetParallelism(1)
			}
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := s.Append(ctx, rec(int(n.Add(1)))); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// BenchmarkVerify measures Verify over the benchmark database.
func BenchmarkVerify(b *testing.B) {
	n := benchRows(b)
	s := loaded(b, n)
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		rep, err := s.Verify(ctx, VerifyOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if rep.Records != int64(n) {
			b.Fatalf("verified %d records, want %d", rep.Records, n)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(n)/float64(b.N), "cpu-ns/record")
}

// cpuTime is the CPU time (user and system) of the process so far: on a shared machine it
// shows the cost of the work when wall time is disturbed by others.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkQuery measures the operators' queries over the benchmark database.
func BenchmarkQuery(b *testing.B) {
	n := benchRows(b)
	s := loaded(b, n)
	mid := time.Date(2026, 10, 16, 0, 0, 0, 0, time.UTC)
	target := busta(n/2 - (n/2)%4 + 1)
	for _, q := range []struct {
		name string
		run  func() (int, error)
	}{
		{"show-id", func() (int, error) { ex, err := s.Show(ctx, target); return len(ex.Exchange), err }},
		{"show-tx", func() (int, error) { ex, err := s.Show(ctx, fmt.Sprintf("tx-%d", n/3)); return len(ex.Exchange), err }},
		{"list-newest", func() (int, error) { rs, err := s.List(ctx, Filter{Limit: 50}); return len(rs), err }},
		{"list-party", func() (int, error) { rs, err := s.List(ctx, Filter{Party: "Comune07", Limit: 50}); return len(rs), err }},
		{"list-service-day", func() (int, error) {
			rs, err := s.List(ctx, Filter{Service: "Servizio03", From: mid, To: mid.Add(24 * time.Hour), Limit: 50})
			return len(rs), err
		}},
		{"list-outcome-error", func() (int, error) { rs, err := s.List(ctx, Filter{Outcome: "error", Limit: 50}); return len(rs), err }},
		{"list-party-service-outcome", func() (int, error) {
			r := synthetic(n/2, time.Time{}, time.Hour, n)
			rs, err := s.List(ctx, Filter{Party: r.Receiver, Service: r.Service, Outcome: r.Outcome, Limit: 50})
			return len(rs), err
		}},
		{"list-id", func() (int, error) { rs, err := s.List(ctx, Filter{ID: target}); return len(rs), err }},
	} {
		b.Run(q.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				got, err := q.run()
				if err != nil {
					b.Fatal(err)
				}
				if got == 0 {
					b.Fatalf("%s found nothing", q.name)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/query")
		})
	}
}

// BenchmarkPostgres measures the PostgreSQL store on a throwaway server (pgtest): batched
// appends from two nodes at once (two Stores, two chains), and Verify over 50,000 records.
func BenchmarkPostgres(b *testing.B) {
	dsn := pg.DB(b)
	b.Run("append/2nodes/callers=128", func(b *testing.B) {
		stores := make([]*Store, 2)
		for i := range stores {
			s, err := Open(ctx, dsn, Options{Node: fmt.Sprintf("node%d", i+1)})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			stores[i] = s
		}
		var n atomic.Int64
		b.SetParallelism(64)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := n.Add(1)
				if err := stores[i%2].Append(ctx, rec(int(i))); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	})
	b.Run("verify/50k", func(b *testing.B) {
		s, err := Open(ctx, dsn, Options{Node: "bulk"})
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		const rows = 50000
		if err := bulkLoad(ctx, s, rows); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		cpu0 := cpuTime()
		for i := 0; i < b.N; i++ {
			if _, err := s.Verify(ctx, VerifyOptions{Node: "bulk"}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
		b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/rows/float64(b.N), "client-cpu-ns/record")
	})
}

// BenchmarkExchange measures the store's part of a synchronous exchange through two gateways as
// the gateway makes it, each step waiting for the previous: the provider's duplicate check
// (Seen), the provider's trace of the request and its reply, then the consumer's trace of both.
// Four exchanges run at once (porta bench --concurrency 4), on SQLite files with
// synchronous=FULL; cpu-ns/exchange is the CPU of the whole process.
func BenchmarkExchange(b *testing.B) {
	dir := b.TempDir()
	cons, err := Open(ctx, "sqlite:"+filepath.Join(dir, "consumer.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer cons.Close()
	prov, err := Open(ctx, "sqlite:"+filepath.Join(dir, "provider.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer prov.Close()
	var n atomic.Int64
	b.SetParallelism(2) // 4 goroutines on 2 cores
	b.ResetTimer()
	cpu0 := cpuTime()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := int(n.Add(1))
			req, rep := rec(2*i), rec(2*i+1)
			if first, err := prov.Seen(ctx, req.Sender, req.ID); err != nil || !first {
				b.Errorf("seen %s: %v, %v", req.ID, first, err)
				return
			}
			if err := prov.Append(ctx, req, rep); err != nil {
				b.Error(err)
				return
			}
			if err := cons.Append(ctx, rec(2*i), rec(2*i+1)); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "exchanges/s")
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/exchange")
}

package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Benchmarks. The figures in the package's report come from:
//
//	go test ./audit -run '^$' -bench . -benchtime 3x                      # 100k rows
//	PORTA_AUDIT_ROWS=1000000 go test ./audit -run '^$' -bench 'Verify|Show|List' -benchtime 3x
//
// The loaded database is kept in $TMPDIR/porta-audit-bench-ROWS.db and reused by later runs.

// benchRows is the number of trace records BenchmarkVerify, BenchmarkShow and BenchmarkList work on.
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
	// StripBody's result for this envelope, made without parsing it: loading millions of rows
	// spent most of its time in the XML decoder.
	open := bytes.Index(r.Raw, []byte("<soap:Body>")) + len("<soap:Body>")
	raw := append(r.Raw[:open:open], r.Raw[bytes.LastIndex(r.Raw, []byte("</soap:Body>")):]...)
	h := sha256.Sum256(r.Raw)
	r.Raw, r.RawHash, r.BodyMode = raw, h[:], BodyHeader
	return r
}

// bulkLoad appends rows synthetic records to s's chain (up to rows in all), bypassing the
// group-commit writer (nothing else may write while it runs). It is how the scale benchmarks
// get millions of rows in minutes: records are made and encoded on every core while the
// previous chunk is inserted, in transactions of chunk records with one prepared statement; on
// SQLite the trace indexes are dropped for the load and built again after it (sorting once is
// much faster than millions of random inserts into them) and the load runs with synchronous=OFF
// on its connection (a benchmark's data, made again if lost).
func bulkLoad(ctx context.Context, s *Store, rows int) (err error) {
	const chunk = 20000
	start := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	h, err := s.loadHead(ctx, s.db)
	if err != nil || int(h.seq) >= rows {
		return err
	}
	conn, err := s.db.Connx(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	var indexes []string
	if s.dialect == "sqlite" && rows-int(h.seq) > 100000 {
		if err := conn.SelectContext(ctx, &indexes, `SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'trace' AND sql IS NOT NULL`); err != nil {
			return err
		}
		for _, q := range []string{"PRAGMA synchronous = OFF", "PRAGMA cache_size = -262144"} {
			if _, err := conn.ExecContext(ctx, q); err != nil {
				return err
			}
		}
		var names []string
		if err := conn.SelectContext(ctx, &names, `SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'trace' AND sql IS NOT NULL`); err != nil {
			return err
		}
		for _, n := range names {
			if _, err := conn.ExecContext(ctx, "DROP INDEX "+n); err != nil {
				return err
			}
		}
		defer func() { // also after a failed load: the store must keep its schema
			for _, q := range indexes {
				if _, ierr := conn.ExecContext(ctx, q); ierr != nil && err == nil {
					err = fmt.Errorf("rebuild index: %s: %w", q, ierr)
				}
			}
		}()
	}
	// Records made and encoded (everything but the chain) on every core, a chunk ahead.
	type made struct {
		recs  []*Record
		tails [][]byte
	}
	chunks := make(chan made, 1)
	gctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		defer close(chunks)
		workers := runtime.GOMAXPROCS(0)
		for i := int(h.seq); i < rows; i += chunk {
			n := min(chunk, rows-i)
			m := made{make([]*Record, n), make([][]byte, n)}
			var wg sync.WaitGroup
			for w := 0; w < workers; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for j := w; j < n; j += workers {
						r := synthetic(i+j, start, 30*24*time.Hour, rows)
						if err := r.prepare(s.opt.Node, BodyHeader, nil, r.Recorded); err != nil {
							panic(err) // synthetic records are valid
						}
						m.recs[j], m.tails[j] = r, r.appendTail(nil)
					}
				}()
			}
			wg.Wait()
			select {
			case chunks <- m:
			case <-gctx.Done():
				return
			}
		}
	}()
	hasher := sha256.New()
	var hbuf []byte
	for m := range chunks {
		tx, err := conn.BeginTxx(ctx, nil)
		if err != nil {
			return err
		}
		ins, err := tx.PreparexContext(ctx, tx.Rebind(insertTrace))
		if err != nil {
			tx.Rollback()
			return err
		}
		for j, r := range m.recs {
			r.Seq, r.PrevHash = h.seq+1, nz(h.hash)
			hbuf = appendHead(hbuf[:0], r.Node, r.PrevHash)
			hasher.Reset()
			hasher.Write(hbuf)
			hasher.Write(m.tails[j])
			r.Hash = hasher.Sum(nil)
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
		if s.dialect == "sqlite" {
			// The Store's writers leave checkpoints to its checkpointer; this load writes alone
			// and keeps the WAL small itself.
			if _, err := conn.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
				return err
			}
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
// as the gateway's handlers call it, of records the size of a signed busta's (signedRec): the
// CPU of the whole process per record, what it wrote per record (WAL frames and checkpoints) and
// the durable commits per record (1/records per commit).
func BenchmarkAppend(b *testing.B) {
	for _, conc := range []int{1, 16, 128} {
		b.Run(fmt.Sprintf("sqlite/callers=%d", conc), func(b *testing.B) {
			s, err := Open(ctx, "sqlite:"+filepath.Join(b.TempDir(), "a.db"), Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			var m writeMeter
			m.watch(b, s)
			var n atomic.Int64
			b.SetParallelism((conc + 1) / 2)
			if conc == 1 {
				b.SetParallelism(1)
			}
			b.ResetTimer()
			m.start()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := s.Append(ctx, signedRec(int(n.Add(1)))); err != nil {
						b.Error(err)
						return
					}
				}
			})
			m.report(b, b.N, "record")
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// BenchmarkVerify measures Verify over the benchmark database.
func BenchmarkVerify(b *testing.B) {
	n := benchRows(b)
	s := loaded(b, n)
	if os.Getenv("GOGC") == "" {
		defer debug.SetGCPercent(debug.SetGCPercent(VerifyGCPercent)) // as porta trace verify runs it
	}
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

// BenchmarkShow measures Show (porta trace show) over the benchmark database.
func BenchmarkShow(b *testing.B) {
	n := benchRows(b)
	s := loaded(b, n)
	target := busta(n/2 - (n/2)%4 + 1)
	runQueries(b, []query{
		{"id", func() (int, error) { ex, err := s.Show(ctx, target); return len(ex.Exchange), err }},
		{"tx", func() (int, error) { ex, err := s.Show(ctx, fmt.Sprintf("tx-%d", n/3)); return len(ex.Exchange), err }},
		{"node-seq", func() (int, error) {
			ex, err := s.Show(ctx, fmt.Sprintf("node1/%d", n/5))
			return len(ex.Exchange), err
		}},
	})
}

// BenchmarkList measures List (porta trace list) with each filter over the benchmark database.
func BenchmarkList(b *testing.B) {
	n := benchRows(b)
	s := loaded(b, n)
	mid := time.Date(2026, 10, 16, 0, 0, 0, 0, time.UTC)
	target := busta(n/2 - (n/2)%4 + 1)
	runQueries(b, []query{
		{"newest", func() (int, error) { rs, err := s.List(ctx, Filter{Limit: 50}); return len(rs), err }},
		{"party", func() (int, error) { rs, err := s.List(ctx, Filter{Party: "Comune07", Limit: 50}); return len(rs), err }},
		{"service-day", func() (int, error) {
			rs, err := s.List(ctx, Filter{Service: "Servizio03", From: mid, To: mid.Add(24 * time.Hour), Limit: 50})
			return len(rs), err
		}},
		{"outcome-error", func() (int, error) { rs, err := s.List(ctx, Filter{Outcome: "error", Limit: 50}); return len(rs), err }},
		{"party-service-outcome", func() (int, error) {
			r := synthetic(n/2, time.Time{}, time.Hour, n)
			rs, err := s.List(ctx, Filter{Party: r.Receiver, Service: r.Service, Outcome: r.Outcome, Limit: 50})
			return len(rs), err
		}},
		{"id", func() (int, error) { rs, err := s.List(ctx, Filter{ID: target}); return len(rs), err }},
		{"tx", func() (int, error) {
			rs, err := s.List(ctx, Filter{ID: fmt.Sprintf("tx-%d", n/3)})
			return len(rs), err
		}},
	})
}

type query struct {
	name string
	run  func() (int, error)
}

func runQueries(b *testing.B, qs []query) {
	for _, q := range qs {
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
// (Seen), the provider's trace of the request and its reply, then the consumer's trace of both,
// with records the size of a signed busta's (signedRec). callers exchanges run at once (porta
// bench --concurrency), on SQLite files with synchronous=FULL; the CPU and what was written are
// the whole process's, per exchange, and commits counts both stores' (lazy ones included).
func BenchmarkExchange(b *testing.B) {
	for _, callers := range []int{1, 8} {
		b.Run(fmt.Sprintf("callers=%d", callers), func(b *testing.B) {
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
			var m writeMeter
			m.watch(b, cons)
			m.watch(b, prov)
			var n atomic.Int64
			b.SetParallelism(max(1, callers/runtime.GOMAXPROCS(0)))
			if callers == 1 {
				b.SetParallelism(1)
			}
			b.ResetTimer()
			m.start()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := int(n.Add(1))
					req, rep := signedRec(2*i), signedRec(2*i+1)
					if first, err := prov.Seen(ctx, req.Sender, req.ID); err != nil || !first {
						b.Errorf("seen %s: %v, %v", req.ID, first, err)
						return
					}
					if err := prov.Append(ctx, req, rep); err != nil {
						b.Error(err)
						return
					}
					if err := cons.Append(ctx, signedRec(2*i), signedRec(2*i+1)); err != nil {
						b.Error(err)
						return
					}
				}
			})
			m.report(b, b.N, "exchange")
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "exchanges/s")
		})
	}
}

func TestSyntheticStripsBody(t *testing.T) {
	r := synthetic(41, time.Now(), time.Hour, 100)
	full := []byte(fmt.Sprintf(envelopeXML, r.ID))
	want, err := StripBody(full)
	if err != nil || !bytes.Equal(r.Raw, want) {
		t.Fatalf("synthetic raw %q, StripBody %q (%v)", r.Raw, want, err)
	}
}

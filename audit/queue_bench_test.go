package audit

import (
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkOneWayExchange measures the store's part of a one-way exchange with riscontro as the
// gateway makes it, beside BenchmarkExchange's synchronous one in the same run (sync), on SQLite
// files with synchronous=FULL, eight exchanges at once (porta bench --concurrency 8):
//   - handoff: the consumer's PD queues the busta leased to itself with its record; the
//     provider's PA checks its duplicate history, then queues the busta (leased) with its
//     duplicate-history entry and both records; the consumer settles its outbox with the
//     riscontro's record, while the provider settles its inbox (the delivery, off the exchange's
//     path); each settling durable (Complete) or lazy (CompleteLazy);
//   - claim: the same with unleased items each claimed by a worker (Claim) before it is settled.
//
// cpu-ns/exchange is the CPU of the whole process.
func BenchmarkOneWayExchange(b *testing.B) {
	// exchange runs run b.N times, then settled, which waits for the work run left behind.
	exchange := func(b *testing.B, run func(cons, prov *Store, i int) error, settled func()) {
		dir := b.TempDir()
		cons, err := Open(ctx, "sqlite:"+filepath.Join(dir, "consumer.db"), Options{Node: "cons"})
		if err != nil {
			b.Fatal(err)
		}
		defer cons.Close()
		prov, err := Open(ctx, "sqlite:"+filepath.Join(dir, "provider.db"), Options{Node: "prov"})
		if err != nil {
			b.Fatal(err)
		}
		defer prov.Close()
		var n atomic.Int64
		b.SetParallelism(4) // 8 goroutines on 2 cores
		b.ResetTimer()
		cpu0 := cpuTime()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := run(cons, prov, int(n.Add(1))); err != nil {
					b.Error(err)
					return
				}
			}
		})
		settled()
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "exchanges/s")
		b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/exchange")
	}
	b.Run("sync", func(b *testing.B) {
		exchange(b, func(cons, prov *Store, i int) error {
			req, rep := rec(2*i), rec(2*i+1)
			if _, err := prov.Seen(ctx, req.Sender, req.ID); err != nil {
				return err
			}
			if err := prov.Append(ctx, req, rep); err != nil {
				return err
			}
			return cons.Append(ctx, rec(2*i), rec(2*i+1))
		}, func() {})
	})
	oneWay := func(b *testing.B, lease, lazy bool) {
		var settling sync.WaitGroup
		complete := func(s *Store, kind Kind, id string, recs ...*Record) error {
			if lazy {
				return s.CompleteLazy(ctx, kind, id, recs...)
			}
			return s.Complete(ctx, kind, id, recs...)
		}
		take := func(s *Store, it *Item) (string, error) {
			if lease {
				return it.MsgID, nil
			}
			got, err := s.Claim(ctx, s.opt.Node, it.Kind, 1, time.Minute)
			if err != nil || len(got) == 0 {
				return "", err
			}
			return got[0].MsgID, nil
		}
		exchange(b, func(cons, prov *Store, i int) error {
			out, in := item(Outbox, i), item(Inbox, i)
			if lease {
				out.LeaseOwner, out.LeaseUntil = "cons", time.Now().Add(time.Minute)
				in.LeaseOwner, in.LeaseUntil = "prov", time.Now().Add(time.Minute)
			}
			if err := cons.Write(ctx, Batch{Items: []*Item{out}, Records: []*Record{rec(2 * i)}}); err != nil {
				return err
			}
			id, err := take(cons, out)
			if err != nil || id == "" {
				return err
			}
			if _, _, err := prov.Known(ctx, "Provincia", in.MsgID); err != nil {
				return err
			}
			if err := prov.Write(ctx, Batch{Seen: []SeenKey{{"Provincia", in.MsgID}}, Items: []*Item{in}, Records: []*Record{rec(2 * i), rec(2*i + 1)}}); err != nil {
				return err
			}
			settling.Add(1)
			go func() {
				defer settling.Done()
				if id, err := take(prov, in); err == nil && id != "" {
					if err := complete(prov, Inbox, id); err != nil {
						b.Error(err)
					}
				}
			}()
			return complete(cons, Outbox, id, rec(2*i+1))
		}, settling.Wait)
	}
	b.Run("oneway/claim", func(b *testing.B) { oneWay(b, false, false) })
	b.Run("oneway/handoff", func(b *testing.B) { oneWay(b, true, false) })
	b.Run("oneway/handoff-lazy", func(b *testing.B) { oneWay(b, true, true) })
}

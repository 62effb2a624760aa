package audit

import (
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"
)

func item(kind Kind, n int) *Item {
	return &Item{Kind: kind, MsgID: busta(n), Party: "Ministero", Service: "SchedaLavoratore", Payload: []byte(fmt.Sprintf("<p>%d</p>", n)), Meta: []byte("meta")}
}

func TestQueueLifecycle(t *testing.T) {
	both(t, func(t *testing.T, dsn string) {
		clk := newClock()
		s := open(t, dsn, Options{Node: "a", Now: clk.Now})
		it := item(Outbox, 1)
		it.Deadline = clk.Now().Add(time.Hour)
		r := rec(1)
		r.Outcome = "queued"
		if err := s.Write(ctx, Batch{Items: []*Item{it, item(Outbox, 2)}, Records: []*Record{r}}); err != nil {
			t.Fatal(err)
		}
		if it.ID == 0 || r.Seq != 1 {
			t.Errorf("Write did not fill item ID %d or record seq %d", it.ID, r.Seq)
		}
		if err := s.Enqueue(ctx, item(Outbox, 1)); !errors.Is(err, ErrDuplicate) {
			t.Errorf("enqueue of a queued ID: %v, want ErrDuplicate", err)
		}
		got, err := s.Claim(ctx, "w1", Outbox, 10, time.Minute)
		if err != nil || len(got) != 2 {
			t.Fatalf("Claim = %d items, %v", len(got), err)
		}
		if g := got[0]; g.MsgID != busta(1) || string(g.Payload) != "<p>1</p>" || string(g.Meta) != "meta" || g.LeaseOwner != "w1" ||
			!g.LeaseUntil.Equal(clk.Now().Add(time.Minute)) || !g.Deadline.Equal(it.Deadline) || g.Party != "Ministero" {
			t.Errorf("claimed %+v", g)
		}
		if again, _ := s.Claim(ctx, "w2", Outbox, 10, time.Minute); len(again) != 0 {
			t.Errorf("leased items claimed again: %d", len(again))
		}
		if st, _ := s.Stats(ctx, Outbox); st.Depth != 2 || st.Leased != 2 {
			t.Errorf("stats %+v", st)
		}
		// The lease of w1 runs out: w2 takes the items over.
		clk.Add(time.Minute + time.Second)
		again, _ := s.Claim(ctx, "w2", Outbox, 10, time.Minute)
		if len(again) != 2 || again[0].LeaseOwner != "w2" {
			t.Fatalf("after the lease ran out: %d items", len(again))
		}
		if got[0].Leases != 1 || again[0].Leases != 2 {
			t.Errorf("leases: first claim %d, after the lease ran out %d; want 1 and 2", got[0].Leases, again[0].Leases)
		}
		if err := s.Retry(ctx, Outbox, busta(1), clk.Now().Add(30*time.Second), "HTTP 503"); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.Claim(ctx, "w2", Outbox, 10, time.Minute); len(got) != 0 {
			t.Error("an item was claimed before its retry time")
		}
		clk.Add(31 * time.Second)
		got, _ = s.Claim(ctx, "w2", Outbox, 10, time.Minute)
		if len(got) != 1 || got[0].Attempts != 1 || got[0].LastError != "HTTP 503" {
			t.Fatalf("after the retry time: %+v", got)
		}
		ack := rec(1)
		ack.Direction, ack.Outcome = In, "acked"
		if err := s.Complete(ctx, Outbox, busta(1), ack); err != nil {
			t.Fatal(err)
		}
		if err := s.Complete(ctx, Outbox, busta(1)); !errors.Is(err, ErrNotQueued) {
			t.Errorf("second Complete: %v, want ErrNotQueued", err)
		}
		if l, _ := s.Lookup(ctx, busta(1), In); l == nil || l.Outcome != "acked" {
			t.Errorf("the record passed to Complete was not traced: %+v", l)
		}
		// Fail keeps the item visible with its reason; Requeue brings it back.
		exp := rec(2)
		exp.Outcome = "expired"
		if err := s.Fail(ctx, Outbox, busta(2), "not acknowledged", exp); err != nil {
			t.Fatal(err)
		}
		clk.Add(2 * time.Minute)
		if got, _ := s.Claim(ctx, "w2", Outbox, 10, time.Minute); len(got) != 0 {
			t.Error("a failed item was claimed")
		}
		failed, _ := s.Failed(ctx, Outbox, 10)
		if len(failed) != 1 || failed[0].LastError != "not acknowledged" || failed[0].State != StateFailed {
			t.Errorf("Failed = %+v", failed)
		}
		if st, _ := s.Stats(ctx, Outbox); st.Depth != 0 || st.Failed != 1 {
			t.Errorf("stats %+v", st)
		}
		if err := s.Requeue(ctx, Outbox, busta(2)); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.Claim(ctx, "w2", Outbox, 10, time.Minute); len(got) != 1 {
			t.Error("a requeued item was not claimable")
		}
		if err := s.Requeue(ctx, Outbox, busta(9)); !errors.Is(err, ErrNotQueued) {
			t.Errorf("Requeue of an unknown item: %v", err)
		}
		if _, err := s.Verify(ctx, VerifyOptions{}); err != nil {
			t.Error(err)
		}
	})
}

func TestQueueExpireAndStats(t *testing.T) {
	both(t, func(t *testing.T, dsn string) {
		clk := newClock()
		s := open(t, dsn, Options{Now: clk.Now})
		for n := 1; n <= 3; n++ {
			it := item(Outbox, n)
			it.Deadline = clk.Now().Add(time.Duration(n) * time.Minute)
			if err := s.Enqueue(ctx, it); err != nil {
				t.Fatal(err)
			}
			clk.Add(time.Second)
		}
		clk.Add(2 * time.Minute)
		st, _ := s.Stats(ctx, Outbox)
		if st.Depth != 3 || st.Oldest != 2*time.Minute+3*time.Second {
			t.Errorf("stats %+v", st)
		}
		exp, err := s.Expire(ctx, Outbox)
		if err != nil {
			t.Fatal(err)
		}
		if len(exp) != 2 || exp[0].MsgID != busta(1) || exp[1].MsgID != busta(2) {
			t.Errorf("expired %v", exp)
		}
		if got, _ := s.Claim(ctx, "w", Outbox, 10, time.Minute); len(got) != 1 || got[0].MsgID != busta(3) {
			t.Errorf("claimable after Expire: %v", got)
		}
		if st, _ := s.Stats(ctx, Inbox); st.Depth != 0 || st.Oldest != 0 {
			t.Errorf("empty inbox stats %+v", st)
		}
	})
}

func TestInOrderDelivery(t *testing.T) {
	both(t, func(t *testing.T, dsn string) {
		s := open(t, dsn, Options{})
		conv := busta(100)
		ordered := func(n int, seq int64) *Item {
			it := item(Inbox, n)
			it.Conversation, it.Sequence = conv, seq
			return it
		}
		if err := s.Enqueue(ctx, ordered(3, 3), ordered(2, 2), item(Inbox, 50)); err != nil {
			t.Fatal(err)
		}
		got, _ := s.Claim(ctx, "w", Inbox, 10, time.Minute)
		if len(got) != 1 || got[0].MsgID != busta(50) {
			t.Fatalf("before sequence 1 arrived: claimed %v, want only the unordered item", got)
		}
		if err := s.Enqueue(ctx, ordered(1, 1)); err != nil {
			t.Fatal(err)
		}
		for want := int64(1); want <= 3; want++ {
			got, _ := s.Claim(ctx, "w", Inbox, 10, time.Minute)
			if len(got) != 1 || got[0].Sequence != want {
				t.Fatalf("claim %d: %v", want, got)
			}
			if err := s.Complete(ctx, Inbox, got[0].MsgID); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Enqueue(ctx, ordered(4, 2)); !errors.Is(err, ErrDuplicate) {
			t.Errorf("a sequence below the next one: %v, want ErrDuplicate", err)
		}
		// A failed ordered item lets the conversation go on.
		if err := s.Enqueue(ctx, ordered(5, 4), ordered(6, 5)); err != nil {
			t.Fatal(err)
		}
		got, _ = s.Claim(ctx, "w", Inbox, 10, time.Minute)
		if len(got) != 1 || got[0].Sequence != 4 {
			t.Fatalf("claimed %v, want sequence 4", got)
		}
		if err := s.Fail(ctx, Inbox, got[0].MsgID, "backend refused"); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.Claim(ctx, "w", Inbox, 10, time.Minute); len(got) != 1 || got[0].Sequence != 5 {
			t.Errorf("after a failure: %v, want sequence 5", got)
		}
	})
}

// TestEnqueueLeased: an item written with a lease is queued already claimed by its owner (no
// Claim takes it until the lease runs out, and the lease counts), unless Claim would not take
// it now: an ordered item that is not its conversation's next, or one due later.
func TestEnqueueLeased(t *testing.T) {
	both(t, func(t *testing.T, dsn string) {
		clk := newClock()
		s := open(t, dsn, Options{Node: "a", Now: clk.Now})
		leased := func(it *Item) *Item {
			it.LeaseOwner, it.LeaseUntil = "a", clk.Now().Add(time.Minute)
			return it
		}
		conv := busta(100)
		ordered := func(n int, seq int64) *Item {
			it := leased(item(Outbox, n))
			it.Conversation, it.Sequence = conv, seq
			return it
		}
		now, second, later := leased(item(Outbox, 1)), ordered(2, 2), leased(item(Outbox, 3))
		later.NotBefore = clk.Now().Add(time.Hour)
		if err := s.Enqueue(ctx, now, second, later); err != nil {
			t.Fatal(err)
		}
		if now.Leases != 1 || now.LeaseOwner != "a" {
			t.Errorf("due item: leases %d, owner %q; want 1 and a", now.Leases, now.LeaseOwner)
		}
		for _, it := range []*Item{second, later} {
			if it.Leases != 0 || it.LeaseOwner != "" || !it.LeaseUntil.IsZero() {
				t.Errorf("%s: leases %d, owner %q until %v; want no lease", it.MsgID, it.Leases, it.LeaseOwner, it.LeaseUntil)
			}
		}
		if st, _ := s.Stats(ctx, Outbox); st.Depth != 3 || st.Leased != 1 {
			t.Errorf("stats %+v, want 3 items of which 1 leased", st)
		}
		if got, _ := s.Claim(ctx, "b", Outbox, 10, time.Minute); len(got) != 0 {
			t.Errorf("b claimed %d items: the leased one is a's, the others are not due", len(got))
		}
		first := ordered(4, 1)
		if err := s.Enqueue(ctx, first); err != nil || first.Leases != 1 {
			t.Fatalf("sequence 1: leases %d, %v; want leased", first.Leases, err)
		}
		if err := s.Complete(ctx, Outbox, first.MsgID); err != nil {
			t.Fatal(err)
		}
		// a dies: its lease runs out and b takes the item over, its second lease.
		clk.Add(time.Minute + time.Second)
		got, _ := s.Claim(ctx, "b", Outbox, 10, time.Minute)
		if len(got) != 2 || got[0].MsgID != busta(1) || got[0].Leases != 2 || got[1].Sequence != 2 || got[1].Leases != 1 {
			t.Fatalf("after a's lease ran out: %v", got)
		}
	})
}

func TestWriteAtomicWithDuplicateHistory(t *testing.T) {
	both(t, func(t *testing.T, dsn string) {
		s := open(t, dsn, Options{})
		accept := func(n int) error {
			r := rec(n)
			r.Direction, r.Outcome = In, "received"
			return s.Write(ctx, Batch{Seen: []SeenKey{{"Provincia", busta(n)}}, Items: []*Item{item(Inbox, n)}, Records: []*Record{r}})
		}
		// Many at once, each ID twice: exactly one of each pair is accepted, and a refused
		// write leaves no record and no item behind even when it shares a transaction.
		var wg sync.WaitGroup
		var mu sync.Mutex
		var dups, oks int
		for i := 0; i < 40; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				err := accept(1 + i/2)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case errors.Is(err, ErrDuplicate):
					dups++
				case err == nil:
					oks++
				default:
					t.Error(err)
				}
			}(i)
		}
		wg.Wait()
		if oks != 20 || dups != 20 {
			t.Errorf("%d accepted and %d duplicates, want 20 and 20", oks, dups)
		}
		if st, _ := s.Stats(ctx, Inbox); st.Depth != 20 {
			t.Errorf("inbox depth %d, want 20", st.Depth)
		}
		rep, err := s.Verify(ctx, VerifyOptions{})
		if err != nil || rep.Records != 20 {
			t.Errorf("verify: %d records, %v; want 20", rep.Records, err)
		}
	})
}

func TestSeenHistory(t *testing.T) {
	both(t, func(t *testing.T, dsn string) {
		clk := newClock()
		s := open(t, dsn, Options{Now: clk.Now})
		first, err := s.Seen(ctx, "Provincia", busta(1))
		if err != nil || !first {
			t.Fatalf("first Seen = %v, %v", first, err)
		}
		if first, _ := s.Seen(ctx, "Provincia", busta(1)); first {
			t.Error("second Seen said new")
		}
		if first, _ := s.Seen(ctx, "Comune", busta(1)); !first {
			t.Error("the same ID from another sender is not a duplicate")
		}
		if err := s.SetReply(ctx, "Provincia", busta(1), []byte("<riscontro/>")); err != nil {
			t.Fatal(err)
		}
		known, reply, err := s.Known(ctx, "Provincia", busta(1))
		if err != nil || !known || string(reply) != "<riscontro/>" {
			t.Errorf("Known = %v, %q, %v", known, reply, err)
		}
		if err := s.SetReply(ctx, "Provincia", busta(2), nil); !errors.Is(err, ErrNotQueued) {
			t.Errorf("SetReply of an unknown ID: %v", err)
		}
		clk.Add(DefaultSeenAge - time.Minute)
		s.Seen(ctx, "Provincia", busta(3))
		clk.Add(2 * time.Minute)
		n, err := s.PurgeSeen(ctx, 0)
		if err != nil || n != 2 {
			t.Errorf("PurgeSeen = %d, %v; want the 2 older entries", n, err)
		}
		if known, _, _ := s.Known(ctx, "Provincia", busta(3)); !known {
			t.Error("a recent entry was purged")
		}
		if _, err := s.Seen(ctx, "Provincia", ""); err == nil {
			t.Error("Seen accepted an empty ID")
		}
	})
}

func TestReserve(t *testing.T) {
	both(t, func(t *testing.T, dsn string) {
		s := open(t, dsn, Options{})
		key := "Provincia_ProvinciaSPCoopIT_2026-11-28_09:15"
		a, err := s.Reserve(ctx, key, 1)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := s.Reserve(ctx, key, 3)
		c, _ := s.Reserve(ctx, key, 1)
		o, _ := s.Reserve(ctx, "other", 1)
		if a != 1 || b != 2 || c != 5 || o != 1 {
			t.Errorf("Reserve gave %d %d %d %d, want 1 2 5 1", a, b, c, o)
		}
		if _, err := s.Reserve(ctx, key, 0); err == nil {
			t.Error("Reserve accepted n = 0")
		}
		// Two stores (two nodes) reserving at once never share a value.
		s2 := open(t, dsn, Options{Node: "b"})
		var mu sync.Mutex
		var got []int
		var wg sync.WaitGroup
		for i := 0; i < 20; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				st := s
				if i%2 == 1 {
					st = s2
				}
				first, err := st.Reserve(ctx, "k", 2)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				got = append(got, first, first+1)
				mu.Unlock()
			}(i)
		}
		wg.Wait()
		sort.Ints(got)
		for i, v := range got {
			if v != i+1 {
				t.Fatalf("values %v are not 1..40 each once", got)
			}
		}
	})
}

func TestBadRecordRefusedAlone(t *testing.T) {
	both(t, func(t *testing.T, dsn string) {
		s := open(t, dsn, Options{})
		var wg sync.WaitGroup
		errs := make([]error, 30)
		for i := range errs {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				r := rec(i + 1)
				switch i % 3 {
				case 1:
					r.Direction = "sideways"
				case 2:
					r.PayloadHash = []byte{1, 2}
				}
				errs[i] = s.Write(ctx, Batch{Items: []*Item{item(Outbox, i+1)}, Records: []*Record{r}})
			}(i)
		}
		wg.Wait()
		for i, err := range errs {
			if (i%3 == 0) != (err == nil) {
				t.Errorf("write %d: %v", i, err)
			}
		}
		if st, _ := s.Stats(ctx, Outbox); st.Depth != 10 {
			t.Errorf("outbox depth %d, want 10: a refused record's item must not stay", st.Depth)
		}
		if rep, err := s.Verify(ctx, VerifyOptions{}); err != nil || rep.Records != 10 {
			t.Errorf("verify: %d records, %v", rep.Records, err)
		}
	})
}

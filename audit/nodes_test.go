package audit

import (
	"sync"
	"testing"
	"time"
)

// TestTwoNodes runs two Stores (two gateway nodes) on one database: they append to their own
// chains at once, never claim the same item, and one takes over the other's leases when it dies.
func TestTwoNodes(t *testing.T) {
	both(t, func(t *testing.T, dsn string) {
		clk := newClock()
		a := open(t, dsn, Options{Node: "a", Now: clk.Now})
		b := open(t, dsn, Options{Node: "b", Now: clk.Now})
		const items = 200
		var batch []*Item
		for n := 1; n <= items; n++ {
			batch = append(batch, item(Outbox, n))
		}
		if err := a.Enqueue(ctx, batch...); err != nil {
			t.Fatal(err)
		}
		// Each node opens its chain first: under load one node may claim every item before
		// the other starts, and the check below wants both chains.
		for i, st := range []*Store{a, b} {
			if err := st.Append(ctx, rec(items+1+i)); err != nil {
				t.Fatal(err)
			}
		}
		var mu sync.Mutex
		owner := map[string]string{}
		var wg sync.WaitGroup
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				st, name := a, "a"
				if w%2 == 1 {
					st, name = b, "b"
				}
				for {
					got, err := st.Claim(ctx, name, Outbox, 7, time.Hour)
					if err != nil {
						t.Error(err)
						return
					}
					if len(got) == 0 {
						return
					}
					for _, it := range got {
						mu.Lock()
						if prev, dup := owner[it.MsgID]; dup {
							t.Errorf("%s claimed by %s and %s", it.MsgID, prev, name)
						}
						owner[it.MsgID] = name
						mu.Unlock()
						r := rec(int(it.ID))
						r.Outcome = "sent"
						if err := st.Append(ctx, r); err != nil {
							t.Error(err)
						}
					}
				}
			}(w)
		}
		wg.Wait()
		if len(owner) != items {
			t.Fatalf("%d items claimed, want %d", len(owner), items)
		}
		rep, err := a.Verify(ctx, VerifyOptions{})
		if err != nil || len(rep.Heads) != 2 || rep.Records != items+2 {
			t.Fatalf("verify: %+v, %v; want two chains of %d records in all", rep, err, items+2)
		}
		// Node a claims an item and dies; b takes it over once the lease runs out.
		if err := a.Enqueue(ctx, item(Inbox, 1)); err != nil {
			t.Fatal(err)
		}
		if got, _ := a.Claim(ctx, "a", Inbox, 1, 30*time.Second); len(got) != 1 {
			t.Fatal("a claimed nothing")
		}
		a.Close()
		if got, _ := b.Claim(ctx, "b", Inbox, 1, 30*time.Second); len(got) != 0 {
			t.Fatal("b took a live lease")
		}
		clk.Add(31 * time.Second)
		got, _ := b.Claim(ctx, "b", Inbox, 1, 30*time.Second)
		if len(got) != 1 || got[0].LeaseOwner != "b" {
			t.Fatalf("b did not take the expired lease over: %v", got)
		}
		if err := b.Complete(ctx, Inbox, got[0].MsgID); err != nil {
			t.Fatal(err)
		}
	})
}

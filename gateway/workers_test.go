package gateway

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
)

// TestHandOff: a one-way busta accepted by the Porta Delegata goes out, and the busta accepted by
// the provider's Porta Applicativa reaches its backend, without the workers leasing either: each
// handler enqueued its message leased to its own node and handed it over. The delivery is the
// message's first (Porta-Delivery-Attempt 1).
func TestHandOff(t *testing.T) {
	n := newNetwork(t)
	resp := n.prov.call(t, "/pd/Provincia/Ministero/Comunicazione/Invia", nil)
	if body := readAll(t, resp); resp.StatusCode != http.StatusOK || body != "" {
		t.Fatalf("status %d body %q, want 200 and empty", resp.StatusCode, body)
	}
	waitFor(t, "the riscontro to settle the outbox", func() bool { return n.prov.store.queued(Outbox) == 0 })
	n.min.settled(t)
	if ds := n.min.be.all(); len(ds) != 1 || ds[0].Attempt != 1 {
		t.Fatalf("deliveries %v, want one, attempt 1", ds)
	}
	if o, i := n.prov.store.leased(Outbox), n.min.store.leased(Inbox); o != 0 || i != 0 {
		t.Errorf("Lease handed out %d outbox and %d inbox messages, want none: both were handed over", o, i)
	}
}

// TestHandOffFullWorker: while the provider's backend holds every delivery, its inbox deliverer
// fills its slots with messages handed over; the messages accepted after that are queued without a
// lease and its loop leases them once slots free up. Each is delivered once.
func TestHandOffFullWorker(t *testing.T) {
	n := newNetwork(t)
	hold := make(chan struct{})
	n.min.be.mu.Lock()
	n.min.be.hold = hold
	n.min.be.mu.Unlock()
	const total = slots + 8
	var wg sync.WaitGroup
	errs := make(chan error, total)
	for range total {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp := n.prov.call(t, "/pd/Provincia/Ministero/Comunicazione/Invia", nil)
			if body := readAll(t, resp); resp.StatusCode != http.StatusOK {
				errs <- fmt.Errorf("status %d: %s", resp.StatusCode, body)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	waitFor(t, "every busta in the provider's inbox", func() bool { return n.min.store.queued(Inbox) == total })
	close(hold)
	n.min.settled(t)
	ids := map[string]int{}
	for _, d := range n.min.be.all() {
		ids[d.Header.ID]++
	}
	if len(ids) != total {
		t.Errorf("%d distinct buste delivered, want %d", len(ids), total)
	}
	for id, c := range ids {
		if c != 1 {
			t.Errorf("%s delivered %d times, want once", id, c)
		}
	}
	if l := n.min.store.leased(Inbox); l < total-slots {
		t.Errorf("the inbox loop leased %d messages, want at least the %d a full deliverer could not take", l, total-slots)
	}
}

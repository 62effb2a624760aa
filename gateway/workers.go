package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"porta/envelope"
	"porta/internal/swa"
)

// The background workers: the outbox sender re-sends outbound buste until they are acknowledged
// or expire; the inbox deliverer hands inbound ones to their backends, in sequence order when the
// store holds them. Both lease messages from the store, so several nodes can share it and a
// crashed node's messages are taken over when their lease runs out.
//
// A message accepted while its queue's worker has a free slot is not left for the worker to
// find: the handler enqueues it already leased to this node (in the transaction that accepts it)
// and hands it over (worker.handOff), so it goes out with no Lease round trip and no wait for the
// worker to wake. The store's lease stays the safety net: if this node dies before settling it,
// the lease runs out and any node takes it over, as it would a message this node had leased.

// slots bounds the messages a worker has in hand (handed over or leased) at once.
const slots = 32

// Purger is implemented by stores that drop expired state (the duplicate history past its
// window, settled queue entries); Run calls it every PurgeEvery.
type Purger interface {
	Purge(ctx context.Context, now time.Time) error
}

// Run starts the background workers (outbox sender, inbox deliverer, purge) and blocks until ctx
// is cancelled and they have stopped.
func (g *Gateway) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); g.out.run(ctx, g) }()
	go func() { defer wg.Done(); g.in.run(ctx, g) }()
	if p, ok := g.store.(Purger); ok {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTicker(g.opt.PurgeEvery)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					if err := p.Purge(ctx, g.now()); err != nil && ctx.Err() == nil {
						g.log.Error("purge", "err", err)
					}
				}
			}
		}()
	}
	wg.Wait()
	return nil
}

// worker runs one queue's messages, each in a goroutine of its own, at most slots at once: those
// handed over by the handler that enqueued them, and those its loop leases from the store (due
// again after a back-off, left by a full worker or a dead node, held for their sequence). There
// is no pass to finish before the next lease: a slot freed is a slot filled. Messages of one
// ordered conversation never run side by side, because the store leases only the next of a
// conversation, and not before the one before it is settled.
type worker struct {
	queue  string
	handle func(context.Context, *QueuedMessage)
	wake   chan struct{}

	mu     sync.Mutex
	ctx    context.Context // Run's while the worker runs, else nil: nothing is handed over
	inHand int             // slots taken: messages handed over or leased, not yet handled
	full   bool            // the last lease filled every free slot: more may be due
	wg     sync.WaitGroup  // counts inHand, for run to wait for at its end
}

func newWorker(queue string, handle func(context.Context, *QueuedMessage)) *worker {
	return &worker{queue: queue, handle: handle, wake: make(chan struct{}, 1)}
}

// run is the worker's loop: it leases due messages into its free slots whenever it is woken (a
// message enqueued without a lease, a slot freed after a full lease, an ordered message settled)
// and every Poll, until ctx is cancelled; then it waits for the messages in hand.
func (w *worker) run(ctx context.Context, g *Gateway) {
	w.mu.Lock()
	w.ctx = ctx
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		w.ctx = nil
		w.mu.Unlock()
		w.wg.Wait()
	}()
	t := time.NewTicker(g.opt.Poll)
	defer t.Stop()
	for {
		w.mu.Lock()
		free := slots - w.inHand
		if free > 0 { // the free slots are taken for the lease, and those it does not fill given back
			w.inHand += free
			w.wg.Add(free)
		}
		w.mu.Unlock()
		if free > 0 {
			msgs, err := g.store.Lease(ctx, w.queue, g.opt.Node, free, g.opt.Lease)
			if err != nil && ctx.Err() == nil {
				g.log.Error("lease", "queue", w.queue, "err", err)
			}
			w.mu.Lock()
			w.inHand -= free - len(msgs)
			w.wg.Add(-(free - len(msgs)))
			w.full = len(msgs) == free
			w.mu.Unlock()
			for _, m := range msgs {
				w.start(ctx, m)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-w.wake:
		case <-t.C:
		}
	}
}

// enqueue puts m in the worker's queue with enqueue (the handler's Store.Enqueue or
// EnqueueIdempotent): when the worker runs and has a free slot, leased to this node and handed
// over at once; otherwise for the loop, which it wakes.
func (w *worker) enqueue(ctx context.Context, g *Gateway, m *QueuedMessage, enqueue func(context.Context, *QueuedMessage) error) error {
	w.mu.Lock()
	run := w.ctx
	if run != nil && (run.Err() != nil || w.inHand >= slots) {
		run = nil
	}
	if run != nil {
		w.inHand++
		w.wg.Add(1)
	}
	w.mu.Unlock()
	if run == nil {
		err := enqueue(ctx, m)
		if err == nil {
			wake(w.wake)
		}
		return err
	}
	m.Owner, m.LeaseUntil = g.opt.Node, g.now().Add(g.opt.Lease)
	err := enqueue(ctx, m)
	switch {
	case err != nil:
		w.release(false)
	case m.Leases == 0:
		// Not leased (an ordered message that is not its conversation's next, or a store that
		// leases only in Lease): the loop takes it in its turn.
		w.release(true)
	default:
		// Run may have stopped meanwhile: then the message waits for its lease to run out,
		// like one leased by a pass that was under way at shutdown.
		w.start(run, m)
	}
	return err
}

// start handles m in the slot taken for it.
func (w *worker) start(ctx context.Context, m *QueuedMessage) {
	go func() {
		w.handle(ctx, m)
		w.release(m.Sequence > 0)
	}()
}

// release frees a slot, and wakes the loop when look is set (a settled ordered message may let
// the next of its conversation go) or when its last lease filled every free slot, so more may be
// due, and half the slots are free again (leasing them together, not one Lease per slot freed).
func (w *worker) release(look bool) {
	w.mu.Lock()
	w.inHand--
	w.wg.Done()
	if w.full && w.inHand <= slots/2 {
		w.full, look = false, true
	}
	w.mu.Unlock()
	if look {
		wake(w.wake)
	}
}

// backoff is the delay before attempt n+1: RetryMin doubled per attempt, capped at RetryMax.
func (g *Gateway) backoff(attempts int) time.Duration {
	d := g.opt.RetryMin
	for i := 1; i < attempts && d < g.opt.RetryMax; i++ {
		d *= 2
	}
	return min(d, g.opt.RetryMax)
}

// sendQueued sends one outbox busta and settles it: done when acknowledged (HTTP 200 for a plain
// one-way, the riscontro when confermaRicezione, the ricevuta for asynchronous buste), failed for
// good on a client fault or once expired, retried otherwise.
func (g *Gateway) sendQueued(ctx context.Context, m *QueuedMessage) {
	start := g.now()
	h := m.Header
	if !m.Expires.IsZero() && g.now().After(m.Expires) {
		g.failOut(ctx, m, OutcomeExpired, fmt.Sprintf("not acknowledged after %d attempts before it expired at %s", m.Attempts, m.Expires.Format(time.RFC3339)), nil)
		return
	}
	p, ok := g.dir.Party(m.Party)
	if !ok {
		g.failOut(ctx, m, OutcomeError, "receiver "+m.Party+" is no longer in the registry", nil)
		return
	}
	defer g.holdLarge(len(m.Data))()
	status, _, body, err := g.post(ctx, p.URL, h.Action, m.Data)
	m.Data = nil // sent: the message (Lease hands it over) is not held while the answer is settled
	if err != nil {
		g.retryOut(ctx, m, err.Error())
		return
	}
	ans, err := g.readAnswer(h, status, body)
	var ae *AppError
	switch {
	case err != nil && errors.As(err, &ae) && (m.Attempts > 0 || m.Leases > 1) && onlyDuplicate(ae.Exceptions):
		// A re-send refused as a duplicate (EGOV_IT_110 on the Identificatore): the receiver
		// accepted an earlier copy whose answer was lost, to an error (Attempts) or to a crash
		// before the settling was committed (a lease after the first). It is delivered; settle it.
	case err != nil && errors.As(err, &ae) && ae.FaultCode == "Client":
		g.failOut(ctx, m, OutcomeError, ae.Error(), ae.Exceptions)
		return
	case err != nil:
		g.retryOut(ctx, m, err.Error())
		return
	}
	acked := false
	switch {
	case err != nil: // a re-send refused as a duplicate, see above
		acked, ans = true, nil
	case ans == nil: // empty HTTP 200
		acked = h.Profile == envelope.OneWay && (h.Transmission == nil || !h.Transmission.AckRequested)
	case h.Transmission != nil && h.Transmission.AckRequested && h.Profile == envelope.OneWay:
		acked = acks(ans.h, h.ID)
	default:
		acked = ans.h.RelatesTo == h.ID // the ricevuta
	}
	if !acked {
		g.retryOut(ctx, m, fmt.Sprintf("HTTP %d without the expected acknowledgement", status))
		return
	}
	var rec *Record
	if ans != nil {
		rec = g.record(Inbound, fnPD, ans.h, body)
		rec.Transaction, rec.Peer, rec.Outcome, rec.HTTPStatus, rec.Signer = h.ID, p.URL, OutcomeReceived, status, g.fingerprint(ans.signer)
		rec.Exceptions = ans.h.Exceptions // a Linee Guida partner's INFO exceptions, traced
	}
	if err := g.store.Done(ctx, Outbox, m.ID, rec); err != nil {
		g.log.Error("outbox: settle", "id", m.ID, "err", err)
		return
	}
	g.observe(h.Service, Outbound, OutcomeSent, start)
}

// onlyDuplicate reports whether the exceptions say only "this Identificatore was already received".
func onlyDuplicate(exc []envelope.Exception) bool {
	n := 0
	for _, e := range exc {
		if e.Severity != envelope.SeveritySevere {
			continue
		}
		if e.Code != envelope.CodeInvalidID || e.Position != "Messaggio/Identificatore" {
			return false
		}
		n++
	}
	return n > 0
}

func (g *Gateway) retryOut(ctx context.Context, m *QueuedMessage, reason string) {
	if g.opt.MaxAttempts > 0 && m.Attempts+1 >= g.opt.MaxAttempts {
		g.failOut(ctx, m, OutcomeExpired, fmt.Sprintf("not acknowledged after %d attempts: %s", m.Attempts+1, reason), nil)
		return
	}
	next := g.now().Add(g.backoff(m.Attempts + 1))
	if !m.Expires.IsZero() && next.After(m.Expires) {
		next = m.Expires
	}
	g.log.Info("outbox: will re-send", "id", m.ID, "attempt", m.Attempts+1, "at", next, "reason", reason)
	if err := g.store.Retry(ctx, Outbox, m.ID, next, reason); err != nil && ctx.Err() == nil {
		g.log.Error("outbox: retry", "id", m.ID, "err", err)
	}
}

func (g *Gateway) failOut(ctx context.Context, m *QueuedMessage, outcome, reason string, exc []envelope.Exception) {
	rec := g.record(Outbound, fnPD, m.Header, nil)
	rec.Outcome, rec.Detail, rec.Exceptions = outcome, reason, exc
	rec.Raw = nil
	g.log.Warn("outbox: gave up", "id", m.ID, "receiver", m.Party, "outcome", outcome, "reason", reason)
	if err := g.store.Fail(ctx, Outbox, m.ID, reason, rec); err != nil && ctx.Err() == nil {
		g.log.Error("outbox: fail", "id", m.ID, "err", err)
	}
	g.observe(m.Service, Outbound, outcome, m.Created)
}

// deliverQueued hands one inbox message to its backend. A transport error is retried with
// back-off until the message's expiry; a fault from the application is a failure kept visible.
func (g *Gateway) deliverQueued(ctx context.Context, m *QueuedMessage) {
	h := m.Header
	fail := func(reason string) {
		g.log.Warn("inbox: gave up", "id", m.ID, "service", m.Service, "reason", reason)
		if err := g.store.Fail(ctx, Inbox, m.ID, reason, nil); err != nil && ctx.Err() == nil {
			g.log.Error("inbox: fail", "id", m.ID, "err", err)
		}
	}
	s, ok := g.dir.Service(h.Receiver.Name, h.Service)
	if !ok {
		fail("service " + h.Service + " of " + h.Receiver.Name + " is no longer in the registry")
		return
	}
	be, ok := g.dir.Backend(s)
	if !ok {
		fail("service " + h.Service + " has no delivery endpoint in the registry")
		return
	}
	defer g.holdLarge(len(m.Data))()
	ct, env := swa.Unframe(m.Data)
	rep, err := be.Deliver(ctx, &Delivery{Header: h, Envelope: env, ContentType: ct, Attempt: max(m.Leases, 1)})
	m.Data = nil // delivered: not held while the delivery is settled
	if err == nil && rep.Status == http.StatusInternalServerError {
		fail(fmt.Sprintf("the application answered with a fault: %.300s", rep.Envelope))
		return
	}
	if err != nil {
		if !m.Expires.IsZero() && g.now().After(m.Expires) {
			fail(fmt.Sprintf("not delivered after %d attempts: %v", m.Attempts, err))
			return
		}
		next := g.now().Add(g.backoff(m.Attempts + 1))
		g.log.Info("inbox: will retry", "id", m.ID, "attempt", m.Attempts+1, "err", err)
		if err := g.store.Retry(ctx, Inbox, m.ID, next, err.Error()); err != nil && ctx.Err() == nil {
			g.log.Error("inbox: retry", "id", m.ID, "err", err)
		}
		return
	}
	if err := g.store.Done(ctx, Inbox, m.ID, g.redelivered(m)); err != nil {
		g.log.Error("inbox: settle", "id", m.ID, "err", err)
	}
}

// redelivered is the trace record of an inbox message delivered more than once (nil for a first
// delivery): the backend may have applied an earlier attempt, whose settling a crash or an error
// lost. It is traced with the delivery's settling, so the trail shows every repeated delivery.
func (g *Gateway) redelivered(m *QueuedMessage) *Record {
	if m.Leases <= 1 {
		return nil
	}
	rec := g.record(Inbound, fnPA, m.Header, nil)
	rec.Outcome = OutcomeRedelivered
	rec.Detail = fmt.Sprintf("delivery attempt %d (%s %d): an earlier attempt may have reached the application", m.Leases, HeaderDeliveryAttempt, m.Leases)
	if m.Attempts == 0 {
		rec.Detail += " before a crash"
	}
	g.log.Info("inbox: re-delivered", "id", m.ID, "service", m.Service, "attempt", m.Leases)
	g.observe(m.Service, Inbound, OutcomeRedelivered, m.Created)
	return rec
}

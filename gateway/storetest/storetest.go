// Package storetest checks that a gateway.Store behaves as the gateway relies on: atomic enqueue
// with the duplicate history, leases that expire, back-off, in-order hold of the inbox, settled
// and failed messages, traced records found again by ID. A store implementation runs Run from its
// own tests; the gateway's test double runs it too, so both are held to the same contract.
//
// It imports testing and is meant for tests only.
package storetest

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"porta/envelope"
	"porta/gateway"
)

// Run runs the contract against stores made by open, a fresh empty store per subtest.
func Run(t *testing.T, open func(t *testing.T) gateway.Store) {
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, s gateway.Store)
	}{
		{"Reserve", testReserve},
		{"TraceLookup", testTraceLookup},
		{"InboxDuplicate", testInboxDuplicate},
		{"LeaseRetryDone", testLeaseRetryDone},
		{"Fail", testFail},
		{"InOrderHold", testInOrderHold},
		{"EnqueueLeased", testEnqueueLeased},
		{"Remember", testRemember},
		{"Idempotency", testIdempotency},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, open(t)) })
	}
}

var ctx = context.Background()

func header(id string, seq int, conv string) *envelope.Header {
	return &envelope.Header{
		Sender:   []envelope.Party{{Type: "SPC", Name: "Provincia"}},
		Receiver: envelope.Party{Type: "SPC", Name: "Ministero"},
		Profile:  envelope.AsyncSymmetric, CorrelatedService: "PraticaRisposta", CorrelatedServiceType: "SPC",
		ServiceType: "SPC", Service: "Pratica", Action: "Richiedi",
		ID: id, Conversation: conv, Sequence: seq,
		Time:         envelope.Timestamp{Time: time.Now().Truncate(time.Millisecond), Source: envelope.TimeSPC},
		Transmission: &envelope.Transmission{AtMostOnce: true, AckRequested: true},
	}
}

func msg(id string, seq int, conv string) *gateway.QueuedMessage {
	now := time.Now()
	return &gateway.QueuedMessage{
		ID: id, Party: "Ministero", Service: "Pratica", Conversation: conv, Sequence: seq,
		Data: []byte("<x>" + id + "</x>"), Header: header(id, seq, conv), Created: now, Expires: now.Add(time.Hour),
	}
}

func rec(id string, dir gateway.Direction) *gateway.Record {
	return &gateway.Record{Transaction: id, Direction: dir, Function: "PortaDelegata", Time: time.Now(), Header: header(id, 0, id), Outcome: gateway.OutcomeQueued, HTTPStatus: 200, Raw: []byte("<x/>"), PayloadSize: 4}
}

func id(n int) string {
	return "Provincia_ProvinciaSPCoopIT_" + string(rune('0'+n/1000000%10)) + "00000" + string(rune('0'+n%10)) + "_2026-11-28_10:00"
}

func testReserve(t *testing.T, s gateway.Store) {
	a, err := s.Reserve(ctx, "k1", 1)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := s.Reserve(ctx, "k1", 3)
	c, _ := s.Reserve(ctx, "k1", 1)
	other, _ := s.Reserve(ctx, "k2", 1)
	if a != 1 || b != 2 || c != 5 || other != 1 {
		t.Errorf("Reserve gave %d, %d, %d and %d for a new key; want 1, 2, 5 and 1", a, b, c, other)
	}
}

func testTraceLookup(t *testing.T, s gateway.Store) {
	if err := s.Trace(ctx, rec(id(1), gateway.Outbound), rec(id(2), gateway.Inbound)); err != nil {
		t.Fatal(err)
	}
	r, err := s.Lookup(ctx, id(1), gateway.Outbound)
	if err != nil || r == nil || r.Header == nil {
		t.Fatalf("Lookup = %+v, %v", r, err)
	}
	want := header(id(1), 0, id(1))
	h := r.Header
	if h.ID != want.ID || h.Sender[0] != want.Sender[0] || h.Receiver != want.Receiver || h.Service != want.Service ||
		h.Action != want.Action || h.Profile != want.Profile || h.Conversation != want.Conversation || h.CorrelatedService != want.CorrelatedService {
		t.Errorf("Lookup header = %+v, want %+v", h, want)
	}
	if r, _ := s.Lookup(ctx, id(1), gateway.Inbound); r != nil {
		t.Errorf("Lookup in the other direction found %+v", r)
	}
	if r, _ := s.Lookup(ctx, id(9), gateway.Outbound); r != nil {
		t.Errorf("Lookup of an unknown ID found %+v", r)
	}
}

func testInboxDuplicate(t *testing.T, s gateway.Store) {
	if err := s.Enqueue(ctx, gateway.Inbox, msg(id(1), 0, ""), rec(id(1), gateway.Inbound)); err != nil {
		t.Fatal(err)
	}
	if seen, err := s.Seen(ctx, "Provincia", id(1)); err != nil || !seen {
		t.Errorf("Seen after Enqueue = %v, %v", seen, err)
	}
	err := s.Enqueue(ctx, gateway.Inbox, msg(id(1), 0, ""), rec(id(1), gateway.Inbound))
	if !errors.Is(err, gateway.ErrDuplicate) {
		t.Errorf("second Enqueue of the same ID: %v, want ErrDuplicate", err)
	}
	if n, _, _ := s.Depth(ctx, gateway.Inbox); n != 1 {
		t.Errorf("inbox depth %d, want 1", n)
	}
}

func testLeaseRetryDone(t *testing.T, s gateway.Store) {
	if err := s.Enqueue(ctx, gateway.Outbox, msg(id(1), 0, ""), rec(id(1), gateway.Outbound)); err != nil {
		t.Fatal(err)
	}
	ms, err := s.Lease(ctx, gateway.Outbox, "a", 10, 200*time.Millisecond)
	if err != nil || len(ms) != 1 {
		t.Fatalf("Lease = %d messages, %v", len(ms), err)
	}
	m := ms[0]
	if m.ID != id(1) || string(m.Data) != "<x>"+id(1)+"</x>" || m.Header == nil || m.Header.Action != "Richiedi" || m.Party != "Ministero" {
		t.Errorf("leased %+v", m)
	}
	if again, _ := s.Lease(ctx, gateway.Outbox, "b", 10, 200*time.Millisecond); len(again) != 0 {
		t.Error("a leased message was leased again before its lease ran out")
	}
	time.Sleep(250 * time.Millisecond)
	if again, _ := s.Lease(ctx, gateway.Outbox, "b", 10, time.Minute); len(again) != 1 {
		t.Error("a message whose lease ran out was not taken over")
	}
	if err := s.Retry(ctx, gateway.Outbox, id(1), time.Now().Add(200*time.Millisecond), "HTTP 503"); err != nil {
		t.Fatal(err)
	}
	if again, _ := s.Lease(ctx, gateway.Outbox, "b", 10, time.Minute); len(again) != 0 {
		t.Error("a message was leased before its retry time")
	}
	time.Sleep(250 * time.Millisecond)
	again, _ := s.Lease(ctx, gateway.Outbox, "b", 10, time.Minute)
	if len(again) != 1 || again[0].Attempts != 1 || again[0].Leases != 3 {
		t.Fatalf("after the retry time: %d messages (attempts %v), want 1 with 1 attempt and 3 leases", len(again), again)
	}
	if n, _, _ := s.Depth(ctx, gateway.Outbox); n != 1 {
		t.Errorf("depth %d, want 1", n)
	}
	if err := s.Done(ctx, gateway.Outbox, id(1), rec(id(1), gateway.Inbound)); err != nil {
		t.Fatal(err)
	}
	if n, _, _ := s.Depth(ctx, gateway.Outbox); n != 0 {
		t.Errorf("depth after Done %d, want 0", n)
	}
	if r, _ := s.Lookup(ctx, id(1), gateway.Inbound); r == nil {
		t.Error("the record passed to Done was not traced")
	}
}

func testFail(t *testing.T, s gateway.Store) {
	if err := s.Enqueue(ctx, gateway.Outbox, msg(id(1), 0, ""), rec(id(1), gateway.Outbound)); err != nil {
		t.Fatal(err)
	}
	r := rec(id(1), gateway.Outbound)
	r.Outcome, r.Detail = gateway.OutcomeExpired, "not acknowledged"
	if err := s.Fail(ctx, gateway.Outbox, id(1), "not acknowledged", r); err != nil {
		t.Fatal(err)
	}
	if ms, _ := s.Lease(ctx, gateway.Outbox, "a", 10, time.Minute); len(ms) != 0 {
		t.Error("a failed message is still leased")
	}
	got, _ := s.Lookup(ctx, id(1), gateway.Outbound)
	if got == nil || got.Outcome != gateway.OutcomeExpired {
		t.Errorf("the failure is not visible: last record %+v", got)
	}
}

func testInOrderHold(t *testing.T, s gateway.Store) {
	conv := id(1)
	// Sequence 2 and 3 arrive before 1.
	for _, n := range []int{2, 3} {
		if err := s.Enqueue(ctx, gateway.Inbox, msg(id(n), n, conv)); err != nil {
			t.Fatal(err)
		}
	}
	if ms, _ := s.Lease(ctx, gateway.Inbox, "a", 10, time.Minute); len(ms) != 0 {
		t.Fatalf("sequence %d leased before sequence 1 arrived", ms[0].Sequence)
	}
	if err := s.Enqueue(ctx, gateway.Inbox, msg(id(1), 1, conv)); err != nil {
		t.Fatal(err)
	}
	for want := 1; want <= 3; want++ {
		ms, _ := s.Lease(ctx, gateway.Inbox, "a", 10, time.Minute)
		if len(ms) == 0 || ms[0].Sequence != want {
			t.Fatalf("lease %d: %v, want sequence %d first", want, ms, want)
		}
		for _, m := range ms[1:] {
			if m.Sequence > want {
				t.Fatalf("sequence %d leased while %d is not delivered", m.Sequence, want)
			}
		}
		if err := s.Done(ctx, gateway.Inbox, ms[0].ID, nil); err != nil {
			t.Fatal(err)
		}
	}
}

// testEnqueueLeased: a message enqueued with an owner is leased to it at once (Leases 1, no other
// Lease takes it until the lease runs out), except an inbox message held for its sequence.
func testEnqueueLeased(t *testing.T, s gateway.Store) {
	leased := func(m *gateway.QueuedMessage) *gateway.QueuedMessage {
		m.Owner, m.LeaseUntil = "a", time.Now().Add(200*time.Millisecond)
		return m
	}
	m := leased(msg(id(1), 0, ""))
	if err := s.Enqueue(ctx, gateway.Outbox, m, rec(id(1), gateway.Outbound)); err != nil {
		t.Fatal(err)
	}
	if m.Leases != 1 || m.Owner != "a" {
		t.Fatalf("enqueued with a lease: leases %d, owner %q; want 1 and a", m.Leases, m.Owner)
	}
	if again, _ := s.Lease(ctx, gateway.Outbox, "b", 10, time.Minute); len(again) != 0 {
		t.Error("a message enqueued leased was leased again before its lease ran out")
	}
	time.Sleep(250 * time.Millisecond)
	again, _ := s.Lease(ctx, gateway.Outbox, "b", 10, time.Minute)
	if len(again) != 1 || again[0].Leases != 2 {
		t.Fatalf("after the lease ran out: %v, want the message on its second lease", again)
	}
	held := leased(msg(id(3), 2, id(2)))
	if err := s.Enqueue(ctx, gateway.Inbox, held); err != nil {
		t.Fatal(err)
	}
	if held.Leases != 0 || held.Owner != "" {
		t.Errorf("sequence 2 before 1: leases %d, owner %q; want it held, not leased", held.Leases, held.Owner)
	}
	first := leased(msg(id(4), 1, id(2)))
	if err := s.Enqueue(ctx, gateway.Inbox, first); err != nil {
		t.Fatal(err)
	}
	if first.Leases != 1 {
		t.Errorf("sequence 1: leases %d, want 1", first.Leases)
	}
}

func testRemember(t *testing.T, s gateway.Store) {
	if err := s.Remember(ctx, "Provincia", id(5), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.Remember(ctx, "Provincia", id(5), time.Now().Add(time.Hour)); !errors.Is(err, gateway.ErrDuplicate) {
		t.Errorf("second Remember: %v, want ErrDuplicate", err)
	}
	if seen, _ := s.Seen(ctx, "Provincia", id(5)); !seen {
		t.Error("Seen does not know a remembered ID")
	}
	if seen, _ := s.Seen(ctx, "Ministero", id(5)); seen {
		t.Error("the duplicate history confuses two senders")
	}
}

func testIdempotency(t *testing.T, s gateway.Store) {
	if r, err := s.IdempotentRequest(ctx, "SIL", "k"); r != nil || err != nil {
		t.Fatalf("unknown key: %+v, %v", r, err)
	}
	now := time.Now()
	r := &gateway.IdempotentRequest{App: "SIL", Key: "k", Hash: [32]byte{1}, MsgID: id(1), Status: 200,
		Header: http.Header{"Porta-Message-Id": {id(1)}}, Created: now, Expires: now.Add(time.Hour)}
	if err := s.EnqueueIdempotent(ctx, gateway.Outbox, msg(id(1), 0, ""), r, rec(id(1), gateway.Outbound)); err != nil {
		t.Fatal(err)
	}
	got, err := s.IdempotentRequest(ctx, "SIL", "k")
	if err != nil || got == nil || got.Hash != r.Hash || got.MsgID != id(1) || got.Status != 200 || got.Header.Get("Porta-Message-ID") != id(1) {
		t.Fatalf("kept key read back as %+v, %v", got, err)
	}
	err = s.EnqueueIdempotent(ctx, gateway.Outbox, msg(id(2), 0, ""), &gateway.IdempotentRequest{App: "SIL", Key: "k", Expires: now.Add(time.Hour)})
	if !errors.Is(err, gateway.ErrKeyTaken) {
		t.Errorf("a second request under the key: %v, want ErrKeyTaken", err)
	}
	if n, _, _ := s.Depth(ctx, gateway.Outbox); n != 1 {
		t.Errorf("outbox depth %d, want 1: the refused request must queue nothing", n)
	}
	if err := s.KeepIdempotent(ctx, &gateway.IdempotentRequest{App: "SIL", Key: "s", MsgID: id(3), Body: []byte("<busta/>"), Created: now, Expires: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.IdempotentRequest(ctx, "SIL", "s"); got == nil || got.Status != 0 || string(got.Body) != "<busta/>" {
		t.Fatalf("pending key: %+v", got)
	}
	if err := s.SettleIdempotent(ctx, "SIL", "s", 500, http.Header{"Porta-Error-Reason": {"peer-refused"}}, []byte("<fault/>")); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.IdempotentRequest(ctx, "SIL", "s"); got == nil || got.Status != 500 || string(got.Body) != "<fault/>" || got.Header.Get("Porta-Error-Reason") != "peer-refused" {
		t.Fatalf("settled key: %+v", got)
	}
}

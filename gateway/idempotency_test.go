package gateway

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"porta/envelope"
)

// A retry under the same Idempotency-Key and body is answered the original Porta-Message-ID and
// outcome and sends nothing; the same key with another body is refused.
func TestIdempotencyKey(t *testing.T) {
	for _, tc := range []struct{ name, path string }{
		{"one-way", "/pd/Provincia/Ministero/Notifica/Notifica"},
		{"sync", "/pd/Provincia/Ministero/Anagrafe/Consulta"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := newNetwork(t)
			key := map[string]string{HeaderIdempotencyKey: "sil/RSSMRA85T10A562S/v1"}
			first := n.prov.call(t, tc.path, key)
			body1 := readAll(t, first)
			if first.StatusCode != http.StatusOK {
				t.Fatalf("first: status %d\n%s", first.StatusCode, body1)
			}
			if tc.name == "one-way" {
				waitFor(t, "the first delivery", func() bool { return n.min.be.count() == 1 })
			}
			again := n.prov.call(t, tc.path, key)
			body2 := readAll(t, again)
			if again.StatusCode != first.StatusCode || again.Header.Get(HeaderMessageID) != first.Header.Get(HeaderMessageID) ||
				again.Header.Get(HeaderRelatesTo) != first.Header.Get(HeaderRelatesTo) || body2 != body1 {
				t.Errorf("retry answered %d %s=%q %s=%q\n%s\nwant the first answer %d %q %q\n%s", again.StatusCode,
					HeaderMessageID, again.Header.Get(HeaderMessageID), HeaderRelatesTo, again.Header.Get(HeaderRelatesTo), body2,
					first.StatusCode, first.Header.Get(HeaderMessageID), first.Header.Get(HeaderRelatesTo), body1)
			}
			if again.Header.Get(HeaderIdempotentReplay) != "true" {
				t.Errorf("retry: %s = %q, want true", HeaderIdempotentReplay, again.Header.Get(HeaderIdempotentReplay))
			}
			other := n.prov.callBody(t, tc.path, strings.Replace(appRequest, "RSSMRA85T10A562S", "VRDLGU80A01H501U", 1), key)
			if b := readAll(t, other); other.StatusCode != http.StatusConflict || other.Header.Get(HeaderErrorReason) != string(ReasonIdempotencyConflict) {
				t.Errorf("another body under the key: %d %s=%q, want 409 %s\n%s", other.StatusCode, HeaderErrorReason, other.Header.Get(HeaderErrorReason), ReasonIdempotencyConflict, b)
			}
			n.min.settled(t)
			if c := n.min.be.count(); c != 1 {
				t.Errorf("backend got %d deliveries, want 1", c)
			}
			var sent int
			for _, r := range n.prov.store.traces() {
				if r.Direction == Outbound && r.Function == fnPD && (r.Outcome == OutcomeQueued || r.Outcome == OutcomeSent) {
					sent++
				}
			}
			if sent != 1 {
				t.Errorf("the consumer traced %d buste sent, want 1", sent)
			}
		})
	}
}

// A key that is not printable ASCII is refused before anything is sent; a synchronous request whose
// provider cannot be reached keeps its key under way, so a retry at once is told to wait.
func TestIdempotencyKeyRefusals(t *testing.T) {
	n := newNetwork(t)
	resp := n.prov.call(t, "/pd/Provincia/Ministero/Notifica/Notifica", map[string]string{HeaderIdempotencyKey: strings.Repeat("k", 256)})
	if b := readAll(t, resp); resp.StatusCode != http.StatusBadRequest || resp.Header.Get(HeaderErrorReason) != string(ReasonIdempotencyKeyInvalid) {
		t.Errorf("a 256-byte key: %d %q\n%s", resp.StatusCode, resp.Header.Get(HeaderErrorReason), b)
	}
	n.min.pa.Close()
	key := map[string]string{HeaderIdempotencyKey: "k1"}
	resp = n.prov.call(t, "/pd/Provincia/Ministero/Anagrafe/Consulta", key)
	if b := readAll(t, resp); resp.Header.Get(HeaderErrorReason) != string(ReasonPeerUnreachable) {
		t.Fatalf("provider down: %d %q\n%s", resp.StatusCode, resp.Header.Get(HeaderErrorReason), b)
	}
	id := resp.Header.Get(HeaderMessageID)
	resp = n.prov.call(t, "/pd/Provincia/Ministero/Anagrafe/Consulta", key)
	if b := readAll(t, resp); resp.StatusCode != http.StatusConflict || resp.Header.Get(HeaderErrorReason) != string(ReasonIdempotencyPending) ||
		resp.Header.Get("Retry-After") == "" || resp.Header.Get(HeaderMessageID) != id {
		t.Errorf("retry while under way: %d %q Retry-After %q %s %q (want %s)\n%s", resp.StatusCode, resp.Header.Get(HeaderErrorReason),
			resp.Header.Get("Retry-After"), HeaderMessageID, resp.Header.Get(HeaderMessageID), id, b)
	}
}

// A synchronous request whose node died after sending and before keeping the answer: the retry
// after the peer timeout sends the same busta again, which the provider's replay cache refuses,
// so the application learns it was delivered once and nothing is delivered twice.
func TestIdempotencyKeyResendsAbandonedSyncBusta(t *testing.T) {
	n := newNetwork(t)
	key := map[string]string{HeaderIdempotencyKey: "k-sync"}
	path := "/pd/Provincia/Ministero/Anagrafe/Consulta"
	first := n.prov.call(t, path, key)
	if b := readAll(t, first); first.StatusCode != http.StatusOK {
		t.Fatalf("first: %d\n%s", first.StatusCode, b)
	}
	reqID := first.Header.Get(HeaderRelatesTo)
	var busta []byte
	for _, r := range n.prov.store.traces() {
		if r.Direction == Outbound && r.Header != nil && r.Header.ID == reqID {
			busta = r.Raw
		}
	}
	// As if the node had died between sending and keeping the answer, a minute ago.
	n.prov.store.mu.Lock()
	for _, r := range n.prov.store.idem {
		r.Status, r.Header, r.Body, r.Created = 0, nil, busta, r.Created.Add(-time.Minute)
	}
	n.prov.store.mu.Unlock()
	again := n.prov.call(t, path, key)
	b := readAll(t, again)
	if again.Header.Get(HeaderMessageID) != reqID || !strings.Contains(b, string(envelope.CodeInvalidID)) {
		t.Errorf("retry of an abandoned exchange: %d %s=%q (want the same busta %s refused as a duplicate)\n%s",
			again.StatusCode, HeaderMessageID, again.Header.Get(HeaderMessageID), reqID, b)
	}
	if c := n.min.be.count(); c != 1 {
		t.Errorf("backend got %d deliveries, want 1", c)
	}
}

// Two synchronous requests under one key and body at once: the one that loses the race to keep
// the key is told the other is still waiting for its answer (409 idempotency-pending), not that
// the key was used for another request. The loser's bytes are released by then (signed), so the
// re-check must compare the hash taken while they were held.
func TestIdempotencyKeyLostRaceIsPending(t *testing.T) {
	n := newNetwork(t)
	n.prov.store.mu.Lock()
	n.prov.store.beforeKeep = func(r *IdempotentRequest) {
		n.prov.store.beforeKeep = nil
		winner := *r
		winner.MsgID = "Provincia_ProvinciaSPCoopIT_0000999_2026-12-03_10:00"
		n.prov.store.idem[r.App+"/"+r.Key] = &winner
	}
	n.prov.store.mu.Unlock()
	resp := n.prov.call(t, "/pd/Provincia/Ministero/Anagrafe/Consulta", map[string]string{HeaderIdempotencyKey: "k-race"})
	b := readAll(t, resp)
	if resp.StatusCode != http.StatusConflict || resp.Header.Get(HeaderErrorReason) != string(ReasonIdempotencyPending) ||
		resp.Header.Get(HeaderMessageID) != "Provincia_ProvinciaSPCoopIT_0000999_2026-12-03_10:00" {
		t.Errorf("the loser of the race: %d %s=%q %s=%q, want 409 %s naming the winner's busta\n%s", resp.StatusCode,
			HeaderErrorReason, resp.Header.Get(HeaderErrorReason), HeaderMessageID, resp.Header.Get(HeaderMessageID), ReasonIdempotencyPending, b)
	}
	if c := n.min.be.count(); c != 0 {
		t.Errorf("backend got %d deliveries, want 0 (the winner's exchange is its own)", c)
	}
}

package gateway

import (
	"crypto/sha256"
	"net/http"
	"strings"
	"testing"
	"time"

	"porta/audit"
	"porta/envelope"
)

func TestSyncExchange(t *testing.T) {
	n := newNetwork(t)
	resp := n.prov.call(t, "/pd/Provincia/Ministero/Anagrafe/Consulta", nil)
	body := readAll(t, resp)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, body:\n%s", resp.StatusCode, body)
	}
	if !strings.Contains(body, "<Risposta") || !strings.Contains(body, "RSSMRA85T10A562S") {
		t.Errorf("reply does not carry the backend's payload:\n%s", body)
	}
	if strings.Contains(body, "Intestazione") || strings.Contains(body, "Security") {
		t.Errorf("reply to the application still carries the busta or its signature:\n%s", body)
	}
	reqID := resp.Header.Get(HeaderRelatesTo)
	if err := envelope.ValidateID(resp.Header.Get(HeaderMessageID)); err != nil || !strings.HasPrefix(resp.Header.Get(HeaderMessageID), "Ministero_MinisteroSPCoopIT_") {
		t.Errorf("%s = %q, want an identifier of Ministero", HeaderMessageID, resp.Header.Get(HeaderMessageID))
	}
	if !strings.HasPrefix(reqID, "Provincia_ProvinciaSPCoopIT_") {
		t.Errorf("%s = %q, want the request's identifier", HeaderRelatesTo, reqID)
	}
	// The backend got the payload without the busta, with the integration headers' data.
	ds := n.min.be.all()
	if len(ds) != 1 {
		t.Fatalf("backend got %d deliveries, want 1", len(ds))
	}
	d := ds[0]
	if d.Header.ID != reqID || d.Header.Service != "Anagrafe" || d.Header.Action != "Consulta" || d.Header.Sender[0].Name != prov {
		t.Errorf("delivery header = %+v", d.Header)
	}
	if strings.Contains(string(d.Envelope), "Intestazione") || !strings.Contains(string(d.Envelope), "RSSMRA85T10A562S") {
		t.Errorf("delivered envelope:\n%s", d.Envelope)
	}
	// Both gateways traced the request and the reply before answering.
	for _, nd := range []*node{n.prov, n.min} {
		var in, out int
		for _, r := range nd.store.traces() {
			if r.Transaction != reqID {
				continue
			}
			switch r.Direction {
			case Inbound:
				in++
			case Outbound:
				out++
			}
			if r.PayloadSize == 0 || len(r.Raw) == 0 {
				t.Errorf("%s: record %+v has no payload size or body", nd.name, r)
			}
			// The payload hash is the Body's content's, not the envelope's.
			if body, err := audit.BodyContent(r.Raw); err != nil || r.PayloadHash != sha256.Sum256(body) || r.PayloadSize != len(body) || r.PayloadHash == sha256.Sum256(r.Raw) {
				t.Errorf("%s: %s record's payload hash %x (%d bytes) is not the SHA-256 of its Body's content (%v)", nd.name, r.Direction, r.PayloadHash, r.PayloadSize, err)
			}
		}
		if in != 1 || out != 1 {
			t.Errorf("%s traced %d inbound and %d outbound buste of %s, want 1 and 1", nd.name, in, out, reqID)
		}
	}
}

func TestSyncApplicationFault(t *testing.T) {
	n := newNetwork(t)
	n.min.be.fault = true
	resp := n.prov.call(t, "/pd/Provincia/Ministero/Anagrafe/Consulta", nil)
	body := readAll(t, resp)
	if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(body, "codice fiscale sconosciuto") {
		t.Fatalf("status %d, want 500 with the application's fault:\n%s", resp.StatusCode, body)
	}
}

func TestOneWayPlain(t *testing.T) {
	n := newNetwork(t)
	resp := n.prov.call(t, "/pd/Provincia/Ministero/Notifica/Notifica", nil)
	body := readAll(t, resp)
	if resp.StatusCode != http.StatusOK || body != "" {
		t.Fatalf("status %d body %q, want 200 and empty", resp.StatusCode, body)
	}
	id := resp.Header.Get(HeaderMessageID)
	waitFor(t, "delivery", func() bool { return n.min.be.count() == 1 })
	waitFor(t, "outbox to empty", func() bool { return n.prov.store.queued(Outbox) == 0 })
	if got := n.min.be.all()[0].Header.ID; got != id {
		t.Errorf("delivered %s, want %s", got, id)
	}
	n.min.settled(t)
	if c := n.min.be.count(); c != 1 {
		t.Errorf("delivered %d times, want once", c)
	}
}

func TestOneWayAcknowledgedAndResentAfterDroppedReply(t *testing.T) {
	n := newNetwork(t)
	n.min.drop.Store(1) // the first riscontro is lost on the way back
	resp := n.prov.call(t, "/pd/Provincia/Ministero/Comunicazione/Invia", nil)
	if body := readAll(t, resp); resp.StatusCode != http.StatusOK || body != "" {
		t.Fatalf("status %d body %q, want 200 and empty", resp.StatusCode, body)
	}
	id := resp.Header.Get(HeaderMessageID)
	waitFor(t, "the outbox to be acknowledged", func() bool { return n.prov.store.queued(Outbox) == 0 })
	if f := n.prov.store.failure(id); f != "" {
		t.Fatalf("message failed: %s", f)
	}
	waitFor(t, "delivery", func() bool { return n.min.be.count() >= 1 })
	n.min.settled(t)
	if c := n.min.be.count(); c != 1 {
		t.Errorf("delivered %d times, want exactly once", c)
	}
	// The provider saw the busta twice: once accepted, once as a duplicate answered with the
	// riscontro again; the consumer traced the riscontro that settled the outbox.
	var received, dups int
	for _, r := range n.min.store.traces() {
		if r.Direction == Inbound && r.Header != nil && r.Header.ID == id {
			switch r.Outcome {
			case OutcomeReceived:
				received++
			case OutcomeDuplicate:
				dups++
			}
		}
	}
	if received != 1 || dups != 1 {
		t.Errorf("provider traced %d accepted and %d duplicate copies, want 1 and 1", received, dups)
	}
	var riscontro bool
	for _, r := range n.prov.store.traces() {
		if r.Direction == Inbound && r.Transaction == id && r.Header != nil && acks(r.Header, id) {
			riscontro = true
		}
	}
	if !riscontro {
		t.Error("consumer did not trace the riscontro")
	}
}

func TestOneWayExpiresVisibly(t *testing.T) {
	n := newNetwork(t)
	n.min.pa.Close() // the provider is down for good
	n.prov.dir.setService(min_, "Comunicazione", func(s *Service) { s.Expiry = 200 * time.Millisecond })
	resp := n.prov.call(t, "/pd/Provincia/Ministero/Comunicazione/Invia", nil)
	readAll(t, resp)
	id := resp.Header.Get(HeaderMessageID)
	waitFor(t, "the message to expire", func() bool { return n.prov.store.failure(id) != "" })
	if f := n.prov.store.failure(id); !strings.Contains(f, "expired") {
		t.Errorf("failure reason %q does not say it expired", f)
	}
	var traced bool
	for _, r := range n.prov.store.traces() {
		if r.Transaction == id && r.Outcome == OutcomeExpired {
			traced = true
		}
	}
	if !traced {
		t.Error("the expiry is not in the audit trail")
	}
}

func TestInOrderDeliveryHoldsUntilGapFills(t *testing.T) {
	n := newNetwork(t)
	// Three messages of one in-order conversation: the first starts it (Collaborazione = its
	// own ID, Sequenza 1), the others continue it, and they are delivered in that order.
	first := n.prov.call(t, "/pd/Provincia/Ministero/Ordinato/Invia", nil)
	readAll(t, first)
	conv := first.Header.Get(HeaderConversationID)
	if conv == "" || conv != first.Header.Get(HeaderMessageID) {
		t.Fatalf("first message: conversation %q, want its own ID %q", conv, first.Header.Get(HeaderMessageID))
	}
	ids := []string{first.Header.Get(HeaderMessageID)}
	for range 2 {
		r := n.prov.call(t, "/pd/Provincia/Ministero/Ordinato/Invia", map[string]string{HeaderConversationID: conv})
		readAll(t, r)
		ids = append(ids, r.Header.Get(HeaderMessageID))
	}
	waitFor(t, "three deliveries", func() bool { return n.min.be.count() == 3 })
	for i, d := range n.min.be.all() {
		if d.Header.ID != ids[i] || d.Header.Sequence != i+1 || d.Header.Conversation != conv {
			t.Errorf("delivery %d: %s seq %d conv %s, want %s seq %d", i, d.Header.ID, d.Header.Sequence, d.Header.Conversation, ids[i], i+1)
		}
	}
}

func TestInOrderHold(t *testing.T) {
	// The inbox worker never delivers sequence 2 before sequence 1 is delivered, even when 2
	// arrives first.
	n := newNetwork(t)
	n.min.be.fail = 1000 // hold every delivery until released
	first := n.prov.call(t, "/pd/Provincia/Ministero/Ordinato/Invia", nil)
	readAll(t, first)
	conv := first.Header.Get(HeaderConversationID)
	second := n.prov.call(t, "/pd/Provincia/Ministero/Ordinato/Invia", map[string]string{HeaderConversationID: conv})
	readAll(t, second)
	waitFor(t, "both in the provider's inbox", func() bool { return n.min.store.queued(Inbox) == 2 })
	// Drop the first from the inbox as if it had not arrived yet: only the second is left and
	// must be held.
	n.min.store.mu.Lock()
	held := n.min.store.queues[Inbox][first.Header.Get(HeaderMessageID)]
	delete(n.min.store.queues[Inbox], first.Header.Get(HeaderMessageID))
	n.min.store.mu.Unlock()
	n.min.be.mu.Lock()
	n.min.be.fail = 0
	n.min.be.mu.Unlock()
	n.min.passes(t)
	if c := n.min.be.count(); c != 0 {
		t.Fatalf("sequence 2 was delivered before sequence 1 (%d deliveries)", c)
	}
	n.min.store.mu.Lock()
	held.m.NotBefore = time.Now()
	n.min.store.queues[Inbox][held.m.ID] = held
	n.min.store.mu.Unlock()
	waitFor(t, "both deliveries", func() bool { return n.min.be.count() == 2 })
	if ds := n.min.be.all(); ds[0].Header.Sequence != 1 || ds[1].Header.Sequence != 2 {
		t.Errorf("delivered sequences %d, %d; want 1, 2", ds[0].Header.Sequence, ds[1].Header.Sequence)
	}
}

func TestAsyncSymmetric(t *testing.T) {
	n := newNetwork(t)
	// (1) request from the Provincia's application; (2) the ricevuta settles its outbox entry.
	resp := n.prov.call(t, "/pd/Provincia/Ministero/Pratica/Richiedi", nil)
	if body := readAll(t, resp); resp.StatusCode != http.StatusOK {
		t.Fatalf("request: status %d\n%s", resp.StatusCode, body)
	}
	reqID := resp.Header.Get(HeaderMessageID)
	if resp.Header.Get(HeaderConversationID) != reqID {
		t.Errorf("request conversation %q, want its own ID %q", resp.Header.Get(HeaderConversationID), reqID)
	}
	waitFor(t, "the request at the provider's backend", func() bool { return n.min.be.count() == 1 })
	waitFor(t, "the ricevuta", func() bool { return n.prov.store.queued(Outbox) == 0 })
	d := n.min.be.all()[0]
	if d.Header.CorrelatedService != "PraticaRisposta" || d.Header.Conversation != reqID {
		t.Errorf("request header: servizioCorrelato %q, Collaborazione %q", d.Header.CorrelatedService, d.Header.Conversation)
	}
	// (3) the provider's application answers through its own PD on the correlated service.
	resp = n.min.call(t, "/pd/Ministero/Provincia/PraticaRisposta/Esito", map[string]string{HeaderRelatesTo: reqID})
	if body := readAll(t, resp); resp.StatusCode != http.StatusOK {
		t.Fatalf("risposta: status %d\n%s", resp.StatusCode, body)
	}
	if resp.Header.Get(HeaderRelatesTo) != reqID || resp.Header.Get(HeaderConversationID) != reqID {
		t.Errorf("risposta headers: relates %q conversation %q, want %s", resp.Header.Get(HeaderRelatesTo), resp.Header.Get(HeaderConversationID), reqID)
	}
	// (4) the consumer's PA checks the correlation, delivers it and answers the ricevuta.
	waitFor(t, "the risposta at the consumer's backend", func() bool { return n.prov.be.count() == 1 })
	waitFor(t, "the ricevuta of the risposta", func() bool { return n.min.store.queued(Outbox) == 0 })
	r := n.prov.be.all()[0]
	if r.Header.RelatesTo != reqID || r.Header.Conversation != reqID || r.Header.Service != "PraticaRisposta" {
		t.Errorf("risposta delivered with %+v", r.Header)
	}
	// A risposta naming no request is refused at the PD.
	resp = n.min.call(t, "/pd/Ministero/Provincia/PraticaRisposta/Esito", map[string]string{HeaderRelatesTo: "Provincia_ProvinciaSPCoopIT_0999999_2026-01-01_10:00"})
	if body := readAll(t, resp); resp.StatusCode != http.StatusInternalServerError || !strings.Contains(body, "names no asynchronous request") {
		t.Errorf("uncorrelated risposta: status %d\n%s", resp.StatusCode, body)
	}
}

func TestAsyncAsymmetric(t *testing.T) {
	n := newNetwork(t)
	resp := n.prov.call(t, "/pd/Provincia/Ministero/Stampa/Stampa", nil)
	if body := readAll(t, resp); resp.StatusCode != http.StatusOK {
		t.Fatalf("request: status %d\n%s", resp.StatusCode, body)
	}
	reqID := resp.Header.Get(HeaderMessageID)
	waitFor(t, "the request at the backend", func() bool { return n.min.be.count() == 1 })
	waitFor(t, "the ricevuta", func() bool { return n.prov.store.queued(Outbox) == 0 })
	var ricevuta *Record
	for _, r := range n.prov.store.traces() {
		if r.Direction == Inbound && r.Header != nil && r.Header.RelatesTo == reqID {
			ricevuta = r
		}
	}
	if ricevuta == nil || ricevuta.Header.CorrelatedService != "Stampa" {
		t.Fatalf("ricevuta %+v does not name the correlated service", ricevuta)
	}
	// richiesta-stato on the correlated action, answered synchronously by the backend.
	resp = n.prov.call(t, "/pd/Provincia/Ministero/Stampa/Stato", map[string]string{HeaderRelatesTo: reqID})
	body := readAll(t, resp)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "<Risposta") {
		t.Fatalf("richiesta-stato: status %d\n%s", resp.StatusCode, body)
	}
	if c := n.min.be.count(); c != 2 {
		t.Errorf("backend got %d deliveries, want 2", c)
	}
	st := n.min.be.all()[1].Header
	if st.Action != "Stato" || st.RelatesTo != reqID || st.Conversation != reqID {
		t.Errorf("richiesta-stato header %+v", st)
	}
	// Without Porta-Relates-To the status cannot be asked.
	resp = n.prov.call(t, "/pd/Provincia/Ministero/Stampa/Stato", nil)
	if body := readAll(t, resp); resp.StatusCode != http.StatusInternalServerError || !strings.Contains(body, HeaderRelatesTo) {
		t.Errorf("status without relates-to: %d\n%s", resp.StatusCode, body)
	}
}

// A reply lost on the way back makes the outbox send again; whatever the receiver's duplicate
// policy, the message is delivered once and the sender's outbox settles without a failure.
func TestResendAfterDroppedReply(t *testing.T) {
	for _, path := range []string{
		"/pd/Provincia/Ministero/Notifica/Notifica",    // PIUDIUNAVOLTA: the copy is answered as the first
		"/pd/Provincia/Ministero/Segnalazione/Segnala", // ALPIUUNAVOLTA without riscontro: EGOV_IT_110 settles it
		"/pd/Provincia/Ministero/Comunicazione/Invia",  // ALPIUUNAVOLTA with riscontro: the riscontro again
		"/pd/Provincia/Ministero/Pratica/Richiedi",     // asynchronous: the ricevuta again
	} {
		t.Run(path, func(t *testing.T) {
			n := newNetwork(t)
			n.min.drop.Store(1)
			resp := n.prov.call(t, path, nil)
			if body := readAll(t, resp); resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d\n%s", resp.StatusCode, body)
			}
			id := resp.Header.Get(HeaderMessageID)
			waitFor(t, "the outbox to settle", func() bool { return n.prov.store.queued(Outbox) == 0 })
			if f := n.prov.store.failure(id); f != "" {
				t.Fatalf("the message failed: %s", f)
			}
			waitFor(t, "the delivery", func() bool { return n.min.be.count() >= 1 })
			n.min.settled(t)
			if c := n.min.be.count(); c != 1 {
				t.Errorf("delivered %d times, want once", c)
			}
		})
	}
}

// A delivery the backend did not take is tried again: the second carries Attempt 2 and the
// trail records it as a re-delivery, so a repeated delivery is never invisible.
func TestRedeliveryIsNumberedAndTraced(t *testing.T) {
	n := newNetwork(t)
	n.min.be.mu.Lock()
	n.min.be.fail = 1
	n.min.be.mu.Unlock()
	resp := n.prov.call(t, "/pd/Provincia/Ministero/Notifica/Notifica", nil)
	if body := readAll(t, resp); resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	id := resp.Header.Get(HeaderMessageID)
	waitFor(t, "the delivery after the failed one", func() bool { return n.min.be.count() == 1 })
	n.min.settled(t)
	if d := n.min.be.all()[0]; d.Header.ID != id || d.Attempt != 2 {
		t.Errorf("delivered %s as attempt %d, want %s as attempt 2", d.Header.ID, d.Attempt, id)
	}
	var redelivered int
	for _, r := range n.min.store.traces() {
		if r.Transaction == id && r.Outcome == OutcomeRedelivered {
			redelivered++
			if !strings.Contains(r.Detail, "attempt 2") {
				t.Errorf("re-delivery record detail %q does not name the attempt", r.Detail)
			}
		}
	}
	if redelivered != 1 {
		t.Errorf("%d re-delivery records of %s, want 1", redelivered, id)
	}
}

package gateway

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"porta/envelope"
)

// The Porta Delegata's Idempotency-Key: an application that did not get its answer (a timeout, a
// crash of its own or of this gateway after the commit) retries with the same key and body, and is
// answered the original Porta-Message-ID and outcome without a second busta. The key, the
// request's hash and the answer are kept in the store for Options.IdempotencyWindow: for one-way
// and asynchronous requests in the same transaction as the outbox entry (accepted ⇒ the key
// answers), for synchronous ones before the busta is sent and settled with its answer.

const (
	// HeaderIdempotencyKey is the application's key for one request (1 to 255 printable ASCII
	// characters), scoped to the authenticated application.
	HeaderIdempotencyKey = "Idempotency-Key"
	// HeaderIdempotentReplay is set ("true") on an answer repeated for a retried key.
	HeaderIdempotentReplay = "Porta-Idempotent-Replay"
)

// pendingGrace is how much longer than the peer timeout a synchronous exchange under a key is
// taken to be still running; past that its node is taken to have died, and a retry re-sends the
// same busta (same Identificatore: the provider's replay cache refuses it if it arrived).
const pendingGrace = 5 * time.Second

// checkIdempotency answers a retried key (the kept answer, a conflict, or "still under way") and
// prepares a new key to be kept with the request.
func (g *Gateway) checkIdempotency(ctx context.Context, out *outbound) (*reply, error) {
	key := out.r.Header.Get(HeaderIdempotencyKey)
	if key == "" {
		return nil, nil
	}
	if err := validKey(key); err != nil {
		return nil, &AppError{Status: http.StatusBadRequest, FaultCode: "Client", Reason: ReasonIdempotencyKeyInvalid, Message: "header " + HeaderIdempotencyKey + ": " + err.Error()}
	}
	if out.idemHash == nil {
		h := requestHash(out)
		out.idemHash = &h
	}
	hash := *out.idemHash
	prev, err := g.store.IdempotentRequest(ctx, out.app, key)
	if err != nil {
		return nil, err
	}
	now := g.now()
	switch {
	case prev == nil:
		out.idem = &IdempotentRequest{App: out.app, Key: key, Hash: hash, Created: now, Expires: now.Add(g.opt.IdempotencyWindow)}
		return nil, nil
	case prev.Hash != hash:
		return nil, &AppError{Status: http.StatusConflict, FaultCode: "Client", Reason: ReasonIdempotencyConflict,
			Message: fmt.Sprintf("%s %.64q was used by this application for another request (busta %s)", HeaderIdempotencyKey, key, prev.MsgID)}
	case prev.Status != 0:
		g.log.Info("porta delegata: answered a retried idempotency key again", "app", out.app, "id", prev.MsgID, "status", prev.Status)
		g.observe(out.service.Name, Outbound, OutcomeDuplicate, out.start)
		rep := &reply{status: prev.Status, header: prev.Header.Clone(), body: prev.Body}
		if rep.header == nil {
			rep.header = http.Header{}
		}
		if len(rep.body) == 0 {
			rep.body = nil
		}
		rep.header.Set(HeaderIdempotentReplay, "true")
		return rep, nil
	}
	// A synchronous exchange under this key has no answer yet.
	if wait := prev.Created.Add(g.opt.PeerTimeout + pendingGrace).Sub(now); wait > 0 {
		rep := g.refusePD(ctx, out, pdStep{name: "idempotency"}, &AppError{Status: http.StatusConflict, FaultCode: "Server", Reason: ReasonIdempotencyPending,
			Message: fmt.Sprintf("the request sent under %s %.64q (busta %s) is still waiting for its answer", HeaderIdempotencyKey, key, prev.MsgID)})
		rep.header.Set(HeaderMessageID, prev.MsgID)
		rep.header.Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
		return rep, nil
	}
	// Its node died before the answer was kept: send the same busta again.
	doc, err := g.parseXML(prev.Body)
	if err != nil {
		return nil, fmt.Errorf("the busta kept under idempotency key %q: %w", key, err)
	}
	msg, err := envelope.ParseDocument(doc)
	if err != nil || msg.Header == nil {
		return nil, fmt.Errorf("the busta kept under idempotency key %q: %v", key, err)
	}
	g.log.Info("porta delegata: re-sending the busta of an unanswered idempotency key", "app", out.app, "id", prev.MsgID)
	out.h, out.data, out.idem, out.idemKept = msg.Header, prev.Body, prev, true
	return nil, nil
}

// keepIdempotent keeps a synchronous request's key, with the signed busta, before it is sent.
func (g *Gateway) keepIdempotent(ctx context.Context, out *outbound) (*reply, error) {
	if out.idem == nil || out.idemKept || !out.synchronous() {
		return nil, nil
	}
	out.idem.MsgID, out.idem.Body = out.h.ID, out.data
	err := g.store.KeepIdempotent(ctx, out.idem)
	if errors.Is(err, ErrKeyTaken) {
		// A concurrent request under the same key got there first: answer as a retry.
		out.idem = nil
		return g.checkIdempotency(ctx, out)
	}
	if err != nil {
		return nil, err
	}
	out.idemKept = true
	return nil, nil
}

// settleIdempotent keeps the answer of a synchronous request sent under a key. An answer that
// says the provider could not be reached is not kept: the key stays under way, and a retry after
// it re-sends the same busta.
func (g *Gateway) settleIdempotent(ctx context.Context, out *outbound, rep *reply) {
	if !out.idemKept || rep == nil || rep.header.Get(HeaderErrorReason) == string(ReasonPeerUnreachable) {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := g.store.SettleIdempotent(ctx, out.idem.App, out.idem.Key, rep.status, rep.header, rep.bytes()); err != nil {
		g.log.Error("porta delegata: keep the answer of an idempotency key", "app", out.idem.App, "id", out.idem.MsgID, "err", err)
	}
}

// enqueueIdempotent puts a one-way or asynchronous request in the outbox with its key, in one
// transaction, and answers like traceAndQueue; a concurrent request that kept the key first makes
// this one a retry of it.
func (g *Gateway) enqueueIdempotent(ctx context.Context, out *outbound, m *QueuedMessage, rec *Record) (*reply, error) {
	r := out.idem
	r.MsgID, r.Status, r.Header = m.ID, http.StatusOK, integration(out.h)
	err := g.out.enqueue(ctx, g, m, func(ctx context.Context, m *QueuedMessage) error {
		return g.store.EnqueueIdempotent(ctx, Outbox, m, r, rec)
	})
	if errors.Is(err, ErrKeyTaken) {
		out.idem = nil
		if rep, err := g.checkIdempotency(ctx, out); rep != nil || err != nil {
			return rep, err
		}
		return nil, fmt.Errorf("idempotency key %q: kept by a concurrent request, then not found", r.Key)
	}
	if err != nil {
		return nil, fmt.Errorf("enqueue %s: %w", m.ID, err)
	}
	return &reply{status: http.StatusOK, header: integration(out.h)}, nil
}

// validKey checks an Idempotency-Key: 1 to 255 printable ASCII characters.
func validKey(k string) error {
	if len(k) > 255 {
		return fmt.Errorf("%d bytes, want at most 255", len(k))
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x20 || k[i] > 0x7e {
			return fmt.Errorf("byte %d is not printable ASCII", i)
		}
	}
	return nil
}

// requestHash is what makes two requests under one key the same request: the route, the action,
// the correlation headers and the body.
func requestHash(out *outbound) [32]byte {
	h := sha256.New()
	for _, s := range []string{out.r.URL.Path, out.action, out.r.Header.Get(HeaderRelatesTo), out.r.Header.Get(HeaderConversationID)} {
		fmt.Fprintf(h, "%d:%s\n", len(s), s)
	}
	h.Write(out.raw)
	var sum [32]byte
	h.Sum(sum[:0])
	return sum
}

package ops

import (
	"context"
	"encoding/hex"
	"io"
	"net/http"
	"time"

	"porta/audit"
	"porta/registry"
)

// maxName bounds an operator name as the trail keeps it.
const maxName = 128

// FunctionOperator is the Function of the trail records of operator actions.
const FunctionOperator = "Operator"

// The actions traced (a record's Outcome).
const (
	ActionLogin       = "login"
	ActionLoginFailed = "login-failed"
	ActionLogout      = "logout"
	ActionRequeue     = "requeue"
	ActionJobRun      = "job-run"
	ActionBodyView    = "body-view"
)

// trace appends an operator's action to the node's trail (see the package doc). A failure to
// trace is logged; the action itself has happened or is refused by the caller (traceStrict).
func (a *API) trace(r *http.Request, who, action, what string) {
	if err := a.traceStrict(r, who, action, what); err != nil {
		a.opt.Logger.Error("ops: cannot trace an operator action", "operator", who, "action", action, "what", what, "err", err)
	}
}

// traceStrict appends the action and returns the store's error: for the actions that must not
// happen untraced (a body shown), the caller refuses when it fails.
func (a *API) traceStrict(r *http.Request, who, action, what string) error {
	id := make([]byte, 12)
	if _, err := io.ReadFull(a.opt.Random, id); err != nil {
		return err
	}
	opID := "op-" + hex.EncodeToString(id)
	if len(who) > maxName {
		who = who[:maxName] // a failed login's name is the caller's: it costs its cap, not its size
	}
	rec := &audit.Record{
		Transaction: opID, ID: opID, Direction: audit.In, Function: FunctionOperator,
		Outcome: action, Application: who, Peer: r.RemoteAddr, Detail: what, Recorded: a.opt.Now(),
	}
	// From a TLS connection with a client certificate: the certificate too (verified, or
	// refused; an unverified one never gets here on a listener with client CAs).
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		c := r.TLS.PeerCertificates[0]
		rec.ClientSubject, rec.ClientCert = c.Subject.String(), registry.Fingerprint(c)
	}
	// The trail outlives the request: a client gone must not leave the action untraced.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 10*time.Second)
	defer cancel()
	return a.opt.Store.Append(ctx, rec)
}

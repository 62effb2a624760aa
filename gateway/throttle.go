package gateway

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"strconv"
	"time"

	"porta/internal/lockout"
)

// The Porta Delegata's authentication throttle: refused credentials are counted per remote
// address and per HTTP Basic user name, and a key with more than Free failures in a row is locked
// for a time that doubles with each further failure (Initial, 2×Initial, … up to Max). A request
// from a locked address, or naming a locked user with a password not already accepted by the
// registry, is answered 429 with Retry-After and reason "throttled" before any password is
// checked: a guessing loop costs the gateway no PBKDF2 work once it is locked, so it cannot slow
// the calls of real applications. An application whose user name is being guessed at from
// elsewhere still gets through with its own password once the registry has accepted it (it costs
// no PBKDF2 work again). A key's failures are forgotten Forget after the last one; a success
// clears its address's failures. Remote addresses are the TCP peer's: a proxy in front of the PD
// makes every application one address.

// ThrottleOptions configure the authentication throttle (porta.yaml's pd_auth); see package
// lockout for the fields and their defaults.
type ThrottleOptions = lockout.Options

// ReasonThrottled: too many refused credentials from the caller's address or for its user name;
// wait Retry-After seconds.
const ReasonThrottled Reason = "throttled"

// remoteHost is the IP address of r's TCP peer.
func remoteHost(r *http.Request) string {
	if h, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return h
	}
	return r.RemoteAddr
}

// credentialsVerifier is the part of a Directory that knows credentials it accepted before
// (registryDirectory; a Directory without it lets no locked user name through).
type credentialsVerifier interface {
	Verified(r *http.Request) bool
}

// authenticateThrottled is the PD's authenticate step behind the throttle: a locked caller is
// answered 429 before any password is checked, a refusal counts against the address and the
// user name, a success clears the address.
func (g *Gateway) authenticateThrottled(ctx context.Context, out *outbound) (*reply, error) {
	t := g.throttle
	now := g.now()
	addr := lockout.Key{Scope: "address", Value: remoteHost(out.r)}
	user, _, basic := out.r.BasicAuth()
	userKey := lockout.Key{Scope: "application", Value: user}
	if wait := t.Admit(addr, now); wait > 0 {
		return g.refuseThrottled(ctx, out, addr, wait), nil
	}
	if basic {
		// Credentials the registry accepted before cost no password check: they pass a locked
		// user name (its own application, while others guess at it).
		if v, ok := g.dir.(credentialsVerifier); !ok || !v.Verified(out.r) {
			if wait := t.Admit(userKey, now); wait > 0 {
				return g.refuseThrottled(ctx, out, userKey, wait), nil
			}
		}
	}
	rep, err := g.authenticate(ctx, out)
	var ae *AppError
	if errors.As(err, &ae) && ae.Reason == ReasonCredentialsInvalid {
		g.metrics.authFailures.Inc()
		for _, k := range []lockout.Key{addr, userKey} {
			if k.Scope == "application" && !basic {
				continue
			}
			if d := t.Failed(k, now); d > 0 {
				g.log.Warn("porta delegata: authentication locked", "scope", k.Scope, "key", k.Value, "remote", out.r.RemoteAddr, "for", d)
			}
		}
		return rep, err
	}
	if err == nil {
		t.Succeeded(addr)
	}
	return rep, err
}

// refuseThrottled answers 429 with Retry-After (whole seconds, rounded up) and reason throttled.
func (g *Gateway) refuseThrottled(ctx context.Context, out *outbound, k lockout.Key, wait time.Duration) *reply {
	g.metrics.authThrottled.WithLabelValues(k.Scope).Inc()
	secs := int(math.Ceil(wait.Seconds()))
	ae := &AppError{
		FaultCode: "Client", Reason: ReasonThrottled,
		Message: fmt.Sprintf("authentication throttled: too many refused credentials; try again in %d s", secs),
		Err:     fmt.Errorf("%s %q locked for %v (remote %s)", k.Scope, k.Value, wait, out.r.RemoteAddr),
	}
	rep := g.refusePD(ctx, out, pdStep{name: "authenticate", reason: ReasonThrottled}, ae)
	rep.status = http.StatusTooManyRequests
	rep.header.Set("Retry-After", strconv.Itoa(secs))
	return rep
}

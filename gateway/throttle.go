package gateway

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
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

// ThrottleOptions configure the authentication throttle (porta.yaml's pd_auth). The zero value of
// each field picks the documented default.
type ThrottleOptions struct {
	Free    int           // failures in a row allowed before a key is locked (default 5)
	Initial time.Duration // the first lock (default 1s); each further failure doubles it
	Max     time.Duration // the longest lock (default 5m)
	Forget  time.Duration // failures are forgotten this long after the last (default 15m)
	// MaxKeys bounds the keys remembered (default 100000); past it, keys not locked are forgotten
	// first, so that a flood of invented user names cannot take the memory.
	MaxKeys int
}

func (o *ThrottleOptions) defaults() {
	if o.Free <= 0 {
		o.Free = 5
	}
	if o.Initial <= 0 {
		o.Initial = time.Second
	}
	if o.Max <= 0 {
		o.Max = 5 * time.Minute
	}
	if o.Forget <= 0 {
		o.Forget = 15 * time.Minute
	}
	if o.MaxKeys <= 0 {
		o.MaxKeys = 100_000
	}
}

// ReasonThrottled: too many refused credentials from the caller's address or for its user name;
// wait Retry-After seconds.
const ReasonThrottled Reason = "throttled"

// throttleKey is an address ("addr") or a user name ("user").
type throttleKey struct{ scope, value string }

type throttleEntry struct {
	failures int
	last     time.Time // of the last failure
	until    time.Time // locked until; zero: not locked
}

type throttle struct {
	opt ThrottleOptions
	mu  sync.Mutex
	m   map[throttleKey]*throttleEntry
}

func newThrottle(opt ThrottleOptions) *throttle {
	opt.defaults()
	return &throttle{opt: opt, m: map[throttleKey]*throttleEntry{}}
}

// locked returns how long k stays locked at now (0: not locked).
func (t *throttle) locked(k throttleKey, now time.Time) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.m[k]
	if !ok || !now.Before(e.until) {
		return 0
	}
	return e.until.Sub(now)
}

// admit is locked, and more: a key whose next failure would lock it is locked now for that time
// while its one attempt is checked, so that when a lock runs out many concurrent guesses cannot
// each start a password check before the first of them fails (failed keeps the lock; a success
// of the address clears it).
func (t *throttle) admit(k throttleKey, now time.Time) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.m[k]
	if !ok {
		return 0
	}
	if now.Before(e.until) {
		return e.until.Sub(now)
	}
	if now.Sub(e.last) <= t.opt.Forget && e.failures >= t.opt.Free {
		e.until = now.Add(t.lockFor(e.failures + 1))
	}
	return 0
}

// lockFor is the lock that the failures-th failure in a row starts (0: none).
func (t *throttle) lockFor(failures int) time.Duration {
	over := failures - t.opt.Free
	if over <= 0 {
		return 0
	}
	if over > 32 {
		return t.opt.Max
	}
	if x := float64(t.opt.Initial) * math.Pow(2, float64(over-1)); x < float64(t.opt.Max) {
		return time.Duration(x)
	}
	return t.opt.Max
}

// failed counts a refusal of k at now and returns the lock it starts (0: none yet).
func (t *throttle) failed(k throttleKey, now time.Time) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.m[k]
	if ok && now.Sub(e.last) > t.opt.Forget {
		e.failures = 0
	}
	if !ok {
		if len(t.m) >= t.opt.MaxKeys {
			t.pruneLocked(now)
		}
		e = &throttleEntry{}
		t.m[k] = e
	}
	e.failures++
	e.last = now
	d := t.lockFor(e.failures)
	if d > 0 {
		e.until = now.Add(d)
	}
	return d
}

// succeeded forgets k's failures.
func (t *throttle) succeeded(k throttleKey) {
	t.mu.Lock()
	delete(t.m, k)
	t.mu.Unlock()
}

// pruneLocked forgets keys whose failures are forgotten, then, if still full, every key not
// locked now. t.mu is held.
func (t *throttle) pruneLocked(now time.Time) {
	for k, e := range t.m {
		if now.Sub(e.last) > t.opt.Forget && !now.Before(e.until) {
			delete(t.m, k)
		}
	}
	if len(t.m) < t.opt.MaxKeys {
		return
	}
	for k, e := range t.m {
		if !now.Before(e.until) {
			delete(t.m, k)
		}
	}
}

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
	addr := throttleKey{"address", remoteHost(out.r)}
	user, _, basic := out.r.BasicAuth()
	userKey := throttleKey{"application", user}
	if wait := t.admit(addr, now); wait > 0 {
		return g.refuseThrottled(ctx, out, addr, wait), nil
	}
	if basic {
		// Credentials the registry accepted before cost no password check: they pass a locked
		// user name (its own application, while others guess at it).
		if v, ok := g.dir.(credentialsVerifier); !ok || !v.Verified(out.r) {
			if wait := t.admit(userKey, now); wait > 0 {
				return g.refuseThrottled(ctx, out, userKey, wait), nil
			}
		}
	}
	rep, err := g.authenticate(ctx, out)
	var ae *AppError
	if errors.As(err, &ae) && ae.Reason == ReasonCredentialsInvalid {
		g.metrics.authFailures.Inc()
		for _, k := range []throttleKey{addr, userKey} {
			if k.scope == "application" && !basic {
				continue
			}
			if d := t.failed(k, now); d > 0 {
				g.log.Warn("porta delegata: authentication locked", "scope", k.scope, "key", k.value, "remote", out.r.RemoteAddr, "for", d)
			}
		}
		return rep, err
	}
	if err == nil {
		t.succeeded(addr)
	}
	return rep, err
}

// refuseThrottled answers 429 with Retry-After (whole seconds, rounded up) and reason throttled.
func (g *Gateway) refuseThrottled(ctx context.Context, out *outbound, k throttleKey, wait time.Duration) *reply {
	g.metrics.authThrottled.WithLabelValues(k.scope).Inc()
	secs := int(math.Ceil(wait.Seconds()))
	ae := &AppError{
		FaultCode: "Client", Reason: ReasonThrottled,
		Message: fmt.Sprintf("authentication throttled: too many refused credentials; try again in %d s", secs),
		Err:     fmt.Errorf("%s %q locked for %v (remote %s)", k.scope, k.value, wait, out.r.RemoteAddr),
	}
	rep := g.refusePD(ctx, out, pdStep{name: "authenticate", reason: ReasonThrottled}, ae)
	rep.status = http.StatusTooManyRequests
	rep.header.Set("Retry-After", strconv.Itoa(secs))
	return rep
}

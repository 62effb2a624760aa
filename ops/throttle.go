package ops

import (
	"time"

	"porta/internal/lockout"
)

// The failed-login throttle: failures are counted per remote address and per operator name by
// the lockout table the Porta Delegata's throttle also uses (package lockout); a locked address
// or name is refused before any password is hashed, so a guessing loop costs the node no PBKDF2
// work. A success clears its address and name.

// ThrottleOptions configure the failed-login throttle; zero fields take the defaults (see
// package lockout).
type ThrottleOptions = lockout.Options

type throttle struct{ t *lockout.Table }

func newThrottle(opt ThrottleOptions) *throttle { return &throttle{lockout.New(opt)} }

func throttleKeys(addr, name string) [2]lockout.Key {
	return [2]lockout.Key{{Scope: "address", Value: addr}, {Scope: "name", Value: name}}
}

// locked returns how long the address or the name is still locked (0: not locked).
func (t *throttle) locked(now time.Time, addr, name string) time.Duration {
	var wait time.Duration
	for _, k := range throttleKeys(addr, name) {
		wait = max(wait, t.t.Locked(k, now))
	}
	return wait
}

func (t *throttle) fail(now time.Time, addr, name string) {
	for _, k := range throttleKeys(addr, name) {
		t.t.Failed(k, now)
	}
}

func (t *throttle) succeed(addr, name string) {
	for _, k := range throttleKeys(addr, name) {
		t.t.Succeeded(k)
	}
}

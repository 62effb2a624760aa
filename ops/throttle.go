package ops

import (
	"sync"
	"time"
)

// The failed-login throttle: failures are counted per remote address and per operator name; a
// key with more than Free failures in a row is locked for Initial, doubling with each further
// failure up to Max, and a locked key is refused before any password is hashed, so a guessing
// loop costs the node no PBKDF2 work. A success clears its address and name; failures are
// forgotten Forget after the last. (The Porta Delegata's throttle, package gateway, follows the
// same rules for applications.)

// ThrottleOptions configure the failed-login throttle; zero fields take the defaults.
type ThrottleOptions struct {
	Free    int           // failures in a row allowed before a key is locked (default 5)
	Initial time.Duration // the first lock (default 1s)
	Max     time.Duration // the longest lock (default 5m)
	Forget  time.Duration // failures are forgotten this long after the last (default 15m)
}

type throttleEntry struct {
	failures int
	last     time.Time
	until    time.Time
}

type throttle struct {
	opt ThrottleOptions
	mu  sync.Mutex
	m   map[string]*throttleEntry // "addr:" or "name:" then the value
}

// maxThrottleKeys bounds the keys kept; past it, the unlocked ones are forgotten.
const maxThrottleKeys = 100_000

func newThrottle(opt ThrottleOptions) *throttle {
	if opt.Free <= 0 {
		opt.Free = 5
	}
	if opt.Initial <= 0 {
		opt.Initial = time.Second
	}
	if opt.Max <= 0 {
		opt.Max = 5 * time.Minute
	}
	if opt.Forget <= 0 {
		opt.Forget = 15 * time.Minute
	}
	return &throttle{opt: opt, m: map[string]*throttleEntry{}}
}

// locked returns how long the address or the name is still locked (0: not locked).
func (t *throttle) locked(now time.Time, addr, name string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	var wait time.Duration
	for _, k := range []string{"addr:" + addr, "name:" + name} {
		if e := t.m[k]; e != nil && e.until.After(now) {
			wait = max(wait, e.until.Sub(now))
		}
	}
	return wait
}

func (t *throttle) fail(now time.Time, addr, name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.m) >= maxThrottleKeys {
		for k, e := range t.m {
			if !e.until.After(now) {
				delete(t.m, k)
			}
		}
	}
	for _, k := range []string{"addr:" + addr, "name:" + name} {
		e := t.m[k]
		if e == nil || now.Sub(e.last) > t.opt.Forget {
			e = &throttleEntry{}
			t.m[k] = e
		}
		e.failures++
		e.last = now
		if over := e.failures - t.opt.Free; over > 0 {
			lock := t.opt.Max
			if over < 30 {
				lock = min(t.opt.Initial<<(over-1), t.opt.Max)
			}
			e.until = now.Add(lock)
		}
	}
}

func (t *throttle) succeed(addr, name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.m, "addr:"+addr)
	delete(t.m, "name:"+name)
}

// Package lockout owns the failed-authentication lockout shared by the Porta Delegata's
// throttle (package gateway) and the operators' login throttle (package ops): failures counted
// per key (a remote address, a user or operator name), a key with more than Free failures in a
// row locked for Initial, doubling with each further failure up to Max, failures forgotten Forget
// after the last, and the number of keys bounded so that invented names cannot take the memory.
// It knows nothing of HTTP, credentials or answers: its callers decide what a key is and how a
// locked caller is refused.
package lockout

import (
	"math"
	"sync"
	"time"
)

// Options configure a Table. The zero value of each field picks the documented default.
type Options struct {
	Free    int           // failures in a row allowed before a key is locked (default 5)
	Initial time.Duration // the first lock (default 1s); each further failure doubles it
	Max     time.Duration // the longest lock (default 5m)
	Forget  time.Duration // failures are forgotten this long after the last (default 15m)
	// MaxKeys bounds the keys remembered (default 100000); past it, keys not locked are forgotten
	// first, so that a flood of invented user names cannot take the memory.
	MaxKeys int
}

func (o *Options) defaults() {
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

// Key is what failures are counted against: a scope ("address", "application", "name") and its
// value.
type Key struct{ Scope, Value string }

type entry struct {
	failures int
	last     time.Time // of the last failure
	until    time.Time // Locked until; zero: not locked
}

// Table counts failures per Key and locks keys (safe for concurrent use).
type Table struct {
	opt Options
	mu  sync.Mutex
	m   map[Key]*entry
}

// New returns an empty Table.
func New(opt Options) *Table {
	opt.defaults()
	return &Table{opt: opt, m: map[Key]*entry{}}
}

// Locked returns how long k stays locked at now (0: not locked).
func (t *Table) Locked(k Key, now time.Time) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.m[k]
	if !ok || !now.Before(e.until) {
		return 0
	}
	return e.until.Sub(now)
}

// Admit is Locked, and more: a key whose next failure would lock it is locked now for that time
// while its one attempt is checked, so that when a lock runs out many concurrent guesses cannot
// each start a password check before the first of them fails (Failed keeps the lock; a success
// of the address clears it).
func (t *Table) Admit(k Key, now time.Time) time.Duration {
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
func (t *Table) lockFor(failures int) time.Duration {
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

// Failed counts a refusal of k at now and returns the lock it starts (0: none yet).
func (t *Table) Failed(k Key, now time.Time) time.Duration {
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
		e = &entry{}
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

// Succeeded forgets k's failures.
func (t *Table) Succeeded(k Key) {
	t.mu.Lock()
	delete(t.m, k)
	t.mu.Unlock()
}

// pruneLocked forgets keys whose failures are forgotten, then, if still full, every key not
// Locked now. t.mu is held.
func (t *Table) pruneLocked(now time.Time) {
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

package gateway

import (
	"testing"
	"time"
)

// The lock of a key starts after Free failures in a row, doubles with each further failure up to
// Max, is forgotten Forget after the last failure, and a success clears it.
func TestThrottleLocks(t *testing.T) {
	th := newThrottle(ThrottleOptions{Free: 3, Initial: time.Second, Max: 5 * time.Second, Forget: time.Minute})
	k := throttleKey{"address", "192.0.2.1"}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, want := range []time.Duration{0, 0, 0, time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second} {
		if got := th.failed(k, t0); got != want {
			t.Fatalf("failure %d: lock %v, want %v", i+1, got, want)
		}
	}
	if got := th.locked(k, t0.Add(4*time.Second)); got != time.Second {
		t.Errorf("locked 4s after a 5s lock: %v left, want 1s", got)
	}
	if got := th.locked(k, t0.Add(5*time.Second)); got != 0 {
		t.Errorf("locked when the lock ran out: %v", got)
	}
	if got := th.locked(throttleKey{"application", "192.0.2.1"}, t0); got != 0 {
		t.Errorf("another scope is locked: %v", got)
	}
	if got := th.failed(k, t0.Add(2*time.Minute)); got != 0 {
		t.Errorf("a failure after Forget: lock %v, want none (the count starts again)", got)
	}
	th.failed(k, t0)
	th.failed(k, t0)
	th.failed(k, t0)
	th.succeeded(k)
	if got := th.failed(k, t0); got != 0 {
		t.Errorf("a failure after a success: lock %v, want none", got)
	}
}

// A flood of invented keys is bounded by MaxKeys, and locked keys are kept.
func TestThrottleMaxKeys(t *testing.T) {
	th := newThrottle(ThrottleOptions{Free: 1, MaxKeys: 10})
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	locked := throttleKey{"application", "sil"}
	th.failed(locked, now)
	th.failed(locked, now)
	for i := range 1000 {
		th.failed(throttleKey{"application", string(rune('a'+i%26)) + string(rune(i))}, now)
	}
	if n := len(th.m); n > 10 {
		t.Errorf("%d keys remembered, want at most 10", n)
	}
	if th.locked(locked, now) == 0 {
		t.Error("the locked key was forgotten")
	}
}

// Once a key's next failure would lock it, one attempt is admitted and the others wait for its
// outcome: a lock running out does not let a burst of guesses through.
func TestThrottleAdmitsOneProbe(t *testing.T) {
	th := newThrottle(ThrottleOptions{Free: 2, Initial: time.Second})
	k := throttleKey{"application", "sil"}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for range 2 {
		if th.admit(k, now) != 0 {
			t.Fatal("an attempt within the free failures was refused")
		}
		th.failed(k, now)
	}
	if th.admit(k, now) != 0 {
		t.Fatal("the probe after the free failures was refused")
	}
	if got := th.admit(k, now); got != time.Second {
		t.Errorf("a second attempt while the probe runs: wait %v, want 1s", got)
	}
	th.failed(k, now) // the probe failed: locked 1s
	later := now.Add(time.Second)
	if th.admit(k, later) != 0 {
		t.Fatal("the probe after the lock was refused")
	}
	if got := th.admit(k, later); got != 2*time.Second {
		t.Errorf("a second attempt after the lock: wait %v, want 2s", got)
	}
}

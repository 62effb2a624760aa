package lockout

import (
	"testing"
	"time"
)

// The lock of a key starts after Free failures in a row, doubles with each further failure up to
// Max, is forgotten Forget after the last failure, and a success clears it.
func TestThrottleLocks(t *testing.T) {
	th := New(Options{Free: 3, Initial: time.Second, Max: 5 * time.Second, Forget: time.Minute})
	k := Key{"address", "192.0.2.1"}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, want := range []time.Duration{0, 0, 0, time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second} {
		if got := th.Failed(k, t0); got != want {
			t.Fatalf("failure %d: lock %v, want %v", i+1, got, want)
		}
	}
	if got := th.Locked(k, t0.Add(4*time.Second)); got != time.Second {
		t.Errorf("locked 4s after a 5s lock: %v left, want 1s", got)
	}
	if got := th.Locked(k, t0.Add(5*time.Second)); got != 0 {
		t.Errorf("locked when the lock ran out: %v", got)
	}
	if got := th.Locked(Key{"application", "192.0.2.1"}, t0); got != 0 {
		t.Errorf("another scope is locked: %v", got)
	}
	if got := th.Failed(k, t0.Add(2*time.Minute)); got != 0 {
		t.Errorf("a failure after Forget: lock %v, want none (the count starts again)", got)
	}
	th.Failed(k, t0)
	th.Failed(k, t0)
	th.Failed(k, t0)
	th.Succeeded(k)
	if got := th.Failed(k, t0); got != 0 {
		t.Errorf("a failure after a success: lock %v, want none", got)
	}
}

// A flood of invented keys is bounded by MaxKeys, and locked keys are kept.
func TestThrottleMaxKeys(t *testing.T) {
	th := New(Options{Free: 1, MaxKeys: 10})
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	locked := Key{"application", "sil"}
	th.Failed(locked, now)
	th.Failed(locked, now)
	for i := range 1000 {
		th.Failed(Key{"application", string(rune('a'+i%26)) + string(rune(i))}, now)
	}
	if n := len(th.m); n > 10 {
		t.Errorf("%d keys remembered, want at most 10", n)
	}
	if th.Locked(locked, now) == 0 {
		t.Error("the locked key was forgotten")
	}
}

// Once a key's next failure would lock it, one attempt is admitted and the others wait for its
// outcome: a lock running out does not let a burst of guesses through.
func TestThrottleAdmitsOneProbe(t *testing.T) {
	th := New(Options{Free: 2, Initial: time.Second})
	k := Key{"application", "sil"}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for range 2 {
		if th.Admit(k, now) != 0 {
			t.Fatal("an attempt within the free failures was refused")
		}
		th.Failed(k, now)
	}
	if th.Admit(k, now) != 0 {
		t.Fatal("the probe after the free failures was refused")
	}
	if got := th.Admit(k, now); got != time.Second {
		t.Errorf("a second attempt while the probe runs: wait %v, want 1s", got)
	}
	th.Failed(k, now) // the probe failed: locked 1s
	later := now.Add(time.Second)
	if th.Admit(k, later) != 0 {
		t.Fatal("the probe after the lock was refused")
	}
	if got := th.Admit(k, later); got != 2*time.Second {
		t.Errorf("a second attempt after the lock: wait %v, want 2s", got)
	}
}

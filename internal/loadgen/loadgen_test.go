package loadgen

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	for _, tc := range []struct {
		p    float64
		want time.Duration
	}{{50, 50 * time.Millisecond}, {90, 90 * time.Millisecond}, {99, 99 * time.Millisecond}, {100, 100 * time.Millisecond}, {0, time.Millisecond}} {
		if got := Percentile(d, tc.p); got != tc.want {
			t.Errorf("Percentile(%v) = %v, want %v", tc.p, got, tc.want)
		}
	}
	if Percentile(nil, 50) != 0 {
		t.Error("empty input must give 0")
	}
}

func TestRunCountsOpsAndErrors(t *testing.T) {
	r, err := Run(context.Background(), Config{Concurrency: 2, MaxOps: 200}, func(ctx context.Context, w int) error {
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if r.Ops < 200 || r.Errors != 0 || r.FirstError != nil {
		t.Fatalf("got %+v", r)
	}
	if r.PeakRSS <= 0 {
		t.Fatalf("peak RSS not measured: %d", r.PeakRSS)
	}
	boom := errors.New("boom")
	r, _ = Run(context.Background(), Config{Concurrency: 1, Duration: 20 * time.Millisecond}, func(ctx context.Context, w int) error {
		time.Sleep(time.Millisecond)
		return boom
	})
	if r.Errors == 0 || !errors.Is(r.FirstError, boom) || r.Ops != 0 {
		t.Fatalf("errors not counted: %+v", r)
	}
}

func TestRate(t *testing.T) {
	rate, err := Rate(context.Background(), 20*time.Millisecond, func() error { return nil })
	if err != nil || rate <= 0 {
		t.Fatalf("rate %v err %v", rate, err)
	}
}

// TestPaced: with Rate set, operations are due at that rate whatever the workers could do, and an
// operation that starts late counts its wait: one worker behind a 20 ms operation at 200/s sees
// its latencies grow, where a closed loop would report 20 ms.
func TestPaced(t *testing.T) {
	r, err := Run(context.Background(), Config{Concurrency: 4, Duration: 500 * time.Millisecond, Rate: 200}, func(ctx context.Context, w int) error {
		time.Sleep(time.Millisecond)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// At most the rate allows (a closed loop would do thousands); a loaded machine may do fewer.
	if r.Ops < 20 || r.Ops > 110 {
		t.Errorf("%d operations in 0.5 s at 200/s, want about 100 and never more", r.Ops)
	}
	r, err = Run(context.Background(), Config{Concurrency: 1, Duration: 300 * time.Millisecond, Rate: 200}, func(ctx context.Context, w int) error {
		time.Sleep(20 * time.Millisecond)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if r.P99 < 100*time.Millisecond {
		t.Errorf("p99 %v: the wait for a late start is not counted", r.P99)
	}
}

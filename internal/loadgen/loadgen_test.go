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

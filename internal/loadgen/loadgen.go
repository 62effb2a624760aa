// Package loadgen drives a closed-loop load against a function and measures what a benchmark
// report needs: throughput, latency percentiles, errors, CPU time and allocations of this process
// per operation, and peak resident memory. It also measures reference rates (how many operations
// of a kind all cores can do per second), so a result can be stated as a fraction of a hard limit
// measured in the same run.
//
// It knows nothing about gateways or SOAP: `porta bench` composes it with the real thing. It lives
// under internal/ because it is tooling for measurements, not part of the gateway's design.
package loadgen

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Config sets the shape of a run.
type Config struct {
	Concurrency int           // workers, each issuing one operation at a time (closed loop)
	Warmup      time.Duration // operations run but are not measured
	Duration    time.Duration // the measured window
	// MaxOps, when positive, stops the measured window after that many operations.
	MaxOps int64
	// Rate, when positive, makes the load open: operations are due at Rate per second, evenly
	// spaced, each taken by the next free worker, and an operation's latency runs from when it was
	// due, not from when a worker could start it (a late start is latency, as its caller would see
	// it). Concurrency bounds the operations under way; with too few workers the rate is not met
	// and the latencies say so.
	Rate float64
}

// Result is what one run measured. Latencies are of the measured window only.
type Result struct {
	Ops                int64         // operations completed without error in the window
	Errors             int64         // operations that returned an error in the window
	FirstError         error         // the first error seen (warm-up included), for the report
	Elapsed            time.Duration // length of the measured window
	P50, P90, P99, Max time.Duration
	CPU                time.Duration // user+system CPU of this process during the window
	Mallocs            uint64        // heap allocations of this process during the window
	PeakRSS            int64         // bytes, peak resident set of this process so far
}

// PerSecond is the throughput of the measured window.
func (r Result) PerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Ops) / r.Elapsed.Seconds()
}

// CPUPerOp is the process CPU time spent per successful operation.
func (r Result) CPUPerOp() time.Duration {
	if r.Ops == 0 {
		return 0
	}
	return r.CPU / time.Duration(r.Ops)
}

// AllocsPerOp is the number of heap allocations of the process per successful operation.
func (r Result) AllocsPerOp() float64 {
	if r.Ops == 0 {
		return 0
	}
	return float64(r.Mallocs) / float64(r.Ops)
}

// Run calls op from cfg.Concurrency goroutines until the warm-up and the measured window have
// passed (or ctx ends), and reports the window. op receives the worker's index.
func Run(ctx context.Context, cfg Config, op func(ctx context.Context, worker int) error) (Result, error) {
	if cfg.Concurrency <= 0 {
		return Result{}, errors.New("loadgen: concurrency must be positive")
	}
	if cfg.Duration <= 0 && cfg.MaxOps <= 0 {
		return Result{}, errors.New("loadgen: set a duration or a number of operations")
	}
	var (
		measuring atomic.Bool
		stop      atomic.Bool
		ops, errs atomic.Int64
		firstErr  atomic.Pointer[error]
		wg        sync.WaitGroup
		slot      atomic.Int64 // paced: the next operation due
	)
	begin := time.Now()
	// due returns when the next operation is due (now, for a closed loop), waiting until then.
	due := func() time.Time {
		if cfg.Rate <= 0 {
			return time.Now()
		}
		at := begin.Add(time.Duration(float64(slot.Add(1)-1) / cfg.Rate * float64(time.Second)))
		if d := time.Until(at); d > 0 {
			sleepCtx(ctx, d)
		}
		return at
	}
	lat := make([][]time.Duration, cfg.Concurrency)
	for w := 0; w < cfg.Concurrency; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			local := make([]time.Duration, 0, 1024)
			for !stop.Load() && ctx.Err() == nil {
				start := due()
				if stop.Load() || ctx.Err() != nil {
					break
				}
				m := measuring.Load()
				err := op(ctx, w)
				d := time.Since(start)
				if err != nil {
					if firstErr.Load() == nil {
						e := fmt.Errorf("worker %d: %w", w, err)
						firstErr.CompareAndSwap(nil, &e)
					}
					if m && measuring.Load() {
						errs.Add(1)
					}
					continue
				}
				if m && measuring.Load() {
					local = append(local, d)
					if n := ops.Add(1); cfg.MaxOps > 0 && n >= cfg.MaxOps {
						stop.Store(true)
					}
				}
			}
			lat[w] = local
		}(w)
	}
	if cfg.Warmup > 0 {
		sleepCtx(ctx, cfg.Warmup)
	}
	cpu0 := ProcessCPU()
	var ms0 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	t0 := time.Now()
	measuring.Store(true)
	if cfg.Duration > 0 {
		deadline := time.Now().Add(cfg.Duration)
		for time.Now().Before(deadline) && !stop.Load() && ctx.Err() == nil {
			sleepCtx(ctx, min(10*time.Millisecond, time.Until(deadline)))
		}
	} else {
		for !stop.Load() && ctx.Err() == nil {
			sleepCtx(ctx, 5*time.Millisecond)
		}
	}
	measuring.Store(false)
	elapsed := time.Since(t0)
	cpu1 := ProcessCPU()
	var ms1 runtime.MemStats
	runtime.ReadMemStats(&ms1)
	stop.Store(true)
	wg.Wait()

	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	r := Result{
		Ops:     int64(len(all)),
		Errors:  errs.Load(),
		Elapsed: elapsed,
		P50:     Percentile(all, 50),
		P90:     Percentile(all, 90),
		P99:     Percentile(all, 99),
		CPU:     cpu1 - cpu0,
		Mallocs: ms1.Mallocs - ms0.Mallocs,
		PeakRSS: PeakRSS(),
	}
	if len(all) > 0 {
		r.Max = all[len(all)-1]
	}
	if p := firstErr.Load(); p != nil {
		r.FirstError = *p
	}
	return r, ctx.Err()
}

// Percentile returns the p-th percentile (nearest rank) of sorted durations.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	rank = max(0, min(rank, len(sorted)-1))
	return sorted[rank]
}

// Rate measures how many times per second op can run on every core at once (GOMAXPROCS
// goroutines) over d. It is how a benchmark measures a hard limit, such as signatures per second.
func Rate(ctx context.Context, d time.Duration, op func() error) (float64, error) {
	n := runtime.GOMAXPROCS(0)
	var count atomic.Int64
	var firstErr atomic.Pointer[error]
	var wg sync.WaitGroup
	deadline := time.Now().Add(d)
	start := time.Now()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) && ctx.Err() == nil {
				if err := op(); err != nil {
					firstErr.CompareAndSwap(nil, &err)
					return
				}
				count.Add(1)
			}
		}()
	}
	wg.Wait()
	if p := firstErr.Load(); p != nil {
		return 0, *p
	}
	return float64(count.Load()) / time.Since(start).Seconds(), nil
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func ProcessCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// PeakRSS returns the peak resident set size of this process in bytes (VmHWM from
// /proc/self/status, else getrusage's ru_maxrss).
func PeakRSS() int64 {
	if n, err := ProcStatus(os.Getpid(), "VmHWM"); err == nil {
		return n
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		return ru.Maxrss * 1024
	}
	return 0
}

// ProcStatus returns a size field of process pid's /proc/PID/status (VmHWM, VmRSS, ...) in bytes.
func ProcStatus(pid int, field string) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			if f := strings.Fields(rest); len(f) >= 1 {
				if kb, err := strconv.ParseInt(f[0], 10, 64); err == nil {
					return kb * 1024, nil
				}
			}
		}
	}
	return 0, fmt.Errorf("/proc/%d/status: no %s", pid, field)
}

// ResetPeakRSS asks the kernel to restart the peak-RSS count (writing 5 to clear_refs resets
// VmHWM on Linux); it is best effort and returns whether it worked.
func ResetPeakRSS() bool {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

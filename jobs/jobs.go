// Package jobs runs porta serve's scheduled jobs: the provincial commands (porta sil send, sync
// anagrafe, sync scuole, failures retry) that porta.yaml's jobs list runs on a schedule inside
// the gateway. It owns when a job runs (Schedule), on which node (a lease in the store, so that
// the nodes sharing a PostgreSQL store run each job once per schedule slot and one at a time, and
// a dead node's job is taken over when its lease runs out), what the job runs since (its mark,
// the start of its last successful run) and what happened (each run's history and the metrics).
//
// It exists apart from cmd/porta, which owns the commands, so that the scheduling rules can be
// read and tested without the command table, and apart from gateway, which serves messages and
// never runs local applications: a job is a local application of the gateway's own Porta
// Delegata. It must not import cmd/porta or gateway; the store is package audit's (ClaimJob,
// RenewJob, StartJobRun, FinishJob, JobStates), behind the Store interface.
package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"porta/audit"
)

// Counts are what a run did, by name (sent, acknowledged, rejected, merged, ...), kept in its
// history.
type Counts map[string]int64

// Func runs a job once. since is the job's mark: the start of its last successful run, zero
// when it never succeeded. It returns when done or when ctx is cancelled (then with ctx's error).
type Func func(ctx context.Context, since time.Time) (Counts, error)

// Job is one entry of porta.yaml's jobs.
type Job struct {
	Name string
	Next func(time.Time) time.Time // the first due time after an instant: Schedule.Next
	Run  Func
}

// Store is what the scheduler needs of the gateway's store (package audit implements it).
type Store interface {
	ClaimJob(ctx context.Context, job, owner string, lease time.Duration, next func(time.Time) time.Time) (*audit.JobState, bool, error)
	RenewJob(ctx context.Context, job, owner string, lease time.Duration) error
	StartJobRun(ctx context.Context, r *audit.JobRun) error
	FinishJob(ctx context.Context, r *audit.JobRun) error
	JobStates(ctx context.Context) ([]*audit.JobState, error)
}

// Scheduler runs Jobs on this node when the store lets it.
type Scheduler struct {
	Store Store
	Node  string // this node's name: the lease owner and the run's node in the history
	Jobs  []Job
	// Lease is how long a claim holds a job without renewal; a running job renews it every
	// Lease/3, so a dead node's job is taken over within Lease. Default 1m.
	Lease  time.Duration
	Now    func() time.Time // default time.Now
	Logger *slog.Logger     // default slog.Default()

	wakeMu sync.Mutex
	wake   map[string]chan struct{} // per job: Wake's signal to look at the store now
}

// Wake makes this node look at job now instead of at its next planned look: after an operator
// made it due (audit.Store.MakeJobDue), so the run starts at once rather than within Lease. It
// reports whether the scheduler has a job of that name. Other nodes see the job due at their
// next look.
func (s *Scheduler) Wake(job string) bool {
	found := false
	for _, j := range s.Jobs {
		found = found || j.Name == job
	}
	if found {
		select {
		case s.wakeup(job) <- struct{}{}:
		default: // a wake-up is already pending
		}
	}
	return found
}

func (s *Scheduler) wakeup(job string) chan struct{} {
	s.wakeMu.Lock()
	defer s.wakeMu.Unlock()
	if s.wake == nil {
		s.wake = map[string]chan struct{}{}
	}
	c, ok := s.wake[job]
	if !ok {
		c = make(chan struct{}, 1)
		s.wake[job] = c
	}
	return c
}

// MinWait is the shortest pause between two looks at a job another node holds or that is not
// due, so that a clock difference between nodes cannot make a node spin.
const MinWait = 100 * time.Millisecond

var errLeaseLost = errors.New("another node took the job's lease over")

// Run runs the jobs until ctx is cancelled, then cancels the runs in progress (each is recorded
// as cancelled and its job made due again for another node), and returns when they have ended.
// A job's failure or panic is recorded and logged; it never stops the scheduler.
func (s *Scheduler) Run(ctx context.Context) {
	if s.Lease <= 0 {
		s.Lease = time.Minute
	}
	if s.Now == nil {
		s.Now = time.Now
	}
	if s.Logger == nil {
		s.Logger = slog.Default()
	}
	var wg sync.WaitGroup
	for _, j := range s.Jobs {
		wg.Add(1)
		go func() { defer wg.Done(); s.loop(ctx, j) }()
	}
	wg.Wait()
}

func (s *Scheduler) loop(ctx context.Context, j Job) {
	log := s.Logger.With("job", j.Name)
	wake := s.wakeup(j.Name)
	for ctx.Err() == nil {
		st, claimed, err := s.Store.ClaimJob(ctx, j.Name, s.Node, s.Lease, j.Next)
		wait := s.Lease / 3
		switch {
		case err != nil:
			if ctx.Err() == nil {
				log.Error("job: cannot claim", "err", err)
			}
		case claimed:
			s.runOnce(ctx, j, st, log)
			continue
		default:
			wake := st.Due
			if st.Owner != "" {
				wake = st.LeaseUntil
			}
			wait = min(max(wake.Sub(s.Now()), MinWait), s.Lease)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
		case <-t.C:
		case <-wake:
		}
		t.Stop()
	}
}

// runOnce runs a claimed job, renewing its lease meanwhile, and records the outcome.
func (s *Scheduler) runOnce(ctx context.Context, j Job, st *audit.JobState, log *slog.Logger) {
	// The records outlive a shutdown: they are written after ctx is cancelled.
	bg := context.WithoutCancel(ctx)
	r := &audit.JobRun{Job: j.Name, Node: s.Node, Started: s.Now(), Since: st.Mark}
	if err := s.Store.StartJobRun(bg, r); err != nil {
		log.Error("job: cannot record its start; not run", "err", err)
		return // the lease runs out and the job is taken over
	}
	log.Info("job: started", "run", r.ID, "since", r.Since)
	rctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var hb sync.WaitGroup
	hb.Add(1)
	go func() { defer hb.Done(); s.heartbeat(rctx, cancel, j.Name, log) }()
	counts, err := safeRun(rctx, j.Run, r.Since)
	cancel(nil)
	hb.Wait()

	r.Ended, r.Counts = s.Now(), counts
	switch {
	case err == nil:
		r.Outcome = audit.JobOK
	case rctx.Err() != nil && (ctx.Err() != nil || errors.Is(context.Cause(rctx), errLeaseLost)):
		r.Outcome, r.Error = audit.JobCancelled, err.Error()
		if c := context.Cause(rctx); errors.Is(c, errLeaseLost) {
			r.Error = c.Error() + ": " + err.Error()
		}
	default:
		r.Outcome, r.Error = audit.JobFailed, err.Error()
	}
	fctx, fcancel := context.WithTimeout(bg, 10*time.Second)
	defer fcancel()
	if ferr := s.Store.FinishJob(fctx, r); ferr != nil {
		log.Error("job: cannot record its end", "run", r.ID, "outcome", r.Outcome, "err", ferr)
	}
	attrs := []any{"run", r.ID, "outcome", r.Outcome, "seconds", r.Ended.Sub(r.Started).Seconds(), "counts", counts}
	if err != nil {
		log.Error("job: ended", append(attrs, "err", err)...)
	} else {
		log.Info("job: ended", attrs...)
	}
}

// heartbeat renews the lease every Lease/3 until ctx ends; when another node holds the lease, or
// the store could not renew it for a whole Lease (the lease may be gone), it cancels the run.
func (s *Scheduler) heartbeat(ctx context.Context, cancel context.CancelCauseFunc, job string, log *slog.Logger) {
	t := time.NewTicker(s.Lease / 3)
	defer t.Stop()
	renewed := s.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := s.Store.RenewJob(ctx, job, s.Node, s.Lease)
		switch {
		case err == nil:
			renewed = s.Now()
		case errors.Is(err, audit.ErrJobLease):
			cancel(errLeaseLost)
			return
		case ctx.Err() == nil:
			log.Error("job: cannot renew its lease", "err", err)
			if s.Now().Sub(renewed) >= s.Lease {
				cancel(fmt.Errorf("%w: not renewed for %v", errLeaseLost, s.Lease))
				return
			}
		}
	}
}

// safeRun turns a panic of the job into its error.
func safeRun(ctx context.Context, f Func, since time.Time) (c Counts, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return f(ctx, since)
}

package jobs

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"porta/audit"
	"porta/internal/pgtest"
)

var pg pgtest.Shared

func TestMain(m *testing.M) { os.Exit(pg.Run(m)) }

func openStore(t *testing.T, dsn, node string) *audit.Store {
	t.Helper()
	s, err := audit.Open(context.Background(), dsn, audit.Options{Node: node})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// always makes a job due again as soon as it ends, so a test steps through runs without waiting
// for a schedule.
func always(t time.Time) time.Time { return t }

func TestScheduleNext(t *testing.T) {
	rome, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		t.Skip("no time zone data:", err)
	}
	at := func(s string) time.Time {
		v, err := time.ParseInLocation(time.DateTime, s, rome)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tc := range []struct {
		every, at time.Duration
		t, want   string
	}{
		{15 * time.Minute, 0, "2026-11-28 10:07:00", "2026-11-28 10:15:00"},
		{15 * time.Minute, 0, "2026-11-28 10:15:00", "2026-11-28 10:30:00"}, // strictly after
		{15 * time.Minute, 5 * time.Minute, "2026-11-28 10:07:00", "2026-11-28 10:20:00"},
		{24 * time.Hour, 150 * time.Minute, "2026-11-28 01:00:00", "2026-11-28 02:30:00"},
		{24 * time.Hour, 150 * time.Minute, "2026-11-28 02:30:00", "2026-11-29 02:30:00"},
		{7 * time.Hour, 0, "2026-11-28 22:00:00", "2026-11-29 00:00:00"}, // the count starts again each midnight
		{7 * time.Hour, 0, "2026-11-28 20:59:59", "2026-11-28 21:00:00"},
		{time.Hour, 0, "2026-10-25 23:30:00", "2026-10-26 00:00:00"}, // the 25-hour day DST ends on
	} {
		s := Schedule{Every: tc.every, At: tc.at, Loc: rome}
		got := s.Next(at(tc.t)).In(rome)
		want := at(tc.want)
		if !got.Equal(want) {
			t.Errorf("every %v at %v after %s: %s, want %s", tc.every, tc.at, tc.t, got.Format(time.DateTime), want.Format(time.DateTime))
		}
	}
	for _, s := range []Schedule{{Every: 0}, {Every: 25 * time.Hour}, {Every: time.Hour, At: 24 * time.Hour}, {Every: time.Hour, At: -time.Minute}} {
		if s.Check() == nil {
			t.Errorf("%+v: accepted", s)
		}
	}
}

// stepper is a job the test drives run by run: each run reports its since and waits for the
// test's answer (an error, a panic, or nil); cancelled runs return their context's error.
type stepper struct {
	since  chan time.Time
	answer chan func() error
}

func newStepper() *stepper {
	return &stepper{since: make(chan time.Time), answer: make(chan func() error)}
}

func (s *stepper) run(ctx context.Context, since time.Time) (Counts, error) {
	select {
	case s.since <- since:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case f := <-s.answer:
		return Counts{"sent": 1}, f()
	case <-ctx.Done():
		return Counts{"sent": 0}, ctx.Err()
	}
}

func TestMarkAdvancesOnlyOnSuccess(t *testing.T) {
	st := openStore(t, "sqlite:"+filepath.Join(t.TempDir(), "porta.db"), "n1")
	job := newStepper()
	sched := &Scheduler{Store: st, Node: "n1", Jobs: []Job{{Name: "sap", Next: always, Run: job.run}}, Lease: time.Minute}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { sched.Run(ctx); close(done) }()

	lastRun := func() *audit.JobRun {
		t.Helper()
		runs, err := st.JobRuns(context.Background(), "sap", 1)
		if err != nil || len(runs) != 1 {
			t.Fatalf("runs %v, %v", runs, err)
		}
		return runs[0]
	}
	var zero time.Time
	step := func(wantSince time.Time, answer func() error) *audit.JobRun {
		t.Helper()
		if got := <-job.since; !got.Equal(wantSince) {
			t.Fatalf("the run started since %v, want %v", got, wantSince)
		}
		r := lastRun()
		job.answer <- answer
		return r
	}
	step(zero, func() error { return errors.New("the PD is down") })
	step(zero, func() error { panic("a bug") })
	ok := step(zero, func() error { return nil })
	ok2 := step(ok.Started, func() error { return nil })
	// A run going when the node stops is cancelled, and the mark stays.
	if got := <-job.since; !got.Equal(ok2.Started) {
		t.Fatalf("fifth run since %v, want %v", got, ok2.Started)
	}
	cancel()
	<-done

	runs, err := st.JobRuns(context.Background(), "", 10)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{audit.JobCancelled, audit.JobOK, audit.JobOK, audit.JobFailed, audit.JobFailed}
	if len(runs) != len(want) {
		t.Fatalf("%d runs, want %d: %+v", len(runs), len(want), runs)
	}
	for i, r := range runs {
		if r.Outcome != want[i] || r.Ended.IsZero() || r.Node != "n1" {
			t.Errorf("run %d: %+v, want outcome %s, ended, on n1", r.ID, r, want[i])
		}
	}
	if runs[3].Error != "panic: a bug" || runs[4].Error != "the PD is down" || runs[1].Counts["sent"] != 1 {
		t.Errorf("errors %q %q, counts %v", runs[3].Error, runs[4].Error, runs[1].Counts)
	}
	states, err := st.JobStates(context.Background())
	if err != nil || len(states) != 1 {
		t.Fatal(states, err)
	}
	s := states[0]
	if !s.Mark.Equal(ok2.Started) || s.Failures != 2 || s.Runs != 5 || s.Owner != "" || !s.LastOK.Equal(runs[1].Ended) {
		t.Errorf("state %+v: want mark %v, 2 failures, 5 runs, no owner", s, ok2.Started)
	}
}

// TestTwoNodesOneRun runs one job on two nodes sharing a PostgreSQL store, every 100ms: never
// two runs at once, never two in one schedule slot.
func TestTwoNodesOneRun(t *testing.T) {
	dsn := pg.DB(t)
	every := Schedule{Every: 100 * time.Millisecond, Loc: time.UTC}
	var mu sync.Mutex
	active, overlaps := 0, 0
	slots := map[time.Time]string{}
	var runs int
	enough := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	for _, node := range []string{"A", "B"} {
		st := openStore(t, dsn, node)
		job := func(ctx context.Context, since time.Time) (Counts, error) {
			mu.Lock()
			active++
			overlaps += active - 1
			mu.Unlock()
			time.Sleep(30 * time.Millisecond) // a run long enough for the other node to try
			mu.Lock()
			active--
			runs++
			if runs == 12 {
				close(enough)
			}
			mu.Unlock()
			return nil, nil
		}
		claims := claimRecorder{st, func(s *audit.JobState) {
			// A claim makes the job due at the slot after the claim's: one claim per slot.
			mu.Lock()
			defer mu.Unlock()
			if other, dup := slots[s.Due]; dup {
				t.Errorf("the slot before %s claimed by %s and by %s", s.Due.Format(time.TimeOnly+".000"), other, node)
			}
			slots[s.Due] = node
		}}
		sched := &Scheduler{Store: claims, Node: node, Jobs: []Job{{Name: "sap", Next: every.Next, Run: job}}, Lease: time.Second}
		wg.Add(1)
		go func() { defer wg.Done(); sched.Run(ctx) }()
	}
	select {
	case <-enough:
	case <-time.After(60 * time.Second):
		t.Fatal("12 runs did not happen in 60s")
	}
	cancel()
	wg.Wait()
	if overlaps != 0 {
		t.Errorf("%d runs overlapped another", overlaps)
	}
	st := openStore(t, dsn, "C")
	hist, err := st.JobRuns(context.Background(), "sap", 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range hist {
		if r.Outcome != audit.JobOK && r.Outcome != audit.JobCancelled {
			t.Errorf("run %+v", r)
		}
	}
	if len(hist) < 12 {
		t.Errorf("%d runs in the history, want at least 12", len(hist))
	}
}

// claimRecorder reports each claim a scheduler makes.
type claimRecorder struct {
	*audit.Store
	claimed func(*audit.JobState)
}

func (c claimRecorder) ClaimJob(ctx context.Context, job, owner string, lease time.Duration, next func(time.Time) time.Time) (*audit.JobState, bool, error) {
	st, ok, err := c.Store.ClaimJob(ctx, job, owner, lease, next)
	if ok {
		c.claimed(st)
	}
	return st, ok, err
}

// TestCrashedNodeTakenOver: node A claims the job and dies mid-run; node B takes it over once A's
// lease runs out (not before), records A's run as abandoned, and runs it from the same mark.
func TestCrashedNodeTakenOver(t *testing.T) {
	dsn := pg.DB(t)
	a, b := openStore(t, dsn, "A"), openStore(t, dsn, "B")
	ctx := context.Background()
	lease := 300 * time.Millisecond
	stA, claimed, err := a.ClaimJob(ctx, "anagrafe", "A", lease, always)
	if err != nil || !claimed {
		t.Fatalf("A claims: %v %v", claimed, err)
	}
	dead := &audit.JobRun{Job: "anagrafe", Node: "A", Started: time.Now()}
	if err := a.StartJobRun(ctx, dead); err != nil {
		t.Fatal(err)
	}
	if _, claimed, err := b.ClaimJob(ctx, "anagrafe", "B", lease, always); err != nil || claimed {
		t.Fatalf("B claimed a job A holds: %v %v", claimed, err)
	}
	job := newStepper()
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		(&Scheduler{Store: b, Node: "B", Jobs: []Job{{Name: "anagrafe", Next: always, Run: job.run}}, Lease: lease}).Run(sctx)
		close(done)
	}()
	<-job.since
	taken := time.Now()
	job.answer <- func() error { return nil }
	<-job.since // the next run
	cancel()
	<-done
	if taken.Before(stA.LeaseUntil) {
		t.Errorf("B took the job over at %v, before A's lease ran out at %v", taken, stA.LeaseUntil)
	}
	runs, err := b.JobRuns(ctx, "anagrafe", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 3 || runs[2].ID != dead.ID || runs[2].Outcome != audit.JobAbandoned || runs[1].Outcome != audit.JobOK || runs[1].Node != "B" {
		t.Fatalf("runs %+v %+v %+v: want A's abandoned, then B's ok and cancelled", runs[2], runs[1], runs[0])
	}
	// A comes back and finishes its run late: recorded, but the job is not A's any more.
	dead.Ended, dead.Outcome = time.Now(), audit.JobOK
	if err := a.FinishJob(ctx, dead); !errors.Is(err, audit.ErrJobLease) {
		t.Errorf("A finished a run it lost the lease of: %v", err)
	}
}

package ops

import (
	"context"
	"log/slog"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"porta/jobs"
)

// An operator runs a job now: it is made due in the store and this node's scheduler, woken,
// runs it at once instead of at its schedule; the run is in the listing.
func TestRunJobNow(t *testing.T) {
	s := newStore(t, nil)
	var runs atomic.Int32
	sched := &jobs.Scheduler{Store: s, Node: "gw1", Lease: time.Hour, Logger: slog.New(slog.DiscardHandler), Jobs: []jobs.Job{{
		Name: "nightly",
		// Due tomorrow: only an operator's run makes it run in this test.
		Next: func(t time.Time) time.Time { return t.Add(24 * time.Hour) },
		Run: func(ctx context.Context, since time.Time) (jobs.Counts, error) {
			runs.Add(1)
			return jobs.Counts{"sent": 3}, nil
		},
	}}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); sched.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	_, srv := server(t, Options{Store: s, Jobs: []JobInfo{{Name: "nightly", Schedule: "every 24h at 02:30", Command: "sil send --what sap"}}, Wake: sched.Wake})

	r := do(t, srv, req{path: "/api/v1/jobs", user: "vera"}).want(t, "jobs", http.StatusOK)
	if items := r.json["items"].([]any); len(items) != 1 || items[0].(map[string]any)["command"] != "sil send --what sap" {
		t.Fatalf("jobs: %s", r.body)
	}
	do(t, srv, req{method: "POST", path: "/api/v1/jobs/nightly/run", user: "vera"}).want(t, "a viewer runs a job", http.StatusForbidden)
	do(t, srv, req{method: "POST", path: "/api/v1/jobs/weekly/run", user: "otto"}).want(t, "an unknown job", http.StatusNotFound)
	// Wait until the scheduler has looked at the job once (it is then not due until tomorrow).
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, _ := s.JobStates(context.Background())
		if len(st) == 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	do(t, srv, req{method: "POST", path: "/api/v1/jobs/nightly/run", user: "otto"}).want(t, "an operator runs a job", http.StatusAccepted)
	for runs.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if runs.Load() != 1 {
		t.Fatalf("the job ran %d times after the operator's run, want 1 (at once, not within the hour's lease)", runs.Load())
	}
	listed := false
	for !listed && time.Now().Before(deadline) {
		r = do(t, srv, req{path: "/api/v1/jobs", user: "vera"}).want(t, "jobs after the run", http.StatusOK)
		job := r.json["items"].([]any)[0].(map[string]any)
		if rs := job["runs"].([]any); len(rs) == 1 && rs[0].(map[string]any)["outcome"] == "ok" {
			if job["state"].(map[string]any)["runs"] == nil {
				t.Errorf("job state without runs: %v", job["state"])
			}
			listed = true
			continue
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !listed {
		t.Errorf("the run is not listed as ok: %s", r.body)
	}
	found := false
	for _, rec := range operatorActions(t, s) {
		found = found || rec.Outcome == ActionJobRun && rec.Application == "otto"
	}
	if !found {
		t.Error("the job run is not in the trail")
	}
}

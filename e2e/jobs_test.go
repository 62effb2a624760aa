package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"porta/internal/pgtest"
	"porta/internal/testenv"
)

// jobRun is a line of porta jobs history --json.
type jobRun struct {
	ID      int64     `json:"id"`
	Node    string    `json:"node"`
	Started time.Time `json:"started"`
	Ended   time.Time `json:"ended"`
	Outcome string    `json:"outcome"`
}

// TestJobsOnTwoNodes: two porta serve nodes of the province share one PostgreSQL store and list
// the same job, due every second. The job runs once per second in all, never on both nodes at
// once; when one node is killed with SIGKILL the other goes on running it.
func TestJobsOnTwoNodes(t *testing.T) {
	t.Parallel()
	if _, err := pgtest.Binaries(); err != nil {
		testenv.Missing(t, "PostgreSQL server binaries", "postgresql")
	}
	srv, err := pgtest.StartServer(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	dsn, err := srv.CreateDB()
	if err != nil {
		t.Fatal(err)
	}
	be := newBackend(t)
	p, _ := newSites(t, map[string]string{prov: be.URL, min_: be.URL})
	// failures retry with no open failure: a job that needs neither the PD nor the SIL.
	edit(t, p.cfg, "jobs: []", "jobs:\n  - {name: retry, every: 1s, run: [failures, retry]}")
	p2 := *p
	p2.cfg = filepath.Join(p.dir, "porta-2.yaml")
	b, err := os.ReadFile(p.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p2.cfg, []byte(strings.Replace(string(b), "node: Provincia-1", "node: Provincia-2", 1)), 0o644); err != nil {
		t.Fatal(err)
	}

	history := func() []jobRun {
		t.Helper()
		var runs []jobRun
		out := porta(t, "jobs", "history", "--config", p.cfg, "--store", dsn, "--json", "--limit", "1000")
		if err := json.Unmarshal([]byte(out), &runs); err != nil {
			t.Fatalf("jobs history --json: %v\n%s", err, out)
		}
		sort.Slice(runs, func(i, j int) bool { return runs[i].ID < runs[j].ID })
		return runs
	}
	ended := func(node string, after time.Time) int {
		n := 0
		for _, r := range history() {
			if (node == "" || r.Node == node) && r.Outcome == "ok" && r.Started.After(after) {
				n++
			}
		}
		return n
	}
	start := time.Now()
	g1 := serve(t, p, "provincia-1", "--store", dsn)
	serve(t, &p2, "provincia-2", "--store", dsn, "--pa-addr", "127.0.0.1:0")
	waitFor(t, "four runs", 30*time.Second, func() bool { return ended("", start) >= 4 })
	g1.proc.Kill()
	killed := time.Now()
	waitFor(t, "two runs by Provincia-2 after Provincia-1 died", 30*time.Second, func() bool { return ended("Provincia-2", killed) >= 2 })
	end := time.Now()

	runs := history()
	var done []jobRun
	for _, r := range runs {
		if r.Outcome == "running" || r.Outcome == "abandoned" {
			continue // the killed node's last run, or the survivor's current one
		}
		if r.Outcome != "ok" {
			t.Errorf("run %+v", r)
		}
		done = append(done, r)
	}
	for i := 1; i < len(done); i++ {
		if done[i].Started.Before(done[i-1].Ended) {
			t.Errorf("run %d on %s started at %s, before run %d on %s ended at %s", done[i].ID, done[i].Node, done[i].Started.Format("15:04:05.000"),
				done[i-1].ID, done[i-1].Node, done[i-1].Ended.Format("15:04:05.000"))
		}
	}
	// One run per slot in all: two nodes each running it would make about twice as many.
	if slots := int(end.Sub(start)/time.Second) + 2; len(runs) > slots {
		t.Errorf("%d runs in %v (%d slots at most)", len(runs), end.Sub(start).Round(time.Millisecond), slots)
	}
	t.Logf("%d runs in %v", len(runs), end.Sub(start).Round(time.Millisecond))
}

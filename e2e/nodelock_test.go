package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"porta/internal/pgtest"
	"porta/internal/proctest"
)

// TestOneProcessPerNode (issue 10, finding 9): a second porta serve of the same porta.yaml (other
// ports) on the same store exits non-zero within 10 s, naming the node and the first process; on
// SQLite (the lock file beside the store) and on PostgreSQL (an advisory lock).
func TestOneProcessPerNode(t *testing.T) {
	t.Parallel()
	be := newBackend(t)
	p, _ := newSites(t, map[string]string{prov: be.URL, min_: be.URL})
	for _, c := range []struct{ name, store string }{{"sqlite", ""}, {"postgres", "pg"}} {
		t.Run(c.name, func(t *testing.T) {
			var extra []string
			if c.store == "pg" {
				extra = []string{"--store", pgtest.Start(t)}
			}
			first := serve(t, p, "first-"+c.name, extra...)
			defer first.proc.Stop(10 * time.Second)

			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			args := append([]string{"serve", "--config", p.cfg, "--pd-addr", "127.0.0.1:0", "--pa-addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0"}, extra...)
			start := time.Now()
			out, err := exec.CommandContext(ctx, proctest.Binary(t), args...).CombinedOutput()
			took := time.Since(start)
			t.Logf("second node exited after %v: %v\n%s", took, err, out)
			if err == nil || ctx.Err() != nil {
				t.Fatalf("the second porta serve of node %s: %v after %v, want a non-zero exit", prov+"-1", err, took)
			}
			if took > 10*time.Second {
				t.Errorf("the second porta serve exited after %v, want within 10s", took)
			}
			for _, want := range []string{"node " + prov + "-1", fmt.Sprintf("pid %d", first.proc.Pid())} {
				if !strings.Contains(string(out), want) {
					t.Errorf("its message does not name %q", want)
				}
			}
			if first.proc.Exited() {
				t.Fatal("the first node stopped")
			}
			if resp, body := first.mustCall(t, "/pd/Provincia/Ministero/Comunicazione/Invia", 1, nil); resp.StatusCode != 200 {
				t.Errorf("the first node after the second's attempt: %d\n%s", resp.StatusCode, body)
			}
		})
	}
}

package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"porta/internal/pgtest"
	"porta/internal/proctest"
	"porta/internal/testenv"
)

// TestTwoNodesOnPostgreSQL: each party runs two porta serve nodes of the same configuration but
// for the node id, on one throwaway PostgreSQL per party (--store postgres://...). The
// Provincia's application spreads its one-way messages over both PDs; the Ministero's nodes sit
// behind a round-robin TCP balancer at the PA address the Provincia's registry names. Mid-stream
// one node of each party is killed with SIGKILL and not restarted: the survivor takes over the
// dead node's leased outbox and inbox entries. Every message a PD answered 200 for reaches the
// backend, none twice after Porta-Message-ID (raw duplicates are logged), and porta trace
// verify passes on both databases with the chains of all four nodes.
func TestTwoNodesOnPostgreSQL(t *testing.T) {
	t.Parallel()
	t0 := time.Now()
	phase := func(what string) { t.Logf("%-28s at %v", what, time.Since(t0).Round(time.Millisecond)) }
	if _, err := pgtest.Binaries(); err != nil {
		testenv.Missing(t, "PostgreSQL server binaries", "postgresql")
	}
	srv, err := pgtest.StartServer(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	dsnP, err := srv.CreateDB()
	if err != nil {
		t.Fatal(err)
	}
	dsnM, err := srv.CreateDB()
	if err != nil {
		t.Fatal(err)
	}

	phase("PostgreSQL up")
	be := newBackend(t)
	p, m := newSites(t, map[string]string{prov: be.URL, min_: be.URL})
	phase("sites written")
	second := func(s *site) *site {
		s2 := *s
		s2.cfg = filepath.Join(s.dir, "porta-2.yaml")
		b, err := os.ReadFile(s.cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(s2.cfg, []byte(strings.Replace(string(b), "node: "+s.name+"-1", "node: "+s.name+"-2", 1)), 0o644); err != nil {
			t.Fatal(err)
		}
		return &s2
	}
	p2, m2 := second(p), second(m)

	// The Ministero's nodes listen on their own PA ports behind the balancer at m.pa.
	mpa := []string{freePort(t), freePort(t)}
	lb := newBalancer(t, m.pa, mpa)
	gp1 := serve(t, p, "provincia-1", "--store", dsnP)
	gp2 := serve(t, p2, "provincia-2", "--store", dsnP, "--pa-addr", "127.0.0.1:0")
	gm1 := serve(t, m, "ministero-1", "--store", dsnM, "--pa-addr", mpa[0])
	gm2 := serve(t, m2, "ministero-2", "--store", dsnM, "--pa-addr", mpa[1])

	phase("four nodes up")
	var (
		stop     atomic.Bool
		wg       sync.WaitGroup
		mu       sync.Mutex
		accepted = map[string]string{} // Porta-Message-ID -> the node that accepted it
		nErr     atomic.Int64
	)
	pds := []*gw{gp1, gp2}
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				g := pds[(w+i)%2]
				resp, _, err := g.call(t, "/pd/Provincia/Ministero/Comunicazione/Invia", fmt.Sprintf(appReq, w*1000000+i), nil)
				if err != nil || resp.StatusCode != 200 {
					nErr.Add(1)
					time.Sleep(10 * time.Millisecond)
					continue
				}
				mu.Lock()
				accepted[resp.Header.Get("Porta-Message-ID")] = g.proc.Name
				mu.Unlock()
			}
		}()
	}
	time.Sleep(2 * time.Second)
	// The Ministero is unreachable for a moment, so provincia-1 dies with accepted messages in
	// its outbox, which provincia-2 must take over when their lease runs out.
	lb.paused.Store(true)
	time.Sleep(700 * time.Millisecond)
	gp1.proc.Kill()
	time.Sleep(200 * time.Millisecond)
	lb.paused.Store(false)
	time.Sleep(500 * time.Millisecond)
	gm2.proc.Kill()
	time.Sleep(1500 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	killed := time.Now()

	mu.Lock()
	byNode := map[string]int{}
	for _, n := range accepted {
		byNode[n]++
	}
	mu.Unlock()
	if byNode["provincia-1"] == 0 || byNode["provincia-2"] == 0 {
		t.Fatalf("accepted by node: %v; want load on both", byNode)
	}
	raw := func() map[string]int {
		c := map[string]int{}
		for _, d := range be.of("Comunicazione") {
			c[d.id]++
		}
		return c
	}
	waitFor(t, fmt.Sprintf("all %d accepted messages at the backend", len(accepted)), 40*time.Second, func() bool {
		c := raw()
		for id := range accepted {
			if c[id] == 0 {
				return false
			}
		}
		return true
	})
	drained := time.Since(killed)
	phase("all delivered")
	time.Sleep(time.Second)
	c := raw()
	deliveries, dups := 0, 0
	for _, n := range c {
		deliveries += n
		dups += n - 1
	}
	t.Logf("PD accepted %d messages %v (%d calls failed); balancer spread %v; backend got %d raw deliveries of %d distinct messages, %d raw duplicates; all delivered %v after the load stopped",
		len(accepted), byNode, nErr.Load(), lb.counts(), deliveries, len(c), dups, drained.Round(time.Millisecond))

	// Messages the killed node accepted whose exchange the survivor traced (the send and its
	// riscontro): the lease takeover.
	// The killed node's messages leased at their hand-off wait for their lease (3 s) to run out,
	// and one of the survivor's polls after it: wait for the survivor's trail, not a fixed time.
	takenOver := map[string]bool{}
	for deadline := time.Now().Add(20 * time.Second); len(takenOver) == 0 && time.Now().Before(deadline); {
		out, err := exec.Command(proctest.Binary(t), "trace", "list", "--config", p.cfg, "--store", dsnP, "--node", "Provincia-2",
			"--limit", "10000", "--json").Output()
		if err != nil {
			t.Fatalf("trace list: %v", err)
		}
		var recs []struct {
			Transaction string `json:"transaction"`
		}
		if err := json.Unmarshal(out, &recs); err != nil {
			t.Fatalf("trace list --json: %v\n%s", err, out)
		}
		for _, r := range recs {
			if accepted[r.Transaction] == "provincia-1" {
				takenOver[r.Transaction] = true
			}
		}
		if len(takenOver) == 0 {
			time.Sleep(250 * time.Millisecond)
		}
	}
	t.Logf("%d messages accepted by provincia-1 were sent by Provincia-2 after taking over the outbox lease (its trail holds their exchange)", len(takenOver))
	if len(takenOver) == 0 {
		t.Error("no message of the killed node's outbox was sent by the survivor")
	}

	phase("takeover checked")
	for _, tc := range []struct {
		s     *site
		dsn   string
		nodes []string
	}{{p, dsnP, []string{"Provincia-1", "Provincia-2"}}, {m, dsnM, []string{"Ministero-1", "Ministero-2"}}} {
		out, err := exec.Command(proctest.Binary(t), "trace", "verify", "--config", tc.s.cfg, "--store", tc.dsn).CombinedOutput()
		if err != nil {
			t.Errorf("trace verify of %s: %v\n%s", tc.s.name, err, out)
		}
		for _, n := range tc.nodes {
			if !strings.Contains(string(out), n) {
				t.Errorf("trace verify of %s does not report node %s:\n%s", tc.s.name, n, out)
			}
		}
	}
	phase("trails verified")
	_ = gm1
}

// balancer is a round-robin TCP proxy (TLS passes through): the load balancer in front of a
// party's nodes. A backend that refuses the connection is skipped.
type balancer struct {
	paused atomic.Bool // refuse connections, as a network outage would
	mu     sync.Mutex
	n      int
	hit    map[string]int
}

func newBalancer(t *testing.T, addr string, backends []string) *balancer {
	l, err := ports.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	b := &balancer{hit: map[string]int{}}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if b.paused.Load() {
					return
				}
				b.mu.Lock()
				b.n++
				first := b.n
				b.mu.Unlock()
				for k := range backends {
					to := backends[(first+k)%len(backends)]
					u, err := net.DialTimeout("tcp", to, time.Second)
					if err != nil {
						continue
					}
					b.mu.Lock()
					b.hit[to]++
					b.mu.Unlock()
					go func() { io.Copy(u, c); u.(*net.TCPConn).CloseWrite() }()
					io.Copy(c, u)
					u.Close()
					return
				}
			}()
		}
	}()
	return b
}

func (b *balancer) counts() map[string]int {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := map[string]int{}
	for k, v := range b.hit {
		out[k] = v
	}
	return out
}

package e2e

import (
	"fmt"
	"math/rand/v2"
	"os/exec"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"porta/internal/proctest"
)

// TestSIGKILLDurability: one-way messages with riscontro stream through the Provincia's PD while
// the test kills the Provincia's gateway, the Ministero's, or both with SIGKILL at random moments
// and restarts them. Every message the PD answered 200 for must reach the Ministero's backend,
// which counts raw deliveries by Porta-Message-ID and dedupes nothing.
//
// A second raw delivery of one message is possible by design: the Ministero's gateway may die
// after its backend answered 200 and before it recorded the delivery as complete; the inbox
// then delivers again after restart, and Porta-Message-ID is the idempotency key the backend
// uses (gateway.Backend's contract). The test asserts exactly once after that key and logs the
// raw duplicate count.
//
// It does not run in parallel with the other tests: on two cores they would starve the stream.
func TestSIGKILLDurability(t *testing.T) {
	if testing.Short() {
		t.Skip("kills processes for several seconds")
	}
	be := newBackend(t)
	p, m := newSites(t, map[string]string{prov: be.URL, min_: be.URL})
	pdAddr := freePort(t) // fixed across restarts, so senders find the PD again
	start := func(s *site, round int) *gw {
		if s == p {
			return serve(t, s, fmt.Sprintf("provincia#%d", round), "--pd-addr", pdAddr)
		}
		return serve(t, s, fmt.Sprintf("ministero#%d", round))
	}
	var mu sync.Mutex
	gp, gm := start(p, 0), start(m, 0)
	t0 := time.Now()

	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))

	var (
		stop     atomic.Bool
		wg       sync.WaitGroup
		accepted sync.Map // Porta-Message-ID answered 200 by the PD
		nAcc     atomic.Int64
		nErr     atomic.Int64
	)
	const senders = 3
	for w := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				mu.Lock()
				g := gp
				mu.Unlock()
				resp, _, err := g.call(t, "/pd/Provincia/Ministero/Comunicazione/Invia", fmt.Sprintf(appReq, w*1000000+i), nil)
				if err != nil || resp.StatusCode != 200 {
					nErr.Add(1)
					time.Sleep(20 * time.Millisecond)
					continue
				}
				accepted.Store(resp.Header.Get("Porta-Message-ID"), true)
				nAcc.Add(1)
			}
		}()
	}

	// Kill only once the stream flows, so that the kills hit messages in flight.
	waitFor(t, "20 messages accepted before the first kill", 20*time.Second, func() bool { return nAcc.Load() >= 20 })
	const rounds = 4
	kills := map[string]int{}
	for round := 1; round <= rounds; round++ {
		time.Sleep(time.Duration(150+rng.IntN(600)) * time.Millisecond)
		victim := []string{"provincia", "ministero", "both"}[rng.IntN(3)]
		kills[victim]++
		t.Logf("round %d: SIGKILL %s at %v", round, victim, time.Since(t0).Round(time.Millisecond))
		mu.Lock()
		if victim != "ministero" {
			gp.proc.Kill()
		}
		if victim != "provincia" {
			gm.proc.Kill()
		}
		mu.Unlock()
		time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond)
		mu.Lock()
		if victim != "ministero" {
			gp = start(p, round)
		}
		if victim != "provincia" {
			gm = start(m, round)
		}
		mu.Unlock()
	}
	time.Sleep(300 * time.Millisecond)
	stop.Store(true)
	killed := time.Now()
	wg.Wait()

	var want []string
	accepted.Range(func(k, _ any) bool { want = append(want, k.(string)); return true })
	if len(want) < 20 {
		t.Fatalf("only %d messages accepted during the run: the load did not get through", len(want))
	}
	raw := func() map[string]int {
		c := map[string]int{}
		for _, d := range be.of("Comunicazione") {
			c[d.id]++
		}
		return c
	}
	waitFor(t, fmt.Sprintf("all %d accepted messages at the backend", len(want)), 40*time.Second, func() bool {
		c := raw()
		for _, id := range want {
			if c[id] == 0 {
				return false
			}
		}
		return true
	})
	drained := time.Since(killed)
	time.Sleep(time.Second) // let late re-deliveries show up
	c := raw()
	dups, deliveries := 0, 0
	for id, n := range c {
		deliveries += n
		dups += n - 1
		if n > 1 {
			var at []string
			for _, d := range be.of("Comunicazione") {
				if d.id == id {
					at = append(at, d.at.Sub(t0).Round(time.Millisecond).String())
				}
			}
			t.Logf("raw duplicate: %s delivered at %v", id, at)
		}
	}
	for _, id := range want {
		if c[id] == 0 {
			t.Errorf("message %s was accepted by the PD and never delivered", id)
		}
	}
	// The audit trails survived the kills: every chain verifies.
	for _, s := range []*site{p, m} {
		if out, err := exec.Command(proctest.Binary(t), "trace", "verify", "--config", s.cfg).CombinedOutput(); err != nil {
			t.Errorf("trace verify of %s after SIGKILL: %v\n%s", s.name, err, out)
		}
	}
	t.Logf("%d rounds of SIGKILL %v; PD accepted %d messages (%d calls failed while a gateway was down); "+
		"backend got %d raw deliveries of %d distinct messages: %d raw duplicates (crash between backend 200 and completion), "+
		"0 lost, exactly once after Porta-Message-ID; drained %v after the last restart",
		rounds, kills, len(want), nErr.Load(), deliveries, len(c), dups, drained.Round(time.Millisecond))
}

package e2e

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// pdAs posts an application request to g's PD from the loopback address src (127.0.0.0/8 is all
// local on Linux), as user with password, and returns the status, the Porta-Error-Reason, the
// Retry-After and the time to the answer.
func (g *gw) pdAs(t testing.TB, src, user, pass, path string, n int) (status int, reason, retry string, took time.Duration) {
	t.Helper()
	tr := &http.Transport{DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}).DialContext}
	defer tr.CloseIdleConnections()
	c := &http.Client{Timeout: 15 * time.Second, Transport: tr}
	req, err := http.NewRequest(http.MethodPost, "http://"+g.pd+path, strings.NewReader(fmt.Sprintf(appReq, n)))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(user, pass)
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	start := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("POST from %s: %v", src, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Porta-Error-Reason"), resp.Header.Get("Retry-After"), time.Since(start)
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// TestPDAuthentication (issue 10, finding 7): an unknown user and a known user with a wrong
// password are answered in the same time; 30 wrong passwords meet 429 with Retry-After; a real
// application's calls are not slowed by 16 guessing loops from other addresses.
//
// Not parallel: the timings are the gateway's, not the other tests'.
func TestPDAuthentication(t *testing.T) {
	be := newBackend(t)
	p, m := newSites(t, map[string]string{prov: be.URL, min_: be.URL})
	appendFile(t, p.cfg, "\npd_auth: {free_failures: 22}\n") // room for 21 timed failures of one user name
	// A hash of 100,000 PBKDF2 iterations (the registry's minimum is 10,000, new hashes have
	// 600,000): the decoy takes the registry's work factor, and on a machine shared with other
	// tests the noise of a shorter check is smaller than the 20 ms bound.
	reg, err := os.ReadFile(filepath.Join(p.dir, "registry.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	h := regexp.MustCompile(`password_hash: \S+`)
	if err := os.WriteFile(filepath.Join(p.dir, "registry.yaml"), h.ReplaceAllLiteral(reg, []byte("password_hash: "+pbkdf2Hash(t, password, 100_000))), 0o644); err != nil {
		t.Fatal(err)
	}
	gp := serve(t, p, "provincia")
	serve(t, m, "ministero")
	const path = "/pd/Provincia/Ministero/Anagrafe/Consulta"

	// The real application, from 127.0.0.1: its first call pays the password check.
	real := func() time.Duration {
		status, reason, _, took := gp.pdAs(t, "127.0.0.1", "app", password, path, 1)
		if status != http.StatusOK {
			t.Fatalf("the real application: status %d reason %q", status, reason)
		}
		return took
	}
	real()
	var base []time.Duration
	for range 5 {
		base = append(base, real())
	}

	// Timing: each attempt from an address of its own, within the failures allowed before a lock;
	// known and unknown in pairs, in alternating order, so that the machine's load weighs on both
	// alike. The bound is on the median of the pairs' differences; on a machine shared with other
	// tests a round can be unlucky, so up to three rounds of seven pairs are measured and one
	// must meet it.
	pair := func(i int) (tk, tu time.Duration) {
		knownCall := func() {
			var status int
			var reason string
			status, reason, _, tk = gp.pdAs(t, fmt.Sprintf("127.0.1.%d", i+1), "app", "wrong", path, 1)
			if status != http.StatusInternalServerError || reason != "credentials-invalid" {
				t.Fatalf("known user, wrong password: status %d reason %q", status, reason)
			}
		}
		unknownCall := func() {
			var status int
			var reason string
			status, reason, _, tu = gp.pdAs(t, fmt.Sprintf("127.0.2.%d", i+1), fmt.Sprintf("nobody%d", i), "wrong", path, 1)
			if status != http.StatusInternalServerError || reason != "credentials-invalid" {
				t.Fatalf("unknown user: status %d reason %q", status, reason)
			}
		}
		if i%2 == 0 {
			knownCall()
			unknownCall()
		} else {
			unknownCall()
			knownCall()
		}
		return tk, tu
	}
	met := false
	for round := 0; round < 3 && !met; round++ {
		var known, unknown, diff []time.Duration
		for i := range 7 {
			tk, tu := pair(round*7 + i)
			known, unknown, diff = append(known, tk), append(unknown, tu), append(diff, tk-tu)
		}
		t.Logf("round %d: median answer: known user, wrong password %v; unknown user %v; median of the pairs' differences (known - unknown) %v; fastest %v and %v; real call %v",
			round+1, median(known), median(unknown), median(diff), slices.Min(known), slices.Min(unknown), median(base))
		met = median(diff).Abs() < 20*time.Millisecond
	}
	if !met {
		t.Errorf("known and unknown users' answers differ by 20ms or more (median of pairs) in three rounds")
	}

	// The failures this test allowed for timing (pd_auth.free_failures, 22 here, 5 by default)
	// that the rounds left unused.
	allowed := 0
	for ; allowed < 22; allowed++ {
		if status, _, _, _ := gp.pdAs(t, "127.0.0.2", "app", fmt.Sprintf("use%d", allowed), path, 1); status == http.StatusTooManyRequests {
			break
		}
	}
	t.Logf("%d failures left of the allowance before the lock", allowed)

	// 30 wrong passwords from one address, past the allowance: 429 with Retry-After, answered
	// before any password check.
	var throttled int
	var throttledTime []time.Duration
	for i := range 30 {
		status, reason, retry, took := gp.pdAs(t, "127.0.0.2", "app", fmt.Sprintf("guess%d", i), path, 1)
		switch {
		case status == http.StatusTooManyRequests && reason == "throttled" && retry != "":
			throttled++
			throttledTime = append(throttledTime, took)
		case status == http.StatusInternalServerError && reason == "credentials-invalid":
		default:
			t.Fatalf("guess %d: status %d reason %q Retry-After %q", i, status, reason, retry)
		}
	}
	t.Logf("30 wrong passwords: %d answered 429 (median %v)", throttled, median(throttledTime))
	if throttled < 24 {
		t.Errorf("%d of 30 wrong passwords met 429, want at least 24", throttled)
	}

	// 16 guessing loops from 16 other addresses while the real application calls.
	var stop atomic.Bool
	var wg sync.WaitGroup
	var guesses atomic.Int64
	for l := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				gp.pdAs(t, fmt.Sprintf("127.0.3.%d", l+1), "app", fmt.Sprintf("loop%d-%d", l, i), path, 1)
				guesses.Add(1)
				// 20 guesses a second per loop at most: the loops of the issue were bound by the
				// gateway's PBKDF2 work (a few a second); unpaced, 16 loops answered in 1 ms would
				// measure this machine's two cores, shared with the test, not the gateway.
				time.Sleep(50 * time.Millisecond)
			}
		}()
	}
	time.Sleep(500 * time.Millisecond)
	var attacked []time.Duration
	for range 7 {
		attacked = append(attacked, real())
	}
	stop.Store(true)
	wg.Wait()
	mb, ma := median(base), median(attacked)
	t.Logf("real call: median %v alone, %v under 16 guessing loops (%d guesses)", mb, ma, guesses.Load())
	if ma > mb+100*time.Millisecond {
		t.Errorf("real calls took %v under guessing loops, %v alone: slowed by more than 100ms", ma, mb)
	}

	metrics := get(t, "http://"+gp.admin+"/metrics")
	for _, want := range []string{`porta_pd_auth_throttled_total{scope="application"}`, `porta_pd_refusals_total{reason="throttled",service="Anagrafe"}`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics has no %s", want)
		}
	}
}

// pbkdf2Hash is a password_hash of password with iter iterations, in registry.HashPassword's form.
func pbkdf2Hash(t testing.TB, password string, iter int) string {
	salt := make([]byte, 16)
	rand.Read(salt)
	key, err := pbkdf2.Key(sha256.New, password, salt, iter, 32)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawStdEncoding
	return fmt.Sprintf("pbkdf2-sha256$%d$%s$%s", iter, enc.EncodeToString(salt), enc.EncodeToString(key))
}

// get returns the body of a GET, failing the test on an error or a status other than 200.
func get(t testing.TB, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d\n%s", url, resp.StatusCode, b)
	}
	return string(b)
}

package e2e

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// memKB reads a field of /proc/PID/status (VmRSS, VmHWM) in KiB.
func memKB(t testing.TB, pid int, field string) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("%s: %q", field, l)
			}
			return n
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// holdRequests opens n TLS connections to addr, on each sends the headers of a POST /pa claiming
// Content-Length claimed and then body, and leaves the request unfinished until the test ends.
func holdRequests(t testing.TB, cfg *tls.Config, addr string, n int, claimed int64, body []byte) {
	t.Helper()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var open []*tls.Conn
	dialing := make(chan struct{}, 8) // a burst of 150 handshakes overflows the accept queue
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dialing <- struct{}{}
			defer func() { <-dialing }()
			c, err := tls.Dial("tcp", addr, cfg)
			if err != nil {
				t.Errorf("connection %d: %v", i, err)
				return
			}
			mu.Lock()
			open = append(open, c)
			mu.Unlock()
			fmt.Fprintf(c, "POST /pa HTTP/1.1\r\nHost: %s\r\nContent-Type: text/xml; charset=utf-8\r\nSOAPAction: \"x\"\r\nContent-Length: %d\r\n\r\n", addr, claimed)
			if _, err := c.Write(body); err != nil {
				t.Errorf("connection %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	t.Cleanup(func() {
		for _, c := range open {
			c.Close()
		}
	})
	if len(open) != n {
		t.Fatalf("%d of %d connections opened", len(open), n)
	}
}

// TestClaimedLengthCostsNoMemory (issue 10, finding 1): 150 TLS connections with a client
// certificate the provider trusts send request headers claiming Content-Length 16 MiB and then a
// few bytes, and hold. The provider's peak RSS must rise by less than 128 MB: a claimed length
// reserves nothing; memory follows the bytes that arrive. The per-peer and per-listener limits are
// lifted so that every request is admitted and waits for its body.
func TestClaimedLengthCostsNoMemory(t *testing.T) {
	t.Parallel()
	be := newBackend(t)
	p, m := newSites(t, map[string]string{prov: be.URL, min_: be.URL})
	edit(t, m.cfg, "per_peer_requests: 256", "per_peer_requests: 1000", "per_listener_requests: 1024", "per_listener_requests: 1000")
	gm := serve(t, m, "ministero")
	pid := gm.proc.Pid()
	time.Sleep(500 * time.Millisecond)
	before, hwmBefore := memKB(t, pid, "VmRSS"), memKB(t, pid, "VmHWM")

	const conns = 150
	holdRequests(t, tlsConfig(t, p, m), m.pa, conns, 16<<20, []byte("<soapenv:Envelope"))
	time.Sleep(3 * time.Second) // the handlers have read the headers and wait for the body
	after, hwm := memKB(t, pid, "VmRSS"), memKB(t, pid, "VmHWM")
	t.Logf("provider RSS %d MB -> %d MB, peak %d MB -> %d MB, with %d connections claiming 16 MiB each", before>>10, after>>10, hwmBefore>>10, hwm>>10, conns)
	if rise := (hwm - before) << 10; rise >= 128e6 {
		t.Errorf("peak RSS rose by %d MB, want < 128 MB", rise/1e6)
	}
}

// TestOverLimitIsRefused (issue 10, finding 1): with per_peer_requests 4, a peer's fifth
// request in flight is answered 503 with Retry-After and the EGOV_IT_300 fault; with
// inflight_bytes 16MiB, a body that would take the bytes held past it is answered the same;
// both are counted in porta_admission_refused_total.
func TestOverLimitIsRefused(t *testing.T) {
	t.Parallel()
	be := newBackend(t)
	p, m := newSites(t, map[string]string{prov: be.URL, min_: be.URL})
	edit(t, m.cfg, "inflight_bytes: 256MiB", "inflight_bytes: 16MiB", "per_peer_requests: 256", "per_peer_requests: 4", "retry_after: 5s", "retry_after: 7s")
	gm := serve(t, m, "ministero")
	cfg := tlsConfig(t, p, m)
	post := func(body []byte) (*http.Response, string) {
		t.Helper()
		c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
		resp, err := c.Post("https://"+m.pa+"/pa", "text/xml; charset=utf-8", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	check := func(what string, resp *http.Response, body, metric string) {
		t.Helper()
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "7" || !strings.Contains(body, "EGOV_IT_300") {
			t.Errorf("%s: HTTP %d, Retry-After %q; want 503, 7 and the EGOV_IT_300 fault:\n%s", what, resp.StatusCode, resp.Header.Get("Retry-After"), body)
		}
		waitFor(t, metric+" = 1", 5*time.Second, func() bool { return gm.metric(t, metric) == "1" })
	}

	// Four requests of the peer wait for their bodies; the fifth is refused.
	holdRequests(t, cfg, m.pa, 4, 16<<20, []byte("<x"))
	time.Sleep(500 * time.Millisecond)
	resp, body := post([]byte("<x/>"))
	check("fifth request of one peer", resp, body, `porta_admission_refused_total{listener="pa",reason="peer"}`)

	// Another peer (an unregistered certificate of a trusted CA would do; here the provider's own)
	// holds 14 MiB of bodies in two requests; a third body of 2.5 MiB would take it past 16 MiB.
	own := tlsConfig(t, m, m)
	holdRequests(t, own, m.pa, 2, 7<<20+1, bytes.Repeat([]byte("x"), 7<<20))
	waitFor(t, "14 MiB in flight", 10*time.Second, func() bool {
		v, _ := strconv.ParseFloat(gm.metric(t, "porta_inflight_bytes"), 64)
		return v >= 14<<20
	})
	cfg = own
	resp, body = post(bytes.Repeat([]byte("y"), 5<<19))
	check("a body past inflight_bytes", resp, body, `porta_admission_refused_total{listener="pa",reason="bytes"}`)
}

package gateway

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// trickle returns its bytes a few at a time, as a slow peer sends them.
type trickle struct{ r io.Reader }

func (t trickle) Read(p []byte) (int, error) { return t.r.Read(p[:min(len(p), 7)]) }

func TestReadLimited(t *testing.T) {
	body := bytes.Repeat([]byte("x"), 100<<10)
	for _, tt := range []struct {
		name       string
		body       []byte
		claimed    int64
		limit      int64
		wantOver   bool
		wantMaxCap int // the buffer's capacity may not exceed this
	}{
		{"claimed 16 MiB, 5 bytes sent", body[:5], 16 << 20, 16 << 20, false, readInitial},
		{"honest length", body, int64(len(body)), 16 << 20, false, len(body)},
		{"unknown length", body, -1, 16 << 20, false, len(body)},                                 // chunks joined: the buffer is the body's size
		{"claimed twice its length", body, 2 * int64(len(body)), 16 << 20, false, 2 * len(body)}, // an eighth arrived: a buffer of the claim
		{"small honest", body[:10], 10, 16 << 20, false, 10},
		{"empty", nil, 0, 16 << 20, false, 0},
		{"exactly the limit", body[:4096], -1, 4096, false, 4096},
		{"one over the limit", body[:4097], -1, 4096, true, 0},
		{"over, claimed less", body, 10, 4096, true, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := newAdmission(Options{InflightBytes: 1 << 30})
			l := &lease{a: a}
			got, over, err := readLimited(trickle{bytes.NewReader(tt.body)}, tt.claimed, tt.limit, l)
			if err != nil || over != tt.wantOver {
				t.Fatalf("over %v, err %v; want over %v", over, err, tt.wantOver)
			}
			if over {
				return
			}
			if !bytes.Equal(got, tt.body) {
				t.Errorf("read %d bytes, want %d", len(got), len(tt.body))
			}
			if cap(got) > tt.wantMaxCap {
				t.Errorf("buffer of %d bytes for %d read, want at most %d", cap(got), len(got), tt.wantMaxCap)
			}
			if l.held != int64(cap(got)) || a.bytes.Load() != l.held {
				t.Errorf("lease holds %d, budget in use %d, buffer %d", l.held, a.bytes.Load(), cap(got))
			}
			l.resize(0)
			if a.bytes.Load() != 0 {
				t.Errorf("budget in use after release: %d", a.bytes.Load())
			}
		})
	}
}

func TestReadLimitedBudget(t *testing.T) {
	a := newAdmission(Options{InflightBytes: 64 << 10})
	other := &lease{a: a}
	other.resize(40 << 10)
	l := &lease{a: a}
	_, _, err := readLimited(bytes.NewReader(make([]byte, 100<<10)), -1, 16<<20, l)
	if !errors.Is(err, errBusy) {
		t.Fatalf("err %v, want errBusy", err)
	}
	if l.held > 24<<10 || a.bytes.Load() > 64<<10 {
		t.Errorf("lease holds %d, budget in use %d: over the budget", l.held, a.bytes.Load())
	}
	l.resize(0)
	other.resize(0)
	if a.bytes.Load() != 0 {
		t.Errorf("budget in use after release: %d", a.bytes.Load())
	}
}

// countLarge is a LargeMessages that counts what it is told.
type countLarge struct {
	mu            sync.Mutex
	holds, held   int
	heldInHandler []int
}

func (c *countLarge) Hold()    { c.mu.Lock(); c.holds++; c.held++; c.mu.Unlock() }
func (c *countLarge) Release() { c.mu.Lock(); c.held--; c.mu.Unlock() }

// TestAdmitLarge: a request is held under LargeMessages from the read of its first body of
// LargeMessage bytes or more (its own, or an answer it reads) to its end, once however many it
// reads; a smaller one is not.
func TestAdmitLarge(t *testing.T) {
	o := Options{InflightBytes: 1 << 30}
	o.defaults()
	large := &countLarge{}
	g := &Gateway{opt: o, adm: newAdmission(o), log: slog.New(slog.DiscardHandler), now: time.Now}
	g.adm.large = large
	h := g.admit("pa", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := readBody(r, 64<<20); err != nil {
			t.Error(err)
		}
		// An answer read for the same request (a backend's reply) is charged to its lease too.
		if _, _, err := readLimited(bytes.NewReader(make([]byte, LargeMessage)), -1, 64<<20, leaseOf(r.Context())); err != nil {
			t.Error(err)
		}
		large.mu.Lock()
		large.heldInHandler = append(large.heldInHandler, large.held)
		large.mu.Unlock()
	}))
	for _, n := range []int{LargeMessage - 1, LargeMessage, 10 * LargeMessage} {
		r := httptest.NewRequest(http.MethodPost, "/pa", bytes.NewReader(make([]byte, n)))
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	if large.holds != 3 || large.held != 0 {
		t.Errorf("%d holds, %d still held; want 3 (one per request: each read an answer of LargeMessage bytes), 0", large.holds, large.held)
	}
	if want := []int{1, 1, 1}; !slices.Equal(large.heldInHandler, want) {
		t.Errorf("held in the handlers: %v, want %v", large.heldInHandler, want)
	}
	// A request that reads nothing large is not held.
	large.holds = 0
	small := g.admit("pa", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { readBody(r, 64<<20) }))
	small.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/pa", strings.NewReader("<x/>")))
	if large.holds != 0 {
		t.Errorf("a 4-byte request was held %d times", large.holds)
	}
}

// TestAdmit: a peer's third concurrent request with PeerRequests 2 is refused 503 with
// Retry-After, another peer is admitted until the listener's limit, and refusals are counted.
func TestAdmit(t *testing.T) {
	o := Options{PeerRequests: 2, ListenerRequests: 4, RetryAfter: 1500 * time.Millisecond}
	o.defaults()
	g := &Gateway{opt: o, adm: newAdmission(o), log: slog.New(slog.DiscardHandler), now: time.Now}
	release := make(chan struct{})
	entered := make(chan struct{}, 8)
	h := g.admit("pa", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if leaseOf(r.Context()) == nil {
			t.Error("no lease in the request's context")
		}
		entered <- struct{}{}
		<-release
	}))
	call := func(addr string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, "/pa", strings.NewReader("<x/>"))
		r.RemoteAddr = addr
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	var done sync.WaitGroup
	hold := func(addrs ...string) {
		for _, addr := range addrs {
			done.Add(1)
			go func() { defer done.Done(); call(addr) }()
			<-entered
		}
	}
	hold("10.0.0.1:1", "10.0.0.1:2", "10.0.0.2:1")
	for _, tt := range []struct{ addr, reason string }{{"10.0.0.1:3", refusedPeer}, {"", ""}, {"10.0.0.3:1", refusedListener}} {
		if tt.addr == "" {
			hold("10.0.0.2:2") // the listener's fourth
			continue
		}
		w := call(tt.addr)
		if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") != "2" {
			t.Errorf("%s: HTTP %d, Retry-After %q; want 503, 2", tt.addr, w.Code, w.Header().Get("Retry-After"))
		}
		if !strings.Contains(w.Body.String(), "EGOV_IT_300") {
			t.Errorf("%s: the 503 carries no processing-error fault:\n%s", tt.addr, w.Body)
		}
		var m dto.Metric
		if err := g.adm.refused.WithLabelValues("pa", tt.reason).Write(&m); err != nil || m.GetCounter().GetValue() != 1 {
			n := m.GetCounter().GetValue()
			t.Errorf("porta_admission_refused_total{pa,%s} = %v (%v), want 1", tt.reason, n, err)
		}
	}
	close(release)
	done.Wait()
	if w := call("10.0.0.1:4"); w.Code != http.StatusOK {
		t.Errorf("after the others finished: HTTP %d, want 200", w.Code)
	}
	if len(g.adm.peers) != 0 || g.adm.listeners["pa"] != 0 {
		t.Errorf("slots not given back: peers %v, listeners %v", g.adm.peers, g.adm.listeners)
	}
}

// TestBusyPD: the Porta Delegata's 503 is the application fault with Porta-Error-Reason
// gateway-busy and the reason's text.
func TestBusyPD(t *testing.T) {
	o := Options{}
	o.defaults()
	g := &Gateway{opt: o, adm: newAdmission(o), log: slog.New(slog.DiscardHandler), now: time.Now}
	w := httptest.NewRecorder()
	writeReply(w, g.busy("pd", refusedPeer))
	if w.Code != http.StatusServiceUnavailable || w.Header().Get(HeaderErrorReason) != string(ReasonGatewayBusy) || w.Header().Get("Retry-After") != "5" {
		t.Errorf("HTTP %d, %s %q, Retry-After %q", w.Code, HeaderErrorReason, w.Header().Get(HeaderErrorReason), w.Header().Get("Retry-After"))
	}
	if b := w.Body.String(); !strings.Contains(b, busyText[refusedPeer]) || !strings.Contains(b, "MessaggioDiErroreApplicativo") {
		t.Errorf("body:\n%s", b)
	}
}

// FuzzReadLimited: whatever the claimed length, readLimited returns the body exactly when it is
// within the limit and reports it over otherwise; its buffer never exceeds the larger of twice
// the bytes read and readInitial, nor the limit; the lease holds what the buffer holds and
// gives it all back.
func FuzzReadLimited(f *testing.F) {
	f.Add([]byte("<soapenv:Envelope/>"), int64(16<<20), int64(1<<20), uint8(3))
	f.Add([]byte{}, int64(-1), int64(10), uint8(1))
	f.Add(bytes.Repeat([]byte("x"), 70<<10), int64(5), int64(80<<10), uint8(200))
	f.Fuzz(func(t *testing.T, body []byte, claimed, limit int64, chunk uint8) {
		if limit < 0 || limit > 1<<30 {
			t.Skip()
		}
		a := newAdmission(Options{InflightBytes: 1 << 40})
		l := &lease{a: a}
		r := io.LimitReader(&chunked{b: body, n: int(chunk) + 1}, int64(len(body)))
		got, over, err := readLimited(r, claimed, limit, l)
		if err != nil {
			t.Fatal(err)
		}
		if over != (int64(len(body)) > limit) {
			t.Fatalf("over = %v for %d bytes, limit %d", over, len(body), limit)
		}
		if !over {
			if !bytes.Equal(got, body) {
				t.Fatalf("read %d bytes, want %d", len(got), len(body))
			}
			if c := int64(cap(got)); c > limit || c > max(2*int64(len(got)), readInitial) {
				t.Fatalf("buffer of %d bytes for %d read (claimed %d, limit %d)", c, len(got), claimed, limit)
			}
			if l.held != int64(cap(got)) {
				t.Fatalf("lease holds %d, buffer %d", l.held, cap(got))
			}
		}
		l.resize(0)
		if a.bytes.Load() != 0 {
			t.Fatalf("budget in use after release: %d", a.bytes.Load())
		}
	})
}

// chunked returns b n bytes at a time.
type chunked struct {
	b []byte
	n int
}

func (c *chunked) Read(p []byte) (int, error) {
	if len(c.b) == 0 {
		return 0, io.EOF
	}
	k := copy(p[:min(len(p), c.n)], c.b)
	c.b = c.b[k:]
	return k, nil
}

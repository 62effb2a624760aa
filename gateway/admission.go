package gateway

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"porta/envelope"
)

// Admission: what a request may cost before the gateway has done anything for it. Every request
// of the Porta Delegata and the Porta Applicativa takes, before its body is read,
//
//   - a slot of its listener (Options.ListenerRequests in flight per listener), and
//   - a slot of its peer on that listener (Options.PeerRequests): the TLS client certificate
//     (its SHA-256), or the remote IP address when there is none;
//
// and while it reads a body it is charged for every byte of buffer it holds, against a budget
// shared by all requests (Options.InflightBytes). A claimed Content-Length reserves nothing: the
// buffer grows as bytes arrive (readLimited). A request refused for any of the three is answered
// 503 with Retry-After (Options.RetryAfter), on /pa with the eGov processing-error fault
// (EGOV_IT_300), on /pd with the application fault and Porta-Error-Reason gateway-busy, and
// counted in porta_admission_refused_total{listener,reason}; porta_inflight_bytes is the budget
// in use. The slots and the bytes are given back when the handler returns.

// Refusal reasons of porta_admission_refused_total.
const (
	refusedListener = "listener" // the listener has ListenerRequests in flight
	refusedPeer     = "peer"     // the peer has PeerRequests in flight on the listener
	refusedBytes    = "bytes"    // the bodies being read hold InflightBytes
)

// errBusy is a body read stopped because the gateway's budget of bytes in flight is spent.
var errBusy = errors.New("the gateway holds its budget of request bytes: try again later")

// busyText is the fault string of each refusal.
var busyText = map[string]string{
	refusedListener: "the gateway has too many requests in flight: try again later",
	refusedPeer:     "too many requests of this client are in flight: try again later",
	refusedBytes:    errBusy.Error(),
}

// admission counts what requests in flight hold.
type admission struct {
	budget      int64
	perPeer     int
	perListener int
	retryAfter  time.Duration

	bytes atomic.Int64 // buffer bytes held by requests reading or holding a body

	large LargeMessages // told while a request holds a large body; nil: nobody is

	mu        sync.Mutex
	listeners map[string]int
	peers     map[string]int // listener + "\x00" + peer

	refused *prometheus.CounterVec
}

func newAdmission(o Options) *admission {
	return &admission{
		budget: o.InflightBytes, perPeer: o.PeerRequests, perListener: o.ListenerRequests, retryAfter: o.RetryAfter,
		listeners: map[string]int{}, peers: map[string]int{},
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "porta_admission_refused_total",
			Help: "Requests answered 503 before being processed, by listener (pd, pa) and reason: listener (too many requests in flight on it), peer (too many from one client certificate or address), bytes (the budget of request bytes in flight is spent).",
		}, []string{"listener", "reason"}),
	}
}

// collectors are admission's metrics.
func (a *admission) collectors() []prometheus.Collector {
	return []prometheus.Collector{a.refused, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "porta_inflight_bytes",
		Help: "Bytes of request and answer buffers held by requests in flight, against limits.inflight_bytes.",
	}, func() float64 { return float64(a.bytes.Load()) })}
}

// enter takes a slot of the listener and of the peer; it returns "" or the reason it refused.
func (a *admission) enter(listener, peer string) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.listeners[listener] >= a.perListener {
		return refusedListener
	}
	key := listener + "\x00" + peer
	if a.peers[key] >= a.perPeer {
		return refusedPeer
	}
	a.listeners[listener]++
	a.peers[key]++
	return ""
}

func (a *admission) leave(listener, peer string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	key := listener + "\x00" + peer
	a.listeners[listener]--
	if a.peers[key]--; a.peers[key] <= 0 {
		delete(a.peers, key)
	}
}

// lease is the share of the byte budget one request holds. From the first large body it reads
// (LargeMessage bytes or more: the request's, or an answer it waits for) to its end, the request
// is held under the admission's LargeMessages.
type lease struct {
	a     *admission
	held  int64
	large bool // a.large.Hold was called for this request
}

// resize makes the lease hold n bytes; it reports false, holding what it held, when growing
// would take the gateway over its budget.
func (l *lease) resize(n int64) bool {
	if l == nil {
		return true
	}
	d := n - l.held
	if d > 0 && l.a.bytes.Add(d) > l.a.budget {
		l.a.bytes.Add(-d)
		return false
	}
	if d <= 0 {
		l.a.bytes.Add(d)
	}
	l.held = n
	if n >= LargeMessage && !l.large && l.a.large != nil {
		l.large = true
		l.a.large.Hold()
	}
	return true
}

// end gives back what the lease holds, at the end of its request.
func (l *lease) end() {
	l.resize(0)
	if l.large {
		l.large = false
		l.a.large.Release()
	}
}

// holdLarge holds a queued message of n bytes under the admission's LargeMessages when it is
// large (requests are held by their lease), and returns what releases it.
func (g *Gateway) holdLarge(n int) func() {
	l := g.adm.large
	if l == nil || n < LargeMessage {
		return func() {}
	}
	l.Hold()
	return l.Release
}

type leaseKey struct{}

// leaseOf is the request's lease, nil outside a request (the workers: their reads are bounded by
// MaxMessage only).
func leaseOf(ctx context.Context) *lease {
	l, _ := ctx.Value(leaseKey{}).(*lease)
	return l
}

// peerOf names the peer of a request for its per-peer limit: its TLS client certificate, else
// its remote IP address.
func (g *Gateway) peerOf(r *http.Request) string {
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		return "cert:" + g.fingerprint(r.TLS.PeerCertificates[0].Raw)
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return "addr:" + host
}

// admit wraps a listener's handler ("pd" or "pa") with the admission limits.
func (g *Gateway) admit(listener string, h http.Handler) http.Handler {
	a := g.adm
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		peer := g.peerOf(r)
		if why := a.enter(listener, peer); why != "" {
			writeReply(w, g.busy(listener, why))
			return
		}
		defer a.leave(listener, peer)
		l := &lease{a: a}
		defer l.end()
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), leaseKey{}, l)))
	})
}

// busy counts a refusal and returns the listener's 503 with Retry-After: on /pa the eGov
// processing-error fault, on /pd the application fault with Porta-Error-Reason gateway-busy.
// Nothing is traced: a flood of refusals must not become a flood of writes to the store.
func (g *Gateway) busy(listener, why string) *reply {
	g.adm.refused.WithLabelValues(listener, why).Inc()
	g.log.Debug("request refused: gateway busy", "listener", listener, "reason", why)
	rep := &reply{status: http.StatusServiceUnavailable, header: http.Header{}}
	rep.header.Set("Retry-After", strconv.Itoa(int((g.adm.retryAfter+time.Second-1)/time.Second)))
	if listener == "pa" {
		rep.body = mustBytes(envelope.ProcessingFault(busyText[why]))
		return rep
	}
	ae := &AppError{FaultCode: "Server", Message: busyText[why], Reason: ReasonGatewayBusy}
	rep.header.Set(HeaderErrorReason, string(ReasonGatewayBusy))
	rep.body = mustBytes(ae.document("", g.now()))
	return rep
}

// readInitial is the buffer a body starts with (less when its length is known to be less).
const readInitial = 32 << 10

// claimEarned: a body whose sender claims its length gets one buffer of that length once an
// eighth of it has arrived, so a claim costs at most eight times the bytes sent.
const claimEarned = 8

// chunkMax caps the chunks a body of unknown length is read into.
const chunkMax = 1 << 20

// readLimited reads r up to limit bytes; over reports a body longer than limit. size is the length
// the sender claims (-1 when unknown): it never sizes the buffer at once, so a claim costs nothing
// until the bytes arrive. The body is read into chunks, each as large as all before it (at most
// chunkMax), which are never copied as they fill; it ends in a buffer of its exact size: one copy
// of the chunks at the end, or none when the claimed size was given a buffer of its own (once an
// eighth of it had arrived). Every byte of a chunk is first charged to l (nil: no budget); a read
// that would exceed the budget stops with errBusy. A 10 MB body so costs about 11 MB at its peak
// with its length known and 21 MB without, where a doubling buffer held 24 MB and kept 16 MB.
func readLimited(r io.Reader, size, limit int64, l *lease) (b []byte, over bool, err error) {
	first := int64(readInitial)
	if size >= 0 && size < first {
		first = size
	}
	first = min(first, limit)
	if !l.resize(first) {
		return nil, false, errBusy
	}
	buf := make([]byte, 0, first)
	var filled [][]byte // the chunks before buf
	var prior int64     // the bytes in filled
	for {
		if len(buf) == cap(buf) {
			// Full: one byte more says whether the body goes on.
			var one [1]byte
			n, err := io.ReadFull(r, one[:])
			got := prior + int64(len(buf))
			switch {
			case n == 0 && (err == io.EOF || err == io.ErrUnexpectedEOF):
				return joinChunks(filled, buf, got, l), false, nil
			case n == 0:
				return nil, false, err
			case got >= limit:
				return nil, true, nil
			}
			if size > got && size <= limit && got >= size/claimEarned {
				// The claim is earned: one buffer of the claimed length, the bytes so far in it.
				if !l.resize(size) {
					return nil, false, errBusy
				}
				whole := make([]byte, 0, size)
				for _, c := range filled {
					whole = append(whole, c...)
				}
				buf, filled, prior = append(append(whole, buf...), one[0]), nil, 0
				continue
			}
			next := max(min(got, chunkMax, limit-got), 1)
			if !l.resize(got + next) {
				return nil, false, errBusy
			}
			filled, prior = append(filled, buf), got
			buf = append(make([]byte, 0, next), one[0])
			continue
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return joinChunks(filled, buf, prior+int64(len(buf)), l), false, nil
		}
		if err != nil {
			return nil, false, err
		}
	}
}

// joinChunks returns the n bytes of filled and then last in one buffer of their size, charged to l
// in place of the chunks.
func joinChunks(filled [][]byte, last []byte, n int64, l *lease) []byte {
	if len(filled) == 0 {
		return last
	}
	out := make([]byte, 0, n)
	for _, c := range filled {
		out = append(out, c...)
	}
	out = append(out, last...)
	l.resize(n)
	return out
}

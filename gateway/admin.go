package gateway

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// The admin listener: liveness, readiness and Prometheus metrics from the gateway's own registry
// (never the global default one, so that several gateways can live in one process).

type metrics struct {
	reg      *prometheus.Registry
	messages *prometheus.CounterVec
	refusals *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	// handshakes counts the TLS handshakes a listener refused or lost (serverLog).
	handshakes *prometheus.CounterVec

	authFailures  prometheus.Counter     // refused credentials at the PD
	authThrottled *prometheus.CounterVec // PD requests refused by the throttle, by scope

	reloadFailures prometheus.Counter // see reload.go
	reloadOK       prometheus.Gauge
}

func newMetrics(g *Gateway) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "porta_messages_total",
			Help: "Buste handled, by service, direction (in: Porta Applicativa, out: Porta Delegata) and outcome.",
		}, []string{"service", "direction", "outcome"}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "porta_pd_refusals_total",
			Help: "Requests of local applications the Porta Delegata refused, by service (\"\" when the URL names none the registry knows) and reason (the Porta-Error-Reason categories).",
		}, []string{"service", "reason"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "porta_exchange_seconds",
			Help:    "Time from receiving a request to answering it (or, for the outbox, to its acknowledgement).",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		}, []string{"direction"}),
		handshakes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "porta_tls_handshake_failures_total",
			Help: "TLS handshakes that failed, by listener (pa, pd) and reason (no-certificate, unknown-authority, certificate-expired, certificate-invalid, plain-http, protocol, client-aborted, eof, timeout, other).",
		}, []string{"listener", "reason"}),
		authFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "porta_pd_auth_failures_total",
			Help: "Credentials the Porta Delegata refused (unknown user, wrong password, unregistered certificate), each counted against its address and user name by the throttle.",
		}),
		authThrottled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "porta_pd_auth_throttled_total",
			Help: "Porta Delegata requests answered 429 before any password check, by the locked key's scope (address or application).",
		}, []string{"scope"}),
	}
	m.reg.MustRegister(m.messages, m.refusals, m.latency, m.handshakes, m.authFailures, m.authThrottled, queueCollector{g}, certCollector{g},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), buildInfo())
	m.reg.MustRegister(g.adm.collectors()...)
	m.reg.MustRegister(newReloadMetrics(m)...)
	m.reloadOK.Set(float64(g.now().UnixNano()) / 1e9)
	return m
}

// buildInfo is porta_build_info: 1, labelled with the module's version, the Go version and the VCS
// revision the binary was built from ("unknown" when the build did not record it).
func buildInfo() prometheus.Collector {
	version, goversion, revision := "unknown", runtime.Version(), "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			version = bi.Main.Version
		}
		if bi.GoVersion != "" {
			goversion = bi.GoVersion
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && s.Value != "" {
				revision = s.Value
			}
		}
	}
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "porta_build_info",
		Help:        "Always 1; the labels say which build of porta is running.",
		ConstLabels: prometheus.Labels{"version": version, "goversion": goversion, "revision": revision},
	})
	g.Set(1)
	return g
}

// RegisterMetrics adds a collector to the gateway's /metrics (porta serve's jobs add theirs).
func (g *Gateway) RegisterMetrics(c prometheus.Collector) error { return g.metrics.reg.Register(c) }

// observe counts a message and its latency.
func (g *Gateway) observe(service string, dir Direction, outcome string, start time.Time) {
	g.metrics.messages.WithLabelValues(service, string(dir), outcome).Inc()
	g.metrics.latency.WithLabelValues(string(dir)).Observe(g.now().Sub(start).Seconds())
}

var (
	descDepth  = prometheus.NewDesc("porta_queue_depth", "Messages waiting in a durable queue.", []string{"queue"}, nil)
	descOldest = prometheus.NewDesc("porta_queue_oldest_seconds", "Age of the oldest message waiting in a durable queue.", []string{"queue"}, nil)
	descCert   = prometheus.NewDesc("porta_certificate_expiry_seconds", "Seconds until a certificate expires (negative: expired).", []string{"party", "subject", "serial"}, nil)
)

// queueCollector reads the queues' depth from the store at scrape time.
type queueCollector struct{ g *Gateway }

func (c queueCollector) Describe(ch chan<- *prometheus.Desc) { ch <- descDepth; ch <- descOldest }

func (c queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, q := range []string{Outbox, Inbox} {
		n, oldest, err := c.g.store.Depth(ctx, q)
		if err != nil {
			ch <- prometheus.NewInvalidMetric(descDepth, err)
			continue
		}
		ch <- prometheus.MustNewConstMetric(descDepth, prometheus.GaugeValue, float64(n), q)
		ch <- prometheus.MustNewConstMetric(descOldest, prometheus.GaugeValue, oldest.Seconds(), q)
	}
}

// certCollector reports the expiry of the gateway's own certificate and of the hosted parties'.
type certCollector struct{ g *Gateway }

func (c certCollector) Describe(ch chan<- *prometheus.Desc) { ch <- descCert }

func (c certCollector) Collect(ch chan<- prometheus.Metric) {
	now := c.g.now()
	for _, cc := range c.g.certs() {
		ch <- prometheus.MustNewConstMetric(descCert, prometheus.GaugeValue, cc.cert.NotAfter.Sub(now).Seconds(), cc.party, cc.cert.Subject.String(), cc.cert.SerialNumber.String())
	}
}

type partyCert struct {
	party string
	cert  *x509.Certificate
}

// certs lists the certificates whose validity the gateway depends on: its own (signing and TLS)
// and those of the parties it hosts.
func (g *Gateway) certs() []partyCert {
	var out []partyCert
	seen := map[string]bool{}
	add := func(party string, c *x509.Certificate) {
		if k := party + "\x00" + string(c.Raw); !seen[k] {
			seen[k] = true
			out = append(out, partyCert{party, c})
		}
	}
	for _, c := range g.own {
		add(g.opt.Default, c)
	}
	for _, name := range g.hosted {
		if p, ok := g.dir.Party(name); ok {
			for _, c := range p.Certs {
				add(name, c)
			}
		}
	}
	return out
}

// Admin returns the admin handler: /healthz (the process answers), /readyz (store reachable,
// registry loaded, own certificates valid) and /metrics.
func (g *Gateway) Admin() http.Handler { return g.adminWith(nil) }

// adminWith is Admin with more routes (Listeners.AdminRoutes).
func (g *Gateway) adminWith(routes map[string]http.Handler) http.Handler {
	mux := http.NewServeMux()
	for pattern, h := range routes {
		mux.Handle(pattern, h)
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		problems := g.readiness(r.Context())
		w.Header().Set("Content-Type", "application/json")
		status := http.StatusOK
		if len(problems) > 0 {
			status = http.StatusServiceUnavailable
		}
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]any{"ready": len(problems) == 0, "problems": problems})
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(g.metrics.reg, promhttp.HandlerOpts{}))
	return mux
}

// readiness lists what keeps the gateway from serving; empty means ready.
func (g *Gateway) readiness(ctx context.Context) []string {
	var problems []string
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := g.store.Ping(ctx); err != nil {
		problems = append(problems, "store: "+err.Error())
	}
	if len(g.hosted) == 0 {
		problems = append(problems, "registry: no hosted party")
	}
	for _, name := range g.hosted {
		if _, ok := g.dir.Party(name); !ok {
			problems = append(problems, "registry: hosted party "+name+" is not loaded")
		}
	}
	now := g.now()
	for _, c := range g.own {
		if now.After(c.NotAfter) || now.Before(c.NotBefore) {
			problems = append(problems, "certificate "+c.Subject.String()+" is not valid now (valid "+c.NotBefore.Format(time.RFC3339)+" to "+c.NotAfter.Format(time.RFC3339)+")")
		}
	}
	return problems
}

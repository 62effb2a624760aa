package gateway

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"porta/envelope/wssec"
)

// A registry reload (porta serve's SIGHUP) replaces, as one value, what the gateway derives from
// the registry: the Directory, the Verifier (its trust store) and the client for peer gateways
// (its trusted roots). The gateway reads them through one atomic.Pointer: a request in flight
// keeps the parties, services and backends it already holds (they are never changed in place),
// and its later questions are answered by whichever registry is current; nothing waits.

// Reload is what a registry reload gives the gateway. A nil field keeps the current one.
type Reload struct {
	Directory Directory
	Verifier  *wssec.Verifier
	Client    *http.Client
}

// current is the registry-derived state in use.
type current struct {
	dir    Directory
	verify *wssec.Verifier
	client *http.Client
}

func (g *Gateway) state() *current { return g.cur.Load() }

// verifier is the WS-Security verifier of the current registry.
func (g *Gateway) verifier() *wssec.Verifier { return g.state().verify }

// peerClient is the HTTP client for peer gateways of the current registry.
func (g *Gateway) peerClient() *http.Client { return g.state().client }

// Swap puts a reloaded registry in use at once and records the success in /metrics
// (porta_registry_last_reload_success_timestamp_seconds). It returns the client it replaced, whose
// idle connections the caller may close once requests in flight are done with it.
func (g *Gateway) Swap(r Reload) (old *http.Client) {
	prev := g.state()
	next := *prev
	if r.Directory != nil {
		next.dir = r.Directory
	}
	if r.Verifier != nil {
		next.verify = r.Verifier
	}
	if r.Client != nil {
		next.client = r.Client
	}
	g.cur.Store(&next)
	g.metrics.reloadOK.Set(float64(g.now().UnixNano()) / 1e9)
	if next.client != prev.client {
		return prev.client
	}
	return nil
}

// ReloadFailed records a reload that was refused: the registry in use stays, the cause is logged
// at ERROR and porta_registry_reload_failures_total counts it.
func (g *Gateway) ReloadFailed(err error) {
	g.metrics.reloadFailures.Inc()
	g.log.Error("registry reload failed; the registry in use stays", "err", err)
}

// liveDirectory is the gateway's Directory: each question goes to the current registry's.
type liveDirectory struct{ g *Gateway }

func (d liveDirectory) Party(name string) (*Party, bool) { return d.g.state().dir.Party(name) }
func (d liveDirectory) Hosted(name string) bool          { return d.g.state().dir.Hosted(name) }
func (d liveDirectory) Service(provider, name string) (*Service, bool) {
	return d.g.state().dir.Service(provider, name)
}
func (d liveDirectory) MayConsume(consumer string, s *Service) bool {
	return d.g.state().dir.MayConsume(consumer, s)
}
func (d liveDirectory) Application(r *http.Request) (string, error) {
	return d.g.state().dir.Application(r)
}
func (d liveDirectory) AppMay(app, consumer string, s *Service) bool {
	return d.g.state().dir.AppMay(app, consumer, s)
}
func (d liveDirectory) Backend(s *Service) (Backend, bool) { return d.g.state().dir.Backend(s) }

// Verified is credentialsVerifier of the current registry's Directory, if it has one.
func (d liveDirectory) Verified(r *http.Request) bool {
	v, ok := d.g.state().dir.(credentialsVerifier)
	return ok && v.Verified(r)
}

func newReloadMetrics(m *metrics) []prometheus.Collector {
	m.reloadFailures = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "porta_registry_reload_failures_total",
		Help: "Registry reloads (SIGHUP) refused because registry.yaml or a certificate did not check; the registry in use stayed.",
	})
	m.reloadOK = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "porta_registry_last_reload_success_timestamp_seconds",
		Help: "When the registry in use was loaded (at start or by the last successful reload), in Unix seconds.",
	})
	return []prometheus.Collector{m.reloadFailures, m.reloadOK}
}

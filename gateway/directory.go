package gateway

import (
	"fmt"
	"net/http"
	"time"

	"porta/registry"
)

// registryDirectory answers the gateway's questions from a loaded registry. The registry is
// immutable, so parties, services and backends are converted once, when the gateway opens.
type registryDirectory struct {
	reg      *registry.Registry
	parties  map[string]*Party
	services map[[2]string]*Service
	backends map[[2]string]Backend
}

// NewDirectory adapts a loaded registry to the gateway. builtins are the built-in adapters by
// name (a service's "adapter:NAME" delivery); a delivery naming one that is not there is an error.
// timeout is the backend call timeout of deliveries that set none.
func NewDirectory(reg *registry.Registry, builtins map[string]Backend, timeout time.Duration) (Directory, error) {
	d := &registryDirectory{
		reg:      reg,
		parties:  map[string]*Party{},
		services: map[[2]string]*Service{},
		backends: map[[2]string]Backend{},
	}
	for _, p := range reg.Parties() {
		d.parties[p.Name] = &Party{Name: p.Name, Type: p.Type, PortID: p.PortID, URL: p.URL, Certs: p.Certs, Interop: p.Interop}
	}
	clients := map[any]*http.Client{}
	for _, s := range reg.Services() {
		key := [2]string{s.Provider, s.Name}
		gs := &Service{
			Provider: s.Provider, Type: s.Type, Name: s.Name, Profile: s.Profile,
			Actions: map[string]string{}, Schemas: map[string]string{}, Correlated: s.CorrelatedService,
			FilterDuplicates: s.FilterDuplicates, Ack: s.Ack, InOrder: s.InOrder, Expiry: s.Expiry, WSDL: s.WSDL,
			Trace: s.Trace,
		}
		for name, a := range s.Actions {
			gs.Actions[name] = a.Correlated
			if sc := s.RequestSchema(name); sc != "" {
				gs.Schemas[name] = sc
			}
		}
		d.services[key] = gs
		del := s.Delivery
		if del == nil {
			continue
		}
		if del.Adapter != "" {
			b, ok := builtins[del.Adapter]
			if !ok {
				return nil, fmt.Errorf("%s: service %s of %s is delivered to adapter %q, which this binary does not have", s.Pos, s.Name, s.Provider, del.Adapter)
			}
			d.backends[key] = b
			continue
		}
		// One pooled client per TLS configuration: connections to the application are reused.
		var ck any = "default"
		if del.TLS != nil {
			ck = del.TLS
		}
		c, ok := clients[ck]
		if !ok {
			c = &http.Client{Transport: &http.Transport{
				TLSClientConfig: del.TLS, MaxIdleConns: 256, MaxIdleConnsPerHost: 64, IdleConnTimeout: 90 * time.Second,
				ForceAttemptHTTP2: true,
			}}
			clients[ck] = c
		}
		to := del.Timeout
		if to == 0 {
			to = timeout
		}
		d.backends[key] = &HTTPBackend{URL: del.URL, Client: c, Timeout: to, Username: del.Username, Password: del.Password}
	}
	return d, nil
}

func (d *registryDirectory) Party(name string) (*Party, bool) {
	p, ok := d.parties[name]
	return p, ok
}

func (d *registryDirectory) Hosted(name string) bool { return d.reg.Hosted(name) }

func (d *registryDirectory) Service(provider, name string) (*Service, bool) {
	s, ok := d.services[[2]string{provider, name}]
	return s, ok
}

func (d *registryDirectory) MayConsume(consumer string, s *Service) bool {
	return d.reg.MayConsume(consumer, s.Provider, s.Name)
}

func (d *registryDirectory) Application(r *http.Request) (string, error) {
	a, err := d.reg.AuthenticateApplication(registry.CredentialsFromRequest(r))
	if err != nil {
		return "", err
	}
	return a.Name, nil
}

// Verified reports whether r's HTTP Basic credentials were accepted before (see
// registry.Registry.Verified).
func (d *registryDirectory) Verified(r *http.Request) bool {
	return d.reg.Verified(registry.CredentialsFromRequest(r))
}

func (d *registryDirectory) AppMay(app, consumer string, s *Service) bool {
	a, ok := d.reg.Application(app)
	return ok && a.May(consumer, s.Provider, s.Name)
}

func (d *registryDirectory) Backend(s *Service) (Backend, bool) {
	b, ok := d.backends[[2]string{s.Provider, s.Name}]
	return b, ok
}

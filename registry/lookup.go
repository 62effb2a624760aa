package registry

import (
	"crypto/x509"
	"slices"
)

// Lookups for the gateway. Each is a map read: no I/O, no allocation beyond the result. Returned
// pointers are shared and must not be modified.

// Party returns a declared party by name.
func (r *Registry) Party(name string) (*Party, bool) {
	p, ok := r.parties[name]
	return p, ok
}

// Hosted reports whether this gateway hosts the named party (is its porta di dominio).
func (r *Registry) Hosted(name string) bool {
	p, ok := r.parties[name]
	return ok && p.Hosted
}

// HostedParties returns the names of the hosted parties in declaration order.
func (r *Registry) HostedParties() []string { return slices.Clone(r.hosted) }

// Parties returns every party in declaration order.
func (r *Registry) Parties() []*Party { return slices.Clone(r.partyList) }

// Service returns the service name provided by provider.
func (r *Registry) Service(provider, name string) (*Service, bool) {
	s, ok := r.services[serviceKey{provider, name}]
	return s, ok
}

// Services returns every service in declaration order.
func (r *Registry) Services() []*Service { return slices.Clone(r.svcList) }

// Action returns an action of provider's service.
func (r *Registry) Action(provider, service, action string) (*Action, bool) {
	s, ok := r.services[serviceKey{provider, service}]
	if !ok {
		return nil, false
	}
	a, ok := s.Actions[action]
	return a, ok
}

// MayConsume reports whether the party consumer is authorised to call provider's service.
func (r *Registry) MayConsume(consumer, provider, service string) bool {
	s, ok := r.services[serviceKey{provider, service}]
	return ok && slices.Contains(s.Consumers, consumer)
}

// Delivery returns where provider's service is delivered; only services of hosted parties have one.
func (r *Registry) Delivery(provider, service string) (*Delivery, bool) {
	s, ok := r.services[serviceKey{provider, service}]
	if !ok || s.Delivery == nil {
		return nil, false
	}
	return s.Delivery, true
}

// Application returns a declared application by name.
func (r *Registry) Application(name string) (*Application, bool) {
	a, ok := r.apps[name]
	return a, ok
}

// Applications returns every application in declaration order.
func (r *Registry) Applications() []*Application { return slices.Clone(r.appList) }

// PartyByCert returns the party that lists cert among its certificates (the owner of a busta
// signature or of a TLS client certificate).
func (r *Registry) PartyByCert(cert *x509.Certificate) (*Party, bool) {
	if cert == nil {
		return nil, false
	}
	p, ok := r.certOwner[Fingerprint(cert)]
	return p, ok
}

// TrustPool returns a new pool of every party's certificates and CAs: the roots for verifying TLS
// peers (PA client certificates, outbound connections to peer gateways). Verification by the pool
// says only "some party"; use PartyByCert or Party.Owns to say which.
func (r *Registry) TrustPool() *x509.CertPool { return r.trust.Clone() }

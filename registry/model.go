package registry

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"strings"
	"time"

	"porta/envelope"
)

// Party types (IdentificativoParte@tipo) a registry accepts.
const (
	TypeSPC  = "SPC"
	TypeTEST = "TEST"
	TypeAOO  = "AOO"
)

// Party is a soggetto: a public administration with a porta di dominio.
type Party struct {
	Name   string
	Type   string // SPC, TEST or AOO
	PortID string // identificativo porta: the second part of its busta identifiers
	URL    string // its Porta Applicativa (inbound) URL; may be empty for a hosted party
	Hosted bool   // this gateway is the party's porta di dominio
	// Certs are the party's certificates, newest rollover included: a signature or TLS client
	// certificate is the party's when it is one of these (Owns).
	Certs []*x509.Certificate
	CA    []*x509.Certificate // optional issuers, added to the TLS trust pool
	// Interop is the party's interoperability profile (profile: egov-1.1 or linee-guida-1.1, spec
	// §11): the rules its buste are checked by, and the buste sent to it are built by.
	Interop envelope.Interop
	Pos     Pos
}

// Owns reports whether cert is one of the party's certificates (compared by SHA-256 fingerprint).
func (p *Party) Owns(cert *x509.Certificate) bool {
	if cert == nil {
		return false
	}
	for _, c := range p.Certs {
		if c.Equal(cert) {
			return true
		}
	}
	return false
}

// DefaultPortID is the identificativo porta of a party of type typ that declares none: PDD<name>
// for an AOO (the reference implementation's default), envelope.DefaultPortID otherwise.
func DefaultPortID(name, typ string) string {
	if typ == TypeAOO {
		return "PDD" + name
	}
	return envelope.DefaultPortID(name)
}

// A registry spells a profile by its short name (envelope.Profile.String: "oneway", "sync", ...)
// and a service type by one of envelope.ServiceTypes.

// Service is an agreement (accordo di servizio): a service provided by one party, with its
// profile, actions, flags and who may call it.
type Service struct {
	Provider string
	Name     string
	Type     string // Servizio@tipo, default SPC
	Version  int
	Profile  envelope.Profile
	// CorrelatedService, for an asynchronous symmetric service, names the callback service that
	// each consumer provides (the risposta is sent there).
	CorrelatedService string

	FilterDuplicates bool          // inoltro EGOV_IT_ALPIUUNAVOLTA
	Ack              bool          // confermaRicezione
	InOrder          bool          // Sequenza: delivery in order per conversation
	Expiry           time.Duration // Scadenza of outbound buste; 0 = the gateway's default
	Schema           string        // default payload schema of the actions, under xsd/schemas
	WSDL             string        // absolute path of the service's WSDL, "" = none

	Actions     map[string]*Action
	ActionOrder []string // action names as declared
	Consumers   []string // remote parties that may call the service
	Delivery    *Delivery
	Trace       TracePolicy // what the audit trail keeps of its messages (tracepolicy.go)
	Pos         Pos
}

// Action is an operation of a service (azione).
type Action struct {
	Name string
	// Correlated names the action this one correlates to: in an asynchronous asymmetric service the
	// status action (Stato) names the request action (Richiesta).
	Correlated string
	Request    string // payload schema of requests, under xsd/schemas; "" = the service's Schema
	Response   string // payload schema of responses; "" = the service's Schema
	Pos        Pos
}

// RequestSchema returns the schema a request of action must validate against ("" = none).
func (s *Service) RequestSchema(action string) string {
	if a, ok := s.Actions[action]; ok && a.Request != "" {
		return a.Request
	}
	return s.Schema
}

// ResponseSchema returns the schema a response of action must validate against ("" = none).
func (s *Service) ResponseSchema(action string) string {
	if a, ok := s.Actions[action]; ok && a.Response != "" {
		return a.Response
	}
	return s.Schema
}

// Delivery says where a service of a hosted party is delivered: a built-in adapter resolved by the
// gateway, or the HTTP endpoint of a local application.
type Delivery struct {
	Adapter string // built-in adapter name (e.g. "anagrafe"); when set, the other fields are empty

	URL      string
	Timeout  time.Duration // per call; 0 = the gateway's default
	Username string        // HTTP Basic towards the application, optional
	Password string
	// TLS is the client configuration for an https URL with a private CA or a client
	// certificate; nil = the system defaults.
	TLS *tls.Config
}

// Application is a servizio applicativo: a local application that calls the Porta Delegata.
type Application struct {
	Name         string
	Username     string // HTTP Basic user, "" = none
	passwordHash string
	// CertFingerprint (SHA-256, lower-case hex) and CertSubject (x509 Name string) identify the
	// application by TLS client certificate; either may be empty.
	CertFingerprint string
	CertSubject     string
	Grants          []Grant
	Pos             Pos
}

// Grant is one outbound service an application may call, as the consumer party.
type Grant struct {
	Consumer, Provider, Service string
}

// May reports whether the application may call provider's service as consumer.
func (a *Application) May(consumer, provider, service string) bool {
	for _, g := range a.Grants {
		if g.Consumer == consumer && g.Provider == provider && g.Service == service {
			return true
		}
	}
	return false
}

// Fingerprint returns the SHA-256 fingerprint of a certificate, lower-case hex without colons.
func Fingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return hex.EncodeToString(sum[:])
}

// normFingerprint accepts hex with or without colons, any case.
func normFingerprint(s string) string {
	return strings.ToLower(strings.ReplaceAll(strings.TrimSpace(s), ":", ""))
}

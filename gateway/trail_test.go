package gateway

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"porta/audit"
)

// A refusal is traced although its caller has gone (the request's context is cancelled), with at
// most RefusedBodyMax bytes of the message and the size of the whole; a PD refusal names the
// remote address, the application and the reason.
func TestRefusalsTracedAfterCallerLeft(t *testing.T) {
	n, stores := newAuditNetwork(t)
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	junk := `<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><x>` + strings.Repeat("j", 1<<20) + `</x></soapenv:Body></soapenv:Envelope>`
	req := httptest.NewRequestWithContext(gone, http.MethodPost, "/pa", strings.NewReader(junk))
	req.Header.Set("Content-Type", "text/xml")
	req.RemoteAddr = "192.0.2.7:4242"
	n.min.g.PA().ServeHTTP(httptest.NewRecorder(), req)

	req = httptest.NewRequestWithContext(gone, http.MethodPost, "/pd/Provincia/Ministero/Nessuno/Invia", strings.NewReader(appRequest))
	req.SetBasicAuth("sil", "secret")
	req.RemoteAddr = "192.0.2.8:4343"
	n.prov.g.PD().ServeHTTP(httptest.NewRecorder(), req)

	recs, err := stores[min_].List(context.Background(), audit.Filter{Outcome: OutcomeError})
	if err != nil || len(recs) != 1 {
		t.Fatalf("the Ministero traced %d refusals (%v), want 1", len(recs), err)
	}
	r, err := stores[min_].Get(context.Background(), recs[0].Node, recs[0].Seq)
	if err != nil {
		t.Fatal(err)
	}
	if r.Peer != "192.0.2.7:4242" || r.BodyMode != audit.BodyCapped || len(r.Raw) != DefaultRefusedBodyMax || r.RawSize != int64(len(junk)) {
		t.Errorf("PA refusal: peer %s, mode %s, %d bytes kept of %d", r.Peer, r.BodyMode, len(r.Raw), r.RawSize)
	}
	recs, err = stores[prov].List(context.Background(), audit.Filter{Outcome: OutcomeError})
	if err != nil || len(recs) != 1 {
		t.Fatalf("the Provincia traced %d refusals (%v), want 1", len(recs), err)
	}
	if r := recs[0]; r.Peer != "192.0.2.8:4343" || r.Application == "" || r.Reason != string(ReasonRouteUnknown) || r.Function != fnPD || r.Service != "Nessuno" {
		t.Errorf("PD refusal traced as %+v", r)
	}
}

// handshakeReason sorts crypto/tls's and net/http's wording into the metric's reasons.
func TestHandshakeReason(t *testing.T) {
	for cause, want := range map[string]string{
		"tls: client didn't provide a certificate":                                                           "no-certificate",
		"tls: failed to verify certificate: x509: certificate signed by unknown authority":                   "unknown-authority",
		"tls: failed to verify certificate: x509: certificate has expired or is not yet valid: current time": "certificate-expired",
		"tls: failed to verify certificate: x509: certificate specifies an incompatible key usage":           "certificate-invalid",
		"client sent an HTTP request to an HTTPS server":                                                     "plain-http",
		"remote error: tls: bad certificate":                                                                 "client-aborted",
		"EOF":                                                                                                "eof",
		"read tcp 127.0.0.1:7443->127.0.0.1:5000: i/o timeout":                                               "timeout",
		"tls: client offered only unsupported versions: [302 301]":                                           "protocol",
		"something new": "other",
	} {
		if got := handshakeReason(cause); got != want {
			t.Errorf("handshakeReason(%q) = %s, want %s", cause, got, want)
		}
	}
}

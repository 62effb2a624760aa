package ops

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"porta/audit"
	"porta/registry"
)

// testPKI is the operators' CA and another CA nobody trusts, with a leaf maker.
type testPKI struct {
	ca, other *registry.CA
	server    tls.Certificate
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	dir := t.TempDir()
	ca, err := registry.NewCA(filepath.Join(dir, "ops-ca"), "ecdsa-p256", "Operators CA", rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	other, err := registry.NewCA(filepath.Join(dir, "other-ca"), "ecdsa-p256", "Another CA", rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p := &testPKI{ca: ca, other: other}
	p.server = p.leaf(t, ca, "gw1")
	return p
}

// leaf issues a certificate for name from ca, as a TLS key pair.
func (p *testPKI) leaf(t *testing.T, ca *registry.CA, name string) tls.Certificate {
	t.Helper()
	key, err := registry.GenerateKey("ecdsa-p256", rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.Issue(key.Public(), registry.CertRequest{CommonName: name}, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}
}

// tlsServer serves the API of opt over TLS as porta serve's admin listener does with
// admin_client_ca: a client certificate is asked for and verified against the operators' CA
// (verify false: asked for and not verified).
func tlsServer(t *testing.T, p *testPKI, opt Options, verify bool) *httptest.Server {
	t.Helper()
	opt.Logger = slog.New(slog.DiscardHandler)
	a, err := New(opt)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	for pat, h := range a.Routes() {
		mux.Handle(pat, h)
	}
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	srv := httptest.NewUnstartedServer(mux)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes
	pool := x509.NewCertPool()
	pool.AddCert(p.ca.Cert)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{p.server}, ClientCAs: pool, ClientAuth: tls.VerifyClientCertIfGiven}
	if !verify {
		srv.TLS.ClientCAs, srv.TLS.ClientAuth = nil, tls.RequestClientCert
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// client trusts the operators' CA and presents cert, if any, whatever CAs the server names.
func (p *testPKI) client(cert *tls.Certificate) *http.Client {
	roots := x509.NewCertPool()
	roots.AddCert(p.ca.Cert)
	cfg := &tls.Config{RootCAs: roots}
	if cert != nil {
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cert, nil }
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
}

// An operator's client certificate authenticates it without a password, with its role; an
// unknown one is refused and traced; no certificate leaves the other ways in open.
func TestClientCertificates(t *testing.T) {
	ctx := context.Background()
	p := newTestPKI(t)
	s := newStore(t, nil)
	failedItem(t, s, "busta-1")
	otto, vera, stranger := p.leaf(t, p.ca, "otto"), p.leaf(t, p.ca, "vera"), p.leaf(t, p.ca, "stranger")
	for _, op := range []struct {
		name, role string
		cert       tls.Certificate
	}{{"otto-cert", "operator", otto}, {"vera-cert", "viewer", vera}} {
		if err := s.PutOperator(ctx, &audit.Operator{Name: op.name, Role: op.role, CertSHA256: registry.Fingerprint(op.cert.Leaf)}); err != nil {
			t.Fatal(err)
		}
	}
	srv := tlsServer(t, p, Options{Store: s}, true)

	r := doWith(t, p.client(&otto), srv.URL, req{path: "/api/v1/session"}).want(t, "an operator's certificate", http.StatusOK)
	if r.json["operator"] != "otto-cert" || r.json["role"] != "operator" || r.json["via"] != "certificate" || r.json["csrf_token"] != nil {
		t.Errorf("session by certificate: %s", r.body)
	}
	doWith(t, p.client(&otto), srv.URL, req{path: "/api/v1/transactions"}).want(t, "listing by certificate", http.StatusOK)
	doWith(t, p.client(&vera), srv.URL, req{method: "POST", path: "/api/v1/outbox/busta-1/requeue"}).want(t, "a viewer's certificate requeues", http.StatusForbidden)
	doWith(t, p.client(&otto), srv.URL, req{method: "POST", path: "/api/v1/outbox/busta-1/requeue",
		header: map[string]string{"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "cors"}}).want(t, "a cross-site requeue by certificate", http.StatusForbidden)
	doWith(t, p.client(&otto), srv.URL, req{method: "POST", path: "/api/v1/outbox/busta-1/requeue"}).want(t, "an operator's certificate requeues", http.StatusOK)

	// A certificate of the trusted CA that is no operator's: 401 that says what to do, whatever
	// Basic credentials come with it.
	r = doWith(t, p.client(&stranger), srv.URL, req{path: "/api/v1/transactions", user: "ada"}).want(t, "an unknown certificate", http.StatusUnauthorized)
	if msg, _ := r.json["message"].(string); !strings.Contains(msg, registry.Fingerprint(stranger.Leaf)) || !strings.Contains(msg, "porta operator add") {
		t.Errorf("the 401 of an unknown certificate does not name it and the fix: %s", r.body)
	}
	// No certificate: /api/v1 wants credentials, /healthz answers, a password still works.
	doWith(t, p.client(nil), srv.URL, req{path: "/api/v1/transactions"}).want(t, "no certificate", http.StatusUnauthorized)
	doWith(t, p.client(nil), srv.URL, req{path: "/healthz"}).want(t, "/healthz without a certificate", http.StatusOK)
	doWith(t, p.client(nil), srv.URL, req{path: "/api/v1/transactions", user: "vera"}).want(t, "a password over HTTPS", http.StatusOK)
	// An operator with a certificate and no password cannot log in with any password.
	doWith(t, p.client(nil), srv.URL, req{path: "/api/v1/session", header: map[string]string{"Authorization": "Basic b3R0by1jZXJ0Og=="}}).want(t, "a certificate operator by password", http.StatusUnauthorized)

	// A certificate of another CA: refused at the handshake (TLS 1.3 tells the client when it
	// reads the answer).
	foreign := p.leaf(t, p.other, "otto")
	if res, err := p.client(&foreign).Get(srv.URL + "/api/v1/session"); err == nil {
		res.Body.Close()
		t.Errorf("a certificate of another CA was accepted: %s", res.Status)
	} else if !strings.Contains(err.Error(), "certificate") {
		t.Errorf("a certificate of another CA: %v", err)
	}

	// The trail: the requeue by otto-cert with its certificate, the refused certificate.
	var requeue, refused *audit.Record
	for _, rec := range operatorActions(t, s) {
		switch rec.Outcome {
		case ActionRequeue:
			requeue = rec
		case ActionLoginFailed:
			if rec.ClientCert == registry.Fingerprint(stranger.Leaf) {
				refused = rec
			}
		}
	}
	if requeue == nil || requeue.Application != "otto-cert" || requeue.ClientCert != registry.Fingerprint(otto.Leaf) || requeue.ClientSubject != otto.Leaf.Subject.String() {
		t.Errorf("the requeue's record: %+v", requeue)
	}
	if refused == nil || !strings.Contains(refused.Detail, "no operator's") {
		t.Errorf("the refused certificate's record: %+v", refused)
	}
}

// A certificate the listener did not verify (no client CAs: it asks for any) is refused.
func TestUnverifiedCertificate(t *testing.T) {
	p := newTestPKI(t)
	s := newStore(t, nil)
	otto := p.leaf(t, p.ca, "otto")
	if err := s.PutOperator(context.Background(), &audit.Operator{Name: "otto-cert", Role: "operator", CertSHA256: registry.Fingerprint(otto.Leaf)}); err != nil {
		t.Fatal(err)
	}
	srv := tlsServer(t, p, Options{Store: s}, false)
	r := doWith(t, p.client(&otto), srv.URL, req{path: "/api/v1/session"}).want(t, "an unverified certificate", http.StatusUnauthorized)
	if msg, _ := r.json["message"].(string); !strings.Contains(msg, "not verified") || !strings.Contains(msg, "admin_client_ca") {
		t.Errorf("the 401 of an unverified certificate: %s", r.body)
	}
}

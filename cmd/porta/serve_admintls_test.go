package main

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"porta/registry"
)

// An HTTPS admin listener in a real porta serve: operators log in with client certificates of
// listen.admin_client_ca; /healthz answers without one; another CA's certificate is refused.
func TestServeAdminTLS(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	if code := run([]string{"init", "--party", "Provincia", "--dir", dir, "--alg", "ecdsa-p256", "--new-ca", filepath.Join(dir, "pki"),
		"--pd-addr", "127.0.0.1:0", "--pa-addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0"}, nil, &out, &errb); code != 0 {
		t.Fatalf("porta init: exit %d\n%s", code, errb.String())
	}
	cfg := filepath.Join(dir, "porta.yaml")
	// The operators' CA, their certificates, and a stranger's from another CA.
	opsCA, err := registry.NewCA(filepath.Join(dir, "ops-ca"), "ecdsa-p256", "Operators CA", rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	otherCA, err := registry.NewCA(filepath.Join(dir, "other-ca"), "ecdsa-p256", "Another CA", rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	issue := func(ca *registry.CA, name string) (certFile, keyFile string, pair tls.Certificate) {
		key, err := registry.GenerateKey("ecdsa-p256", rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		cert, err := ca.Issue(key.Public(), registry.CertRequest{CommonName: name}, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		certFile, keyFile = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+".key")
		if err := registry.WriteCertFile(certFile, cert); err != nil {
			t.Fatal(err)
		}
		if err := registry.WriteKeyFile(keyFile, key); err != nil {
			t.Fatal(err)
		}
		return certFile, keyFile, tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}
	}
	ottoCert, ottoKey, otto := issue(opsCA, "otto")
	veraCert, _, vera := issue(opsCA, "vera")
	_, _, foreign := issue(otherCA, "otto-elsewhere")

	yaml, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	yaml = bytes.Replace(yaml, []byte("\nlisten:\n"), []byte("\nlisten:\n  admin_tls: true\n  admin_client_ca: ops-ca/ca.cert.pem\n"), 1)
	if err := os.WriteFile(cfg, yaml, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, op := range [][]string{{"otto", "operator", ottoCert}, {"vera", "viewer", veraCert}} {
		out.Reset()
		if code := run([]string{"operator", "add", "--config", cfg, "--name", op[0], "--role", op[1], "--cert", op[2]}, nil, &out, &errb); code != 0 {
			t.Fatalf("porta operator add --cert: exit %d\n%s", code, errb.String())
		}
		if strings.Contains(out.String(), "password") {
			t.Errorf("an operator by certificate got a password:\n%s", out.String())
		}
	}

	addrs, done, logs := serveInProcess(t, cfg)
	defer stopServe(t, done, logs)
	base := "https://" + addrs["admin"]
	gatewayCA, err := registry.ReadCertFile(filepath.Join(dir, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	client := func(cert *tls.Certificate) *http.Client {
		roots := x509.NewCertPool()
		roots.AddCert(gatewayCA[0])
		c := &tls.Config{RootCAs: roots}
		if cert != nil { // sent whatever CAs the listener names
			c.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cert, nil }
		}
		return &http.Client{Transport: &http.Transport{TLSClientConfig: c}}
	}
	for _, c := range []struct {
		who          string
		cert         *tls.Certificate
		method, path string
		status       int
	}{
		{"otto", &otto, "GET", "/api/v1/transactions", 200},
		{"vera", &vera, "GET", "/api/v1/transactions", 200},
		{"vera", &vera, "POST", "/api/v1/outbox/busta-1/requeue", 403},
		{"no certificate", nil, "GET", "/api/v1/transactions", 401},
		{"no certificate", nil, "GET", "/healthz", 200},
		{"no certificate", nil, "GET", "/metrics", 200},
	} {
		req, _ := http.NewRequest(c.method, base+c.path, nil)
		resp, err := client(c.cert).Do(req)
		if err != nil {
			t.Fatalf("%s %s as %s: %v", c.method, c.path, c.who, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status {
			t.Errorf("%s %s as %s: %d %s, want %d", c.method, c.path, c.who, resp.StatusCode, b, c.status)
		}
	}
	if resp, err := client(&foreign).Get(base + "/api/v1/transactions"); err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("a certificate of another CA: %s, want a refused handshake or 401", resp.Status)
		}
	}

	// curl, as the README shows it.
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Log("curl not installed: its check skipped")
		return
	}
	cmd := exec.Command(curl, "-sS", "--fail-with-body", "--cert", ottoCert, "--key", ottoKey, "--cacert", filepath.Join(dir, "ca.pem"), base+"/api/v1/session")
	b, err := cmd.CombinedOutput()
	var s struct{ Operator, Role, Via string }
	if err != nil || json.Unmarshal(b, &s) != nil || s.Operator != "otto" || s.Role != "operator" || s.Via != "certificate" {
		t.Errorf("curl --cert: %v\n%s", err, b)
	}
	cmd = exec.Command(curl, "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", filepath.Join(dir, "ca.pem"), base+"/api/v1/transactions")
	if b, err := cmd.CombinedOutput(); err != nil || string(b) != "401" {
		t.Errorf("curl without a certificate: %v %s, want 401", err, b)
	}
}

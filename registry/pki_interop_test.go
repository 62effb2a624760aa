package registry

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"porta/internal/testenv"
)

// TestIssuedCertificatesWithOpenSSL checks the CA, leaf and key files with an independent tool:
// openssl must accept the leaf for both TLS purposes, under the CA, at the requested hosts, and
// read the PKCS#8 key.
func TestIssuedCertificatesWithOpenSSL(t *testing.T) {
	openssl := testenv.LookPath(t, "openssl", "apt-get install openssl")
	for _, alg := range []string{AlgECDSAP256, AlgRSA2048} {
		dir := filepath.Join(t.TempDir(), alg)
		ca, err := NewCA(filepath.Join(dir, "ca"), alg, "Porta local CA", rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		key, _ := GenerateKey(alg, rand.Reader)
		leaf, err := ca.Issue(key.Public(), CertRequest{CommonName: "Provincia", Hosts: []string{"pdd.provincia.example"}}, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		leafFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
		WriteCertFile(leafFile, leaf)
		WriteKeyFile(keyFile, key)
		caFile := filepath.Join(dir, "ca", CACertFile)
		for _, args := range [][]string{
			{"verify", "-purpose", "sslserver", "-CAfile", caFile, leafFile},
			{"verify", "-purpose", "sslclient", "-CAfile", caFile, leafFile},
			{"verify", "-purpose", "sslserver", "-verify_hostname", "pdd.provincia.example", "-CAfile", caFile, leafFile},
			{"verify", "-purpose", "sslserver", "-verify_ip", "127.0.0.1", "-CAfile", caFile, leafFile},
			{"pkey", "-in", keyFile, "-noout"},
			{"pkey", "-in", filepath.Join(dir, "ca", CAKeyFile), "-noout"},
		} {
			out, err := exec.Command(openssl, args...).CombinedOutput()
			if err != nil {
				t.Errorf("%s: openssl %s: %v\n%s", alg, strings.Join(args, " "), err, out)
			}
		}
		// And a certificate for another host is refused: the oracle can say no.
		out, err := exec.Command(openssl, "verify", "-verify_hostname", "other.example", "-CAfile", caFile, leafFile).CombinedOutput()
		if err == nil && !strings.Contains(string(out), "mismatch") {
			t.Errorf("%s: openssl accepted the leaf for other.example:\n%s", alg, out)
		}
	}
}

// TestMutualTLSWithOneCertificate shows that the one key and certificate porta init makes serves
// as TLS server and TLS client between two gateways that trust each other through their
// registries' TrustPool.
func TestMutualTLSWithOneCertificate(t *testing.T) {
	mk := func(name string) tls.Certificate {
		key, _ := GenerateKey(AlgECDSAP256, rand.Reader)
		c, err := SelfSigned(key, CertRequest{CommonName: name}, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return tls.Certificate{Certificate: [][]byte{c.Raw}, PrivateKey: key, Leaf: c}
	}
	server, client := mk("Ministero"), mk("Provincia")
	pool := x509.NewCertPool() // what each registry's TrustPool holds after add-party
	pool.AddCert(server.Leaf)
	pool.AddCert(client.Leaf)
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.TLS.PeerCertificates[0].Subject.CommonName)
	}))
	ts.TLS = &tls.Config{Certificates: []tls.Certificate{server}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}
	ts.StartTLS()
	defer ts.Close()
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{Certificates: []tls.Certificate{client}, RootCAs: pool}}}
	url := strings.Replace(ts.URL, "127.0.0.1", "localhost", 1)
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "Provincia" {
		t.Errorf("server saw client %q", body)
	}
}

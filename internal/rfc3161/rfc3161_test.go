package rfc3161

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"porta/internal/testenv"
)

// localTSA is a TSA made with openssl ts -reply behind an HTTP handler, its certificate signed by
// a CA of its own.
func localTSA(t *testing.T) (url string, ca *x509.Certificate) {
	t.Helper()
	openssl := testenv.LookPath(t, "openssl", "apt-get install openssl")
	dir := t.TempDir()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test TSA CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ = x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	// RFC 3161 2.3: the TSA's certificate has one extended key usage, timeStamping, critical.
	eku, _ := asn1.Marshal([]asn1.ObjectIdentifier{{1, 3, 6, 1, 5, 5, 7, 3, 8}})
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "Test TSA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 37}, Critical: true, Value: eku}}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	crt := write("tsa.crt", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	kf := write("tsa.key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}))
	write("serial", []byte("01\n"))
	cfg := write("tsa.cnf", []byte(fmt.Sprintf(`[ tsa ]
default_tsa = tsa1
[ tsa1 ]
serial = %s/serial
crypto_device = builtin
signer_cert = %s
signer_key = %s
signer_digest = sha256
default_policy = 1.3.6.1.4.1.99999.1
digests = sha256
accuracy = secs:1
ordering = no
tsa_name = no
ess_cert_id_chain = no
ess_cert_id_alg = sha256
`, dir, crt, kf)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q, _ := io.ReadAll(r.Body)
		f, err := os.CreateTemp(dir, "q-*.tsq")
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		f.Write(q)
		f.Close()
		out, err := exec.Command(openssl, "ts", "-reply", "-config", cfg, "-queryfile", f.Name()).Output()
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Header().Set("Content-Type", "application/timestamp-reply")
		w.Write(out)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, ca
}

func TestStampWithOpenSSLTSA(t *testing.T) {
	url, ca := localTSA(t)
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	sum := sha256.Sum256([]byte("chain head a/10"))
	c := &Client{URL: url, Roots: roots}
	token, err := c.Stamp(context.Background(), sum[:])
	if err != nil {
		t.Fatal(err)
	}
	info, err := Verify(token, sum[:], roots)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(info.Time); d < -time.Minute || d > time.Minute {
		t.Errorf("genTime %v is not now", info.Time)
	}
	if info.Cert.Subject.CommonName != "Test TSA" {
		t.Errorf("signer %s", info.Cert.Subject)
	}

	// Another digest, a flipped signature byte, another CA: refused.
	other := sha256.Sum256([]byte("another head"))
	if _, err := Verify(token, other[:], nil); err == nil || !strings.Contains(err.Error(), "imprint") {
		t.Errorf("token for another digest: %v", err)
	}
	bad := append([]byte(nil), token...)
	bad[len(bad)-5] ^= 1 // inside the signature, the last field of the token
	if _, err := Verify(bad, sum[:], nil); err == nil {
		t.Error("a token with a changed signature verified")
	}
	foreign := x509.NewCertPool()
	_, ca2 := localTSA(t)
	foreign.AddCert(ca2)
	if _, err := Verify(token, sum[:], foreign); err == nil {
		t.Error("a token from a TSA outside the roots verified")
	}
}

func TestRefusal(t *testing.T) {
	// PKIStatusInfo rejection (2) with a reason: the error says it.
	der, err := asn1.Marshal(struct{ Status pkiStatusInfo }{pkiStatusInfo{Status: 2, StatusString: []string{"bad alg"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseResponse(der); err == nil || !strings.Contains(err.Error(), "bad alg") {
		t.Errorf("ParseResponse = %v", err)
	}
}

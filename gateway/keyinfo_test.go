package gateway

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"porta/envelope"
	"porta/envelope/wssec"
	"porta/internal/testenv"
)

var keyRefs = []wssec.KeyRef{wssec.RefBinaryToken, wssec.RefIssuerSerial, wssec.RefX509KeyIdentifier, wssec.RefSubjectKeyIdentifier, wssec.RefThumbprint}

// signerWith is nd's signer writing its KeyInfo in the form ref.
func (nd *node) signerWith(t testing.TB, ref wssec.KeyRef) *wssec.Signer {
	s := nd.signer(t)
	s.KeyRef = ref
	return s
}

// wantAnswer checks the PA's answer: HTTP 200 when code is "", else HTTP 500 with code.
func wantAnswer(t *testing.T, status int, body string, code envelope.Code) {
	t.Helper()
	if code == "" {
		if status != http.StatusOK {
			t.Fatalf("status %d, want 200\n%s", status, body)
		}
		return
	}
	if status != http.StatusInternalServerError || !strings.Contains(body, `codiceEccezione="`+string(code)+`"`) {
		t.Fatalf("status %d, want 500 with %s\n%s", status, code, body)
	}
}

// TestInboundKeyReferences: the PA accepts every KeyInfo form from the Mittente's registered
// certificate, and refuses a KeyInfo that names any other certificate.
func TestInboundKeyReferences(t *testing.T) {
	n := newNetwork(t)
	for _, ref := range keyRefs {
		t.Run(ref.String(), func(t *testing.T) {
			before := n.min.be.count()
			status, body := postPA(t, n.prov, n.min, craft(t, n, nil, n.prov.signerWith(t, ref), nil))
			wantAnswer(t, status, body, "")
			if n.min.be.count() != before+1 {
				t.Error("the busta was not delivered")
			}
		})
	}
	// Signed by the Ministero: a form that carries the certificate passes the signature and fails
	// the authorisation (201); a form that names it finds no such certificate of the Provincia
	// (200), since names are resolved among the Mittente's certificates only.
	for ref, code := range map[wssec.KeyRef]envelope.Code{
		wssec.RefBinaryToken:          envelope.CodeSenderNotAuthorized,
		wssec.RefX509KeyIdentifier:    envelope.CodeSenderNotAuthorized,
		wssec.RefIssuerSerial:         envelope.CodeSecurityPolicy,
		wssec.RefSubjectKeyIdentifier: envelope.CodeSecurityPolicy,
		wssec.RefThumbprint:           envelope.CodeSecurityPolicy,
	} {
		t.Run("another party's certificate by "+ref.String(), func(t *testing.T) {
			status, body := postPA(t, n.prov, n.min, craft(t, n, nil, n.min.signerWith(t, ref), nil))
			wantAnswer(t, status, body, code)
		})
	}
}

// writePEM writes nd's key (PKCS#8) and certificate as porta init does, for the WSS4J peer.
func (nd *node) writePEM(t *testing.T, dir string) (key, cert string) {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(nd.id.key)
	if err != nil {
		t.Fatal(err)
	}
	key, cert = filepath.Join(dir, nd.name+".key.pem"), filepath.Join(dir, nd.name+".cert.pem")
	if err := os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: nd.id.cert.Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	return key, cert
}

// TestWSS4JKeyReferences is the independent check of the key references: Apache WSS4J 1.6 (the
// peer in ../shared/peers/wss4j, ECDSA-SHA256 and SHA-256 digests, its defaults otherwise:
// InclusiveNamespaces PrefixList, ds:KeyInfo and STR with Ids) signs buste with each form and the
// PA accepts them; it verifies what the Signer writes in each form; and the PA refuses a WSS4J
// busta that names the certificate of another party.
func TestWSS4JKeyReferences(t *testing.T) {
	dir := t.TempDir()
	run := testenv.WSS4J(t, filepath.Join(dir, "peer"))
	n := newNetwork(t)
	provKey, provCert := n.prov.writePEM(t, dir)
	minKey, minCert := n.min.writePEM(t, dir)
	signByPeer := func(t *testing.T, key, cert string, ref wssec.KeyRef) []byte {
		t.Helper()
		tmpl, out := filepath.Join(t.TempDir(), "tmpl.xml"), filepath.Join(t.TempDir(), "busta.xml")
		if err := os.WriteFile(tmpl, craft(t, n, nil, nil, nil), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := run("sign-busta", tmpl, "--key", key, "--cert", cert, "--key-ref", ref.String(), "--digest", "sha256", "--out", out); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, ref := range keyRefs {
		t.Run("WSS4J signs, the PA accepts: "+ref.String(), func(t *testing.T) {
			signed := signByPeer(t, provKey, provCert, ref)
			status, body := postPA(t, n.prov, n.min, signed)
			wantAnswer(t, status, body, "")
		})
		t.Run("the Signer signs, WSS4J verifies: "+ref.String(), func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "signed.xml")
			if err := os.WriteFile(file, craft(t, n, nil, n.prov.signerWith(t, ref), nil), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := run("verify-file", file, "--trust", provCert)
			if err != nil || !strings.Contains(string(out), `"ok":true`) {
				t.Fatalf("WSS4J refused the busta: %v\n%s", err, out)
			}
		})
	}
	// WSS4J 1.6's default form (IssuerSerial) with RSA-SHA256, from a second certificate of the
	// Provincia (an RSA key beside its ECDSA one, as in a rollover), which the Ministero's registry
	// and trust store hold.
	rsaKey, rsaCert := rsaIdentity(t, dir, prov)
	n.min.dir.mu.Lock()
	p := *n.min.dir.parties[prov]
	p.Certs = append(append([]*x509.Certificate(nil), p.Certs...), rsaCert)
	n.min.dir.parties[prov] = &p
	n.min.dir.mu.Unlock()
	n.min.g.verifier().Trust = wssec.NewTrustStore([]*x509.Certificate{n.prov.id.cert, n.min.id.cert, rsaCert}, nil)
	for _, ref := range []wssec.KeyRef{wssec.RefIssuerSerial, wssec.RefSubjectKeyIdentifier} {
		t.Run("WSS4J signs with RSA-SHA256, the PA accepts: "+ref.String(), func(t *testing.T) {
			status, body := postPA(t, n.prov, n.min, signByPeer(t, rsaKey, filepath.Join(dir, prov+".rsa.cert.pem"), ref))
			wantAnswer(t, status, body, "")
		})
	}
	for _, ref := range []wssec.KeyRef{wssec.RefIssuerSerial, wssec.RefThumbprint} {
		t.Run("WSS4J signs with another party's certificate by "+ref.String(), func(t *testing.T) {
			status, body := postPA(t, n.prov, n.min, signByPeer(t, minKey, minCert, ref))
			wantAnswer(t, status, body, envelope.CodeSecurityPolicy)
		})
	}
}

// rsaIdentity makes an RSA-2048 key and a self-signed certificate for name, written as PEM
// files in dir (NAME.rsa.key.pem, NAME.rsa.cert.pem); it returns the key file and the certificate.
func rsaIdentity(t *testing.T, dir, name string) (string, *x509.Certificate) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(now.UnixNano()),
		Subject:      pkix.Name{CommonName: name + " RSA", Organization: []string{name}},
		NotBefore:    now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, name+".rsa.key.pem")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".rsa.cert.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	return keyFile, cert
}

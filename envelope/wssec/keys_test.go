package wssec

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"os"
	"os/exec"
	"strings"
	"testing"

	"porta/internal/testenv"
)

// testKey is the Go private key of the test PKI's name.
func testKey(t testing.TB, name string) crypto.Signer {
	t.Helper()
	data, err := os.ReadFile(pki + name + ".key.pem")
	if err != nil {
		t.Fatal(err)
	}
	k, err := ParseKeyPEM(data)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// opensslOrSkip returns key on OpenSSL, skipping where libcrypto does not load.
func opensslOrSkip(t testing.TB, key crypto.Signer) crypto.Signer {
	t.Helper()
	k, err := opensslSigner(key)
	if err != nil {
		t.Skipf("no OpenSSL engine: %v", err)
	}
	return k
}

// engineSigner is testSigner with its key on engine.
func engineSigner(t testing.TB, name, engine string) *Signer {
	t.Helper()
	s, err := loadSigner(pki+name+".key.pem", pki+name+".cert.pem", engine)
	if err != nil {
		t.Fatal(err)
	}
	s.Now = clockAt(signTime)
	s.Parts = testSigner(t, name).Parts
	return s
}

func TestEngineChoice(t *testing.T) {
	if got := engineSigner(t, "test-rsa", EngineGo).Engine(); got != EngineGo {
		t.Errorf("%s=go: engine %s", EnvSigner, got)
	}
	_, err := opensslSigner(testKey(t, "test-rsa"))
	auto := engineSigner(t, "test-ecdsa", EngineAuto).Engine()
	switch {
	case err == nil && auto != EngineOpenSSL:
		t.Errorf("auto with libcrypto: engine %s, want openssl", auto)
	case err != nil && auto != EngineGo:
		t.Errorf("auto without libcrypto (%v): engine %s, want go", err, auto)
	}
	if _, lerr := loadSigner(pki+"test-rsa.key.pem", pki+"test-rsa.cert.pem", EngineOpenSSL); (lerr == nil) != (err == nil) {
		t.Errorf("openssl: load error %v, engine error %v", lerr, err)
	}
	if _, err := loadSigner(pki+"test-rsa.key.pem", pki+"test-rsa.cert.pem", "fast"); err == nil || !strings.Contains(err.Error(), EnvSigner) {
		t.Errorf("unknown engine: %v, want an error naming %s", err, EnvSigner)
	}
	t.Setenv(EnvSigner, EngineGo)
	if got := testSigner(t, "test-rsa").Engine(); got != EngineGo {
		t.Errorf("LoadSigner with %s=go: engine %s", EnvSigner, got)
	}
}

// TestEnginesSignDigests: OpenSSL's signatures of every digest the engine takes verify with Go's
// public key; RSA PKCS#1 v1.5 is deterministic, so they equal Go's byte for byte.
func TestEnginesSignDigests(t *testing.T) {
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]crypto.Signer{"rsa-2048": testKey(t, "test-rsa"), "ecdsa-p256": testKey(t, "test-ecdsa"), "ecdsa-p384": p384}
	for name, goKey := range keys {
		k := opensslOrSkip(t, goKey)
		for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA384, crypto.SHA512} {
			hh := h.New()
			hh.Write([]byte("SignedInfo " + name))
			digest := hh.Sum(nil)
			sig, err := k.Sign(rand.Reader, digest, h)
			if err != nil {
				t.Fatalf("%s %s: %v", name, h, err)
			}
			switch pub := goKey.Public().(type) {
			case *rsa.PublicKey:
				if err := rsa.VerifyPKCS1v15(pub, h, digest, sig); err != nil {
					t.Errorf("%s %s: %v", name, h, err)
				}
				want, _ := goKey.Sign(rand.Reader, digest, h)
				if !bytes.Equal(sig, want) {
					t.Errorf("%s %s: OpenSSL's signature differs from Go's", name, h)
				}
			case *ecdsa.PublicKey:
				if !ecdsa.VerifyASN1(pub, digest, sig) {
					t.Errorf("%s %s: Go does not verify OpenSSL's signature", name, h)
				}
			}
		}
	}
	if _, err := opensslSigner(rsaThreePrimes(t)); err == nil {
		t.Error("a three-prime RSA key went to OpenSSL")
	}
}

func rsaThreePrimes(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k := testKey(t, "test-rsa").(*rsa.PrivateKey)
	c := *k
	c.Primes = append(c.Primes[:2:2], c.Primes[0])
	return &c
}

// TestEnginesRoundTrip signs envelopes on each engine and verifies them with the Verifier; the
// RSA envelopes of both engines are the same bytes.
func TestEnginesRoundTrip(t *testing.T) {
	opensslOrSkip(t, testKey(t, "test-rsa"))
	for _, key := range []string{"test-rsa", "test-ecdsa"} {
		in := envelopeWith(true, payload(50))
		var out [2][]byte
		for i, engine := range []string{EngineGo, EngineOpenSSL} {
			s := engineSigner(t, key, engine)
			if s.Engine() != engine {
				t.Fatalf("%s: engine %s, want %s", key, s.Engine(), engine)
			}
			out[i] = mustSign(t, s, in)
			if _, err := caVerifier(t).Verify(out[i]); err != nil {
				t.Errorf("%s on %s: Verify: %v", key, engine, err)
			}
		}
		if key == "test-rsa" && !bytes.Equal(out[0], out[1]) {
			t.Errorf("RSA envelopes differ between the engines")
		}
	}
}

// TestXmlsec1VerifiesOpenSSLSignature: xmlsec1 accepts the OpenSSL engine's RSA and ECDSA (r‖s)
// signatures.
func TestXmlsec1VerifiesOpenSSLSignature(t *testing.T) {
	xmlsec1 := testenv.Xmlsec1(t)
	opensslOrSkip(t, testKey(t, "test-rsa"))
	for _, key := range interopKeys {
		t.Run(key, func(t *testing.T) {
			s := engineSigner(t, key, EngineOpenSSL)
			s.Now = nil
			signed := mustSign(t, s, envelopeWith(true, payload(50)))
			out, err := exec.Command(xmlsec1, "--verify", "--pubkey-cert-pem", absPKI(t, key+".cert.pem"),
				"--id-attr:Id", "Body", "--id-attr:Id", "Intestazione", "--id-attr:Id", "Timestamp",
				writeTemp(t, "signed.xml", signed)).CombinedOutput()
			if err != nil || !bytes.Contains(out, []byte("References (ok/all): 3/3")) {
				t.Fatalf("xmlsec1 rejected the OpenSSL signature: %v\n%s", err, out)
			}
		})
	}
}

// BenchmarkSignEngines is one SignedInfo signature (the digest signed, ECDSA converted to r‖s
// as Sign does) on Go's crypto and on OpenSSL, RSA-2048 and ECDSA P-256.
func BenchmarkSignEngines(b *testing.B) {
	for _, tc := range []struct{ name, key string }{{"rsa2048", "test-rsa"}, {"ecdsa-p256", "test-ecdsa"}} {
		goKey := testKey(b, tc.key)
		for _, engine := range []string{EngineGo, EngineOpenSSL} {
			k, err := withEngine(goKey, engine)
			if err != nil {
				b.Logf("%s: %v", engine, err)
				continue
			}
			s, err := NewSigner(k, []*x509.Certificate{testCert(b, tc.key)})
			if err != nil {
				b.Fatal(err)
			}
			h := s.hash.New()
			h.Write([]byte("SignedInfo"))
			digest := h.Sum(nil)
			b.Run(tc.name+"/"+engine, func(b *testing.B) {
				for b.Loop() {
					v, err := s.key.Sign(rand.Reader, digest, s.hash)
					if err == nil && s.size > 0 {
						_, err = ecdsaDERToRaw(v, s.size)
					}
					if err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

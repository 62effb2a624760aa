package rfc3161

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"strings"
	"testing"
	"time"

	"porta/internal/rfc3161/tsatest"
)

func TestStampWithOpenSSLTSA(t *testing.T) {
	url, ca := tsatest.Start(t)
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
	_, ca2 := tsatest.Start(t)
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

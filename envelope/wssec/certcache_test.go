package wssec

import (
	"crypto/x509"
	"encoding/base64"
	"strings"
	"testing"
)

// A chain check that succeeded is answered from the cache while its time stays inside the
// chain's validity; a failed one is never cached, and each trust store keeps its own answers.
func TestTrustCache(t *testing.T) {
	ca, leaf, stranger := testCert(t, "test-ca"), testCert(t, "test-rsa"), testCert(t, "test-untrusted")
	ts := NewTrustStore(nil, []*x509.Certificate{ca})
	now := leaf.NotBefore.Add(leaf.NotAfter.Sub(leaf.NotBefore) / 2)
	if err := ts.check(leaf, nil, now); err != nil {
		t.Fatal(err)
	}
	key := chainKey(leaf, nil)
	if !ts.cachedTrust(key, now) {
		t.Fatal("a successful chain check was not cached")
	}
	if ts.cachedTrust(key, ca.NotAfter.Add(1)) || ts.cachedTrust(key, ca.NotBefore.Add(-1)) {
		t.Error("the cache answers for a time outside the chain's validity")
	}
	if err := ts.check(stranger, nil, now); err == nil || !strings.Contains(err.Error(), "not trusted") {
		t.Fatalf("untrusted certificate: %v", err)
	}
	if ts.cachedTrust(chainKey(stranger, nil), now) {
		t.Error("a failed chain check was cached")
	}
	other := NewTrustStore(nil, []*x509.Certificate{stranger})
	if err := other.check(leaf, nil, now); err == nil {
		t.Error("another trust store took the first one's cached answer")
	}
}

// The parsed-certificate cache returns the same certificate for the same text and stays bounded.
func TestParsedCertCache(t *testing.T) {
	leaf := testCert(t, "test-rsa")
	b64 := base64.StdEncoding.EncodeToString(leaf.Raw)
	a, err := parseCertB64(b64)
	if err != nil {
		t.Fatal(err)
	}
	b, err := parseCertB64(b64)
	if err != nil || a != b {
		t.Fatalf("second parse: %p %p %v, want the cached certificate", a, b, err)
	}
	for i := 0; i < certCacheMax+10; i++ {
		cacheCert(b64+strings.Repeat(" ", i+1), leaf)
	}
	parsedCerts.RLock()
	n := len(parsedCerts.m)
	parsedCerts.RUnlock()
	if n > certCacheMax {
		t.Errorf("cache holds %d certificates, bound %d", n, certCacheMax)
	}
}

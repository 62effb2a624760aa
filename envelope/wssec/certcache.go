package wssec

import (
	"crypto/x509"
	"strings"
	"sync"
	"time"
)

// Caches of the verifier's per-peer work. A peer sends the same certificate on every message,
// and parsing it and checking its chain cost more than the rest of reading the token. Both
// caches are bounded: when one is full it is emptied, so certificates an attacker invents churn
// it but never grow it.
const certCacheMax = 1024

// parsedCerts maps a certificate's base64 text, as the message carried it, to the parsed
// certificate. Callers treat certificates as read-only.
var parsedCerts = struct {
	sync.RWMutex
	m map[string]*x509.Certificate
}{m: map[string]*x509.Certificate{}}

func cachedCert(b64 string) *x509.Certificate {
	parsedCerts.RLock()
	defer parsedCerts.RUnlock()
	return parsedCerts.m[b64]
}

func cacheCert(b64 string, c *x509.Certificate) {
	parsedCerts.Lock()
	defer parsedCerts.Unlock()
	if len(parsedCerts.m) >= certCacheMax {
		clear(parsedCerts.m)
	}
	parsedCerts.m[strings.Clone(b64)] = c
}

// trustedChain is a successful chain check: it holds while the check's time lies inside every
// certificate's validity on the chain, and for at most trustTTL after it was made (so a root
// removed from a reloaded trust store, which builds a new TrustStore anyway, or a clock jump is
// picked up soon).
type trustedChain struct {
	notBefore, notAfter time.Time
	expires             time.Time // wall-clock end of the entry's life
}

const trustTTL = 5 * time.Minute

// chainKey names a certificate together with the intermediates the message carried.
func chainKey(cert *x509.Certificate, intermediates []*x509.Certificate) string {
	var b strings.Builder
	b.Write(cert.Raw)
	for _, c := range intermediates {
		b.WriteByte(0)
		b.Write(c.Raw)
	}
	return b.String()
}

func (ts *TrustStore) cachedTrust(key string, now time.Time) bool {
	ts.mu.RLock()
	e, ok := ts.trusted[key]
	ts.mu.RUnlock()
	return ok && time.Now().Before(e.expires) && !now.Before(e.notBefore) && !now.After(e.notAfter)
}

func (ts *TrustStore) cacheTrust(key string, chains [][]*x509.Certificate) {
	if len(chains) == 0 {
		return
	}
	// Any chain will do for the next message; keep the first one's validity window.
	e := trustedChain{expires: time.Now().Add(trustTTL)}
	for i, c := range chains[0] {
		if i == 0 || c.NotBefore.After(e.notBefore) {
			e.notBefore = c.NotBefore
		}
		if i == 0 || c.NotAfter.Before(e.notAfter) {
			e.notAfter = c.NotAfter
		}
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.trusted == nil || len(ts.trusted) >= certCacheMax {
		ts.trusted = map[string]trustedChain{}
	}
	ts.trusted[key] = e
}

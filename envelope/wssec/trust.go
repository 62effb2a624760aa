package wssec

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
)

// TrustStore decides which signing certificates are trusted: pinned certificates (a partner's
// own certificate, matched byte for byte) and/or CA roots (the certificate must chain to one of
// them with x509.Verify). Either way the certificate must be within its validity dates and, when
// it carries a key usage extension, allow digitalSignature (or nonRepudiation).
type TrustStore struct {
	pinned []*x509.Certificate
	roots  *x509.CertPool
	nroots int

	mu      sync.RWMutex
	trusted map[string]trustedChain // successful chain checks (certcache.go)
}

// NewTrustStore returns a TrustStore over pinned certificates and CA roots; either may be empty.
func NewTrustStore(pinned, roots []*x509.Certificate) *TrustStore {
	ts := &TrustStore{pinned: append([]*x509.Certificate(nil), pinned...), roots: x509.NewCertPool()}
	for _, c := range roots {
		ts.roots.AddCert(c)
		ts.nroots++
	}
	return ts
}

// LoadTrustStore reads PEM files of pinned certificates and of CA certificates (each file may
// hold several CERTIFICATE blocks).
func LoadTrustStore(pinnedPEMFiles, caPEMFiles []string) (*TrustStore, error) {
	var pinned, roots []*x509.Certificate
	for _, f := range pinnedPEMFiles {
		cs, err := readCertFile(f)
		if err != nil {
			return nil, err
		}
		pinned = append(pinned, cs...)
	}
	for _, f := range caPEMFiles {
		cs, err := readCertFile(f)
		if err != nil {
			return nil, err
		}
		roots = append(roots, cs...)
	}
	if len(pinned)+len(roots) == 0 {
		return nil, errors.New("trust store: no certificates given")
	}
	return NewTrustStore(pinned, roots), nil
}

func readCertFile(name string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("trust store: %w", err)
	}
	cs, err := ParseCertificatesPEM(data)
	if err != nil {
		return nil, fmt.Errorf("trust store: %s: %w", name, err)
	}
	return cs, nil
}

// ParseCertificatesPEM returns every CERTIFICATE block of data; it fails when there is none or one
// does not parse.
func ParseCertificatesPEM(data []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for n := 1; ; n++ {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("PEM block %d: %w", n, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("no CERTIFICATE PEM block")
	}
	return out, nil
}

// check reports why cert is not trusted at time now, or nil. intermediates are the other
// certificates the message carried.
func (ts *TrustStore) check(cert *x509.Certificate, intermediates []*x509.Certificate, now time.Time) error {
	if ts == nil {
		return errors.New("no trust store configured")
	}
	subject := cert.Subject.String()
	if now.Before(cert.NotBefore) {
		return fmt.Errorf("certificate %q is not valid before %s", subject, cert.NotBefore.UTC().Format(time.RFC3339))
	}
	if now.After(cert.NotAfter) {
		return fmt.Errorf("certificate %q expired at %s", subject, cert.NotAfter.UTC().Format(time.RFC3339))
	}
	if cert.KeyUsage != 0 && cert.KeyUsage&(x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment) == 0 {
		return fmt.Errorf("certificate %q: key usage does not allow digitalSignature", subject)
	}
	for _, p := range ts.pinned {
		if bytes.Equal(p.Raw, cert.Raw) {
			return nil
		}
	}
	if ts.nroots == 0 {
		return fmt.Errorf("certificate %q (serial %s) is not among the pinned certificates", subject, cert.SerialNumber)
	}
	key := chainKey(cert, intermediates)
	if ts.cachedTrust(key, now) {
		return nil
	}
	pool := x509.NewCertPool()
	for _, c := range intermediates {
		pool.AddCert(c)
	}
	chains, err := cert.Verify(x509.VerifyOptions{
		Roots:         ts.roots,
		Intermediates: pool,
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		return fmt.Errorf("certificate %q is not trusted: %w", subject, err)
	}
	ts.cacheTrust(key, chains)
	return nil
}

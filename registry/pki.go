package registry

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"

	"porta/envelope/wssec"
)

// Key algorithms of GenerateKey.
const (
	AlgRSA2048   = "rsa2048"
	AlgECDSAP256 = "ecdsa-p256"
)

// GenerateKey makes a new private key: AlgRSA2048 or AlgECDSAP256, from random
// (crypto/rand.Reader in production; Go's key generation may ignore it for some algorithms).
func GenerateKey(alg string, random io.Reader) (crypto.Signer, error) {
	switch alg {
	case AlgRSA2048:
		return rsa.GenerateKey(random, 2048)
	case AlgECDSAP256:
		return ecdsa.GenerateKey(elliptic.P256(), random)
	}
	return nil, fmt.Errorf("key algorithm %q: want %s or %s", alg, AlgRSA2048, AlgECDSAP256)
}

// EncodeKeyPEM returns key as a PKCS#8 "PRIVATE KEY" PEM block.
func EncodeKeyPEM(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// WriteKeyFile writes key as PKCS#8 PEM readable by its owner only (0600).
func WriteKeyFile(path string, key crypto.Signer) error {
	data, err := EncodeKeyPEM(key)
	if err != nil {
		return err
	}
	return writeFile(path, data, 0o600)
}

func writeFile(path string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	if err := f.Chmod(perm); err != nil { // an existing file keeps its mode otherwise
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// ReadKeyFile reads a private key PEM file (see ParseKeyPEM).
func ReadKeyFile(path string) (crypto.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	k, err := wssec.ParseKeyPEM(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// ReadCertFile reads the certificates of a PEM file.
func ReadCertFile(path string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	cs, err := wssec.ParseCertificatesPEM(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cs, nil
}

// EncodeCertsPEM returns certs as concatenated CERTIFICATE PEM blocks.
func EncodeCertsPEM(certs ...*x509.Certificate) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
}

// WriteCertFile writes certs as PEM, world-readable (0644).
func WriteCertFile(path string, certs ...*x509.Certificate) error {
	return writeFile(path, EncodeCertsPEM(certs...), 0o644)
}

// CertRequest describes a certificate to make.
type CertRequest struct {
	CommonName   string   // e.g. the party name
	Organization string   // optional
	Hosts        []string // DNS names or IP addresses for the SAN; 127.0.0.1, ::1 and localhost are always added to leaf certificates
	NotBefore    time.Time
	Validity     time.Duration // default 2 years for leaves, 10 years for CAs
}

func serial(random io.Reader) (*big.Int, error) {
	s, err := rand128(random)
	if err != nil {
		return nil, fmt.Errorf("certificate serial: %w", err)
	}
	return s, nil
}

func rand128(random io.Reader) (*big.Int, error) {
	b := make([]byte, 16)
	if _, err := io.ReadFull(random, b); err != nil {
		return nil, err
	}
	b[0] &= 0x7f
	return new(big.Int).SetBytes(b), nil
}

func (req CertRequest) template(random io.Reader, ca bool) (*x509.Certificate, error) {
	if req.CommonName == "" {
		return nil, errors.New("certificate request: empty common name")
	}
	sn, err := serial(random)
	if err != nil {
		return nil, err
	}
	validity := req.Validity
	if validity == 0 {
		validity = 2 * 365 * 24 * time.Hour
		if ca {
			validity = 10 * 365 * 24 * time.Hour
		}
	}
	nb := req.NotBefore
	if nb.IsZero() {
		nb = time.Now()
	}
	nb = nb.Add(-5 * time.Minute) // tolerate small clock differences between gateways
	subj := pkix.Name{CommonName: req.CommonName}
	if req.Organization != "" {
		subj.Organization = []string{req.Organization}
	}
	t := &x509.Certificate{
		SerialNumber:          sn,
		Subject:               subj,
		NotBefore:             nb,
		NotAfter:              nb.Add(validity),
		BasicConstraintsValid: true,
	}
	if ca {
		t.IsCA = true
		t.MaxPathLenZero = true
		t.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature
		return t, nil
	}
	// One key serves the TLS server (PA), the TLS client (calls to peers) and the WS-Security
	// signature: both EKUs, and digitalSignature (plus keyEncipherment for RSA key exchange).
	t.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
	t.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	hosts := append([]string{"127.0.0.1", "::1", "localhost"}, req.Hosts...)
	for _, h := range hosts {
		if h == "" {
			continue
		}
		if ip := net.ParseIP(h); ip != nil {
			if !slices.ContainsFunc(t.IPAddresses, ip.Equal) {
				t.IPAddresses = append(t.IPAddresses, ip)
			}
		} else if !slices.Contains(t.DNSNames, h) {
			t.DNSNames = append(t.DNSNames, h)
		}
	}
	return t, nil
}

// SelfSigned makes a self-signed leaf certificate for key (a party's identity when no CA is used).
func SelfSigned(key crypto.Signer, req CertRequest, random io.Reader) (*x509.Certificate, error) {
	t, err := req.template(random, false)
	if err != nil {
		return nil, err
	}
	der, err := x509.CreateCertificate(random, t, t, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("self-sign %s: %w", req.CommonName, err)
	}
	return x509.ParseCertificate(der)
}

// CA is a local certificate authority for a test or private network of gateways.
type CA struct {
	Key  crypto.Signer
	Cert *x509.Certificate
}

// CA file names inside a CA directory.
const (
	CAKeyFile  = "ca.key.pem"
	CACertFile = "ca.cert.pem"
)

// NewCA creates a CA in dir (created if missing): ca.key.pem (0600) and ca.cert.pem. It refuses to
// overwrite an existing CA.
func NewCA(dir, alg, name string, random io.Reader) (*CA, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("new CA: %w", err)
	}
	for _, f := range []string{CAKeyFile, CACertFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			return nil, fmt.Errorf("new CA: %s already exists; use it with --ca %s or choose another directory", filepath.Join(dir, f), dir)
		}
	}
	key, err := GenerateKey(alg, random)
	if err != nil {
		return nil, fmt.Errorf("new CA: %w", err)
	}
	t, err := CertRequest{CommonName: name, Organization: "Porta local CA"}.template(random, true)
	if err != nil {
		return nil, err
	}
	der, err := x509.CreateCertificate(random, t, t, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("new CA: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("new CA: %w", err)
	}
	if err := WriteKeyFile(filepath.Join(dir, CAKeyFile), key); err != nil {
		return nil, fmt.Errorf("new CA: %w", err)
	}
	if err := WriteCertFile(filepath.Join(dir, CACertFile), cert); err != nil {
		return nil, fmt.Errorf("new CA: %w", err)
	}
	return &CA{Key: key, Cert: cert}, nil
}

// LoadCA reads the CA that NewCA wrote in dir and checks that its key matches its certificate.
func LoadCA(dir string) (*CA, error) {
	key, err := ReadKeyFile(filepath.Join(dir, CAKeyFile))
	if err != nil {
		return nil, fmt.Errorf("load CA: %w", err)
	}
	certs, err := ReadCertFile(filepath.Join(dir, CACertFile))
	if err != nil {
		return nil, fmt.Errorf("load CA: %w", err)
	}
	c := certs[0]
	if !c.IsCA {
		return nil, fmt.Errorf("load CA: %s is not a CA certificate", filepath.Join(dir, CACertFile))
	}
	if err := MatchKey(key, c); err != nil {
		return nil, fmt.Errorf("load CA %s: %w", dir, err)
	}
	return &CA{Key: key, Cert: c}, nil
}

// Issue signs a leaf certificate for pub: serverAuth and clientAuth, SANs for req.Hosts and the
// loopback names.
func (ca *CA) Issue(pub crypto.PublicKey, req CertRequest, random io.Reader) (*x509.Certificate, error) {
	t, err := req.template(random, false)
	if err != nil {
		return nil, err
	}
	if t.NotAfter.After(ca.Cert.NotAfter) {
		t.NotAfter = ca.Cert.NotAfter
	}
	der, err := x509.CreateCertificate(random, t, ca.Cert, pub, ca.Key)
	if err != nil {
		return nil, fmt.Errorf("issue %s: %w", req.CommonName, err)
	}
	return x509.ParseCertificate(der)
}

// MatchKey returns an error unless key is the private key of cert.
func MatchKey(key crypto.Signer, cert *x509.Certificate) error {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	pub, ok := key.Public().(equaler)
	if !ok || !pub.Equal(cert.PublicKey) {
		return fmt.Errorf("the private key does not belong to certificate %q", cert.Subject.String())
	}
	return nil
}

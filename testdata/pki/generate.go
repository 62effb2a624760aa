//go:build ignore

// Command generate writes the TEST-ONLY PKI of Porta's WS-Security tests into this directory:
//
//	go run ./testdata/pki/generate.go testdata/pki
//
// These keys are published in the repository and protect nothing: never use them outside tests.
package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log"
	"math/big"
	"os"
	"path/filepath"
	"time"
)

var dir = "."

func write(name, typ string, der []byte) {
	f, err := os.Create(filepath.Join(dir, name))
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	if err := pem.Encode(f, &pem.Block{Type: typ, Bytes: der}); err != nil {
		log.Fatal(err)
	}
}

func key(name string, ec bool) crypto.Signer {
	var k crypto.Signer
	var err error
	if ec {
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	} else {
		k, err = rsa.GenerateKey(rand.Reader, 2048)
	}
	if err != nil {
		log.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		log.Fatal(err)
	}
	write(name+".key.pem", "PRIVATE KEY", der)
	return k
}

var serial int64 = 100

func cert(name, cn string, k crypto.Signer, parent *x509.Certificate, parentKey crypto.Signer, ca bool, from, to time.Time, ku x509.KeyUsage) *x509.Certificate {
	serial++
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(serial),
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"Porta TEST ONLY"}, Country: []string{"IT"}},
		NotBefore:             from,
		NotAfter:              to,
		KeyUsage:              ku,
		BasicConstraintsValid: true,
		IsCA:                  ca,
	}
	if parent == nil {
		parent, parentKey = tmpl, k
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, k.Public(), parentKey)
	if err != nil {
		log.Fatal(err)
	}
	write(name+".cert.pem", "CERTIFICATE", der)
	c, _ := x509.ParseCertificate(der)
	return c
}

func main() {
	if len(os.Args) > 1 {
		dir = os.Args[1]
	}
	from := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	to := time.Date(2045, 1, 1, 0, 0, 0, 0, time.UTC)
	sig := x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment
	caKey := key("test-ca", false)
	ca := cert("test-ca", "Porta TEST CA", caKey, nil, nil, true, from, to, x509.KeyUsageCertSign|x509.KeyUsageCRLSign)
	rsaKey := key("test-rsa", false)
	cert("test-rsa", "Porta TEST signer RSA", rsaKey, ca, caKey, false, from, to, sig)
	ecKey := key("test-ecdsa", true)
	cert("test-ecdsa", "Porta TEST signer ECDSA", ecKey, ca, caKey, false, from, to, sig)
	exKey := key("test-expired", false)
	cert("test-expired", "Porta TEST signer expired", exKey, ca, caKey, false, time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC), sig)
	kuKey := key("test-wrong-usage", false)
	cert("test-wrong-usage", "Porta TEST signer wrong key usage", kuKey, ca, caKey, false, from, to, x509.KeyUsageKeyEncipherment)
	otherKey := key("test-untrusted", false)
	cert("test-untrusted", "Porta TEST untrusted self-signed", otherKey, nil, nil, false, from, to, sig)
}

//go:build cgo

package wssec

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"math/big"
	"testing"

	"github.com/golang-fips/openssl/v2"
	"github.com/golang-fips/openssl/v2/bbig"
)

// BenchmarkVerifyEngines is why verification stays on Go while signing moved to OpenSSL: one
// RSA-2048 PKCS#1 v1.5 and one ECDSA P-256 verification of a digest on each. Measured as thread
// CPU on this 2-core machine (2026-12, wall time was too noisy to tell): RSA 29 µs on Go against
// 24 µs on OpenSSL, 10 µs of an exchange's 4 ms; P-256 64 µs on both.
func BenchmarkVerifyEngines(b *testing.B) {
	if err := loadLibcrypto(); err != nil {
		b.Skip(err)
	}
	digest := sha256.Sum256([]byte("SignedInfo"))
	rk := testKey(b, "test-rsa").(*rsa.PrivateKey)
	rsig, err := rsa.SignPKCS1v15(rand.Reader, rk, crypto.SHA256, digest[:])
	if err != nil {
		b.Fatal(err)
	}
	rpub, err := openssl.NewPublicKeyRSA(bbig.Enc(rk.N), bbig.Enc(big.NewInt(int64(rk.E))))
	if err != nil {
		b.Fatal(err)
	}
	ek := testKey(b, "test-ecdsa").(*ecdsa.PrivateKey)
	esig, err := ecdsa.SignASN1(rand.Reader, ek, digest[:])
	if err != nil {
		b.Fatal(err)
	}
	epub, err := openssl.NewPublicKeyECDSA("P-256", bbig.Enc(ek.X), bbig.Enc(ek.Y))
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		verify func() bool
	}{
		{"rsa2048/go", func() bool { return rsa.VerifyPKCS1v15(&rk.PublicKey, crypto.SHA256, digest[:], rsig) == nil }},
		{"rsa2048/openssl", func() bool { return openssl.VerifyRSAPKCS1v15(rpub, crypto.SHA256, digest[:], rsig) == nil }},
		{"ecdsa-p256/go", func() bool { return ecdsa.VerifyASN1(&ek.PublicKey, digest[:], esig) }},
		{"ecdsa-p256/openssl", func() bool { return openssl.VerifyECDSA(epub, digest[:], esig) }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				if !tc.verify() {
					b.Fatal("the signature does not verify")
				}
			}
		})
	}
}

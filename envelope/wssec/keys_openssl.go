//go:build cgo

package wssec

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/big"
	"sync"

	"github.com/golang-fips/openssl/v2"
	"github.com/golang-fips/openssl/v2/bbig"
)

// The OpenSSL engine: the private key copied into the system's libcrypto (3.x, else 1.1) through
// github.com/golang-fips/openssl, which dlopens it, so a binary built here still starts where
// libcrypto is absent. It signs RSA PKCS#1 v1.5 (SHA-256, SHA-384, SHA-512 digests) and ECDSA on
// P-256 and P-384 (ASN.1 DER, as crypto.Signer does: Sign converts to r‖s). Anything else asked of
// the key (RSA-PSS, another hash) goes to the Go key it was made from.

// libcryptoNames are the libraries tried, in order.
var libcryptoNames = []string{"libcrypto.so.3", "libcrypto.so.1.1"}

var (
	libcryptoOnce sync.Once
	libcryptoErr  error
)

// loadLibcrypto initialises OpenSSL from the first of libcryptoNames present, once per process.
func loadLibcrypto() error {
	libcryptoOnce.Do(func() {
		libcryptoErr = errors.New("libcrypto not found (" + fmt.Sprint(libcryptoNames) + ")")
		for _, name := range libcryptoNames {
			if ok, _ := openssl.CheckVersion(name); ok {
				if err := openssl.Init(name); err != nil {
					libcryptoErr = fmt.Errorf("libcrypto %s: %w", name, err)
				} else {
					libcryptoErr = nil
				}
				return
			}
		}
	})
	return libcryptoErr
}

// opensslKey is a private key held by libcrypto; Public and anything OpenSSL is not asked to do
// come from the Go key it was made from.
type opensslKey struct {
	goKey crypto.Signer
	rsa   *openssl.PrivateKeyRSA
	ec    *openssl.PrivateKeyECDSA
}

// opensslSigner copies key (an *rsa.PrivateKey with two primes or an *ecdsa.PrivateKey on P-256 or
// P-384) into libcrypto and checks, with one signature verified by Go, that it signs.
func opensslSigner(key crypto.Signer) (crypto.Signer, error) {
	if err := loadLibcrypto(); err != nil {
		return nil, err
	}
	k := &opensslKey{goKey: key}
	var err error
	switch g := key.(type) {
	case *rsa.PrivateKey:
		if len(g.Primes) != 2 || g.Precomputed.Dp == nil || g.Precomputed.Dq == nil || g.Precomputed.Qinv == nil {
			return nil, errors.New("openssl: RSA key without two primes and CRT values")
		}
		k.rsa, err = openssl.NewPrivateKeyRSA(bbig.Enc(g.N), bbig.Enc(big.NewInt(int64(g.E))), bbig.Enc(g.D),
			bbig.Enc(g.Primes[0]), bbig.Enc(g.Primes[1]),
			bbig.Enc(g.Precomputed.Dp), bbig.Enc(g.Precomputed.Dq), bbig.Enc(g.Precomputed.Qinv))
	case *ecdsa.PrivateKey:
		var curve string
		switch g.Curve {
		case elliptic.P256():
			curve = "P-256"
		case elliptic.P384():
			curve = "P-384"
		default:
			return nil, fmt.Errorf("openssl: ECDSA curve %s not supported", g.Curve.Params().Name)
		}
		var d []byte
		if d, err = g.Bytes(); err != nil {
			return nil, fmt.Errorf("openssl: ECDSA key: %w", err)
		}
		k.ec, err = openssl.NewPrivateKeyECDSA(curve, bbig.Enc(g.X), bbig.Enc(g.Y), bbig.Enc(new(big.Int).SetBytes(d)))
	default:
		return nil, fmt.Errorf("openssl: key type %T not supported", key)
	}
	if err != nil {
		return nil, fmt.Errorf("openssl: %w", err)
	}
	if err := k.selfTest(); err != nil {
		return nil, err
	}
	return k, nil
}

// selfTest signs a digest with OpenSSL and verifies it with Go's public key.
func (k *opensslKey) selfTest() error {
	digest := sha256.Sum256([]byte("porta openssl signer self-test"))
	sig, err := k.Sign(nil, digest[:], crypto.SHA256)
	if err != nil {
		return fmt.Errorf("openssl self-test: %w", err)
	}
	ok := false
	switch pub := k.goKey.Public().(type) {
	case *rsa.PublicKey:
		ok = rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig) == nil
	case *ecdsa.PublicKey:
		ok = ecdsa.VerifyASN1(pub, digest[:], sig)
	}
	if !ok {
		return errors.New("openssl self-test: Go does not verify OpenSSL's signature")
	}
	return nil
}

func (k *opensslKey) Public() crypto.PublicKey { return k.goKey.Public() }

// Engine reports EngineOpenSSL (see Signer.Engine).
func (k *opensslKey) Engine() string { return EngineOpenSSL }

// Sign signs digest as crypto.Signer does: RSA PKCS#1 v1.5 or ECDSA in ASN.1 DER. rand is not
// used by OpenSSL, which draws its own randomness.
func (k *opensslKey) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	h := opts.HashFunc()
	switch {
	case k.rsa != nil:
		if _, pss := opts.(*rsa.PSSOptions); pss || (h != crypto.SHA256 && h != crypto.SHA384 && h != crypto.SHA512) {
			return k.goKey.Sign(rand, digest, opts)
		}
		if len(digest) != h.Size() {
			return nil, errors.New("openssl: digest length does not match the hash")
		}
		return openssl.SignRSAPKCS1v15(k.rsa, h, digest)
	default:
		return openssl.SignMarshalECDSA(k.ec, digest)
	}
}

package wssec

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"fmt"
	"os"
)

// EnvSigner names the environment variable that chooses the engine behind the private key of
// LoadSigner: "go" (crypto/rsa and crypto/ecdsa), "openssl" (the system's libcrypto; the load fails
// without it) or "auto", the default (OpenSSL when libcrypto loads and signs a self-test, else Go).
const EnvSigner = "PORTA_SIGNER"

// The engines a Signer's key runs on, as Signer.Engine names them.
const (
	EngineGo      = "go"
	EngineOpenSSL = "openssl"
	EngineAuto    = "auto"
)

// withEngine returns key running on the engine mode names ("" is EngineAuto). Under "auto" a key
// OpenSSL cannot take (libcrypto absent, a build without cgo, a key type it does not hold) stays
// on Go; under "openssl" that is an error.
func withEngine(key crypto.Signer, mode string) (crypto.Signer, error) {
	switch mode {
	case EngineGo:
		return key, nil
	case EngineOpenSSL, EngineAuto, "":
		k, err := opensslSigner(key)
		if err != nil {
			if mode == EngineOpenSSL {
				return nil, fmt.Errorf("%s=%s: %w", EnvSigner, mode, err)
			}
			return key, nil
		}
		return k, nil
	default:
		return nil, fmt.Errorf("%s=%q: want go, openssl or auto", EnvSigner, mode)
	}
}

// EngineKey returns key on the engine EnvSigner names, as LoadSigner puts its key: for measuring
// the signer the gateways use (porta bench's signature limit).
func EngineKey(key crypto.Signer) (crypto.Signer, error) { return withEngine(key, engineFromEnv()) }

// engineFromEnv is the engine EnvSigner asks for.
func engineFromEnv() string { return os.Getenv(EnvSigner) }

// Engine names what computes the Signer's signatures: EngineGo or EngineOpenSSL, or the Go type of
// a key that came from elsewhere (NewSigner with, say, a PKCS#11 handle).
func (s *Signer) Engine() string { return KeyEngine(s.key) }

// KeyEngine names what computes key's signatures, as Signer.Engine does.
func KeyEngine(key crypto.Signer) string {
	switch k := key.(type) {
	case interface{ Engine() string }:
		return k.Engine()
	case *rsa.PrivateKey, *ecdsa.PrivateKey:
		return EngineGo
	default:
		return fmt.Sprintf("%T", k)
	}
}

//go:build !cgo

package wssec

import (
	"crypto"
	"errors"
)

// opensslSigner: a build without cgo cannot load libcrypto, so keys stay on Go (see keys.go).
func opensslSigner(crypto.Signer) (crypto.Signer, error) {
	return nil, errors.New("openssl: this build has no cgo")
}

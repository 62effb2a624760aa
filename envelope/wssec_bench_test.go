package envelope

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"testing"
)

var benchSizes = []struct {
	name string
	size int
}{{"1KB", 1 << 10}, {"100KB", 100 << 10}}

// BenchmarkSign signs envelopes of 1 KB and 100 KB payloads with RSA-2048 and ECDSA P-256
// (parse, sign, serialise: what SignBytes costs a caller).
func BenchmarkSign(b *testing.B) {
	for _, key := range []string{"test-rsa", "test-ecdsa"} {
		s := testSigner(b, key)
		for _, sz := range benchSizes {
			in := envelopeWith(true, payloadBytes(sz.size))
			b.Run(key[5:]+"/"+sz.name, func(b *testing.B) {
				b.SetBytes(int64(len(in)))
				for b.Loop() {
					if _, err := s.SignBytes(in); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkRSASignPKCS1v15 is the floor under BenchmarkSign/rsa: one RSA-2048 signature of a
// SHA-256 digest.
func BenchmarkRSASignPKCS1v15(b *testing.B) {
	key := testSigner(b, "test-rsa").key.(*rsa.PrivateKey)
	digest := sha256.Sum256([]byte("SignedInfo"))
	for b.Loop() {
		if _, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest[:]); err != nil {
			b.Fatal(err)
		}
	}
}

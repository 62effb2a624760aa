package wssec

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"porta/internal/xmlsafe"
	"testing"
)

var benchSizes = []struct {
	name string
	size int
}{{"1KB", 1 << 10}, {"100KB", 100 << 10}, {"1MB", 1 << 20}}

// BenchmarkSign signs envelopes of 1 KB, 100 KB and 1 MB payloads with RSA-2048 and ECDSA P-256
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
	key := testKey(b, "test-rsa").(*rsa.PrivateKey)
	digest := sha256.Sum256([]byte("SignedInfo"))
	for b.Loop() {
		if _, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest[:]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkC14N digests the exclusive C14N of the soap:Body of the same envelopes with SHA-256:
// "digest" as signing does (digestCanonical), "copy" with the verified copy, as verifying does
// (canonicalCopy).
func BenchmarkC14N(b *testing.B) {
	for _, mode := range []string{"digest", "copy"} {
		for _, sz := range benchSizes {
			in := envelopeWith(true, payloadBytes(sz.size))
			doc, err := xmlsafe.Parse(in, xmlsafe.DefaultLimits)
			if err != nil {
				b.Fatal(err)
			}
			body := doc.Root().SelectElement("Body")
			b.Run(mode+"/"+sz.name, func(b *testing.B) {
				b.SetBytes(int64(len(in)))
				for b.Loop() {
					var err error
					switch mode {
					case "digest":
						_, err = digestCanonical(crypto.SHA256, body, nil)
					default:
						_, _, err = canonicalCopy(crypto.SHA256, body, nil)
					}
					if err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

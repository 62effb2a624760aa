package gateway

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"testing"
)

// The certificate cache gives what a certificate's SHA-256 gives, and stays bounded.
func TestCertCache(t *testing.T) {
	var cc certCache
	for i := range certCacheMax + 10 {
		der := []byte(fmt.Sprintf("certificate %d", i))
		sum := sha256.Sum256(der)
		if got, want := cc.get(der).fingerprint, hex.EncodeToString(sum[:]); got != want {
			t.Fatalf("fingerprint %s, want %s", got, want)
		}
		if cc.get(der) != cc.get(der) {
			t.Fatal("the same certificate is remembered twice")
		}
		if len(cc.m) > certCacheMax {
			t.Fatalf("%d certificates remembered, more than %d", len(cc.m), certCacheMax)
		}
	}
}

package wssec

import (
	"os/exec"
	"testing"

	"porta/internal/testenv"
)

// TestXmlsec1VerifiesKeyReferences: xmlsec1 verifies what the Signer writes with each KeyInfo
// form. xmlsec1 does not resolve a wsse:SecurityTokenReference, so the key comes from the
// signer's certificate given to it (as a receiver's registry gives it to Porta); what it checks
// is the signature and the digests of the three references in each form's document.
func TestXmlsec1VerifiesKeyReferences(t *testing.T) {
	xmlsec1 := testenv.Xmlsec1(t)
	for _, name := range []string{"test-rsa", "test-ecdsa"} {
		for _, ref := range []KeyRef{RefBinaryToken, RefIssuerSerial, RefX509KeyIdentifier, RefSubjectKeyIdentifier, RefThumbprint} {
			t.Run(name+" "+ref.String(), func(t *testing.T) {
				s := testSigner(t, name)
				s.KeyRef = ref
				file := writeTemp(t, "signed.xml", mustSign(t, s, envelopeWith(true, payload(5))))
				verify := func(cert string) ([]byte, error) {
					return exec.Command(xmlsec1, "--verify", "--pubkey-cert-pem", absPKI(t, cert+".cert.pem"),
						"--id-attr:Id", "Body", "--id-attr:Id", "Intestazione", "--id-attr:Id", "Timestamp", file).CombinedOutput()
				}
				if out, err := verify(name); err != nil {
					t.Fatalf("xmlsec1 --verify: %v\n%s", err, out)
				}
				if _, err := verify("test-untrusted"); err == nil {
					t.Fatal("xmlsec1 verified the signature with another certificate's key")
				}
			})
		}
	}
}

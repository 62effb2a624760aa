package wssec

import (
	"bytes"
	"crypto/x509"
	"encoding/xml"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"porta/internal/testenv"
)

// xmlsecTemplate is an envelope with a busta and a Signature template in wsse:Security that
// xmlsec1 fills in: three references by wsu:Id, exclusive C14N, KeyInfo as ds:X509Data.
func xmlsecTemplate(sigAlg, digestAlg string, now time.Time) []byte {
	env := string(envelopeWith(true, payload(20)))
	// An attribute written across lines: libxml2 normalizes it to spaces before digesting.
	env = strings.Replace(env, `<p:Lista `, "<p:Lista nota=\"riga 1\n\triga 2\" ", 1)
	env = strings.Replace(env, `<eGov_IT:Intestazione `, `<eGov_IT:Intestazione xmlns:wsu="`+NSWSU+`" wsu:Id="int-1" `, 1)
	env = strings.Replace(env, `<soap:Body>`, `<soap:Body xmlns:wsu="`+NSWSU+`" wsu:Id="body-1">`, 1)
	ref := func(id string) string {
		return `<ds:Reference URI="#` + id + `"><ds:Transforms><ds:Transform Algorithm="` + AlgExcC14N + `"/></ds:Transforms>` +
			`<ds:DigestMethod Algorithm="` + digestAlg + `"/><ds:DigestValue/></ds:Reference>`
	}
	sec := fmt.Sprintf(`<wsse:Security xmlns:wsse="%s" xmlns:wsu="%s" soap:mustUnderstand="1">`+
		`<wsu:Timestamp wsu:Id="ts-1"><wsu:Created>%s</wsu:Created><wsu:Expires>%s</wsu:Expires></wsu:Timestamp>`+
		`<ds:Signature xmlns:ds="%s"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="%s"/><ds:SignatureMethod Algorithm="%s"/>%s%s%s</ds:SignedInfo>`+
		`<ds:SignatureValue/><ds:KeyInfo><ds:X509Data><ds:X509Certificate/></ds:X509Data></ds:KeyInfo></ds:Signature></wsse:Security>`,
		NSWSSE, NSWSU, now.UTC().Format(time.RFC3339), now.Add(5*time.Minute).UTC().Format(time.RFC3339),
		NSDSig, AlgExcC14N, sigAlg, ref("body-1"), ref("int-1"), ref("ts-1"))
	return []byte(strings.Replace(env, `<soap:Header>`, `<soap:Header>`+sec, 1))
}

func xmlsec1Sign(t *testing.T, xmlsec1, key string, tmpl []byte) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "signed.xml")
	cmd := exec.Command(xmlsec1, "--sign", "--privkey-pem", absPKI(t, key+".key.pem")+","+absPKI(t, key+".cert.pem"),
		"--id-attr:Id", "Body", "--id-attr:Id", "Intestazione", "--id-attr:Id", "Timestamp",
		"--output", out, writeTemp(t, "tmpl.xml", tmpl))
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("xmlsec1 --sign: %v\n%s", err, msg)
	}
	signed, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

func TestVerifyXmlsec1Signature(t *testing.T) {
	xmlsec1 := testenv.Xmlsec1(t)
	trust := NewTrustStore(nil, []*x509.Certificate{testCert(t, "test-ca")})
	tests := []struct {
		key, sigAlg, digestAlg string
		kind                   Kind
	}{
		{"test-rsa", AlgRSASHA256, AlgSHA256, 0},
		{"test-rsa", AlgRSASHA512, AlgSHA512, 0},
		{"test-ecdsa", AlgECDSASHA256, AlgSHA256, 0},
		{"test-rsa", "http://www.w3.org/2000/09/xmldsig#rsa-sha1", "http://www.w3.org/2000/09/xmldsig#sha1", Invalid},
		{"test-rsa", AlgRSASHA256, "http://www.w3.org/2000/09/xmldsig#sha1", Invalid},
	}
	for _, tt := range tests {
		t.Run(tt.key+" "+tt.sigAlg[strings.LastIndexByte(tt.sigAlg, '#')+1:]+" "+tt.digestAlg[strings.LastIndexByte(tt.digestAlg, '#')+1:], func(t *testing.T) {
			now := time.Now()
			signed := xmlsec1Sign(t, xmlsec1, tt.key, xmlsecTemplate(tt.sigAlg, tt.digestAlg, now))
			// libxml2 normalized the attribute to spaces; a stack that pastes the signature into
			// the original bytes sends the equivalent literal whitespace.
			if !bytes.Contains(signed, []byte(`nota="riga 1  riga 2"`)) {
				t.Fatalf("xmlsec1 output lacks the normalized attribute:\n%s", signed)
			}
			signed = bytes.Replace(signed, []byte(`nota="riga 1  riga 2"`), []byte("nota=\"riga 1\n\triga 2\""), 1)
			v := &Verifier{Parts: []xml.Name{testPart}, Trust: trust, Now: clockAt(now.Add(time.Second))}
			got, err := v.Verify(signed)
			if tt.kind != 0 {
				if kindOf(err) != tt.kind {
					t.Fatalf("got %v, want %s", err, tt.kind)
				}
				return
			}
			if err != nil {
				t.Fatalf("Verify of xmlsec1's signature: %v\n%s", err, signed)
			}
			if got.Parts[testPart] == nil || got.Certificate.Subject.CommonName != testCert(t, tt.key).Subject.CommonName {
				t.Errorf("verified %+v", got)
			}
			tampered := bytes.Replace(signed, []byte(">B<"), []byte(">C<"), 1)
			if _, err := v.Verify(tampered); kindOf(err) != Changed {
				t.Errorf("tampered busta: %v, want %s", err, Changed)
			}
		})
	}
}

// TestVerifyXmlsec1IssuerSerial: xmlsec1 signs with ds:KeyInfo/ds:X509Data/ds:X509IssuerSerial
// (the certificate named, not carried); the Verifier resolves it among the known certificates
// only.
func TestVerifyXmlsec1IssuerSerial(t *testing.T) {
	xmlsec1 := testenv.Xmlsec1(t)
	now := time.Now()
	tmpl := bytes.Replace(xmlsecTemplate(AlgRSASHA256, AlgSHA256, now), []byte(`<ds:X509Certificate/>`), []byte(`<ds:X509IssuerSerial/>`), 1)
	signed := xmlsec1Sign(t, xmlsec1, "test-rsa", tmpl)
	if !bytes.Contains(signed, []byte("<ds:X509SerialNumber>")) || bytes.Contains(signed, []byte("X509Certificate")) {
		t.Fatalf("xmlsec1 did not name the certificate by issuer and serial:\n%s", signed)
	}
	v := &Verifier{Parts: []xml.Name{testPart}, Trust: NewTrustStore(nil, []*x509.Certificate{testCert(t, "test-ca")}), Now: clockAt(now.Add(time.Second))}
	got, err := v.VerifyFrom(signed, []*x509.Certificate{testCert(t, "test-ecdsa"), testCert(t, "test-rsa")})
	if err != nil {
		t.Fatalf("VerifyFrom: %v\n%s", err, signed)
	}
	if !got.Certificate.Equal(testCert(t, "test-rsa")) || got.KeyRef != RefX509Data {
		t.Errorf("verified %q by %s", got.Certificate.Subject, got.KeyRef)
	}
	if _, err := v.VerifyFrom(signed, []*x509.Certificate{testCert(t, "test-ecdsa")}); kindOf(err) != Policy {
		t.Errorf("issuer and serial of a certificate not known: %v, want %s", err, Policy)
	}
}

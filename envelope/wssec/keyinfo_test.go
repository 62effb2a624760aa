package wssec

import (
	"bytes"
	"crypto/x509"
	"strings"
	"testing"

	"github.com/beevik/etree"
)

// signedWith signs a busta with the test key name, its KeyInfo in the form ref.
func signedWith(t *testing.T, name string, ref KeyRef) []byte {
	t.Helper()
	s := testSigner(t, name)
	s.KeyRef = ref
	return mustSign(t, s, envelopeWith(true, payload(5)))
}

func TestKeyReferencesRoundTrip(t *testing.T) {
	known := []*x509.Certificate{testCert(t, "test-ecdsa"), testCert(t, "test-rsa")}
	for _, name := range []string{"test-rsa", "test-ecdsa"} {
		for _, ref := range []KeyRef{RefBinaryToken, RefIssuerSerial, RefX509KeyIdentifier, RefSubjectKeyIdentifier, RefThumbprint} {
			t.Run(name+" "+ref.String(), func(t *testing.T) {
				signed := signedWith(t, name, ref)
				if hasBST := bytes.Contains(signed, []byte("BinarySecurityToken")); hasBST != (ref == RefBinaryToken) {
					t.Errorf("BinarySecurityToken present %v with key reference %s:\n%s", hasBST, ref, signed)
				}
				got, err := caVerifier(t).VerifyFrom(signed, known)
				if err != nil {
					t.Fatalf("VerifyFrom: %v\n%s", err, signed)
				}
				if !got.Certificate.Equal(testCert(t, name)) || got.KeyRef != ref {
					t.Errorf("verified %q by %s, want %q by %s", got.Certificate.Subject, got.KeyRef, testCert(t, name).Subject, ref)
				}
				tampered := bytes.Replace(signed, []byte(">B<"), []byte(">C<"), 1)
				if _, err := caVerifier(t).VerifyFrom(tampered, known); kindOf(err) != Changed {
					t.Errorf("tampered busta: %v, want %s", err, Changed)
				}
			})
		}
	}
}

// TestKeyReferencesRejected: a KeyInfo that names a certificate is resolved among the claimed
// signer's certificates only; wrapping is refused whatever the key reference.
func TestKeyReferencesRejected(t *testing.T) {
	rsa, ecdsa := testCert(t, "test-rsa"), testCert(t, "test-ecdsa")
	issuerSerial := signedWith(t, "test-rsa", RefIssuerSerial)
	thumbprint := signedWith(t, "test-rsa", RefThumbprint)
	ski := signedWith(t, "test-rsa", RefSubjectKeyIdentifier)
	replace := func(in []byte, old, new string) []byte {
		if !bytes.Contains(in, []byte(old)) {
			t.Fatalf("test: %q not in the signed envelope", old)
		}
		return bytes.Replace(in, []byte(old), []byte(new), 1)
	}
	valueOf := func(in []byte, path string) string {
		doc := etree.NewDocument()
		if err := doc.ReadFromBytes(in); err != nil {
			t.Fatal(err)
		}
		return doc.FindElement(path).Text()
	}
	rsaSerial := "<ds:X509SerialNumber>" + rsa.SerialNumber.String() + "<"
	// The key of the untrusted certificate signs; the KeyInfo names the sender's own certificate.
	forged := func(ref KeyRef) []byte {
		own := signedWith(t, "test-rsa", ref)
		other := signedWith(t, "test-untrusted", ref)
		path := "//KeyInfo/SecurityTokenReference/KeyIdentifier"
		if ref == RefIssuerSerial {
			path = "//KeyInfo/SecurityTokenReference"
			return replace(other, xmlOf(t, other, path), xmlOf(t, own, path))
		}
		return replace(other, valueOf(other, path), valueOf(own, path))
	}
	tests := []struct {
		name   string
		input  []byte
		known  []*x509.Certificate
		kind   Kind
		detail string
	}{
		{"issuer-serial: certificate of another party", issuerSerial, []*x509.Certificate{ecdsa}, Policy, "none of the 1 certificates"},
		{"issuer-serial: nothing known", issuerSerial, nil, Policy, "no certificate of the claimed signer is known"},
		{"issuer-serial: unknown serial", replace(issuerSerial, rsaSerial, "<ds:X509SerialNumber>987654321<"), []*x509.Certificate{rsa, ecdsa}, Policy, "serial 987654321"},
		{"issuer-serial: unknown issuer", replace(issuerSerial, "CN=Porta TEST CA", "CN=Altra CA"), []*x509.Certificate{rsa, ecdsa}, Policy, "Altra CA"},
		{"issuer-serial: serial not a number", replace(issuerSerial, rsaSerial, "<ds:X509SerialNumber>0x66<"), []*x509.Certificate{rsa}, Invalid, "not a decimal integer"},
		{"thumbprint of a certificate not known", signedWith(t, "test-untrusted", RefThumbprint), []*x509.Certificate{rsa, ecdsa}, Policy, "SHA-1 thumbprint"},
		{"thumbprint: certificate of another party", thumbprint, []*x509.Certificate{ecdsa}, Policy, "none of the 1 certificates"},
		{"ski: certificate of another party", ski, []*x509.Certificate{ecdsa}, Policy, "subject key identifier"},
		{"thumbprint: not a SHA-1", replace(thumbprint, valueOf(thumbprint, "//KeyIdentifier"), "AAAA"), []*x509.Certificate{rsa}, Invalid, "not a base64 SHA-1"},
		{"key identifier of an unknown ValueType", replace(thumbprint, valueTypeThumbprint, "urn:other"), []*x509.Certificate{rsa}, Invalid, "ValueType"},
		{"key identifier of another EncodingType", replace(thumbprint, `EncodingType="`+encodingBase64, `EncodingType="urn:hex`), []*x509.Certificate{rsa}, Invalid, "EncodingType"},
		{"two references in the SecurityTokenReference", replace(thumbprint, "</wsse:SecurityTokenReference>", "<wsse:Reference URI=\"#x\"/></wsse:SecurityTokenReference>"), []*x509.Certificate{rsa}, Invalid, "holds 2 elements"},
		{"X509v3 key identifier of an untrusted certificate", signedWith(t, "test-untrusted", RefX509KeyIdentifier), []*x509.Certificate{rsa}, Policy, "not trusted"},
		{"expired certificate named by thumbprint", signedWith(t, "test-expired", RefThumbprint), []*x509.Certificate{testCert(t, "test-expired")}, Policy, "expired"},
		{"thumbprint of the sender's certificate, another key's signature", forged(RefThumbprint), []*x509.Certificate{rsa}, Changed, "SignatureValue does not match"},
		{"issuer-serial of the sender's certificate, another key's signature", forged(RefIssuerSerial), []*x509.Certificate{rsa}, Changed, "SignatureValue does not match"},
		{"ski of the sender's certificate, another key's signature", forged(RefSubjectKeyIdentifier), []*x509.Certificate{rsa}, Changed, "SignatureValue does not match"},
		{"wrapping by issuer-serial: Body moved into a wrapper", mutate(t, issuerSerial, func(doc *etree.Document) {
			body := find(doc, "/Envelope/Body")
			env := doc.Root()
			env.RemoveChild(body)
			wrap := find(doc, "/Envelope/Header").CreateElement("w:Wrapper")
			wrap.CreateAttr("xmlns:w", "urn:evil")
			wrap.AddChild(body)
			env.CreateElement("soap:Body").CreateElement("evil").SetText("pay me")
		}), []*x509.Certificate{rsa}, Invalid, "signature wrapping"},
		{"wrapping by thumbprint: second Intestazione", mutate(t, thumbprint, func(doc *etree.Document) {
			find(doc, "/Envelope/Header").CreateElement("eGov_IT:Intestazione").CreateAttr("xmlns:eGov_IT", testPart.Space)
		}), []*x509.Certificate{rsa}, Invalid, "want at most 1"},
		{"KeyInfo with a reference and X509Data", replace(thumbprint, "</ds:KeyInfo>", "<ds:X509Data/></ds:KeyInfo>"), []*x509.Certificate{rsa}, Invalid, "KeyInfo holds neither"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := caVerifier(t).VerifyFrom(tt.input, tt.known)
			if kindOf(err) != tt.kind || !strings.Contains(err.Error(), tt.detail) {
				t.Fatalf("got %v, want %s mentioning %q", err, tt.kind, tt.detail)
			}
		})
	}
}

// xmlOf returns the serialisation of the element at path, as the signed bytes spell it.
func xmlOf(t *testing.T, in []byte, path string) string {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(in); err != nil {
		t.Fatal(err)
	}
	el := doc.FindElement(path)
	inner := etree.NewDocument()
	for _, c := range el.ChildElements() {
		inner.AddChild(c.Copy())
	}
	s, err := inner.WriteToString()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestIssuerNames(t *testing.T) {
	rsa := testCert(t, "test-rsa") // issuer C=IT, O=Porta TEST ONLY, CN=Porta TEST CA
	tests := []struct {
		dn   string
		same bool
	}{
		{"CN=Porta TEST CA,O=Porta TEST ONLY,C=IT", true},   // RFC 4514, WSS4J
		{"C=IT, O=Porta TEST ONLY, CN=Porta TEST CA", true}, // ASN.1 order, spaces
		{"cn=porta test ca;o=Porta  TEST ONLY;c=it", true},  // case, ';', inner spaces
		{"CN=Porta\\20TEST CA,O=Porta TEST ONLY,2.5.4.6=#13024954", true},
		{"CN=Porta TEST CA,O=Porta TEST ONLY", false},
		{"CN=Porta TEST CA,O=Porta TEST ONLY,C=FR", false},
		{"CN=Porta TEST CA+O=Porta TEST ONLY,C=IT", false}, // multi-valued RDN: not the same structure
	}
	for _, tt := range tests {
		dn, err := parseDN(tt.dn)
		if err != nil {
			t.Errorf("parseDN(%q): %v", tt.dn, err)
			continue
		}
		if got := sameName(rsa.RawIssuer, dn); got != tt.same {
			t.Errorf("sameName(%q) = %v, want %v", tt.dn, got, tt.same)
		}
	}
	for _, bad := range []string{"CN", "XX=1", "CN=a,=b", "CN=#zz"} {
		if _, err := parseDN(bad); err == nil {
			t.Errorf("parseDN(%q) succeeded", bad)
		}
	}
	if got := issuerString(rsa); got != "CN=Porta TEST CA,O=Porta TEST ONLY,C=IT" {
		t.Errorf("issuerString = %q", got)
	}
}

func TestParseKeyRef(t *testing.T) {
	for _, r := range []KeyRef{RefBinaryToken, RefIssuerSerial, RefX509KeyIdentifier, RefSubjectKeyIdentifier, RefThumbprint} {
		if got, err := ParseKeyRef(r.String()); err != nil || got != r {
			t.Errorf("ParseKeyRef(%q) = %v, %v", r, got, err)
		}
	}
	if _, err := ParseKeyRef("x509data"); err == nil {
		t.Error("ParseKeyRef(x509data) succeeded: the Signer does not write it")
	}
	s := testSigner(t, "test-rsa")
	s.KeyRef = RefX509Data
	if _, err := s.SignBytes(envelopeWith(true, "<x/>")); err == nil {
		t.Error("Sign with RefX509Data succeeded")
	}
}

func FuzzParseDN(f *testing.F) {
	rsa := testCert(f, "test-rsa")
	for _, s := range []string{"CN=Porta TEST CA,O=Porta TEST ONLY,C=IT", `CN=a\,b+OU=c;2.5.4.6=#13024954`, "E=x@y, DC=it", "CN=\\"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		dn, err := parseDN(s)
		if err != nil {
			return
		}
		sameName(rsa.RawIssuer, dn)
		if again, err := parseDN(dn.String()); err == nil && len(again) != len(dn) {
			t.Errorf("%q: %d RDNs, read back from %q: %d", s, len(dn), dn.String(), len(again))
		}
	})
}

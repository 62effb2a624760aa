package wssec

import (
	"bytes"
	"crypto/x509"
	"encoding/xml"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	"porta/internal/xmlsafe"
)

// caVerifier trusts the test CA, at signTime plus one minute.
func caVerifier(t testing.TB) *Verifier {
	return &Verifier{Parts: []xml.Name{testPart}, Trust: NewTrustStore(nil, []*x509.Certificate{testCert(t, "test-ca")}), Now: clockAt(signTime.Add(time.Minute))}
}

func kindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return 0
}

func TestSignVerifyRoundTrip(t *testing.T) {
	pinnedRSA := &Verifier{Parts: []xml.Name{testPart}, Trust: NewTrustStore([]*x509.Certificate{testCert(t, "test-rsa")}, nil), Now: clockAt(signTime)}
	tests := []struct {
		name   string
		signer string
		input  []byte
		v      *Verifier
	}{
		{"rsa busta", "test-rsa", envelopeWith(true, payload(10)), caVerifier(t)},
		{"rsa busta pinned", "test-rsa", envelopeWith(true, payload(10)), pinnedRSA},
		{"rsa no busta", "test-rsa", envelopeWith(false, payload(3)), caVerifier(t)},
		{"ecdsa busta", "test-ecdsa", envelopeWith(true, payload(10)), caVerifier(t)},
		{"rsa 5000 elements", "test-rsa", envelopeWith(true, payload(5000)), caVerifier(t)},
		{"ecdsa 5000 elements", "test-ecdsa", envelopeWith(true, payload(5000)), caVerifier(t)},
		{"sample with comments, escapes and default namespaces", "test-rsa", readTestdata(t, "unsigned.xml"), caVerifier(t)},
		{"no header", "test-rsa", []byte(`<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"><e:Body><x>1</x></e:Body></e:Envelope>`), caVerifier(t)},
		{"processing instruction in the body", "test-rsa", envelopeWith(true, `<x><?pi data?>1</x>`), caVerifier(t)},
		{"element with 100 attributes in the body", "test-rsa", envelopeWith(true, `<x`+manyAttrs(100)+`/>`), caVerifier(t)},
		{"default-namespace soap", "test-ecdsa", []byte(`<Envelope xmlns="http://schemas.xmlsoap.org/soap/envelope/"><Body><x xmlns="">1</x></Body></Envelope>`), caVerifier(t)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := testSigner(t, tt.signer)
			signed := mustSign(t, s, tt.input)
			got, err := tt.v.Verify(signed)
			if err != nil {
				t.Fatalf("Verify: %v\n%s", err, signed)
			}
			if got.Certificate.Subject.CommonName != testCert(t, tt.signer).Subject.CommonName {
				t.Errorf("certificate %q", got.Certificate.Subject)
			}
			if !got.Created.Equal(signTime) || !got.Expires.Equal(signTime.Add(DefaultTimestampTTL)) {
				t.Errorf("timestamp %s..%s", got.Created, got.Expires)
			}
			// The verified Body is the input's Body, in canonical form.
			in, err := xmlsafe.Parse(tt.input, xmlsafe.DefaultLimits)
			if err != nil {
				t.Fatal(err)
			}
			var inBody *etree.Element
			for _, c := range in.Root().ChildElements() {
				if c.Tag == "Body" {
					inBody = c
				}
			}
			wantBody, _ := canonicalize(inBody, nil)
			gotBody, _ := canonicalize(got.Body, nil)
			// The signer added wsu:Id (and its namespace) to the Body: compare the content.
			if !bytes.Contains(gotBody, wantBody[bytes.IndexByte(wantBody, '>')+1:]) {
				t.Errorf("verified body differs:\n got %s\nwant %s", gotBody, wantBody)
			}
			if hasBusta := bytes.Contains(tt.input, []byte("Intestazione")); hasBusta != (got.Parts[testPart] != nil) {
				t.Errorf("Intestazione = %v, input has one: %v", got.Parts[testPart], hasBusta)
			}
			if got.Parts[testPart] != nil && got.Parts[testPart].Parent().Parent() != got.Doc.Root() {
				t.Error("verified Intestazione is not in the verified document's Header")
			}
			if got.Body.Parent() != got.Doc.Root() {
				t.Error("verified Body is not in the verified document")
			}
		})
	}
}

// mutate parses signed, applies f to the tree and serialises it.
func mutate(t *testing.T, signed []byte, f func(doc *etree.Document)) []byte {
	t.Helper()
	doc, err := xmlsafe.Parse(signed, xmlsafe.DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	f(doc)
	doc.WriteSettings = etree.WriteSettings{CanonicalText: true, CanonicalAttrVal: true}
	out, err := doc.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func find(doc *etree.Document, path string) *etree.Element {
	el := doc.FindElement(path)
	if el == nil {
		panic("test: no " + path)
	}
	return el
}

func TestVerifyRejects(t *testing.T) {
	rsa := testSigner(t, "test-rsa")
	signed := mustSign(t, rsa, envelopeWith(true, payload(5)))
	noBusta := mustSign(t, rsa, envelopeWith(false, payload(5)))
	replace := func(old, new string) []byte {
		if !bytes.Contains(signed, []byte(old)) {
			t.Fatalf("test: %q not in the signed envelope", old)
		}
		return bytes.Replace(signed, []byte(old), []byte(new), 1)
	}
	signedBy := func(name string) []byte { return mustSign(t, testSigner(t, name), envelopeWith(true, payload(5))) }
	deep := strings.Repeat("<d>", 200) + strings.Repeat("</d>", 200)

	tests := []struct {
		name   string
		input  []byte
		v      *Verifier
		kind   Kind
		detail string
	}{
		{"tampered Body", replace("valore 2 ", "valore 3 "), nil, Changed, "digest of #id-Body"},
		{"tampered busta", replace(">B<", ">C<"), nil, Changed, "digest of #id-Intestazione"},
		{"tampered Timestamp", replace("10:05:00.000Z", "11:05:00.000Z"), nil, Changed, "digest of #id-Timestamp"},
		{"tampered SignedInfo", replace(`URI="#id-Body"`, `URI="#id-Body" Id="x"`), nil, Changed, "SignatureValue does not match"},
		{"wrapping: Body moved into a wrapper, new Body", mutate(t, signed, func(doc *etree.Document) {
			body := find(doc, "/Envelope/Body")
			env := doc.Root()
			env.RemoveChild(body)
			wrap := find(doc, "/Envelope/Header").CreateElement("w:Wrapper")
			wrap.CreateAttr("xmlns:w", "urn:evil")
			wrap.AddChild(body)
			env.CreateElement("soap:Body").CreateElement("evil").SetText("pay me")
		}), nil, Invalid, "signature wrapping"},
		{"wrapping: new Body carries the signed id too", mutate(t, signed, func(doc *etree.Document) {
			body := find(doc, "/Envelope/Body")
			env := doc.Root()
			env.RemoveChild(body)
			find(doc, "/Envelope/Header").CreateElement("w:Wrapper").CreateAttr("xmlns:w", "urn:evil")
			find(doc, "/Envelope/Header/Wrapper").AddChild(body)
			nb := env.CreateElement("soap:Body")
			nb.CreateAttr("xmlns:wsu", NSWSU)
			nb.CreateAttr("wsu:Id", "id-Body")
		}), nil, Invalid, "must be unique"},
		{"duplicate wsu:Id elsewhere", mutate(t, signed, func(doc *etree.Document) {
			x := find(doc, "/Envelope/Header/Intestazione").CreateElement("x")
			x.CreateAttr("xmlns:u", NSWSU) // another prefix, same namespace URI
			x.CreateAttr("u:Id", "id-Body")
		}), nil, Invalid, "must be unique"},
		{"second wsu:Id on the Body under another prefix", mutate(t, signed, func(doc *etree.Document) {
			body := find(doc, "/Envelope/Body")
			body.CreateAttr("xmlns:u", NSWSU)
			body.CreateAttr("u:Id", "id-Other")
		}), nil, Malformed, "are the same attribute"},
		{"plain Id colliding with a signed id", mutate(t, signed, func(doc *etree.Document) {
			find(doc, "/Envelope/Header").CreateElement("x").CreateAttr("Id", "id-Timestamp")
		}), nil, Invalid, "ambiguous"},
		{"second Body", mutate(t, signed, func(doc *etree.Document) {
			doc.Root().CreateElement("soap:Body").CreateElement("evil")
		}), nil, Invalid, "2 soap:Body"},
		{"unsigned busta added after signing", mutate(t, noBusta, func(doc *etree.Document) {
			find(doc, "/Envelope/Header").CreateElement("eGov_IT:Intestazione").CreateAttr("xmlns:eGov_IT", testPart.Space)
		}), nil, Policy, "Intestazione is not signed"},
		{"reference to a wsu:Id in another namespace", mutate(t, signed, func(doc *etree.Document) {
			find(doc, "/Envelope/Body").CreateAttr("xmlns:wsu", "urn:not-wsu")
		}), nil, Invalid, "matches no wsu:Id"},
		{"untrusted certificate", signedBy("test-untrusted"), nil, Policy, "not trusted"},
		{"expired certificate", signedBy("test-expired"), nil, Policy, "expired"},
		{"certificate without digitalSignature", signedBy("test-wrong-usage"), nil, Policy, "key usage"},
		{"pinned store without this certificate", signed, &Verifier{Parts: []xml.Name{testPart}, Trust: NewTrustStore([]*x509.Certificate{testCert(t, "test-ecdsa")}, nil), Now: clockAt(signTime)}, Policy, "not among the pinned"},
		{"stale Timestamp", signed, &Verifier{Parts: []xml.Name{testPart}, Trust: caVerifier(t).Trust, Now: clockAt(signTime.Add(11 * time.Minute))}, Policy, "stale"},
		{"Timestamp in the future", signed, &Verifier{Parts: []xml.Name{testPart}, Trust: caVerifier(t).Trust, Now: clockAt(signTime.Add(-6 * time.Minute))}, Policy, "in the future"},
		{"SHA-1 signature method", replace(AlgRSASHA256, "http://www.w3.org/2000/09/xmldsig#rsa-sha1"), nil, Invalid, "rsa-sha1"},
		{"SHA-1 digest", replace(AlgSHA256, "http://www.w3.org/2000/09/xmldsig#sha1"), nil, Invalid, "sha1"},
		{"XSLT transform", replace(`<ds:Transform Algorithm="`+AlgExcC14N+`"/>`, `<ds:Transform Algorithm="http://www.w3.org/TR/1999/REC-xslt-19991116"/>`), nil, Invalid, "xslt"},
		{"second transform", replace(`<ds:Transform Algorithm="`+AlgExcC14N+`"/>`, `<ds:Transform Algorithm="`+AlgExcC14N+`"/><ds:Transform Algorithm="http://www.w3.org/TR/1999/REC-xpath-19991116"/>`), nil, Invalid, "exactly one ds:Transform"},
		{"inclusive C14N", replace(`<ds:CanonicalizationMethod Algorithm="`+AlgExcC14N+`"/>`, `<ds:CanonicalizationMethod Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315"/>`), nil, Invalid, "only exclusive C14N"},
		{"no signature", envelopeWith(true, "<x/>"), nil, Policy, "no wsse:Security"},
		{"DOCTYPE with entity expansion", append([]byte(`<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>`), signed...), nil, Malformed, "DOCTYPE"},
		{"over-deep input", envelopeWith(true, deep), &Verifier{Parts: []xml.Name{testPart}, Trust: caVerifier(t).Trust, Limits: xmlsafe.Limits{MaxBytes: 1 << 20, MaxDepth: 64, MaxElements: 10000}}, Malformed, "deeper than 64"},
		{"over-large input", signed, &Verifier{Parts: []xml.Name{testPart}, Trust: caVerifier(t).Trust, Limits: xmlsafe.Limits{MaxBytes: 2000, MaxDepth: 64, MaxElements: 10000}}, Malformed, "over the limit"},
		{"not an envelope", []byte(`<a/>`), nil, Malformed, "not a SOAP 1.1 Envelope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := tt.v
			if v == nil {
				v = caVerifier(t)
			}
			got, err := v.Verify(tt.input)
			if err == nil {
				t.Fatalf("verified: %+v", got)
			}
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("error %T %v, want *Error", err, err)
			}
			if pe.Kind != tt.kind || !strings.Contains(err.Error(), tt.detail) {
				t.Errorf("got %v\nwant %s with %q", err, tt.kind, tt.detail)
			}
		})
	}
}

func TestGoldenVerifies(t *testing.T) {
	if _, err := caVerifier(t).Verify(readTestdata(t, "signed-rsa.golden.xml")); err != nil {
		t.Errorf("golden does not verify: %v", err)
	}
}

// BenchmarkVerify verifies envelopes of 1 KB and 100 KB payloads signed with RSA-2048 and
// ECDSA P-256 (parse, checks, c14n, digests, signature, chain to the CA, rebuilt document).
func BenchmarkVerify(b *testing.B) {
	v := caVerifier(b)
	for _, key := range []string{"test-rsa", "test-ecdsa"} {
		s := testSigner(b, key)
		for _, sz := range benchSizes {
			signed := mustSign(b, s, envelopeWith(true, payloadBytes(sz.size)))
			b.Run(key[5:]+"/"+sz.name, func(b *testing.B) {
				b.SetBytes(int64(len(signed)))
				for b.Loop() {
					if _, err := v.Verify(signed); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// FuzzVerify feeds mutated signed envelopes to the verifier: it must never panic, must fail
// only with a *Error, and what it accepts must come with a verified Body.
func FuzzVerify(f *testing.F) {
	for _, key := range []string{"test-rsa", "test-ecdsa"} {
		s := testSigner(f, key)
		f.Add(mustSign(f, s, envelopeWith(true, payload(3))))
		f.Add(mustSign(f, s, envelopeWith(false, "<x/>")))
		for _, ref := range []KeyRef{RefIssuerSerial, RefX509KeyIdentifier, RefSubjectKeyIdentifier, RefThumbprint} {
			s.KeyRef = ref
			f.Add(mustSign(f, s, envelopeWith(true, payload(2))))
		}
	}
	known := []*x509.Certificate{testCert(f, "test-rsa"), testCert(f, "test-ecdsa")} // what a KeyInfo may name
	f.Add(readTestdata(f, "signed-rsa.golden.xml"))
	f.Add(envelopeWith(true, "<x/>"))
	v := caVerifier(f)
	v.Limits = xmlsafe.Limits{MaxBytes: 1 << 16, MaxDepth: 64, MaxElements: 5000}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := v.VerifyFrom(data, known)
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("error %T %v, want *Error", err, err)
			}
			return
		}
		if got.Body == nil || got.Doc == nil || got.Certificate == nil {
			t.Fatalf("verified without a body: %+v", got)
		}
	})
}

func manyAttrs(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, " a%d='%d'", i, i)
	}
	return b.String()
}

package wssec

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"os"
	"strings"
	"testing"

	"porta/internal/xmlsafe"
)

// The Attachment-Content-Signature-Transform's output, byte for byte, for known parts, as the SwA
// profile 1.1.1 §5.4.2 states it: XML content in Exclusive C14N without comments, other text/*
// with CRLF line breaks (RFC 2046 §4.1.1), anything else the octets; MIME headers never included.
func TestAttachmentContentTransform(t *testing.T) {
	pdf, err := os.ReadFile("../../testdata/swa/allegato.pdf")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		att  Attachment
		want []byte
	}{
		{"text/plain: CR, LF and CRLF become CRLF", Attachment{"nota", "text/plain; charset=utf-8", []byte("riga uno\nriga due\r\nriga tre\rfine")},
			[]byte("riga uno\r\nriga due\r\nriga tre\r\nfine")},
		{"text/xml: exclusive C14N, declaration and unused namespaces dropped, attributes sorted", Attachment{"req", `text/xml; charset="utf-8"`,
			[]byte("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<a:doc xmlns:b=\"urn:unused\" xmlns:a=\"urn:a\" z='2' y=\"1\"><e/>\r\n</a:doc>")},
			[]byte("<a:doc xmlns:a=\"urn:a\" y=\"1\" z=\"2\"><e></e>\n</a:doc>")},
		{"application/soap+xml is XML", Attachment{"x", "application/soap+xml", []byte(`<r  a="&#x41;"/>`)}, []byte(`<r a="A"></r>`)},
		{"application/pdf: the octets", Attachment{"allegato.pdf", "application/pdf", pdf}, pdf},
		{"no Content-Type: the octets", Attachment{"raw", "", []byte("a\nb")}, []byte("a\nb")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := WriteAttachmentContent(&b, tt.att); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(b.Bytes(), tt.want) {
				t.Errorf("transform output\n got %q\nwant %q", b.Bytes(), tt.want)
			}
			want := sha256.Sum256(tt.want)
			got, err := attachmentDigest(crypto.SHA256, tt.att)
			if err != nil || !bytes.Equal(got, want[:]) {
				t.Errorf("digest %x, want %x (%v)", got, want, err)
			}
		})
	}
}

func signedSwA(t *testing.T, atts []Attachment) []byte {
	t.Helper()
	doc, err := xmlsafe.Parse(envelopeWith(true, `<m:Descrizione xmlns:m="urn:m"/>`), xmlsafe.DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	if err := testSigner(t, "test-rsa").SignAttachments(doc, atts); err != nil {
		t.Fatal(err)
	}
	out, err := doc.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSignVerifyAttachments(t *testing.T) {
	pdf, err := os.ReadFile("../../testdata/swa/allegato.pdf")
	if err != nil {
		t.Fatal(err)
	}
	atts := []Attachment{{"Request@porta", "text/xml", []byte(`<?xml version="1.0"?><sap><cf>RSSMRA80A01H501U</cf><x/></sap>`)}, {"allegato.pdf@porta", "application/pdf", pdf}}
	env := signedSwA(t, atts)
	if !bytes.Contains(env, []byte(`URI="cid:allegato.pdf@porta"`)) || !bytes.Contains(env, []byte(AlgSwAContent)) {
		t.Fatalf("no SwA reference in\n%s", env)
	}
	verify := func(atts []Attachment) (*Verified, error) {
		doc, err := xmlsafe.Parse(env, xmlsafe.DefaultLimits)
		if err != nil {
			t.Fatal(err)
		}
		return caVerifier(t).VerifyAttachments(doc, atts, nil)
	}
	v, err := verify(atts)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(pdf)
	if !bytes.Equal(v.Attachments["allegato.pdf@porta"], sum[:]) || len(v.Attachments) != 2 {
		t.Errorf("Verified.Attachments = %x, want the PDF's SHA-256 %x", v.Attachments, sum)
	}

	changed := bytes.Clone(pdf)
	changed[len(changed)/2] ^= 1
	extra := Attachment{"extra", "text/plain", []byte("x")}
	tests := []struct {
		name string
		atts []Attachment
		kind Kind
		msg  string
	}{
		{"a changed attachment", []Attachment{atts[0], {atts[1].ContentID, "application/pdf", changed}}, Changed, "cid:allegato.pdf@porta does not match"},
		{"a changed Content-Type that changes the canonical form", []Attachment{{atts[0].ContentID, "text/plain", atts[0].Content}, atts[1]}, Changed, "cid:Request@porta"},
		{"an attachment missing", atts[:1], Invalid, "names no attachment"},
		{"an unsigned attachment", append(append([]Attachment{}, atts...), extra), Policy, "cid:extra is not signed"},
		{"no attachments at all (VerifyDocument)", nil, Invalid, "names no attachment"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := verify(tt.atts)
			if kindOf(err) != tt.kind || err == nil || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("err = %v (kind %d), want kind %d with %q", err, kindOf(err), tt.kind, tt.msg)
			}
		})
	}

	// The Reference's transform is the SwA one and only it.
	bad := bytes.Replace(env, []byte(AlgSwAContent), []byte(AlgExcC14N), 1)
	doc, _ := xmlsafe.Parse(bad, xmlsafe.DefaultLimits)
	if _, err := caVerifier(t).VerifyAttachments(doc, atts, nil); kindOf(err) != Invalid || !strings.Contains(err.Error(), "not allowed for an attachment") {
		t.Errorf("exc-c14n on an attachment: err = %v, want Invalid", err)
	}
}

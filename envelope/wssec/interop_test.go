package wssec

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"

	"porta/internal/testenv"
	"porta/internal/xmlsafe"
)

// Interoperability with independent implementations: xmllint (libxml2's exclusive C14N), xmlsec1
// and python3-zeep (over python3-xmlsec). The tools are found through testenv, which skips
// locally and fails under CI when one is missing.

func writeTemp(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func absPKI(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(pki + name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestC14NMatchesXmllint(t *testing.T) {
	xmllint := testenv.Xmllint(t)
	tests := map[string]string{
		"sample envelope": string(readTestdata(t, "unsigned.xml")),
		"namespaces": `<a:r xmlns:a="urn:a" xmlns:b="urn:b" xmlns:unused="urn:u" xmlns="urn:d"><b:c b:x="1" a:y="2" z="3"/>` +
			`<e xmlns:a="urn:a"><a:f xmlns:a="urn:other"/></e><g xmlns=""><h/></g></a:r>`,
		"escapes, PIs, CDATA, comments": "<r a='&#x9;&#xA;&#xD;&lt;&amp;\"&gt;'>t&#xD;&gt;<![CDATA[<x>&]]><?pi  data ?><!-- c --><?empty?>\n</r>",
		"xml attributes":                `<r xml:lang="it" xmlns:p="urn:p"><p:s xml:space="preserve" p:a="1">  </p:s></r>`,
		"attribute order by namespace":  `<r xmlns:z="urn:a" xmlns:a="urn:z" a:k="1" z:k="2" b="3" a="4"/>`,
		"attribute whitespace":          "<r a=\"x\ny\tz\r\nw\" b='p&#10;q\n' c=\"'\n'\"><!-- a=\"\n\" --><s d=\"\n\"/>\n</r>",
	}
	// xmllint --exc-c14n keeps comments; Porta's (and WS-Security's) form drops them, so the
	// inputs lose theirs first.
	comments := regexp.MustCompile(`(?s)<!--.*?-->`)
	for name, in := range tests {
		in = comments.ReplaceAllString(in, "")
		t.Run(name, func(t *testing.T) {
			file := writeTemp(t, "in.xml", []byte(in))
			want, err := exec.Command(xmllint, "--exc-c14n", file).Output()
			if err != nil {
				t.Fatalf("xmllint: %v", err)
			}
			doc, err := xmlsafe.Parse([]byte(in), xmlsafe.DefaultLimits)
			if err != nil {
				t.Fatal(err)
			}
			got, err := canonicalize(doc.Root(), nil)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("exc-c14n differs from xmllint's:\n got %s\nwant %s", got, want)
			}
		})
	}
}

// signers of the interop tests, with the real clock: xmlsec1 checks certificate validity against
// the time of day.
var interopKeys = []string{"test-rsa", "test-ecdsa"}

func realSigner(t *testing.T, name string) *Signer {
	s := testSigner(t, name)
	s.Now = nil
	return s
}

func TestXmlsec1VerifiesOurSignature(t *testing.T) {
	xmlsec1 := testenv.Xmlsec1(t)
	for _, key := range interopKeys {
		t.Run(key, func(t *testing.T) {
			// 5,000 elements: beyond goxmldsig's traversal budget.
			signed := mustSign(t, realSigner(t, key), envelopeWith(true, payload(5000)))
			// xmlsec1 1.2.37 does not follow a wsse:SecurityTokenReference to the
			// BinarySecurityToken, so the key comes from the certificate file.
			args := []string{"--verify", "--pubkey-cert-pem", absPKI(t, key+".cert.pem"),
				"--id-attr:Id", "Body", "--id-attr:Id", "Intestazione", "--id-attr:Id", "Timestamp"}
			out, err := exec.Command(xmlsec1, append(args, writeTemp(t, "signed.xml", signed))...).CombinedOutput()
			if err != nil || !bytes.Contains(out, []byte("OK")) || !bytes.Contains(out, []byte("References (ok/all): 3/3")) {
				t.Fatalf("xmlsec1 rejected our signature: %v\n%s", err, out)
			}
			// The oracle does check: a changed Body fails.
			tampered := bytes.Replace(signed, []byte("valore 7 "), []byte("valore 8 "), 1)
			if out, err := exec.Command(xmlsec1, append(args, writeTemp(t, "tampered.xml", tampered))...).CombinedOutput(); err == nil {
				t.Fatalf("xmlsec1 accepted a tampered body:\n%s", out)
			}
		})
	}
}

const zeepVerify = `
import sys
from lxml import etree
from zeep.wsse.signature import verify_envelope
envelope = etree.parse(sys.argv[1]).getroot()
verify_envelope(envelope, sys.argv[2])
print("verified")
`

func TestZeepVerifiesOurSignature(t *testing.T) {
	py := testenv.PythonZeep(t)
	script := writeTemp(t, "verify.py", []byte(zeepVerify))
	for _, key := range interopKeys {
		t.Run(key, func(t *testing.T) {
			signed := mustSign(t, realSigner(t, key), envelopeWith(true, payload(50)))
			out, err := exec.Command(py, script, writeTemp(t, "signed.xml", signed), absPKI(t, key+".cert.pem")).CombinedOutput()
			if err != nil || !bytes.Contains(out, []byte("verified")) {
				t.Fatalf("zeep rejected our signature: %v\n%s", err, out)
			}
			tampered := bytes.Replace(signed, []byte("valore 7 "), []byte("valore 8 "), 1)
			if out, err := exec.Command(py, script, writeTemp(t, "tampered.xml", tampered), absPKI(t, key+".cert.pem")).CombinedOutput(); err == nil {
				t.Fatalf("zeep accepted a tampered body:\n%s", out)
			}
		})
	}
}

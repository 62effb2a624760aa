package wssec

import (
	"bytes"
	"crypto/x509"
	"encoding/xml"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"porta/internal/xmlsafe"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// pki is the TEST-ONLY key material of ../testdata/pki.
const pki = "../../testdata/pki/"

// signTime is the fixed clock of the tests: inside every test certificate's validity except
// test-expired's.
var signTime = time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)

// testPart is the header block the tests sign beside the Body and the Timestamp: an eGov busta's
// Intestazione, as Porta's messages carry, though wssec itself knows nothing of it.
var testPart = xml.Name{Space: "http://www.cnipa.it/schemas/2003/eGovIT/Busta1_0/", Local: "Intestazione"}

func clockAt(t time.Time) func() time.Time { return func() time.Time { return t } }

func testSigner(t testing.TB, name string) *Signer {
	t.Helper()
	s, err := LoadSigner(pki+name+".key.pem", pki+name+".cert.pem")
	if err != nil {
		t.Fatal(err)
	}
	s.Now = clockAt(signTime)
	s.Parts = []xml.Name{testPart}
	return s
}

func testCert(t testing.TB, name string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(pki + name + ".cert.pem")
	if err != nil {
		t.Fatal(err)
	}
	cs, err := ParseCertificatesPEM(data)
	if err != nil {
		t.Fatal(err)
	}
	return cs[0]
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "wssec", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// envelopeWith returns a SOAP envelope with an optional busta and body content.
func envelopeWith(busta bool, body string) []byte {
	var b strings.Builder
	b.WriteString(`<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Header>`)
	if busta {
		b.WriteString(`<eGov_IT:Intestazione xmlns:eGov_IT="http://www.cnipa.it/schemas/2003/eGovIT/Busta1_0/" soap:actor="http://www.cnipa.it/eGov_it/portadominio" soap:mustUnderstand="1"><eGov_IT:IntestazioneMessaggio><eGov_IT:Mittente><eGov_IT:IdentificativoParte tipo="SPC">A</eGov_IT:IdentificativoParte></eGov_IT:Mittente><eGov_IT:Destinatario><eGov_IT:IdentificativoParte tipo="SPC">B</eGov_IT:IdentificativoParte></eGov_IT:Destinatario><eGov_IT:Messaggio><eGov_IT:Identificatore>A_ASPCoopIT_0000001_2026-06-01_10:00</eGov_IT:Identificatore><eGov_IT:OraRegistrazione tempo="EGOV_IT_SPC">2026-06-01T10:00:00</eGov_IT:OraRegistrazione></eGov_IT:Messaggio></eGov_IT:IntestazioneMessaggio></eGov_IT:Intestazione>`)
	}
	b.WriteString(`</soap:Header><soap:Body>`)
	b.WriteString(body)
	b.WriteString(`</soap:Body></soap:Envelope>`)
	return []byte(b.String())
}

// payload returns a body payload of n elements.
func payload(n int) string {
	var b strings.Builder
	b.WriteString(`<p:Lista xmlns:p="urn:example:payload">`)
	for i := 1; i < n; i++ {
		fmt.Fprintf(&b, `<p:Voce n="%d">valore %d &amp; altro</p:Voce>`, i, i)
	}
	b.WriteString(`</p:Lista>`)
	return b.String()
}

// payloadBytes returns a payload of about size bytes.
func payloadBytes(size int) string { return payload(size / 45) }

func mustSign(t testing.TB, s *Signer, data []byte) []byte {
	t.Helper()
	out, err := s.SignBytes(data)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSignStructure(t *testing.T) {
	signed := mustSign(t, testSigner(t, "test-rsa"), envelopeWith(true, `<x wsu:Id="id-Body" xmlns:wsu="`+NSWSU+`"/>`))
	doc, err := xmlsafe.Parse(signed, xmlsafe.DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	sec := doc.FindElement("//Security")
	if sec == nil || sec.SelectAttrValue("soap:mustUnderstand", "") != "1" || sec.SelectAttr("soap:actor") != nil {
		t.Fatalf("Security header wrong: %s", signed)
	}
	if sec.Parent().Tag != "Header" || sec.Index() != 0 {
		t.Errorf("Security is not the first child of Header")
	}
	refs := doc.FindElements("//SignedInfo/Reference")
	var uris []string
	for _, r := range refs {
		uris = append(uris, r.SelectAttrValue("URI", ""))
	}
	// The payload already used id-Body: the generated ids avoid it.
	if want := "#id-Body-2 #id-Intestazione #id-Timestamp"; strings.Join(uris, " ") != want {
		t.Errorf("references %v, want %s", uris, want)
	}
	if doc.FindElement("//KeyInfo/SecurityTokenReference/Reference[@URI='#id-BinarySecurityToken']") == nil {
		t.Error("KeyInfo does not reference the BinarySecurityToken")
	}
}

func TestSignRefusesSecondSecurity(t *testing.T) {
	s := testSigner(t, "test-rsa")
	signed := mustSign(t, s, envelopeWith(true, "<x/>"))
	if _, err := s.SignBytes(signed); err == nil || !strings.Contains(err.Error(), "already has a wsse:Security") {
		t.Errorf("signing twice: %v", err)
	}
	if _, err := s.SignBytes([]byte(`<a/>`)); err == nil || !strings.Contains(err.Error(), "not a SOAP 1.1 Envelope") {
		t.Errorf("not an envelope: %v", err)
	}
}

func TestNewSignerRefusesMismatchedKey(t *testing.T) {
	rsa := testSigner(t, "test-rsa")
	if _, err := NewSigner(rsa.key, []*x509.Certificate{testCert(t, "test-ecdsa")}); err == nil {
		t.Error("key and certificate of different pairs accepted")
	}
	if _, err := LoadSigner(pki+"missing.pem", pki+"test-rsa.cert.pem"); err == nil || !strings.Contains(err.Error(), "missing.pem") {
		t.Errorf("missing key file: %v", err)
	}
}

func TestGoldenSigned(t *testing.T) {
	// RSA PKCS#1 v1.5 is deterministic, so with a fixed clock the whole signed envelope is.
	signed := mustSign(t, testSigner(t, "test-rsa"), readTestdata(t, "unsigned.xml"))
	golden := filepath.Join("..", "..", "testdata", "wssec", "signed-rsa.golden.xml")
	if *update {
		if err := os.WriteFile(golden, signed, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -run Golden -update)", err)
	}
	if !bytes.Equal(signed, want) {
		t.Errorf("signed envelope differs from %s:\n%s", golden, signed)
	}
}

func TestLoadTrustStore(t *testing.T) {
	if _, err := LoadTrustStore(nil, nil); err == nil {
		t.Error("empty trust store accepted")
	}
	if _, err := LoadTrustStore([]string{pki + "test-rsa.key.pem"}, nil); err == nil || !strings.Contains(err.Error(), "no CERTIFICATE") {
		t.Errorf("key file as certificate: %v", err)
	}
	ts, err := LoadTrustStore([]string{pki + "test-rsa.cert.pem"}, []string{pki + "test-ca.cert.pem"})
	if err != nil {
		t.Fatal(err)
	}
	if err := ts.check(testCert(t, "test-ecdsa"), nil, signTime); err != nil {
		t.Errorf("CA-issued certificate: %v", err)
	}
}

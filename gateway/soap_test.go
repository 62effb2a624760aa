package gateway

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/beevik/etree"

	"porta/envelope"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

func golden(t *testing.T, name string, doc *etree.Document) {
	t.Helper()
	doc.Indent(2)
	got, err := doc.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file:\ngot:\n%s\nwant:\n%s", name, got, want)
	}
}

// TestFaults pins the application errors of the Porta Delegata (the busta faults are envelope's).
func TestFaults(t *testing.T) {
	at := time.Date(2026, 11, 28, 10, 15, 0, 0, time.UTC)
	ae := &AppError{FaultCode: "Client", Message: "the provider's gateway refused the request: EGOV_IT_001 - Formato Busta non corretto",
		Exceptions: []envelope.Exception{{Context: envelope.ContextValidation, Code: envelope.CodeSenderNotAuthorized, Severity: envelope.SeveritySevere, Position: "Mittente/IdentificativoParte"}}}
	golden(t, "app-error-egov.xml", ae.document("ProvinciaSPCoopIT", at))
	ae = &AppError{Message: "the provider's gateway could not be reached"}
	golden(t, "app-error-processing.xml", ae.document("ProvinciaSPCoopIT", at))
}

func TestSOAPParts(t *testing.T) {
	tests := []struct{ name, xml, err string }{
		{"ok", `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header/><s:Body/></s:Envelope>`, ""},
		{"no header", `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body/></s:Envelope>`, ""},
		{"SOAP 1.2", `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body/></s:Envelope>`, `root element is <Envelope> in namespace "http://www.w3.org/2003/05/soap-envelope"`},
		{"no body", `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header/></s:Envelope>`, "has no Body"},
		{"two bodies", `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body/><s:Body/></s:Envelope>`, "Body repeated"},
		{"header after body", `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body/><s:Header/></s:Envelope>`, "after the Body"},
		{"stray element", `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><x/><s:Body/></s:Envelope>`, "unexpected element <x>"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			doc := etree.NewDocument()
			if err := doc.ReadFromString(tc.xml); err != nil {
				t.Fatal(err)
			}
			_, _, err := soapParts(doc)
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !bytes.Contains([]byte(err.Error()), []byte(tc.err))) {
				t.Errorf("err = %v, want %q", err, tc.err)
			}
		})
	}
}

// TestPayloadKeepsNamespaces: a payload taken out of its envelope keeps the declarations it
// relied on from the envelope, and serialises to the same canonical content.
func TestPayloadKeepsNamespaces(t *testing.T) {
	doc := etree.NewDocument()
	if err := doc.ReadFromString(`<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:t="urn:t"><s:Body xmlns:x="urn:x"><t:A s:encodingStyle="e"><x:B/></t:A><t:C/></s:Body></s:Envelope>`); err != nil {
		t.Fatal(err)
	}
	_, body, _ := soapParts(doc)
	out := plainEnvelope(payload(body))
	b, _ := out.WriteToBytes()
	re := etree.NewDocument()
	if err := re.ReadFromBytes(b); err != nil {
		t.Fatalf("re-read: %v\n%s", err, b)
	}
	a := re.FindElement("//A")
	if a.NamespaceURI() != "urn:t" || a.FindElement("B").NamespaceURI() != "urn:x" || re.FindElement("//C").NamespaceURI() != "urn:t" {
		t.Errorf("namespaces lost:\n%s", b)
	}
	if len(body.ChildElements()) != 0 {
		t.Error("payload left the elements in the source body")
	}
}

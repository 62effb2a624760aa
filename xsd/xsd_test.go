package xsd

import (
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
)

const goodHeader = `<?xml version="1.0"?>
<eGov_IT:Intestazione SOAP_ENV:actor="http://www.cnipa.it/eGov_it/portadominio" SOAP_ENV:mustUnderstand="1" xmlns:SOAP_ENV="http://schemas.xmlsoap.org/soap/envelope/" xmlns:eGov_IT="http://www.cnipa.it/schemas/2003/eGovIT/Busta1_0/">
 <eGov_IT:IntestazioneMessaggio>
  <eGov_IT:Mittente><eGov_IT:IdentificativoParte tipo="SPC">Provincia</eGov_IT:IdentificativoParte></eGov_IT:Mittente>
  <eGov_IT:Destinatario><eGov_IT:IdentificativoParte tipo="SPC">Regione</eGov_IT:IdentificativoParte></eGov_IT:Destinatario>
  <eGov_IT:ProfiloCollaborazione>EGOV_IT_ServizioSincrono</eGov_IT:ProfiloCollaborazione>
  <eGov_IT:Servizio tipo="SPC">SchedaLavoratore</eGov_IT:Servizio>
  <eGov_IT:Azione>Invia</eGov_IT:Azione>
  <eGov_IT:Messaggio>
   <eGov_IT:Identificatore>Provincia_ProvinciaSPCoopIT_0000001_2026-11-28_09:30</eGov_IT:Identificatore>
   <eGov_IT:OraRegistrazione tempo="EGOV_IT_SPC">2026-11-28T09:30:00.000</eGov_IT:OraRegistrazione>
  </eGov_IT:Messaggio>
  <eGov_IT:Sequenza numeroProgressivo="0000001"/>
 </eGov_IT:IntestazioneMessaggio>
</eGov_IT:Intestazione>`

func open(t *testing.T) *Set {
	t.Helper()
	s, err := Open()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestValidate(t *testing.T) {
	s := open(t)
	tests := []struct {
		name    string
		doc     string
		line    int
		element string
		msg     string
	}{
		{"valid", goodHeader, 0, "", ""},
		{"underscore in party", strings.Replace(goodHeader, "Provincia_ProvinciaSPCoopIT", "Pro_vincia_ProvinciaSPCoopIT", 1), 10, "Identificatore", "pattern"},
		{"six-digit counter", strings.Replace(goodHeader, "_0000001_", "_000001_", 1), 10, "Identificatore", "pattern"},
		{"sequence not 7 digits", strings.Replace(goodHeader, `"0000001"`, `"1"`, 1), 13, "Sequenza", "numeroProgressivo"},
		// libxml2 2.9 ignores fixed="…" on an attribute use that refers to a global attribute, so a
		// wrong actor value is ParseHeader's to catch; a missing one is caught here.
		{"no mustUnderstand", strings.Replace(goodHeader, ` SOAP_ENV:mustUnderstand="1"`, "", 1), 2, "Intestazione", "mustUnderstand"},
		{"out of order", strings.Replace(strings.Replace(goodHeader, "<eGov_IT:Azione>Invia</eGov_IT:Azione>", "", 1), "</eGov_IT:Messaggio>", "</eGov_IT:Messaggio><eGov_IT:Azione>Invia</eGov_IT:Azione>", 1), 12, "Azione", "not expected"},
		{"empty azione", strings.Replace(goodHeader, "Invia", "", 1), 8, "Azione", "minLength"},
		{"bad tempo", strings.Replace(goodHeader, "EGOV_IT_SPC", "UTC", 1), 11, "OraRegistrazione", "tempo"},
		{"not well-formed", strings.Replace(goodHeader, "</eGov_IT:Azione>", "</eGov_IT:Azion>", 1), 8, "", "mismatch"},
		{"doctype", `<!DOCTYPE x [<!ENTITY a "b">]><x/>`, 0, "", "DOCTYPE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.Validate(Busta, []byte(tt.doc))
			if tt.msg == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T %v, want *xsd.Error", err, err)
			}
			p := e.Problems[0]
			if p.Line != tt.line || p.Element != tt.element || !strings.Contains(p.Message, tt.msg) {
				t.Errorf("problem = %+v, want line %d element %q message containing %q", p, tt.line, tt.element, tt.msg)
			}
			if !strings.Contains(err.Error(), Busta) {
				t.Errorf("Error() = %q does not name the schema", err)
			}
		})
	}
}

// The envelope schema imports nothing and accepts any header block; the busta schema imports the
// SOAP and wsu schemas by relative path, which only works when the tree is materialised whole.
func TestSchemasCompile(t *testing.T) {
	s := open(t)
	list, err := s.Schemas()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{Busta, SOAPEnvelope, WSU} {
		found := false
		for _, p := range list {
			found = found || p == want
		}
		if !found {
			t.Errorf("Schemas() = %v, missing %s", list, want)
		}
	}
	for _, p := range []string{Busta, SOAPEnvelope, WSU} {
		if _, err := s.handler(p); err != nil {
			t.Errorf("compile %s: %v", p, err)
		}
	}
	env := `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header/><s:Body><s:Fault><faultcode>s:Client</faultcode><faultstring>x</faultstring></s:Fault></s:Body></s:Envelope>`
	if err := s.Validate(SOAPEnvelope, []byte(env)); err != nil {
		t.Errorf("envelope: %v", err)
	}
	if err := s.Validate(SOAPEnvelope, []byte(`<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body/><s:Body/></s:Envelope>`)); err == nil {
		t.Error("two Bodies validated")
	}
}

// Schemas dropped in another directory of the tree are picked up, imports resolved relative to
// them.
func TestSubdirectories(t *testing.T) {
	fsys := fstest.MapFS{
		"root/egov/wsu.xsd": {Data: mustRead(t, "schemas/egov/wsu.xsd")},
		"root/labour/x/a.xsd": {Data: []byte(`<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:a" xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd">
<xs:import namespace="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd" schemaLocation="../../egov/wsu.xsd"/>
<xs:element name="a"><xs:complexType><xs:attribute ref="wsu:Id"/></xs:complexType></xs:element></xs:schema>`)},
	}
	s, err := OpenFS(fsys, "root")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Validate("labour/x/a.xsd", []byte(`<a xmlns="urn:a" xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd" wsu:Id="x1"/>`)); err != nil {
		t.Errorf("valid: %v", err)
	}
	if err := s.Validate("labour/x/a.xsd", []byte(`<a xmlns="urn:a" xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd" wsu:Id="1x"/>`)); err == nil {
		t.Error("an invalid xs:ID validated")
	}
	for _, bad := range []string{"../etc/passwd", "/abs.xsd", "missing.xsd", ""} {
		if err := s.Validate(bad, []byte("<a/>")); err == nil {
			t.Errorf("schema %q accepted", bad)
		}
	}
}

func mustRead(t *testing.T, p string) []byte {
	b, err := embedded.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestConcurrentAndClose(t *testing.T) {
	s, err := Open()
	if err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(goodHeader, "_0000001_", "_1_", 1)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 50; j++ {
				if err := s.Validate(Busta, []byte(goodHeader)); err != nil {
					t.Errorf("valid: %v", err)
					return
				}
				if err := s.Validate(Busta, []byte(bad)); err == nil {
					t.Error("invalid validated")
					return
				}
			}
		}()
	}
	wg.Wait()
	dir := s.dir
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("temporary directory %s left behind: %v", dir, err)
	}
	if err := s.Validate(Busta, []byte(goodHeader)); err == nil {
		t.Error("Validate after Close succeeded")
	}
}

package envelope

import (
	"errors"
	"strings"
	"testing"

	"porta/internal/xmlsafe"
)

// §12: a Manifest that breaks the schema's rules is answered with EGOV_IT_003 and its posizione.
func TestParseManifest(t *testing.T) {
	const ns = `xmlns:eGov_IT="` + NSeGov + `"`
	ref := func(attrs, kids string) string {
		return `<eGov_IT:DescrizioneMessaggio><eGov_IT:Riferimento ` + attrs + `>` + kids + `</eGov_IT:Riferimento></eGov_IT:DescrizioneMessaggio>`
	}
	good := ref(`href="cid:Request" role="Richiesta" eGov_IT:id="Request"`, `<eGov_IT:Schema posizione="http://x/sap.xsd"/><eGov_IT:Titolo Lingua="it">SAP</eGov_IT:Titolo>`) +
		ref(`href="cid:allegato.pdf" role="Allegato" eGov_IT:id="A1"`, ``)
	parts := []string{"Request", "allegato.pdf"}
	tests := []struct {
		name, body string
		parts      []string
		pos        string // "" = accepted
	}{
		{"Richiesta and Allegato", good, parts, ""},
		{"unqualified id", ref(`href="cid:Request" role="Richiesta" id="Request"`, ``), parts[:1], "Descrizione/DescrizioneMessaggio/Riferimento/id"},
		{"no eGov_IT:id", ref(`href="cid:Request" role="Richiesta"`, ``), parts[:1], "Descrizione/DescrizioneMessaggio/Riferimento/id"},
		{"no role", ref(`href="cid:Request" eGov_IT:id="x"`, ``), parts[:1], "Descrizione/DescrizioneMessaggio/Riferimento/role"},
		{"href naming no part", ref(`href="cid:Altro" role="Richiesta" eGov_IT:id="x"`, ``), parts[:1], "Descrizione/DescrizioneMessaggio/Riferimento/href"},
		{"href not cid:", ref(`href="http://x/a" role="Richiesta" eGov_IT:id="x"`, ``), parts[:1], "Descrizione/DescrizioneMessaggio/Riferimento/href"},
		{"Schema in another namespace", ref(`href="cid:Request" role="Richiesta" eGov_IT:id="x"`, `<Schema xmlns="urn:other" posizione="a"/>`), parts[:1], "Descrizione/DescrizioneMessaggio/Riferimento"},
		{"Schema without posizione", ref(`href="cid:Request" role="Richiesta" eGov_IT:id="x"`, `<eGov_IT:Schema/>`), parts[:1], "Descrizione/DescrizioneMessaggio/Riferimento/Schema/posizione"},
		{"Titolo before Schema", ref(`href="cid:Request" role="Richiesta" eGov_IT:id="x"`, `<eGov_IT:Titolo>t</eGov_IT:Titolo><eGov_IT:Schema posizione="a"/>`), parts[:1], "Descrizione/DescrizioneMessaggio/Riferimento"},
		{"a part not described", ref(`href="cid:Request" role="Richiesta" eGov_IT:id="x"`, ``), parts, "Descrizione"},
		{"a part described twice", good + ref(`href="cid:Request" role="Allegato" eGov_IT:id="y"`, ``), parts, "Descrizione/DescrizioneMessaggio/Riferimento/href"},
		{"empty Descrizione", ``, nil, "Descrizione"},
		{"DescrizioneMessaggio with two Riferimenti", `<eGov_IT:DescrizioneMessaggio><eGov_IT:Riferimento href="cid:Request" role="R" eGov_IT:id="1"/><eGov_IT:Riferimento href="cid:Request" role="R" eGov_IT:id="1"/></eGov_IT:DescrizioneMessaggio>`, parts[:1], "Descrizione/DescrizioneMessaggio"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := xmlsafe.Parse([]byte(`<eGov_IT:Descrizione `+ns+`>`+tt.body+`</eGov_IT:Descrizione>`), xmlsafe.DefaultLimits)
			if err != nil {
				t.Fatal(err)
			}
			m, err := ParseManifest(doc.Root(), tt.parts)
			if tt.pos == "" {
				if err != nil {
					t.Fatal(err)
				}
				if len(m.Refs) != 2 || m.Find(RoleRequest).Schema != "http://x/sap.xsd" || m.Find(RoleAttachment).ContentID != "allegato.pdf" {
					t.Errorf("manifest %+v", m)
				}
				// What Element writes reads back the same.
				again, err := ParseManifest(m.Element(), tt.parts)
				if err != nil || len(again.Refs) != 2 || again.Refs[0] != m.Refs[0] {
					t.Errorf("round trip: %+v, %v", again, err)
				}
				return
			}
			var pe *ProtocolError
			if !errors.As(err, &pe) || pe.Code() != CodeBodyFormat || pe.Exceptions[0].Position != tt.pos {
				t.Fatalf("err = %v, want %s at %q", err, CodeBodyFormat, tt.pos)
			}
			if strings.TrimSpace(pe.Error()) == "" {
				t.Error("no detail")
			}
		})
	}
}

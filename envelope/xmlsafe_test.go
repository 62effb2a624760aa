package envelope

import (
	"errors"
	"strings"
	"testing"
)

func TestParseXMLRejects(t *testing.T) {
	deep := strings.Repeat("<a>", 200) + strings.Repeat("</a>", 200)
	tests := []struct {
		name, in, want string
	}{
		{"doctype", `<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>`, "DOCTYPE"},
		{"external entity", "<?xml version=\"1.0\"?>\n<!DOCTYPE x SYSTEM \"file:///etc/passwd\"><x/>", "DOCTYPE"},
		{"undeclared entity", `<x>&a;</x>`, "not well-formed"},
		{"two roots", `<x/><y/>`, "2 root elements"},
		{"text outside", `<x/>hello`, "text outside"},
		{"mismatched", `<x></y>`, "not well-formed"},
		{"duplicate attribute", `<x a="1" a="2"/>`, "repeated"},
		{"too deep", deep, "deeper than 128"},
		{"empty", ``, "root elements"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseXML([]byte(tc.in), DefaultLimits)
			var xe *XMLError
			if !errors.As(err, &xe) {
				t.Fatalf("ParseXML(%q) = %v, want *XMLError", tc.in, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

func TestParseXMLLimits(t *testing.T) {
	in := []byte("<r>" + strings.Repeat("<e/>", 50) + "</r>")
	if _, err := ParseXML(in, Limits{MaxElements: 10}); err == nil || !strings.Contains(err.Error(), "more than 10 elements") {
		t.Fatalf("element cap: got %v", err)
	}
	if _, err := ParseXML(in, Limits{MaxBytes: 20}); err == nil || !strings.Contains(err.Error(), "over the limit") {
		t.Fatalf("size cap: got %v", err)
	}
}

func TestParseXMLAccepts(t *testing.T) {
	in := "<?xml version=\"1.0\"?>\n<!-- <!DOCTYPE in a comment> -->\n<r><![CDATA[<!DOCTYPE lavoratore>]]><a b=\"1\" c=\"2\"/></r>\n"
	doc, err := ParseXML([]byte(in), DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	if doc.Root().Tag != "r" {
		t.Fatalf("root %q", doc.Root().Tag)
	}
}

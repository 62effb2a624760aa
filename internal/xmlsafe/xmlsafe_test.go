package xmlsafe

import (
	"errors"
	"strings"
	"testing"
)

func TestParseRejects(t *testing.T) {
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
			_, err := Parse([]byte(tc.in), DefaultLimits)
			var xe *Error
			if !errors.As(err, &xe) {
				t.Fatalf("Parse(%q) = %v, want *Error", tc.in, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

func TestParseLimits(t *testing.T) {
	in := []byte("<r>" + strings.Repeat("<e/>", 50) + "</r>")
	if _, err := Parse(in, Limits{MaxElements: 10}); err == nil || !strings.Contains(err.Error(), "more than 10 elements") {
		t.Fatalf("element cap: got %v", err)
	}
	if _, err := Parse(in, Limits{MaxBytes: 20}); err == nil || !strings.Contains(err.Error(), "over the limit") {
		t.Fatalf("size cap: got %v", err)
	}
}

func TestParseAccepts(t *testing.T) {
	in := "<?xml version=\"1.0\"?>\n<!-- <!DOCTYPE in a comment> -->\n<r><![CDATA[<!DOCTYPE lavoratore>]]><a b=\"1\" c=\"2\"/></r>\n"
	doc, err := Parse([]byte(in), DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	if doc.Root().Tag != "r" {
		t.Fatalf("root %q", doc.Root().Tag)
	}
}

func TestNormalizeAttrSpace(t *testing.T) {
	tests := []struct{ in, want string }{
		{`<a b="1"/>`, `<a b="1"/>`},
		{"<a b=\"1\n2\">\n</a>", "<a b=\"1 2\">\n</a>"},
		{"<a b='\r\n\t'/>", "<a b='  '/>"},
		{"<a b=\"'\n'\" c='\"\n\"'/>", "<a b=\"' '\" c='\" \"'/>"},
		{"<!-- x=\"\n\" --><a/>", "<!-- x=\"\n\" --><a/>"},
		{"<a><![CDATA[ b=\"\n\" ]]><?pi x=\"\n\"?></a>", "<a><![CDATA[ b=\"\n\" ]]><?pi x=\"\n\"?></a>"},
		{"<a b=\"&#10;\"/>", "<a b=\"&#10;\"/>"},
		{"<a b=\"\n", "<a b=\" "},
		{"text \"\n\" <a/>", "text \"\n\" <a/>"},
	}
	for _, tt := range tests {
		if got := string(normalizeAttrSpace([]byte(tt.in))); got != tt.want {
			t.Errorf("normalizeAttrSpace(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

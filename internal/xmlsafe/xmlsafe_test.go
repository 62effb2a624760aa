package xmlsafe

import (
	"errors"
	"fmt"
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
		if got, _ := normalizeAttrSpace([]byte(tt.in)); string(got) != tt.want {
			t.Errorf("normalizeAttrSpace(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// Attributes are the same when their expanded names (namespace URI, local name) are, whatever
// their prefixes: libxml2 refuses <s:Body u:Id="a" v:Id="b"> with u and v bound to one URI
// ("Namespaced Attribute Id in '…' redefined"), and so must we, or a signature verifier and the
// application behind it may read different Ids off one element.
func TestRepeatedAttributesByExpandedName(t *testing.T) {
	const wsu = `http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd`
	many := func(extra string) string {
		var b strings.Builder
		b.WriteString(`<r xmlns:u="urn:w" xmlns:v="urn:w"`)
		for i := range 20 {
			fmt.Fprintf(&b, ` a%d="%d"`, i, i)
		}
		return b.String() + extra + `/>`
	}
	tests := []struct {
		name, in string
		refused  bool
	}{
		{"two prefixes bound to wsu", `<s:Body xmlns:s="urn:soap" xmlns:u="` + wsu + `" xmlns:v="` + wsu + `" u:Id="a" v:Id="b"/>`, true},
		{"the same prefix twice", `<r xmlns:u="urn:w" u:Id="a" u:Id="b"/>`, true},
		{"the same unprefixed name twice", `<r Id="a" Id="b"/>`, true},
		{"xml:lang twice", `<r xml:lang="it" xml:lang="en"/>`, true},
		{"the same declaration twice", `<r xmlns:u="urn:w" xmlns:u="urn:w"/>`, true},
		{"bound in an ancestor", `<r xmlns:u="urn:w" xmlns:v="urn:w"><a u:Id="1" v:Id="2"/></r>`, true},
		{"one bound here, one in an ancestor", `<r xmlns:u="urn:w"><a xmlns:v="urn:w" u:Id="1" v:Id="2"/></r>`, true},
		{"redefined in a nested scope onto the other's URI", `<r xmlns:u="urn:w" xmlns:v="urn:x"><a xmlns:v="urn:w" u:Id="1" v:Id="2"/></r>`, true},
		{"many attributes (the set path)", many(` u:Id="1" v:Id="2"`), true},

		{"two prefixes bound to different URIs", `<r xmlns:u="urn:w" xmlns:v="urn:x" u:Id="1" v:Id="2"/>`, false},
		{"redefined in a nested scope away from the other's URI", `<r xmlns:u="urn:w" xmlns:v="urn:w"><a xmlns:v="urn:x" u:Id="1" v:Id="2"/></r>`, false},
		{"the default namespace does not apply to attributes", `<r xmlns="urn:w" xmlns:u="urn:w" Id="1" u:Id="2"/>`, false},
		{"unprefixed and prefixed with the same local name", `<r xmlns:u="urn:w" Id="1" u:Id="2"/>`, false},
		{"a declaration and an attribute with the same local name", `<r xmlns:u="urn:w" xmlns:Id="urn:i" u:Id="1"/>`, false},
		{"the same prefix on sibling elements", `<r xmlns:u="urn:w"><a u:Id="1"/><b u:Id="1"/></r>`, false},
		{"many attributes, no repeat", many(` u:Id="1"`), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.in), DefaultLimits)
			if tt.refused {
				var e *Error
				if !errors.As(err, &e) || !strings.Contains(e.Reason, "attribute") && !strings.Contains(e.Reason, "declaration") {
					t.Fatalf("Parse(%s) = %v, want a repeated attribute refused", tt.in, err)
				}
			} else if err != nil {
				t.Fatalf("Parse(%s): %v", tt.in, err)
			}
			// Both paths build the same tree, which checkWellFormed then judges.
			checkFastParse(t, []byte(tt.in), DefaultLimits)
		})
	}
}

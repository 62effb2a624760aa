//go:build cgo

package libxml2oracle

import (
	"strings"
	"testing"
)

func TestRead(t *testing.T) {
	const wsu = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
	tests := []struct {
		name, in string
		accepts  bool
		code     int // a problem libxml2 must report, when refused
	}{
		{"plain", `<a b="1"><c/></a>`, true, 0},
		{"not well-formed", `<a><b></a>`, false, 76},
		{"namespaced attribute redefined", `<s:Body xmlns:s="urn:s" xmlns:u="` + wsu + `" xmlns:v="` + wsu + `" u:Id="a" v:Id="b"/>`, false, NSErrAttributeRedefined},
		{"undeclared prefix", `<a u:b="1"/>`, false, 201},
		{"entity declared but not substituted", `<!DOCTYPE a [<!ENTITY e "x">]><a>&e;</a>`, true, 0},
		{"empty", ``, false, 4},
	}
	for _, tt := range tests {
		r := Read([]byte(tt.in))
		if r.Accepts() != tt.accepts {
			t.Errorf("%s: Accepts = %v, want %v (%+v)", tt.name, r.Accepts(), tt.accepts, r)
		}
		if tt.code != 0 {
			found := false
			for _, p := range r.Problems {
				found = found || p.Code == tt.code
			}
			if !found {
				t.Errorf("%s: no problem %d in %+v", tt.name, tt.code, r.Problems)
			}
		}
	}
}

func TestCanonicalize(t *testing.T) {
	in := "<?xml version=\"1.0\"?>\n<a:r xmlns:a=\"urn:a\" xmlns:b=\"urn:b\" z='1' a:y=\"&#9;\"><!-- c --><b:c/><![CDATA[<&>]]></a:r>"
	want := `<a:r xmlns:a="urn:a" z="1" a:y="&#x9;"><b:c xmlns:b="urn:b"></b:c>&lt;&amp;&gt;</a:r>`
	got, _, err := Canonicalize([]byte(in), 0, nil)
	if err != nil || string(got) != want {
		t.Fatalf("Canonicalize = %s, %v\nwant %s", got, err, want)
	}
	got, _, err = Canonicalize([]byte(`<r xmlns:b="urn:b"><c/></r>`), 0, []string{"b"})
	if err != nil || string(got) != `<r xmlns:b="urn:b"><c></c></r>` {
		t.Errorf("with PrefixList b: %s, %v", got, err)
	}
	// An inner apex: the namespaces it uses come from its ancestors; its siblings are left out.
	got, _, err = Canonicalize([]byte(`<a:r xmlns:a="urn:a" xmlns:b="urn:b"><x/><a:s b:k="1"><t/></a:s></a:r>`), 2, nil)
	if err != nil || string(got) != `<a:s xmlns:a="urn:a" xmlns:b="urn:b" b:k="1"><t></t></a:s>` {
		t.Errorf("inner apex: %s, %v", got, err)
	}
	if _, _, err := Canonicalize([]byte(`<r xmlns:a="relative"/>`), 0, nil); err == nil || !strings.Contains(err.Error(), "1955") {
		t.Errorf("relative namespace URI: %v, want libxml2's refusal", err)
	}
}

package xmlsafe

import "testing"

// libxml2Refuses are documents Parse accepted and libxml2 refuses, found by FuzzParse or by
// reading libxml2's parser, and their neighbours: Parse must refuse each of them now.
var libxml2Refuses = []string{
	// attributes
	`<s:Body xmlns:s="urn:s" xmlns:u="urn:w" xmlns:v="urn:w" u:Id="a" v:Id="b"/>`,
	`<r x="1"y="2"/>`, // no white space between attributes
	// names and namespaces
	`<:a/>`, `<a:/>`, `<r :b="1"/>`, `<s:0 xmlns:s="urn:s"/>`, `<r xmlns:s="urn:s" s:-k="1"/>`,
	`<u:a/>`, `<a u:b="1"/>`, // undeclared prefixes
	`<a xmlns:p=""/>`, `<a xmlns:xml="urn:x"/>`, `<a xmlns:x="http://www.w3.org/XML/1998/namespace"/>`,
	`<a xmlns:xmlns="urn:x"/>`, `<a xmlns="http://www.w3.org/2000/xmlns/"/>`,
	`<a xmlns="http://www.w3.org/XML/1998/namespace"/>`,
	// characters
	"<r>&#xd800;</r>", "<r a='&#55296;'/>", "<A/><!--\x00-->", "<a><?p \x01?></a>",
	// outside the root element
	"\u00a0<a/>", "<![CDATA[ ]]><a/>",
	// processing instructions and the XML declaration
	`<?A!?><a/>`, `<?a:b x?><a/>`, `<a><?a:b?></a>`, `<a/><?xml version="1.0"?>`,
	` <?xml version="1.0"?><a/>`, `<?XML version="1.0"?><a/>`, `<a><?xml version="1.0"?></a>`,
	`<?xml encoding="UTF-8"?><a/>`, `<?xml version="1.0" standalone="maybe"?><a/>`,
}

// policyRefuses are documents libxml2 reads and Parse refuses on purpose: DTDs (entity
// declarations, expansion) and encodings other than UTF-8, which the fast reader once read as
// UTF-8 while libxml2 decodes them (here é, where we would have read an invalid byte).
var policyRefuses = []string{
	`<!DOCTYPE a [<!ENTITY e "x">]><a>&e;</a>`,
	"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a>\xe9</a>",
	`<?xml version="1.0" encoding="ISO-8859-1"?><a>plain ASCII</a>`,
}

// libxml2Accepts are their neighbours that both read.
var libxml2Accepts = []string{
	`<s:Body xmlns:s="urn:s" xmlns:u="urn:w" xmlns:v="urn:x" u:Id="a" v:Id="b"/>`,
	`<r x="1" y="2"/>`, `<s:a xmlns:s="urn:s" s:k="1" k="2"/>`, `<a xmlns:xml="http://www.w3.org/XML/1998/namespace"/>`,
	`<a xmlns=""/>`, "<r>&#xd7ff;&#xe000;&#x10000;</r>", "<A/><!--\t-->", " <a/> ",
	`<?A ?><a/>`, `<?A?><a/>`, `<?xml version="1.0"?><a/>`, `<?xml version='1.0' encoding='utf-8' standalone='yes' ?><a/>`,
}

// TestParseVerdicts: Parse refuses what libxml2 refuses (the disagreements FuzzParse found, and
// their neighbours) and what we refuse by policy, and reads the neighbours both read.
func TestParseVerdicts(t *testing.T) {
	for _, in := range append(libxml2Refuses, policyRefuses...) {
		if _, err := Parse([]byte(in), DefaultLimits); err == nil {
			t.Errorf("Parse accepts %q", in)
		}
	}
	for _, in := range libxml2Accepts {
		if _, err := Parse([]byte(in), DefaultLimits); err != nil {
			t.Errorf("Parse(%q): %v", in, err)
		}
	}
}

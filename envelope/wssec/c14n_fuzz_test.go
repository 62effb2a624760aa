package wssec

import (
	"bytes"
	"porta/internal/xmlsafe"
	"testing"
)

// FuzzCanonicalize checks that canonicalization never panics and is idempotent: the canonical
// form of any accepted document parses and canonicalizes to itself. Small inputs are also
// compared with the reference implementation, and the copy canonicalCopy builds with the tree
// the canonical bytes parse to. The seeds stay small: the fuzzer minimises every input that finds
// new coverage, and minimising a large one can outlast a short -fuzztime.
func FuzzCanonicalize(f *testing.F) {
	f.Add(readTestdata(f, "unsigned.xml"))
	f.Add([]byte(`<a:r xmlns:a="urn:a" xmlns="urn:d"><b xmlns=""><a:c a:x="&#9;"/></b><?p i?></a:r>`))
	f.Add([]byte("<r a='&#xD;'>&#xD;<![CDATA[]]>&gt;</r>"))
	f.Add([]byte("<r>a<!--x-->b<![CDATA[c]]>d<e/> <!--y--> </r>"))
	f.Add([]byte("<r><A :='1' x:='2'/></r>")) // names the parser does not split at the colon
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := xmlsafe.Parse(data, xmlsafe.Limits{MaxBytes: 1 << 16, MaxDepth: 64, MaxElements: 5000})
		if err != nil {
			return
		}
		c1, err := canonicalize(doc.Root(), nil)
		if err != nil {
			return // an undeclared prefix
		}
		doc2, err := xmlsafe.Parse(c1, xmlsafe.DefaultLimits)
		if err != nil {
			t.Fatalf("canonical form does not parse: %v\n%s", err, c1)
		}
		c2, err := canonicalize(doc2.Root(), nil)
		if err != nil || !bytes.Equal(c1, c2) {
			t.Fatalf("not idempotent (%v):\n%s\n%s", err, c1, c2)
		}
		checkC14N(t, "fuzz input", doc.Root(), len(data) <= 4096)
	})
}

package wssec

import (
	"bytes"
	"crypto"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/beevik/etree"
	"porta/internal/xmlsafe"
)

// c14nCorpus is the documents the streaming C14N is checked on: the samples, the xmllint
// cases, and random documents exercising namespaces (redeclared, undone, unused, on attributes),
// escapes, comments, CDATA and adjacent text.
func c14nCorpus(t testing.TB) map[string][]byte {
	c := map[string][]byte{
		"unsigned":   readTestdata(t, "unsigned.xml"),
		"golden":     readTestdata(t, "signed-rsa.golden.xml"),
		"namespaces": []byte(`<a:r xmlns:a="urn:a" xmlns:b="urn:b" xmlns:unused="urn:u" xmlns="urn:d"><b:c b:x="1" a:y="2" z="3"/><e xmlns:a="urn:a"><a:f xmlns:a="urn:other"/></e><g xmlns=""><h/></g></a:r>`),
		"escapes":    []byte("<r a='&#x9;&#xA;&#xD;&lt;&amp;\"&gt;'>t&#xD;&gt;<![CDATA[<x>&]]><!-- c -->\n</r>"),
		"xml attrs":  []byte(`<r xml:lang="it" xmlns:p="urn:p"><p:s xml:space="preserve" p:a="1">  </p:s></r>`),
		"attr order": []byte(`<r xmlns:z="urn:a" xmlns:a="urn:z" a:k="1" z:k="2" b="3" a="4"/>`),
		"text merge": []byte(`<r>a<!--x-->b<![CDATA[c]]>d<e/> <!--y--> </r>`),
		"payload":    []byte(envelopeWith(true, payload(50))),
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 300 {
		c[fmt.Sprintf("random %d", i)] = randomXML(r)
	}
	return c
}

// randomXML writes a random namespace-well-formed document with namespaces from a small set (no
// two attributes of an element with the same expanded name, which xmlsafe.Parse refuses).
func randomXML(r *rand.Rand) []byte {
	prefixes := []string{"", "a", "b", "c"}
	uris := []string{"", "urn:x", "urn:y", "urn:z&amp;q"}
	texts := []string{"t", " ", "&amp;", "&lt;&gt;", "&#xD;", "\n", `"q"`, "<![CDATA[c<d]]>", "<!--k-->", "é"}
	var b strings.Builder
	var el func(depth int, declared map[string]string)
	el = func(depth int, declared map[string]string) {
		d := map[string]string{}
		for k, v := range declared {
			d[k] = v
		}
		var decl strings.Builder
		for _, p := range prefixes {
			if r.IntN(4) == 0 {
				u := uris[r.IntN(len(uris))]
				if p == "" {
					fmt.Fprintf(&decl, ` xmlns="%s"`, u)
				} else if u != "" {
					fmt.Fprintf(&decl, ` xmlns:%s="%s"`, p, u)
					d[p] = u
				}
			}
		}
		var cands []string
		for _, p := range prefixes[1:] {
			if d[p] != "" {
				cands = append(cands, p)
			}
		}
		name := "e"
		if len(cands) > 0 && r.IntN(2) == 0 {
			name = cands[r.IntN(len(cands))] + ":e"
		}
		var attrs strings.Builder
		seen := map[string]bool{}
		for range r.IntN(4) {
			k := []string{"k", "l", "xml:lang"}[r.IntN(3)]
			expanded := k
			if len(cands) > 0 && r.IntN(2) == 0 {
				p := cands[r.IntN(len(cands))]
				k, expanded = p+":k", "{"+d[p]+"}k"
			}
			if !seen[expanded] {
				seen[expanded] = true
				fmt.Fprintf(&attrs, ` %s="v&#9;%d&quot;&lt;"`, k, r.IntN(3))
			}
		}
		fmt.Fprintf(&b, "<%s%s%s>", name, decl.String(), attrs.String())
		for range r.IntN(5) {
			if depth < 6 && r.IntN(2) == 0 {
				el(depth+1, d)
			} else {
				b.WriteString(texts[r.IntN(len(texts))])
			}
		}
		fmt.Fprintf(&b, "</%s>", name)
	}
	el(0, map[string]string{})
	return []byte(b.String())
}

// checkC14N checks digestCanonical and canonicalCopy on el against canonicalize, the copy
// against the parse of the canonical bytes and, when want is not nil, canonicalize against want
// (libxml2's canonical form).
func checkC14N(t testing.TB, name string, el *etree.Element, want []byte) {
	t.Helper()
	got, err := canonicalize(el, nil)
	if err != nil {
		t.Fatalf("%s <%s>: %v", name, el.FullTag(), err)
	}
	if want != nil && !bytes.Equal(got, want) {
		t.Fatalf("%s <%s>: canonical form differs from libxml2's:\n got %s\nwant %s", name, el.FullTag(), got, want)
	}
	want = got
	h := crypto.SHA256.New()
	h.Write(want)
	sum := h.Sum(nil)
	d, err := digestCanonical(crypto.SHA256, el, nil)
	if err != nil || !bytes.Equal(d, sum) {
		t.Fatalf("%s <%s>: digestCanonical %x, %v; want %x", name, el.FullTag(), d, err, sum)
	}
	d, cp, err := canonicalCopy(crypto.SHA256, el, nil)
	if err != nil || !bytes.Equal(d, sum) {
		t.Fatalf("%s <%s>: canonicalCopy digest %x, %v; want %x", name, el.FullTag(), d, err, sum)
	}
	if cp == nil {
		return // a processing instruction or too many attributes: the caller parses
	}
	parsed, err := xmlsafe.Parse(want, xmlsafe.DefaultLimits)
	if err != nil {
		t.Fatalf("%s: canonical form does not parse: %v", name, err)
	}
	if diff := treeDiff(cp, parsed.Root()); diff != "" {
		t.Fatalf("%s <%s>: the copy is not the tree of the canonical bytes: %s\ncanonical %s", name, el.FullTag(), diff, want)
	}
}

// treeDiff names the first difference between two trees: names, attributes in order (with their
// namespace URIs), and child tokens with their kind, data and flags.
func treeDiff(a, b *etree.Element) string {
	if a.Space != b.Space || a.Tag != b.Tag {
		return fmt.Sprintf("element <%s> vs <%s>", a.FullTag(), b.FullTag())
	}
	if a.NamespaceURI() != b.NamespaceURI() {
		return fmt.Sprintf("<%s> namespace %q vs %q", a.FullTag(), a.NamespaceURI(), b.NamespaceURI())
	}
	if len(a.Attr) != len(b.Attr) {
		return fmt.Sprintf("<%s> has %d attributes vs %d", a.FullTag(), len(a.Attr), len(b.Attr))
	}
	for i := range a.Attr {
		x, y := a.Attr[i], b.Attr[i]
		if x.Space != y.Space || x.Key != y.Key || x.Value != y.Value || x.NamespaceURI() != y.NamespaceURI() || x.Element() != a {
			return fmt.Sprintf("<%s> attribute %d: %s=%q vs %s=%q", a.FullTag(), i, x.FullKey(), x.Value, y.FullKey(), y.Value)
		}
	}
	if len(a.Child) != len(b.Child) {
		return fmt.Sprintf("<%s> has %d children vs %d", a.FullTag(), len(a.Child), len(b.Child))
	}
	for i := range a.Child {
		switch x := a.Child[i].(type) {
		case *etree.Element:
			y, ok := b.Child[i].(*etree.Element)
			if !ok {
				return fmt.Sprintf("<%s> child %d: element vs %T", a.FullTag(), i, b.Child[i])
			}
			if x.Parent() != a || x.Index() != i {
				return fmt.Sprintf("<%s> child %d: parent or index wrong", a.FullTag(), i)
			}
			if d := treeDiff(x, y); d != "" {
				return d
			}
		case *etree.CharData:
			y, ok := b.Child[i].(*etree.CharData)
			if !ok || x.Data != y.Data || x.IsCData() != y.IsCData() || x.IsWhitespace() != y.IsWhitespace() || x.Parent() != a {
				return fmt.Sprintf("<%s> child %d: text %q vs %#v", a.FullTag(), i, x.Data, b.Child[i])
			}
		default:
			return fmt.Sprintf("<%s> child %d: unexpected %T", a.FullTag(), i, x)
		}
	}
	return ""
}

// hostileShapes are input classes that once cost about a second at 64 KB: an element with
// thousands of attributes (the repeated-attribute check compared every pair) and thousands of
// namespace declarations inherited by elements declaring their own (the C14N copied the scope
// at each). Both are linear now; BenchmarkC14NHostile measures them.
func hostileShapes() map[string][]byte {
	var b strings.Builder
	b.WriteString("<r")
	for i := 0; b.Len() < 60000; i++ {
		fmt.Fprintf(&b, " a%d=''", i)
	}
	b.WriteString("/>")
	attrs := b.String()
	b.Reset()
	b.WriteString("<r")
	for i := 0; b.Len() < 40000; i++ {
		fmt.Fprintf(&b, " xmlns:p%d='u'", i)
	}
	b.WriteString(">")
	for range 1500 {
		b.WriteString("<e xmlns:q='v' q:a=''/>")
	}
	b.WriteString("</r>")
	return map[string][]byte{"attributes": []byte(attrs), "declarations": []byte(b.String())}
}

// hostileLimits read the hostile shapes, which DefaultLimits refuse (too many attributes on an
// element): canonicalisation must stay linear on whatever caps a node configures.
var hostileLimits = xmlsafe.Limits{MaxBytes: xmlsafe.DefaultLimits.MaxBytes, MaxDepth: xmlsafe.DefaultLimits.MaxDepth, MaxElements: xmlsafe.DefaultLimits.MaxElements}

func TestC14NHostileShapes(t *testing.T) {
	for name, data := range hostileShapes() {
		doc, err := xmlsafe.Parse(data, hostileLimits)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		checkC14N(t, name, doc.Root(), nil)
	}
}

func BenchmarkC14NHostile(b *testing.B) {
	for name, data := range hostileShapes() {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				doc, err := xmlsafe.Parse(data, hostileLimits)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := digestCanonical(crypto.SHA256, doc.Root(), nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

package xmlsafe

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"

	"github.com/beevik/etree"
)

// sameTree returns "" when a and b are the same etree tree (tokens, names, attribute values,
// white-space and CDATA flags, parent and index links), else where they first differ.
func sameTree(a, b *etree.Element, path string) string {
	if a.Space != b.Space || a.Tag != b.Tag {
		return fmt.Sprintf("%s: element %s vs %s", path, a.FullTag(), b.FullTag())
	}
	if len(a.Attr) != len(b.Attr) {
		return fmt.Sprintf("%s: %d vs %d attributes", path, len(a.Attr), len(b.Attr))
	}
	for i := range a.Attr {
		x, y := &a.Attr[i], &b.Attr[i]
		if x.Space != y.Space || x.Key != y.Key || x.Value != y.Value {
			return fmt.Sprintf("%s: attribute %d %s=%q vs %s=%q", path, i, x.FullKey(), x.Value, y.FullKey(), y.Value)
		}
		if x.Element() != a || y.Element() != b {
			return fmt.Sprintf("%s: attribute %s not linked to its element", path, x.FullKey())
		}
	}
	if len(a.Child) != len(b.Child) {
		return fmt.Sprintf("%s: %d vs %d children", path, len(a.Child), len(b.Child))
	}
	for i := range a.Child {
		p := fmt.Sprintf("%s/%d", path, i)
		ca, cb := a.Child[i], b.Child[i]
		if ca.Parent() != a || cb.Parent() != b || ca.Index() != i || cb.Index() != i {
			return p + ": parent or index link"
		}
		switch x := ca.(type) {
		case *etree.Element:
			y, ok := cb.(*etree.Element)
			if !ok {
				return fmt.Sprintf("%s: element vs %T", p, cb)
			}
			if d := sameTree(x, y, p+"<"+x.FullTag()+">"); d != "" {
				return d
			}
		case *etree.CharData:
			y, ok := cb.(*etree.CharData)
			if !ok || x.Data != y.Data || x.IsWhitespace() != y.IsWhitespace() || x.IsCData() != y.IsCData() {
				return fmt.Sprintf("%s: text %q vs %#v", p, x.Data, cb)
			}
		case *etree.Comment:
			y, ok := cb.(*etree.Comment)
			if !ok || x.Data != y.Data {
				return fmt.Sprintf("%s: comment %q vs %#v", p, x.Data, cb)
			}
		case *etree.ProcInst:
			y, ok := cb.(*etree.ProcInst)
			if !ok || x.Target != y.Target || x.Inst != y.Inst {
				return fmt.Sprintf("%s: processing instruction %q %q vs %#v", p, x.Target, x.Inst, cb)
			}
		default:
			return fmt.Sprintf("%s: unexpected %T", p, ca)
		}
	}
	return ""
}

// checkFastParse holds the fast path to its contract on data: when it accepts, the reference
// path accepts too and builds the same tree; when it refuses for a cap, the reference path
// refuses too, for the same cap unless for something else first.
func checkFastParse(t *testing.T, data []byte, lim Limits) (accepted bool) {
	t.Helper()
	fast, ok, ferr := fastParse(string(data), lim)
	if ferr != nil {
		var fe, re *Error
		_, rerr := parseReference(data, lim)
		switch {
		case !errors.As(ferr, &fe) || fe.Limit == "":
			t.Fatalf("the fast path refuses with %v, not a cap:\n%q", ferr, data)
		case rerr == nil:
			t.Fatalf("the fast path refuses (%v) what the reference accepts:\n%q", ferr, data)
		case errors.As(rerr, &re) && re.Limit != "" && re.Limit != fe.Limit: // the names in Reason may differ in malformed tags
			t.Fatalf("the fast path refuses with %v, the reference with %v:\n%q", ferr, rerr, data)
		}
		return false
	}
	if !ok {
		return false
	}
	ref, err := parseReference(data, lim)
	if err != nil {
		t.Fatalf("the fast path accepts what the reference refuses (%v):\n%q", err, data)
	}
	if d := sameTree(&fast.Element, &ref.Element, ""); d != "" {
		t.Fatalf("trees differ at %s:\n%q", d, data)
	}
	if fast.ReadSettings.PreserveDuplicateAttrs != ref.ReadSettings.PreserveDuplicateAttrs {
		t.Fatal("read settings differ")
	}
	return true
}

var fastParseCases = []struct {
	in     string
	accept bool // whether the fast path itself takes it (else the reference path does, or refuses)
}{
	{`<a/>`, true},
	{`<?xml version="1.0" encoding="UTF-8"?>` + "\n<a:r xmlns:a=\"urn:a\" a:x='1' y = \"2\"><b>t&lt;&gt;&amp;&apos;&quot;&#65;&#x42;&#x1F600;</b>\r\n<!-- c -- -->  </a:r>\n", false},
	{`<?xml version="1.0" encoding="UTF-8"?>` + "\n<a:r xmlns:a=\"urn:a\" a:x='1' y = \"2\"><b>t&lt;&gt;&amp;&apos;&quot;&#65;&#x42;&#x1F600;</b>\r\n<!-- c - -->  </a:r>\n", true},
	{"<r a=\"x\ty\r\nz\rw\n\" b='&#9;&#10;&#13;'>\r\r\n</r>", true},
	{"<r>&#xd800;</r>", false}, // a surrogate is no character: refused, as libxml2 does
	{"<r a='&#55296;'/>", false},
	{"<r><![CDATA[<x>&amp;\r\n]]>&gt;<![CDATA[]]></r>", true},
	{"<r>]]></r>", false},
	{"<r>]]&gt;</r>", true},
	{"<r a=']]>'/>", true},
	{"<r x=\"1\"y=\"2\"/>", false}, // no white space between attributes: libxml2 refuses it, encoding/xml did not
	{"<r/ >", false},
	{"<r a='<'/>", false},
	{"<r>&#0;</r>", false},
	{"<r>&#X41;</r>", false},
	{"<r>&#0000000065;</r>", false},
	{"<r>&nbsp;</r>", false},
	{"<r>\x01</r>", false},
	{"<r>\xff</r>", false},
	{"<r>\uFFFD \uFFFE</r>", false},
	{"<r>é ✓ 𝄞</r>", true},
	{"<é/>", false},
	{"<a:b:c/>", false},
	{"<a:/>", false},
	{"<:a/>", false},
	{"<r></s>", false},
	{"<r><s></r></s>", false},
	{"<a/><b/>", false},
	{"<a/>x", false},
	{"\uFEFF<a/>", false},
	{"\u00a0<a/>", false}, // NBSP is not XML white space (strings.TrimSpace took it for one)
	{"<a/>\n<!-- after -->\n<?pi after?>\n", true},
	{"<?xml version=\"1.1\"?><a/>", false},
	{"<?xml version='1.0' encoding='ISO-8859-1'?><a/>", true},
	{"<!DOCTYPE a><a/>", false},
	{"<a", false},
	{"<a>", false},
	{"", false},
	{"<r a='1' a='2'/>", false},
	{"<r xmlns:p='u' p:a='1' a='2'/>", true},
	{"<?p?><a/>", true},
	{"<? p?><a/>", false},
	{"<r><?p  x ?y?></r>", true},
}

func TestFastParse(t *testing.T) {
	for _, tc := range fastParseCases {
		t.Run("", func(t *testing.T) {
			got := checkFastParse(t, []byte(tc.in), DefaultLimits)
			if got != tc.accept {
				t.Errorf("fast path accepts %q: %v, want %v", tc.in, got, tc.accept)
			}
			// Whatever path reads it, Parse's verdict is the reference's, then checkWellFormed's.
			_, err := Parse([]byte(tc.in), DefaultLimits)
			doc, rerr := parseReference([]byte(tc.in), DefaultLimits)
			if rerr == nil {
				rerr = checkWellFormed(doc)
			}
			if (err == nil) != (rerr == nil) || (err != nil && err.Error() != rerr.Error()) {
				t.Errorf("Parse(%q) = %v, reference %v", tc.in, err, rerr)
			}
		})
	}
}

// TestLimits holds both readers to each cap: a document exactly at the cap is read, one over it
// refused by both with the cap named, whichever reader would otherwise read it.
func TestLimits(t *testing.T) {
	deep := strings.Repeat("<a>", 20) + strings.Repeat("</a>", 20)
	many := "<r>" + strings.Repeat("<e/>", 9) + "</r>"
	attrs := func(n int) string {
		var b strings.Builder
		b.WriteString("<r><e")
		for i := range n {
			fmt.Fprintf(&b, " a%02d=''", i)
		}
		b.WriteString("/><e x='1'/></r>")
		return b.String()
	}
	// names: r, p:e, xmlns:p, a, the namespace name "urn:&lt;" read as urn:< (5 bytes) and e;
	// a non-ASCII name (é, 2 bytes) sends the document to the reference path.
	names := "<r><p:e xmlns:p='urn:&lt;' a='1'/><e/></r>"
	tests := []struct {
		name, in string
		limit    string
		at       Limits // exactly the document's use of the cap
		over     Limits // one less
		reason   string
	}{
		{"depth", deep, "MaxDepth", Limits{MaxDepth: 20}, Limits{MaxDepth: 19}, "elements nested deeper than 19 (at <a>)"},
		{"elements", many, "MaxElements", Limits{MaxElements: 10}, Limits{MaxElements: 9}, "more than 9 elements"},
		{"attributes on an element", attrs(70), "MaxAttrsPerElement", Limits{MaxAttrsPerElement: 70}, Limits{MaxAttrsPerElement: 69}, "more than 69 attributes on <e>"},
		{"attributes on an element (fast)", attrs(5), "MaxAttrsPerElement", Limits{MaxAttrsPerElement: 5}, Limits{MaxAttrsPerElement: 4}, "more than 4 attributes on <e>"},
		{"attributes", attrs(70), "MaxAttrs", Limits{MaxAttrs: 71}, Limits{MaxAttrs: 70}, "more than 70 attributes"},
		{"attributes (fast)", attrs(5), "MaxAttrs", Limits{MaxAttrs: 6}, Limits{MaxAttrs: 5}, "more than 5 attributes"},
		{"names", names, "MaxNameBytes", Limits{MaxNameBytes: 1 + 3 + 7 + 5 + 1 + 1}, Limits{MaxNameBytes: 17}, "more than 17 bytes of element, attribute and namespace names"},
		{"names (reference)", strings.Replace(names, "<e/>", "<é/>", 1), "MaxNameBytes", Limits{MaxNameBytes: 19}, Limits{MaxNameBytes: 18}, "more than 18 bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Parse([]byte(tc.in), tc.at); err != nil {
				t.Fatalf("at the cap: %v", err)
			}
			checkFastParse(t, []byte(tc.in), tc.at)
			for _, read := range []struct {
				name  string
				parse func([]byte, Limits) (*etree.Document, error)
			}{{"Parse", Parse}, {"reference", parseReference}} {
				_, err := read.parse([]byte(tc.in), tc.over)
				var xe *Error
				if !errors.As(err, &xe) || xe.Limit != tc.limit || !strings.Contains(xe.Reason, tc.reason) {
					t.Errorf("%s over the cap: %v, want %s: %s", read.name, err, tc.limit, tc.reason)
				}
			}
			checkFastParse(t, []byte(tc.in), tc.over)
		})
	}
	etreeDeep := strings.Repeat("<a>", etreeMaxDepth+1) + strings.Repeat("</a>", etreeMaxDepth+1)
	if _, ok, _ := fastParse(etreeDeep, Limits{}); ok {
		t.Error("deeper than etree's own cap accepted")
	}
}

// The testdata envelopes all take the fast path.
func TestFastParseTestdata(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "envelope", "*.xml"))
	if len(files) == 0 {
		t.Fatal("no testdata envelopes")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := parseReference(b, DefaultLimits); err != nil {
			continue
		}
		if !checkFastParse(t, b, DefaultLimits) {
			t.Errorf("%s: the fast path declines a well-formed envelope", f)
		}
	}
}

// FuzzFastParse checks the fast path against the reference: whatever it accepts, encoding/xml
// under etree accepts too, with the same tree.
func FuzzFastParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "envelope", "*.xml"))
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	for _, tc := range fastParseCases {
		f.Add([]byte(tc.in))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkFastParse(t, data, Limits{MaxBytes: 1 << 16, MaxDepth: 64, MaxElements: 5000})
	})
}

// BenchmarkParsePaths compares the fast path with the reference path on the same input.
func BenchmarkParsePaths(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "envelope", "sync-request.xml"))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("fast", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			if _, ok, _ := fastParse(string(data), DefaultLimits); !ok {
				b.Fatal("declined")
			}
		}
	})
	b.Run("reference", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := parseReference(data, DefaultLimits); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestFastParseGenerated builds documents from fragments that exercise every branch of the
// fast path (names, prefixes, references, CR, CDATA, comments, instructions, odd characters),
// well-formed or nearly so, and holds the fast path to its contract on each.
func TestFastParseGenerated(t *testing.T) {
	texts := []string{"", "a", " ", "\r\n", "\r", "\t", "&amp;", "&lt;&gt;", "&#x9;", "&#13;", "&#xD800;", "&#0;", "&#1114111;", "&#1114112;",
		"]]>", "]]&gt;", "é", "\uFFFD", "\uFFFE", "\x7f", "\x00", "\xc3", "&nbsp;", "&#x;", "&#65", ">", "'\"", "\u2028"}
	names := []string{"a", "p:a", "q:b", "_x", "a.b-c", "a:b:c", ":a", "a:", "1a", "é", "xmlns:p", "xml:lang"}
	rnd := uint64(1)
	next := func(n int) int {
		rnd ^= rnd << 13
		rnd ^= rnd >> 7
		rnd ^= rnd << 17
		return int(rnd % uint64(n))
	}
	pick := func(l []string) string { return l[next(len(l))] }
	var el func(b *strings.Builder, depth int)
	el = func(b *strings.Builder, depth int) {
		name := pick(names[:6])
		if next(20) == 0 {
			name = pick(names)
		}
		b.WriteString("<" + name)
		if next(2) == 0 {
			b.WriteString(` xmlns:p="urn:p" xmlns:q='urn:q'`)
		}
		for i := next(3); i > 0; i-- {
			q := `"`
			if next(2) == 0 {
				q = "'"
			}
			b.WriteString(pick([]string{" ", "\n", "\t", "", "  "}) + pick(names) + pick([]string{"=", " = ", "\r\n=\t"}) + q + pick(texts) + pick(texts) + q)
		}
		if depth > 3 || next(4) == 0 {
			b.WriteString(pick([]string{"/>", " />", "/ >"}))
			return
		}
		b.WriteString(">")
		for i := next(4); i > 0; i-- {
			switch next(6) {
			case 0:
				el(b, depth+1)
			case 1:
				b.WriteString("<![CDATA[" + pick(texts) + "<&" + pick(texts) + "]]>")
			case 2:
				b.WriteString("<!--" + pick(texts) + pick([]string{"", "-", "--"}) + "-->")
			case 3:
				b.WriteString("<?" + pick([]string{"pi", "xml", "p:i"}) + pick([]string{"", " ", " data ?", "?"}) + "?>")
			default:
				b.WriteString(pick(texts) + pick(texts))
			}
		}
		b.WriteString("</" + name + pick([]string{"", " ", "\n"}) + ">")
	}
	accepted := 0
	const n = 20000
	for i := 0; i < n; i++ {
		var b strings.Builder
		if next(3) == 0 {
			b.WriteString(pick([]string{`<?xml version="1.0"?>`, `<?xml version='1.1'?>`, "<!-- c -->", "\n", " \u00a0"}))
		}
		el(&b, 0)
		if next(4) == 0 {
			b.WriteString(pick([]string{"\n", "<!--x-->", "<?p?>", "x", "<b/>"}))
		}
		if checkFastParse(t, []byte(b.String()), DefaultLimits) {
			accepted++
		}
	}
	if accepted < n/10 {
		t.Errorf("the fast path took only %d of %d generated documents", accepted, n)
	}
	t.Logf("fast path took %d of %d generated documents", accepted, n)
}

// TestParseOwnedSharesData: ParseOwned builds the tree Parse builds, and its text is data
// itself, not a copy (a 10 MB message costs the gateway 10 MB, not 20); Parse copies.
func TestParseOwnedSharesData(t *testing.T) {
	data := []byte(`<a xmlns="urn:x"><b k="v">` + strings.Repeat("text ", 1000) + `</b></a>`)
	inside := func(s string) bool {
		p, start := uintptr(unsafe.Pointer(unsafe.StringData(s))), uintptr(unsafe.Pointer(&data[0]))
		return p >= start && p < start+uintptr(len(data))
	}
	want, err := Parse(data, DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseOwned(data, DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	if d := sameTree(&got.Element, &want.Element, ""); d != "" {
		t.Fatalf("ParseOwned's tree differs from Parse's: %s", d)
	}
	if !inside(got.FindElement("//b").Text()) {
		t.Error("ParseOwned: the text of <b> is a copy, not a substring of data")
	}
	if inside(want.FindElement("//b").Text()) {
		t.Error("Parse: the text of <b> shares data, it must be a copy")
	}
}

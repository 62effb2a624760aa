package xmlsafe

import (
	"bytes"
	"strings"
	"testing"

	"github.com/beevik/etree"
)

// parseDirect is Parse's document without lifting text: what readDocument must equal.
func parseDirect(data []byte) (*etree.Document, error) {
	doc := etree.NewDocument()
	doc.ReadSettings = etree.ReadSettings{PreserveDuplicateAttrs: true}
	return doc, doc.ReadFromBytes(normalized(data))
}

// checkLift compares readDocument, with every text run lifted (liftMin 1), with the decoder's
// own reading of data: the same tree, or the same error.
func checkLift(t *testing.T, data []byte) {
	t.Helper()
	defer func(n int) { liftMin = n }(liftMin)
	liftMin = 1
	want, wantErr := parseDirect(data)
	got, err := readDocument(normalized(data))
	if (err != nil) != (wantErr != nil) || err != nil && err.Error() != wantErr.Error() {
		t.Fatalf("error %v, want %v\n%q", err, wantErr, data)
	}
	if err != nil {
		return
	}
	checkWriteXML(t, want)
	if len(got.Child) != len(want.Child) {
		t.Fatalf("%d top-level tokens, want %d\n%q", len(got.Child), len(want.Child), data)
	}
	for i := range want.Child {
		w, ok := want.Child[i].(*etree.Element)
		if !ok {
			continue
		}
		if d := treeDiffAll(got.Child[i].(*etree.Element), w); d != "" {
			t.Fatalf("lifted parse differs: %s\n%q", d, data)
		}
	}
}

// treeDiffAll is treeDiff over any tokens: comments, processing instructions and directives
// compared by content.
func treeDiffAll(a, b *etree.Element) string {
	ca, cb := a.Copy(), b.Copy()
	var sa, sb strings.Builder
	da, db := etree.NewDocument(), etree.NewDocument()
	da.SetRoot(ca)
	db.SetRoot(cb)
	da.WriteTo(&sa)
	db.WriteTo(&sb)
	if sa.String() != sb.String() {
		return "serialised:\n" + sa.String() + "\n" + sb.String()
	}
	return treeDiffText(a, b)
}

// treeDiffText compares the text tokens of two trees with their flags.
func treeDiffText(a, b *etree.Element) string {
	if len(a.Child) != len(b.Child) {
		return "children of <" + a.FullTag() + ">"
	}
	for i := range a.Child {
		switch x := a.Child[i].(type) {
		case *etree.Element:
			if d := treeDiffText(x, b.Child[i].(*etree.Element)); d != "" {
				return d
			}
		case *etree.CharData:
			y, ok := b.Child[i].(*etree.CharData)
			if !ok || x.Data != y.Data || x.IsCData() != y.IsCData() || x.IsWhitespace() != y.IsWhitespace() {
				return "text in <" + a.FullTag() + ">"
			}
		}
	}
	return ""
}

func TestLiftTextMatchesDecoder(t *testing.T) {
	big := strings.Repeat("QUJDREVGR0g=", 3000)
	for _, in := range []string{
		"<r>" + big + "</r>",
		"<r>\n" + big + "\n<a x='>" + big + "'>text</a> <!-- " + big + " -->" + big + "<![CDATA[" + big + "]]><?p " + big + "?>tail</r>",
		"<r>a&amp;b</r>", "<r>a\rb</r>", "<r>a]]>b</r>", "<r>a\x01b</r>", "<r>a\xffb</r>", "<r>\uFFFE</r>",
		"<r>é€𝄞</r>", " <r/> ", "x<r/>", "<r>" + liftMarker + "0" + liftMarker + "</r>", "<r>t</s>", "<r a='1>2'>t</r>",
		"<r><![CDATA[x]]>y</r>", "<r>   </r>", "<r>a<b>c</b>d</r>",
	} {
		checkLift(t, []byte(in))
	}
}

func FuzzLiftText(f *testing.F) {
	for _, s := range []string{"<r>a<b x='>'>c</b><!--d-->e<![CDATA[f]]><?g h?>i</r>", "<r>a&amp;b\r\n</r>", "<r>a]]>b</r>", "x<r/>y"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 4096 {
			return
		}
		checkLift(t, data)
	})
}

// checkWriteXML compares Write, with every text long enough to be copied whole (liftMin 1),
// with etree's own serialisation, in the default and the canonical write settings, and checks
// that doc comes back unchanged.
func checkWriteXML(t *testing.T, doc *etree.Document) {
	t.Helper()
	defer func(n int) { liftMin = n }(liftMin)
	liftMin = 1
	for _, ws := range []etree.WriteSettings{{}, {CanonicalText: true, CanonicalAttrVal: true}} {
		doc.WriteSettings = ws
		want, err := doc.WriteToBytes()
		if err != nil {
			t.Fatal(err)
		}
		got, err := Write(doc, 0)
		if err != nil || string(got) != string(want) {
			t.Fatalf("Write (%v):\n got %q\nwant %q", err, got, want)
		}
		s, err := Serialize(doc)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if n, err := s.WriteTo(&b); err != nil || int(n) != len(want) || s.Len() != len(want) || b.String() != string(want) {
			t.Fatalf("Serialize: Len %d, WriteTo wrote %d (%v):\n got %q\nwant %q", s.Len(), n, err, b.Bytes(), want)
		}
		if again, _ := doc.WriteToBytes(); string(again) != string(want) {
			t.Fatalf("Write changed the document:\n%q\n%q", again, want)
		}
	}
	doc.WriteSettings = etree.WriteSettings{}
}

func TestWriteMatchesEtree(t *testing.T) {
	doc := etree.NewDocument()
	r := doc.CreateElement("r")
	r.CreateText(strings.Repeat("plain text ", 3000))
	r.CreateElement("a").CreateText("x<y & 'z' \"q\"\r")
	r.CreateText("\xff bad utf-8")
	r.CreateCData("cdata ]]> text")
	r.CreateComment("c")
	r.CreateText(liftMarker + "0" + liftMarker)
	checkWriteXML(t, doc)
	r.RemoveChildAt(len(r.Child) - 1)
	checkWriteXML(t, doc)

	// What the writer of write.go writes itself (names, attribute values, every kind of text)
	// and what it leaves to etree (processing instructions, directives, comments to sanitise).
	doc = etree.NewDocument()
	doc.CreateProcInst("xml", `version="1.0"`)
	doc.CreateDirective("x")
	r = doc.CreateElement("p:r")
	r.CreateAttr("xmlns:p", "urn:p")
	r.CreateAttr("p:a", "v<&>'\"\t\n\r\x01\x7f")
	r.CreateAttr("b", "\uFFFD \uFFFE \xed\xa0\x80 \U0001F600 \xc3")
	for _, text := range []string{"", "a", "\x00\x08\x0b\x1f", "\ud7ff\ue000\ufffd\uffff\U0010FFFF", "\xf4\x90\x80\x80", "tail \xe2\x82"} {
		r.CreateElement("p:e").CreateText(text)
	}
	r.CreateComment("a--b-")
	r.CreateElement("empty")
	r.CreateProcInst("pi", "inst")
	checkWriteXML(t, doc)
}

// TestAppendElement: an element written with the namespace declarations in scope added, as a
// copy of it holding them is written as a document of its own.
func TestAppendElement(t *testing.T) {
	doc, err := Parse([]byte(`<a:r xmlns:a="urn:a" xmlns="urn:d"><b xmlns:c="urn:c" c:x="1&amp;2">t<c:i/>&lt;</b></a:r>`), DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	el := doc.Root().ChildElements()[0]
	extra := []etree.Attr{{Space: "xmlns", Key: "a", Value: "urn:a"}, {Key: "xmlns", Value: "urn:d"}}
	cp := el.Copy()
	cp.Attr = append(cp.Attr, extra...)
	d := etree.NewDocument()
	d.SetRoot(cp)
	want, err := d.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	if got := AppendElement([]byte("x"), el, extra); string(got) != "x"+string(want) {
		t.Fatalf("got %q\nwant x%q", got, want)
	}
}

func normalized(data []byte) []byte {
	out, _ := normalizeAttrSpace(data)
	return out
}

func TestCharData(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`<r/>`, ""},
		{`<r>one</r>`, "one"},
		{`<r>a<!--c-->b<x>not</x><![CDATA[c]]></r>`, "abc"},
		{`<r><x>not</x></r>`, ""},
	} {
		doc, err := Parse([]byte(tc.in), DefaultLimits)
		if err != nil {
			t.Fatal(err)
		}
		if got := CharData(doc.Root()); got != tc.want {
			t.Errorf("CharData(%s) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

package xmlsafe

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/beevik/etree"
)

// usage is a document's use of each cap of Limits, measured on the tree Parse built without
// them: the independent count the readers' tallies must agree with.
func usage(doc *etree.Document) Limits {
	var u Limits
	type frame struct {
		el    *etree.Element
		depth int
	}
	stack := []frame{{doc.Root(), 1}}
	for len(stack) > 0 {
		f := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		u.MaxElements++
		u.MaxDepth = max(u.MaxDepth, f.depth)
		u.MaxAttrsPerElement = max(u.MaxAttrsPerElement, len(f.el.Attr))
		u.MaxAttrs += len(f.el.Attr)
		u.MaxNameBytes += len(f.el.FullTag())
		for _, a := range f.el.Attr {
			u.MaxNameBytes += len(a.FullKey())
			if a.Space == "xmlns" || a.Space == "" && a.Key == "xmlns" {
				u.MaxNameBytes += len(a.Value)
			}
		}
		for _, c := range f.el.ChildElements() {
			stack = append(stack, frame{c, f.depth + 1})
		}
	}
	return u
}

// overCaps returns the fields of lim that u passes.
func overCaps(u, lim Limits) []string {
	var over []string
	for _, c := range []struct {
		name     string
		use, cap int
	}{
		{"MaxDepth", u.MaxDepth, lim.MaxDepth}, {"MaxElements", u.MaxElements, lim.MaxElements},
		{"MaxAttrsPerElement", u.MaxAttrsPerElement, lim.MaxAttrsPerElement}, {"MaxAttrs", u.MaxAttrs, lim.MaxAttrs},
		{"MaxNameBytes", u.MaxNameBytes, lim.MaxNameBytes},
	} {
		if c.cap > 0 && c.use > c.cap {
			over = append(over, c.name)
		}
	}
	return over
}

const fuzzMaxBytes = 1 << 16

// checkLimits holds Parse to its caps on data under lim: a document within them is read as
// without them, one past any is refused naming a cap it passes, and nothing refused without caps
// is read with them.
func checkLimits(t *testing.T, data []byte, lim Limits) {
	t.Helper()
	lim.MaxBytes = fuzzMaxBytes
	free, ferr := Parse(data, Limits{MaxBytes: fuzzMaxBytes})
	got, err := Parse(data, lim)
	checkFastParse(t, data, lim)
	if ferr != nil {
		if err == nil {
			t.Fatalf("read under %+v, refused without caps (%v):\n%q", lim, ferr, data)
		}
		return
	}
	over := overCaps(usage(free), lim)
	if len(over) == 0 {
		if err != nil {
			t.Fatalf("refused (%v) under %+v though within them (use %+v):\n%q", err, lim, usage(free), data)
		}
		if d := sameTree(&got.Element, &free.Element, ""); d != "" {
			t.Fatalf("the tree read under %+v differs from the one read without caps at %s:\n%q", lim, d, data)
		}
		return
	}
	var xe *Error
	if !errors.As(err, &xe) || !slices.Contains(over, xe.Limit) {
		t.Fatalf("Parse under %+v = %v, want a refusal naming one of %v (use %+v):\n%q", lim, err, over, usage(free), data)
	}
}

// FuzzLimits holds Parse to its caps (checkLimits) over random documents and random caps (0: no
// cap). The seeds are the documents of the other targets, under caps at and one below their use.
func FuzzLimits(f *testing.F) {
	seeds := []string{
		"<r><p:e xmlns:p='urn:&lt;' a='1'/><é/></r>",
		"<r xmlns='urn:r&#x1F600;\r\n' b=\"x\"><e a='1' b='2' c='3'/><e d='4'><f/></e></r>",
	}
	for _, tc := range fastParseCases {
		seeds = append(seeds, tc.in)
	}
	files, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "envelope", "*.xml"))
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			seeds = append(seeds, string(b))
		}
	}
	for _, in := range seeds {
		f.Add([]byte(in), uint16(0), uint16(0), uint16(0), uint16(0), uint16(0))
		doc, err := Parse([]byte(in), Limits{})
		if err != nil {
			continue
		}
		u := usage(doc)
		for _, d := range []int{0, 1} {
			f.Add([]byte(in), uint16(u.MaxDepth-d), uint16(u.MaxElements-d), uint16(u.MaxAttrsPerElement-d), uint16(u.MaxAttrs-d), uint16(u.MaxNameBytes-d))
			f.Add([]byte(in), uint16(0), uint16(0), uint16(u.MaxAttrsPerElement-d), uint16(0), uint16(0))
			f.Add([]byte(in), uint16(0), uint16(0), uint16(0), uint16(u.MaxAttrs-d), uint16(0))
			f.Add([]byte(in), uint16(0), uint16(0), uint16(0), uint16(0), uint16(u.MaxNameBytes-d))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, depth, elements, perElement, attrs, names uint16) {
		checkLimits(t, data, Limits{MaxDepth: int(depth), MaxElements: int(elements),
			MaxAttrsPerElement: int(perElement), MaxAttrs: int(attrs), MaxNameBytes: int(names)})
	})
}

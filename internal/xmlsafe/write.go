package xmlsafe

import (
	"sync"
	"unicode/utf8"

	"github.com/beevik/etree"
)

// The writer of Write and Serialize: etree's serialisation in its default settings, byte for byte,
// appended to one buffer. etree writes through a bufio.Writer of 4 KB into a bytes.Buffer grown by
// doubling, allocates every prefixed name twice (Element.FullTag for the start and end tags,
// Attr.FullKey) and escapes text rune by rune; a signed busta of 5 KB cost about 150 allocations
// and most of a serialisation's time there. Elements, attributes and text are written here;
// the rare tokens (CDATA sections, comments, processing instructions, directives) by etree
// itself into the same buffer. Documents with other write settings are written by etree whole.

// defaultSettings reports whether doc is written in etree's default settings, the only ones
// appendDoc writes.
func defaultSettings(doc *etree.Document) bool {
	return doc.WriteSettings == etree.WriteSettings{}
}

// writer appends a serialisation to buf. With lift set, texts of liftMin bytes or more that are
// written unchanged (plainOut) are not copied: their places in buf are recorded in at, their
// strings in texts (a Serialization).
type writer struct {
	buf   []byte
	lift  bool
	texts []string
	at    []int
}

// Write, WriteString and WriteByte let etree write its rare tokens into buf (etree.Writer).
func (w *writer) Write(p []byte) (int, error)       { w.buf = append(w.buf, p...); return len(p), nil }
func (w *writer) WriteString(s string) (int, error) { w.buf = append(w.buf, s...); return len(s), nil }
func (w *writer) WriteByte(c byte) error            { w.buf = append(w.buf, c); return nil }

var defaultWriteSettings etree.WriteSettings

// tokens writes toks as etree's Element.WriteTo writes an element's children.
func (w *writer) tokens(toks []etree.Token) {
	for _, tok := range toks {
		switch t := tok.(type) {
		case *etree.Element:
			w.element(t, nil)
		case *etree.CharData:
			switch {
			case t.IsCData():
				t.WriteTo(w, &defaultWriteSettings)
			case w.lift && len(t.Data) >= liftMin && plainOut(t.Data):
				w.at = append(w.at, len(w.buf))
				w.texts = append(w.texts, t.Data)
			default:
				w.buf = appendEscaped(w.buf, t.Data)
			}
		default:
			tok.WriteTo(w, &defaultWriteSettings)
		}
	}
}

// element writes el as etree's Element.WriteTo does, with the attributes extra after its own.
func (w *writer) element(el *etree.Element, extra []etree.Attr) {
	b := append(w.buf, '<')
	b = appendName(b, el.Space, el.Tag)
	for _, attrs := range [2][]etree.Attr{el.Attr, extra} {
		for i := range attrs {
			a := &attrs[i]
			b = append(b, ' ')
			b = appendName(b, a.Space, a.Key)
			b = append(b, '=', '"')
			b = appendEscaped(b, a.Value)
			b = append(b, '"')
		}
	}
	if len(el.Child) == 0 {
		w.buf = append(b, '/', '>')
		return
	}
	w.buf = append(b, '>')
	w.tokens(el.Child)
	b = append(w.buf, '<', '/')
	b = appendName(b, el.Space, el.Tag)
	w.buf = append(b, '>')
}

// appendName appends a prefixed name (etree's FullTag and FullKey, without their allocation).
func appendName(b []byte, space, local string) []byte {
	if space != "" {
		b = append(b, space...)
		b = append(b, ':')
	}
	return append(b, local...)
}

// escapes is what etree's escapeString writes, in its normal mode, for each ASCII byte it does
// not write as it is: the five entities, and U+FFFD for the control characters XML does not
// allow.
var escapes = func() (t [utf8.RuneSelf]string) {
	for c := range 0x20 {
		t[c] = "\uFFFD"
	}
	t['\t'], t['\n'], t['\r'] = "", "", ""
	t['&'], t['<'], t['>'], t['\''], t['"'] = "&amp;", "&lt;", "&gt;", "&apos;", "&quot;"
	return t
}()

// appendEscaped appends s as etree's escapeString writes it in its normal mode (text and
// attribute values in the default settings): the five entities escaped, every byte of invalid
// UTF-8 and every character outside XML's Char range written as U+FFFD, runs of anything else
// copied whole.
func appendEscaped(b []byte, s string) []byte {
	last := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if esc := escapes[c]; esc != "" {
				b = append(b, s[last:i]...)
				b = append(b, esc...)
				last = i + 1
			}
			i++
			continue
		}
		r, width := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && width == 1) || !charRange(r) {
			b = append(b, s[last:i]...)
			b = append(b, "\uFFFD"...)
			last = i + width
		}
		i += width
	}
	return append(b, s[last:]...)
}

// charRange reports whether a character above ASCII is a Char of XML 1.0 (etree's
// isInCharacterRange).
func charRange(r rune) bool {
	return r <= 0xD7FF || r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF
}

// AppendElement appends el serialised as the root of a document of its own, as etree writes
// such a document in its default settings, with the namespace declarations extra written after
// el's own attributes: what writing a copy of el holding extra would write, without the copy.
func AppendElement(b []byte, el *etree.Element, extra []etree.Attr) []byte {
	w := writer{buf: b}
	w.element(el, extra)
	return w.buf
}

// UseElement calls use with el serialised as AppendElement serialises it (extra declared on it),
// in a buffer that is reused once use returns: use must not keep it. hint is the expected size:
// a larger one than the pool keeps gets a buffer of its own at once rather than one grown to it.
func UseElement(el *etree.Element, extra []etree.Attr, hint int, use func([]byte) error) error {
	if hint > scratchMax {
		return use(AppendElement(make([]byte, 0, hint), el, extra))
	}
	p := getScratch()
	b := AppendElement(*p, el, extra)
	err := use(b)
	putScratch(p, b)
	return err
}

// scratch holds the buffers small documents are serialised into before being copied out at
// their length; one larger than scratchMax is let go rather than kept.
var scratch = sync.Pool{New: func() any { b := make([]byte, 0, 8<<10); return &b }}

const scratchMax = 64 << 10

func getScratch() *[]byte { return scratch.Get().(*[]byte) }

func putScratch(p *[]byte, b []byte) {
	if cap(b) <= scratchMax {
		*p = b[:0]
		scratch.Put(p)
	}
}

// CharData is the character data of el's own text tokens (CDATA sections included), joined in
// order; child elements and their text are left out. A single token's text is returned as it
// is, without a copy.
func CharData(el *etree.Element) string {
	var one string
	var b []byte
	n := 0
	for _, t := range el.Child {
		cd, ok := t.(*etree.CharData)
		if !ok {
			continue
		}
		switch n++; n {
		case 1:
			one = cd.Data
			continue
		case 2:
			b = append(b, one...)
		}
		b = append(b, cd.Data...)
	}
	if n <= 1 {
		return one
	}
	return string(b)
}

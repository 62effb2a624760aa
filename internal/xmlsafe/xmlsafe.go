package xmlsafe

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"

	"github.com/beevik/etree"
)

// Limits caps what Parse accepts, so that a hostile message cannot exhaust memory or time. A
// zero field sets no cap. Both readers count as they read and refuse at the first cap passed,
// before the rest of the document is read or any more of the tree is built, so that a refusal
// costs what was read up to that point (limits.go).
type Limits struct {
	MaxBytes    int // whole document, in bytes
	MaxDepth    int // element nesting
	MaxElements int // elements in the whole document

	// Attributes as written, namespace declarations (xmlns, xmlns:p) included: on one element,
	// and in the whole document. Each costs a token of the decoder and an etree.Attr, ten times
	// or more its bytes in the input.
	MaxAttrsPerElement int
	MaxAttrs           int

	// Bytes of names in the whole document: each element's and attribute's qualified name as
	// written in its start tag, and the namespace name (URI) of each declaration, as read.
	MaxNameBytes int
}

// DefaultLimits fit the largest legitimate message of the labour network (a 10 MB payload with
// tens of thousands of elements) with room to spare. A signed busta has about 40 attributes, at
// most 5 on an element, and 2 KB of names; the payloads of the labour network carry their data
// in elements, not attributes. 4 MiB of names is 100,000 elements and attributes of 40 bytes.
var DefaultLimits = Limits{
	MaxBytes: 64 << 20, MaxDepth: 128, MaxElements: 2_000_000,
	MaxAttrsPerElement: 256, MaxAttrs: 65_536, MaxNameBytes: 4 << 20,
}

// Error reports input that is not acceptable XML: not well-formed, carrying a DOCTYPE or an
// entity declaration, or over a limit. It maps to EGOV_IT_001 in the gateway.
type Error struct {
	Reason string
	Line   int    // 1-based line of the problem, or 0 when not known
	Limit  string // the field of Limits the document is over (e.g. "MaxAttrs"), or ""
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("xml: line %d: %s", e.Line, e.Reason)
	}
	return "xml: " + e.Reason
}

// Parse parses data into an etree document after the checks every untrusted input needs: a size
// cap, no DOCTYPE or other directive (so no entity declarations, internal or external, and no
// entity expansion), UTF-8 only, exactly one root element and nothing but white space, comments
// and processing instructions beside it, attribute values normalised as XML 1.0 requires, the caps
// of lim (depth, elements, attributes on an element and in all, bytes of names; a refusal for one
// is an *Error whose Limit names it, given as soon as a reader passes it), and the rules of XML
// 1.0 and Namespaces in XML that encoding/xml leaves out (checkWellFormed: declared prefixes,
// QNames, no two attributes with one expanded name, ...). What it accepts libxml2 reads too, as
// FuzzParse checks. Well-formed input takes a fast reader of our own (xmlfast.go) that builds the
// same tree as encoding/xml; anything else is read by encoding/xml, which gives the error.
func Parse(data []byte, lim Limits) (*etree.Document, error) {
	return parse(data, lim, false)
}

// ParseOwned is Parse for a caller that hands data over: the tree's names and text may be
// substrings of data itself rather than of a copy, so data must never be modified afterwards
// (nor reused for another read). A gateway reads a message into a buffer of its own and keeps it
// as long as its tree: with ParseOwned a 10 MB message costs 10 MB, not 20.
func ParseOwned(data []byte, lim Limits) (*etree.Document, error) {
	return parse(data, lim, true)
}

func parse(data []byte, lim Limits, owned bool) (*etree.Document, error) {
	if lim.MaxBytes > 0 && len(data) > lim.MaxBytes {
		return nil, &Error{Reason: fmt.Sprintf("document is %d bytes, over the limit of %d", len(data), lim.MaxBytes), Limit: "MaxBytes"}
	}
	s := ""
	if owned && len(data) > 0 {
		s = unsafe.String(&data[0], len(data)) // data is the caller's no more: see ParseOwned
	} else {
		s = string(data)
	}
	doc, ok, err := fastParse(s, lim)
	if err != nil {
		return nil, err
	}
	if !ok {
		if doc, err = parseReference(data, lim); err != nil {
			return nil, err
		}
	}
	if err := checkWellFormed(doc); err != nil {
		return nil, err
	}
	return doc, nil
}

// parseReference is Parse over encoding/xml: the path that gives every error, and the
// reference the fast path (xmlfast.go) must agree with.
func parseReference(data []byte, lim Limits) (*etree.Document, error) {
	if bytes.Contains(data, []byte("<!")) || bytes.Contains(data, []byte("&#")) || bytes.Contains(data, []byte("<?")) {
		// Only comments and CDATA sections may start with "<!"; anything else (DOCTYPE, ENTITY,
		// ELEMENT, ATTLIST) is a DTD construct we refuse before the decoder sees it. Where
		// encoding/xml is laxer than XML (and libxml2), the scan refuses too: a character
		// reference to a surrogate (read as U+FFFD), a processing instruction's target glued to
		// its content. The scan is exact because it skips comments, CDATA sections and
		// processing instructions whole.
		if err := scanMarkup(data); err != nil {
			return nil, err
		}
	}
	if err := scanLimits(data, lim); err != nil {
		return nil, err
	}
	// encoding/xml keeps a literal tab or newline inside an attribute value, where XML 1.0
	// (§3.3.3) and every other stack turn it into a space; normalise first, so that what we
	// canonicalise and verify is what the signer saw.
	data, glued := normalizeAttrSpace(data)
	if glued {
		return nil, &Error{Reason: "not well-formed: attributes must be separated by white space"}
	}
	doc, err := readDocument(data)
	if err != nil {
		return nil, &Error{Reason: "not well-formed: " + strings.TrimPrefix(err.Error(), "XML syntax error on ")}
	}
	roots := 0
	for _, tok := range doc.Child {
		switch t := tok.(type) {
		case *etree.Element:
			roots++
		case *etree.CharData:
			if !isXMLSpace(t.Data) { // CDATA here: scanMarkup refused it
				return nil, &Error{Reason: "not well-formed: text outside the root element"}
			}
		} // directives never get here: scanMarkup refuses every "<!" but comments and CDATA
	}
	if roots != 1 {
		return nil, &Error{Reason: fmt.Sprintf("not well-formed: %d root elements, want 1", roots)}
	}
	if err := checkTree(doc.Root(), lim); err != nil {
		return nil, err
	}
	return doc, nil
}

// scanMarkup refuses any "<!" construct other than a comment or a CDATA section, and character
// references to surrogates, outside comments and CDATA sections.
func scanMarkup(data []byte) error {
	line, depth := 1, 0 // depth: open elements, to find CDATA outside the root element
	for i := 0; i < len(data); i++ {
		switch data[i] {
		case '\n':
			line++
			continue
		case '<', '&':
		default:
			continue
		}
		rest := data[i:]
		switch {
		case bytes.HasPrefix(rest, []byte("<!--")):
			end := bytes.Index(rest[4:], []byte("-->"))
			if end < 0 {
				return &Error{Reason: "not well-formed: unterminated comment", Line: line}
			}
			line += bytes.Count(rest[:4+end+3], []byte("\n"))
			i += 4 + end + 2
		case bytes.HasPrefix(rest, []byte("<![CDATA[")):
			end := bytes.Index(rest[9:], []byte("]]>"))
			if end < 0 {
				return &Error{Reason: "not well-formed: unterminated CDATA section", Line: line}
			}
			if depth == 0 {
				return &Error{Reason: "not well-formed: CDATA section outside the root element", Line: line}
			}
			line += bytes.Count(rest[:9+end+3], []byte("\n"))
			i += 9 + end + 2
		case bytes.HasPrefix(rest, []byte("<!")):
			return &Error{Reason: "DOCTYPE and other DTD declarations are not accepted", Line: line}
		case bytes.HasPrefix(rest, []byte("<?")):
			end := bytes.Index(rest[2:], []byte("?>"))
			if end < 0 {
				return &Error{Reason: "not well-formed: unterminated processing instruction", Line: line}
			}
			pi := rest[2 : 2+end]
			target := pi
			if t := bytes.IndexAny(pi, " \t\r\n"); t >= 0 {
				target = pi[:t]
			}
			if len(target) == 0 || bytes.ContainsFunc(target, func(r rune) bool { return r < utf8.RuneSelf && !nameByte(byte(r)) }) {
				return &Error{Reason: fmt.Sprintf("not well-formed: processing instruction %q does not start with a target and white space", pi), Line: line}
			}
			line += bytes.Count(rest[:2+end+2], []byte("\n"))
			i += 2 + end + 1
		case rest[0] == '<':
			end := skipMarkup(data, i) // a start, end or empty-element tag
			switch {
			case len(rest) > 1 && rest[1] == '/':
				depth--
			case data[end-2] != '/':
				depth++
			}
			tag := data[i:end]
			for k := bytes.IndexByte(tag, '&'); k >= 0; k = bytes.IndexByte(tag, '&') {
				if ref := surrogateRef(tag[k:]); ref != "" { // in an attribute value
					return &Error{Reason: fmt.Sprintf("not well-formed: character reference %s to a surrogate", ref), Line: line}
				}
				tag = tag[k+1:]
			}
			line += bytes.Count(data[i:end], []byte("\n"))
			i = end - 1
		case rest[0] == '&':
			if ref := surrogateRef(rest); ref != "" {
				return &Error{Reason: fmt.Sprintf("not well-formed: character reference %s to a surrogate", ref), Line: line}
			}
		}
	}
	return nil
}

// surrogateRef returns the character reference b starts with when it names a surrogate, or "".
func surrogateRef(b []byte) string {
	if !bytes.HasPrefix(b, []byte("&#")) {
		return ""
	}
	semi := bytes.IndexByte(b, ';')
	if semi < 0 {
		return "" // the decoder reports it
	}
	ref, base := string(b[2:semi]), 10
	if strings.HasPrefix(ref, "x") {
		ref, base = ref[1:], 16
	}
	if n, err := strconv.ParseUint(ref, base, 32); err == nil && 0xD800 <= n && n <= 0xDFFF {
		return string(b[:semi+1])
	}
	return ""
}

// checkTree walks the tree without recursion, enforcing the depth and element caps again on the
// tree the decoder built (scanLimits enforced them before, as the fast path does as it reads).
func checkTree(root *etree.Element, lim Limits) error {
	type frame struct {
		el    *etree.Element
		depth int
	}
	stack := []frame{{root, 1}}
	count := 0
	for len(stack) > 0 {
		f := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		count++
		if lim.MaxElements > 0 && count > lim.MaxElements {
			return &Error{Reason: fmt.Sprintf("more than %d elements", lim.MaxElements)}
		}
		if lim.MaxDepth > 0 && f.depth > lim.MaxDepth {
			return &Error{Reason: fmt.Sprintf("elements nested deeper than %d (at <%s>)", lim.MaxDepth, f.el.FullTag())}
		}
		for c := range f.el.ChildElementsSeq() {
			stack = append(stack, frame{c, f.depth + 1})
		}
	}
	return nil
}

// readDocument reads data into an etree document, long runs of plain text lifted out of the
// decoder's way (liftText) and put back as they were; when anything about that does not add up,
// or the document does not parse, it reads data as it is, so that errors are the decoder's own.
func readDocument(data []byte) (*etree.Document, error) {
	read := func(b []byte) (*etree.Document, error) {
		doc := etree.NewDocument()
		doc.ReadSettings = etree.ReadSettings{PreserveDuplicateAttrs: true}
		return doc, doc.ReadFromBytes(b)
	}
	if lifted, runs := liftText(data); runs != nil {
		if doc, err := read(lifted); err == nil && putText(doc, runs) {
			return doc, nil
		}
	}
	return read(data)
}

// liftMin is the shortest text run liftText takes out (a variable for the tests).
var liftMin = 16 << 10

// liftMarker starts the stand-in of a lifted run: private-use characters, which a document
// holding them anywhere does not get lifted.
const liftMarker = "\uE000porta\uE000"

// liftText replaces each long run of plain character data in data by a short stand-in and
// returns the new document with the runs, in document order. encoding/xml copies character data
// byte by byte into a buffer grown by doubling, then into a string: a 10 MB base64 attachment
// costs 10 MB of string, 31 MB of buffers and 30 ns a byte. A run is plain when the decoder's
// text for it is its bytes unchanged: between markup, no '&' (references), no CR (line-end
// normalisation), no "]]>" (an error), valid UTF-8 of XML characters. The stand-in keeps the
// run's line breaks, so that the decoder's line numbers do not move. Runs is nil when nothing
// was lifted.
func liftText(data []byte) ([]byte, [][]byte) {
	if len(data) < liftMin || bytes.Contains(data, []byte(liftMarker)) {
		return data, nil
	}
	var out []byte
	var runs [][]byte
	last := 0
	for i := 0; i < len(data); {
		if data[i] == '<' {
			i = skipMarkup(data, i)
			continue
		}
		end := bytes.IndexByte(data[i:], '<')
		if end < 0 {
			end = len(data)
		} else {
			end += i
		}
		if run := data[i:end]; len(run) >= liftMin && plainText(run) {
			if out == nil {
				out = make([]byte, 0, len(data)/4)
			}
			out = append(out, data[last:i]...)
			out = append(out, liftStandIn(len(runs), bytes.Count(run, []byte("\n")))...)
			runs = append(runs, run)
			last = end
		}
		i = end
	}
	if runs == nil {
		return data, nil
	}
	return append(out, data[last:]...), runs
}

func liftStandIn(k, newlines int) string {
	return liftMarker + strconv.Itoa(k) + liftMarker + strings.Repeat("\n", newlines)
}

// skipMarkup returns the index just past the markup starting with '<' at data[i]: a comment, a
// CDATA section, a processing instruction, a declaration or a tag (whose attribute values may
// hold '>'). Malformed markup runs to the end, for the decoder to report.
func skipMarkup(data []byte, i int) int {
	rest := data[i:]
	past := func(open, close string) int {
		j := bytes.Index(rest[len(open):], []byte(close))
		if j < 0 {
			return len(data)
		}
		return i + len(open) + j + len(close)
	}
	switch {
	case bytes.HasPrefix(rest, []byte("<!--")):
		return past("<!--", "-->")
	case bytes.HasPrefix(rest, []byte("<![CDATA[")):
		return past("<![CDATA[", "]]>")
	case bytes.HasPrefix(rest, []byte("<?")):
		return past("<?", "?>")
	}
	var quote byte
	for j := i + 1; j < len(data); j++ {
		switch c := data[j]; {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '>':
			return j + 1
		}
	}
	return len(data)
}

// plainText reports whether the decoder reads run as exactly its bytes (see liftText).
func plainText(run []byte) bool {
	if bytes.IndexByte(run, '&') >= 0 || bytes.IndexByte(run, '\r') >= 0 || bytes.Contains(run, []byte("]]>")) || !utf8.Valid(run) {
		return false
	}
	for _, r := range string(run) { // no copy: the compiler ranges over the bytes
		if !xmlChar(r) && r != '\t' && r != '\n' {
			return false
		}
	}
	return true
}

// xmlChar reports whether r is a Char of XML 1.0 (above the ASCII controls).
func xmlChar(r rune) bool {
	return r >= 0x20 && r <= 0xD7FF || r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF
}

// putText puts the lifted runs back in place of their stand-ins, each exactly once; false when
// the stand-ins found are not exactly those liftText wrote.
func putText(doc *etree.Document, runs [][]byte) bool {
	found := 0
	stack := []*etree.Element{&doc.Element}
	for len(stack) > 0 {
		el := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, tok := range el.Child {
			switch t := tok.(type) {
			case *etree.Element:
				stack = append(stack, t)
			case *etree.CharData:
				if !strings.HasPrefix(t.Data, liftMarker) {
					continue
				}
				rest := t.Data[len(liftMarker):]
				j := strings.Index(rest, liftMarker)
				if j < 0 {
					return false
				}
				k, err := strconv.Atoi(rest[:j])
				if err != nil || k < 0 || k >= len(runs) || runs[k] == nil || t.IsCData() ||
					t.Data != liftStandIn(k, bytes.Count(runs[k], []byte("\n"))) {
					return false
				}
				t.SetData(string(runs[k]))
				runs[k] = nil
				found++
			}
		}
	}
	return found == len(runs)
}

// Write serialises doc exactly as doc.WriteTo does (write.go). A document expected to be large
// (hint, its expected size, over what the pool of scratch buffers keeps) is written into a buffer
// of hint bytes made at once; any other into a pooled buffer, then copied out at its length, so
// that small messages do not each take (and fault in) a fresh buffer sized for the worst case.
func Write(doc *etree.Document, hint int) ([]byte, error) {
	if !defaultSettings(doc) {
		return doc.WriteToBytes()
	}
	if hint > scratchMax {
		w := writer{buf: make([]byte, 0, hint)}
		w.tokens(doc.Child)
		return w.buf, nil
	}
	p := getScratch()
	w := writer{buf: *p}
	w.tokens(doc.Child)
	out := append(make([]byte, 0, len(w.buf)), w.buf...)
	putScratch(p, w.buf)
	return out, nil
}

// Serialization is a document serialised as Write serialises it, held as its skeleton (the
// markup and short texts, in one buffer) and the long texts of the tree itself (strings the
// tree shares), so that it can be written out without a buffer of its whole size: a gateway
// answering a 10 MB payload holds the payload once, in the tree.
type Serialization struct {
	skel  []byte
	texts []string // texts[i] stands in place of skel[at[2i]:at[2i+1]]
	at    []int
	size  int
}

// Serialize serialises doc as Write does, keeping its texts of liftMin bytes or more that are
// written unchanged out of the result's buffer (see Serialization). The result stays valid if doc
// is changed afterwards (its strings are not).
func Serialize(doc *etree.Document) (*Serialization, error) {
	if !defaultSettings(doc) {
		b, err := doc.WriteToBytes()
		if err != nil {
			return nil, err
		}
		return &Serialization{skel: b, size: len(b)}, nil
	}
	p := getScratch()
	w := writer{buf: *p, lift: true}
	w.tokens(doc.Child)
	s := &Serialization{skel: append(make([]byte, 0, len(w.buf)), w.buf...), texts: w.texts, size: len(w.buf)}
	putScratch(p, w.buf)
	if len(w.texts) > 0 {
		s.at = make([]int, 0, 2*len(w.texts))
		for i, t := range w.texts {
			s.at = append(s.at, w.at[i], w.at[i]) // no stand-in: the text goes at that offset
			s.size += len(t)
		}
	}
	return s, nil
}

// Len is the length of the serialization in bytes.
func (s *Serialization) Len() int { return s.size }

// AppendTo appends the serialization to b.
func (s *Serialization) AppendTo(b []byte) []byte {
	from := 0
	for i, t := range s.texts {
		b = append(b, s.skel[from:s.at[2*i]]...)
		b = append(b, t...)
		from = s.at[2*i+1]
	}
	return append(b, s.skel[from:]...)
}

// WriteTo writes the serialization to w, its long texts straight from the tree's strings.
func (s *Serialization) WriteTo(w io.Writer) (int64, error) {
	var n int64
	put := func(k int, err error) error {
		n += int64(k)
		return err
	}
	from := 0
	for i, t := range s.texts {
		if err := put(w.Write(s.skel[from:s.at[2*i]])); err != nil {
			return n, err
		}
		// The tree's own bytes, not a copy (io.Writer must not modify them).
		if err := put(w.Write(unsafe.Slice(unsafe.StringData(t), len(t)))); err != nil {
			return n, err
		}
		from = s.at[2*i+1]
	}
	return n, put(w.Write(s.skel[from:]))
}

// plainOut reports whether etree writes s unchanged in every escaping mode.
func plainOut(s string) bool {
	if strings.ContainsAny(s, "&<>'\"\r") || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !xmlChar(r) && r != '\t' && r != '\n' {
			return false
		}
	}
	return true
}

// normalizeAttrSpace applies XML 1.0 attribute-value normalization (§3.3.3, all attributes being
// CDATA without a DTD) that encoding/xml leaves out: a literal TAB, LF, CR or CR LF inside an
// attribute value becomes one space. Character references such as &#10; are untouched, as the
// specification requires. Without it, an attribute written across lines by another stack would
// canonicalize to &#xA; here and to a space in libxml2, and a valid signature would fail.
// Comments, CDATA sections and processing instructions are skipped whole; malformed input is
// returned as it is, for the parser to report, except for one thing encoding/xml lets through:
// an attribute glued to the previous value (a="1"b="2"), reported as glued.
func normalizeAttrSpace(data []byte) (out []byte, glued bool) {
	last := 0
	n := len(data)
	skip := func(i int, open, close string) int {
		j := bytes.Index(data[i+len(open):], []byte(close))
		if j < 0 {
			return n
		}
		return i + len(open) + j + len(close)
	}
	for i := 0; i < n; {
		if data[i] != '<' {
			i++
			continue
		}
		rest := data[i:]
		switch {
		case bytes.HasPrefix(rest, []byte("<!--")):
			i = skip(i, "<!--", "-->")
			continue
		case bytes.HasPrefix(rest, []byte("<![CDATA[")):
			i = skip(i, "<![CDATA[", "]]>")
			continue
		case bytes.HasPrefix(rest, []byte("<?")):
			i = skip(i, "<?", "?>")
			continue
		}
		var quote byte
		for i++; i < n; i++ {
			c := data[i]
			if quote == 0 {
				if c == '"' || c == '\'' {
					quote = c
				} else if c == '>' || c == '<' {
					break
				}
				continue
			}
			switch c {
			case quote:
				quote = 0
				if i+1 < n && !isSpaceByte(data[i+1]) && data[i+1] != '>' && data[i+1] != '/' {
					glued = true // another attribute right after the value: not well-formed
				}
			case '\t', '\n', '\r':
				out = append(out, data[last:i]...)
				out = append(out, ' ')
				if c == '\r' && i+1 < n && data[i+1] == '\n' {
					i++
				}
				last = i + 1
			}
		}
	}
	if out == nil {
		return data, glued
	}
	return append(out, data[last:]...), glued
}

func isSpaceByte(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

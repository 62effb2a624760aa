package xmlsafe

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/beevik/etree"
)

// The fast path of Parse. encoding/xml, under etree, costs most of the gateway's CPU after the
// signatures: it reads byte by byte through interfaces and allocates every name and text. This
// reader takes one copy of the input as a string and builds the same etree tree from substrings
// of it, decoding only the text that holds references or carriage returns.
//
// Its contract is narrow on purpose: when it accepts a document, the tree is exactly the one the
// reference path (normalizeAttrSpace, then etree over encoding/xml, then Parse's checks) builds
// (same tokens, names, values and whitespace flags); when it passes a cap of Limits it refuses at
// once, with the error the reference path gives for the same document (both count with tally);
// when it meets anything malformed or outside what it handles (non-ASCII names, a doubtful XML
// declaration, a directive, more than fastMaxAttrs attributes on an element) it declines, and
// Parse runs the reference path, which accepts it or gives the error. FuzzFastParse holds it to
// that contract. Either tree then goes
// through checkWellFormed, the one place for the rules both readers leave out (namespaces,
// duplicate attributes by expanded name); FuzzParse holds the whole of Parse to libxml2.

// fastMaxAttrs is the most attributes on one element the fast path takes; more is declined (the
// duplicate check is quadratic, as the reference path's is).
const fastMaxAttrs = 64

// etreeMaxDepth is etree's own nesting cap (its defaultMaxDepth), which applies under ours.
const etreeMaxDepth = 1024

type fastParser struct {
	s     string
	i     int
	buf   []byte // scratch for text that needs decoding
	tally tally
	err   error // the cap passed, when parse stopped for one
}

// fastParse builds the document of data (the bytes as a string, whose substrings the tree
// keeps) as Parse does, or returns the error of the first cap of lim the document passes, or
// ok=false (and no error) when the caller must use the reference path.
func fastParse(data string, lim Limits) (doc *etree.Document, ok bool, err error) {
	p := &fastParser{s: data, tally: tally{lim: lim}}
	doc = etree.NewDocument()
	doc.ReadSettings = etree.ReadSettings{PreserveDuplicateAttrs: true}
	if !p.parse(&doc.Element) {
		return nil, false, p.err
	}
	return doc, true, nil
}

func (p *fastParser) parse(top *etree.Element) bool {
	s := p.s
	cur := top
	depth, roots := 0, 0
	for p.i < len(s) {
		if s[p.i] != '<' {
			end := strings.IndexByte(s[p.i:], '<')
			if end < 0 {
				end = len(s)
			} else {
				end += p.i
			}
			text, ok := p.text(s[p.i:end], false)
			if !ok {
				return false
			}
			if depth == 0 && !isXMLSpace(text) {
				return false // text outside the root element
			}
			addText(cur, text)
			p.i = end
			continue
		}
		if p.i+1 >= len(s) {
			return false
		}
		switch s[p.i+1] {
		case '/':
			p.i += 2
			name, ok := p.qname()
			if !ok || depth == 0 {
				return false
			}
			p.space()
			if p.i >= len(s) || s[p.i] != '>' {
				return false
			}
			p.i++
			if !sameName(cur, name) {
				return false
			}
			cur = cur.Parent()
			depth--
		case '?':
			if !p.procInst(cur) {
				return false
			}
		case '!':
			rest := s[p.i:]
			switch {
			case strings.HasPrefix(rest, "<!--"):
				start := p.i + 4
				k := strings.Index(s[start:], "--")
				if k < 0 || start+k+2 >= len(s) || s[start+k+2] != '>' {
					return false
				}
				cur.CreateComment(s[start : start+k])
				p.i = start + k + 3
			case strings.HasPrefix(rest, "<![CDATA["):
				start := p.i + 9
				k := strings.Index(s[start:], "]]>")
				if k < 0 {
					return false
				}
				text, ok := p.cdata(s[start : start+k])
				if !ok || depth == 0 { // CDATA outside the root element: the reference path refuses it
					return false
				}
				addText(cur, text)
				p.i = start + k + 3
			default:
				return false // a DTD construct: the reference path refuses it
			}
		default:
			p.i++
			name, ok := p.qname()
			if !ok {
				return false
			}
			if depth == 0 {
				if roots++; roots > 1 {
					return false
				}
			}
			depth++
			if depth > etreeMaxDepth {
				return false
			}
			if p.err = p.tally.element(name, depth); p.err != nil {
				return false
			}
			el := cur.CreateElement(name)
			empty, ok := p.attrs(el, name)
			if !ok {
				return false
			}
			if empty {
				depth--
			} else {
				cur = el
			}
		}
	}
	return depth == 0 && roots == 1
}

// addText appends a CharData token as etree's reader does: flagged as white space when it is.
func addText(parent *etree.Element, text string) {
	cd := parent.CreateText(text)
	if isXMLSpace(text) {
		cd.SetData(text) // sets the white-space flag
	}
}

func isXMLSpace(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return false
		}
	}
	return true
}

// sameName reports whether an end tag's qualified name closes el.
func sameName(el *etree.Element, qname string) bool {
	if el.Space == "" {
		return qname == el.Tag
	}
	return len(qname) == len(el.Space)+1+len(el.Tag) && qname[:len(el.Space)] == el.Space &&
		qname[len(el.Space)] == ':' && qname[len(el.Space)+1:] == el.Tag
}

// space skips XML white space.
func (p *fastParser) space() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// name reads an XML name of ASCII characters; anything else is declined.
func (p *fastParser) name() (string, bool) {
	s, start := p.s, p.i
	if start >= len(s) || !nameStart(s[start]) {
		return "", false
	}
	i := start + 1
	for i < len(s) && nameByte(s[i]) {
		i++
	}
	if i < len(s) && s[i] >= utf8.RuneSelf {
		return "", false // a non-ASCII name: the reference path checks its Unicode classes
	}
	p.i = i
	return s[start:i], true
}

// qname reads an element or attribute name: at most one colon, not at either end (encoding/xml
// reads "a:" and ":a" as unprefixed names, which etree would split differently).
func (p *fastParser) qname() (string, bool) {
	n, ok := p.name()
	if !ok {
		return "", false
	}
	if c := strings.IndexByte(n, ':'); c >= 0 && (c == 0 || c == len(n)-1 || strings.IndexByte(n[c+1:], ':') >= 0) {
		return "", false
	}
	return n, true
}

func nameStart(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || c == '_' || c == ':'
}

func nameByte(c byte) bool {
	return nameStart(c) || '0' <= c && c <= '9' || c == '.' || c == '-'
}

// attrs reads the attributes of a start tag (of qualified name qname) up to its closing > or />.
func (p *fastParser) attrs(el *etree.Element, qname string) (empty, ok bool) {
	s := p.s
	for {
		start := p.i
		p.space()
		if p.i >= len(s) {
			return false, false
		}
		switch s[p.i] {
		case '>':
			p.i++
			return false, true
		case '/':
			if p.i+1 >= len(s) || s[p.i+1] != '>' {
				return false, false
			}
			p.i += 2
			return true, true
		}
		if p.i == start {
			return false, false // no white space before the attribute: not well-formed
		}
		key, ok := p.qname()
		if !ok {
			return false, false
		}
		p.space()
		if p.i >= len(s) || s[p.i] != '=' {
			return false, false
		}
		p.i++
		p.space()
		if p.i >= len(s) || (s[p.i] != '"' && s[p.i] != '\'') {
			return false, false
		}
		q := s[p.i]
		end := strings.IndexByte(s[p.i+1:], q)
		if end < 0 {
			return false, false
		}
		raw := s[p.i+1 : p.i+1+end]
		p.i += end + 2
		if p.err = countAttr(&p.tally, qname, key, len(el.Attr)+1, raw); p.err != nil {
			return false, false
		}
		value, ok := p.text(raw, true)
		if !ok {
			return false, false
		}
		if len(el.Attr) >= fastMaxAttrs {
			return false, false
		}
		space, local := "", key
		if c := strings.IndexByte(key, ':'); c >= 0 {
			space, local = key[:c], key[c+1:]
		}
		for _, a := range el.Attr {
			// The same qualified name twice: CreateAttr would merge the two, so the reference
			// path, which keeps both, reports it. (The same local name under two prefixes stays
			// two attributes, for checkWellFormed.)
			if a.Key == local && a.Space == space {
				return false, false
			}
		}
		el.CreateAttr(key, value)
	}
}

// procInst reads <?target inst?>.
func (p *fastParser) procInst(parent *etree.Element) bool {
	p.i += 2
	target, ok := p.name()
	if !ok {
		return false
	}
	start := p.i
	p.space()
	if p.i == start && !strings.HasPrefix(p.s[p.i:], "?>") {
		return false // no white space after the target: not well-formed
	}
	k := strings.Index(p.s[p.i:], "?>")
	if k < 0 {
		return false
	}
	inst := p.s[p.i : p.i+k]
	p.i += k + 2
	if target == "xml" {
		if v := xmlDeclParam("version", inst); v != "" && v != "1.0" {
			return false
		}
	}
	parent.CreateProcInst(target, inst)
	return true
}

// xmlDeclParam is encoding/xml's reading of a pseudo-attribute of the XML declaration.
func xmlDeclParam(param, s string) string {
	param += "="
	lenp := len(param)
	i := 0
	var sep byte
	for i < len(s) {
		sub := s[i:]
		k := strings.Index(sub, param)
		if k < 0 || lenp+k >= len(sub) {
			return ""
		}
		i += lenp + k + 1
		if c := sub[lenp+k]; c == '\'' || c == '"' {
			sep = c
			break
		}
	}
	if sep == 0 {
		return ""
	}
	j := strings.IndexByte(s[i:], sep)
	if j < 0 {
		return ""
	}
	return s[i : i+j]
}

// text decodes character data (attr=false) or an attribute value (attr=true) as encoding/xml
// does after normalizeAttrSpace: the five predefined entities and character references, CR LF
// and CR as LF in text, TAB, LF, CR and CR LF as one space in attribute values; every character
// must be valid UTF-8 within XML's Char range; "]]>" may not appear in text, "<" not in values.
// Text without references or carriage returns is returned as a substring, without copying.
func (p *fastParser) text(raw string, attr bool) (string, bool) {
	plain := true
	for i := 0; i < len(raw); {
		c := raw[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '&' || c == '\r' || (attr && (c == '\t' || c == '\n')):
				plain = false
			case c == '<':
				return "", false
			case c < 0x20 && c != '\t' && c != '\n':
				return "", false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(raw[i:])
		if r == utf8.RuneError && size == 1 || !isXMLChar(r) {
			return "", false
		}
		i += size
	}
	if !attr && strings.Contains(raw, "]]>") {
		return "", false
	}
	if plain {
		return raw, true
	}
	b := p.buf[:0]
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c == '&':
			semi := strings.IndexByte(raw[i+1:], ';')
			if semi < 0 {
				return "", false
			}
			ref := raw[i+1 : i+1+semi]
			var ok bool
			if b, ok = appendReference(b, ref); !ok {
				return "", false
			}
			i += semi + 1
		case c == '\r':
			if attr {
				b = append(b, ' ')
			} else {
				b = append(b, '\n')
			}
			if i+1 < len(raw) && raw[i+1] == '\n' {
				i++
			}
		case attr && (c == '\t' || c == '\n'):
			b = append(b, ' ')
		default:
			b = append(b, c)
		}
	}
	p.buf = b
	return string(b), true
}

// appendReference appends the character of an entity or character reference (without & and ;).
func appendReference(b []byte, ref string) ([]byte, bool) {
	switch ref {
	case "lt":
		return append(b, '<'), true
	case "gt":
		return append(b, '>'), true
	case "amp":
		return append(b, '&'), true
	case "apos":
		return append(b, '\''), true
	case "quot":
		return append(b, '"'), true
	}
	if len(ref) < 2 || ref[0] != '#' {
		return b, false
	}
	digits, base := ref[1:], 10
	if digits[0] == 'x' {
		digits, base = digits[1:], 16
	}
	if digits == "" || len(digits) > 8 {
		return b, false
	}
	for i := 0; i < len(digits); i++ {
		c := digits[i]
		if !('0' <= c && c <= '9' || base == 16 && ('a' <= c && c <= 'f' || 'A' <= c && c <= 'F')) {
			return b, false
		}
	}
	n, err := strconv.ParseUint(digits, base, 32)
	if err != nil || n > utf8.MaxRune {
		return b, false
	}
	r := rune(n)
	if !isXMLChar(r) { // a surrogate too, which encoding/xml would read as U+FFFD and libxml2 refuses
		return b, false
	}
	return utf8.AppendRune(b, r), true
}

// cdata decodes the content of a CDATA section: CR LF and CR as LF, characters checked.
func (p *fastParser) cdata(raw string) (string, bool) {
	for i := 0; i < len(raw); {
		c := raw[i]
		if c < utf8.RuneSelf {
			if c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
				return "", false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(raw[i:])
		if r == utf8.RuneError && size == 1 || !isXMLChar(r) {
			return "", false
		}
		i += size
	}
	if strings.IndexByte(raw, '\r') < 0 {
		return raw, true
	}
	b := p.buf[:0]
	for i := 0; i < len(raw); i++ {
		if c := raw[i]; c == '\r' {
			b = append(b, '\n')
			if i+1 < len(raw) && raw[i+1] == '\n' {
				i++
			}
		} else {
			b = append(b, c)
		}
	}
	p.buf = b
	return string(b), true
}

// isXMLChar reports whether r is in XML 1.0's Char production.
func isXMLChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D || r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF
}

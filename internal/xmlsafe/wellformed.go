package xmlsafe

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/beevik/etree"
)

const (
	nsXML   = "http://www.w3.org/XML/1998/namespace"
	nsXMLNS = "http://www.w3.org/2000/xmlns/"
)

// checkWellFormed enforces on the tree either read path built what XML 1.0 and Namespaces in
// XML 1.0 require and encoding/xml (which the fast reader follows) lets through, as libxml2 (and
// so xmlsec1 and most SOAP stacks) enforces it:
//
//   - every element and attribute name is a QName (NCName or prefix:NCName) whose prefix is
//     declared in scope (xml always is); a declaration binds no prefix to "" and neither rebinds
//     xml and xmlns nor reuses their URIs;
//   - no two attributes of an element have the same expanded name (namespace URI, local name).
//     An unprefixed attribute is in no namespace (the default namespace does not apply to
//     attributes), so Id and u:Id are different attributes, while u:Id and v:Id are the same
//     one when u and v are bound to the same URI where the element stands;
//   - comments and processing instructions hold only XML characters; a processing
//     instruction's target has no colon, and the target xml is the XML declaration at the very
//     start (checkPI).
func checkWellFormed(doc *etree.Document) error {
	for i, tok := range doc.Child {
		switch t := tok.(type) {
		case *etree.ProcInst:
			if err := checkPI(t, i == 0); err != nil {
				return err
			}
		case *etree.Comment:
			if !xmlChars(t.Data) {
				return &Error{Reason: "not well-formed: a comment holds a character XML does not allow"}
			}
		}
	}
	c := nameCheckers.Get().(*nameChecker)
	defer c.release()
	stack := append(c.stack, frame{el: doc.Root()})
	defer func() { c.stack = stack }()
	for len(stack) > 0 {
		f := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if f.exit {
			c.pop(f.mark)
			continue
		}
		mark := len(c.undo)
		if err := c.element(f.el); err != nil {
			return err
		}
		stack = append(stack, frame{el: f.el, mark: mark, exit: true})
		for i := len(f.el.Child) - 1; i >= 0; i-- {
			switch t := f.el.Child[i].(type) {
			case *etree.Element:
				stack = append(stack, frame{el: t})
			case *etree.ProcInst:
				if err := checkPI(t, false); err != nil {
					return err
				}
			case *etree.Comment:
				if !xmlChars(t.Data) {
					return &Error{Reason: "not well-formed: a comment holds a character XML does not allow"}
				}
			}
		}
	}
	return nil
}

// xmlDecl is the XML declaration as XML 1.0 writes it (version 1.0 only, as encoding/xml reads).
var xmlDecl = regexp.MustCompile(`^version\s*=\s*("1\.0"|'1\.0')` +
	`(\s+encoding\s*=\s*("[A-Za-z][A-Za-z0-9._-]*"|'[A-Za-z][A-Za-z0-9._-]*'))?` +
	`(\s+standalone\s*=\s*("(yes|no)"|'(yes|no)'))?\s*$`)

// checkPI checks a processing instruction (first: the document's first token): no colon in the
// target, and the target xml (in any case) only for the XML declaration at the very start, well
// formed and declaring no encoding but UTF-8 (the bytes are read as UTF-8; libxml2 would decode
// any other declared encoding and read other characters).
func checkPI(pi *etree.ProcInst, first bool) error {
	if strings.Contains(pi.Target, ":") {
		return nameErr("processing instruction target %q has a colon", pi.Target)
	}
	if !xmlChars(pi.Inst) {
		return &Error{Reason: "not well-formed: a processing instruction holds a character XML does not allow"}
	}
	if !strings.EqualFold(pi.Target, "xml") {
		return nil
	}
	if !first || pi.Target != "xml" {
		return &Error{Reason: "not well-formed: an XML declaration is allowed only at the very start of the document"}
	}
	m := xmlDecl.FindStringSubmatch(pi.Inst)
	if m == nil {
		return &Error{Reason: fmt.Sprintf("not well-formed: XML declaration %q", pi.Inst)}
	}
	if enc := strings.Trim(m[3], `"'`); enc != "" && !strings.EqualFold(enc, "UTF-8") {
		return &Error{Reason: fmt.Sprintf("the document declares the encoding %s: only UTF-8 is accepted", enc)}
	}
	return nil
}

func nameErr(format string, a ...any) error {
	return &Error{Reason: "not namespace-well-formed: " + fmt.Sprintf(format, a...)}
}

type nameChecker struct {
	scope map[string][]string // prefix ("" the default) → URIs in scope, innermost last
	undo  []string            // prefixes pushed, for the pops
	uris  []string            // scratch: the namespace URI of each attribute of one element
	stack []frame             // the walk's elements still to enter or leave
}

// frame is an element checkWellFormed enters, or leaves (exit: its declarations popped to mark).
type frame struct {
	el   *etree.Element
	mark int
	exit bool
}

// nameCheckers holds released checkers, each read of a message otherwise making a map and three
// stacks anew. A released checker keeps no string or element of the message it read (the tree
// and a ParseOwned message's bytes would stay alive), and one that saw more than
// maxPooledPrefixes prefixes is let go, so that a hostile document leaves no large map behind.
var nameCheckers = sync.Pool{New: func() any { return &nameChecker{scope: map[string][]string{}} }}

const maxPooledPrefixes = 32

func (c *nameChecker) release() {
	if len(c.scope) > maxPooledPrefixes {
		return
	}
	for p, s := range c.scope {
		clear(s[:cap(s)])
		c.scope[p] = s[:0]
	}
	clear(c.undo[:cap(c.undo)])
	clear(c.uris[:cap(c.uris)])
	clear(c.stack[:cap(c.stack)])
	c.undo, c.uris, c.stack = c.undo[:0], c.uris[:0], c.stack[:0]
	nameCheckers.Put(c)
}

func (c *nameChecker) pop(mark int) {
	for i := len(c.undo) - 1; i >= mark; i-- {
		p := c.undo[i]
		s := c.scope[p]
		c.scope[p] = s[:len(s)-1]
	}
	c.undo = c.undo[:mark]
}

func (c *nameChecker) lookup(prefix string) (string, bool) {
	if prefix == "xml" {
		return nsXML, true
	}
	s := c.scope[prefix]
	if len(s) == 0 {
		return "", false
	}
	return s[len(s)-1], true
}

// qname checks that space:local (space may be empty) is a QName as the decoder split it: a name
// with a colon at either end, or with two, comes out with the colon inside one of the parts.
func qname(space, local string) bool {
	return ncname(local) && (space == "" || ncname(space))
}

// ncname reports whether s, a name the decoder read, is an NCName: no colon, and a first
// character that may start a name (the decoder checks the first character of the whole name
// only, so the part after a colon may start with a digit, '.' or '-').
func ncname(s string) bool {
	if s == "" || strings.Contains(s, ":") {
		return false
	}
	r, _ := utf8.DecodeRuneInString(s)
	return nameStartChar(r)
}

// nameStartChar is XML 1.0's NameStartChar, without the colon.
func nameStartChar(r rune) bool {
	switch {
	case 'A' <= r && r <= 'Z', 'a' <= r && r <= 'z', r == '_':
		return true
	case r < 0xC0:
		return false
	}
	return r <= 0xD6 || 0xD8 <= r && r <= 0xF6 || 0xF8 <= r && r <= 0x2FF || 0x370 <= r && r <= 0x37D ||
		0x37F <= r && r <= 0x1FFF || 0x200C <= r && r <= 0x200D || 0x2070 <= r && r <= 0x218F ||
		0x2C00 <= r && r <= 0x2FEF || 0x3001 <= r && r <= 0xD7FF || 0xF900 <= r && r <= 0xFDCF ||
		0xFDF0 <= r && r <= 0xFFFD || 0x10000 <= r && r <= 0xEFFFF
}

// element declares el's namespaces and checks its names and attributes.
func (c *nameChecker) element(el *etree.Element) error {
	for _, a := range el.Attr {
		var prefix string
		switch {
		case a.Space == "xmlns":
			prefix = a.Key
			switch {
			case !qname("", prefix):
				return nameErr("xmlns:%s on <%s> is not a declaration of an NCName", prefix, el.FullTag())
			case prefix == "xmlns":
				return nameErr("the prefix xmlns cannot be declared (on <%s>)", el.FullTag())
			case prefix == "xml" && a.Value != nsXML, prefix != "xml" && a.Value == nsXML:
				return nameErr("the prefix xml and its namespace %s go only with each other (xmlns:%s on <%s>)", nsXML, prefix, el.FullTag())
			case a.Value == nsXMLNS:
				return nameErr("the namespace %s cannot be declared (xmlns:%s on <%s>)", nsXMLNS, prefix, el.FullTag())
			case a.Value == "":
				return nameErr("xmlns:%s=\"\" on <%s>: a prefix cannot be bound to no namespace", prefix, el.FullTag())
			}
		case a.Space == "" && a.Key == "xmlns":
			if a.Value == nsXML || a.Value == nsXMLNS {
				return nameErr("%s cannot be the default namespace (on <%s>)", a.Value, el.FullTag())
			}
		default:
			continue
		}
		c.scope[prefix] = append(c.scope[prefix], a.Value)
		c.undo = append(c.undo, prefix)
	}
	if !qname(el.Space, el.Tag) {
		return nameErr("<%s> is not a qualified name", el.FullTag())
	}
	if el.Space != "" {
		if _, ok := c.lookup(el.Space); !ok {
			return nameErr("namespace prefix %s of <%s> is not declared", el.Space, el.FullTag())
		}
	}
	uris := c.uris[:0]
	for _, a := range el.Attr {
		uri := ""
		switch {
		case !qname(a.Space, a.Key):
			return nameErr("attribute %s on <%s> is not a qualified name", a.FullKey(), el.FullTag())
		case a.Space == "xmlns" || a.Space == "" && a.Key == "xmlns":
			uri = nsXMLNS // declarations compare by the prefix they declare
		case a.Space != "":
			var ok bool
			if uri, ok = c.lookup(a.Space); !ok {
				return nameErr("namespace prefix %s of attribute %s on <%s> is not declared", a.Space, a.FullKey(), el.FullTag())
			}
		}
		uris = append(uris, uri)
	}
	c.uris = uris
	if i, j := repeatedAttr(el.Attr, uris); i >= 0 {
		a, b := &el.Attr[i], &el.Attr[j]
		if a.FullKey() == b.FullKey() {
			return &Error{Reason: fmt.Sprintf("not well-formed: attribute %s repeated on <%s>", b.FullKey(), el.FullTag())}
		}
		return nameErr("attributes %s and %s on <%s> are the same attribute {%s}%s", a.FullKey(), b.FullKey(), el.FullTag(), uris[i], b.Key)
	}
	return nil
}

// repeatedAttr returns the indexes of two attributes with the same expanded name (uris[k] is the
// namespace URI of attrs[k]), the earlier first, or -1, -1. Pairs are compared for a few
// attributes, a set for many, so that an element with a million attributes costs a million
// steps and not half a trillion.
func repeatedAttr(attrs []etree.Attr, uris []string) (int, int) {
	if len(attrs) <= 16 {
		for j := 1; j < len(attrs); j++ {
			for i := 0; i < j; i++ {
				if attrs[i].Key == attrs[j].Key && uris[i] == uris[j] {
					return i, j
				}
			}
		}
		return -1, -1
	}
	type name struct{ uri, local string }
	seen := make(map[name]int, len(attrs))
	for j := range attrs {
		n := name{uris[j], attrs[j].Key}
		if i, ok := seen[n]; ok {
			return i, j
		}
		seen[n] = j
	}
	return -1, -1
}

// xmlChars reports whether s is UTF-8 of XML characters only.
func xmlChars(s string) bool {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
				return false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || !isXMLChar(r) {
			return false
		}
		i += size
	}
	return true
}

package wssec

import (
	"bufio"
	"bytes"
	"crypto"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/beevik/etree"
)

// Algorithm URIs of XML-DSig that Porta emits or accepts.
const (
	AlgExcC14N      = NSExcC14N
	AlgSHA256       = "http://www.w3.org/2001/04/xmlenc#sha256"
	AlgSHA384       = "http://www.w3.org/2001/04/xmldsig-more#sha384"
	AlgSHA512       = "http://www.w3.org/2001/04/xmlenc#sha512"
	AlgRSASHA256    = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
	AlgRSASHA384    = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384"
	AlgRSASHA512    = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512"
	AlgECDSASHA256  = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
	AlgECDSASHA384  = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384"
	AlgECDSASHA512  = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512"
	nsXML           = "http://www.w3.org/XML/1998/namespace"
	nsXMLNS         = "http://www.w3.org/2000/xmlns/"
	valueTypeX509v3 = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3"
	encodingBase64  = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"
)

// Exclusive XML Canonicalization 1.0 (without comments), Porta's own implementation. The
// canonical form is written straight to its destination (a hash when digesting, a buffer when
// the bytes are needed) through a pooled buffer, never held whole; namespaces in scope and those
// already rendered are stacks pushed and popped per element, so the cost is linear in the size of
// the subtree however deep it is and however many namespaces it declares.

// c14nSink is where the canonical form goes: a *bytes.Buffer or a *bufio.Writer.
type c14nSink interface {
	io.Writer
	io.StringWriter
	io.ByteWriter
}

// canonicalize returns the Exclusive XML Canonicalization 1.0 (without comments) of the subtree
// rooted at el, as the document subset "el and all its descendants". Namespaces in scope are
// taken from el's ancestors in its document, so el need not be detached (and is never modified).
// inclusive is the InclusiveNamespaces PrefixList ("#default" names the default namespace).
// It fails only on a prefix that is used but not declared, or on a directive.
func canonicalize(el *etree.Element, inclusive []string) ([]byte, error) {
	var b bytes.Buffer
	c := newC14N(el, inclusive, &b, false)
	defer c.release()
	if _, err := c.run(el); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// digestCanonical returns the digest with h of the canonical form of el, streamed into the hash.
func digestCanonical(h crypto.Hash, el *etree.Element, inclusive []string) ([]byte, error) {
	d := h.New()
	bw := c14nBuffers.Get().(*bufio.Writer)
	bw.Reset(d)
	defer func() { bw.Reset(nil); c14nBuffers.Put(bw) }()
	c := newC14N(el, inclusive, bw, false)
	defer c.release()
	if _, err := c.run(el); err != nil {
		return nil, err
	}
	if err := bw.Flush(); err != nil {
		return nil, err
	}
	return d.Sum(nil), nil
}

// canonicalCopy digests the canonical form of el with h, like digestCanonical, and returns with
// the digest a detached copy of el that is the tree those canonical bytes parse to (comments
// dropped, adjacent text merged, CDATA as text, attributes in canonical order, exactly the
// namespace declarations the canonical form renders), built in the same walk and sharing the
// input's strings, so that what was digested can be used without parsing it again. The copy is
// nil when el holds what the walk does not rebuild (a processing instruction, an element with
// more than maxCopyAttrs attributes); the caller then parses the canonical bytes instead.
func canonicalCopy(h crypto.Hash, el *etree.Element, inclusive []string) ([]byte, *etree.Element, error) {
	d := h.New()
	bw := c14nBuffers.Get().(*bufio.Writer)
	bw.Reset(d)
	defer func() { bw.Reset(nil); c14nBuffers.Put(bw) }()
	c := newC14N(el, inclusive, bw, true)
	defer c.release()
	cp, err := c.run(el)
	if err != nil {
		return nil, nil, err
	}
	if err := bw.Flush(); err != nil {
		return nil, nil, err
	}
	if c.noCopy {
		cp = nil
	}
	return d.Sum(nil), cp, nil
}

// maxCopyAttrs bounds the attributes of one element that canonicalCopy rebuilds (etree adds an
// attribute after a search of those already there).
const maxCopyAttrs = 64

var c14nBuffers = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 32<<10) }}

type c14n struct {
	w         c14nSink
	inclusive []string
	scope     map[string][]string // prefix ("" the default) → URIs in scope, innermost last
	rendered  map[string][]string // prefix → URIs rendered by output ancestors, innermost last
	undo      []string            // prefixes pushed on scope, for the pops
	decls     []string            // prefixes pushed on rendered, for the pops
	used      []string            // scratch: visibly utilised prefixes of one element
	attrs     []c14nAttr          // scratch: attributes of one element
	text      []string            // scratch: text of the copy since its last child element
	build     bool                // build the copy of canonicalCopy
	noCopy    bool                // the copy cannot be built
}

// A canonicalisation's state is reused (a signature takes four to six of them, each with two maps
// and five stacks otherwise made anew): c14nStates holds released ones, their stacks emptied and
// their strings cleared, so that a pooled state keeps no message alive. One that saw more than
// maxPooledPrefixes prefixes is let go, so that a hostile document leaves no large map behind.
var c14nStates = sync.Pool{New: func() any {
	return &c14n{scope: map[string][]string{}, rendered: map[string][]string{}}
}}

const maxPooledPrefixes = 32

// release returns c to c14nStates.
func (c *c14n) release() {
	if len(c.scope) > maxPooledPrefixes || len(c.rendered) > maxPooledPrefixes {
		return
	}
	for _, m := range [2]map[string][]string{c.scope, c.rendered} {
		for p, s := range m {
			clear(s[:cap(s)]) // popped entries too
			m[p] = s[:0]
		}
	}
	clear(c.undo[:cap(c.undo)])
	clear(c.decls[:cap(c.decls)])
	clear(c.used[:cap(c.used)])
	clear(c.attrs[:cap(c.attrs)])
	clear(c.text[:cap(c.text)])
	clear(c.inclusive[:cap(c.inclusive)])
	*c = c14n{scope: c.scope, rendered: c.rendered, undo: c.undo[:0], decls: c.decls[:0], used: c.used[:0],
		attrs: c.attrs[:0], text: c.text[:0], inclusive: c.inclusive[:0]}
	c14nStates.Put(c)
}

type c14nAttr struct {
	uri, space, local, value string
}

func newC14N(el *etree.Element, inclusive []string, w c14nSink, build bool) *c14n {
	c := c14nStates.Get().(*c14n)
	c.w, c.build = w, build
	c.scope["xml"] = append(c.scope["xml"], nsXML)
	for _, p := range inclusive {
		if p == "#default" {
			p = ""
		}
		if !slices.Contains(c.inclusive, p) {
			c.inclusive = append(c.inclusive, p)
		}
	}
	var chain []*etree.Element
	for p := el.Parent(); p != nil; p = p.Parent() {
		chain = append(chain, p)
	}
	for i := len(chain) - 1; i >= 0; i-- {
		c.push(chain[i])
	}
	return c
}

func (c *c14n) run(el *etree.Element) (*etree.Element, error) {
	return c.element(el, nil)
}

// push adds el's namespace declarations to the scope and returns the undo mark to pop to.
func (c *c14n) push(el *etree.Element) int {
	mark := len(c.undo)
	for _, a := range el.Attr {
		p, ok := nsDecl(a)
		if !ok {
			continue
		}
		c.scope[p] = append(c.scope[p], a.Value)
		c.undo = append(c.undo, p)
	}
	return mark
}

func (c *c14n) pop(mark int) {
	for i := len(c.undo) - 1; i >= mark; i-- {
		p := c.undo[i]
		s := c.scope[p]
		c.scope[p] = s[:len(s)-1]
	}
	c.undo = c.undo[:mark]
}

// nsDecl reports whether a declares a namespace, and which prefix ("" the default).
func nsDecl(a etree.Attr) (string, bool) {
	switch {
	case a.Space == "xmlns":
		return a.Key, true
	case a.Space == "" && a.Key == "xmlns":
		return "", true
	}
	return "", false
}

func top(s []string) (string, bool) {
	if len(s) == 0 {
		return "", false
	}
	return s[len(s)-1], true
}

// addDecls adds el's namespace declarations to scope ("" is the default namespace).
func addDecls(scope map[string]string, el *etree.Element) {
	for _, a := range el.Attr {
		if p, ok := nsDecl(a); ok {
			scope[p] = a.Value
		}
	}
}

// element writes el and returns its copy (when building; parent is the copy of el's parent).
func (c *c14n) element(el *etree.Element, parent *etree.Element) (*etree.Element, error) {
	mark := c.push(el)

	// Visibly utilised prefixes: the element's own, those of its attributes, and the inclusive
	// ones in scope.
	used := append(c.used[:0], el.Space)
	attrs := c.attrs[:0]
	for _, a := range el.Attr {
		if _, ok := nsDecl(a); ok {
			continue
		}
		at := c14nAttr{local: a.Key, value: a.Value}
		if a.Space != "" {
			uri, ok := top(c.scope[a.Space])
			if !ok {
				return nil, fmt.Errorf("c14n: attribute %s:%s on <%s>: namespace prefix %q is not declared", a.Space, a.Key, el.FullTag(), a.Space)
			}
			at.uri, at.space = uri, a.Space
			if a.Space != "xml" {
				used = append(used, a.Space)
			}
		}
		attrs = append(attrs, at)
	}
	for _, p := range c.inclusive {
		if _, ok := top(c.scope[p]); ok && p != "xml" {
			used = append(used, p)
		}
	}
	slices.Sort(used) // "" (the default namespace) sorts first, as the rules require
	used = slices.Compact(used)
	c.used = used
	// Of those, the ones the output must declare here, kept on c.decls until el is closed.
	dmark := len(c.decls)
	for _, p := range used {
		uri, ok := top(c.scope[p])
		if !ok && p != "" {
			return nil, fmt.Errorf("c14n: <%s>: namespace prefix %q is not declared", el.FullTag(), p)
		}
		prev, done := top(c.rendered[p])
		if p == "" {
			// The empty default namespace is rendered only to undo a non-empty one above.
			if uri == prev {
				continue
			}
		} else if done && prev == uri {
			continue
		}
		c.decls = append(c.decls, p)
	}
	decls := c.decls[dmark:]
	slices.SortStableFunc(attrs, func(a, b c14nAttr) int {
		if a.uri != b.uri {
			return strings.Compare(a.uri, b.uri)
		}
		return strings.Compare(a.local, b.local)
	})
	c.attrs = attrs

	var cp *etree.Element
	if c.build && !c.noCopy {
		if len(decls)+len(attrs) > maxCopyAttrs {
			c.noCopy = true
		} else {
			cp = etree.NewElement("")
			cp.Space, cp.Tag = el.Space, el.Tag
			if parent != nil {
				parent.AddChild(cp)
			}
		}
	}

	w := c.w
	w.WriteByte('<')
	writeName(w, el.Space, el.Tag)
	for _, p := range decls {
		uri, _ := top(c.scope[p])
		c.rendered[p] = append(c.rendered[p], uri)
		if p == "" {
			w.WriteString(` xmlns="`)
		} else {
			w.WriteString(` xmlns:`)
			w.WriteString(p)
			w.WriteString(`="`)
		}
		escapeC14N(w, uri, true)
		w.WriteByte('"')
		if cp != nil {
			if p == "" {
				copyAttr(cp, "", "xmlns", uri)
			} else {
				copyAttr(cp, "xmlns", p, uri)
			}
		}
	}
	for _, a := range attrs {
		w.WriteByte(' ')
		writeName(w, a.space, a.local)
		w.WriteString(`="`)
		escapeC14N(w, a.value, true)
		w.WriteByte('"')
		if cp != nil {
			copyAttr(cp, a.space, a.local, a.value)
		}
	}
	w.WriteByte('>')
	for _, tok := range el.Child {
		switch t := tok.(type) {
		case *etree.Element:
			if cp != nil {
				c.flushText(cp)
			}
			if _, err := c.element(t, cp); err != nil {
				return nil, err
			}
		case *etree.CharData:
			escapeC14N(w, t.Data, false)
			if cp != nil && t.Data != "" {
				c.text = append(c.text, t.Data)
			}
		case *etree.ProcInst:
			w.WriteString("<?")
			w.WriteString(t.Target)
			if t.Inst != "" {
				w.WriteByte(' ')
				w.WriteString(t.Inst)
			}
			w.WriteString("?>")
			c.noCopy = true
		case *etree.Comment:
			// exclusive c14n without comments
		case *etree.Directive:
			return nil, fmt.Errorf("c14n: <%s> contains a directive", el.FullTag())
		}
	}
	if cp != nil {
		c.flushText(cp)
	}
	w.WriteString("</")
	writeName(w, el.Space, el.Tag)
	w.WriteByte('>')

	for _, p := range c.decls[dmark:] {
		s := c.rendered[p]
		c.rendered[p] = s[:len(s)-1]
	}
	c.decls = c.decls[:dmark]
	c.pop(mark)
	return cp, nil
}

// flushText adds to the copy cp the text gathered since its last child element, merged into one
// as a parser would read it. c.text is empty again after: a child element is entered only after
// its parent's text was flushed, and leaves none behind.
func (c *c14n) flushText(cp *etree.Element) {
	switch len(c.text) {
	case 0:
		return
	case 1:
		cp.CreateText(c.text[0]).SetData(c.text[0]) // SetData: the white-space flag, as parsed
	default:
		s := strings.Join(c.text, "")
		cp.CreateText(s).SetData(s)
	}
	clear(c.text)
	c.text = c.text[:0]
}

// copyAttr adds an attribute to el with its prefix and local name exactly as given: CreateAttr
// would split a key such as ":a" or "a:" differently from the parser, and would merge two
// attributes whose keys it splits alike. A key no attribute can have makes it append.
func copyAttr(el *etree.Element, space, local, value string) {
	a := el.CreateAttr("\x00", value)
	a.Space, a.Key = space, local
}

func writeName(w c14nSink, space, local string) {
	if space != "" {
		w.WriteString(space)
		w.WriteByte(':')
	}
	w.WriteString(local)
}

// escapeC14N writes s with the character references of Canonical XML: in text &, <, > and CR; in
// attribute values &, <, ", TAB, LF and CR. Runs without any are written in one piece.
func escapeC14N(w c14nSink, s string, attr bool) {
	special := "&<>\r"
	if attr {
		special = "&<\"\t\n\r"
	}
	for {
		i := strings.IndexAny(s, special)
		if i < 0 {
			w.WriteString(s)
			return
		}
		w.WriteString(s[:i])
		switch s[i] {
		case '&':
			w.WriteString("&amp;")
		case '<':
			w.WriteString("&lt;")
		case '>':
			w.WriteString("&gt;")
		case '"':
			w.WriteString("&quot;")
		case '\t':
			w.WriteString("&#x9;")
		case '\n':
			w.WriteString("&#xA;")
		case '\r':
			w.WriteString("&#xD;")
		}
		s = s[i+1:]
	}
}

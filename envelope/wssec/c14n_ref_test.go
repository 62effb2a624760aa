package wssec

import (
	"bytes"
	"fmt"
	"sort"
	"strings"

	"github.com/beevik/etree"
)

// The exclusive C14N Porta used before the streaming one in c14n.go (map copies per element, one
// buffer per subtree), kept as the reference the new one is compared with byte for byte.

// canonicalizeRef returns the Exclusive XML Canonicalization 1.0 (without comments) of the subtree
// rooted at el, as the document subset "el and all its descendants". Namespaces in scope are
// taken from el's ancestors in its document, so el need not be detached (and is never modified).
// inclusive is the InclusiveNamespaces PrefixList ("#default" names the default namespace).
//
// It is Porta's own implementation, linear in the size of the subtree and without the element
// budget of goxmldsig's etreeutils; it fails only on a prefix that is used but not declared.
func canonicalizeRef(el *etree.Element, inclusive []string) ([]byte, error) {
	scope := map[string]string{"xml": nsXML}
	var chain []*etree.Element
	for p := el.Parent(); p != nil; p = p.Parent() {
		chain = append(chain, p)
	}
	for i := len(chain) - 1; i >= 0; i-- {
		addDeclsRef(scope, chain[i])
	}
	c := &c14nRef{inclusive: map[string]bool{}}
	for _, p := range inclusive {
		if p == "#default" {
			p = ""
		}
		c.inclusive[p] = true
	}
	if err := c.element(el, scope, map[string]string{}); err != nil {
		return nil, err
	}
	return c.buf.Bytes(), nil
}

type c14nRef struct {
	buf       bytes.Buffer
	inclusive map[string]bool
}

// addDeclsRef adds el's namespace declarations to scope ("" is the default namespace).
func addDeclsRef(scope map[string]string, el *etree.Element) {
	for _, a := range el.Attr {
		switch {
		case a.Space == "xmlns":
			scope[a.Key] = a.Value
		case a.Space == "" && a.Key == "xmlns":
			scope[""] = a.Value
		}
	}
}

func hasDeclsRef(el *etree.Element) bool {
	for _, a := range el.Attr {
		if a.Space == "xmlns" || (a.Space == "" && a.Key == "xmlns") {
			return true
		}
	}
	return false
}

func copyMapRef(m map[string]string) map[string]string {
	n := make(map[string]string, len(m)+2)
	for k, v := range m {
		n[k] = v
	}
	return n
}

type c14nRefAttr struct {
	uri, local, qname, value string
}

// element writes el; scope holds the namespaces in scope at el's parent, rendered those the
// output has declared so far (by output ancestors).
func (c *c14nRef) element(el *etree.Element, scope, rendered map[string]string) error {
	if hasDeclsRef(el) {
		scope = copyMapRef(scope)
		addDeclsRef(scope, el)
	}
	// Visibly utilised prefixes: the element's own and those of its attributes.
	used := map[string]bool{el.Space: true}
	var attrs []c14nRefAttr
	for _, a := range el.Attr {
		if a.Space == "xmlns" || (a.Space == "" && a.Key == "xmlns") {
			continue
		}
		at := c14nRefAttr{local: a.Key, qname: a.Key, value: a.Value}
		if a.Space != "" {
			uri, ok := scope[a.Space]
			if !ok {
				return fmt.Errorf("c14nRef: attribute %s:%s on <%s>: namespace prefix %q is not declared", a.Space, a.Key, el.FullTag(), a.Space)
			}
			at.uri, at.qname = uri, a.Space+":"+a.Key
			if a.Space != "xml" {
				used[a.Space] = true
			}
		}
		attrs = append(attrs, at)
	}
	for p := range c.inclusive {
		if _, ok := scope[p]; ok && p != "xml" {
			used[p] = true
		}
	}
	var decls []string
	for p := range used {
		uri, ok := scope[p]
		if !ok && p != "" {
			return fmt.Errorf("c14nRef: <%s>: namespace prefix %q is not declared", el.FullTag(), p)
		}
		prev, done := rendered[p]
		if p == "" {
			// The empty default namespace is rendered only to undo a non-empty one above.
			if uri == prev {
				continue
			}
		} else if done && prev == uri {
			continue
		}
		decls = append(decls, p)
	}
	if len(decls) > 0 {
		rendered = copyMapRef(rendered)
	}
	sort.Strings(decls) // "" (the default namespace) sorts first, as the rules require
	sort.Slice(attrs, func(i, j int) bool {
		if attrs[i].uri != attrs[j].uri {
			return attrs[i].uri < attrs[j].uri
		}
		return attrs[i].local < attrs[j].local
	})

	b := &c.buf
	b.WriteByte('<')
	b.WriteString(el.FullTag())
	for _, p := range decls {
		uri := scope[p]
		rendered[p] = uri
		if p == "" {
			b.WriteString(` xmlns="`)
		} else {
			b.WriteString(` xmlns:`)
			b.WriteString(p)
			b.WriteString(`="`)
		}
		escapeC14NRef(b, uri, true)
		b.WriteByte('"')
	}
	for _, a := range attrs {
		b.WriteByte(' ')
		b.WriteString(a.qname)
		b.WriteString(`="`)
		escapeC14NRef(b, a.value, true)
		b.WriteByte('"')
	}
	b.WriteByte('>')
	for _, tok := range el.Child {
		switch t := tok.(type) {
		case *etree.Element:
			if err := c.element(t, scope, rendered); err != nil {
				return err
			}
		case *etree.CharData:
			escapeC14NRef(b, t.Data, false)
		case *etree.ProcInst:
			b.WriteString("<?")
			b.WriteString(t.Target)
			if t.Inst != "" {
				b.WriteByte(' ')
				b.WriteString(t.Inst)
			}
			b.WriteString("?>")
		case *etree.Comment:
			// exclusive c14nRef without comments
		case *etree.Directive:
			return fmt.Errorf("c14nRef: <%s> contains a directive", el.FullTag())
		}
	}
	b.WriteString("</")
	b.WriteString(el.FullTag())
	b.WriteByte('>')
	return nil
}

// escapeC14NRef writes s with the character references of Canonical XML: in text &, <, > and CR; in
// attribute values &, <, ", TAB, LF and CR.
func escapeC14NRef(b *bytes.Buffer, s string, attr bool) {
	if !strings.ContainsAny(s, "&<>\"\t\n\r") {
		b.WriteString(s)
		return
	}
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch == '&':
			b.WriteString("&amp;")
		case ch == '<':
			b.WriteString("&lt;")
		case ch == '>' && !attr:
			b.WriteString("&gt;")
		case ch == '"' && attr:
			b.WriteString("&quot;")
		case ch == '\t' && attr:
			b.WriteString("&#x9;")
		case ch == '\n' && attr:
			b.WriteString("&#xA;")
		case ch == '\r':
			b.WriteString("&#xD;")
		default:
			b.WriteByte(ch)
		}
	}
}

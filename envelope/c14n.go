package envelope

import (
	"bytes"
	"fmt"
	"sort"
	"strings"

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

// canonicalize returns the Exclusive XML Canonicalization 1.0 (without comments) of the subtree
// rooted at el, as the document subset "el and all its descendants". Namespaces in scope are
// taken from el's ancestors in its document, so el need not be detached (and is never modified).
// inclusive is the InclusiveNamespaces PrefixList ("#default" names the default namespace).
//
// It is Porta's own implementation, linear in the size of the subtree and without the element
// budget of goxmldsig's etreeutils; it fails only on a prefix that is used but not declared.
func canonicalize(el *etree.Element, inclusive []string) ([]byte, error) {
	scope := map[string]string{"xml": nsXML}
	var chain []*etree.Element
	for p := el.Parent(); p != nil; p = p.Parent() {
		chain = append(chain, p)
	}
	for i := len(chain) - 1; i >= 0; i-- {
		addDecls(scope, chain[i])
	}
	c := &c14n{inclusive: map[string]bool{}}
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

type c14n struct {
	buf       bytes.Buffer
	inclusive map[string]bool
}

// addDecls adds el's namespace declarations to scope ("" is the default namespace).
func addDecls(scope map[string]string, el *etree.Element) {
	for _, a := range el.Attr {
		switch {
		case a.Space == "xmlns":
			scope[a.Key] = a.Value
		case a.Space == "" && a.Key == "xmlns":
			scope[""] = a.Value
		}
	}
}

func hasDecls(el *etree.Element) bool {
	for _, a := range el.Attr {
		if a.Space == "xmlns" || (a.Space == "" && a.Key == "xmlns") {
			return true
		}
	}
	return false
}

func copyMap(m map[string]string) map[string]string {
	n := make(map[string]string, len(m)+2)
	for k, v := range m {
		n[k] = v
	}
	return n
}

type c14nAttr struct {
	uri, local, qname, value string
}

// element writes el; scope holds the namespaces in scope at el's parent, rendered those the
// output has declared so far (by output ancestors).
func (c *c14n) element(el *etree.Element, scope, rendered map[string]string) error {
	if hasDecls(el) {
		scope = copyMap(scope)
		addDecls(scope, el)
	}
	// Visibly utilised prefixes: the element's own and those of its attributes.
	used := map[string]bool{el.Space: true}
	var attrs []c14nAttr
	for _, a := range el.Attr {
		if a.Space == "xmlns" || (a.Space == "" && a.Key == "xmlns") {
			continue
		}
		at := c14nAttr{local: a.Key, qname: a.Key, value: a.Value}
		if a.Space != "" {
			uri, ok := scope[a.Space]
			if !ok {
				return fmt.Errorf("c14n: attribute %s:%s on <%s>: namespace prefix %q is not declared", a.Space, a.Key, el.FullTag(), a.Space)
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
			return fmt.Errorf("c14n: <%s>: namespace prefix %q is not declared", el.FullTag(), p)
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
		rendered = copyMap(rendered)
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
		escapeC14N(b, uri, true)
		b.WriteByte('"')
	}
	for _, a := range attrs {
		b.WriteByte(' ')
		b.WriteString(a.qname)
		b.WriteString(`="`)
		escapeC14N(b, a.value, true)
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
			escapeC14N(b, t.Data, false)
		case *etree.ProcInst:
			b.WriteString("<?")
			b.WriteString(t.Target)
			if t.Inst != "" {
				b.WriteByte(' ')
				b.WriteString(t.Inst)
			}
			b.WriteString("?>")
		case *etree.Comment:
			// exclusive c14n without comments
		case *etree.Directive:
			return fmt.Errorf("c14n: <%s> contains a directive", el.FullTag())
		}
	}
	b.WriteString("</")
	b.WriteString(el.FullTag())
	b.WriteByte('>')
	return nil
}

// escapeC14N writes s with the character references of Canonical XML: in text &, <, > and CR; in
// attribute values &, <, ", TAB, LF and CR.
func escapeC14N(b *bytes.Buffer, s string, attr bool) {
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

// normalizeAttrSpace applies XML 1.0 attribute-value normalization (§3.3.3, all attributes being
// CDATA without a DTD) that encoding/xml leaves out: a literal TAB, LF, CR or CR LF inside an
// attribute value becomes one space. Character references such as &#10; are untouched, as the
// specification requires. Without it, an attribute written across lines by another stack would
// canonicalize to &#xA; here and to a space in libxml2, and a valid signature would fail.
// Comments, CDATA sections and processing instructions are skipped whole; malformed input is
// returned as it is, for the parser to report.
func normalizeAttrSpace(data []byte) []byte {
	var out []byte
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
		return data
	}
	return append(out, data[last:]...)
}

package xmlsafe

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// tally counts what Limits caps as a reader meets it, start tag by start tag, and names the cap
// passed first. The fast reader feeds it as it builds the tree; the reference path, whose
// decoder and tree cannot be stopped half-way, feeds it from scanLimits before decoding. Both
// count the same things, so a document is refused by one reader exactly when by the other.
type tally struct {
	lim                        Limits
	elements, attrs, nameBytes int
}

// element counts a start tag of qualified name qname at depth (the root is at 1).
func (t *tally) element(qname string, depth int) error {
	t.elements++
	switch {
	case t.lim.MaxDepth > 0 && depth > t.lim.MaxDepth:
		return &Error{Reason: fmt.Sprintf("elements nested deeper than %d (at <%s>)", t.lim.MaxDepth, qname), Limit: "MaxDepth"}
	case t.lim.MaxElements > 0 && t.elements > t.lim.MaxElements:
		return &Error{Reason: fmt.Sprintf("more than %d elements", t.lim.MaxElements), Limit: "MaxElements"}
	}
	return t.names(len(qname))
}

// text is what the readers hold a document in: the fast reader a string, the scan bytes.
type text interface{ ~string | ~[]byte }

// countAttr counts the nth attribute (from 1) of element elem, of qualified name qname and raw
// value raw (as written between the quotes).
func countAttr[S text](t *tally, elem string, qname S, n int, raw S) error {
	t.attrs++
	switch {
	case t.lim.MaxAttrsPerElement > 0 && n > t.lim.MaxAttrsPerElement:
		return &Error{Reason: fmt.Sprintf("more than %d attributes on <%s>", t.lim.MaxAttrsPerElement, elem), Limit: "MaxAttrsPerElement"}
	case t.lim.MaxAttrs > 0 && t.attrs > t.lim.MaxAttrs:
		return &Error{Reason: fmt.Sprintf("more than %d attributes", t.lim.MaxAttrs), Limit: "MaxAttrs"}
	}
	size := len(qname)
	if string(qname) == "xmlns" || len(qname) > 6 && string(qname[:6]) == "xmlns:" {
		size += valueLen(raw)
	}
	return t.names(size)
}

func (t *tally) names(n int) error {
	t.nameBytes += n
	if t.lim.MaxNameBytes > 0 && t.nameBytes > t.lim.MaxNameBytes {
		return &Error{Reason: fmt.Sprintf("more than %d bytes of element, attribute and namespace names", t.lim.MaxNameBytes), Limit: "MaxNameBytes"}
	}
	return nil
}

// valueLen is the length of an attribute value as read from raw, its text between the quotes:
// each reference counts as the character it stands for, CR LF as one character (see
// normalizeAttrSpace), every other byte as itself. Malformed references count as written: the
// reader refuses them anyway.
func valueLen[S text](raw S) int {
	n := 0
	for i := 0; i < len(raw); i++ {
		switch raw[i] {
		case '&':
			semi := i + 1
			for semi < len(raw) && raw[semi] != ';' {
				semi++
			}
			if semi == len(raw) {
				n++
				continue
			}
			n += refLen(string(raw[i+1 : semi]))
			i = semi
		case '\r':
			n++
			if i+1 < len(raw) && raw[i+1] == '\n' {
				i++
			}
		default:
			n++
		}
	}
	return n
}

// refLen is the length in UTF-8 of the character a reference (without & and ;) stands for.
func refLen(ref string) int {
	if !strings.HasPrefix(ref, "#") {
		return 1 // lt, gt, amp, apos, quot; any other is an error
	}
	digits, base := ref[1:], 10
	if strings.HasPrefix(digits, "x") {
		digits, base = digits[1:], 16
	}
	r, err := strconv.ParseUint(digits, base, 32)
	if err != nil || r > utf8.MaxRune {
		return len(ref) + 2
	}
	if n := utf8.RuneLen(rune(r)); n > 0 {
		return n
	}
	return 3 // a surrogate, refused by both readers
}

// counts reports whether lim caps anything scanLimits counts.
func (lim Limits) counts() bool {
	return lim.MaxDepth > 0 || lim.MaxElements > 0 || lim.MaxAttrsPerElement > 0 || lim.MaxAttrs > 0 || lim.MaxNameBytes > 0
}

// scanLimits holds data to lim's caps on depth, elements, attributes and names before the
// reference path decodes it: encoding/xml and etree would otherwise build every token and the
// whole tree first. It reads start and end tags as the fast reader does, skipping comments,
// CDATA sections, processing instructions and text; on markup it cannot read it stops and
// returns nil, leaving the error to the decoder (which stops there too).
func scanLimits(data []byte, lim Limits) error {
	if !lim.counts() {
		return nil
	}
	t := tally{lim: lim}
	depth := 0
	n := len(data)
	for i := 0; i < n; {
		j := bytes.IndexByte(data[i:], '<')
		if j < 0 {
			return nil
		}
		i += j
		if i+1 >= n {
			return nil
		}
		switch data[i+1] {
		case '!', '?':
			i = skipMarkup(data, i)
			continue
		case '/':
			depth--
			i = skipMarkup(data, i)
			continue
		}
		k := i + 1
		elem := string(data[k : k+tagNameLen(data[k:])])
		if elem == "" {
			return nil
		}
		k += len(elem)
		depth++
		if err := t.element(elem, depth); err != nil {
			return err
		}
		for attrs := 1; ; attrs++ {
			for k < n && isSpaceByte(data[k]) {
				k++
			}
			if k >= n {
				return nil
			}
			if data[k] == '>' {
				k++
				break
			}
			if data[k] == '/' {
				if k+1 >= n || data[k+1] != '>' {
					return nil
				}
				depth--
				k += 2
				break
			}
			name := data[k : k+tagNameLen(data[k:])]
			if len(name) == 0 {
				return nil
			}
			k += len(name)
			for k < n && isSpaceByte(data[k]) {
				k++
			}
			if k >= n || data[k] != '=' {
				return nil
			}
			k++
			for k < n && isSpaceByte(data[k]) {
				k++
			}
			if k >= n || data[k] != '"' && data[k] != '\'' {
				return nil
			}
			end := bytes.IndexByte(data[k+1:], data[k])
			if end < 0 {
				return nil
			}
			raw := data[k+1 : k+1+end]
			k += end + 2
			if err := countAttr(&t, elem, name, attrs, raw); err != nil {
				return err
			}
		}
		i = k
	}
	return nil
}

// tagNameLen is the length of the name b starts with, in a start tag: up to white space, '=',
// '/', '>', a quote or '<'.
func tagNameLen(b []byte) int {
	for i, c := range b {
		switch c {
		case ' ', '\t', '\n', '\r', '=', '/', '>', '"', '\'', '<':
			return i
		}
	}
	return len(b)
}

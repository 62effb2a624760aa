// Package swa reads and writes SOAP with Attachments messages (SOAP 1.1 over MIME
// multipart/related, W3C Note 2000-12-11): the root part holding the SOAP envelope and the
// attachments, each named by its Content-ID.
//
// It owns only the MIME framing: it knows neither WS-Security nor the eGov busta. Reading does not
// copy: the parts of a parsed message are slices of the bytes given (except parts in base64 or
// quoted-printable, decoded once), so a caller that caps the message caps everything.
package swa

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"net/textproto"
	"strings"
)

// MaxParts is the most parts Parse accepts in one message.
const MaxParts = 256

// Part is one MIME part.
type Part struct {
	ContentID   string // without angle brackets
	ContentType string
	// Header is every header of the part as read (Content-Transfer-Encoding included); Write
	// writes ContentID and ContentType, plus Content-Description and Content-Disposition from it.
	Header  textproto.MIMEHeader
	Content []byte // the content, transfer encoding undone
}

// Message is a SOAP with Attachments message.
type Message struct {
	Root        Part // the SOAP envelope
	Attachments []Part
}

// IsMultipart reports whether contentType is multipart/related.
func IsMultipart(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == "multipart/related"
}

// Parse reads body, whose Content-Type header is contentType, as multipart/related. The root part
// is the one named by the start parameter, else the first; its type must be text/xml (SOAP 1.1).
// Parts need a Content-ID, unique in the message (the root may go without).
func Parse(contentType string, body []byte) (*Message, error) {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return nil, fmt.Errorf("Content-Type %q: %v", contentType, err)
	}
	if mt != "multipart/related" {
		return nil, fmt.Errorf("Content-Type %s is not multipart/related", mt)
	}
	if t := params["type"]; t != "" && !strings.EqualFold(t, "text/xml") {
		return nil, fmt.Errorf("multipart/related of type %q: SOAP 1.1 with attachments wants type=\"text/xml\"", t)
	}
	boundary := params["boundary"]
	if boundary == "" || len(boundary) > 70 {
		return nil, errors.New("multipart/related without a valid boundary parameter")
	}
	raw, err := split(body, boundary)
	if err != nil {
		return nil, err
	}
	start := strings.Trim(params["start"], "<>")
	var m Message
	root := -1
	seen := map[string]bool{}
	parts := make([]Part, 0, len(raw))
	for i, r := range raw {
		p, err := readPart(r)
		if err != nil {
			return nil, fmt.Errorf("MIME part %d: %w", i+1, err)
		}
		if p.ContentID != "" {
			if seen[p.ContentID] {
				return nil, fmt.Errorf("MIME part %d: Content-ID <%s> is used twice", i+1, p.ContentID)
			}
			seen[p.ContentID] = true
		}
		if root < 0 && (start == "" || p.ContentID == start) {
			root = i
		}
		parts = append(parts, p)
	}
	if root < 0 {
		return nil, fmt.Errorf("no MIME part has the start Content-ID <%s>", start)
	}
	m.Root = parts[root]
	if rt, _, _ := mime.ParseMediaType(m.Root.ContentType); rt != "text/xml" {
		return nil, fmt.Errorf("the root part is %q, want text/xml", m.Root.ContentType)
	}
	for i, p := range parts {
		if i == root {
			continue
		}
		if p.ContentID == "" {
			return nil, fmt.Errorf("MIME part %d has no Content-ID: an attachment must be named", i+1)
		}
		m.Attachments = append(m.Attachments, p)
	}
	return &m, nil
}

// split returns the parts of a multipart body (headers and content, delimiters removed), as
// slices of body. Line breaks may be CRLF or LF.
func split(body []byte, boundary string) ([][]byte, error) {
	delim := []byte("--" + boundary)
	// The first delimiter: at the start or after a line break (a preamble is allowed).
	i := 0
	if !bytes.HasPrefix(body, delim) {
		j := bytes.Index(body, append([]byte("\n"), delim...))
		if j < 0 {
			return nil, fmt.Errorf("no MIME boundary %q in the message", boundary)
		}
		i = j + 1
	}
	var parts [][]byte
	next := append([]byte("\n"), delim...)
	for {
		i += len(delim)
		rest := body[i:]
		if bytes.HasPrefix(rest, []byte("--")) {
			return parts, nil
		}
		// Transport padding, then the line break that ends the delimiter line.
		k := 0
		for k < len(rest) && (rest[k] == ' ' || rest[k] == '\t') {
			k++
		}
		switch {
		case bytes.HasPrefix(rest[k:], []byte("\r\n")):
			k += 2
		case bytes.HasPrefix(rest[k:], []byte("\n")):
			k++
		default:
			return nil, errors.New("a MIME boundary line is not followed by a line break")
		}
		start := i + k
		end := bytes.Index(body[start:], next)
		if end < 0 {
			return nil, errors.New("the multipart message has no closing boundary")
		}
		end += start
		i = end + 1
		if end > start && body[end-1] == '\r' {
			end--
		}
		if len(parts) == MaxParts {
			return nil, fmt.Errorf("more than %d MIME parts", MaxParts)
		}
		parts = append(parts, body[start:end:end])
	}
}

// readPart splits a part into headers and content and undoes the transfer encoding.
func readPart(raw []byte) (Part, error) {
	var hdr, content []byte
	switch {
	case bytes.HasPrefix(raw, []byte("\r\n")):
		content = raw[2:]
	case bytes.HasPrefix(raw, []byte("\n")):
		content = raw[1:]
	default:
		j, n := bytes.Index(raw, []byte("\r\n\r\n")), 4
		if k := bytes.Index(raw, []byte("\n\n")); k >= 0 && (j < 0 || k < j) {
			j, n = k, 2
		}
		if j < 0 {
			return Part{}, errors.New("headers not ended by an empty line")
		}
		hdr, content = raw[:j+n], raw[j+n:]
	}
	h := textproto.MIMEHeader{}
	if len(hdr) > 0 {
		var err error
		if h, err = textproto.NewReader(bufio.NewReader(bytes.NewReader(hdr))).ReadMIMEHeader(); err != nil {
			return Part{}, fmt.Errorf("headers: %v", err)
		}
	}
	p := Part{ContentID: strings.Trim(strings.TrimSpace(h.Get("Content-ID")), "<>"), ContentType: h.Get("Content-Type"), Header: h, Content: content}
	switch cte := strings.ToLower(strings.TrimSpace(h.Get("Content-Transfer-Encoding"))); cte {
	case "", "binary", "8bit", "7bit":
	case "base64":
		d := make([]byte, base64.StdEncoding.DecodedLen(len(content)))
		clean := bytes.Map(func(r rune) rune {
			if r == '\r' || r == '\n' || r == ' ' || r == '\t' {
				return -1
			}
			return r
		}, content)
		n, err := base64.StdEncoding.Decode(d, clean)
		if err != nil {
			return Part{}, fmt.Errorf("base64 content: %v", err)
		}
		p.Content = d[:n]
	case "quoted-printable":
		d, err := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(content)))
		if err != nil {
			return Part{}, fmt.Errorf("quoted-printable content: %v", err)
		}
		p.Content = d
	default:
		return Part{}, fmt.Errorf("Content-Transfer-Encoding %q is not supported", cte)
	}
	return p, nil
}

// Write writes m as multipart/related (binary parts, the root first and named by start) to w and
// returns the Content-Type header to send with it. A root without a Content-ID is given one.
func (m *Message) Write(w io.Writer) (contentType string, err error) {
	ct, boundary, err := m.prepare()
	if err != nil {
		return "", err
	}
	return ct, m.write(w, boundary)
}

// prepare chooses the boundary, names the root and returns the Content-Type.
func (m *Message) prepare() (contentType, boundary string, err error) {
	var rnd [12]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return "", "", err
	}
	boundary = "MIMEBoundary_porta_" + hex.EncodeToString(rnd[:])
	if m.Root.ContentID == "" {
		m.Root.ContentID = "root." + hex.EncodeToString(rnd[:6]) + "@porta"
	}
	if m.Root.ContentType == "" {
		m.Root.ContentType = "text/xml; charset=utf-8"
	}
	ct := mime.FormatMediaType("multipart/related", map[string]string{"type": "text/xml", "boundary": boundary, "start": "<" + m.Root.ContentID + ">"})
	return ct, boundary, nil
}

func (m *Message) write(w io.Writer, boundary string) error {
	bw := bufio.NewWriter(w)
	for _, p := range append([]Part{m.Root}, m.Attachments...) {
		fmt.Fprintf(bw, "--%s\r\nContent-Type: %s\r\nContent-Transfer-Encoding: binary\r\nContent-ID: <%s>\r\n", boundary, p.ContentType, p.ContentID)
		for _, k := range []string{"Content-Description", "Content-Disposition"} {
			if v := p.Header.Get(k); v != "" {
				fmt.Fprintf(bw, "%s: %s\r\n", k, v)
			}
		}
		bw.WriteString("\r\n")
		bw.Write(p.Content)
		bw.WriteString("\r\n")
	}
	fmt.Fprintf(bw, "--%s--\r\n", boundary)
	return bw.Flush()
}

// size is about the length Write writes.
func (m *Message) size() int {
	n := len(m.Root.Content) + 512
	for _, p := range m.Attachments {
		n += len(p.Content) + 256
	}
	return n
}

// Bytes is Write into a buffer sized for m.
func (m *Message) Bytes() (contentType string, body []byte, err error) {
	var b bytes.Buffer
	b.Grow(m.size())
	ct, err := m.Write(&b)
	return ct, b.Bytes(), err
}

// Framed is Frame(m.Bytes()) written once: the parts are copied a single time.
func (m *Message) Framed() ([]byte, error) {
	ct, boundary, err := m.prepare()
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.Grow(len(framePrefix) + len(ct) + 4 + m.size())
	b.WriteString(framePrefix + ct + "\r\n\r\n")
	if err := m.write(&b, boundary); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Find returns the attachment with Content-ID id.
func (m *Message) Find(id string) (*Part, bool) {
	for i := range m.Attachments {
		if m.Attachments[i].ContentID == id {
			return &m.Attachments[i], true
		}
	}
	return nil, false
}

// framePrefix starts a framed message: a MIME entity with its Content-Type header.
const framePrefix = "Content-Type: "

// Frame returns body with its Content-Type in front, for a queue that stores bytes only; a
// text/xml envelope (contentType "") is stored as it is. Unframe reverses it.
func Frame(contentType string, body []byte) []byte {
	if contentType == "" {
		return body
	}
	b := make([]byte, 0, len(framePrefix)+len(contentType)+4+len(body))
	b = append(b, framePrefix...)
	b = append(b, contentType...)
	b = append(b, "\r\n\r\n"...)
	return append(b, body...)
}

// Unframe splits what Frame wrote: the Content-Type ("" for a plain SOAP envelope) and the body,
// a slice of data.
func Unframe(data []byte) (contentType string, body []byte) {
	if !bytes.HasPrefix(data, []byte(framePrefix)) {
		return "", data
	}
	i := bytes.Index(data, []byte("\r\n\r\n"))
	if i < 0 {
		return "", data
	}
	return string(data[len(framePrefix):i]), data[i+4:]
}

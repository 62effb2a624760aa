package wssec

import (
	"bytes"
	"crypto"
	"crypto/hmac"
	"fmt"
	"io"
	"mime"
	"strings"

	"porta/internal/xmlsafe"
)

// SOAP Messages with Attachments: the OASIS WSS SwA profile 1.1 (1.1.1, §5). An attachment is
// referenced from SignedInfo as URI="cid:<Content-ID>" with exactly one transform,
// AlgSwAContent: the digest covers the attachment's content (after the Content-Transfer-Encoding
// is undone), canonicalised by its media type (§5.4.2 as WSS4J 2.x implements it):
//
//   - XML media types (text/xml, application/xml, application/*+xml, image/*+xml): Exclusive XML
//     Canonicalization 1.0 without comments, no InclusiveNamespaces;
//   - other text/* types: every line break (CR, LF or CRLF) written as CRLF (RFC 2046 §4.1.1);
//   - anything else: the octets as they are.
//
// The MIME headers are not covered by this transform (AlgSwAComplete, which covers them, is not
// accepted): a changed Content-Type that changes the canonicalisation changes the digest.

// AlgSwAContent is the SwA profile 1.1 Attachment-Content-Signature-Transform.
const AlgSwAContent = "http://docs.oasis-open.org/wss/oasis-wss-SwAProfile-1.1#Attachment-Content-Signature-Transform"

// Attachment is one MIME part of a SOAP with Attachments message as this package signs and
// verifies it. Content is not copied: the caller keeps it unchanged while it is in use.
type Attachment struct {
	ContentID   string // the Content-ID without its angle brackets, as a cid: URI names it
	ContentType string // the part's Content-Type header; empty means application/octet-stream
	Content     []byte // the octets, Content-Transfer-Encoding undone
}

// WriteAttachmentContent writes to w what the Attachment-Content-Signature-Transform outputs for
// a: the octets that are digested.
func WriteAttachmentContent(w io.Writer, a Attachment) error {
	mt, _, err := mime.ParseMediaType(a.ContentType)
	if a.ContentType == "" {
		mt, err = "application/octet-stream", nil
	}
	if err != nil {
		return fmt.Errorf("attachment cid:%s: Content-Type %q: %v", a.ContentID, a.ContentType, err)
	}
	switch {
	case isXMLMediaType(mt):
		doc, err := xmlsafe.Parse(a.Content, xmlsafe.DefaultLimits)
		if err != nil {
			return fmt.Errorf("attachment cid:%s: %s content: %v", a.ContentID, mt, err)
		}
		c, err := canonicalize(doc.Root(), nil)
		if err != nil {
			return fmt.Errorf("attachment cid:%s: %v", a.ContentID, err)
		}
		_, err = w.Write(c)
		return err
	case strings.HasPrefix(mt, "text/"):
		return writeCRLF(w, a.Content)
	default:
		_, err := w.Write(a.Content)
		return err
	}
}

func isXMLMediaType(mt string) bool {
	return mt == "text/xml" || mt == "application/xml" ||
		((strings.HasPrefix(mt, "application/") || strings.HasPrefix(mt, "image/")) && strings.HasSuffix(mt, "+xml"))
}

// writeCRLF writes b with every CR, LF and CRLF as CRLF, in runs without copying b.
func writeCRLF(w io.Writer, b []byte) error {
	crlf := []byte("\r\n")
	for len(b) > 0 {
		i := bytes.IndexAny(b, "\r\n")
		if i < 0 {
			_, err := w.Write(b)
			return err
		}
		if _, err := w.Write(b[:i]); err != nil {
			return err
		}
		if _, err := w.Write(crlf); err != nil {
			return err
		}
		if b[i] == '\r' && i+1 < len(b) && b[i+1] == '\n' {
			i++
		}
		b = b[i+1:]
	}
	return nil
}

// attachmentDigest is the digest with h of a's transform output.
func attachmentDigest(h crypto.Hash, a Attachment) ([]byte, error) {
	d := h.New()
	if err := WriteAttachmentContent(d, a); err != nil {
		return nil, err
	}
	return d.Sum(nil), nil
}

// checkAttachments checks the attachment references of a verified SignedInfo against atts: each
// reference names one of them, every one of them is referenced once, and each digest matches.
func checkAttachments(refs []attachmentRef, atts []Attachment) error {
	byID := make(map[string]int, len(atts))
	for i, a := range atts {
		if _, dup := byID[a.ContentID]; dup {
			return dsigErr("Attachments", "two attachments have the Content-ID <%s>", a.ContentID)
		}
		byID[a.ContentID] = i
	}
	signed := make([]bool, len(atts))
	for _, r := range refs {
		pos := "Security/Signature/SignedInfo/Reference[cid:" + r.cid + "]"
		i, ok := byID[r.cid]
		if !ok {
			return dsigErr(pos, "cid:%s names no attachment of the message", r.cid)
		}
		signed[i] = true
		digest, err := attachmentDigest(r.hash, atts[i])
		if err != nil {
			return dsigErr(pos, "%v", err)
		}
		if !hmac.Equal(digest, r.digest) {
			return changedErr("Security/Signature", "digest of attachment cid:%s does not match: its content changed after signing", r.cid)
		}
	}
	for i, ok := range signed {
		if !ok {
			return policyErr("Security/Signature", "the attachment cid:%s is not signed (no Reference to it)", atts[i].ContentID)
		}
	}
	return nil
}

// attachmentRef is a SignedInfo Reference to an attachment.
type attachmentRef struct {
	cid    string
	hash   crypto.Hash
	digest []byte
}

package gateway

import (
	"context"
	"fmt"
	"net/http"

	"github.com/beevik/etree"

	"porta/envelope"
	"porta/envelope/wssec"
	"porta/internal/swa"
)

// SOAP with Attachments and the eGov Manifest (spec §12), at both ends.
//
// The PD takes from an application a multipart/related request (type="text/xml"): its SOAP
// envelope the root part, its attachments the other parts. The busta's Body then holds the
// Manifest: the application's Body content moves to a text/xml part referenced as
// href="cid:Request" role="Richiesta" (as GovWay's own test messages do), each attachment of the
// application is a Riferimento role="Allegato" whose eGov_IT:id is its Content-ID. Every part is
// signed (wssec SwA references); the busta goes out as multipart/related.
//
// The PA reads such a busta (stage "attachments"): the Manifest is checked (EGOV_IT_003, nothing
// delivered), the signature covers every part (stage "signature": a changed attachment is
// EGOV_IT_117), and the backend gets SwA again: the Richiesta part back in the Body, the other
// parts as attachments with their Content-IDs. The trace keeps the signed root envelope, whose
// SignedInfo holds each attachment's digest; parts are not stored.
//
// Queues store bytes only: a message with attachments is stored framed (swa.Frame) with its
// Content-Type.

// requestCID is the Content-ID of the part that carries the application's Body content.
const requestCID = "Request"

// withAttachments is the SwA side of a message moving through the PD or the PA.
type withAttachments struct {
	parts    []swa.Part         // as received, the Richiesta part included at the PA
	manifest *envelope.Manifest // at the PA, once checked
}

// wssecAttachments is what wssec signs and verifies of parts.
func wssecAttachments(parts []swa.Part) []wssec.Attachment {
	out := make([]wssec.Attachment, len(parts))
	for i, p := range parts {
		out[i] = wssec.Attachment{ContentID: p.ContentID, ContentType: p.ContentType, Content: p.Content}
	}
	return out
}

// readMessage reads a request body that may be SwA: it returns the root SOAP envelope's bytes and
// the attachments (nil for text/xml).
func readMessage(r *http.Request, raw []byte) (root []byte, parts []swa.Part, err error) {
	ct := r.Header.Get("Content-Type")
	if !swa.IsMultipart(ct) {
		return raw, nil, nil
	}
	m, err := swa.Parse(ct, raw)
	if err != nil {
		return nil, nil, err
	}
	return m.Root.Content, m.Attachments, nil
}

// checkSwARequest checks what buildSwA needs of an application's request with attachments: at most
// one payload element, and no attachment named like the request's own part.
func checkSwARequest(body *etree.Element, parts []swa.Part) error {
	for _, p := range parts {
		if p.ContentID == requestCID {
			return clientErr("attachment Content-ID <%s> is reserved for the request itself", requestCID)
		}
	}
	if kids := body.ChildElements(); len(kids) > 1 {
		return clientErr("a request with attachments carries one payload element in its Body, not %d", len(kids))
	}
	return nil
}

// buildSwA turns the application's Body content and attachments (checked by checkSwARequest) into
// the busta's Manifest and parts: it returns the Manifest element for the Body and the parts to
// sign and send.
func buildSwA(body *etree.Element, parts []swa.Part, hint int) (*etree.Element, []swa.Part, error) {
	m := &envelope.Manifest{}
	out := make([]swa.Part, 0, len(parts)+1)
	if kids := payload(body); len(kids) > 0 {
		out = append(out, swa.Part{ContentID: requestCID, ContentType: contentTypeSOAP, Content: ownDocument(kids[0], hint)})
		m.Refs = append(m.Refs, envelope.ManifestRef{ContentID: requestCID, Role: envelope.RoleRequest, ID: requestCID, Title: kids[0].Tag})
	}
	for _, p := range parts {
		out = append(out, p)
		m.Refs = append(m.Refs, envelope.ManifestRef{ContentID: p.ContentID, Role: envelope.RoleAttachment, ID: p.ContentID})
	}
	return m.Element(), out, nil
}

// signSwA signs doc with parts and returns the signed root envelope and the framed SwA message.
func (g *Gateway) signSwA(doc *etree.Document, parts []swa.Part, hint int) (root, framed []byte, err error) {
	if err := g.signer.SignAttachments(doc, wssecAttachments(parts)); err != nil {
		return nil, nil, fmt.Errorf("sign busta: %w", err)
	}
	if root, err = docBytes(doc, hint); err != nil {
		return nil, nil, fmt.Errorf("serialise busta: %w", err)
	}
	m := &swa.Message{Root: swa.Part{ContentType: contentTypeSOAP, Content: root}, Attachments: parts}
	framed, err = m.Framed()
	return root, framed, err
}

// checkAttachments is the PA's stage for SwA: a busta with attachments carries the eGov Manifest
// in its Body, and the Manifest describes exactly its parts; a busta without attachments carries
// none (an href naming no part). Both are EGOV_IT_003. The Body's Richiesta part stands in for the
// Body from here on (the payload schema checks it); the signature stage checks it was signed.
func (g *Gateway) checkAttachments(_ context.Context, in *inbound) (*reply, error) {
	if in.kind == kindService && in.swa == nil {
		return nil, nil
	}
	el := envelope.ManifestIn(in.body)
	if in.swa == nil {
		if el == nil {
			return nil, nil
		}
		_, err := envelope.ParseManifest(el, nil)
		return nil, err
	}
	if el == nil {
		return nil, envelope.NewError(envelope.CodeBodyFormat, "Descrizione", "a busta with attachments must carry the eGov Manifest (eGov_IT:Descrizione) in its Body")
	}
	cids := make([]string, len(in.swa.parts))
	for i, p := range in.swa.parts {
		cids[i] = p.ContentID
	}
	m, err := envelope.ParseManifest(el, cids)
	if err != nil {
		return nil, err
	}
	in.swa.manifest = m
	body, err := g.requestBody(in)
	if err != nil {
		return nil, err
	}
	in.body = body
	return nil, nil
}

// requestBody is a soap:Body holding the content of the Manifest's Richiesta part (empty when
// there is none).
func (g *Gateway) requestBody(in *inbound) (*etree.Element, error) {
	_, body := plainParts()
	ref := in.swa.manifest.Find(envelope.RoleRequest)
	if ref == nil {
		return body, nil
	}
	for _, p := range in.swa.parts {
		if p.ContentID != ref.ContentID {
			continue
		}
		d, err := g.parseXML(p.Content)
		if err != nil {
			return nil, envelope.NewError(envelope.CodeBodyFormat, "Descrizione/DescrizioneMessaggio/Riferimento/href", "the Richiesta part cid:"+p.ContentID+" is not XML: "+err.Error())
		}
		body.AddChild(d.Root())
	}
	return body, nil
}

// plainParts returns the Body of a new plain envelope.
func plainParts() (*etree.Document, *etree.Element) {
	doc := plainEnvelope(nil)
	_, body, _ := soapParts(doc)
	return doc, body
}

// deliveryOf is what a backend gets of an inbound busta: the plain envelope with the payload,
// and with attachments, SwA whose root part is that envelope and whose attachments are the parts
// other than the Richiesta. contentType is "" for text/xml.
func (in *inbound) deliveryOf(hint int) (contentType string, data []byte, err error) {
	env, m, err := in.deliveryMessage(hint)
	if err != nil || m == nil {
		return "", env, err
	}
	return m.Bytes()
}

// queuedDelivery is deliveryOf framed for the inbox (swa.Frame), the parts copied once.
func (in *inbound) queuedDelivery(hint int) ([]byte, error) {
	env, m, err := in.deliveryMessage(hint)
	if err != nil || m == nil {
		return env, err
	}
	return m.Framed()
}

// deliveryMessage returns the plain envelope with the payload and, for a busta with attachments,
// the SwA message around it (else nil).
func (in *inbound) deliveryMessage(hint int) ([]byte, *swa.Message, error) {
	env, err := docBytes(plainEnvelope(payload(in.body)), hint)
	if err != nil || in.swa == nil {
		return env, nil, err
	}
	skip := ""
	if ref := in.swa.manifest.Find(envelope.RoleRequest); ref != nil {
		skip = ref.ContentID
	}
	m := &swa.Message{Root: swa.Part{ContentType: contentTypeSOAP, Content: env}}
	for _, p := range in.swa.parts {
		if p.ContentID != skip {
			m.Attachments = append(m.Attachments, p)
		}
	}
	return env, m, nil
}

package gateway

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/beevik/etree"

	"porta/envelope"
	"porta/internal/clip"
	"porta/internal/xmlsafe"
)

// SOAP 1.1 plumbing shared by the Porta Delegata and the Porta Applicativa: building envelopes
// around a payload, taking the payload out of one, and the three kinds of fault the spec asks for.

const (
	soapPrefix = "SOAP_ENV"
	// NSException is the namespace of the CNIPA application error detail
	// (eGov_IT_Ecc:MessaggioDiErroreApplicativo) returned to local applications.
	NSException = "http://www.cnipa.it/schemas/2003/eGovIT/Exception1_0/"

	contentTypeSOAP = "text/xml; charset=utf-8"

	// maxLoggedError is how much of a refusal's error a log line or a trace record's detail
	// keeps: each value of the request in it is cut to clip.Max, each exception's explanation to
	// envelope.MaxDetail; this bounds a refusal with many.
	maxLoggedError = 4 << 10
)

// newEnvelope returns an empty SOAP 1.1 envelope with its Header and Body.
func newEnvelope() (doc *etree.Document, header, body *etree.Element) {
	doc = etree.NewDocument()
	env := doc.CreateElement(soapPrefix + ":Envelope")
	env.CreateAttr("xmlns:"+soapPrefix, envelope.NSSOAP)
	header = env.CreateElement(soapPrefix + ":Header")
	body = env.CreateElement(soapPrefix + ":Body")
	return doc, header, body
}

// soapParts returns the Header (nil when absent) and the Body of a SOAP 1.1 envelope, or an error
// naming what is wrong with its structure.
func soapParts(doc *etree.Document) (header, body *etree.Element, err error) {
	root := doc.Root()
	if root == nil || root.Tag != "Envelope" || root.NamespaceURI() != envelope.NSSOAP {
		name := "nothing"
		if root != nil {
			name = fmt.Sprintf("<%s> in namespace %q", clip.Echo(root.Tag), clip.Echo(root.NamespaceURI()))
		}
		return nil, nil, fmt.Errorf("root element is %s, want a SOAP 1.1 Envelope (%s)", name, envelope.NSSOAP)
	}
	for c := range root.ChildElementsSeq() {
		if c.NamespaceURI() != envelope.NSSOAP {
			return nil, nil, fmt.Errorf("unexpected element <%s> in the SOAP Envelope", clip.Echo(c.FullTag()))
		}
		switch c.Tag {
		case "Header":
			if header != nil || body != nil {
				return nil, nil, fmt.Errorf("SOAP Header repeated or after the Body")
			}
			header = c
		case "Body":
			if body != nil {
				return nil, nil, fmt.Errorf("SOAP Body repeated")
			}
			body = c
		default:
			return nil, nil, fmt.Errorf("unexpected element <%s> in the SOAP Envelope", clip.Echo(c.FullTag()))
		}
	}
	if body == nil {
		return nil, nil, fmt.Errorf("SOAP Envelope has no Body")
	}
	return header, body, nil
}

// ownDocument serialises el as a document of its own, declaring every namespace in scope at el,
// into a buffer of hint bytes first (docBytes): what writing a copy of el moved into another
// document would write, without the copy.
func ownDocument(el *etree.Element, hint int) []byte {
	return xmlsafe.AppendElement(make([]byte, 0, hint), el, inScope(el, el.Parent()))
}

// addScope declares on el every namespace declared on from and its ancestors that el does not
// declare itself.
func addScope(el, from *etree.Element) {
	el.Attr = append(el.Attr, inScope(el, from)...)
}

// inScope is the namespace declarations addScope adds to el: those of from and its ancestors,
// innermost first, each prefix once, less those el makes itself.
func inScope(el, from *etree.Element) []etree.Attr {
	var extra []etree.Attr
	declared := func(a etree.Attr) bool {
		for _, list := range [2][]etree.Attr{el.Attr, extra} {
			for _, b := range list {
				if b.Space == a.Space && b.Key == a.Key && isNSDecl(b) {
					return true
				}
			}
		}
		return false
	}
	for p := from; p != nil; p = p.Parent() {
		for _, a := range p.Attr {
			if isNSDecl(a) && !declared(a) {
				extra = append(extra, a)
			}
		}
	}
	return extra
}

func isNSDecl(a etree.Attr) bool { return a.Space == "xmlns" || (a.Space == "" && a.Key == "xmlns") }

// payload takes the element children out of a SOAP Body, each made self-contained, without
// copying them: the document they came from must not be used afterwards.
func payload(body *etree.Element) []*etree.Element {
	kids := body.ChildElements()
	for _, k := range kids {
		body.RemoveChild(k)
		addScope(k, body)
	}
	return kids
}

// bodyFault returns the SOAP Fault in body, or nil.
func bodyFault(body *etree.Element) *etree.Element {
	for c := range body.ChildElementsSeq() {
		if c.Tag == "Fault" && c.NamespaceURI() == envelope.NSSOAP {
			return c
		}
	}
	return nil
}

// plainEnvelope wraps payload elements in a SOAP 1.1 envelope with no header: the message
// a backend receives (busta stripped) and the one a local application gets back from the PD.
func plainEnvelope(elems []*etree.Element) *etree.Document {
	doc, header, body := newEnvelope()
	header.Parent().RemoveChild(header)
	for _, e := range elems {
		body.AddChild(e)
	}
	return doc
}

// addFault appends a SOAP 1.1 Fault to body. detail may be nil.
func addFault(body *etree.Element, code, str string, detail *etree.Element) {
	f := body.CreateElement(soapPrefix + ":Fault")
	f.CreateElement("faultcode").SetText(soapPrefix + ":" + code)
	f.CreateElement("faultstring").SetText(str)
	if detail != nil {
		f.CreateElement("detail").AddChild(detail)
	}
}

// Documents are serialised into one buffer of the expected size: a 10 MB message copied through
// a buffer grown by doubling costs about twice its size again in garbage at every hop, which is
// what sets the peak memory for large payloads. Bodies are read by readLimited (admission.go),
// whose buffer follows the bytes that arrive, never a claimed length.

// docBytes serialises doc into a buffer grown to hint bytes first (the expected size; 0 when
// small or unknown), long texts copied whole (xmlsafe.Write).
func docBytes(doc *etree.Document, hint int) ([]byte, error) {
	return xmlsafe.Write(doc, hint)
}

// sizeHint is the expected serialised size of a message carrying a payload that came in n bytes:
// those plus room for a busta and its signature.
func sizeHint(n int) int { return n + n/64 + 16<<10 }

// writeBytes answers b with its Content-Length, so that the reader can size its buffer.
func writeBytes(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", contentTypeSOAP)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// AppError is an error returned to a local application by the Porta Delegata: a SOAP 1.1 Fault,
// HTTP 500, whose detail is an eGov_IT_Ecc:MessaggioDiErroreApplicativo carrying the eGov
// exceptions (or the gateway's processing error) the caller can act on.
type AppError struct {
	Status     int                  // HTTP status; 500 unless the request itself was refused (401, 403, 404)
	FaultCode  string               // "Client" (the caller must change something) or "Server"
	Message    string               // faultstring
	Exceptions []envelope.Exception // eGov exceptions reported by the peer or found by the PD
	Reason     Reason               // the category, for Porta-Error-Reason; "" = the failing step's
	Err        error                // the cause, for the log
}

func (e *AppError) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *AppError) Unwrap() error { return e.Err }

// document renders the fault for the application, as the gateway portID at time now.
func (e *AppError) document(portID string, now time.Time) *etree.Document {
	doc, header, body := newEnvelope()
	header.Parent().RemoveChild(header)
	d := etree.NewElement("eGov_IT_Ecc:MessaggioDiErroreApplicativo")
	d.CreateAttr("xmlns:eGov_IT_Ecc", NSException)
	d.CreateElement("eGov_IT_Ecc:OraRegistrazione").SetText(now.Format("2006-01-02T15:04:05.000"))
	d.CreateElement("eGov_IT_Ecc:IdentificativoPorta").SetText(portID)
	d.CreateElement("eGov_IT_Ecc:IdentificativoFunzione").SetText("PortaDelegata")
	ecc := d.CreateElement("eGov_IT_Ecc:Eccezione")
	if len(e.Exceptions) == 0 {
		p := ecc.CreateElement("eGov_IT_Ecc:EccezioneProcessamento")
		p.CreateAttr("codiceEccezione", string(envelope.CodeProcessing))
		p.CreateAttr("descrizioneEccezione", clip.To(e.Message, envelope.MaxDetail))
	}
	for _, x := range e.Exceptions {
		b := ecc.CreateElement("eGov_IT_Ecc:EccezioneBusta")
		b.CreateAttr("codiceEccezione", string(x.Code))
		desc := x.Code.Meaning()
		if x.Position != "" {
			desc += " (" + x.Position + ")"
		}
		b.CreateAttr("descrizioneEccezione", desc)
		b.CreateAttr("rilevanza", string(x.Severity))
		b.CreateAttr("posizione", x.Position)
	}
	code := e.FaultCode
	if code == "" {
		code = "Server"
	}
	addFault(body, code, clip.To(e.Message, envelope.MaxDetail), d)
	return doc
}

package envelope

import (
	"fmt"
	"strings"
	"time"

	"github.com/beevik/etree"
)

// The two fault strings of the eGov specification (spec §4): a validation error, answered with
// soap:Client, and a processing error, answered with soap:Server.
const (
	FaultStringFormat     = "EGOV_IT_001 - Formato Busta non corretto"
	FaultStringProcessing = "EGOV_IT_300 - Errore nel processamento del messaggio SPCoop"
)

// Unknown is the party an error busta is addressed to when the request's header cannot be read.
var Unknown = Party{Type: "SPC", Name: "Sconosciuto"}

// ReplyHeader starts the header of a busta answering req (spec §3): parties swapped (the first
// Mittente answers; addresses are not copied), the new id and time now (source EGOV_IT_SPC),
// RiferimentoMessaggio = req.ID. For a synchronous request it also copies Servizio, Azione,
// Collaborazione and ProfiloTrasmissione (and the profile itself).
func ReplyHeader(req *Header, id string, now time.Time) *Header {
	h := &Header{
		Receiver:  Party{Type: req.firstSender().Type, Name: req.firstSender().Name},
		Sender:    []Party{{Type: req.Receiver.Type, Name: req.Receiver.Name}},
		ID:        id,
		Time:      Timestamp{Time: now, Source: TimeSPC},
		RelatesTo: req.ID,
	}
	if req.Profile == Sync {
		h.Profile = Sync
		h.ServiceType, h.Service, h.Action = req.ServiceType, req.Service, req.Action
		h.Conversation = req.Conversation
		if req.Transmission != nil {
			t := *req.Transmission
			h.Transmission = &t
		}
	}
	return h
}

func (h *Header) firstSender() Party {
	if h == nil || len(h.Sender) == 0 {
		return Party{}
	}
	return h.Sender[0]
}

// ErrorHeader is the header of the error busta answering req with the exceptions exc (spec §4
// and §10): a busta di servizio from us, parties swapped (from req's receiver to its sender),
// id and now, RiferimentoMessaggio = req.ID when that is a valid identifier. When req is nil or
// names no sender (the header could not be read), the busta goes from us to Unknown. Invalid
// values of req are never echoed: parties and the ID are copied only when well formed and at most
// MaxIDLength bytes long.
func ErrorHeader(req *Header, us Party, id string, now time.Time, exc []Exception) *Header {
	h := &Header{
		Sender:     []Party{{Type: orSPC(us.Type), Name: us.Name}},
		Receiver:   Unknown,
		ID:         id,
		Time:       Timestamp{Time: now, Source: TimeSPC},
		Exceptions: append([]Exception(nil), exc...),
	}
	if req == nil {
		return h
	}
	if s := req.firstSender(); s.Name != "" && len(s.Name) <= MaxIDLength && len(s.Type) <= MaxIDLength && alnum.MatchString(s.Name) && s.Type != "" {
		h.Receiver = Party{Type: s.Type, Name: s.Name}
	}
	if ValidateID(req.ID) == nil {
		h.RelatesTo = req.ID
	}
	return h
}

// ErrorBusta is the envelope of an error busta: h (see ErrorHeader) and a soap:Client Fault with
// faultstring FaultStringFormat and no detail, whatever the exceptions are (spec §10).
func ErrorBusta(h *Header) *etree.Document {
	return NewEnvelope(h, faultElement("Client", FaultStringFormat, ""))
}

// BareFault is the answer to a message whose busta cannot be read at all: a SOAP Fault
// soap:Client / FaultStringFormat without a busta.
func BareFault() *etree.Document {
	return NewEnvelope(nil, faultElement("Client", FaultStringFormat, ""))
}

// ProcessingFault is the answer to a processing error: soap:Server / FaultStringProcessing, with
// detail as the text of a detail element when not empty, and no busta (spec §4).
func ProcessingFault(detail string) *etree.Document {
	return NewEnvelope(nil, faultElement("Server", FaultStringProcessing, detail))
}

func faultElement(code, text, detail string) *etree.Element {
	f := etree.NewElement("soapenv:Fault")
	fc := f.CreateElement("faultcode")
	fc.CreateAttr("xmlns:soap", NSSOAP)
	fc.SetText("soap:" + code)
	f.CreateElement("faultstring").SetText(text)
	if detail != "" {
		f.CreateElement("detail").SetText(detail)
	}
	return f
}

// AckHeader is the header of the busta di servizio that acknowledges req (a one-way busta that
// asked for confermaRicezione): parties swapped, id and now, RiferimentoMessaggio = req.ID, no
// profile or service, and a ListaRiscontri with one Riscontro for req. Its envelope has an empty
// Body: NewEnvelope(AckHeader(...)).
func AckHeader(req *Header, id string, now time.Time) *Header {
	h := ReplyHeader(req, id, now)
	h.Profile, h.ServiceType, h.Service, h.Action, h.Conversation, h.Transmission = ProfileNone, "", "", "", "", nil
	h.Acks = []Ack{{ID: req.ID, Time: Timestamp{Time: req.Time.Time, Source: orTime(req.Time.Source)}}}
	return h
}

func orTime(s string) string {
	if s == "" {
		return TimeSPC
	}
	return s
}

// Fault is a SOAP Fault received from a peer gateway, read and checked by ParseFault.
type Fault struct {
	// Processing is true for soap:Server / EGOV_IT_300, false for soap:Client / EGOV_IT_001.
	Processing bool
	Code       string // faultcode as written, e.g. "soap:Client"
	String     string // faultstring
	Actor      string // faultactor, often empty
	Detail     string // text of detail, trimmed; a processing fault may carry one
	// Header is the error busta's header when the fault came with one (nil for a bare fault);
	// its Exceptions say what the peer refused.
	Header *Header
}

// Severe is the first GRAVE exception of the error busta, or CodeEnvelopeFormat /
// CodeProcessing when there is no busta or no GRAVE exception.
func (f *Fault) Severe() Code {
	if f.Header != nil {
		for _, x := range f.Header.Exceptions {
			if x.Severity == SeveritySevere {
				return x.Code
			}
		}
	}
	if f.Processing {
		return CodeProcessing
	}
	return CodeEnvelopeFormat
}

// ParseFault reads the Fault in msg.Body. It returns (nil, nil) when the Body holds no Fault. A
// fault that is not exactly one of the two pairs the eGov specification allows (soap:Client with
// FaultStringFormat, soap:Server with FaultStringProcessing), or that shares the Body with other
// elements, is refused with EGOV_IT_003 (spec §4). msg.Header, when set, becomes Fault.Header.
func ParseFault(msg *Message) (*Fault, error) {
	if msg == nil || msg.Body == nil {
		return nil, nil
	}
	var fault *etree.Element
	kids := msg.Body.ChildElements()
	for _, c := range kids {
		if c.Tag == "Fault" && c.NamespaceURI() == NSSOAP {
			fault = c
		}
	}
	if fault == nil {
		return nil, nil
	}
	if len(kids) != 1 {
		return nil, NewError(CodeBodyFormat, "Body", fmt.Sprintf("the Body holds a Fault and %d other elements", len(kids)-1))
	}
	f := &Fault{Header: msg.Header}
	seen := map[string]bool{}
	for c := range fault.ChildElementsSeq() {
		if c.Space != "" && c.NamespaceURI() != "" {
			return nil, NewError(CodeBodyFormat, "Fault/"+c.Tag, fmt.Sprintf("Fault child <%s> must be unqualified", c.FullTag()))
		}
		if seen[c.Tag] {
			return nil, NewError(CodeBodyFormat, "Fault/"+c.Tag, fmt.Sprintf("Fault has more than one %s", c.Tag))
		}
		seen[c.Tag] = true
		switch c.Tag {
		case "faultcode":
			f.Code = strings.TrimSpace(c.Text())
		case "faultstring":
			f.String = strings.TrimSpace(c.Text())
		case "faultactor":
			f.Actor = strings.TrimSpace(c.Text())
		case "detail":
			var b strings.Builder
			collectText(c, &b)
			f.Detail = strings.TrimSpace(b.String())
		default:
			return nil, NewError(CodeBodyFormat, "Fault/"+c.Tag, fmt.Sprintf("unknown Fault child <%s>", c.FullTag()))
		}
	}
	ns, local := "", f.Code
	if i := strings.IndexByte(f.Code, ':'); i >= 0 {
		ns, local = resolvePrefix(fault, f.Code[:i]), f.Code[i+1:]
	} else {
		ns = resolvePrefix(fault, "")
	}
	if ns != NSSOAP {
		return nil, NewError(CodeBodyFormat, "Fault/faultcode", fmt.Sprintf("faultcode %q is not in the SOAP 1.1 namespace", f.Code))
	}
	switch {
	case local == "Client" && f.String == FaultStringFormat:
		if f.Detail != "" {
			return nil, NewError(CodeBodyFormat, "Fault/detail", "a soap:Client eGov fault carries no detail")
		}
	case local == "Server" && f.String == FaultStringProcessing:
		f.Processing = true
	default:
		return nil, NewError(CodeBodyFormat, "Fault", fmt.Sprintf("fault %q / %q is neither soap:Client / %q nor soap:Server / %q", f.Code, f.String, FaultStringFormat, FaultStringProcessing))
	}
	return f, nil
}

func collectText(e *etree.Element, b *strings.Builder) {
	for _, tok := range e.Child {
		switch t := tok.(type) {
		case *etree.CharData:
			b.WriteString(t.Data)
		case *etree.Element:
			collectText(t, b)
		}
	}
}

// resolvePrefix finds the namespace bound to prefix ("" for the default namespace) in scope at e
// or its faultcode child.
func resolvePrefix(e *etree.Element, prefix string) string {
	if fc := e.SelectElement("faultcode"); fc != nil {
		e = fc
	}
	for x := e; x != nil; x = x.Parent() {
		for _, a := range x.Attr {
			if (prefix == "" && a.Space == "" && a.Key == "xmlns") || (prefix != "" && a.Space == "xmlns" && a.Key == prefix) {
				return a.Value
			}
		}
	}
	return ""
}

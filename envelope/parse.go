package envelope

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/beevik/etree"
	"porta/internal/clip"
	"porta/internal/xmlsafe"
)

// Message is a SOAP envelope carrying a busta, as parsed: the document, the typed header, and
// the eGov_IT:Intestazione and soap:Body elements inside Doc.
type Message struct {
	Doc          *etree.Document
	Header       *Header
	Intestazione *etree.Element
	Body         *etree.Element
}

// Parse reads an untrusted SOAP message with xmlsafe.Parse (xmlsafe.DefaultLimits) and then ParseDocument.
// XML that is not acceptable is a bare EGOV_IT_001 error.
func Parse(data []byte) (*Message, error) {
	doc, err := xmlsafe.Parse(data, xmlsafe.DefaultLimits)
	if err != nil {
		e := NewError(CodeEnvelopeFormat, "Envelope", err.Error())
		e.Bare = true
		return nil, e
	}
	return ParseDocument(doc)
}

// posMultipleHeaders is the posizione GovWay reports for two eGov headers.
const posMultipleHeaders = "Più di un header e-Gov presente"

// attemptedHeader reports whether a SOAP header element is an attempt at the eGov header: it
// carries the eGov actor (qualified or not) or is in the eGov namespace, whatever its local name
// (spec §10, "Recognising the header").
func attemptedHeader(c *etree.Element) bool {
	if c.NamespaceURI() == NSeGov {
		return true
	}
	for _, a := range c.Attr {
		if a.Key == "actor" && strings.TrimSpace(a.Value) == Actor && (a.Space == "" || a.NamespaceURI() == NSSOAP) {
			return true
		}
	}
	return false
}

// ParseDocument finds the busta in a SOAP 1.1 envelope and parses it with ParseHeader. The error,
// when not nil, is a *ProtocolError listing every exception found; the Message is returned
// whenever the SOAP envelope itself could be read, with Header holding whatever could be parsed
// (nil when there is no eGov header, empty when the attempted header has another name) so that
// the caller can address its error busta. An envelope that is not SOAP 1.1, has no Body or no
// attempted eGov header is a Bare error.
func ParseDocument(doc *etree.Document) (*Message, error) {
	root := doc.Root()
	if root == nil || root.Tag != "Envelope" || root.NamespaceURI() != NSSOAP {
		name := "nothing"
		if root != nil {
			name = fmt.Sprintf("{%s}%s", root.NamespaceURI(), root.Tag)
		}
		return nil, bareError(CodeEnvelopeFormat, "Envelope", "the root element is %s, want a SOAP 1.1 Envelope {%s}Envelope", name, NSSOAP)
	}
	var header, body *etree.Element
	for c := range root.ChildElementsSeq() {
		switch {
		case c.NamespaceURI() == NSSOAP && c.Tag == "Header" && header == nil && body == nil:
			header = c
		case c.NamespaceURI() == NSSOAP && c.Tag == "Body" && body == nil:
			body = c
		default:
			return nil, bareError(CodeEnvelopeFormat, "Envelope", "unexpected element <%s> in the SOAP Envelope (want one optional Header, then one Body)", c.FullTag())
		}
	}
	if body == nil {
		return nil, bareError(CodeEnvelopeFormat, "Envelope", "the SOAP Envelope has no Body")
	}
	msg := &Message{Doc: doc, Body: body}
	var found, alien, misnamed []*etree.Element
	if header != nil {
		for c := range header.ChildElementsSeq() {
			if !attemptedHeader(c) {
				continue
			}
			switch {
			case c.Tag != "Intestazione":
				misnamed = append(misnamed, c)
			case c.NamespaceURI() == NSeGov:
				found = append(found, c)
			default:
				alien = append(alien, c)
			}
		}
	}
	if len(found) == 0 && len(alien) == 0 && len(misnamed) == 0 {
		return msg, bareError(CodeEnvelopeFormat, "Intestazione", "the SOAP Header carries no eGov_IT:Intestazione {%s}Intestazione", NSeGov)
	}
	var h *Header
	var err error
	switch {
	case len(found) > 0:
		msg.Intestazione = found[0]
		h, err = ParseHeader(found[0])
	case len(alien) > 0:
		// The element has the right name and the eGov actor in another namespace: read it as the
		// busta it claims to be so that the error busta can be addressed, and report the
		// namespace (spec §10).
		msg.Intestazione = alien[0]
		h, err = parseHeaderNS(alien[0], alien[0].NamespaceURI(), time.Local)
		pe := asProtocolError(err)
		pe.add(CodeHeaderFormat, SeveritySevere, "Intestazione/namespace",
			fmt.Sprintf("eGov_IT:Intestazione is in namespace %q, want %q", alien[0].NamespaceURI(), NSeGov))
		err = pe
	default:
		// An attempted eGov header under another name: not read, answered from the gateway's own
		// identity to Sconosciuto (spec §10, "Recognising the header").
		c := misnamed[0]
		h = &Header{}
		err = NewError(CodeEnvelopeFormat, "Intestazione", fmt.Sprintf("the eGov header is {%s}%s, want {%s}Intestazione", c.NamespaceURI(), c.Tag, NSeGov))
	}
	if len(found) > 1 {
		pe := asProtocolError(err)
		pe.add(CodeEnvelopeFormat, SeveritySevere, posMultipleHeaders, fmt.Sprintf("the SOAP Header carries %d eGov_IT:Intestazione elements", len(found)))
		err = pe
	}
	msg.Header = h
	if err != nil {
		return msg, err
	}
	return msg, nil
}

func bareError(code Code, pos, format string, a ...any) *ProtocolError {
	e := NewError(code, pos, fmt.Sprintf(format, a...))
	e.Bare = true
	return e
}

// asProtocolError returns err as a *ProtocolError, a new empty one when err is nil.
func asProtocolError(err error) *ProtocolError {
	if err == nil {
		return &ProtocolError{}
	}
	if pe, ok := err.(*ProtocolError); ok {
		return pe
	}
	return NewError(CodeHeaderFormat, "Intestazione", err.Error())
}

// ParseHeader reads an eGov_IT:Intestazione element. Zone-less dates are read in time.Local (see
// ParseHeaderIn). It checks everything a busta can be checked for without the registry: the
// schema's structure and order, the fixed actor and mustUnderstand, every value's form (strict
// identifiers, dates, enumerations, Sequenza's 7 digits and its preconditions). The error, when
// not nil, is a *ProtocolError with every exception found (posizione strings as in spec §10);
// Bare is set when a part needed to address an answer is missing or duplicated. The Header is
// returned even with an error, holding what could be read, with invalid values left out.
func ParseHeader(intestazione *etree.Element) (*Header, error) {
	return ParseHeaderIn(intestazione, time.Local)
}

// ParseHeaderIn is ParseHeader reading zone-less dates in loc.
func ParseHeaderIn(intestazione *etree.Element, loc *time.Location) (*Header, error) {
	if intestazione == nil {
		return nil, bareError(CodeEnvelopeFormat, "Intestazione", "no eGov_IT:Intestazione")
	}
	if intestazione.Tag != "Intestazione" || intestazione.NamespaceURI() != NSeGov {
		return nil, bareError(CodeEnvelopeFormat, "Intestazione", "element {%s}%s is not {%s}Intestazione", intestazione.NamespaceURI(), intestazione.Tag, NSeGov)
	}
	return parseHeaderNS(intestazione, NSeGov, loc)
}

type parser struct {
	ns  string
	loc *time.Location
	err ProtocolError
}

func (p *parser) fail(code Code, pos, format string, a ...any) {
	p.err.add(code, SeveritySevere, pos, fmt.Sprintf(format, a...))
}

func (p *parser) bare(code Code, pos, format string, a ...any) {
	p.fail(code, pos, format, a...)
	p.err.Bare = true
}

// elementCode is the code reported for a missing, duplicated or misplaced element.
var elementCode = map[string]Code{
	"IntestazioneMessaggio": CodeHeaderFormat,
	"Mittente":              CodeUnknownSender,
	"Destinatario":          CodeUnknownReceiver,
	"ProfiloCollaborazione": CodeInvalidProfile,
	"Collaborazione":        CodeInvalidConversation,
	"Servizio":              CodeUnknownService,
	"Azione":                CodeUnknownAction,
	"Messaggio":             CodeHeaderFormat,
	"Identificatore":        CodeInvalidID,
	"OraRegistrazione":      CodeInvalidTime,
	"RiferimentoMessaggio":  CodeInvalidRelatesTo,
	"Scadenza":              CodeInvalidExpiry,
	"ProfiloTrasmissione":   CodeInvalidTransmission,
	"Sequenza":              CodeInvalidSequence,
	"ListaRiscontri":        CodeInvalidAcks,
	"ListaTrasmissioni":     CodeInvalidHops,
	"ListaEccezioni":        CodeHeaderFormat,
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "/" + name
}

// children reads el's child elements against the schema sequence order (names in order; a
// trailing "+" marks an element that may repeat). Unknown elements, elements out of order and
// stray text are reported with 002; repeats of a single element are reported (Bare) with the
// element's code and plain path. where is the path of el used for messages and unknown children.
func (p *parser) children(el *etree.Element, where string, order ...string) map[string][]*etree.Element {
	out := map[string][]*etree.Element{}
	for _, tok := range el.Child {
		if cd, ok := tok.(*etree.CharData); ok && strings.TrimSpace(cd.Data) != "" {
			p.fail(CodeHeaderFormat, where, "unexpected text %q in %s", short(cd.Data), where)
		}
	}
	last := -1
	for c := range el.ChildElementsSeq() {
		i, repeat, known := inOrder(order, c.Tag)
		if !known || c.NamespaceURI() != p.ns {
			p.fail(CodeHeaderFormat, where+"/child["+c.FullTag()+"]", "unknown element <%s> (namespace %q) in %s", c.FullTag(), c.NamespaceURI(), where)
			continue
		}
		if i < last {
			p.fail(CodeHeaderFormat, pathOf(where, c.Tag), "element %s is out of the schema's order in %s", c.Tag, where)
		}
		if i > last {
			last = i
		}
		if len(out[c.Tag]) > 0 && !repeat {
			childPath := pathOf(where, c.Tag)
			code := elementCode[c.Tag]
			if code == "" {
				code = CodeHeaderFormat
			}
			p.bare(code, childPath, "element %s appears more than once", childPath)
			continue
		}
		out[c.Tag] = append(out[c.Tag], c)
	}
	return out
}

// inOrder finds tag in a schema sequence order (see children): its place (the last one, should
// it be listed twice) and whether it may repeat.
func inOrder(order []string, tag string) (i int, repeat, known bool) {
	for k, n := range order {
		r := strings.HasSuffix(n, "+")
		if r {
			n = n[:len(n)-1]
		}
		if n == tag {
			i, known, repeat = k, true, repeat || r
		}
	}
	return i, repeat, known
}

// pathOf is the posizione of child name under where: relative to IntestazioneMessaggio.
func pathOf(where, name string) string {
	switch where {
	case "IntestazioneMessaggio", "Intestazione":
		return name
	}
	return join(where, name)
}

// attrs checks el's attributes: names lists the allowed unqualified ones; wsu:Id is allowed when
// wsuID; namespace declarations are always allowed. Anything else is reported with 002.
func (p *parser) attrs(el *etree.Element, where string, wsuID bool, names ...string) map[string]string {
	var out map[string]string // made at the first attribute kept: most elements have none
	for i := range el.Attr {
		a := &el.Attr[i]
		if a.Space == "xmlns" || (a.Space == "" && a.Key == "xmlns") {
			continue
		}
		ns := a.NamespaceURI()
		switch {
		case a.Space == "" && contains(names, a.Key):
			out = put(out, a.Key, a.Value)
		case wsuID && ns == NSWSU && a.Key == "Id":
		case el.Tag == "Intestazione" && ns == p.soapNS() && (a.Key == "actor" || a.Key == "mustUnderstand"):
			out = put(out, "SOAP:"+a.Key, a.Value)
		case el.Tag == "Intestazione" && a.Space == "" && (a.Key == "actor" || a.Key == "mustUnderstand"):
			// Unqualified, the attribute is missing; that is reported once, as missing (spec §10).
		default:
			p.fail(CodeHeaderFormat, join(where, a.Key), "unknown attribute %s on %s", a.FullKey(), where)
		}
	}
	return out
}

// put sets m[k] = v, making m first if it is nil.
func put(m map[string]string, k, v string) map[string]string {
	if m == nil {
		m = make(map[string]string, 2)
	}
	m[k] = v
	return m
}

func (p *parser) soapNS() string { return NSSOAP }

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// short is a header value as quoted in an exception's explanation: trimmed, at most 40 bytes.
func short(s string) string { return clip.To(strings.TrimSpace(s), 40) }

// text is el's trimmed text; child elements are reported with 002.
func (p *parser) text(el *etree.Element, path string) string {
	for c := range el.ChildElementsSeq() {
		p.fail(CodeHeaderFormat, path+"/child["+c.FullTag()+"]", "unexpected element <%s> in %s, which holds text only", c.FullTag(), path)
	}
	return strings.TrimSpace(xmlsafe.CharData(el))
}

func parseHeaderNS(in *etree.Element, ns string, loc *time.Location) (*Header, error) {
	if loc == nil {
		loc = time.Local
	}
	p := &parser{ns: ns, loc: loc}
	h := &Header{}
	at := p.attrs(in, "Intestazione", true)
	switch v, ok := at["SOAP:actor"]; {
	case !ok:
		p.fail(CodeHeaderFormat, "Intestazione/actor", "SOAP_ENV:actor is missing (want %q)", Actor)
	case v != Actor:
		p.fail(CodeHeaderFormat, "Intestazione/actor", "SOAP_ENV:actor is %q, want %q", v, Actor)
	}
	switch v, ok := at["SOAP:mustUnderstand"]; {
	case !ok:
		p.fail(CodeHeaderFormat, "Intestazione/mustUnderstand", "SOAP_ENV:mustUnderstand is missing (want \"1\")")
	case v != "1":
		p.fail(CodeHeaderFormat, "Intestazione/mustUnderstand", "SOAP_ENV:mustUnderstand is %q, want \"1\"", v)
	}
	top := p.children(in, "Intestazione", "IntestazioneMessaggio", "ListaRiscontri", "ListaTrasmissioni", "ListaEccezioni")
	if im := top["IntestazioneMessaggio"]; len(im) == 0 {
		// Not bare: answered with an error busta to Sconosciuto (spec §10).
		p.fail(CodeHeaderFormat, "IntestazioneMessaggio", "eGov_IT:IntestazioneMessaggio is missing")
	} else {
		p.message(im[0], h)
	}
	if l := top["ListaRiscontri"]; len(l) > 0 {
		h.Acks = p.acks(l[0])
	}
	if l := top["ListaTrasmissioni"]; len(l) > 0 {
		h.Transmissions = p.hops(l[0])
	}
	if l := top["ListaEccezioni"]; len(l) > 0 {
		h.Exceptions = p.exceptions(l[0])
	}
	if len(p.err.Exceptions) > 0 {
		e := p.err
		return h, &e
	}
	return h, nil
}

func (p *parser) message(im *etree.Element, h *Header) {
	p.attrs(im, "IntestazioneMessaggio", true)
	m := p.children(im, "IntestazioneMessaggio", "Mittente", "Destinatario", "ProfiloCollaborazione",
		"Collaborazione", "Servizio", "Azione", "Messaggio", "ProfiloTrasmissione", "Sequenza")

	if l := m["Mittente"]; len(l) == 0 {
		p.bare(CodeUnknownSender, "Mittente", "eGov_IT:Mittente is missing")
	} else {
		p.attrs(l[0], "Mittente", false)
		parts := p.children(l[0], "Mittente", "IdentificativoParte+")["IdentificativoParte"]
		if len(parts) == 0 {
			p.bare(CodeUnknownSender, "Mittente/IdentificativoParte", "Mittente has no IdentificativoParte")
		}
		for i, e := range parts {
			party, ok := p.party(e, "Mittente/IdentificativoParte", CodeUnknownSender, true)
			if i > 0 {
				p.fail(CodeUnknownSender, "Mittente/IdentificativoParte", "Mittente has %d IdentificativoParte; only one sending party is accepted", len(parts))
			}
			if ok || i == 0 {
				h.Sender = append(h.Sender, party)
			}
		}
	}
	if l := m["Destinatario"]; len(l) == 0 {
		p.bare(CodeUnknownReceiver, "Destinatario", "eGov_IT:Destinatario is missing")
	} else {
		p.attrs(l[0], "Destinatario", false)
		parts := p.children(l[0], "Destinatario", "IdentificativoParte+")["IdentificativoParte"]
		if len(parts) == 0 {
			p.bare(CodeUnknownReceiver, "Destinatario/IdentificativoParte", "Destinatario has no IdentificativoParte")
		}
		for i, e := range parts {
			party, _ := p.party(e, "Destinatario/IdentificativoParte", CodeUnknownReceiver, true)
			if i == 0 {
				h.Receiver = party
			} else {
				p.fail(CodeUnknownReceiver, "Destinatario/IdentificativoParte", "Destinatario has %d IdentificativoParte, want exactly one", len(parts))
			}
		}
	}
	if l := m["ProfiloCollaborazione"]; len(l) > 0 {
		e := l[0]
		at := p.attrs(e, "ProfiloCollaborazione", false, "servizioCorrelato", "tipo")
		v := p.text(e, "ProfiloCollaborazione")
		if prof, ok := parseWireProfile(v); ok {
			h.Profile = prof
		} else {
			p.fail(CodeInvalidProfile, "ProfiloCollaborazione", "ProfiloCollaborazione %q is not one of the four eGov profiles", short(v))
		}
		if s, ok := at["servizioCorrelato"]; ok {
			if strings.TrimSpace(s) == "" {
				p.fail(CodeInvalidProfile, "ProfiloCollaborazione/servizioCorrelato", "servizioCorrelato is empty")
			}
			h.CorrelatedService = strings.TrimSpace(s)
		}
		if t, ok := at["tipo"]; ok {
			if !contains(ServiceTypes, t) {
				p.fail(CodeInvalidProfile, "ProfiloCollaborazione/tipo", "ProfiloCollaborazione tipo %q is not one of %s", short(t), strings.Join(ServiceTypes, ", "))
			} else {
				h.CorrelatedServiceType = t
			}
		}
	}
	if l := m["Collaborazione"]; len(l) > 0 {
		p.attrs(l[0], "Collaborazione", false)
		v := p.text(l[0], "Collaborazione")
		if err := ValidateID(v); err != nil {
			p.fail(CodeInvalidConversation, "Collaborazione", "Collaborazione: %v", err)
		} else {
			h.Conversation = v
		}
	}
	if l := m["Servizio"]; len(l) > 0 {
		at := p.attrs(l[0], "Servizio", false, "tipo")
		v := p.text(l[0], "Servizio")
		if t, ok := at["tipo"]; !ok {
			p.bare(CodeUnknownService, "Servizio/tipo", "Servizio has no tipo")
		} else if strings.TrimSpace(t) == "" {
			p.fail(CodeUnknownService, "Servizio/tipo", "Servizio tipo is empty")
		} else {
			h.ServiceType = strings.TrimSpace(t)
		}
		if v == "" {
			p.fail(CodeUnknownService, "Servizio", "Servizio is empty")
		}
		h.Service = v
	}
	if l := m["Azione"]; len(l) > 0 {
		p.attrs(l[0], "Azione", false)
		v := p.text(l[0], "Azione")
		if v == "" {
			p.fail(CodeUnknownAction, "Azione", "Azione is empty")
		}
		h.Action = v
	}
	if l := m["Messaggio"]; len(l) == 0 {
		p.bare(CodeHeaderFormat, "Messaggio", "eGov_IT:Messaggio is missing")
	} else {
		p.messaggio(l[0], h)
	}
	if l := m["ProfiloTrasmissione"]; len(l) > 0 {
		at := p.attrs(l[0], "ProfiloTrasmissione", false, "inoltro", "confermaRicezione")
		p.text(l[0], "ProfiloTrasmissione")
		t := &Transmission{}
		switch v, ok := at["inoltro"]; {
		case !ok || v == inoltroMany:
		case v == inoltroOnce:
			t.AtMostOnce = true
		default:
			p.fail(CodeInvalidTransmission, "ProfiloTrasmissione/inoltro", "inoltro %q is not %s or %s", short(v), inoltroOnce, inoltroMany)
		}
		if v, ok := at["confermaRicezione"]; ok {
			b, okb := parseXSDBool(v)
			if !okb {
				p.fail(CodeInvalidTransmission, "ProfiloTrasmissione/confermaRicezione", "confermaRicezione %q is not a boolean", short(v))
			}
			t.AckRequested = b
		}
		h.Transmission = t
	}
	if l := m["Sequenza"]; len(l) > 0 {
		at := p.attrs(l[0], "Sequenza", false, "numeroProgressivo")
		p.text(l[0], "Sequenza")
		v, ok := at["numeroProgressivo"]
		if !ok {
			p.bare(CodeInvalidSequence, "Sequenza/numeroProgressivo", "Sequenza has no numeroProgressivo")
		} else if n, err := strconv.Atoi(v); err != nil || len(v) != 7 || strings.Trim(v, "0123456789") != "" || n < 1 {
			p.fail(CodeInvalidSequence, "Sequenza/numeroProgressivo", "numeroProgressivo %q is not a positive 7-digit number", short(v))
		} else {
			h.Sequence = n
		}
		if len(m["Collaborazione"]) == 0 {
			p.fail(CodeInvalidSequence, "Sequenza", "Sequenza needs a Collaborazione")
		}
		if t := h.Transmission; t == nil || !t.AtMostOnce || !t.AckRequested {
			p.fail(CodeInvalidTransmissionAttrs, "ProfiloTrasmissione", "Sequenza needs ProfiloTrasmissione with inoltro=%s and confermaRicezione=true", inoltroOnce)
		}
	}
}

func (p *parser) messaggio(e *etree.Element, h *Header) {
	p.attrs(e, "Messaggio", false)
	m := p.children(e, "Messaggio", "Identificatore", "OraRegistrazione", "RiferimentoMessaggio", "Scadenza")
	if l := m["Identificatore"]; len(l) == 0 {
		p.bare(CodeIDUndefined, "Messaggio/Identificatore", "Messaggio has no Identificatore")
	} else {
		p.attrs(l[0], "Messaggio/Identificatore", false)
		v := p.text(l[0], "Messaggio/Identificatore")
		if v == "" {
			p.fail(CodeIDUndefined, "Messaggio/Identificatore", "Identificatore is empty")
		} else if err := ValidateID(v); err != nil {
			p.fail(CodeInvalidID, "Messaggio/Identificatore", "Identificatore: %v", err)
		} else {
			h.ID = v
		}
	}
	if l := m["OraRegistrazione"]; len(l) == 0 {
		p.fail(CodeInvalidTime, "Messaggio/OraRegistrazione", "Messaggio has no OraRegistrazione")
	} else {
		h.Time = p.timestamp(l[0], "Messaggio/OraRegistrazione", CodeInvalidTime)
	}
	if l := m["RiferimentoMessaggio"]; len(l) > 0 {
		p.attrs(l[0], "Messaggio/RiferimentoMessaggio", false)
		v := p.text(l[0], "Messaggio/RiferimentoMessaggio")
		if v == "" {
			p.fail(CodeRelatesToUndefined, "Messaggio/RiferimentoMessaggio", "RiferimentoMessaggio is empty")
		} else if err := ValidateID(v); err != nil {
			p.fail(CodeInvalidRelatesTo, "Messaggio/RiferimentoMessaggio", "RiferimentoMessaggio: %v", err)
		} else {
			h.RelatesTo = v
		}
	}
	if l := m["Scadenza"]; len(l) > 0 {
		p.attrs(l[0], "Messaggio/Scadenza", false)
		v := p.text(l[0], "Messaggio/Scadenza")
		if t, err := ParseTime(v, p.loc); err != nil {
			p.fail(CodeInvalidExpiry, "Messaggio/Scadenza", "Scadenza: %v", err)
		} else {
			h.Expires = &t
		}
	}
}

// timestamp reads an OraRegistrazione with its tempo.
func (p *parser) timestamp(e *etree.Element, path string, code Code) Timestamp {
	at := p.attrs(e, path, false, "tempo")
	v := p.text(e, path)
	var ts Timestamp
	if t, err := ParseTime(v, p.loc); err != nil {
		p.fail(code, path, "OraRegistrazione: %v", err)
	} else {
		ts.Time = t
	}
	switch s, ok := at["tempo"]; {
	case !ok:
		p.fail(code, path+"/tempo", "OraRegistrazione has no tempo")
	case s != TimeSPC && s != TimeLocal:
		p.fail(code, path+"/tempo", "tempo %q is not %s or %s", short(s), TimeSPC, TimeLocal)
	default:
		ts.Source = s
	}
	return ts
}

// party reads an IdentificativoParte; a missing tipo is Bare when required by spec §10.
func (p *parser) party(e *etree.Element, path string, code Code, bareTipo bool) (Party, bool) {
	at := p.attrs(e, path, false, "tipo", "indirizzoTelematico")
	before := len(p.err.Exceptions)
	name := p.text(e, path)
	party := Party{Name: name}
	if name == "" {
		p.fail(code, path, "IdentificativoParte is empty")
	}
	if addr, ok := at["indirizzoTelematico"]; ok {
		addr = strings.TrimSpace(addr)
		if absoluteURL(addr) {
			party.Address = addr
		} else {
			p.fail(code, path+"/indirizzoTelematico", "indirizzoTelematico %q is not an absolute URL", short(addr))
		}
	}
	switch t, ok := at["tipo"]; {
	case !ok && bareTipo:
		p.bare(code, path+"/tipo", "IdentificativoParte %q has no tipo", short(name))
	case !ok:
		p.fail(code, path+"/tipo", "IdentificativoParte %q has no tipo", short(name))
	case strings.TrimSpace(t) == "":
		p.fail(code, path+"/tipo", "IdentificativoParte %q has an empty tipo", short(name))
	default:
		party.Type = strings.TrimSpace(t)
	}
	return party, len(p.err.Exceptions) == before
}

// absoluteURL reports whether s is an absolute URL naming a host, as an indirizzoTelematico must
// be (spec §10).
func absoluteURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.Scheme != "" && u.Host != ""
}

func (p *parser) acks(list *etree.Element) []Ack {
	const where = "ListaRiscontri"
	p.attrs(list, where, true)
	items := p.children(list, where, "Riscontro+")["Riscontro"]
	if len(items) == 0 {
		p.fail(CodeInvalidAcks, where+"/Riscontro", "ListaRiscontri has no Riscontro")
	}
	var out []Ack
	for _, r := range items {
		path := where + "/Riscontro"
		p.attrs(r, path, false)
		m := p.children(r, path, "Identificatore", "OraRegistrazione")
		var a Ack
		if l := m["Identificatore"]; len(l) == 0 {
			p.bare(CodeInvalidAcks, path+"/Identificatore", "Riscontro has no Identificatore")
		} else {
			p.attrs(l[0], path+"/Identificatore", false)
			v := p.text(l[0], path+"/Identificatore")
			if err := ValidateID(v); err != nil {
				p.fail(CodeInvalidAcks, path+"/Identificatore", "Riscontro: %v", err)
			}
			a.ID = v
		}
		if l := m["OraRegistrazione"]; len(l) == 0 {
			p.bare(CodeInvalidAcks, path+"/OraRegistrazione", "Riscontro has no OraRegistrazione")
		} else {
			if l[0].SelectAttr("tempo") == nil {
				// Structural (spec §10): the riscontro cannot be matched without its time's source.
				p.bare(CodeInvalidAcks, path+"/OraRegistrazione/tempo", "Riscontro's OraRegistrazione has no tempo")
			} else {
				a.Time = p.timestamp(l[0], path+"/OraRegistrazione", CodeInvalidAcks)
			}
		}
		out = append(out, a)
	}
	return out
}

func (p *parser) hops(list *etree.Element) []Hop {
	const where = "ListaTrasmissioni"
	p.attrs(list, where, true)
	items := p.children(list, where, "Trasmissione+")["Trasmissione"]
	if len(items) == 0 {
		p.fail(CodeInvalidHops, where+"/Trasmissione", "ListaTrasmissioni has no Trasmissione")
	}
	var out []Hop
	for _, t := range items {
		path := where + "/Trasmissione"
		p.attrs(t, path, false)
		m := p.children(t, path, "Origine", "Destinazione", "OraRegistrazione")
		var hop Hop
		for _, side := range []struct {
			name string
			dst  *Party
		}{{"Origine", &hop.Origin}, {"Destinazione", &hop.Destination}} {
			sp := path + "/" + side.name
			l := m[side.name]
			if len(l) == 0 {
				p.bare(CodeInvalidHops, sp, "Trasmissione has no %s", side.name)
				continue
			}
			p.attrs(l[0], sp, false)
			parts := p.children(l[0], sp, "IdentificativoParte+")["IdentificativoParte"]
			if len(parts) == 0 {
				p.bare(CodeInvalidHops, sp+"/IdentificativoParte", "%s has no IdentificativoParte", side.name)
				continue
			}
			for range parts[1:] {
				// A value defect, not a structural one (spec §10): one 116 per extra party.
				p.fail(CodeInvalidHops, sp+"/IdentificativoParte", "%s has %d IdentificativoParte, want exactly one", side.name, len(parts))
			}
			*side.dst, _ = p.party(parts[0], sp+"/IdentificativoParte", CodeInvalidHops, false)
		}
		if l := m["OraRegistrazione"]; len(l) == 0 {
			p.bare(CodeInvalidHops, path+"/OraRegistrazione", "Trasmissione has no OraRegistrazione")
		} else {
			hop.Time = p.timestamp(l[0], path+"/OraRegistrazione", CodeInvalidHops)
		}
		out = append(out, hop)
	}
	return out
}

func (p *parser) exceptions(list *etree.Element) []Exception {
	const where = "ListaEccezioni"
	p.attrs(list, where, true)
	items := p.children(list, where, "Eccezione+")["Eccezione"]
	if len(items) == 0 {
		p.fail(CodeHeaderFormat, where, "ListaEccezioni has no Eccezione")
	}
	var out []Exception
	for _, e := range items {
		path := where + "/Eccezione"
		at := p.attrs(e, path, false, "contestoCodifica", "codiceEccezione", "rilevanza", "posizione")
		p.text(e, path)
		var x Exception
		for _, name := range []string{"contestoCodifica", "codiceEccezione", "rilevanza", "posizione"} {
			if _, ok := at[name]; !ok {
				p.fail(CodeHeaderFormat, path+"/"+name, "Eccezione has no %s", name)
			}
		}
		x.Context = at["contestoCodifica"]
		if c := Code(at["codiceEccezione"]); c.Valid() {
			x.Code = c
		} else if _, ok := at["codiceEccezione"]; ok {
			p.fail(CodeHeaderFormat, path+"/codiceEccezione", "codiceEccezione %q is not an eGov code", short(string(c)))
		}
		switch s := Severity(at["rilevanza"]); s {
		case SeverityInfo, SeverityMinor, SeveritySevere:
			x.Severity = s
		default:
			if _, ok := at["rilevanza"]; ok {
				p.fail(CodeHeaderFormat, path+"/rilevanza", "rilevanza %q is not INFO, LIEVE or GRAVE", short(string(s)))
			}
		}
		x.Position = at["posizione"]
		out = append(out, x)
	}
	return out
}

// Values of ProfiloTrasmissione@inoltro.
const (
	inoltroOnce = "EGOV_IT_ALPIUUNAVOLTA"
	inoltroMany = "EGOV_IT_PIUDIUNAVOLTA"
)

// ServiceTypes are the schema's values of ProfiloCollaborazione@tipo: the service types a
// registry accepts for a service (Servizio@tipo).
var ServiceTypes = []string{"SPC", "TEST", "URL", "WSDL", "LDAP", "UDDI", "ebXMLRegistry"}

func parseXSDBool(s string) (bool, bool) {
	switch strings.TrimSpace(s) {
	case "true", "1":
		return true, true
	case "false", "0":
		return false, true
	}
	return false, false
}

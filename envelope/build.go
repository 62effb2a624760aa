package envelope

import (
	"bytes"
	"fmt"
	"strconv"

	"github.com/beevik/etree"
	"porta/internal/xmlsafe"
)

// Prefixes the builder writes.
const (
	prefixEGov = "eGov_IT"
	prefixSOAP = "SOAP_ENV"
)

// Element builds the eGov_IT:Intestazione for h in the schema's order, with the fixed
// SOAP_ENV:actor and SOAP_ENV:mustUnderstand="1" and the eGov_IT and SOAP_ENV namespaces declared
// on the element itself (as GovWay's samples do), so it stays valid wherever it is moved.
// Dates are written by FormatTime: the wall clock of each time.Time in its own location.
// An empty Party or Servizio tipo is written as "SPC"; an empty OraRegistrazione source as
// EGOV_IT_SPC. Element writes what h holds: checking it is ParseHeader's job.
func (h *Header) Element() *etree.Element {
	in := etree.NewElement(prefixEGov + ":Intestazione")
	in.CreateAttr(prefixSOAP+":actor", Actor)
	in.CreateAttr(prefixSOAP+":mustUnderstand", "1")
	in.CreateAttr("xmlns:"+prefixSOAP, NSSOAP)
	in.CreateAttr("xmlns:"+prefixEGov, NSeGov)

	im := add(in, "IntestazioneMessaggio")
	mitt := add(im, "Mittente")
	for _, p := range h.Sender {
		addParty(mitt, p)
	}
	addParty(add(im, "Destinatario"), h.Receiver)
	if h.Profile != ProfileNone {
		pc := add(im, "ProfiloCollaborazione")
		if h.CorrelatedService != "" {
			pc.CreateAttr("servizioCorrelato", h.CorrelatedService)
		}
		if h.CorrelatedServiceType != "" {
			pc.CreateAttr("tipo", h.CorrelatedServiceType)
		}
		pc.SetText(h.Profile.WireName())
	}
	if h.Conversation != "" {
		add(im, "Collaborazione").SetText(h.Conversation)
	}
	if h.Service != "" {
		s := add(im, "Servizio")
		s.CreateAttr("tipo", orSPC(h.ServiceType))
		s.SetText(h.Service)
	}
	if h.Action != "" {
		add(im, "Azione").SetText(h.Action)
	}
	msg := add(im, "Messaggio")
	add(msg, "Identificatore").SetText(h.ID)
	addTime(msg, h.Time)
	if h.RelatesTo != "" {
		add(msg, "RiferimentoMessaggio").SetText(h.RelatesTo)
	}
	if h.Expires != nil {
		add(msg, "Scadenza").SetText(FormatTime(*h.Expires))
	}
	if t := h.Transmission; t != nil {
		pt := add(im, "ProfiloTrasmissione")
		pt.CreateAttr("confermaRicezione", strconv.FormatBool(t.AckRequested))
		if t.AtMostOnce {
			pt.CreateAttr("inoltro", inoltroOnce)
		} else {
			pt.CreateAttr("inoltro", inoltroMany)
		}
	}
	if h.Sequence != 0 {
		add(im, "Sequenza").CreateAttr("numeroProgressivo", fmt.Sprintf("%07d", h.Sequence))
	}
	if len(h.Acks) > 0 {
		l := add(in, "ListaRiscontri")
		for _, a := range h.Acks {
			r := add(l, "Riscontro")
			add(r, "Identificatore").SetText(a.ID)
			addTime(r, a.Time)
		}
	}
	if len(h.Transmissions) > 0 {
		l := add(in, "ListaTrasmissioni")
		for _, t := range h.Transmissions {
			tr := add(l, "Trasmissione")
			addParty(add(tr, "Origine"), t.Origin)
			addParty(add(tr, "Destinazione"), t.Destination)
			addTime(tr, t.Time)
		}
	}
	if len(h.Exceptions) > 0 {
		l := add(in, "ListaEccezioni")
		for _, x := range h.Exceptions {
			e := add(l, "Eccezione")
			ctx := x.Context
			if ctx == "" {
				ctx = ContextValidation
			}
			sev := x.Severity
			if sev == "" {
				sev = SeveritySevere
			}
			e.CreateAttr("contestoCodifica", ctx)
			e.CreateAttr("codiceEccezione", string(x.Code))
			e.CreateAttr("rilevanza", string(sev))
			e.CreateAttr("posizione", x.Position)
		}
	}
	return in
}

func add(parent *etree.Element, name string) *etree.Element {
	return parent.CreateElement(prefixEGov + ":" + name)
}

func addParty(parent *etree.Element, p Party) {
	e := add(parent, "IdentificativoParte")
	e.CreateAttr("tipo", orSPC(p.Type))
	if p.Address != "" {
		e.CreateAttr("indirizzoTelematico", p.Address)
	}
	e.SetText(p.Name)
}

func addTime(parent *etree.Element, ts Timestamp) {
	e := add(parent, "OraRegistrazione")
	src := ts.Source
	if src == "" {
		src = TimeSPC
	}
	e.CreateAttr("tempo", src)
	e.SetText(FormatTime(ts.Time))
}

func orSPC(t string) string {
	if t == "" {
		return "SPC"
	}
	return t
}

// NewEnvelope returns a SOAP 1.1 envelope (prefix soapenv) with h's Intestazione in the Header
// and body's elements, in order, in the Body. A nil h gives an envelope with an empty Header.
func NewEnvelope(h *Header, body ...*etree.Element) *etree.Document {
	doc := etree.NewDocument()
	doc.CreateProcInst("xml", `version="1.0" encoding="UTF-8"`)
	env := doc.CreateElement("soapenv:Envelope")
	env.CreateAttr("xmlns:soapenv", NSSOAP)
	hdr := env.CreateElement("soapenv:Header")
	if h != nil {
		hdr.AddChild(h.Element())
	}
	b := env.CreateElement("soapenv:Body")
	for _, e := range body {
		b.AddChild(e)
	}
	return doc
}

// Wrap puts payload, an XML document, into the Body of a new envelope carrying h. The payload
// is read with xmlsafe.Parse (xmlsafe.DefaultLimits): an XML declaration, comments and processing instructions
// around the one root element are allowed and dropped; an empty or all-white-space payload gives an
// empty Body. The error names what is wrong with the payload.
func Wrap(h *Header, payload []byte) (*etree.Document, error) {
	if len(bytes.TrimSpace(payload)) == 0 {
		return NewEnvelope(h), nil
	}
	doc, err := xmlsafe.Parse(payload, xmlsafe.DefaultLimits)
	if err != nil {
		return nil, fmt.Errorf("payload: %w", err)
	}
	root := doc.Root()
	doc.RemoveChild(root)
	return NewEnvelope(h, root), nil
}

// Bytes serialises a document built here, with a trailing newline.
func Bytes(doc *etree.Document) ([]byte, error) {
	b, err := doc.WriteToBytes()
	if err != nil {
		return nil, fmt.Errorf("serialise envelope: %w", err)
	}
	return append(b, '\n'), nil
}

// Package flows runs the province's flows through its own Porta Delegata, as a local application
// would. Sender reads workers from the SIL (adapters/sil), builds each record's document with the
// adapters' builders (sap, did, candidatura, europass) and POSTs it as a SOAP 1.1 request to
// /pd/{consumer}/{provider}/{service}/{action} with the application's credentials (PD.Call);
// Anagrafe consults each worker's municipality (E002) and Scuole requests and polls the schools'
// attendance extractions, and both merge what comes back into adapters/merge's store. Every
// rejected record is kept in merge's failures table, where `porta failures list|retry` find it
// (Sender.Retry and Anagrafe.Retry re-send; merge.Store.Resend re-merges).
//
// A record is rejected alone, and the rest of the batch goes on, when a builder refuses it (a
// *sil.RecordError naming field and rule), when the PD refuses its payload (a SOAP Client fault),
// when the peer answers KO, or when a registry answers rispostaKO. A fault that is not the
// record's (authentication, a Server fault, the network) stops the run with an error: nothing is
// marked as sent, so the same run can be repeated. Runs are idempotent on the peers' side only as
// far as the gateway's duplicate filtering goes: a re-run sends again.
//
// It is a library for cmd/porta (sil send, sync, failures) and for the demo; flowstest holds a PD
// double for tests. It must not build the busta (the gateway does) nor write the SIL.
package flows

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/beevik/etree"
)

// PD is the Porta Delegata the flows post to, and who they are.
type PD struct {
	URL      string       // base URL, e.g. http://127.0.0.1:7080
	Consumer string       // the hosted party the flows act for, e.g. Provincia
	User     string       // the application's HTTP Basic user
	Password string       // and password
	Client   *http.Client // nil: a client with Timeout
	Timeout  time.Duration
}

// Route is where one kind of document goes.
type Route struct {
	Provider, Service, Action string
}

// Reply is the PD's answer to one request.
type Reply struct {
	Status    int
	MessageID string // Porta-Message-ID: the busta's identifier
	Payload   []byte // the reply's first Body child, nil for a one-way request queued by the PD
}

// FaultError is a SOAP fault answered by the PD (or carried back from the peer).
type FaultError struct {
	Status int
	Code   string // faultcode without its prefix: Client or Server
	String string // faultstring
	Detail string // the text of the detail, e.g. the eGov exception description
}

func (e *FaultError) Error() string {
	s := fmt.Sprintf("porta delegata: HTTP %d, %s fault: %s", e.Status, e.Code, e.String)
	if e.Detail != "" {
		s += " (" + e.Detail + ")"
	}
	return s
}

// RecordFault reports whether the fault is about the request's content, so that the record alone
// is rejected: a Client fault other than the PD's authentication, routing and authorisation
// refusals (which every record would meet, and which a re-send cannot cure). The gateway words
// these as "authentication failed", "consumer ...", "provider ...", "service ...", "application
// ... may not call", "action ... is not an action"; its faults carry no code that tells them
// apart, so the wording is read here.
func (e *FaultError) RecordFault() bool {
	if e.Code != "Client" {
		return false
	}
	for _, p := range []string{"authentication failed", "consumer ", "provider ", "service ", "application ", "action "} {
		if strings.HasPrefix(e.String, p) {
			return false
		}
	}
	return true
}

const contentTypeSOAP = "text/xml; charset=utf-8"

// Call posts payload (one XML element) wrapped in a SOAP 1.1 envelope to the route's PD address
// and returns the reply. A SOAP fault is returned as a *FaultError.
func (p *PD) Call(ctx context.Context, r Route, payload []byte) (*Reply, error) {
	return p.CallRelated(ctx, r, payload, "")
}

// CallRelated is Call for a message that refers to an earlier one (a richiesta-stato to its
// request): relatesTo is sent as Porta-Relates-To, the PD's RiferimentoMessaggio.
func (p *PD) CallRelated(ctx context.Context, r Route, payload []byte, relatesTo string) (*Reply, error) {
	env, err := wrapSOAP(payload)
	if err != nil {
		return nil, err
	}
	u := strings.TrimRight(p.URL, "/") + "/pd/" + url.PathEscape(p.Consumer) + "/" + url.PathEscape(r.Provider) + "/" +
		url.PathEscape(r.Service) + "/" + url.PathEscape(r.Action)
	timeout := p.Timeout
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(env))
	if err != nil {
		return nil, fmt.Errorf("porta delegata %s: %w", u, err)
	}
	req.Header.Set("Content-Type", contentTypeSOAP)
	req.Header.Set("SOAPAction", `"`+r.Action+`"`)
	if relatesTo != "" {
		req.Header.Set("Porta-Relates-To", relatesTo)
	}
	if p.User != "" {
		req.SetBasicAuth(p.User, p.Password)
	}
	c := p.Client
	if c == nil {
		c = &http.Client{Timeout: timeout}
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("porta delegata %s: %w", u, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("porta delegata %s: read reply: %w", u, err)
	}
	rep := &Reply{Status: resp.StatusCode, MessageID: resp.Header.Get("Porta-Message-ID")}
	if len(bytes.TrimSpace(body)) == 0 {
		if resp.StatusCode/100 != 2 {
			return nil, fmt.Errorf("porta delegata %s: HTTP %d with no body", u, resp.StatusCode)
		}
		return rep, nil
	}
	first, fault, err := unwrapSOAP(body)
	if err != nil {
		return nil, fmt.Errorf("porta delegata %s: HTTP %d: %w", u, resp.StatusCode, err)
	}
	if fault != nil {
		fault.Status = resp.StatusCode
		return nil, fault
	}
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("porta delegata %s: HTTP %d without a SOAP fault", u, resp.StatusCode)
	}
	rep.Payload = first
	return rep, nil
}

const nsSOAP = "http://schemas.xmlsoap.org/soap/envelope/"

// wrapSOAP puts payload, one XML document (the builders' output, already validated), in a SOAP
// 1.1 Body as it is: its XML declaration dropped, its bytes otherwise untouched.
func wrapSOAP(payload []byte) ([]byte, error) {
	p := bytes.TrimSpace(payload)
	if bytes.HasPrefix(p, []byte("<?xml")) {
		end := bytes.Index(p, []byte("?>"))
		if end < 0 {
			return nil, errors.New("payload: unterminated XML declaration")
		}
		p = bytes.TrimSpace(p[end+2:])
	}
	if len(p) == 0 || p[0] != '<' || bytes.HasPrefix(p, []byte("<!DOCTYPE")) {
		return nil, errors.New("payload is not one XML element")
	}
	var b bytes.Buffer
	b.Grow(len(p) + 160)
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<soapenv:Envelope xmlns:soapenv="` + nsSOAP + `"><soapenv:Body>`)
	b.Write(p)
	b.WriteString(`</soapenv:Body></soapenv:Envelope>`)
	return b.Bytes(), nil
}

// unwrapSOAP returns the first Body child as a document, or the fault.
func unwrapSOAP(data []byte) ([]byte, *FaultError, error) {
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(data); err != nil {
		return nil, nil, fmt.Errorf("reply is not XML: %w", err)
	}
	env := doc.Root()
	if env == nil || env.Tag != "Envelope" || env.NamespaceURI() != nsSOAP {
		return nil, nil, errors.New("reply is not a SOAP 1.1 envelope")
	}
	var body *etree.Element
	for _, c := range env.ChildElements() {
		if c.Tag == "Body" && c.NamespaceURI() == nsSOAP {
			body = c
		}
	}
	if body == nil {
		return nil, nil, errors.New("reply has no SOAP Body")
	}
	kids := body.ChildElements()
	if len(kids) == 0 {
		return nil, nil, nil
	}
	first := kids[0]
	if first.Tag == "Fault" && first.NamespaceURI() == nsSOAP {
		f := &FaultError{}
		if e := first.FindElement("faultcode"); e != nil {
			code := strings.TrimSpace(e.Text())
			if i := strings.LastIndex(code, ":"); i >= 0 {
				code = code[i+1:]
			}
			f.Code = code
		}
		if e := first.FindElement("faultstring"); e != nil {
			f.String = strings.TrimSpace(e.Text())
		}
		if d := first.FindElement("detail"); d != nil {
			var parts []string
			for _, a := range d.FindElements(".//*[@descrizioneEccezione]") {
				parts = append(parts, a.SelectAttrValue("codiceEccezione", "")+" "+a.SelectAttrValue("descrizioneEccezione", ""))
			}
			f.Detail = strings.Join(parts, "; ")
		}
		return nil, f, nil
	}
	out := etree.NewDocument()
	c := first.Copy()
	// Keep the namespace declarations the payload inherits from the envelope.
	for e := first.Parent(); e != nil; e = e.Parent() {
		for _, a := range e.Attr {
			if (a.Space == "xmlns" || (a.Space == "" && a.Key == "xmlns")) && c.SelectAttr(a.FullKey()) == nil {
				c.CreateAttr(a.FullKey(), a.Value)
			}
		}
	}
	out.SetRoot(c)
	b, err := out.WriteToBytes()
	return b, nil, err
}

// Package pdclient is the client side of a Porta Delegata: what a local application (the
// province's SIL flows in adapters/flows, porta sil, sync, failures and the demo) does to send one
// payload through its own gateway. PD.Call wraps the payload in a SOAP 1.1 envelope, POSTs it to
// /pd/{consumer}/{provider}/{service}/{action} with the application's HTTP Basic credentials and a
// timeout, and returns the reply's payload, its Porta-Message-ID, or the SOAP fault as a
// *FaultError (RecordFault tells a refusal of the record from one every record would meet).
// PD.CallOnce sends an Idempotency-Key too, and retries on its own what a retry cannot duplicate:
// the gateway answers a repeated key with the first answer instead of sending again.
//
// It owns HTTP and the plain SOAP envelope; it must not build the busta (the gateway does) nor
// know any service's documents. pdtest holds a double of the PD for tests.
package pdclient

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"porta/internal/soapenv"
)

// PD is the Porta Delegata the flows post to, and who they are.
type PD struct {
	URL      string       // base URL, e.g. http://127.0.0.1:7080
	Consumer string       // the hosted party the flows act for, e.g. Provincia
	User     string       // the application's HTTP Basic user
	Password string       // and password
	Client   *http.Client // nil: a client with Timeout
	Timeout  time.Duration
	// Retries is how many times CallOnce tries again after a transport error, a 503 or a
	// request under the same key still under way (3 when 0; -1: none). Call never retries.
	Retries int
	// RetryWait is the first pause between CallOnce's tries, doubled each time (500ms when 0);
	// a Retry-After the PD sends is honoured up to 4 times it.
	RetryWait time.Duration
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
	Reason string // the PD's Porta-Error-Reason, e.g. idempotency-conflict ("" when none)
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
	switch e.Reason {
	case "idempotency-conflict", "idempotency-pending", "idempotency-key-invalid":
		return false // about the key, not the record
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
	env, err := soapenv.Wrap(payload)
	if err != nil {
		return nil, err
	}
	rep, _, err := p.post(ctx, r, env, relatesTo, "")
	return rep, err
}

// CallOnce is Call under an Idempotency-Key: the same key with the same payload is one request
// for the gateway, which answers a repeat with the first answer (the same Porta-Message-ID)
// without sending again. So CallOnce retries a call whose answer was lost (a transport error, a
// gateway restarting) up to Retries times, and a caller that crashed calls it again with the same
// key after a restart. The key must name the payload's version: another payload under a kept key
// is refused (a *FaultError with Reason idempotency-conflict).
func (p *PD) CallOnce(ctx context.Context, r Route, payload []byte, key string) (*Reply, error) {
	env, err := soapenv.Wrap(payload)
	if err != nil {
		return nil, err
	}
	retries, wait := p.Retries, p.RetryWait
	if retries == 0 {
		retries = 3
	}
	if wait <= 0 {
		wait = 500 * time.Millisecond
	}
	for try := 0; ; try++ {
		rep, hdr, err := p.post(ctx, r, env, "", key)
		var fe *FaultError
		retry := err != nil && !errors.As(err, &fe) && ctx.Err() == nil // transport: the answer may be lost
		if errors.As(err, &fe) {
			retry = fe.Status == http.StatusServiceUnavailable || fe.Reason == "idempotency-pending"
		}
		if !retry || try >= retries {
			return rep, err
		}
		pause := wait << try
		if s, perr := strconv.Atoi(hdr.Get("Retry-After")); perr == nil && s > 0 {
			pause = min(time.Duration(s)*time.Second, 4*wait<<try)
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(pause):
		}
	}
}

// post sends one wrapped request and reads its answer; the headers are returned for CallOnce's
// Retry-After.
func (p *PD) post(ctx context.Context, r Route, env []byte, relatesTo, key string) (*Reply, http.Header, error) {
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
		return nil, nil, fmt.Errorf("porta delegata %s: %w", u, err)
	}
	req.Header.Set("Content-Type", contentTypeSOAP)
	req.Header.Set("SOAPAction", `"`+r.Action+`"`)
	if relatesTo != "" {
		req.Header.Set("Porta-Relates-To", relatesTo)
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
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
		return nil, nil, fmt.Errorf("porta delegata %s: %w", u, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, nil, fmt.Errorf("porta delegata %s: read reply: %w", u, err)
	}
	rep := &Reply{Status: resp.StatusCode, MessageID: resp.Header.Get("Porta-Message-ID")}
	if len(bytes.TrimSpace(body)) == 0 {
		if resp.StatusCode/100 != 2 {
			return nil, resp.Header, fmt.Errorf("porta delegata %s: HTTP %d with no body", u, resp.StatusCode)
		}
		return rep, resp.Header, nil
	}
	first, fault, err := unwrapSOAP(body)
	if err != nil {
		return nil, resp.Header, fmt.Errorf("porta delegata %s: HTTP %d: %w", u, resp.StatusCode, err)
	}
	if fault != nil {
		fault.Status, fault.Reason = resp.StatusCode, resp.Header.Get("Porta-Error-Reason")
		return nil, resp.Header, fault
	}
	if resp.StatusCode/100 != 2 {
		return nil, resp.Header, fmt.Errorf("porta delegata %s: HTTP %d without a SOAP fault", u, resp.StatusCode)
	}
	rep.Payload = first
	return rep, resp.Header, nil
}

// unwrapSOAP returns the first Body child as a document, or the fault.
func unwrapSOAP(data []byte) ([]byte, *FaultError, error) {
	kids, err := soapenv.Body(data)
	if err != nil {
		return nil, nil, fmt.Errorf("reply: %w", err)
	}
	if len(kids) == 0 {
		return nil, nil, nil
	}
	first := kids[0]
	if first.Tag == "Fault" && first.NamespaceURI() == soapenv.NS {
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
	b, err := soapenv.Document(first)
	return b, nil, err
}

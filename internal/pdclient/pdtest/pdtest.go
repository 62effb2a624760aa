// Package pdtest is test support for the clients of a Porta Delegata (internal/pdclient and the
// province's flows in adapters/flows): PD, an httptest double of the province's PD that checks what a local application sends as the real one does
// (HTTP Basic, a SOAP 1.1 envelope valid against the envelope schema, a payload valid against the
// action's schema, from adapters/labour) and answers as the peers would (invioSAP OK unless told
// otherwise, the other synchronous worker documents as adapters/labour's simulated provider does,
// one-way documents queued). It must only be imported by tests.
package pdtest

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/beevik/etree"

	"porta/adapters/labour"
	"porta/internal/soapenv"
	"porta/xsd"
)

// User and Password are the application credentials the double accepts; Consumer is the party.
const (
	User     = "sil"
	Password = "segreto"
	Consumer = "Provincia"
)

// PD is the double. Set Refuse, KO and Down (under Lock) to make it refuse records.
type PD struct {
	t   testing.TB
	set *xsd.Set
	Srv *httptest.Server

	sync.Mutex
	received map[string][]string          // action -> records' keys, in order
	Refuse   map[string]map[string]string // action -> record key -> Client faultstring
	KO       map[string]bool              // codici fiscali the Ministry answers KO to
	Down     bool                         // answer every request with a Server fault
	// Handlers answer the actions of synchronous services and richieste-stato from a real
	// backend (anagrafe.Service.Handle, scuola.Service.Handle): payload in, payload out. A nil
	// payload out answers as the PD does for a queued request: 200 with QueuedID and no body.
	Handlers map[string]func(ctx context.Context, payload []byte) ([]byte, error)
}

// actionSchema is the payload schema of an action of the labour network (adapters/labour).
func actionSchema(action string) string {
	if s := labour.ByAction(action); s != nil {
		return s.Schema
	}
	return ""
}

// ClientFault, returned by a handler, is answered as a SOAP Client fault with its text, as the PD
// answers a refusal (e.g. the peer's EGOV_IT_111 for a RiferimentoMessaggio it does not know).
type ClientFault string

func (c ClientFault) Error() string { return string(c) }

// QueuedID is the Porta-Message-ID of a request a handler took as queued (it returned no payload).
const QueuedID = "Provincia_ProvinciaSPCoopIT_0000042_2026-11-28_09:00"

// New starts a PD double, closed when the test ends.
func New(t testing.TB, set *xsd.Set) *PD {
	d := &PD{t: t, set: set, received: map[string][]string{}, Refuse: map[string]map[string]string{}, KO: map[string]bool{},
		Handlers: map[string]func(context.Context, []byte) ([]byte, error){}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /pd/{consumer}/{provider}/{service}/{action}", d.serve)
	d.Srv = httptest.NewServer(mux)
	t.Cleanup(d.Srv.Close)
	return d
}

// URL is the double's base URL.
func (d *PD) URL() string { return d.Srv.URL }

const contentTypeSOAP = "text/xml; charset=utf-8"

func fault(w http.ResponseWriter, code, msg string) {
	w.Header().Set("Content-Type", contentTypeSOAP)
	w.WriteHeader(http.StatusInternalServerError)
	io.WriteString(w, `<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><soapenv:Fault><faultcode>soapenv:`+
		code+`</faultcode><faultstring>`+msg+`</faultstring></soapenv:Fault></soapenv:Body></soapenv:Envelope>`)
}

func reply(w http.ResponseWriter, payload string) {
	w.Header().Set("Content-Type", contentTypeSOAP)
	w.Header().Set("Porta-Message-ID", "Ministero_MinisteroSPCoopIT_0000001_2026-11-28_09:00")
	io.WriteString(w, `<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>`+payload+`</soapenv:Body></soapenv:Envelope>`)
}

var xmlDecl = regexp.MustCompile(`^\s*<\?xml[^>]*\?>`)

var cfPattern = regexp.MustCompile(`^[A-Z]{6}[0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]$`)

// recordKey names the worker a payload is about: the first element that holds a personal codice
// fiscale (looking into the SAP, which travels as a string), or for the Europass CV, which carries
// none, "FirstName Surname".
func recordKey(root *etree.Element) string {
	for _, e := range append([]*etree.Element{root}, root.FindElements(".//*")...) {
		txt := strings.TrimSpace(e.Text())
		if cfPattern.MatchString(txt) && !strings.HasSuffix(e.Tag, "Operatore") {
			return txt
		}
		if strings.HasPrefix(txt, "<") {
			in := etree.NewDocument()
			if in.ReadFromString(txt) == nil && in.Root() != nil {
				if k := recordKey(in.Root()); k != "" {
					return k
				}
			}
		}
	}
	if n := root.FindElement(".//PersonName"); n != nil {
		return n.FindElement("FirstName").Text() + " " + n.FindElement("Surname").Text()
	}
	return ""
}

func (d *PD) serve(w http.ResponseWriter, r *http.Request) {
	d.Lock()
	defer d.Unlock()
	if u, p, ok := r.BasicAuth(); !ok || u != User || p != Password {
		fault(w, "Client", "authentication failed")
		return
	}
	if d.Down {
		fault(w, "Server", "the gateway could not process the request")
		return
	}
	action := r.PathValue("action")
	if r.PathValue("consumer") != Consumer || r.Header.Get("SOAPAction") != `"`+action+`"` ||
		!strings.HasPrefix(r.Header.Get("Content-Type"), "text/xml") {
		d.t.Errorf("%s: consumer %s, SOAPAction %s, Content-Type %s", r.URL.Path, r.PathValue("consumer"), r.Header.Get("SOAPAction"), r.Header.Get("Content-Type"))
	}
	raw, _ := io.ReadAll(r.Body)
	if err := d.set.Validate(xsd.SOAPEnvelope, raw); err != nil {
		d.t.Errorf("%s: not a valid SOAP 1.1 envelope: %v", action, err)
		fault(w, "Client", "request is not a SOAP 1.1 envelope")
		return
	}
	payload, err := soapenv.Payload(raw)
	if err != nil || payload == nil {
		d.t.Errorf("%s: no payload: %v", action, err)
		return
	}
	if err := d.set.Validate(actionSchema(action), payload); err != nil {
		d.t.Errorf("%s: payload does not validate against %s: %v", action, actionSchema(action), err)
		fault(w, "Client", "EGOV_IT_003 payload")
		return
	}
	doc := etree.NewDocument()
	doc.ReadFromBytes(payload)
	cf := recordKey(doc.Root())
	if h := d.Handlers[action]; h != nil {
		d.received[action] = append(d.received[action], cf)
		out, err := h(r.Context(), payload)
		var cf ClientFault
		if errors.As(err, &cf) {
			fault(w, "Client", string(cf))
			return
		}
		if err != nil {
			fault(w, "Server", "backend: "+err.Error())
			return
		}
		if out == nil { // the handler took it as a queued one-way or asynchronous request
			w.Header().Set("Porta-Message-ID", QueuedID)
			w.WriteHeader(http.StatusOK)
			return
		}
		if err := d.set.Validate(actionSchema(action), out); err != nil {
			d.t.Errorf("%s: the backend's answer does not validate: %v", action, err)
		}
		reply(w, xmlDecl.ReplaceAllString(string(out), ""))
		return
	}
	if cf == "" {
		d.t.Errorf("%s: no codice fiscale in %s", action, payload)
	}
	if msg, ok := d.Refuse[action][cf]; ok {
		fault(w, "Client", msg)
		return
	}
	d.received[action] = append(d.received[action], cf)
	switch action {
	case "invioSAP":
		esito := "OK"
		if d.KO[cf] {
			esito = "KO"
		}
		reply(w, `<risposta_invioSAP xmlns="http://servizi.lavoro.gov.it/servizicoap/types"><Esito>`+esito+`</Esito><MessaggioErrore>`+
			map[bool]string{true: "codice SAP non coerente"}[esito == "KO"]+`</MessaggioErrore></risposta_invioSAP>`)
	default:
		if s := labour.ByAction(action); s != nil && s.Worker != nil && s.Worker.Answer != nil {
			reply(w, string(s.Worker.Answer(int64(len(d.received[action])))))
			return
		}
		// one-way: queued by the PD
		w.Header().Set("Porta-Message-ID", "Provincia_ProvinciaSPCoopIT_0000001_2026-11-28_09:00")
		w.WriteHeader(http.StatusOK)
	}
}

// Got returns the keys of the records accepted for action, in order: the codice fiscale, or for
// the Europass CV "FirstName Surname".
func (d *PD) Got(action string) []string {
	d.Lock()
	defer d.Unlock()
	return append([]string(nil), d.received[action]...)
}

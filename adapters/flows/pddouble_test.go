package flows

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/beevik/etree"

	"porta/adapters/candidatura"
	"porta/adapters/did"
	"porta/adapters/europass"
	"porta/xsd"
)

// pdDouble stands for the province's Porta Delegata: it checks what a local application sends as
// the real one does (HTTP Basic, a SOAP 1.1 envelope valid against the envelope schema, a payload
// valid against the action's schema) and answers as the peers would.
type pdDouble struct {
	t   *testing.T
	set *xsd.Set
	srv *httptest.Server

	mu       sync.Mutex
	received map[string][]string          // action -> root elements' codici fiscali, in order
	refuse   map[string]map[string]string // action -> codice fiscale -> Client faultstring
	ko       map[string]bool              // codici fiscali the Ministry answers KO to
	down     bool                         // answer every request with a Server fault
}

var actionSchemas = map[string]string{
	"invioSAP":         "labour/sap-servizicoap.xsd",
	"invioCandidatura": candidatura.Schema,
	"invioEuropass":    europass.Schema,
	"gestisciDID":      did.Schema,
}

func newPDDouble(t *testing.T, set *xsd.Set) *pdDouble {
	d := &pdDouble{t: t, set: set, received: map[string][]string{}, refuse: map[string]map[string]string{}, ko: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /pd/{consumer}/{provider}/{service}/{action}", d.serve)
	d.srv = httptest.NewServer(mux)
	t.Cleanup(d.srv.Close)
	return d
}

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

func (d *pdDouble) serve(w http.ResponseWriter, r *http.Request) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if u, p, ok := r.BasicAuth(); !ok || u != "sil" || p != "segreto" {
		fault(w, "Client", "authentication failed")
		return
	}
	if d.down {
		fault(w, "Server", "the gateway could not process the request")
		return
	}
	action := r.PathValue("action")
	if r.PathValue("consumer") != "Provincia" || r.Header.Get("SOAPAction") != `"`+action+`"` ||
		!strings.HasPrefix(r.Header.Get("Content-Type"), "text/xml") {
		d.t.Errorf("%s: consumer %s, SOAPAction %s, Content-Type %s", r.URL.Path, r.PathValue("consumer"), r.Header.Get("SOAPAction"), r.Header.Get("Content-Type"))
	}
	raw, _ := io.ReadAll(r.Body)
	if err := d.set.Validate(xsd.SOAPEnvelope, raw); err != nil {
		d.t.Errorf("%s: not a valid SOAP 1.1 envelope: %v", action, err)
		fault(w, "Client", "request is not a SOAP 1.1 envelope")
		return
	}
	payload, _, err := unwrapSOAP(raw)
	if err != nil || payload == nil {
		d.t.Errorf("%s: no payload: %v", action, err)
		return
	}
	if err := d.set.Validate(actionSchemas[action], payload); err != nil {
		d.t.Errorf("%s: payload does not validate against %s: %v", action, actionSchemas[action], err)
		fault(w, "Client", "EGOV_IT_003 payload")
		return
	}
	doc := etree.NewDocument()
	doc.ReadFromBytes(payload)
	cf := recordKey(doc.Root())
	if cf == "" {
		d.t.Errorf("%s: no codice fiscale in %s", action, payload)
	}
	if msg, ok := d.refuse[action][cf]; ok {
		fault(w, "Client", msg)
		return
	}
	d.received[action] = append(d.received[action], cf)
	switch action {
	case "invioSAP":
		esito := "OK"
		if d.ko[cf] {
			esito = "KO"
		}
		reply(w, `<risposta_invioSAP xmlns="http://servizi.lavoro.gov.it/servizicoap/types"><Esito>`+esito+`</Esito><MessaggioErrore>`+
			map[bool]string{true: "codice SAP non coerente"}[esito == "KO"]+`</MessaggioErrore></risposta_invioSAP>`)
	case "gestisciDID":
		reply(w, `<GestisciDID_Output xmlns="http://anpal.gov.it/DataModels/InformationDelivery/ConferimentoDID/1.0"><Esito><CodiceEsito>OK</CodiceEsito></Esito></GestisciDID_Output>`)
	default: // one-way: queued by the PD
		w.Header().Set("Porta-Message-ID", "Provincia_ProvinciaSPCoopIT_0000001_2026-11-28_09:00")
		w.WriteHeader(http.StatusOK)
	}
}

func (d *pdDouble) got(action string) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.received[action]...)
}

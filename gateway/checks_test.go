package gateway

import (
	"bytes"
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"porta/envelope"
	"porta/envelope/wssec"
)

// craft builds a busta from the Provincia to the Ministero as the PD would, lets mutate change
// its header (and the document after signing, through post), signs it with signer and returns the
// bytes.
func craft(t testing.TB, n *network, mutate func(h *envelope.Header), signer *wssec.Signer, post func(doc *etree.Document)) []byte {
	t.Helper()
	pl := etree.NewElement("Richiesta")
	pl.CreateAttr("xmlns", "urn:test")
	pl.CreateElement("codiceFiscale").SetText("RSSMRA85T10A562S")
	return craftBody(t, n, mutate, pl, signer, post)
}

// craftBody is craft with body as the Body's content.
func craftBody(t testing.TB, n *network, mutate func(h *envelope.Header), body *etree.Element, signer *wssec.Signer, post func(doc *etree.Document)) []byte {
	t.Helper()
	ctx := context.Background()
	id, err := n.prov.g.nextID(ctx, prov)
	if err != nil {
		t.Fatal(err)
	}
	h := &envelope.Header{
		Sender:   []envelope.Party{{Type: "SPC", Name: prov}},
		Receiver: envelope.Party{Type: "SPC", Name: min_},
		Profile:  envelope.Sync, ServiceType: "SPC", Service: "Anagrafe", Action: "Consulta",
		ID: id, Time: envelope.Timestamp{Time: time.Now(), Source: envelope.TimeSPC},
		Transmission: &envelope.Transmission{AtMostOnce: true},
	}
	if mutate != nil {
		mutate(h)
	}
	doc := envelope.NewEnvelope(h)
	if body != nil {
		doc = envelope.NewEnvelope(h, body)
	}
	if signer != nil {
		if err := signer.Sign(doc); err != nil {
			t.Fatal(err)
		}
	}
	if post != nil {
		post(doc)
	}
	b, err := doc.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (nd *node) signer(t testing.TB) *wssec.Signer {
	s, err := wssec.NewSigner(nd.id.key, []*x509.Certificate{nd.id.cert})
	if err != nil {
		t.Fatal(err)
	}
	s.Parts = envelope.SignedParts()
	return s
}

// postPA sends raw bytes to a node's Porta Applicativa with from's client certificate.
func postPA(t testing.TB, from, to *node, data []byte) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, to.pa.URL+"/pa", bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	req.Header.Set("SOAPAction", `"Consulta"`)
	resp, err := from.cli.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestInboundChecks sends a busta failing each stage of the Porta Applicativa and checks the
// answer: HTTP 500, a bare fault or an error busta (soap:Client, EGOV_IT_001 faultstring) whose
// ListaEccezioni names the code and posizione, and no delivery to the backend.
func TestInboundChecks(t *testing.T) {
	n := newNetwork(t)
	provSigner := n.prov.signer(t)
	minSigner := n.min.signer(t)
	past := time.Now().Add(-time.Minute)
	tests := []struct {
		name     string
		data     func() []byte
		bare     bool
		code     envelope.Code
		position string
	}{
		{name: "not XML", data: func() []byte { return []byte("<Envelope") }, bare: true, code: envelope.CodeEnvelopeFormat},
		{name: "DOCTYPE", data: func() []byte { return []byte(`<!DOCTYPE x [<!ENTITY a "b">]><x/>`) }, bare: true, code: envelope.CodeEnvelopeFormat},
		{name: "not SOAP", data: func() []byte { return []byte(`<Envelope/>`) }, bare: true, code: envelope.CodeEnvelopeFormat},
		{name: "no busta", data: func() []byte {
			return []byte(`<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><x/></s:Body></s:Envelope>`)
		}, bare: true, code: envelope.CodeEnvelopeFormat},
		{name: "unknown sender", data: func() []byte {
			return craft(t, n, func(h *envelope.Header) { h.Sender[0].Name = "Ignoto" }, provSigner, nil)
		}, code: envelope.CodeUnknownSender, position: "Mittente/IdentificativoParte"},
		{name: "receiver not hosted", data: func() []byte {
			return craft(t, n, func(h *envelope.Header) { h.Receiver.Name = prov }, provSigner, nil)
		}, code: envelope.CodeUnknownReceiver, position: "Destinatario/IdentificativoParte"},
		{name: "unknown service", data: func() []byte {
			return craft(t, n, func(h *envelope.Header) { h.Service = "Catasto" }, provSigner, nil)
		}, code: envelope.CodeUnknownService, position: "Servizio"},
		{name: "unknown action", data: func() []byte {
			return craft(t, n, func(h *envelope.Header) { h.Action = "Cancella" }, provSigner, nil)
		}, code: envelope.CodeUnknownAction, position: "Azione"},
		{name: "profile differs from the registry", data: func() []byte {
			return craft(t, n, func(h *envelope.Header) { h.Profile = envelope.OneWay }, provSigner, nil)
		}, code: envelope.CodeInvalidProfile, position: "ProfiloCollaborazione diverso da quanto specificato nel registro"},
		{name: "identifier of another party", data: func() []byte {
			return craft(t, n, func(h *envelope.Header) {
				h.ID = strings.Replace(h.ID, "Provincia_ProvinciaSPCoopIT", "Comune_ComuneSPCoopIT", 1)
			}, provSigner, nil)
		}, code: envelope.CodeInvalidID, position: "Messaggio/Identificatore"},
		{name: "RiferimentoMessaggio names nothing", data: func() []byte {
			return craft(t, n, func(h *envelope.Header) { h.RelatesTo = "Ministero_MinisteroSPCoopIT_0999999_2026-01-01_10:00" }, provSigner, nil)
		}, code: envelope.CodeInvalidRelatesTo, position: "Messaggio/RiferimentoMessaggio"},
		{name: "richiesta-stato without RiferimentoMessaggio", data: func() []byte {
			return craft(t, n, func(h *envelope.Header) {
				h.Profile, h.Service, h.Action, h.Conversation = envelope.AsyncAsymmetric, "Stampa", "Stato", ""
			}, provSigner, nil)
		}, code: envelope.CodeRelatesToUndefined, position: "Messaggio/RiferimentoMessaggio"},
		{name: "asynchronous request without its Collaborazione", data: func() []byte {
			return craft(t, n, func(h *envelope.Header) {
				h.Profile, h.Service, h.Action = envelope.AsyncAsymmetric, "Stampa", "Stampa"
			}, provSigner, nil)
		}, code: envelope.CodeInvalidConversation, position: "Collaborazione"},
		{name: "Scadenza past", data: func() []byte {
			return craft(t, n, func(h *envelope.Header) { h.Expires = &past }, provSigner, nil)
		}, code: envelope.CodeExpired, position: "Messaggio/Scadenza"},
		{name: "OraRegistrazione older than the window", data: func() []byte {
			return craft(t, n, func(h *envelope.Header) { h.Time.Time = time.Now().Add(-7201 * time.Minute) }, provSigner, nil)
		}, code: envelope.CodeExpired, position: "Messaggio/Scadenza"},
		{name: "unsigned", data: func() []byte { return craft(t, n, nil, nil, nil) }, code: envelope.CodeSecurityPolicy},
		{name: "payload changed after signing", data: func() []byte {
			return craft(t, n, nil, provSigner, func(doc *etree.Document) {
				doc.FindElement("//codiceFiscale").SetText("VRDLGU80A01H501X")
			})
		}, code: envelope.CodeInvalidSignature},
		{name: "signed by another party", data: func() []byte { return craft(t, n, nil, minSigner, nil) },
			code: envelope.CodeSenderNotAuthorized, position: "Mittente/IdentificativoParte"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := n.min.be.count()
			status, body := postPA(t, n.prov, n.min, tc.data())
			if status != http.StatusInternalServerError {
				t.Fatalf("status %d, want 500\n%s", status, body)
			}
			doc := parseSOAP(t, body)
			if f := doc.FindElement("//faultstring"); f == nil || f.Text() != envelope.FaultStringFormat {
				t.Errorf("faultstring %v, want %q\n%s", f, envelope.FaultStringFormat, body)
			}
			if fc := doc.FindElement("//faultcode"); fc == nil || !strings.HasSuffix(fc.Text(), ":Client") {
				t.Errorf("faultcode %v, want soap:Client", fc)
			}
			intest := doc.FindElement("//Intestazione")
			if tc.bare {
				if intest != nil {
					t.Errorf("want a bare fault, got a busta:\n%s", body)
				}
				return
			}
			if intest == nil {
				t.Fatalf("want an error busta, got:\n%s", body)
			}
			exc := doc.FindElement("//ListaEccezioni/Eccezione")
			if exc == nil {
				t.Fatalf("error busta without ListaEccezioni:\n%s", body)
			}
			if got := exc.SelectAttrValue("codiceEccezione", ""); got != string(tc.code) {
				t.Errorf("codiceEccezione %s, want %s\n%s", got, tc.code, body)
			}
			if tc.position != "" {
				if got := exc.SelectAttrValue("posizione", ""); got != tc.position {
					t.Errorf("posizione %q, want %q", got, tc.position)
				}
			}
			// Parties swapped: the error busta goes back to the Mittente it refused (spec section 10).
			if got := doc.FindElement("//Destinatario/IdentificativoParte"); got == nil || (got.Text() != prov && got.Text() != "Ignoto") {
				t.Errorf("error busta addressed to %v", got)
			}
			if n.min.be.count() != before {
				t.Error("a refused busta reached the backend")
			}
		})
	}
}

func TestInboundNotAuthorisedForService(t *testing.T) {
	n := newNetwork(t)
	n.min.dir.mu.Lock()
	delete(n.min.dir.consumers[min_+"/Anagrafe"], prov)
	n.min.dir.mu.Unlock()
	status, body := postPA(t, n.prov, n.min, craft(t, n, nil, n.prov.signer(t), nil))
	if status != 500 || !strings.Contains(body, string(envelope.CodeSenderNotAuthorized)) {
		t.Errorf("status %d, want 500 with %s\n%s", status, envelope.CodeSenderNotAuthorized, body)
	}
}

// The replay cache: a copy of a synchronous busta is refused with 110 and delivered once, whether
// or not the service filters duplicates or the sender asks for it (a replayed signed busta is valid
// until its Scadenza).
func TestInboundDuplicateOnSyncService(t *testing.T) {
	for _, filter := range []bool{true, false} {
		t.Run(fmt.Sprintf("filter=%v", filter), func(t *testing.T) {
			n := newNetwork(t)
			n.min.dir.setService(min_, "Anagrafe", func(s *Service) { s.FilterDuplicates = filter })
			data := craft(t, n, func(h *envelope.Header) { h.Transmission = &envelope.Transmission{AtMostOnce: filter} }, n.prov.signer(t), nil)
			if status, body := postPA(t, n.prov, n.min, data); status != 200 {
				t.Fatalf("first copy: status %d\n%s", status, body)
			}
			status, body := postPA(t, n.prov, n.min, data)
			doc := parseSOAP(t, body)
			exc := doc.FindElement("//ListaEccezioni/Eccezione")
			if status != 500 || exc == nil || exc.SelectAttrValue("codiceEccezione", "") != string(envelope.CodeInvalidID) || exc.SelectAttrValue("posizione", "") != "Messaggio/Identificatore" {
				t.Errorf("second copy: status %d, want 500 with EGOV_IT_110 Messaggio/Identificatore\n%s", status, body)
			}
			if c := n.min.be.count(); c != 1 {
				t.Errorf("backend got %d deliveries, want 1", c)
			}
		})
	}
}

func TestInboundProcessingErrorIsServerFault(t *testing.T) {
	n := newNetwork(t)
	n.min.dir.mu.Lock()
	delete(n.min.dir.backends, min_+"/Anagrafe")
	n.min.dir.mu.Unlock()
	status, body := postPA(t, n.prov, n.min, craft(t, n, nil, n.prov.signer(t), nil))
	doc := parseSOAP(t, body)
	if status != 500 || doc.FindElement("//faultstring").Text() != envelope.FaultStringProcessing || !strings.HasSuffix(doc.FindElement("//faultcode").Text(), ":Server") {
		t.Errorf("status %d, want 500 soap:Server %q\n%s", status, envelope.FaultStringProcessing, body)
	}
	if strings.Contains(body, "registry") {
		t.Errorf("the fault leaks internal details:\n%s", body)
	}
}

// FuzzPA feeds arbitrary bytes (seeded with real buste) to the Porta Applicativa: it must never
// panic, and must answer 200 or 500 with a SOAP envelope or nothing.
func FuzzPA(f *testing.F) {
	n := newNetwork(f)
	f.Add([]byte(`<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body/></s:Envelope>`))
	f.Add([]byte("<x"))
	f.Add(craft(f, n, nil, n.prov.signer(f), nil))
	f.Add(craft(f, n, func(h *envelope.Header) { h.Profile = envelope.OneWay; h.Service = "Notifica"; h.Action = "Notifica" }, n.prov.signer(f), nil))
	f.Fuzz(func(t *testing.T, data []byte) {
		status, body := postPA(t, n.prov, n.min, data)
		if status != http.StatusOK && status != http.StatusInternalServerError {
			t.Fatalf("status %d", status)
		}
		if status == http.StatusInternalServerError {
			parseSOAP(t, body)
		}
	})
}

// headerDiff names every field the checks read, so that a signed header differing from the one
// checked is refused.
func TestHeaderDiff(t *testing.T) {
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	later := now.Add(time.Hour)
	base := func() *envelope.Header {
		exp := now.Add(24 * time.Hour)
		return &envelope.Header{
			Sender: []envelope.Party{{Type: "SPC", Name: prov}}, Receiver: envelope.Party{Type: "SPC", Name: min_},
			Profile: envelope.AsyncSymmetric, ServiceType: "SPC", Service: "Pratica", Action: "Richiedi",
			CorrelatedService: "PraticaRisposta", CorrelatedServiceType: "SPC",
			ID: "Provincia_ProvinciaSPCoopIT_0000001_2026-03-01_10:00", Conversation: "Provincia_ProvinciaSPCoopIT_0000001_2026-03-01_10:00",
			Time: envelope.Timestamp{Time: now, Source: envelope.TimeSPC}, Expires: &exp,
			Transmission: &envelope.Transmission{AtMostOnce: true, AckRequested: true},
		}
	}
	tests := []struct {
		field  string
		mutate func(h *envelope.Header)
	}{
		{"", func(h *envelope.Header) {}},
		{"", func(h *envelope.Header) { e := *h.Expires; h.Expires = &e }}, // equal values, other pointers
		{"Identificatore", func(h *envelope.Header) { h.ID = "Provincia_ProvinciaSPCoopIT_0000002_2026-03-01_10:00" }},
		{"Mittente", func(h *envelope.Header) { h.Sender[0].Name = "Regione" }},
		{"Destinatario", func(h *envelope.Header) { h.Receiver.Name = "Regione" }},
		{"Servizio", func(h *envelope.Header) { h.Service = "Catasto" }},
		{"Servizio", func(h *envelope.Header) { h.ServiceType = "URL" }},
		{"Azione", func(h *envelope.Header) { h.Action = "Cancella" }},
		{"ProfiloCollaborazione", func(h *envelope.Header) { h.Profile = envelope.OneWay }},
		{"RiferimentoMessaggio", func(h *envelope.Header) { h.RelatesTo = h.ID }},
		{"Collaborazione", func(h *envelope.Header) { h.Conversation = "" }},
		{"Sequenza", func(h *envelope.Header) { h.Sequence = 2 }},
		{"OraRegistrazione", func(h *envelope.Header) { h.Time.Time = later }},
		{"Scadenza", func(h *envelope.Header) { h.Expires = &later }},
		{"Scadenza", func(h *envelope.Header) { h.Expires = nil }},
		{"ProfiloTrasmissione", func(h *envelope.Header) { h.Transmission = &envelope.Transmission{AtMostOnce: true} }},
		{"ProfiloTrasmissione", func(h *envelope.Header) { h.Transmission = nil }},
		{"ProfiloCollaborazione/servizioCorrelato", func(h *envelope.Header) { h.CorrelatedService = "Catasto" }},
		{"ProfiloCollaborazione/servizioCorrelato", func(h *envelope.Header) { h.CorrelatedServiceType = "URL" }},
	}
	for _, tc := range tests {
		b := base()
		tc.mutate(b)
		if got := headerDiff(base(), b); got != tc.field {
			t.Errorf("headerDiff = %q, want %q", got, tc.field)
		}
	}
	// An absent ProfiloTrasmissione is the default one.
	a, b := base(), base()
	a.Transmission, b.Transmission = nil, &envelope.Transmission{}
	if got := headerDiff(a, b); got != "" {
		t.Errorf("absent and default ProfiloTrasmissione differ: %q", got)
	}
}

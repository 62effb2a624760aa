package gateway

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"porta/envelope"
)

// lgNetwork is the test network in which the Provincia runs the Linee Guida 1.1 profile, as both
// registries say.
func lgNetwork(t *testing.T) *network {
	n := newNetwork(t)
	for _, nd := range []*node{n.prov, n.min} {
		nd.dir.mu.Lock()
		p := *nd.dir.parties[prov]
		p.Interop = envelope.InteropLineeGuida
		nd.dir.parties[prov] = &p
		nd.dir.mu.Unlock()
	}
	return n
}

func lgGrave(code envelope.Code, pos string) envelope.Exception {
	return envelope.Exception{Context: envelope.ContextValidation, Code: code, Severity: envelope.SeveritySevere, Position: pos}
}

func lgInfo(code envelope.Code, pos string) envelope.Exception {
	return envelope.Exception{Context: envelope.ContextValidation, Code: code, Severity: envelope.SeverityInfo, Position: pos}
}

// answerOf reads the PA's answer: its busta header (nil for none) and whether the Body is a Fault.
func answerOf(t *testing.T, body string) (*envelope.Header, bool) {
	t.Helper()
	doc := parseSOAP(t, body)
	fault := doc.FindElement("//Body/Fault") != nil
	if doc.FindElement("//Intestazione") == nil {
		return nil, fault
	}
	msg, err := envelope.ParseDocument(doc)
	if err != nil {
		t.Fatalf("answer busta does not parse: %v\n%s", err, body)
	}
	return msg.Header, fault
}

// TestLineeGuidaInbound is spec §11 on receipt, a row per rule: a busta from a Linee Guida
// partner to a synchronous service, and the exact answer. GRAVE: HTTP 500, the soap:Client fault
// and an error busta listing exactly those exceptions, nothing delivered. INFO: HTTP 200, the
// reply busta (no fault) carrying exactly those exceptions in its ListaEccezioni, delivered once.
func TestLineeGuidaInbound(t *testing.T) {
	n := lgNetwork(t)
	signer := n.prov.signer(t)
	ctx := context.Background()
	newID := func() string {
		id, err := n.prov.g.nextID(ctx, prov)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	hop := func() envelope.Hop {
		return envelope.Hop{Origin: envelope.Party{Type: "SPC", Name: prov}, Destination: envelope.Party{Type: "SPC", Name: min_},
			Time: envelope.Timestamp{Time: time.Now(), Source: envelope.TimeSPC}}
	}
	tests := []struct {
		name   string
		mutate func(h *envelope.Header)
		want   []envelope.Exception // GRAVE: refused; otherwise the reply's INFO list
	}{
		{name: "conforming", mutate: func(*envelope.Header) {}},
		{name: "no ProfiloTrasmissione", mutate: func(h *envelope.Header) { h.Transmission = nil }},
		{name: "Mittente tipo TEST", mutate: func(h *envelope.Header) { h.Sender[0].Type = "TEST" }, want: []envelope.Exception{
			lgGrave(envelope.CodeUnknownSender, "Mittente/IdentificativoParte/tipo"), lgGrave(envelope.CodeInvalidID, "Messaggio/Identificatore")}},
		{name: "Destinatario tipo AOO", mutate: func(h *envelope.Header) { h.Receiver.Type = "AOO" }, want: []envelope.Exception{
			lgGrave(envelope.CodeUnknownReceiver, "Destinatario/IdentificativoParte/tipo")}},
		{name: "Servizio tipo URL", mutate: func(h *envelope.Header) { h.ServiceType = "URL" }, want: []envelope.Exception{
			lgGrave(envelope.CodeUnknownService, "Servizio/tipo")}},
		{name: "OraRegistrazione tempo EGOV_IT_Locale", mutate: func(h *envelope.Header) { h.Time.Source = envelope.TimeLocal }, want: []envelope.Exception{
			lgGrave(envelope.CodeInvalidTime, "Messaggio/OraRegistrazione/tempo")}},
		{name: "confermaRicezione true", mutate: func(h *envelope.Header) { h.Transmission.AckRequested = true }, want: []envelope.Exception{
			lgGrave(envelope.CodeInvalidTransmission, "ProfiloTrasmissione/confermaRicezione")}},
		{name: "inoltro EGOV_IT_PIUDIUNAVOLTA", mutate: func(h *envelope.Header) { h.Transmission.AtMostOnce = false }, want: []envelope.Exception{
			lgGrave(envelope.CodeInvalidTransmission, "ProfiloTrasmissione/inoltro")}},
		{name: "ProfiloCollaborazione missing", mutate: func(h *envelope.Header) { h.Profile = envelope.ProfileNone }, want: []envelope.Exception{
			lgGrave(envelope.CodeInvalidProfile, "ProfiloCollaborazione")}},
		{name: "Azione missing", mutate: func(h *envelope.Header) { h.Action = "" }, want: []envelope.Exception{
			lgGrave(envelope.CodeUnknownAction, "Azione")}},
		{name: "asynchronous symmetric request without Collaborazione", mutate: func(h *envelope.Header) {
			h.Profile, h.Service, h.Action, h.CorrelatedService, h.CorrelatedServiceType = envelope.AsyncSymmetric, "Pratica", "Richiedi", "PraticaRisposta", "SPC"
		}, want: []envelope.Exception{lgGrave(envelope.CodeInvalidConversation, "Collaborazione")}},
		{name: "Riscontro tempo EGOV_IT_Locale", mutate: func(h *envelope.Header) {
			h.Acks = []envelope.Ack{{ID: newID(), Time: envelope.Timestamp{Time: time.Now(), Source: envelope.TimeLocal}}}
		}, want: []envelope.Exception{lgGrave(envelope.CodeInvalidAcks, "ListaRiscontri/Riscontro/OraRegistrazione/tempo")}},
		{name: "Trasmissione Origine tipo TEST", mutate: func(h *envelope.Header) { x := hop(); x.Origin.Type = "TEST"; h.Transmissions = []envelope.Hop{x} },
			want: []envelope.Exception{lgGrave(envelope.CodeInvalidHops, "ListaTrasmissioni/Trasmissione/Origine/IdentificativoParte/tipo")}},
		{name: "Trasmissione tempo EGOV_IT_Locale", mutate: func(h *envelope.Header) {
			x := hop()
			x.Time.Source = envelope.TimeLocal
			h.Transmissions = []envelope.Hop{x}
		},
			want: []envelope.Exception{lgGrave(envelope.CodeInvalidHops, "ListaTrasmissioni/Trasmissione/OraRegistrazione/tempo")}},
		{name: "Mittente indirizzoTelematico", mutate: func(h *envelope.Header) { h.Sender[0].Address = "https://pdd.provincia.example/pa" },
			want: []envelope.Exception{lgInfo(envelope.CodeUnknownSender, "Mittente/IdentificativoParte/indirizzoTelematico")}},
		{name: "Destinatario indirizzoTelematico", mutate: func(h *envelope.Header) { h.Receiver.Address = "https://pdd.ministero.example/pa" },
			want: []envelope.Exception{lgInfo(envelope.CodeUnknownReceiver, "Destinatario/IdentificativoParte/indirizzoTelematico")}},
		{name: "Trasmissione indirizzoTelematico", mutate: func(h *envelope.Header) {
			x := hop()
			x.Destination.Address = "https://pdd.ministero.example/pa"
			h.Transmissions = []envelope.Hop{x}
		},
			want: []envelope.Exception{lgInfo(envelope.CodeInvalidHops, "ListaTrasmissioni/Trasmissione/Destinazione/IdentificativoParte/indirizzoTelematico")}},
		{name: "ProfiloCollaborazione tipo and servizioCorrelato", mutate: func(h *envelope.Header) { h.CorrelatedService, h.CorrelatedServiceType = "AnagrafeEsito", "SPC" },
			want: []envelope.Exception{lgInfo(envelope.CodeInvalidProfile, "ProfiloCollaborazione/tipo"), lgInfo(envelope.CodeInvalidProfile, "ProfiloCollaborazione/servizioCorrelato")}},
		{name: "Collaborazione on a synchronous request", mutate: func(h *envelope.Header) { h.Conversation = h.ID },
			want: []envelope.Exception{lgInfo(envelope.CodeInvalidConversation, "Collaborazione")}},
		{name: "Sequenza, without its preconditions", mutate: func(h *envelope.Header) { h.Sequence = 1 },
			want: []envelope.Exception{lgInfo(envelope.CodeTimeTransparencyUnsupported, "Sequenza")}}, // A ListaEccezioni of notes only, with no Fault in the Body, is an ordinary busta from a
		// Linee Guida partner: delivered, not taken for an error busta.
		{name: "ListaEccezioni of INFO notes, no Fault", mutate: func(h *envelope.Header) {
			h.Exceptions = []envelope.Exception{lgInfo(envelope.CodeInvalidConversation, "Collaborazione")}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var id string
			data := craft(t, n, func(h *envelope.Header) { tc.mutate(h); id = h.ID }, signer, nil)
			before := n.min.be.count()
			status, body := postPA(t, n.prov, n.min, data)
			h, fault := answerOf(t, body)
			refused := len(tc.want) > 0 && tc.want[0].Severity == envelope.SeveritySevere
			if refused {
				if status != http.StatusInternalServerError || !fault || h == nil {
					t.Fatalf("status %d, fault %v, busta %v; want 500, the fault and an error busta\n%s", status, fault, h != nil, body)
				}
				if !strings.Contains(body, envelope.FaultStringFormat) {
					t.Errorf("faultstring is not %q\n%s", envelope.FaultStringFormat, body)
				}
				if n.min.be.count() != before {
					t.Error("a refused busta reached the backend")
				}
			} else {
				if status != http.StatusOK || fault || h == nil {
					t.Fatalf("status %d, fault %v, busta %v; want 200 and the reply busta\n%s", status, fault, h != nil, body)
				}
				if h.RelatesTo != id || h.Transmission == nil || !h.Transmission.AtMostOnce || h.Transmission.AckRequested {
					t.Errorf("reply RiferimentoMessaggio %q (want %s), ProfiloTrasmissione %+v", h.RelatesTo, id, h.Transmission)
				}
				if n.min.be.count() != before+1 {
					t.Errorf("backend got %d deliveries, want 1", n.min.be.count()-before)
				}
			}
			if !reflect.DeepEqual(h.Exceptions, tc.want) {
				t.Errorf("ListaEccezioni %+v\nwant %+v\n%s", h.Exceptions, tc.want, body)
			}
		})
	}
}

// TestLineeGuidaOneWay: a one-way from a Linee Guida partner on a service that neither filters
// duplicates nor acknowledges. Its INFO (a Sequenza) goes to the trace, the answer is an empty
// HTTP 200, it is delivered without ordering; a second copy is refused with 110 (the profile
// always filters) and it is delivered once.
func TestLineeGuidaOneWay(t *testing.T) {
	n := lgNetwork(t)
	var id string
	data := craft(t, n, func(h *envelope.Header) {
		h.Profile, h.Service, h.Action, h.Transmission, h.Sequence = envelope.OneWay, "Notifica", "Notifica", nil, 1
		id = h.ID
	}, n.prov.signer(t), nil)
	if status, body := postPA(t, n.prov, n.min, data); status != http.StatusOK || strings.TrimSpace(body) != "" {
		t.Fatalf("first copy: status %d, want 200 with an empty body\n%s", status, body)
	}
	status, body := postPA(t, n.prov, n.min, data)
	h, fault := answerOf(t, body)
	want := []envelope.Exception{lgGrave(envelope.CodeInvalidID, "Messaggio/Identificatore")}
	if status != http.StatusInternalServerError || !fault || h == nil || !reflect.DeepEqual(h.Exceptions, want) {
		t.Errorf("second copy: status %d, exceptions %+v; want 500 with %+v\n%s", status, h, want, body)
	}
	n.min.settled(t)
	if c := n.min.be.count(); c != 1 {
		t.Errorf("backend got %d deliveries, want 1", c)
	}
	var got []envelope.Exception
	for _, r := range n.min.store.traces() {
		if r.Direction == Inbound && r.Transaction == id && r.Outcome == OutcomeReceived {
			got = r.Exceptions
		}
	}
	if want := []envelope.Exception{lgInfo(envelope.CodeTimeTransparencyUnsupported, "Sequenza")}; !reflect.DeepEqual(got, want) {
		t.Errorf("trace of the one-way: exceptions %+v, want %+v", got, want)
	}
}

// TestLineeGuidaOutbound: what the PD sends to a Linee Guida partner obeys the profile, even on a
// service declared with acknowledgement (which registry check refuses with such a partner: the
// gateway never asks it for a riscontro), and a plain HTTP 200 settles the outbox.
func TestLineeGuidaOutbound(t *testing.T) {
	n := lgNetwork(t)
	// The Provincia provides a copy of Comunicazione (one-way, filter_duplicates, ack), which the
	// Ministero's application calls.
	for _, nd := range []*node{n.prov, n.min} {
		nd.dir.mu.Lock()
		s := *nd.dir.services[min_+"/Comunicazione"]
		s.Provider = prov
		nd.dir.services[prov+"/Comunicazione"] = &s
		if nd == n.prov {
			nd.dir.consumers[prov+"/Comunicazione"] = map[string]bool{min_: true}
			nd.dir.backends[prov+"/Comunicazione"] = nd.be
		} else {
			nd.dir.appMay["mapp"][prov+"/Comunicazione"] = true
		}
		nd.dir.mu.Unlock()
	}
	resp := n.min.call(t, "/pd/"+min_+"/"+prov+"/Comunicazione/Invia", nil)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusAccepted {
		t.Fatalf("PD status %d", resp.StatusCode)
	}
	waitFor(t, "the Provincia's delivery", func() bool { return n.prov.be.count() == 1 })
	d := n.prov.be.all()[0]
	if tr := d.Header.Transmission; tr == nil || !tr.AtMostOnce || tr.AckRequested || d.Header.Sequence != 0 {
		t.Errorf("sent ProfiloTrasmissione %+v, Sequenza %d; want ALPIUUNAVOLTA without confermaRicezione, no Sequenza", tr, d.Header.Sequence)
	}
	if g, i := envelope.LineeGuida(d.Header); g != nil || i != nil {
		t.Errorf("the busta sent breaks the profile: GRAVE %+v, INFO %+v", g, i)
	}
	waitFor(t, "the Ministero's outbox to settle", func() bool { return n.min.store.queued(Outbox) == 0 })
}

// TestLineeGuidaInfoTraced: the INFO exceptions a partner answers with (here the Ministero, for
// whom the Provincia runs the Linee Guida profile, noting a Collaborazione on a synchronous
// request) reach the application's caller as a normal reply and are traced with the reply.
func TestLineeGuidaInfoTraced(t *testing.T) {
	n := lgNetwork(t)
	conv, err := n.prov.g.nextID(context.Background(), prov)
	if err != nil {
		t.Fatal(err)
	}
	resp := n.prov.call(t, "/pd/"+prov+"/"+min_+"/Anagrafe/Consulta", map[string]string{HeaderConversationID: conv})
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("PD status %d", resp.StatusCode)
	}
	want := []envelope.Exception{lgInfo(envelope.CodeInvalidConversation, "Collaborazione")}
	var got []envelope.Exception
	for _, r := range n.prov.store.traces() {
		if r.Direction == Inbound && r.Function == fnPD && r.Outcome == OutcomeReceived {
			got = r.Exceptions
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("traced reply exceptions %+v, want %+v", got, want)
	}
}

// TestLineeGuidaReplyChecked: a reply from a Linee Guida partner is held to its profile like a
// request (a GRAVE deviation makes it invalid); other partners' replies are not.
func TestLineeGuidaReplyChecked(t *testing.T) {
	n := lgNetwork(t)
	reply := func(from string, src string) *envelope.Header {
		return &envelope.Header{
			Sender: []envelope.Party{{Type: "SPC", Name: from}}, Receiver: envelope.Party{Type: "SPC", Name: min_},
			Profile: envelope.Sync, ServiceType: "SPC", Service: "Anagrafe", Action: "Consulta",
			ID: from + "_" + from + "SPCoopIT_0000001_2026-12-03_10:00", Time: envelope.Timestamp{Time: time.Now(), Source: src},
			RelatesTo: min_ + "_" + min_ + "SPCoopIT_0000001_2026-12-03_10:00", Transmission: &envelope.Transmission{AtMostOnce: true},
		}
	}
	if err := n.min.g.checkReplyProfile(reply(prov, envelope.TimeSPC)); err != nil {
		t.Errorf("conforming reply: %v", err)
	}
	err := n.min.g.checkReplyProfile(reply(prov, envelope.TimeLocal))
	var ae *AppError
	if !errors.As(err, &ae) || ae.Reason != ReasonPeerReplyInvalid || !strings.Contains(ae.Error(), "Messaggio/OraRegistrazione/tempo") {
		t.Errorf("reply with tempo EGOV_IT_Locale: %v", err)
	}
	if err := n.min.g.checkReplyProfile(reply(min_, envelope.TimeLocal)); err != nil {
		t.Errorf("a plain eGov partner's reply: %v", err)
	}
}

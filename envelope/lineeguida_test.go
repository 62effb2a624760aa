package envelope

import (
	"reflect"
	"testing"
	"time"
)

// lgRequest is a synchronous request that follows the Linee Guida 1.1 profile to the letter.
func lgRequest() *Header {
	return &Header{
		Sender:   []Party{{Type: "SPC", Name: "Provincia"}},
		Receiver: Party{Type: "SPC", Name: "Ministero"},
		Profile:  Sync, ServiceType: "SPC", Service: "Anagrafe", Action: "Consulta",
		ID:           "Provincia_ProvinciaSPCoopIT_0000001_2026-12-03_10:00",
		Time:         Timestamp{Time: time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC), Source: TimeSPC},
		Transmission: &Transmission{AtMostOnce: true},
	}
}

func grave(code Code, pos string) Exception { return validation(code, SeveritySevere, pos) }
func info(code Code, pos string) Exception  { return validation(code, SeverityInfo, pos) }

// TestLineeGuida is spec §11 as a table: each row changes a conforming busta in one way and
// lists exactly the exceptions the profile gives it.
func TestLineeGuida(t *testing.T) {
	const conv = "Provincia_ProvinciaSPCoopIT_0000001_2026-12-03_10:00"
	hop := func() Hop {
		return Hop{Origin: Party{Type: "SPC", Name: "Provincia"}, Destination: Party{Type: "SPC", Name: "Ministero"}, Time: Timestamp{Source: TimeSPC}}
	}
	tests := []struct {
		name        string
		mutate      func(h *Header)
		grave, info []Exception
	}{
		{name: "conforming", mutate: func(*Header) {}},
		{name: "no ProfiloTrasmissione: duplicates filtered by default", mutate: func(h *Header) { h.Transmission = nil }},
		// GRAVE: the busta is refused with an error busta.
		{name: "Mittente tipo not SPC", mutate: func(h *Header) { h.Sender[0].Type = "TEST" },
			grave: []Exception{grave(CodeUnknownSender, "Mittente/IdentificativoParte/tipo"), grave(CodeInvalidID, "Messaggio/Identificatore")}},
		{name: "Destinatario tipo not SPC", mutate: func(h *Header) { h.Receiver.Type = "AOO" },
			grave: []Exception{grave(CodeUnknownReceiver, "Destinatario/IdentificativoParte/tipo")}},
		{name: "Servizio tipo not SPC", mutate: func(h *Header) { h.ServiceType = "URL" },
			grave: []Exception{grave(CodeUnknownService, "Servizio/tipo")}},
		{name: "OraRegistrazione tempo local", mutate: func(h *Header) { h.Time.Source = TimeLocal },
			grave: []Exception{grave(CodeInvalidTime, "Messaggio/OraRegistrazione/tempo")}},
		{name: "confermaRicezione true", mutate: func(h *Header) { h.Transmission.AckRequested = true },
			grave: []Exception{grave(CodeInvalidTransmission, "ProfiloTrasmissione/confermaRicezione")}},
		{name: "inoltro PIUDIUNAVOLTA", mutate: func(h *Header) { h.Transmission.AtMostOnce = false },
			grave: []Exception{grave(CodeInvalidTransmission, "ProfiloTrasmissione/inoltro")}},
		{name: "ProfiloCollaborazione missing", mutate: func(h *Header) { h.Profile = ProfileNone },
			grave: []Exception{grave(CodeInvalidProfile, "ProfiloCollaborazione")}},
		{name: "Servizio missing", mutate: func(h *Header) { h.Service, h.ServiceType = "", "" },
			grave: []Exception{grave(CodeUnknownService, "Servizio")}},
		{name: "Azione missing", mutate: func(h *Header) { h.Action = "" },
			grave: []Exception{grave(CodeUnknownAction, "Azione")}},
		{name: "asynchronous symmetric request without Collaborazione", mutate: func(h *Header) { h.Profile = AsyncSymmetric },
			grave: []Exception{grave(CodeInvalidConversation, "Collaborazione")}},
		{name: "Riscontro tempo local", mutate: func(h *Header) { h.Acks = []Ack{{ID: conv, Time: Timestamp{Source: TimeLocal}}} },
			grave: []Exception{grave(CodeInvalidAcks, "ListaRiscontri/Riscontro/OraRegistrazione/tempo")}},
		{name: "Trasmissione tempo local", mutate: func(h *Header) { x := hop(); x.Time.Source = TimeLocal; h.Transmissions = []Hop{x} },
			grave: []Exception{grave(CodeInvalidHops, "ListaTrasmissioni/Trasmissione/OraRegistrazione/tempo")}},
		{name: "Trasmissione Origine tipo not SPC", mutate: func(h *Header) { x := hop(); x.Origin.Type = "TEST"; h.Transmissions = []Hop{x} },
			grave: []Exception{grave(CodeInvalidHops, "ListaTrasmissioni/Trasmissione/Origine/IdentificativoParte/tipo")}},
		{name: "Trasmissione Destinazione tipo not SPC", mutate: func(h *Header) { x := hop(); x.Destination.Type = "TEST"; h.Transmissions = []Hop{x} },
			grave: []Exception{grave(CodeInvalidHops, "ListaTrasmissioni/Trasmissione/Destinazione/IdentificativoParte/tipo")}},
		// INFO: tolerated, answered in the reply's ListaEccezioni.
		{name: "Mittente indirizzoTelematico", mutate: func(h *Header) { h.Sender[0].Address = "https://pdd.provincia.example.it/pa" },
			info: []Exception{info(CodeUnknownSender, "Mittente/IdentificativoParte/indirizzoTelematico")}},
		{name: "Destinatario indirizzoTelematico", mutate: func(h *Header) { h.Receiver.Address = "https://pdd.ministero.example.it/pa" },
			info: []Exception{info(CodeUnknownReceiver, "Destinatario/IdentificativoParte/indirizzoTelematico")}},
		{name: "Trasmissione indirizzoTelematico", mutate: func(h *Header) { x := hop(); x.Origin.Address = "https://a.example.it/pa"; h.Transmissions = []Hop{x} },
			info: []Exception{info(CodeInvalidHops, "ListaTrasmissioni/Trasmissione/Origine/IdentificativoParte/indirizzoTelematico")}},
		{name: "ProfiloCollaborazione tipo and servizioCorrelato", mutate: func(h *Header) { h.CorrelatedService, h.CorrelatedServiceType = "AnagrafeRisposta", "SPC" },
			info: []Exception{info(CodeInvalidProfile, "ProfiloCollaborazione/tipo"), info(CodeInvalidProfile, "ProfiloCollaborazione/servizioCorrelato")}},
		{name: "Collaborazione on a synchronous request", mutate: func(h *Header) { h.Conversation = conv },
			info: []Exception{info(CodeInvalidConversation, "Collaborazione")}},
		{name: "Sequenza", mutate: func(h *Header) { h.Sequence = 1 },
			info: []Exception{info(CodeTimeTransparencyUnsupported, "Sequenza")}},
		{name: "ListaRiscontri on a one-way", mutate: func(h *Header) {
			h.Profile, h.Acks = OneWay, []Ack{{ID: conv, Time: Timestamp{Source: TimeSPC}}}
		}, info: []Exception{info(CodeInvalidAcks, "ListaRiscontri")}},
		// Both at once: every problem is reported.
		{name: "GRAVE and INFO together", mutate: func(h *Header) { h.Time.Source, h.Sequence = TimeLocal, 3 },
			grave: []Exception{grave(CodeInvalidTime, "Messaggio/OraRegistrazione/tempo")},
			info:  []Exception{info(CodeTimeTransparencyUnsupported, "Sequenza")}},
		// An error busta answers; it names no profile, service or action.
		{name: "error busta", mutate: func(h *Header) {
			h.Profile, h.Service, h.ServiceType, h.Action, h.Transmission = ProfileNone, "", "", "", nil
			h.RelatesTo, h.Exceptions = conv, []Exception{grave(CodeUnknownAction, "Azione")}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := lgRequest()
			tc.mutate(h)
			g, i := LineeGuida(h)
			if !reflect.DeepEqual(g, tc.grave) {
				t.Errorf("GRAVE %+v, want %+v", g, tc.grave)
			}
			if !reflect.DeepEqual(i, tc.info) {
				t.Errorf("INFO %+v, want %+v", i, tc.info)
			}
			err := LineeGuidaError(g)
			if (err != nil) != (len(tc.grave) > 0) {
				t.Fatalf("LineeGuidaError = %v with %d GRAVE", err, len(tc.grave))
			}
			if err != nil && !reflect.DeepEqual(err.Exceptions, tc.grave) {
				t.Errorf("refusal carries %+v, want %+v", err.Exceptions, tc.grave)
			}
		})
	}
}

// TestForLineeGuida: a busta built for a Linee Guida party passes the profile's own check.
func TestForLineeGuida(t *testing.T) {
	h := lgRequest()
	h.Profile, h.Conversation = OneWay, ""
	h.Transmission = &Transmission{AckRequested: true}
	h.Sequence = 4
	h.Sender[0].Address, h.Receiver.Address = "https://a.example.it/pa", "https://b.example.it/pa"
	h.Time.Source = TimeLocal
	ForLineeGuida(h)
	if g, i := LineeGuida(h); g != nil || i != nil {
		t.Errorf("after ForLineeGuida: GRAVE %+v, INFO %+v", g, i)
	}
	if *h.Transmission != (Transmission{AtMostOnce: true}) || h.Sequence != 0 {
		t.Errorf("ProfiloTrasmissione %+v, Sequenza %d", *h.Transmission, h.Sequence)
	}
}

func TestParseInterop(t *testing.T) {
	for in, want := range map[string]Interop{"": InteropEGov, "egov-1.1": InteropEGov, "linee-guida-1.1": InteropLineeGuida} {
		if got, err := ParseInterop(in); err != nil || got != want {
			t.Errorf("ParseInterop(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParseInterop("lineeguida"); err == nil {
		t.Error("ParseInterop(lineeguida): no error")
	}
}

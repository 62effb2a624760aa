package envelope

import (
	"errors"
	"strings"
	"testing"
)

func TestReplyHeader(t *testing.T) {
	req := goldenCases()[3].h // a sync response, used here as a request with everything set
	req.RelatesTo = ""
	now := at("2026-11-28 09:32:00.000")
	h := ReplyHeader(req, idResp, now)
	if h.Sender[0] != (Party{Type: "SPC", Name: req.Receiver.Name}) || h.Receiver != (Party{Type: "SPC", Name: req.Sender[0].Name}) {
		t.Errorf("parties not swapped: %+v", h)
	}
	if h.RelatesTo != req.ID || h.ID != idResp || !h.Time.Time.Equal(now) || h.Time.Source != TimeSPC {
		t.Errorf("ids/time: %+v", h)
	}
	if h.Profile != Sync || h.Service != req.Service || h.Action != req.Action || h.ServiceType != req.ServiceType || *h.Transmission != *req.Transmission {
		t.Errorf("sync copy: %+v", h)
	}
	if h.Transmission == req.Transmission {
		t.Error("Transmission shared with the request")
	}
	one := goldenCases()[0].h
	if r := ReplyHeader(one, idResp, now); r.Profile != ProfileNone || r.Service != "" || r.Transmission != nil {
		t.Errorf("one-way reply copied sync fields: %+v", r)
	}
	ack := AckHeader(one, idResp, now)
	if len(ack.Acks) != 1 || ack.Acks[0].ID != one.ID || !ack.Acks[0].Time.Time.Equal(one.Time.Time) || ack.RelatesTo != one.ID || ack.Service != "" {
		t.Errorf("riscontro: %+v", ack)
	}
}

func TestErrorHeader(t *testing.T) {
	us := Party{Name: "RegionePiemonte"}
	now := at("2026-11-28 09:32:00.000")
	exc := NewError(CodeUnknownService, "Servizio", "x").Exceptions
	h := ErrorHeader(goldenCases()[0].h, us, idResp, now, exc)
	if h.Receiver.Name != "ProvinciaTorino" || h.Sender[0] != (Party{Type: "SPC", Name: "RegionePiemonte"}) || h.RelatesTo != idReq || len(h.Exceptions) != 1 {
		t.Errorf("error header: %+v", h)
	}
	// Unreadable or invalid request values are not echoed.
	bad := &Header{Sender: []Party{{Type: "SPC", Name: "<script>"}}, ID: "not-an-id"}
	for _, req := range []*Header{nil, {}, bad} {
		h := ErrorHeader(req, us, idResp, now, exc)
		if h.Receiver != Unknown || h.RelatesTo != "" {
			t.Errorf("ErrorHeader(%+v) = %+v, want addressed to Sconosciuto without RiferimentoMessaggio", req, h)
		}
	}
}

func TestParseFault(t *testing.T) {
	const env = `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>%s</s:Body></s:Envelope>`
	wrap := func(body string) []byte { return []byte(strings.Replace(env, "%s", body, 1)) }
	tests := []struct {
		name       string
		doc        []byte
		processing bool
		detail     string
		err        string // posizione of the EGOV_IT_003, "" for success
	}{
		{"client", indentBytes(t, BareFault()), false, "", ""},
		{"server with detail", indentBytes(t, ProcessingFault("db down")), true, "db down", ""},
		{"sample C (empty faultactor and detail)", wrap(`<s:Fault><faultcode xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">soap:Client</faultcode><faultstring>EGOV_IT_001 - Formato Busta non corretto</faultstring><faultactor></faultactor><detail/></s:Fault>`), false, "", ""},
		{"default-namespace faultcode", wrap(`<s:Fault><faultcode xmlns="http://schemas.xmlsoap.org/soap/envelope/">Server</faultcode><faultstring>EGOV_IT_300 - Errore nel processamento del messaggio SPCoop</faultstring></s:Fault>`), true, "", ""},
		{"client with 300 string", wrap(`<s:Fault><faultcode>s:Client</faultcode><faultstring>EGOV_IT_300 - Errore nel processamento del messaggio SPCoop</faultstring></s:Fault>`), false, "", "Fault"},
		{"server with 001 string", wrap(`<s:Fault><faultcode>s:Server</faultcode><faultstring>EGOV_IT_001 - Formato Busta non corretto</faultstring></s:Fault>`), false, "", "Fault"},
		{"other text", wrap(`<s:Fault><faultcode>s:Client</faultcode><faultstring>Bad request</faultstring></s:Fault>`), false, "", "Fault"},
		{"not SOAP namespace", wrap(`<s:Fault><faultcode xmlns:x="urn:x">x:Client</faultcode><faultstring>EGOV_IT_001 - Formato Busta non corretto</faultstring></s:Fault>`), false, "", "Fault/faultcode"},
		{"client with detail", wrap(`<s:Fault><faultcode>s:Client</faultcode><faultstring>EGOV_IT_001 - Formato Busta non corretto</faultstring><detail>why</detail></s:Fault>`), false, "", "Fault/detail"},
		{"fault beside payload", wrap(`<s:Fault><faultcode>s:Client</faultcode><faultstring>EGOV_IT_001 - Formato Busta non corretto</faultstring></s:Fault><x xmlns="urn:x"/>`), false, "", "Body"},
		{"unknown child", wrap(`<s:Fault><faultcode>s:Client</faultcode><faultstring>EGOV_IT_001 - Formato Busta non corretto</faultstring><reason/></s:Fault>`), false, "", "Fault/reason"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg, _ := Parse(tt.doc)
			if msg == nil {
				t.Fatal("envelope not read")
			}
			f, err := ParseFault(msg)
			if tt.err != "" {
				var pe *ProtocolError
				if !errors.As(err, &pe) || pe.Code() != CodeBodyFormat || pe.Exceptions[0].Position != tt.err {
					t.Fatalf("error = %v, want EGOV_IT_003 at %s", err, tt.err)
				}
				return
			}
			if err != nil || f == nil {
				t.Fatalf("ParseFault = %v, %v", f, err)
			}
			if f.Processing != tt.processing || f.Detail != tt.detail || f.Header != nil {
				t.Errorf("fault = %+v", f)
			}
		})
	}
	// An error busta: the fault comes with its exceptions.
	eh := ErrorHeader(goldenCases()[0].h, Party{Name: "RegionePiemonte"}, idResp, at("2026-11-28 09:32:00.000"), NewError(CodeInvalidID, "Messaggio/Identificatore", "").Exceptions)
	msg, err := Parse(indentBytes(t, ErrorBusta(eh)))
	if err != nil {
		t.Fatal(err)
	}
	f, err := ParseFault(msg)
	if err != nil || f.Header == nil || f.Severe() != CodeInvalidID || f.Processing {
		t.Fatalf("error busta: %+v %v", f, err)
	}
	// No fault at all.
	msg, _ = Parse([]byte(base))
	if f, err := ParseFault(msg); f != nil || err != nil {
		t.Errorf("payload read as a fault: %+v %v", f, err)
	}
}

func indentBytes(t *testing.T, doc interface{ WriteToBytes() ([]byte, error) }) []byte {
	b, err := doc.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

package gateway

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"porta/envelope"
)

func TestHTTPBackendDelivers(t *testing.T) {
	var got *http.Request
	var body string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		b, _ := io.ReadAll(r.Body)
		body = string(b)
		w.Header().Set("Content-Type", "text/xml")
		_, _ = w.Write([]byte(`<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><ok/></s:Body></s:Envelope>`))
	}))
	defer srv.Close()
	b := &HTTPBackend{URL: srv.URL, Username: "porta", Password: "pw"}
	h := &envelope.Header{
		Sender: []envelope.Party{{Type: "SPC", Name: prov}}, Receiver: envelope.Party{Type: "SPC", Name: min_},
		Service: "Pratica", Action: "Esito", ID: "Ministero_MinisteroSPCoopIT_0000002_2026-11-28_10:00",
		RelatesTo: "Provincia_ProvinciaSPCoopIT_0000001_2026-11-28_09:59", Conversation: "Provincia_ProvinciaSPCoopIT_0000001_2026-11-28_09:59",
	}
	rep, err := b.Deliver(context.Background(), &Delivery{Header: h, Envelope: []byte(appRequest), Attempt: 3})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Status != 200 || !strings.Contains(string(rep.Envelope), "<ok/>") {
		t.Errorf("reply %d %s", rep.Status, rep.Envelope)
	}
	want := map[string]string{
		"Porta-Message-ID": h.ID, "Porta-Relates-To": h.RelatesTo, "Porta-Conversation-ID": h.Conversation,
		"Porta-Sender": prov, "Porta-Service": "Pratica", "Porta-Action": "Esito", "SOAPAction": `"Esito"`, "Porta-Delivery-Attempt": "3",
	}
	for k, v := range want {
		if got.Header.Get(k) != v {
			t.Errorf("header %s = %q, want %q", k, got.Header.Get(k), v)
		}
	}
	if u, p, ok := got.BasicAuth(); !ok || u != "porta" || p != "pw" {
		t.Errorf("basic auth %q %q %v", u, p, ok)
	}
	if body != appRequest {
		t.Errorf("body %s", body)
	}
}

func TestHTTPBackendErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	b := &HTTPBackend{URL: srv.URL}
	_, err := b.Deliver(context.Background(), &Delivery{Header: &envelope.Header{Sender: []envelope.Party{{Name: prov}}}, Envelope: []byte(appRequest)})
	if err == nil || !strings.Contains(err.Error(), "503") || !strings.Contains(err.Error(), srv.URL) {
		t.Errorf("err = %v, want the URL and the HTTP status", err)
	}
}

// schemaValidator is a Validator for tests: a payload is invalid when it carries "INVALIDO".
type schemaValidator struct{}

func (schemaValidator) Validate(schema string, payload []byte) error {
	if strings.Contains(string(payload), "INVALIDO") {
		return errors.New("element codiceFiscale: [facet 'pattern'] the value 'INVALIDO' is not accepted")
	}
	return nil
}

func TestPayloadSchema(t *testing.T) {
	n := newNetwork(t)
	for _, nd := range []*node{n.prov, n.min} {
		nd.dir.setService(min_, "Anagrafe", func(s *Service) { s.Schemas = map[string]string{"Consulta": "anagrafe.xsd"} })
	}
	bad := strings.Replace(appRequest, "RSSMRA85T10A562S", "INVALIDO", 1)
	// The PD refuses an invalid request before it leaves.
	resp := n.prov.callBody(t, "/pd/Provincia/Ministero/Anagrafe/Consulta", bad, nil)
	if body := readAll(t, resp); resp.StatusCode != 500 || !strings.Contains(body, "not valid against anagrafe.xsd") {
		t.Errorf("PD: status %d\n%s", resp.StatusCode, body)
	}
	// The PA refuses one that comes in anyway, with EGOV_IT_003.
	n.prov.dir.setService(min_, "Anagrafe", func(s *Service) { s.Schemas = nil })
	resp = n.prov.callBody(t, "/pd/Provincia/Ministero/Anagrafe/Consulta", bad, nil)
	if body := readAll(t, resp); resp.StatusCode != 500 || !strings.Contains(body, string(envelope.CodeBodyFormat)) {
		t.Errorf("PA: status %d\n%s", resp.StatusCode, body)
	}
	resp = n.prov.call(t, "/pd/Provincia/Ministero/Anagrafe/Consulta", nil)
	if body := readAll(t, resp); resp.StatusCode != 200 {
		t.Errorf("valid request: status %d\n%s", resp.StatusCode, body)
	}
}

type echoHandler struct{}

type fieldError struct{ field string }

func (e *fieldError) Error() string { return "campo " + e.field + " non valido" }

func (echoHandler) Handle(_ context.Context, payload []byte) ([]byte, error) {
	if strings.Contains(string(payload), "INVALIDO") {
		return nil, &fieldError{"codiceFiscale"}
	}
	if strings.Contains(string(payload), "GUASTO") {
		return nil, errors.New("database is locked")
	}
	return []byte(`<Esito xmlns="urn:test">` + strings.TrimSpace(string(payload)) + `</Esito>`), nil
}

func TestHandlerBackend(t *testing.T) {
	b := &HandlerBackend{Handler: echoHandler{}, ClientError: func(err error) bool { var fe *fieldError; return errors.As(err, &fe) }}
	tests := []struct {
		name, body string
		status     int
		want       string
	}{
		{"answer", appRequest, 200, `<codiceFiscale>RSSMRA85T10A562S</codiceFiscale></Richiesta></Esito>`},
		{"client fault", strings.Replace(appRequest, "RSSMRA85T10A562S", "INVALIDO", 1), 500, "Client</faultcode><faultstring>campo codiceFiscale non valido"},
		{"server fault", strings.Replace(appRequest, "RSSMRA85T10A562S", "GUASTO", 1), 500, "Server</faultcode><faultstring>database is locked"},
		{"two payloads", strings.Replace(appRequest, "</soapenv:Body>", "<x/></soapenv:Body>", 1), 500, "2 payload elements"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := b.Deliver(context.Background(), &Delivery{Header: &envelope.Header{}, Envelope: []byte(tc.body)})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Status != tc.status || !strings.Contains(string(rep.Envelope), tc.want) {
				t.Errorf("reply %d %s, want %d with %s", rep.Status, rep.Envelope, tc.status, tc.want)
			}
		})
	}
}

package gateway

import (
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"testing"
)

func TestPDRefusals(t *testing.T) {
	n := newNetwork(t)
	n.prov.dir.mu.Lock()
	n.prov.dir.apps["ospite"] = "pw"
	n.prov.dir.mu.Unlock()
	tests := []struct {
		name, path string
		hdr        map[string]string
		body       string
		want       string // in the faultstring
		reason     Reason // in Porta-Error-Reason
	}{
		{"no credentials", "/pd/Provincia/Ministero/Anagrafe/Consulta", map[string]string{"Authorization": ""}, appRequest, "authentication failed", ReasonCredentialsMissing},
		{"wrong password", "/pd/Provincia/Ministero/Anagrafe/Consulta", map[string]string{"Authorization": "Basic c2lsOnNiYWdsaWF0YQ=="}, appRequest, "authentication failed", ReasonCredentialsInvalid},
		{"application not authorised", "/pd/Provincia/Ministero/Anagrafe/Consulta", map[string]string{"Authorization": "Basic b3NwaXRlOnB3"}, appRequest, `application "ospite" may not call`, ReasonNotAuthorised},
		{"consumer not hosted", "/pd/Ministero/Provincia/PraticaRisposta/Esito", nil, appRequest, "not a party hosted", ReasonRouteUnknown},
		{"unknown provider", "/pd/Provincia/Regione/Anagrafe/Consulta", nil, appRequest, `provider "Regione"`, ReasonRouteUnknown},
		{"unknown service", "/pd/Provincia/Ministero/Catasto/Consulta", nil, appRequest, `service "Catasto"`, ReasonRouteUnknown},
		{"unknown action", "/pd/Provincia/Ministero/Anagrafe/Cancella", nil, appRequest, `action "Cancella"`, ReasonRouteUnknown},
		{"not XML", "/pd/Provincia/Ministero/Anagrafe/Consulta", nil, "<soap", "not acceptable XML", ReasonPayloadInvalid},
		{"not SOAP", "/pd/Provincia/Ministero/Anagrafe/Consulta", nil, "<Richiesta/>", "not a SOAP 1.1 envelope", ReasonPayloadInvalid},
		{"bad conversation header", "/pd/Provincia/Ministero/Anagrafe/Consulta", map[string]string{HeaderConversationID: "abc"}, appRequest, HeaderConversationID, ReasonCorrelationInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := n.prov.callBody(t, tc.path, tc.body, tc.hdr)
			body := readAll(t, resp)
			if resp.StatusCode != http.StatusInternalServerError {
				t.Fatalf("status %d, want 500\n%s", resp.StatusCode, body)
			}
			doc := parseSOAP(t, body)
			fs := doc.FindElement("//faultstring")
			if fs == nil || !strings.Contains(fs.Text(), tc.want) {
				t.Errorf("faultstring %v, want it to contain %q\n%s", fs, tc.want, body)
			}
			if doc.FindElement("//detail/MessaggioDiErroreApplicativo") == nil {
				t.Errorf("no eGov_IT_Ecc:MessaggioDiErroreApplicativo detail:\n%s", body)
			}
			if got := resp.Header.Get(HeaderErrorReason); got != string(tc.reason) {
				t.Errorf("%s: %q, want %q", HeaderErrorReason, got, tc.reason)
			}
		})
	}
	if c := n.min.be.count(); c != 0 {
		t.Errorf("refused requests reached the provider: %d", c)
	}
}

// A refusal by the provider's gateway reaches the application with the eGov exceptions.
func TestPDReportsPeerExceptions(t *testing.T) {
	n := newNetwork(t)
	n.min.dir.mu.Lock()
	delete(n.min.dir.consumers[min_+"/Anagrafe"], prov)
	n.min.dir.mu.Unlock()
	resp := n.prov.call(t, "/pd/Provincia/Ministero/Anagrafe/Consulta", nil)
	body := readAll(t, resp)
	doc := parseSOAP(t, body)
	eb := doc.FindElement("//detail/MessaggioDiErroreApplicativo/Eccezione/EccezioneBusta")
	if resp.StatusCode != 500 || eb == nil || eb.SelectAttrValue("codiceEccezione", "") != "EGOV_IT_201" {
		t.Errorf("status %d, want 500 with EccezioneBusta EGOV_IT_201\n%s", resp.StatusCode, body)
	}
}

func TestPDActionFromSOAPAction(t *testing.T) {
	n := newNetwork(t)
	resp := n.prov.call(t, "/pd/Provincia/Ministero/Anagrafe", map[string]string{"SOAPAction": `"Consulta"`})
	if body := readAll(t, resp); resp.StatusCode != 200 {
		t.Fatalf("status %d\n%s", resp.StatusCode, body)
	}
	if a := n.min.be.all()[0].Header.Action; a != "Consulta" {
		t.Errorf("action %q", a)
	}
}

func TestWSDLRewritten(t *testing.T) {
	n := newNetwork(t)
	get := func(path string) (int, string) {
		resp, err := http.Get(n.prov.pd.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	status, body := get("/pd/Provincia/Ministero/Anagrafe?wsdl")
	if status != 200 {
		t.Fatalf("status %d\n%s", status, body)
	}
	doc := parseSOAP(t, body)
	addr := doc.FindElement("//service/port/address").SelectAttrValue("location", "")
	if addr != n.prov.pd.URL+"/pd/Provincia/Ministero/Anagrafe" {
		t.Errorf("soap:address %q, want this PD", addr)
	}
	inc := doc.FindElement("//types/schema/include").SelectAttrValue("schemaLocation", "")
	u, err := url.Parse(inc)
	if err != nil || u.Query().Get("xsd") != "../schemas/anagrafe.xsd" {
		t.Fatalf("schemaLocation %q not served by the PD", inc)
	}
	status, body = get(strings.TrimPrefix(inc, n.prov.pd.URL))
	if status != 200 || !strings.Contains(body, `name="Richiesta"`) {
		t.Errorf("imported schema: status %d\n%s", status, body)
	}
	for _, p := range []string{"../fakes_test.go", "../wsdl/../../fakes_test.go", "/etc/passwd", "schemas/other.xsd"} {
		if status, _ := get("/pd/Provincia/Ministero/Anagrafe?xsd=" + url.QueryEscape(p)); status != http.StatusBadRequest {
			t.Errorf("?xsd=%s, a file the WSDL does not import: status %d, want 400", p, status)
		}
	}
	if status, _ := get("/pd/Provincia/Ministero/Notifica?wsdl"); status != http.StatusNotFound {
		t.Errorf("service without WSDL: status %d, want 404", status)
	}
	// The advertised address works with the SOAPAction the WSDL names.
	resp := n.prov.call(t, strings.TrimPrefix(addr, n.prov.pd.URL), map[string]string{"SOAPAction": "Consulta"})
	if b := readAll(t, resp); resp.StatusCode != 200 {
		t.Errorf("call at the advertised address: %d\n%s", resp.StatusCode, b)
	}
}

func TestAdmin(t *testing.T) {
	n := newNetwork(t)
	readAll(t, n.prov.call(t, "/pd/Provincia/Ministero/Anagrafe/Consulta", nil))
	admin := n.prov.g.Admin()
	get := func(path string) (int, string) {
		rec := httptestRecorder()
		req, _ := http.NewRequest(http.MethodGet, path, nil)
		admin.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	if s, _ := get("/healthz"); s != 200 {
		t.Errorf("healthz %d", s)
	}
	if s, b := get("/readyz"); s != 200 {
		t.Errorf("readyz %d %s", s, b)
	}
	s, m := get("/metrics")
	for _, want := range []string{
		`porta_messages_total{direction="out",outcome="sent",service="Anagrafe"} 1`,
		`porta_queue_depth{queue="outbox"} 0`,
		`porta_exchange_seconds_bucket`,
		`porta_certificate_expiry_seconds{party="Provincia"`,
	} {
		if s != 200 || !strings.Contains(m, want) {
			t.Errorf("metrics lack %s\n%s", want, m)
		}
	}
	n.prov.store.pingErr = errors.New("database is locked")
	if s, b := get("/readyz"); s != http.StatusServiceUnavailable || !strings.Contains(b, "database is locked") {
		t.Errorf("readyz with a broken store: %d %s", s, b)
	}
}

// An unknown user and a wrong password are one refusal: same reason, same faultstring, so that a
// caller cannot tell which user names exist.
func TestPDCredentialsInvalidTellsNoNames(t *testing.T) {
	n := newNetwork(t)
	answer := func(user, password string) (string, string) {
		t.Helper()
		hdr := map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))}
		resp := n.prov.call(t, "/pd/Provincia/Ministero/Anagrafe/Consulta", hdr)
		body := readAll(t, resp)
		return resp.Header.Get(HeaderErrorReason), parseSOAP(t, body).FindElement("//faultstring").Text()
	}
	r1, f1 := answer("sil", "sbagliata")
	r2, f2 := answer("nessuno", "sbagliata")
	if r1 != string(ReasonCredentialsInvalid) || r1 != r2 || f1 != f2 {
		t.Errorf("wrong password: %s %q; unknown user: %s %q; want both %s with one text", r1, f1, r2, f2, ReasonCredentialsInvalid)
	}
	if strings.Contains(f1, "sil") || strings.Contains(f2, "nessuno") {
		t.Errorf("the faultstring names the user: %q, %q", f1, f2)
	}
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// The reasons of failures beyond this gateway: the provider's gateway unreachable, and the
// provider's gateway unable to reach its application (said in the PA's EGOV_IT_300 fault without
// the application's address).
func TestPDReasonsBeyondTheGateway(t *testing.T) {
	t.Run("peer unreachable", func(t *testing.T) {
		n := newNetwork(t)
		n.prov.dir.mu.Lock()
		p := *n.prov.dir.parties[min_]
		p.URL = "https://" + closedAddr(t) + "/pa"
		n.prov.dir.parties[min_] = &p
		n.prov.dir.mu.Unlock()
		resp := n.prov.call(t, "/pd/Provincia/Ministero/Anagrafe/Consulta", nil)
		body := readAll(t, resp)
		if got := resp.Header.Get(HeaderErrorReason); resp.StatusCode != 500 || got != string(ReasonPeerUnreachable) {
			t.Errorf("status %d, %s %q, want 500 %s\n%s", resp.StatusCode, HeaderErrorReason, got, ReasonPeerUnreachable, body)
		}
	})
	t.Run("backend unreachable", func(t *testing.T) {
		n := newNetwork(t)
		addr := closedAddr(t)
		n.min.dir.mu.Lock()
		n.min.dir.backends[min_+"/Anagrafe"] = &HTTPBackend{URL: "http://" + addr + "/anagrafe"}
		n.min.dir.mu.Unlock()

		// The provider's PA answers EGOV_IT_300 with the reason in its detail and header; the
		// consumer's PD passes both on.
		resp := n.prov.call(t, "/pd/Provincia/Ministero/Anagrafe/Consulta", nil)
		body := readAll(t, resp)
		if got := resp.Header.Get(HeaderErrorReason); resp.StatusCode != 500 || got != string(ReasonBackendUnreachable) {
			t.Errorf("status %d, %s %q, want 500 %s\n%s", resp.StatusCode, HeaderErrorReason, got, ReasonBackendUnreachable, body)
		}
		fs := parseSOAP(t, body).FindElement("//faultstring").Text()
		if !strings.Contains(fs, "EGOV_IT_300") || !strings.Contains(fs, "the provider's application could not be reached") {
			t.Errorf("faultstring %q, want EGOV_IT_300 and the application unreachable", fs)
		}
		if strings.Contains(body, addr) {
			t.Errorf("the answer reveals the backend's address %s:\n%s", addr, body)
		}
		var traced string
		for _, r := range n.min.store.traces() {
			if r.Direction == Inbound && r.Outcome == OutcomeError {
				traced = r.Detail
			}
		}
		if !strings.Contains(traced, backendUnreachable) {
			t.Errorf("the provider's trace of the refused busta: %q, want %q", traced, backendUnreachable)
		}
	})
}

// /metrics has the Go and process collectors, the build, and the PD's refusals by service and
// reason.
func TestMetricsScrape(t *testing.T) {
	n := newNetwork(t)
	readAll(t, n.prov.call(t, "/pd/Provincia/Ministero/Anagrafe/Consulta", map[string]string{"Authorization": "Basic c2lsOnNiYWdsaWF0YQ=="}))
	readAll(t, n.prov.call(t, "/pd/Provincia/Ministero/Anagrafe/Consulta", map[string]string{"Authorization": ""}))
	readAll(t, n.prov.call(t, "/pd/Provincia/Regione/Catasto/Consulta", nil))
	admin := httptest.NewServer(n.prov.g.Admin())
	defer admin.Close()
	resp, err := http.Get(admin.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	m := readAll(t, resp)
	for _, want := range []string{
		`porta_pd_refusals_total{reason="credentials-invalid",service="Anagrafe"} 1`,
		`porta_pd_refusals_total{reason="credentials-missing",service="Anagrafe"} 1`,
		`porta_pd_refusals_total{reason="route-unknown",service=""} 1`,
		`porta_messages_total{direction="out",outcome="error",service="Anagrafe"} 2`,
		`porta_build_info{goversion="` + runtime.Version() + `",revision="`,
		"go_goroutines ",
		"go_memstats_heap_alloc_bytes ",
		"process_resident_memory_bytes ",
		"process_cpu_seconds_total ",
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

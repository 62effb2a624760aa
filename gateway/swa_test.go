package gateway

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"porta/envelope"
	"porta/internal/swa"
)

// swaBody is an application's SwA request: appRequest (or root) and a text attachment.
func swaBody(t *testing.T, root string, atts ...swa.Part) (string, string) {
	t.Helper()
	m := &swa.Message{Root: swa.Part{ContentType: contentTypeSOAP, Content: []byte(root)}, Attachments: atts}
	ct, b, err := m.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return ct, string(b)
}

var nota = swa.Part{ContentID: "nota", ContentType: "text/plain", Content: []byte("riga uno\nriga due\n")}

// The Porta Delegata with attachments: a sync and a one-way request reach the backend as SwA, the
// payload in the Body and the attachment as sent; the PA traces the signed root envelope only.
func TestSwAPDToPA(t *testing.T) {
	n := newNetwork(t)
	for _, tc := range []struct{ path, service string }{
		{"/pd/Provincia/Ministero/Anagrafe/Consulta", "Anagrafe"},
		{"/pd/Provincia/Ministero/Notifica/Notifica", "Notifica"},
	} {
		ct, body := swaBody(t, appRequest, nota)
		resp := n.prov.callBody(t, tc.path, body, map[string]string{"Content-Type": ct})
		if out := readAll(t, resp); resp.StatusCode != 200 {
			t.Fatalf("%s: HTTP %d\n%s", tc.service, resp.StatusCode, out)
		}
		var d *Delivery
		select {
		case d = <-n.min.be.got:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: not delivered", tc.service)
		}
		m, err := swa.Parse(d.ContentType, d.Envelope)
		if err != nil {
			t.Fatalf("%s: the backend got %q: %v", tc.service, d.ContentType, err)
		}
		p, ok := m.Find("nota")
		if !ok || !bytes.Equal(p.Content, nota.Content) || len(m.Attachments) != 1 {
			t.Errorf("%s: attachments %+v", tc.service, m.Attachments)
		}
		if !bytes.Contains(m.Root.Content, []byte("<codiceFiscale>RSSMRA85T10A562S</codiceFiscale>")) {
			t.Errorf("%s: root part %s", tc.service, m.Root.Content)
		}
	}
	for _, r := range n.min.store.traces() {
		if r.Direction == Inbound && bytes.Contains(r.Raw, []byte("MIMEBoundary")) {
			t.Errorf("the trace keeps the MIME message, not the signed envelope: %.200s", r.Raw)
		}
	}
}

// Requests the Porta Delegata refuses before a busta is built: payload-invalid.
func TestSwAPDRefusals(t *testing.T) {
	n := newNetwork(t)
	two := strings.Replace(appRequest, "</soapenv:Body>", "<Altro xmlns=\"urn:test\"/></soapenv:Body>", 1)
	ct, reserved := swaBody(t, appRequest, swa.Part{ContentID: requestCID, ContentType: "text/plain", Content: []byte("x")})
	ct2, twoPayloads := swaBody(t, two, nota)
	for _, tc := range []struct{ name, ct, body, want string }{
		{"the reserved Content-ID", ct, reserved, "reserved"},
		{"two payload elements", ct2, twoPayloads, "one payload element"},
		{"no closing boundary", `multipart/related; type="text/xml"; boundary=b`, "--b\r\nContent-Type: text/xml\r\n\r\n" + appRequest, "closing boundary"},
		{"SOAP 1.2", `multipart/related; type="application/soap+xml"; boundary=b`, "--b--", "text/xml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := n.prov.callBody(t, "/pd/Provincia/Ministero/Notifica/Notifica", tc.body, map[string]string{"Content-Type": tc.ct})
			out := readAll(t, resp)
			if resp.StatusCode != 500 || !strings.Contains(out, tc.want) || resp.Header.Get(HeaderErrorReason) != string(ReasonPayloadInvalid) {
				t.Errorf("HTTP %d %s, want 500 payload-invalid with %q\n%s", resp.StatusCode, resp.Header.Get(HeaderErrorReason), tc.want, out)
			}
		})
	}
	if n.min.be.count() != 0 {
		t.Error("a refused request was delivered")
	}
}

// Buste the Porta Applicativa refuses with EGOV_IT_003 (§12): nothing delivered.
func TestSwAPAManifest(t *testing.T) {
	n := newNetwork(t)
	g := n.prov.g
	seq := 0
	// busta builds a signed Notifica busta from the Provincia with body in the Body and parts.
	busta := func(body string, parts []swa.Part) (string, []byte) {
		seq++
		id, err := envelope.NewIDGenerator(prov, "", time.Now, &envelope.MemoryCounter{}).Next(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		id = strings.Replace(id, "_0000001_", "_000000"+string(rune('0'+seq))+"_", 1)
		h := &envelope.Header{Sender: []envelope.Party{{Type: "SPC", Name: prov}}, Receiver: envelope.Party{Type: "SPC", Name: min_},
			Profile: envelope.OneWay, ServiceType: "SPC", Service: "Notifica", Action: "Notifica", ID: id, Time: envelope.Timestamp{Time: time.Now(), Source: envelope.TimeSPC}}
		doc, err := envelope.Wrap(h, []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		if parts == nil {
			b, err := g.sign(doc, 0)
			if err != nil {
				t.Fatal(err)
			}
			return contentTypeSOAP, b
		}
		_, framed, err := g.signSwA(doc, parts, 0)
		if err != nil {
			t.Fatal(err)
		}
		ct, b := swa.Unframe(framed)
		return ct, b
	}
	const ns = `xmlns:eGov_IT="http://www.cnipa.it/schemas/2003/eGovIT/Busta1_0/"`
	manifest := func(href string) string {
		return `<eGov_IT:Descrizione ` + ns + `><eGov_IT:DescrizioneMessaggio><eGov_IT:Riferimento href="` + href + `" role="Richiesta" eGov_IT:id="R"/></eGov_IT:DescrizioneMessaggio></eGov_IT:Descrizione>`
	}
	notXML := swa.Part{ContentID: "Request", ContentType: "text/plain", Content: []byte("not < xml")}
	for _, tc := range []struct {
		name, body string
		parts      []swa.Part
		pos        string
	}{
		{"attachments without a Manifest", `<Richiesta xmlns="urn:test"/>`, []swa.Part{nota}, "Descrizione"},
		{"a Manifest without attachments", manifest("cid:Request"), nil, "Descrizione/DescrizioneMessaggio/Riferimento/href"},
		{"a part the Manifest does not describe", manifest("cid:Request"), []swa.Part{notXML, nota}, "Descrizione"},
		{"a Richiesta that is not XML", manifest("cid:Request"), []swa.Part{notXML}, "Descrizione/DescrizioneMessaggio/Riferimento/href"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ct, b := busta(tc.body, tc.parts)
			req, _ := http.NewRequest(http.MethodPost, n.min.pa.URL+"/pa", bytes.NewReader(b))
			req.Header.Set("Content-Type", ct)
			resp, err := n.prov.cli.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			out := readAll(t, resp)
			if resp.StatusCode != 500 || !strings.Contains(out, `codiceEccezione="EGOV_IT_003"`) || !strings.Contains(out, `posizione="`+tc.pos+`"`) {
				t.Errorf("HTTP %d, want 500 with EGOV_IT_003 at %s\n%s", resp.StatusCode, tc.pos, out)
			}
		})
	}
	if n.min.be.count() != 0 {
		t.Error("a refused busta was delivered")
	}
}

package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"porta/envelope"
	"porta/envelope/wssec"
	"porta/internal/swa"
)

// swaRequest is an application's SwA request: appReq's envelope as the root part and the PDF.
func swaRequest(t *testing.T, n int, pdf []byte) (contentType string, body []byte) {
	t.Helper()
	m := &swa.Message{
		Root: swa.Part{ContentType: "text/xml; charset=utf-8", Content: []byte(strings.Replace(appReq, "%d", string(rune('0'+n)), 1))},
		Attachments: []swa.Part{{ContentID: "allegato.pdf", ContentType: "application/pdf", Content: pdf,
			Header: textproto.MIMEHeader{"Content-Disposition": {`attachment; filename="allegato.pdf"`}}}},
	}
	ct, b, err := m.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return ct, b
}

func postSwA(t *testing.T, g *gw, path, ct string, body []byte) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+g.pd+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("app", password)
	req.Header.Set("Content-Type", ct)
	resp, err := (&http.Client{Timeout: 15 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return resp, b.String()
}

// attachmentOf parses a delivery as SwA and returns its root part and the PDF part.
func attachmentOf(t *testing.T, d delivery) (root []byte, pdf *swa.Part) {
	t.Helper()
	m, err := swa.Parse(d.contentType, []byte(d.body))
	if err != nil {
		t.Fatalf("the backend got %q, not SwA: %v", d.contentType, err)
	}
	p, ok := m.Find("allegato.pdf")
	if !ok {
		t.Fatalf("the backend's SwA has no allegato.pdf part: %d attachments", len(m.Attachments))
	}
	return m.Root.Content, p
}

// TestSwAThroughTwoGateways: an application's SOAP with Attachments request with a PDF crosses
// the Provincia's PD and the Ministero's PA, synchronous and one-way (outbox and inbox), and
// reaches the backend as SwA: its payload in the Body, the PDF byte for byte. The busta between
// the gateways carries the eGov Manifest and signs the parts.
func TestSwAThroughTwoGateways(t *testing.T) {
	t.Parallel()
	pdf, err := os.ReadFile(repoFile("testdata/swa/allegato.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	be := newBackend(t)
	p, m := newSites(t, map[string]string{prov: be.URL, min_: be.URL})
	gp := serve(t, p, "provincia")
	serve(t, m, "ministero")

	ct, body := swaRequest(t, 1, pdf)
	resp, answer := postSwA(t, gp, "/pd/Provincia/Ministero/Anagrafe/Consulta", ct, body)
	if resp.StatusCode != 200 || !strings.Contains(answer, "RSSMRA85T10A562S") {
		t.Fatalf("sync SwA: HTTP %d\n%s", resp.StatusCode, answer)
	}
	ds := be.of("Anagrafe")
	if len(ds) != 1 {
		t.Fatalf("%d deliveries of Anagrafe", len(ds))
	}
	root, part := attachmentOf(t, ds[0])
	if !bytes.Equal(part.Content, pdf) || part.ContentType != "application/pdf" || part.Header.Get("Content-Disposition") == "" {
		t.Errorf("the PDF arrived changed: %d bytes (want %d), %q", len(part.Content), len(pdf), part.ContentType)
	}
	if !bytes.Contains(root, []byte("<codiceFiscale>RSSMRA85T10A562S</codiceFiscale>")) || bytes.Contains(root, []byte("Descrizione")) {
		t.Errorf("the backend's Body is not the application's payload:\n%s", root)
	}

	// The trace of the busta received keeps the signed envelope, and in it the PDF's digest.
	sum := sha256.Sum256(pdf)
	trace := porta(t, "trace", "show", "--config", m.cfg, resp.Header.Get("Porta-Relates-To"))
	if !strings.Contains(trace, base64.StdEncoding.EncodeToString(sum[:])) || !strings.Contains(trace, "cid:allegato.pdf") {
		t.Errorf("the Ministero's trace of the request does not keep the PDF's digest:\n%s", trace)
	}

	ct, body = swaRequest(t, 2, pdf)
	if resp, answer := postSwA(t, gp, "/pd/Provincia/Ministero/Comunicazione/Invia", ct, body); resp.StatusCode != 200 {
		t.Fatalf("one-way SwA: HTTP %d\n%s", resp.StatusCode, answer)
	}
	waitFor(t, "the one-way SwA delivery", 20*time.Second, func() bool { return len(be.of("Comunicazione")) == 1 })
	if _, part := attachmentOf(t, be.of("Comunicazione")[0]); !bytes.Equal(part.Content, pdf) {
		t.Errorf("the one-way PDF arrived changed")
	}
}

// TestSwATamperedAttachment: a busta signed by the Provincia whose PDF changed in transit is
// refused by the Ministero's PA with EGOV_IT_117 and not delivered; the same busta untouched is
// delivered. A Manifest naming a part the message lacks is EGOV_IT_003.
func TestSwATamperedAttachment(t *testing.T) {
	t.Parallel()
	pdf, err := os.ReadFile(repoFile("testdata/swa/allegato.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	be := newBackend(t)
	p, m := newSites(t, map[string]string{prov: be.URL, min_: be.URL})
	serve(t, m, "ministero")
	signer, err := wssec.LoadSigner(filepath.Join(p.dir, "key.pem"), filepath.Join(p.dir, "cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	signer.Parts = envelope.SignedParts()
	ids := envelope.NewIDGenerator(prov, "", time.Now, &envelope.MemoryCounter{})
	client := mtlsClient(t, p, m)

	// busta signs a Comunicazione/Invia busta with the Richiesta and the PDF; manifest may be
	// changed before signing, parts after.
	busta := func(refs []envelope.ManifestRef, change func([]swa.Part)) (string, []byte) {
		id, err := ids.Next(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		h := &envelope.Header{
			Sender: []envelope.Party{{Type: "SPC", Name: prov}}, Receiver: envelope.Party{Type: "SPC", Name: min_},
			Profile: envelope.OneWay, ServiceType: "SPC", Service: "Comunicazione", Action: "Invia", ID: id,
			Time: envelope.Timestamp{Time: time.Now(), Source: envelope.TimeSPC},
		}
		parts := []swa.Part{
			{ContentID: "Request", ContentType: "text/xml", Content: []byte(`<Richiesta xmlns="urn:test"><n>9</n></Richiesta>`)},
			{ContentID: "allegato.pdf", ContentType: "application/pdf", Content: bytes.Clone(pdf)},
		}
		doc := envelope.NewEnvelope(h, (&envelope.Manifest{Refs: refs}).Element())
		atts := make([]wssec.Attachment, len(parts))
		for i, p := range parts {
			atts[i] = wssec.Attachment{ContentID: p.ContentID, ContentType: p.ContentType, Content: p.Content}
		}
		if err := signer.SignAttachments(doc, atts); err != nil {
			t.Fatal(err)
		}
		root, err := doc.WriteToBytes()
		if err != nil {
			t.Fatal(err)
		}
		if change != nil {
			change(parts)
		}
		msg := &swa.Message{Root: swa.Part{ContentType: "text/xml; charset=utf-8", Content: root}, Attachments: parts}
		ct, b, err := msg.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		return ct, b
	}
	post := func(ct string, b []byte) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, "https://"+m.pa+"/pa", bytes.NewReader(b))
		req.Header.Set("Content-Type", ct)
		req.Header.Set("SOAPAction", `"Invia"`)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out bytes.Buffer
		out.ReadFrom(resp.Body)
		return resp.StatusCode, out.String()
	}
	good := []envelope.ManifestRef{{ContentID: "Request", Role: envelope.RoleRequest, ID: "Request"}, {ContentID: "allegato.pdf", Role: envelope.RoleAttachment, ID: "A1"}}

	if status, answer := post(busta(good, func(ps []swa.Part) { ps[1].Content[len(pdf)/2] ^= 0x20 })); status != 500 || !strings.Contains(answer, "EGOV_IT_117") {
		t.Errorf("tampered PDF: HTTP %d, want 500 with EGOV_IT_117\n%s", status, answer)
	}
	missing := append([]envelope.ManifestRef{}, good...)
	missing[1].ContentID = "altro.pdf"
	if status, answer := post(busta(missing, nil)); status != 500 || !strings.Contains(answer, "EGOV_IT_003") {
		t.Errorf("Manifest naming no part: HTTP %d, want 500 with EGOV_IT_003\n%s", status, answer)
	}
	if status, answer := post(busta(good, nil)); status != 200 {
		t.Fatalf("untouched busta: HTTP %d\n%s", status, answer)
	}
	waitFor(t, "the untouched busta's delivery", 20*time.Second, func() bool { return len(be.of("Comunicazione")) >= 1 })
	time.Sleep(500 * time.Millisecond)
	if ds := be.of("Comunicazione"); len(ds) != 1 {
		t.Fatalf("%d deliveries, want only the untouched busta's", len(ds))
	}
	if _, part := attachmentOf(t, be.of("Comunicazione")[0]); !bytes.Equal(part.Content, pdf) {
		t.Error("the delivered PDF is not the one signed")
	}
}

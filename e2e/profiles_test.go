package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"porta/envelope"
	"porta/envelope/wssec"
)

// TestTwoGateways: a province and a national gateway as separate porta serve processes, each
// with its own CA, keys and registry, joined with add-party; one backend serves both parties'
// applications. All four profiles, the acknowledgement, in-order delivery, duplicates and inbound
// checks, over mutual TLS between the processes.
func TestTwoGateways(t *testing.T) {
	t.Parallel()
	be := newBackend(t)
	p, m := newSites(t, map[string]string{prov: be.URL, min_: be.URL})
	gp := serve(t, p, "provincia")
	gm := serve(t, m, "ministero")

	t.Run("sync", func(t *testing.T) {
		resp, body := gp.mustCall(t, "/pd/Provincia/Ministero/Anagrafe/Consulta", 1, nil)
		if resp.StatusCode != 200 || !strings.Contains(body, "<Risposta") || !strings.Contains(body, "<n>1</n>") || strings.Contains(body, "Intestazione") {
			t.Fatalf("status %d\n%s", resp.StatusCode, body)
		}
		if !strings.HasPrefix(resp.Header.Get("Porta-Relates-To"), "Provincia_ProvinciaSPCoopIT_") || !strings.HasPrefix(resp.Header.Get("Porta-Message-ID"), "Ministero_MinisteroSPCoopIT_") {
			t.Errorf("headers %v", resp.Header)
		}
	})

	t.Run("oneway with ack", func(t *testing.T) {
		resp, body := gp.mustCall(t, "/pd/Provincia/Ministero/Comunicazione/Invia", 2, nil)
		if resp.StatusCode != 200 || body != "" {
			t.Fatalf("status %d body %q, want 200 and empty", resp.StatusCode, body)
		}
		id := resp.Header.Get("Porta-Message-ID")
		waitFor(t, "delivery", 10*time.Second, func() bool { return len(be.of("Comunicazione")) == 1 })
		if d := be.of("Comunicazione")[0]; d.id != id || d.sender != prov || d.party != min_ {
			t.Errorf("delivery %+v, want %s", d, id)
		}
		// The riscontro settles the Provincia's outbox: the trace shows it.
		waitFor(t, "the riscontro in the consumer's trail", 10*time.Second, func() bool {
			out := porta(t, "trace", "list", "--config", p.cfg, "--id", id, "--json")
			return strings.Contains(out, `"direction": "in"`) && strings.Contains(out, `"relates_to": "`+id+`"`)
		})
	})

	t.Run("in order", func(t *testing.T) {
		first, _ := gp.mustCall(t, "/pd/Provincia/Ministero/Ordinato/Invia", 1, nil)
		conv := first.Header.Get("Porta-Conversation-ID")
		ids := []string{first.Header.Get("Porta-Message-ID")}
		for i := 2; i <= 5; i++ {
			r, _ := gp.mustCall(t, "/pd/Provincia/Ministero/Ordinato/Invia", i, map[string]string{"Porta-Conversation-ID": conv})
			if r.StatusCode != 200 {
				t.Fatalf("message %d: status %d", i, r.StatusCode)
			}
			ids = append(ids, r.Header.Get("Porta-Message-ID"))
		}
		waitFor(t, "five deliveries", 15*time.Second, func() bool { return len(be.of("Ordinato")) == 5 })
		for i, d := range be.of("Ordinato") {
			if d.id != ids[i] || d.conv != conv || !strings.Contains(d.body, fmt.Sprintf("<n>%d</n>", i+1)) {
				t.Errorf("delivery %d: %s conv %s, want %s conv %s", i, d.id, d.conv, ids[i], conv)
			}
		}
	})

	t.Run("async symmetric", func(t *testing.T) {
		resp, _ := gp.mustCall(t, "/pd/Provincia/Ministero/Pratica/Richiedi", 3, nil)
		if resp.StatusCode != 200 {
			t.Fatalf("request: status %d", resp.StatusCode)
		}
		reqID := resp.Header.Get("Porta-Message-ID")
		waitFor(t, "the request at the Ministero", 10*time.Second, func() bool { return len(be.of("Pratica")) == 1 })
		resp, body := gm.mustCall(t, "/pd/Ministero/Provincia/PraticaRisposta/Esito", 3, map[string]string{"Porta-Relates-To": reqID})
		if resp.StatusCode != 200 {
			t.Fatalf("risposta: status %d\n%s", resp.StatusCode, body)
		}
		waitFor(t, "the risposta at the Provincia", 10*time.Second, func() bool { return len(be.of("PraticaRisposta")) == 1 })
		if d := be.of("PraticaRisposta")[0]; d.relates != reqID || d.conv != reqID || d.party != prov {
			t.Errorf("risposta delivered as %+v, want relates/conversation %s", d, reqID)
		}
	})

	t.Run("async asymmetric", func(t *testing.T) {
		resp, _ := gp.mustCall(t, "/pd/Provincia/Ministero/Stampa/Stampa", 4, nil)
		if resp.StatusCode != 200 {
			t.Fatalf("request: status %d", resp.StatusCode)
		}
		reqID := resp.Header.Get("Porta-Message-ID")
		waitFor(t, "the request at the Ministero", 10*time.Second, func() bool { return len(be.of("Stampa")) == 1 })
		resp, body := gp.mustCall(t, "/pd/Provincia/Ministero/Stampa/Stato", 5, map[string]string{"Porta-Relates-To": reqID})
		if resp.StatusCode != 200 || !strings.Contains(body, "<n>5</n>") {
			t.Fatalf("richiesta-stato: status %d\n%s", resp.StatusCode, body)
		}
		if st := be.of("Stampa"); len(st) != 2 || st[1].action != "Stato" || st[1].relates != reqID {
			t.Errorf("deliveries %+v", st)
		}
	})

	// Buste crafted as the Provincia's gateway would send them, signed with its key and posted
	// with its client certificate to the Ministero's PA.
	signer, err := wssec.LoadSigner(filepath.Join(p.dir, "key.pem"), filepath.Join(p.dir, "cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	signer.Parts = envelope.SignedParts()
	cli := mtlsClient(t, p, m)
	seq := 0
	craft := func(mutate func(h *envelope.Header), post func(*etree.Document)) []byte {
		seq++
		now := time.Now()
		h := &envelope.Header{
			Sender: []envelope.Party{{Type: "SPC", Name: prov}}, Receiver: envelope.Party{Type: "SPC", Name: min_},
			Profile: envelope.OneWay, ServiceType: "SPC", Service: "Comunicazione", Action: "Invia",
			ID:           fmt.Sprintf("Provincia_ProvinciaSPCoopIT_%07d_%s", 9000000+seq, now.Format("2006-01-02_15:04")),
			Time:         envelope.Timestamp{Time: now, Source: envelope.TimeSPC},
			Transmission: &envelope.Transmission{AtMostOnce: true, AckRequested: true},
		}
		if mutate != nil {
			mutate(h)
		}
		pl := etree.NewElement("Richiesta")
		pl.CreateAttr("xmlns", "urn:test")
		pl.CreateElement("codiceFiscale").SetText("RSSMRA85T10A562S")
		doc := envelope.NewEnvelope(h, pl)
		if err := signer.Sign(doc); err != nil {
			t.Fatal(err)
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
	postPA := func(data []byte) (int, string) {
		t.Helper()
		resp, err := cli.Post("https://"+m.pa+"/pa", "text/xml; charset=utf-8", bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	t.Run("duplicate", func(t *testing.T) {
		busta := craft(nil, nil)
		before := len(be.of("Comunicazione"))
		s1, b1 := postPA(busta)
		s2, b2 := postPA(busta)
		if s1 != 200 || s2 != 200 || !strings.Contains(b1, "Riscontr") || !strings.Contains(b2, "Riscontr") {
			t.Fatalf("first %d, copy %d: want 200 with the riscontro both times\n%s\n%s", s1, s2, b1, b2)
		}
		waitFor(t, "the delivery", 10*time.Second, func() bool { return len(be.of("Comunicazione")) == before+1 })
		// Once in the inbox, no more: the provider's trail has the busta received once and once as
		// a duplicate, and its inbox is empty, so no second delivery is still to come.
		if got := inboundOutcomes(t, m, idOf(t, busta)); got != "duplicate received" {
			t.Errorf("the provider's trail of the busta sent twice: %q, want one duplicate and one received", got)
		}
		waitFor(t, "the provider's inbox to empty", 10*time.Second, func() bool { return inboxDepth(t, gm) == "0" })
		if n := len(be.of("Comunicazione")) - before; n != 1 {
			t.Errorf("the busta sent twice was delivered %d times, want once", n)
		}
	})

	past := time.Now().Add(-time.Minute)
	for _, tc := range []struct {
		name string
		data []byte
		code envelope.Code
	}{
		{"unknown sender", craft(func(h *envelope.Header) { h.Sender[0].Name = "Ignoto" }, nil), envelope.CodeUnknownSender},
		{"unknown service", craft(func(h *envelope.Header) { h.Service = "Catasto" }, nil), envelope.CodeUnknownService},
		{"profile differs", craft(func(h *envelope.Header) { h.Profile = envelope.Sync }, nil), envelope.CodeInvalidProfile},
		{"expired", craft(func(h *envelope.Header) { h.Expires = &past }, nil), envelope.CodeExpired},
		{"tampered signature", craft(nil, func(doc *etree.Document) {
			doc.FindElement("//codiceFiscale").SetText("VRDLGU80A01H501X")
		}), envelope.CodeInvalidSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(be.all())
			status, body := postPA(tc.data)
			if status != http.StatusInternalServerError || !strings.Contains(body, `codiceEccezione="`+string(tc.code)+`"`) {
				t.Errorf("status %d, want 500 with %s\n%s", status, tc.code, body)
			}
			// The refusal is traced before the answer; a busta never received into the inbox
			// cannot reach the backend.
			if got := inboundOutcomes(t, m, idOf(t, tc.data)); got != "error" {
				t.Errorf("the provider's trail of the refused busta: %q, want only error", got)
			}
			if len(be.all()) != before {
				t.Error("a refused busta reached the backend")
			}
		})
	}
}

var identificatoreRE = regexp.MustCompile(`Identificatore>([^<]+)<`)

// idOf is the Identificatore of a crafted busta.
func idOf(t *testing.T, busta []byte) string {
	t.Helper()
	m := identificatoreRE.FindSubmatch(busta)
	if m == nil {
		t.Fatalf("no Identificatore in\n%s", busta)
	}
	return string(m[1])
}

// inboundOutcomes lists, sorted and space-separated, the outcomes of the inbound records of busta
// id in the trail of s.
func inboundOutcomes(t *testing.T, s *site, id string) string {
	t.Helper()
	var recs []struct {
		Outcome string `json:"outcome"`
	}
	out := porta(t, "trace", "list", "--config", s.cfg, "--id", id, "--direction", "in", "--json")
	if err := json.Unmarshal([]byte(out), &recs); err != nil {
		t.Fatalf("trace list: %v\n%s", err, out)
	}
	var o []string
	for _, r := range recs {
		o = append(o, r.Outcome)
	}
	sort.Strings(o)
	return strings.Join(o, " ")
}

// inboxDepth is the gateway's inbox depth as its /metrics says.
func inboxDepth(t *testing.T, g *gw) string {
	t.Helper()
	v := g.metric(t, `porta_queue_depth{queue="inbox"}`)
	if v == "" {
		t.Fatal("no inbox depth in /metrics")
	}
	return v
}

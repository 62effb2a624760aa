package gateway

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"porta/audit"
	"porta/audit/seal"
	"porta/envelope"
	"porta/registry"
)

const testCF = "RSSMRA85T10A562S" // in appRequest

// Each service's trace policy decides what the trail keeps: Anagrafe encrypted with its
// codiceFiscale masked, Comunicazione header only, Notifica nothing; the queues and duplicate
// history are sealed. No store file holds the codice fiscale, both chains verify without the
// key, and the key opens the Anagrafe records, masked.
func TestTracePolicyPerService(t *testing.T) {
	keyDir := filepath.Join(t.TempDir(), "keys")
	if _, err := seal.Add(keyDir, time.Now()); err != nil {
		t.Fatal(err)
	}
	keys, err := seal.Load(keyDir)
	if err != nil {
		t.Fatal(err)
	}
	policy := map[string]registry.TracePolicy{
		"Anagrafe":      {Body: "encrypted", Mask: []registry.FieldPath{{Expr: "//codiceFiscale", Path: etree.MustCompilePath("//codiceFiscale")}}},
		"Comunicazione": {Body: "header"},
		"Notifica":      {Body: "none"},
	}
	n, stores := newAuditNetworkWith(t, audit.Options{Keys: keys}, func(s *Service) { s.Trace = policy[s.Name] })
	for _, path := range []string{"/pd/Provincia/Ministero/Anagrafe/Consulta", "/pd/Provincia/Ministero/Comunicazione/Invia", "/pd/Provincia/Ministero/Notifica/Notifica"} {
		if resp := n.prov.call(t, path, nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: status %d\n%s", path, resp.StatusCode, readAll(t, resp))
		} else {
			readAll(t, resp)
		}
	}
	// A refused request (not well-formed) of an encrypted service: kept encrypted too, found by
	// the service its URL names.
	broken := strings.Replace(appRequest, "</soapenv:Envelope>", "", 1)
	if resp := n.prov.callBody(t, "/pd/Provincia/Ministero/Anagrafe/Consulta", broken, nil); resp.StatusCode != http.StatusInternalServerError {
		t.Fatalf("a broken request: status %d", resp.StatusCode)
	} else {
		readAll(t, resp)
	}
	waitFor(t, "the one-way messages", func() bool {
		for _, s := range stores {
			for _, q := range []audit.Kind{audit.Outbox, audit.Inbox} {
				if st, _ := s.Stats(context.Background(), q); st.Depth > 0 {
					return false
				}
			}
		}
		return n.min.be.count() == 3
	})
	ctx := context.Background()
	for name, s := range stores {
		recs, err := s.List(ctx, audit.Filter{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		seenAnagrafe := 0
		for _, lr := range recs {
			r, err := s.Get(ctx, lr.Node, lr.Seq)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]audit.BodyMode{"Anagrafe": audit.BodyEncrypted, "Comunicazione": audit.BodyHeader, "Notifica": audit.BodyNone}[r.Service]
			if r.Outcome == OutcomeError && r.Service == "Anagrafe" && r.BodyMode == audit.BodyEncryptedCapped {
				want = r.BodyMode // a refusal's cap, under the service's encryption
			}
			if r.Service != "" && r.BodyMode != want { // (riscontri name no service)
				t.Errorf("%s: %s %s %s kept %s, want %s", name, r.Service, r.Direction, r.Outcome, r.BodyMode, want)
			}
			if r.Service != "Anagrafe" || len(r.Raw) == 0 {
				continue
			}
			env, err := r.Envelope(keys)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if r.Outcome == OutcomeError { // unreadable, so not masked: encrypted whole
				if !bytes.Contains(env, []byte(testCF)) {
					t.Errorf("%s: the refused request's envelope does not open to what was sent:\n%s", name, env)
				}
				seenAnagrafe++
				continue
			}
			if bytes.Contains(env, []byte(testCF)) || !bytes.Contains(env, []byte("codiceFiscale")) {
				t.Errorf("%s: the Anagrafe envelope is not masked:\n%s", name, env)
			}
			seenAnagrafe++
		}
		if seenAnagrafe == 0 {
			t.Errorf("%s: no Anagrafe record kept encrypted", name)
		}
		if rep, err := s.Verify(ctx, audit.VerifyOptions{}); err != nil || rep.Records == 0 {
			t.Errorf("%s: verify %+v: %v", name, rep, err)
		}
		var seq int
		var schema, file string
		if err := s.DB().QueryRow("PRAGMA database_list").Scan(&seq, &schema, &file); err != nil {
			t.Fatal(err)
		}
		scanFiles(t, name, file) // open: the WAL holds the latest pages
		s.Close()
		scanFiles(t, name, file)
	}
}

// scanFiles fails the test when a SQLite store's files (main, -wal, -shm) hold testCF.
func scanFiles(t *testing.T, name, file string) {
	t.Helper()
	for _, suffix := range []string{"", "-wal", "-shm"} {
		path := file + suffix
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		if i := bytes.Index(b, []byte(testCF)); i >= 0 {
			t.Errorf("%s: the codice fiscale in clear in %s at byte %d", name, filepath.Base(path), i)
		}
	}
}

func TestScrubValues(t *testing.T) {
	for in, want := range map[string]string{
		"Element '{urn:x}codiceFiscale': [facet 'pattern'] The value 'RSSMRA85T10A562S' is not accepted by the pattern '[A-Z]{6}'.": "Element '{urn:x}codiceFiscale': [facet 'pattern'] The value '…' is not accepted by the pattern '…'.",
		"Element 'eta': 'dodici' is not a valid value of the atomic type 'xs:int'.":                                                 "Element 'eta': '…' is not a valid value of the atomic type '…'.",
		"no quotes here": "no quotes here",
	} {
		if got := scrubValues(in); got != want {
			t.Errorf("scrubValues(%q)\n = %q\nwant %q", in, got, want)
		}
	}
	xs := []envelope.Exception{{Code: "EGOV_IT_106", Position: "The value 'X' is wrong"}}
	if got := scrubExceptions(xs); got[0].Position != "The value '…' is wrong" || xs[0].Position != "The value 'X' is wrong" {
		t.Errorf("scrubExceptions: %v (original %v)", got, xs)
	}
}

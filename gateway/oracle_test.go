package gateway

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/beevik/etree"

	"porta/envelope"
	"porta/internal/testenv"
)

// referenceBusta is the eGov busta schema with the reference implementation's constraints,
// shared with CI at ../shared (from the repository root).
func referenceBusta(t *testing.T) string {
	return testenv.Shared(t, "spec", "reference", "Busta.xsd")
}

// TestAnswersValidAgainstReferenceSchema checks every busta the Porta Applicativa answers with (a
// synchronous reply, a riscontro, a ricevuta, an error busta) against the reference Busta.xsd with
// xmllint, an independent validator.
func TestAnswersValidAgainstReferenceSchema(t *testing.T) {
	xmllint := testenv.Xmllint(t)
	xsd := referenceBusta(t)
	n := newNetwork(t)
	readAll(t, n.prov.call(t, "/pd/Provincia/Ministero/Anagrafe/Consulta", nil))
	readAll(t, n.prov.call(t, "/pd/Provincia/Ministero/Comunicazione/Invia", nil))
	readAll(t, n.prov.call(t, "/pd/Provincia/Ministero/Stampa/Stampa", nil))
	waitFor(t, "the outbox to empty", func() bool { return n.prov.store.queued(Outbox) == 0 })
	postPA(t, n.prov, n.min, craft(t, n, func(h *envelope.Header) { h.Service = "Catasto" }, n.prov.signer(t), nil))
	// Several header problems at once, and an error busta to Sconosciuto (spec §10).
	postPA(t, n.prov, n.min, edited(t, n, func(h *envelope.Header) { h.Sender[0].Type, h.Service = "TEST", "Catasto" }))
	postPA(t, n.prov, n.min, edited(t, n, nil, wholeIM, ""))

	kinds := map[string]bool{}
	dir := t.TempDir()
	for i, r := range n.min.store.traces() {
		if r.Direction != Outbound || r.Function != fnPA || len(r.Raw) == 0 {
			continue
		}
		doc := etree.NewDocument()
		if err := doc.ReadFromBytes(r.Raw); err != nil {
			t.Fatal(err)
		}
		in := doc.FindElement("//Intestazione")
		if in == nil {
			t.Fatalf("answer without a busta:\n%s", r.Raw)
		}
		switch {
		case len(r.Header.Exceptions) > 0:
			kinds["error"] = true
		case len(r.Header.Acks) > 0 && r.Header.Profile == envelope.ProfileNone:
			kinds["riscontro"] = true
		case r.Header.Profile == envelope.Sync:
			kinds["sync reply"] = true
		default:
			kinds["ricevuta"] = true
		}
		f := filepath.Join(dir, filepath.Base(t.Name())+string(rune('a'+i))+".xml")
		if err := os.WriteFile(f, ownDocument(in, 0), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(xmllint, "--noout", "--schema", xsd, f).CombinedOutput(); err != nil {
			t.Errorf("answer %s is not valid against the reference Busta.xsd: %v\n%s\n%s", r.Header.ID, err, out, r.Raw)
		}
	}
	for _, k := range []string{"sync reply", "riscontro", "ricevuta", "error"} {
		if !kinds[k] {
			t.Errorf("no %s was checked", k)
		}
	}
}

package registry

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"porta/envelope"
)

// TestCardCarriesProfile: a party card says its interoperability profile, AddParty keeps it in
// the importing registry, and a card whose profile changed is a different party.
func TestCardCarriesProfile(t *testing.T) {
	root := t.TempDir()
	regA, _ := gateway(t, root, "Provincia", "https://127.0.0.1:8443/pa")
	_, cardB := gateway(t, root, "Regione", "https://127.0.0.1:9443/pa")
	data, _ := os.ReadFile(cardB)
	if !bytes.Contains(data, []byte("\nprofile: egov-1.1\n")) {
		t.Errorf("card without its profile:\n%s", data)
	}
	os.WriteFile(cardB, bytes.Replace(data, []byte("profile: egov-1.1"), []byte("profile: linee-guida-1.1"), 1), 0o644)
	card, err := ReadCard(cardB, time.Now())
	if err != nil || card.Interop != envelope.InteropLineeGuida {
		t.Fatalf("ReadCard = %+v, %v", card, err)
	}
	if out, err := AddParty(regA, cardB, false, Options{}); err != nil || out != Added {
		t.Fatalf("AddParty = %v, %v", out, err)
	}
	reg, _ := os.ReadFile(regA)
	if !bytes.Contains(reg, []byte("    profile: linee-guida-1.1\n")) {
		t.Errorf("registry without the partner's profile:\n%s", reg)
	}
	r, err := Load(regA, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := r.Party("Regione"); p.Interop != envelope.InteropLineeGuida {
		t.Errorf("loaded profile %q", p.Interop)
	}
	if p, _ := r.Party("Provincia"); p.Interop != envelope.InteropEGov {
		t.Errorf("default profile %q", p.Interop)
	}
	if out, err := AddParty(regA, cardB, false, Options{}); err != nil || out != Unchanged {
		t.Errorf("re-import = %v, %v", out, err)
	}
	os.WriteFile(cardB, data, 0o644) // back to egov-1.1
	_, err = AddParty(regA, cardB, false, Options{})
	if err == nil || !strings.Contains(err.Error(), `party "Regione" already exists with a different profile (linee-guida-1.1, the card says egov-1.1)`) {
		t.Errorf("changed profile: %v", err)
	}
}

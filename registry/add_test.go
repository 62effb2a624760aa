package registry

import (
	"crypto/rand"
	"os"
	"strings"
	"testing"
)

// AddService and AddApplication declare what two joined gateways exchange; a second declaration,
// or one that does not load, is refused with the line or the problem and leaves the file as it was.
func TestAddServiceAndApplication(t *testing.T) {
	root := t.TempDir()
	regP, cardP := gateway(t, root, "Provincia", "https://127.0.0.1:8443/pa")
	regM, cardM := gateway(t, root, "Ministero", "https://127.0.0.1:9443/pa")
	if _, err := AddParty(regP, cardM, false, Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := AddParty(regM, cardP, false, Options{}); err != nil {
		t.Fatal(err)
	}
	sap := ServiceDecl{Provider: "Ministero", Name: "SAP", Profile: "sync", Actions: []string{"invioSAP"}, Consumers: []string{"Provincia"}}
	provided := sap
	provided.Delivery = "adapter:ministerosap"
	if out, err := AddService(regM, provided, Options{}); err != nil || out != Added {
		t.Fatalf("AddService on the provider = %v, %v", out, err)
	}
	if out, err := AddService(regP, sap, Options{}); err != nil || out != Added {
		t.Fatalf("AddService on the consumer = %v, %v", out, err)
	}
	hash, err := HashPassword("s3cret", rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	app := ApplicationDecl{Name: "SIL", Username: "sil", PasswordHash: hash, May: []Grant{{"Provincia", "Ministero", "SAP"}}}
	if out, err := AddApplication(regP, app, Options{}); err != nil || out != Added {
		t.Fatalf("AddApplication = %v, %v", out, err)
	}

	rm, err := Load(regM, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if s, ok := rm.Service("Ministero", "SAP"); !ok || s.Delivery == nil || s.Delivery.Adapter != "ministerosap" || len(s.Consumers) != 1 || s.Consumers[0] != "Provincia" {
		t.Errorf("the provider's SAP: %+v", s)
	}
	rp, err := Load(regP, Options{})
	if err != nil {
		t.Fatal(err)
	}
	a, ok := rp.Application("SIL")
	if !ok || !a.May("Provincia", "Ministero", "SAP") {
		t.Errorf("application SIL: %+v", a)
	}
	if data, _ := os.ReadFile(regP); !strings.Contains(string(data), "# Registry of Provincia") {
		t.Errorf("the registry lost its comments:\n%s", data)
	}

	before, _ := os.ReadFile(regP)
	for _, tc := range []struct {
		name string
		add  func() error
		want string
	}{
		{"service twice", func() error { _, err := AddService(regP, sap, Options{}); return err },
			"service SAP of Ministero is already declared; edit it there, or remove it and add it again"},
		{"application twice", func() error { _, err := AddApplication(regP, app, Options{}); return err },
			"application SIL is already declared; edit it there"},
		{"delivery of a remote service", func() error {
			d := sap
			d.Name, d.Delivery = "DID", "adapter:ministerodid"
			_, err := AddService(regP, d, Options{})
			return err
		}, `registry.yaml (after adding service DID of Ministero):`},
		{"unknown provider", func() error {
			d := sap
			d.Provider = "Regione"
			_, err := AddService(regP, d, Options{})
			return err
		}, "Regione"},
		{"grant of an undeclared service", func() error {
			b := app
			b.Name, b.Username, b.May = "Altro", "altro", []Grant{{"Provincia", "Ministero", "DID"}}
			_, err := AddApplication(regP, b, Options{})
			return err
		}, "DID"},
	} {
		err := tc.add()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want it to contain %q", tc.name, err, tc.want)
		}
		if after, _ := os.ReadFile(regP); string(after) != string(before) {
			t.Errorf("%s: the registry changed although the addition was refused", tc.name)
		}
	}
}

package gateway

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"porta/envelope"
	"porta/registry"
)

func loadRegistry(t *testing.T) *registry.Registry {
	t.Helper()
	r, err := registry.Load(filepath.Join("..", "testdata", "registry", "full.yaml"),
		registry.Options{Now: func() time.Time { return time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatalf("load registry: %v", err)
	}
	return r
}

func TestDirectoryFromRegistry(t *testing.T) {
	reg := loadRegistry(t)
	anagrafe := &fakeBackend{got: make(chan *Delivery, 1)}
	d, err := NewDirectory(reg, map[string]Backend{"anagrafe": anagrafe}, 7*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	p, ok := d.Party("Provincia")
	if !ok || p.PortID != "ProvinciaSPCoopIT" || p.URL != "https://pdd.provincia.example:8443/pa" || len(p.Certs) != 1 {
		t.Errorf("Party(Provincia) = %+v", p)
	}
	if !d.Hosted("ComuneA") || d.Hosted("Ministero") {
		t.Error("Hosted answers wrong")
	}
	s, ok := d.Service("Provincia", "SAPNotifica")
	if !ok || s.Profile != envelope.OneWay || !s.Ack || !s.InOrder || !s.FilterDuplicates || s.Expiry != 48*time.Hour || s.Schemas["Notifica"] != "sap/scheda.xsd" {
		t.Errorf("Service(SAPNotifica) = %+v", s)
	}
	if _, ok := s.Actions["Notifica"]; !ok {
		t.Errorf("actions %v", s.Actions)
	}
	cb, _ := d.Service("Provincia", "DIDEsito")
	if cb.Profile != envelope.AsyncSymmetric || cb.Correlated != "DID" {
		t.Errorf("Service(DIDEsito) = %+v", cb)
	}
	if !d.MayConsume("Ministero", s) || d.MayConsume("ComuneA", s) {
		t.Error("MayConsume answers wrong")
	}
	if b, ok := d.Backend(s); !ok || b.(*HTTPBackend).URL != "http://127.0.0.1:9000/sap" || b.(*HTTPBackend).Timeout != 10*time.Second || b.(*HTTPBackend).Username != "porta" {
		t.Errorf("Backend(SAPNotifica) = %+v", b)
	}
	if b, ok := d.Backend(cb); !ok || b.(*HTTPBackend).Timeout != 7*time.Second {
		t.Errorf("Backend(DIDEsito) = %+v, want the default timeout", b)
	}
	an, _ := d.Service("ComuneA", "Anagrafe")
	if b, ok := d.Backend(an); !ok || b != Backend(anagrafe) {
		t.Errorf("Backend(Anagrafe) = %v, want the built-in adapter", b)
	}
	r, _ := http.NewRequest(http.MethodPost, "/pd/Provincia/ComuneA/Anagrafe/Consulta", nil)
	r.SetBasicAuth("sil", "sil-password")
	app, err := d.Application(r)
	if err != nil || app != "SIL" {
		t.Fatalf("Application = %q, %v", app, err)
	}
	if !d.AppMay(app, "Provincia", an) || d.AppMay(app, "ComuneA", an) || d.AppMay(app, "Provincia", s) {
		t.Error("AppMay answers wrong")
	}
	r.SetBasicAuth("sil", "wrong")
	if _, err := d.Application(r); err == nil {
		t.Error("a wrong password authenticated")
	}
}

func TestDirectoryMissingAdapter(t *testing.T) {
	_, err := NewDirectory(loadRegistry(t), nil, time.Second)
	if err == nil || !strings.Contains(err.Error(), `adapter "anagrafe"`) || !strings.Contains(err.Error(), "full.yaml:") {
		t.Errorf("err = %v, want the missing adapter named with file:line", err)
	}
}

package node

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// Reload puts a new registry in use while requests run against the old one, and a registry that
// does not check leaves the one in use.
func TestReload(t *testing.T) {
	dir := t.TempDir()
	s := &site{name: prov, dir: dir, pa: "127.0.0.1:0"}
	writeKey(t, s)
	peer := &site{name: min_, dir: t.TempDir(), pa: "127.0.0.1:1"}
	writeKey(t, peer)
	writeSite(t, s, peer, "  []\n", "  []\n")
	o, err := Open(context.Background(), filepath.Join(dir, "porta.yaml"), OpenOptions{OpenStore: auditOpener})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	pd := o.Gateway.PD()
	reason := func() string {
		req := httptest.NewRequest(http.MethodPost, "/pd/Provincia/Ministero/Anagrafe/Consulta", strings.NewReader("<x/>"))
		req.SetBasicAuth("nobody", "x")
		w := httptest.NewRecorder()
		pd.ServeHTTP(w, req)
		return w.Header().Get("Porta-Error-Reason")
	}
	// Requests all along; each must meet one registry or the other, never a broken one.
	var stop atomic.Bool
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				if r := reason(); r != "credentials-invalid" {
					t.Errorf("a request during reloads: reason %q", r)
					return
				}
			}
		}()
	}
	reg := filepath.Join(dir, "registry.yaml")
	good, _ := os.ReadFile(reg)
	for range 5 {
		if err := o.Reload(); err != nil {
			t.Fatalf("reload of the same registry: %v", err)
		}
	}
	if err := os.WriteFile(reg, []byte("parties:\n  - name: Provincia\n    hosted: maybe\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := o.Reload(); err == nil || !strings.Contains(err.Error(), "registry.yaml:3") {
		t.Errorf("reload of a broken registry: %v, want its file:line", err)
	}
	stop.Store(true)
	wg.Wait()
	if err := os.WriteFile(reg, good, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := o.Reload(); err != nil {
		t.Errorf("reload after the fix: %v", err)
	}
	m := httptest.NewRecorder()
	o.Gateway.Admin().ServeHTTP(m, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if !strings.Contains(m.Body.String(), "porta_registry_reload_failures_total 1\n") {
		t.Errorf("/metrics does not count the failed reload:\n%s", m.Body.String())
	}
}

package node

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"porta/gateway"
	"porta/internal/listen"
	"porta/registry"
)

type site struct {
	name, dir, pa string
}

// writeSite writes key, certificate, porta.yaml and registry.yaml of one gateway, the way
// porta init and add-party leave them: each registry lists both parties with their certificates.
func writeSite(t *testing.T, s, peer *site, services, apps string) {
	t.Helper()
	cfg := fmt.Sprintf("node: %s-1\nparties: [%s]\nlisten: {pd: 127.0.0.1:0, pa: %s, admin: 127.0.0.1:0}\nstore: sqlite:porta.db\noutbox: {initial_backoff: 20ms, max_backoff: 100ms}\n", s.name, s.name, s.pa)
	reg := fmt.Sprintf(`parties:
  - name: %s
    hosted: true
    url: https://%s/pa
    certificates: [cert.pem]
  - name: %s
    url: https://%s/pa
    certificates: [%s]
services:
%sapplications:
%s`, s.name, s.pa, peer.name, peer.pa, filepath.Join(peer.dir, "cert.pem"), services, apps)
	for name, data := range map[string]string{"porta.yaml": cfg, "registry.yaml": reg} {
		if err := os.WriteFile(filepath.Join(s.dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func writeKey(t *testing.T, s *site) {
	key, err := registry.GenerateKey(registry.AlgECDSAP256, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := registry.SelfSigned(key, registry.CertRequest{CommonName: s.name}, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if err := registry.WriteKeyFile(filepath.Join(s.dir, "key.pem"), key); err != nil {
		t.Fatal(err)
	}
	if err := registry.WriteCertFile(filepath.Join(s.dir, "cert.pem"), cert); err != nil {
		t.Fatal(err)
	}
}

const (
	prov = "Provincia"
	min_ = "Ministero"
)

const appRequest = `<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><Richiesta xmlns="urn:test"><codiceFiscale>RSSMRA85T10A562S</codiceFiscale></Richiesta></soapenv:Body></soapenv:Envelope>`

// auditOpener is OpenAuditStore for the SQLite file porta.yaml names, refusing any other DSN.
func auditOpener(ctx context.Context, cfg *Config, dsn string) (OpenedStore, error) {
	if !strings.HasPrefix(dsn, "sqlite:/") {
		return OpenedStore{}, fmt.Errorf("unexpected DSN %q", dsn)
	}
	return OpenAuditStore(ctx, cfg, dsn)
}

func readAll(t testing.TB, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// waitFor polls cond until it holds or a few seconds pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestOpenTwoGateways builds two gateways from their porta.yaml and YAML registries (no test
// doubles: SQLite audit stores in the sites' folders), serves them on loopback with mutual TLS, and runs a synchronous call
// from the Provincia's application to the Ministero's HTTP backend.
func TestOpenTwoGateways(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if !strings.Contains(string(b), "RSSMRA85T10A562S") || r.Header.Get(gateway.HeaderSender) != prov {
			http.Error(w, "unexpected delivery", 400)
			return
		}
		w.Header().Set("Content-Type", "text/xml")
		io.WriteString(w, `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><Risposta xmlns="urn:test">trovato</Risposta></s:Body></s:Envelope>`)
	}))
	defer backend.Close()
	// The PAs' addresses are in each other's registry before they listen: held until then.
	res := listen.NewReserved()
	defer res.Close()
	pa, err := res.Addrs(2)
	if err != nil {
		t.Fatal(err)
	}
	p := &site{name: prov, dir: t.TempDir(), pa: pa[0]}
	m := &site{name: min_, dir: t.TempDir(), pa: pa[1]}
	writeKey(t, p)
	writeKey(t, m)
	hash, err := registry.HashPassword("secret", rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	svc := "  - {provider: Ministero, name: Anagrafe, profile: sync, actions: [Consulta], consumers: [Provincia]%s}\n"
	writeSite(t, p, m, fmt.Sprintf(svc, ""), fmt.Sprintf("  - name: SIL\n    username: sil\n    password_hash: %s\n    may: [{consumer: Provincia, provider: Ministero, service: Anagrafe}]\n", hash))
	writeSite(t, m, p, fmt.Sprintf(svc, ", delivery: "+backend.URL), "  []\n")

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	addrs := map[string]string{}
	var mu sync.Mutex
	for _, s := range []*site{p, m} {
		o, err := Open(ctx, filepath.Join(s.dir, "porta.yaml"), OpenOptions{OpenStore: auditOpener})
		if err != nil {
			t.Fatalf("open %s: %v", s.name, err)
		}
		t.Cleanup(func() { o.Close() })
		l := o.Listeners
		l.Listen = func(_, network, addr string) (net.Listener, error) { return res.Listen(network, addr) }
		l.Listening = func(name, addr string) { mu.Lock(); addrs[s.name+"/"+name] = addr; mu.Unlock() }
		wg.Add(1)
		go func() { defer wg.Done(); _ = o.Gateway.Serve(ctx, l) }()
	}
	waitFor(t, "six listeners", func() bool { mu.Lock(); defer mu.Unlock(); return len(addrs) == 6 })

	req, _ := http.NewRequest(http.MethodPost, "http://"+addrs[prov+"/pd"]+"/pd/Provincia/Ministero/Anagrafe/Consulta", strings.NewReader(appRequest))
	req.SetBasicAuth("sil", "secret")
	req.Header.Set("Content-Type", "text/xml")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(t, resp)
	if resp.StatusCode != 200 || !strings.Contains(body, "trovato") {
		t.Fatalf("status %d\n%s", resp.StatusCode, body)
	}
	// The PA refuses a TLS client without a registered certificate.
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: insecureTLS()}}
	if _, err := c.Post("https://"+m.pa+"/pa", "text/xml", strings.NewReader(appRequest)); err == nil {
		t.Error("the PA accepted a TLS client without a certificate")
	}
	r2, err := http.Get("http://" + addrs[min_+"/admin"] + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	if b := readAll(t, r2); r2.StatusCode != 200 {
		t.Errorf("readyz %d %s", r2.StatusCode, b)
	}
}

func TestOpenReportsProblems(t *testing.T) {
	dir := t.TempDir()
	s := &site{name: prov, dir: dir, pa: "127.0.0.1:0"}
	writeKey(t, s)
	peer := &site{name: min_, dir: t.TempDir(), pa: "127.0.0.1:1"}
	writeKey(t, peer)
	writeSite(t, s, peer, "  []\n", "  []\n")
	if _, err := Open(context.Background(), filepath.Join(dir, "porta.yaml"), OpenOptions{Store: "mysql://x"}); err == nil || !strings.Contains(err.Error(), "mysql://x") {
		t.Errorf("Open with a bad store: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "registry.yaml"), []byte("parties:\n  - name: Provincia\n    hosted: maybe\n"), 0o644)
	_, err := Open(context.Background(), filepath.Join(dir, "porta.yaml"), OpenOptions{OpenStore: auditOpener})
	if err == nil || !strings.Contains(err.Error(), "registry.yaml:3") {
		t.Errorf("a bad registry: %v, want its file:line", err)
	}
}

func insecureTLS() *tls.Config { return &tls.Config{InsecureSkipVerify: true} }

// A payload schema the registry names must be one of Porta's embedded schemas.
func TestOpenChecksSchemaNames(t *testing.T) {
	p := &site{name: prov, dir: t.TempDir(), pa: "127.0.0.1:0"}
	m := &site{name: min_, dir: t.TempDir(), pa: "127.0.0.1:1"}
	writeKey(t, p)
	writeKey(t, m)
	writeSite(t, p, m, "  - {provider: Ministero, name: Anagrafe, profile: sync, actions: [Consulta], schema: nonesiste/x.xsd}\n", "  []\n")
	_, err := Open(context.Background(), filepath.Join(p.dir, "porta.yaml"), OpenOptions{OpenStore: auditOpener})
	if err == nil || !strings.Contains(err.Error(), "nonesiste/x.xsd") {
		t.Errorf("Open = %v, want the unknown schema named", err)
	}
	writeSite(t, p, m, "  - {provider: Ministero, name: Anagrafe, profile: sync, actions: [Consulta], schema: labour/anagrafe.xsd}\n", "  []\n")
	o, err := Open(context.Background(), filepath.Join(p.dir, "porta.yaml"), OpenOptions{OpenStore: auditOpener})
	if err != nil {
		t.Fatalf("Open with a known schema: %v", err)
	}
	o.Close()
}

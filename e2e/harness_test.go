package e2e

import (
	"cmp"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"porta/internal/listen"
	"porta/internal/proctest"
	"porta/registry"
)

func TestMain(m *testing.M) {
	code := m.Run()
	proctest.Cleanup()
	os.Exit(code)
}

const (
	prov     = "Provincia"
	min_     = "Ministero"
	password = "e2e-secret"
	appReq   = `<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><Richiesta xmlns="urn:test"><codiceFiscale>RSSMRA85T10A562S</codiceFiscale><n>%d</n></Richiesta></soapenv:Body></soapenv:Envelope>`
)

// site is one gateway's folder, written by porta init.
type site struct {
	name, dir, pa string
	cfg           string // porta.yaml
}

// gw is one running porta serve process.
type gw struct {
	*site
	proc      *proctest.Proc
	pd, admin string
	timeout   time.Duration // of call; 15s when 0
}

func porta(t testing.TB, args ...string) string {
	t.Helper()
	out, err := exec.Command(proctest.Binary(t), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("porta %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// ports holds the addresses the tests choose before a gateway listens (a PA's URL is in its
// peer's registry): each stays bound by this process until a porta serve child takes it over by
// socket activation, so no other test or connection can take it in between.
var ports = listen.NewReserved()

// freePort reserves a loopback address for a listener started later (see serve).
func freePort(t testing.TB) string {
	t.Helper()
	a, err := ports.Addr()
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// repoFile is the absolute path of a file of the module.
func repoFile(rel string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", filepath.FromSlash(rel))
}

// services are the registry entries both gateways share, in the registry's YAML; delivery is
// added for the hosted provider's services. %[1]s is the backend URL of the provider.
var services = []struct{ provider, yaml string }{
	{min_, "  - provider: Ministero\n    name: Anagrafe\n    profile: sync\n    wsdl: " + repoFile("gateway/testdata/wsdl/anagrafe.wsdl") + "\n    actions: [Consulta]\n    consumers: [Provincia]\n"},
	{min_, "  - provider: Ministero\n    name: Comunicazione\n    profile: oneway\n    filter_duplicates: true\n    ack: true\n    actions: [Invia]\n    consumers: [Provincia]\n"},
	{min_, "  - provider: Ministero\n    name: Ordinato\n    profile: oneway\n    filter_duplicates: true\n    ack: true\n    in_order: true\n    actions: [Invia]\n    consumers: [Provincia]\n"},
	{min_, "  - provider: Ministero\n    name: Pratica\n    profile: async-symmetric\n    correlated_service: PraticaRisposta\n    actions: [Richiedi]\n    consumers: [Provincia]\n"},
	{prov, "  - provider: Provincia\n    name: PraticaRisposta\n    profile: async-symmetric\n    correlated_service: Pratica\n    actions: [Esito]\n    consumers: [Ministero]\n"},
	{min_, "  - provider: Ministero\n    name: Stampa\n    profile: async-asymmetric\n    actions:\n      - Stampa\n      - {name: Stato, correlated: Stampa}\n    consumers: [Provincia]\n"},
}

// newSites writes the two gateways with porta init (each with its own local CA), joins them with
// porta registry add-party, and appends the services and applications; backends maps a party to
// the URL its provided services are delivered to.
func newSites(t testing.TB, backends map[string]string) (p, m *site) {
	t.Helper()
	root := t.TempDir()
	hash, err := registry.HashPassword(password, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	mk := func(name string) *site {
		s := &site{name: name, dir: filepath.Join(root, strings.ToLower(name)), pa: freePort(t)}
		porta(t, "init", "--party", name, "--dir", s.dir, "--new-ca", filepath.Join(root, strings.ToLower(name)+"-ca"),
			"--alg", "ecdsa-p256", "--pa-addr", s.pa, "--pd-addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0")
		s.cfg = filepath.Join(s.dir, "porta.yaml")
		return s
	}
	p, m = mk(prov), mk(min_)
	porta(t, "registry", "add-party", "--config", p.cfg, filepath.Join(m.dir, "party.yaml"))
	porta(t, "registry", "add-party", "--config", m.cfg, filepath.Join(p.dir, "party.yaml"))
	for _, s := range []*site{p, m} {
		peer := min_
		if s == m {
			peer = prov
		}
		var b strings.Builder
		b.WriteString("\nservices:\n")
		for _, svc := range services {
			b.WriteString(svc.yaml)
			if svc.provider == s.name {
				fmt.Fprintf(&b, "    delivery: {url: %s/%s, timeout: 5s}\n", backends[s.name], s.name)
			}
		}
		fmt.Fprintf(&b, "\napplications:\n  - name: App%s\n    username: app\n    password_hash: %s\n    may:\n", s.name, hash)
		for _, svc := range services {
			if svc.provider == peer {
				name := strings.Fields(strings.SplitN(svc.yaml, "name: ", 2)[1])[0]
				fmt.Fprintf(&b, "      - {consumer: %s, provider: %s, service: %s}\n", s.name, peer, name)
			}
		}
		appendFile(t, filepath.Join(s.dir, "registry.yaml"), b.String())
		// Tests cannot wait minutes: short back-off and lease (how soon a crashed node's queued
		// messages are taken over).
		edit(t, s.cfg, "initial_backoff: 1s", "initial_backoff: 100ms", "max_backoff: 5m", "max_backoff: 1s\n  lease: 3s")
		porta(t, "registry", "check", "--config", s.cfg)
	}
	return p, m
}

func appendFile(t testing.TB, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

// edit replaces old/new pairs in a file, failing when one is absent.
func edit(t testing.TB, path string, oldnew ...string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for i := 0; i < len(oldnew); i += 2 {
		if !strings.Contains(s, oldnew[i]) {
			t.Fatalf("%s has no %q", path, oldnew[i])
		}
		s = strings.Replace(s, oldnew[i], oldnew[i+1], 1)
	}
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

var listenRE = func(name string) *regexp.Regexp {
	return regexp.MustCompile(`msg=listening listener=` + name + ` addr=(\S+)`)
}

// serve starts porta serve on a site with extra flags and waits for its three listeners.
func serve(t testing.TB, s *site, label string, extra ...string) *gw {
	t.Helper()
	args := append([]string{"serve", "--config", s.cfg}, extra...)
	addrs := map[string]string{"pa": s.pa}
	for i := 0; i+1 < len(extra); i++ {
		for _, n := range []string{"pd", "pa", "admin"} {
			if extra[i] == "--"+n+"-addr" {
				addrs[n] = extra[i+1]
			}
		}
	}
	socks := map[string]*os.File{}
	for n, a := range addrs {
		if ports.Holds(a) {
			f, err := ports.File(a)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close() // the child has its own copy once started
			socks[n] = f
		}
	}
	p := proctest.StartWithSockets(t, label, proctest.Binary(t), args, socks)
	g := &gw{site: s, proc: p}
	g.pd = p.WaitFor(listenRE("pd"), 20*time.Second)[1]
	g.admin = p.WaitFor(listenRE("admin"), 20*time.Second)[1]
	p.WaitFor(listenRE("pa"), 20*time.Second)
	return g
}

// call posts an application request to the gateway's Porta Delegata.
func (g *gw) call(t testing.TB, path, body string, hdr map[string]string) (*http.Response, string, error) {
	req, err := http.NewRequest(http.MethodPost, "http://"+g.pd+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("app", password)
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	c := &http.Client{Timeout: cmp.Or(g.timeout, 15*time.Second)}
	resp, err := c.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b), nil
}

func (g *gw) mustCall(t testing.TB, path string, n int, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	resp, body, err := g.call(t, path, fmt.Sprintf(appReq, n), hdr)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	return resp, body
}

// delivery is one request the backend received.
type delivery struct {
	party, id, relates, conv, sender, service, action string
	attempt                                           string // Porta-Delivery-Attempt
	body                                              string
	contentType                                       string
	at                                                time.Time
}

var richiestaRE = regexp.MustCompile(`<(\w+:)?Richiesta[\s>][\s\S]*?</(\w+:)?Richiesta>`)

// backend is the local applications of both parties: it records every raw delivery (it dedupes
// nothing) and answers with the request payload wrapped in <Risposta>.
type backend struct {
	*httptest.Server
	mu   sync.Mutex
	got  []delivery
	slow time.Duration
}

func newBackend(t testing.TB) *backend {
	b := &backend{}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		d := delivery{party: strings.TrimPrefix(r.URL.Path, "/"), id: r.Header.Get("Porta-Message-ID"),
			relates: r.Header.Get("Porta-Relates-To"), conv: r.Header.Get("Porta-Conversation-ID"),
			sender: r.Header.Get("Porta-Sender"), service: r.Header.Get("Porta-Service"), action: r.Header.Get("Porta-Action"),
			attempt: r.Header.Get("Porta-Delivery-Attempt"), body: string(body), contentType: r.Header.Get("Content-Type"), at: time.Now()}
		b.mu.Lock()
		b.got = append(b.got, d)
		slow := b.slow
		b.mu.Unlock()
		if slow > 0 {
			time.Sleep(slow)
		}
		in := string(richiestaRE.Find(body)) // any prefix: zeep writes ns0:Richiesta
		w.Header().Set("Content-Type", "text/xml; charset=utf-8")
		fmt.Fprintf(w, `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><Risposta xmlns="urn:test">%s</Risposta></s:Body></s:Envelope>`, in)
	}))
	t.Cleanup(b.Close)
	return b
}

func (b *backend) all() []delivery {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]delivery(nil), b.got...)
}

// of returns the deliveries of one service.
func (b *backend) of(service string) []delivery {
	var out []delivery
	for _, d := range b.all() {
		if d.service == service {
			out = append(out, d)
		}
	}
	return out
}

func waitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// mtlsClient is a TLS client with a site's key and certificate that trusts peer's CA: what a
// gateway of that site uses to reach the peer's Porta Applicativa.
func mtlsClient(t testing.TB, s, peer *site) *http.Client {
	t.Helper()
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsConfig(t, s, peer)}}
}

// tlsConfig is mtlsClient's TLS configuration: site s's key and certificate, peer's CA.
func tlsConfig(t testing.TB, s, peer *site) *tls.Config {
	t.Helper()
	cert, err := tls.LoadX509KeyPair(filepath.Join(s.dir, "cert.pem"), filepath.Join(s.dir, "key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pem, err := os.ReadFile(filepath.Join(peer.dir, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	return &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: roots}
}

// metric reads one sample of the gateway's /metrics ("" when absent).
func (g *gw) metric(t testing.TB, name string) string {
	t.Helper()
	resp, err := http.Get("http://" + g.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` (\S+)$`).FindSubmatch(b)
	if m == nil {
		return ""
	}
	return string(m[1])
}

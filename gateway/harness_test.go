package gateway

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/beevik/etree"

	"porta/envelope"
	"porta/envelope/wssec"
)

// A test network: two gateways in one process, each with its own keys, registry and store, their
// Porta Applicativa on HTTPS with client certificates, and fake backends.
//
//	Provincia (consumer; provides PraticaRisposta)  ⇄  Ministero (provider of the other services)

const (
	prov = "Provincia"
	min_ = "Ministero"
)

type node struct {
	name  string
	id    *identity
	g     *Gateway
	dir   *testDir
	store *memStore
	pa    *httptest.Server
	pd    *httptest.Server
	be    *fakeBackend
	cli   *http.Client // this gateway's client to peers
	// drop makes the Porta Applicativa process the next n buste and then drop the connection
	// instead of answering: a reply lost on the way back.
	drop atomic.Int32
}

type network struct {
	t    testing.TB
	prov *node
	min  *node
}

// fakeBackend records deliveries and answers with an echo of the request payload wrapped in a
// <Risposta> element, or with a Fault when asked.
type fakeBackend struct {
	mu        sync.Mutex
	delivered []*Delivery
	fault     bool
	fail      int // fail the next n deliveries with a transport error
	got       chan *Delivery
	hold      chan struct{} // when set, each delivery waits until it is closed
}

func (b *fakeBackend) Deliver(_ context.Context, d *Delivery) (*Reply, error) {
	b.mu.Lock()
	if hold := b.hold; hold != nil {
		b.mu.Unlock()
		<-hold
		b.mu.Lock()
	}
	if b.fail > 0 {
		b.fail--
		b.mu.Unlock()
		return nil, io.ErrUnexpectedEOF
	}
	b.delivered = append(b.delivered, d)
	fault := b.fault
	b.mu.Unlock()
	select {
	case b.got <- d:
	default:
	}
	if fault {
		return &Reply{Status: 500, Envelope: []byte(`<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault><faultcode>s:Client</faultcode><faultstring>codice fiscale sconosciuto</faultstring></s:Fault></s:Body></s:Envelope>`)}, nil
	}
	var in string
	if i := bytes.Index(d.Envelope, []byte("<Richiesta")); i >= 0 {
		in = string(d.Envelope[i:])
		in = in[:strings.Index(in, "</Richiesta>")+len("</Richiesta>")]
	}
	return &Reply{Status: 200, Envelope: []byte(`<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><Risposta xmlns="urn:test">` + in + `</Risposta></s:Body></s:Envelope>`)}, nil
}

func (b *fakeBackend) count() int { b.mu.Lock(); defer b.mu.Unlock(); return len(b.delivered) }

func (b *fakeBackend) all() []*Delivery {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]*Delivery(nil), b.delivered...)
}

func services() []*Service {
	return []*Service{
		{Provider: min_, Name: "Anagrafe", Type: "SPC", Profile: envelope.Sync, Actions: map[string]string{"Consulta": ""}, FilterDuplicates: true, WSDL: "testdata/wsdl/anagrafe.wsdl"},
		{Provider: min_, Name: "Comunicazione", Type: "SPC", Profile: envelope.OneWay, Actions: map[string]string{"Invia": ""}, FilterDuplicates: true, Ack: true},
		{Provider: min_, Name: "Notifica", Type: "SPC", Profile: envelope.OneWay, Actions: map[string]string{"Notifica": ""}},
		{Provider: min_, Name: "Segnalazione", Type: "SPC", Profile: envelope.OneWay, Actions: map[string]string{"Segnala": ""}, FilterDuplicates: true},
		{Provider: min_, Name: "Ordinato", Type: "SPC", Profile: envelope.OneWay, Actions: map[string]string{"Invia": ""}, InOrder: true},
		{Provider: min_, Name: "Pratica", Type: "SPC", Profile: envelope.AsyncSymmetric, Actions: map[string]string{"Richiedi": ""}, Correlated: "PraticaRisposta"},
		{Provider: prov, Name: "PraticaRisposta", Type: "SPC", Profile: envelope.AsyncSymmetric, Actions: map[string]string{"Esito": ""}, Correlated: "Pratica"},
		{Provider: min_, Name: "Stampa", Type: "SPC", Profile: envelope.AsyncAsymmetric, Actions: map[string]string{"Stampa": "", "Stato": "Stampa"}},
	}
}

func newNetwork(t testing.TB) *network { return newNetworkOn(t, nil) }

// newNetworkOn builds the network with each gateway's store from open (nil: the in-memory test
// double, whose accessors the tests use) and its services changed by edits.
func newNetworkOn(t testing.TB, open func(name string) Store, edits ...func(*Service)) *network {
	t.Helper()
	now := time.Now()
	n := &network{t: t}
	n.prov = &node{name: prov, id: newIdentity(t, prov, now)}
	n.min = &node{name: min_, id: newIdentity(t, min_, now)}
	nodes := []*node{n.prov, n.min}
	// Listeners first (not yet serving): each registry needs the other's URL.
	for _, nd := range nodes {
		nd.pa = httptest.NewUnstartedServer(nil)
		nd.pa.TLS = &tls.Config{Certificates: []tls.Certificate{nd.id.tls}, ClientAuth: tls.RequireAnyClientCert}
		t.Cleanup(nd.pa.Close)
		nd.pd = httptest.NewUnstartedServer(nil)
		t.Cleanup(nd.pd.Close)
	}
	for _, nd := range nodes {
		peer := n.min
		if nd == n.min {
			peer = n.prov
		}
		nd.dir = newTestDir()
		for _, p := range nodes {
			nd.dir.parties[p.name] = &Party{Name: p.name, Type: "SPC", PortID: p.name + "SPCoopIT", URL: "https://" + p.pa.Listener.Addr().String() + "/pa", Certs: []*x509.Certificate{p.id.cert}}
		}
		nd.dir.hosted[nd.name] = true
		nd.be = &fakeBackend{got: make(chan *Delivery, 100)}
		app := "sil"
		if nd == n.min {
			app = "mapp"
		}
		nd.dir.apps[app] = "secret"
		nd.dir.appMay[app] = map[string]bool{}
		for _, s := range services() {
			for _, edit := range edits {
				edit(s)
			}
			key := s.Provider + "/" + s.Name
			nd.dir.services[key] = s
			if s.Provider == nd.name {
				nd.dir.consumers[key] = map[string]bool{peer.name: true}
				nd.dir.backends[key] = nd.be
			} else {
				nd.dir.appMay[app][key] = true
			}
		}
		nd.store = newMemStore(time.Now)
		var store Store = nd.store
		if open != nil {
			store = open(nd.name)
		}
		pool := x509.NewCertPool()
		pool.AddCert(peer.id.cert)
		nd.cli = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{Certificates: []tls.Certificate{nd.id.tls}, RootCAs: pool}, WriteBufferSize: 32 << 10}} // as gateway/node
		t.Cleanup(nd.cli.CloseIdleConnections)
		signer, err := wssec.NewSigner(nd.id.key, []*x509.Certificate{nd.id.cert})
		if err != nil {
			t.Fatal(err)
		}
		signer.Parts = envelope.SignedParts()
		verifier := &wssec.Verifier{Trust: wssec.NewTrustStore([]*x509.Certificate{peer.id.cert, nd.id.cert}, nil), Parts: envelope.SignedParts()}
		logger := slog.New(slog.DiscardHandler)
		if testing.Verbose() {
			logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("node", nd.name)
		}
		g, err := New(Options{Node: nd.name, Poll: 20 * time.Millisecond, RetryMin: 10 * time.Millisecond, RetryMax: 100 * time.Millisecond, Lease: 5 * time.Second, PeerTimeout: 5 * time.Second},
			Deps{Directory: nd.dir, Store: store, Validator: schemaValidator{}, Signer: signer, Verifier: verifier, Client: nd.cli, Logger: logger, Hosted: []string{nd.name}, Certificates: []*x509.Certificate{nd.id.cert}})
		if err != nil {
			t.Fatal(err)
		}
		nd.g = g
		pa := g.PA()
		nd.pa.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if nd.drop.Load() > 0 {
				nd.drop.Add(-1)
				pa.ServeHTTP(httptest.NewRecorder(), r)
				conn, _, err := http.NewResponseController(w).Hijack()
				if err == nil {
					conn.Close()
				}
				return
			}
			pa.ServeHTTP(w, r)
		})
		nd.pa.StartTLS()
		nd.pd.Config.Handler = g.PD()
		nd.pd.Start()
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, nd := range nodes {
		wg.Add(1)
		go func() { defer wg.Done(); _ = nd.g.Run(ctx) }()
	}
	t.Cleanup(func() { cancel(); wg.Wait() })
	return n
}

const appRequest = `<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><Richiesta xmlns="urn:test"><codiceFiscale>RSSMRA85T10A562S</codiceFiscale></Richiesta></soapenv:Body></soapenv:Envelope>`

// call posts an application request to a node's Porta Delegata.
func (nd *node) call(t testing.TB, path string, hdr map[string]string) *http.Response {
	t.Helper()
	return nd.callBody(t, path, appRequest, hdr)
}

func (nd *node) callBody(t testing.TB, path, body string, hdr map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, nd.pd.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	user := "sil"
	if nd.name == min_ {
		user = "mapp"
	}
	req.SetBasicAuth(user, "secret")
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	for k, v := range hdr {
		if k == "Authorization" {
			req.Header.Del("Authorization")
			if v == "" {
				continue
			}
		}
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
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

// passes waits until the node's inbox deliverer has leased twice from now and has no message in
// hand: every message the store would hand out now has been handled, so a delivery that has not
// happened will not.
func (nd *node) passes(t *testing.T) {
	t.Helper()
	c := nd.store.leases(Inbox)
	waitFor(t, nd.name+"'s inbox deliverer to go round twice", func() bool {
		if nd.store.leases(Inbox) < c+2 {
			return false
		}
		nd.g.in.mu.Lock()
		defer nd.g.in.mu.Unlock()
		return nd.g.in.inHand == 0
	})
}

// settled waits until the node's inbox is empty, once the sender's outbox has settled: every
// busta the node accepted has been delivered and settled, and no other can arrive, so the
// deliveries counted now are all there will be.
func (nd *node) settled(t *testing.T) {
	t.Helper()
	waitFor(t, nd.name+"'s inbox to empty", func() bool { return nd.store.queued(Inbox) == 0 })
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

// parseSOAP parses a SOAP response body.
func parseSOAP(t *testing.T, s string) *etree.Document {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromString(s); err != nil {
		t.Fatalf("response is not XML: %v\n%s", err, s)
	}
	return doc
}

// setService replaces a service of the directory (services are shared read-only with the
// gateway, so tests change them by replacing, never in place).
func (d *testDir) setService(provider, name string, change func(s *Service)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := *d.services[provider+"/"+name]
	change(&s)
	d.services[provider+"/"+name] = &s
}

func httptestRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }

// Package bench owns porta bench's measurement: two gateways built as porta serve builds them
// (files written here with one local CA, node.Open, Gateway.Serve; with several nodes per side a
// round-robin TCP balancer in front of the provider's), a backend echoing the payload, the
// PostgreSQL databases of a --store run (created and dropped), a closed-loop load of the SIL on
// the consumer's Porta Delegata, and the references measured in the same run: the signature
// limit and a plain HTTP echo; with Options.Peer, a peer benchmark's exchanges between two windows
// of porta's (peer.go). Addresses come from internal/listen.Reserved, held until the gateways or
// the balancer take them over.
//
// It must not parse flags or print a report (cmd/porta does), nor change how a gateway works:
// it measures the real thing.
package bench

import (
	"bytes"
	"cmp"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"porta/audit/seal"
	"porta/envelope/wssec"
	"porta/gateway"
	"porta/gateway/node"
	"porta/internal/listen"
	"porta/internal/loadgen"
	"porta/registry"
)

// The real thing over loopback, measured. Two gateways built exactly as porta serve
// builds them (porta init's files, node.Open, Gateway.Serve: TLS with client certificates,
// WS-Security signing and verification, payload schema validation, the audit store), a backend
// application that echoes the payload, and a load generator acting as the SIL on the consumer's
// Porta Delegata. Two references are measured in the same run: the signature limit (sign
// operations per second of the chosen algorithm on all cores, divided by the two signatures an
// exchange needs: the busta and the reply or riscontro) and a plain HTTP echo of the same payload
// over loopback at the same concurrency, without a gateway.

const (
	benchConsumer = "Provincia"
	benchProvider = "Ministero"
	benchApp      = "sil"
	// The payload is a servizicoap invioSAP (labour/sap-servizicoap.xsd), whose SAP element is a
	// string of any length: the schema is checked at both gateways whatever the size.
	benchNS      = "http://servizi.lavoro.gov.it/servizicoap/types"
	benchSchema  = "labour/sap-servizicoap.xsd"
	benchSync    = "SAPRichiesta"
	benchOneWay  = "SAPInvio"
	benchAction  = "invioSAP"
	sigsPerExchg = 2 // the busta and the reply (sync) or the riscontro (oneway-ack)
)

// Options are a run's parameters, porta bench's flags.
type Options struct {
	Profile     string
	Payload     int
	Concurrency int
	Duration    time.Duration
	Warmup      time.Duration
	Alg         string
	Store       string
	Nodes       int
	Dir         string
	Cpuprofile  string
	RefDuration time.Duration
	// Peer, when set, is the folder of a peer benchmark (run.sh, build.sh: ../shared/peers/wss4j)
	// whose exchange mode runs between two windows of porta's (see PeerReport); PeerArgs are more
	// arguments of its run.sh, such as its warm-up flags.
	Peer     string
	PeerArgs []string
	// HalfRate adds a paced run at half the window's rate (Report.HalfRate), after the window.
	HalfRate bool
	// TraceBody is the services' trace policy body mode (full, header, none, encrypted); "" =
	// porta.yaml's default, full. With encrypted the gateways get trace keys (and then also seal
	// their queues); without, they have none.
	TraceBody string
	// Large is the gateways' LargeMessages (gateway.Deps.Large), as porta serve gives them one;
	// nil: none.
	Large gateway.LargeMessages
}

// Report is every figure of a run (porta bench --json prints it).
type Report struct {
	Profile             string  `json:"profile"`
	PayloadBytes        int     `json:"payload_bytes"`
	Alg                 string  `json:"alg"`
	Store               string  `json:"store"`
	TraceBody           string  `json:"trace_body"`
	Nodes               int     `json:"nodes"`
	Concurrency         int     `json:"concurrency"`
	Cores               int     `json:"cores"`
	DurationS           float64 `json:"duration_s"`
	Exchanges           int64   `json:"exchanges"`
	ExchangesPerS       float64 `json:"exchanges_per_s"`
	P50ms               float64 `json:"p50_ms"`
	P90ms               float64 `json:"p90_ms"`
	P99ms               float64 `json:"p99_ms"`
	MaxMs               float64 `json:"max_ms"`
	CPUmsPerExchange    float64 `json:"cpu_ms_per_exchange"`
	AllocsPerExchange   float64 `json:"allocs_per_exchange"`
	PeakRSSBytes        int64   `json:"peak_rss_bytes"`
	BaseRSSBytes        int64   `json:"base_rss_bytes"`
	MemoryLimitBytes    int64   `json:"memory_limit_bytes,omitempty"`
	GCPercent           int     `json:"gc_percent"` // the garbage collector's target (GOGC; porta sets 200 unless GOGC is set)
	Errors              int64   `json:"errors"`
	FirstError          string  `json:"first_error,omitempty"`
	SignerEngine        string  `json:"signer_engine"`
	SignsPerS           float64 `json:"signs_per_s"`
	SignaturesPerExchg  int     `json:"signatures_per_exchange"`
	SignatureLimitPerS  float64 `json:"signature_limit_per_s"`
	FractionOfLimit     float64 `json:"fraction_of_limit"`
	PlainEchoPerS       float64 `json:"plain_echo_per_s"`
	PlainEchoP50ms      float64 `json:"plain_echo_p50_ms"`
	PlainEchoCPUmsPerOp float64 `json:"plain_echo_cpu_ms_per_op"`
	// Peer is set by a run with Options.Peer; the figures above are of porta's first window.
	Peer     *PeerReport `json:"peer,omitempty"`
	HalfRate *Paced      `json:"half_rate,omitempty"` // Options.HalfRate: latency at half the window's rate
	// GatewayMemory is each gateway's own peak RSS as a porta serve process (MeasureMemory), when measured.
	GatewayMemory *MemoryReport `json:"gateway_memory,omitempty"`
}

// Run measures o; the gateways log their errors to stderr. An error means the run could not be made.
func Run(ctx context.Context, o Options, stderr io.Writer) (*Report, error) {
	dir := o.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "porta-bench-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	if o.Peer != "" && o.Profile != "sync" {
		return nil, errPeerProfile
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// The backend: the provider's local application, echoing the payload.
	be, err := startServer(http.HandlerFunc(echoSAP))
	if err != nil {
		return nil, err
	}
	defer be.Close()

	stores := [2]string{} // consumer, provider; empty: porta.yaml's SQLite file in each directory
	if o.Store != "sqlite" {
		dsns, drop, err := benchDatabases(ctx, o.Store)
		if err != nil {
			return nil, err
		}
		defer drop()
		stores = dsns
	}
	n, err := startBenchNetwork(ctx, dir, o, stores, "http://"+be.addr+"/sap", stderr)
	if err != nil {
		return nil, err
	}
	defer n.close()

	body := sapRequest(o.Payload)
	client := &http.Client{Transport: &http.Transport{
		MaxIdleConns: o.Concurrency, MaxIdleConnsPerHost: o.Concurrency, IdleConnTimeout: time.Minute,
	}, Timeout: 2 * time.Minute}
	defer client.CloseIdleConnections()
	service := benchSync
	if o.Profile == "oneway-ack" {
		service = benchOneWay
	}
	var pdURLs []string
	for _, a := range n.pdAddrs {
		pdURLs = append(pdURLs, "http://"+a+"/pd/"+benchConsumer+"/"+benchProvider+"/"+service+"/"+benchAction)
	}
	op := func(ctx context.Context, worker int) error {
		resp, err := post(ctx, client, pdURLs[worker%len(pdURLs)], body, true)
		if err != nil {
			return err
		}
		if o.Profile == "sync" {
			if !bytes.Contains(resp.body, []byte("risposta_richiestaSAP")) || len(resp.body) < o.Payload {
				return fmt.Errorf("the reply (%d bytes) is not the echo of the payload", len(resp.body))
			}
			return nil
		}
		id := resp.header.Get(gateway.HeaderMessageID)
		if id == "" {
			return fmt.Errorf("no %s in the Porta Delegata's answer", gateway.HeaderMessageID)
		}
		wctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		return n.acks.wait(wctx, id)
	}

	// One exchange before the load: it checks the setup end to end, and the SIL's password is
	// verified (PBKDF2, 600k iterations) once and cached, as it is for a SIL that starts calling
	// alone. Without it every client of the first wave verifies it at once (the registry's cache
	// has no single-flight), which costs seconds of CPU at high concurrency.
	if err := op(ctx, 0); err != nil {
		return nil, fmt.Errorf("first exchange: %w", err)
	}
	debug.FreeOSMemory() // the peak is of the window, not of the first exchange's garbage
	loadgen.ResetPeakRSS()
	base := loadgen.PeakRSS()
	if o.Cpuprofile != "" {
		f, err := os.Create(o.Cpuprofile)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return nil, err
		}
	}
	res, runErr := loadgen.Run(ctx, loadgen.Config{Concurrency: o.Concurrency, Warmup: o.Warmup, Duration: o.Duration}, op)
	if o.Cpuprofile != "" {
		pprof.StopCPUProfile()
	}
	if runErr != nil {
		return nil, runErr
	}
	var peer *PeerReport
	if o.Peer != "" {
		// porta, peer, porta: the gateways idle while the peer runs.
		if peer, err = runPeer(ctx, o.Peer, o, stderr); err != nil {
			return nil, err
		}
		after, err := loadgen.Run(ctx, loadgen.Config{Concurrency: o.Concurrency, Warmup: o.Warmup, Duration: o.Duration}, op)
		if err != nil {
			return nil, err
		}
		if after.Errors > 0 || after.FirstError != nil {
			return nil, fmt.Errorf("porta's window after the peer's: %d errors, first: %v", after.Errors, after.FirstError)
		}
		peer.compare(res, after)
	}
	var half *Paced
	if o.HalfRate && res.PerSecond() > 0 {
		if half, err = paced(ctx, o, res.PerSecond()/2, op); err != nil {
			return nil, fmt.Errorf("half-rate run: %w", err)
		}
	}
	n.close() // the references run on a quiet machine

	// Reference 1: the signature limit.
	key, err := registry.GenerateKey(o.Alg, rand.Reader)
	if err != nil {
		return nil, err
	}
	// on the engine the gateways' signers run on (wssec.LoadSigner, PORTA_SIGNER)
	if key, err = wssec.EngineKey(key); err != nil {
		return nil, fmt.Errorf("signature reference: %w", err)
	}
	digest := sha256.Sum256(body[:min(len(body), 1024)])
	signs, err := loadgen.Rate(ctx, o.RefDuration, func() error {
		_, err := key.Sign(rand.Reader, digest[:], crypto.SHA256)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("signature reference: %w", err)
	}
	// Reference 2: the same payload echoed over loopback HTTP, no gateway.
	plain, err := startServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "text/xml; charset=utf-8")
		w.Write(b)
	}))
	if err != nil {
		return nil, err
	}
	defer plain.Close()
	plainURL := "http://" + plain.addr + "/echo"
	echo, err := loadgen.Run(ctx, loadgen.Config{Concurrency: o.Concurrency, Warmup: o.RefDuration / 4, Duration: o.RefDuration}, func(ctx context.Context, _ int) error {
		r, err := post(ctx, client, plainURL, body, false)
		if err == nil && len(r.body) != len(body) {
			err = fmt.Errorf("echo of %d bytes answered with %d", len(body), len(r.body))
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("plain echo reference: %w", err)
	}
	if echo.Errors > 0 || echo.FirstError != nil {
		return nil, fmt.Errorf("plain echo reference: %d errors, first: %v", echo.Errors, echo.FirstError)
	}

	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	rep := &Report{
		Profile: o.Profile, PayloadBytes: o.Payload, Alg: o.Alg, Store: RedactDSN(o.Store), TraceBody: cmp.Or(o.TraceBody, "full"), Nodes: o.Nodes,
		Concurrency: o.Concurrency, Cores: runtime.GOMAXPROCS(0), DurationS: res.Elapsed.Seconds(),
		Exchanges: res.Ops, ExchangesPerS: res.PerSecond(),
		P50ms: ms(res.P50), P90ms: ms(res.P90), P99ms: ms(res.P99), MaxMs: ms(res.Max),
		CPUmsPerExchange: ms(res.CPUPerOp()), AllocsPerExchange: res.AllocsPerOp(),
		PeakRSSBytes: res.PeakRSS, BaseRSSBytes: base, Errors: res.Errors,
		MemoryLimitBytes: MemoryLimit(), GCPercent: gcPercent(),
		SignerEngine: wssec.KeyEngine(key), SignsPerS: signs, SignaturesPerExchg: sigsPerExchg, SignatureLimitPerS: signs / sigsPerExchg,
		PlainEchoPerS: echo.PerSecond(), PlainEchoP50ms: ms(echo.P50), PlainEchoCPUmsPerOp: ms(echo.CPUPerOp()),
		Peer:     peer,
		HalfRate: half,
	}
	if rep.SignatureLimitPerS > 0 {
		rep.FractionOfLimit = rep.ExchangesPerS / rep.SignatureLimitPerS
	}
	if res.FirstError != nil {
		rep.FirstError = res.FirstError.Error()
	}
	return rep, nil
}

// MemoryLimit is the runtime's memory limit, 0 when there is none.
func MemoryLimit() int64 {
	if l := debug.SetMemoryLimit(-1); l != math.MaxInt64 {
		return l
	}
	return 0
}

// gcPercent is the runtime's GOGC setting (-1: off).
func gcPercent() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

// RedactDSN is dsn without its user and password.
func RedactDSN(dsn string) string {
	if i := strings.Index(dsn, "@"); i >= 0 {
		if j := strings.Index(dsn, "://"); j >= 0 && j < i {
			return dsn[:j+3] + "…" + dsn[i:]
		}
	}
	return dsn
}

// sapRequest is the SIL's request: a SOAP envelope whose invioSAP carries size bytes of text.
func sapRequest(size int) []byte {
	const line = "lavoratore RSSMRA85T10A562S esperienza presso Provincia di Perugia dal 2019 al 2024; "
	var b bytes.Buffer
	b.Grow(size + 300)
	b.WriteString(`<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><invioSAP xmlns="` + benchNS + `"><SAP>`)
	for n := size; n > 0; n -= len(line) {
		b.WriteString(line[:min(n, len(line))])
	}
	b.WriteString(`</SAP></invioSAP></soapenv:Body></soapenv:Envelope>`)
	return b.Bytes()
}

// echoSAP is the benchmark's backend: it answers a delivered invioSAP with a
// risposta_richiestaSAP carrying the same SAP text.
func echoSAP(w http.ResponseWriter, r *http.Request) {
	b, err := readAllSized(r.Body, r.ContentLength)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	start := bytes.Index(b, []byte("<SAP>"))
	end := bytes.LastIndex(b, []byte("</SAP>"))
	if start < 0 || end < start {
		http.Error(w, "no <SAP> element in the delivered message", http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	io.WriteString(w, `<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><risposta_richiestaSAP xmlns="`+benchNS+`">`)
	w.Write(b[start : end+len("</SAP>")])
	io.WriteString(w, `</risposta_richiestaSAP></soapenv:Body></soapenv:Envelope>`)
}

// readAllSized reads r whole into a buffer of size bytes (-1: unknown), as the gateway does:
// the SIL and the backend of the bench run in the measured process, and a 10 MB body read
// through a buffer grown by doubling would add its garbage to the gateways' peak.
func readAllSized(r io.Reader, size int64) ([]byte, error) {
	var b bytes.Buffer
	if size > 0 {
		b.Grow(int(size) + bytes.MinRead)
	}
	_, err := b.ReadFrom(r)
	return b.Bytes(), err
}

type answer struct {
	header http.Header
	body   []byte
}

func post(ctx context.Context, c *http.Client, target string, body []byte, auth bool) (answer, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return answer{}, err
	}
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	if auth {
		req.SetBasicAuth(benchApp, benchApp+"-bench")
	}
	resp, err := c.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	b, err := readAllSized(resp.Body, resp.ContentLength)
	if err != nil {
		return answer{}, err
	}
	if resp.StatusCode != http.StatusOK {
		return answer{}, fmt.Errorf("HTTP %d: %.300s", resp.StatusCode, b)
	}
	return answer{resp.Header, b}, nil
}

type server struct {
	addr string
	s    *http.Server
}

func startServer(h http.Handler) (*server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go s.Serve(ln)
	return &server{addr: ln.Addr().String(), s: s}, nil
}

func (s *server) Close() { s.s.Close() }

// benchNetwork is the consumer and the provider gateway (o.Nodes nodes of each), serving.
type benchNetwork struct {
	pdAddrs []string // the consumer's Porta Delegata, one per node
	acks    *ackWatch
	lb      net.Listener // the balancer in front of the provider's nodes, if several
	stop    context.CancelFunc
	done    chan error
	openeds []*node.Opened
	once    sync.Once
}

func (n *benchNetwork) close() {
	n.once.Do(func() {
		n.stop()
		if n.lb != nil {
			n.lb.Close()
		}
		for range n.openeds {
			<-n.done
		}
		for _, o := range n.openeds {
			o.Close()
		}
	})
}

// startBenchNetwork writes the two gateways' files (one local CA), each trusting the other,
// declares the services and the SIL, and serves both gateways.
func startBenchNetwork(ctx context.Context, dir string, o Options, stores [2]string, backendURL string, stderr io.Writer) (*benchNetwork, error) {
	// The consumer's and the provider's PA ports (the registries name them), then with several
	// nodes one per provider node, behind a balancer at the provider's.
	// They stay bound until the gateways (or the balancer) take them over.
	res := listen.NewReserved()
	defer res.Close()
	ports, err := res.Addrs(2 + o.Nodes)
	if err != nil {
		return nil, err
	}
	cons, prov, err := writeBenchNetwork(dir, o.Alg, o.TraceBody, ports[0], ports[1], backendURL)
	if err != nil {
		return nil, err
	}

	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	sctx, stop := context.WithCancel(ctx)
	n := &benchNetwork{acks: newAckWatch(), stop: stop, done: make(chan error, 2*o.Nodes)}
	addrs := make(chan string, o.Nodes)
	providerPA := []string{ports[1]}
	if o.Nodes > 1 {
		providerPA = providerPA[:0]
		for k := 0; k < o.Nodes; k++ {
			providerPA = append(providerPA, ports[2+k])
		}
	}
	for i, d := range []string{cons, prov} {
		for k := 1; k <= o.Nodes; k++ {
			opt := node.OpenOptions{Store: stores[i], Logger: log, AdminAddr: "127.0.0.1:0", Large: o.Large}
			if d == cons {
				opt.OpenStore = func(ctx context.Context, cfg *node.Config, dsn string) (node.OpenedStore, error) {
					s, err := node.OpenAuditStore(ctx, cfg, dsn)
					if err != nil {
						return s, err
					}
					s.Store = &ackStore{Store: s.Store, w: n.acks}
					return s, nil
				}
				if k > 1 {
					opt.PAAddr = "127.0.0.1:0"
				}
			} else if o.Nodes > 1 {
				opt.PAAddr = providerPA[k-1]
			}
			cfg, err := nodeConfig(d, k)
			if err != nil {
				n.close()
				return nil, err
			}
			op, err := node.Open(sctx, cfg, opt)
			if err != nil {
				n.close()
				return nil, err
			}
			n.openeds = append(n.openeds, op)
			l := op.Listeners
			l.Admin = ""
			l.Listen = func(_, network, addr string) (net.Listener, error) { return res.Listen(network, addr) }
			if d == cons {
				l.Listening = func(name, addr string) {
					if name == "pd" {
						addrs <- addr
					}
				}
			}
			go func() { n.done <- op.Gateway.Serve(sctx, l) }()
		}
	}
	if o.Nodes > 1 {
		if n.lb, err = balance(res, ports[1], providerPA); err != nil {
			n.close()
			return nil, err
		}
	}
	for len(n.pdAddrs) < o.Nodes {
		select {
		case a := <-addrs:
			n.pdAddrs = append(n.pdAddrs, a)
		case err := <-n.done:
			n.done <- err
			n.close()
			return nil, fmt.Errorf("a gateway stopped at start: %v", err)
		case <-time.After(30 * time.Second):
			n.close()
			return nil, errors.New("the consumer's Porta Delegata did not start within 30s")
		}
	}
	// The provider's PAs listen at ports chosen before they started; wait for them to accept.
	deadline := time.Now().Add(10 * time.Second)
	for _, a := range providerPA {
		for {
			c, err := net.Dial("tcp", a)
			if err == nil {
				c.Close()
				break
			}
			if time.Now().After(deadline) {
				n.close()
				return nil, fmt.Errorf("the provider's Porta Applicativa does not accept: %v", err)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return n, nil
}

// writeBenchNetwork writes the two gateways' files in dir (consumer/, provider/, one local CA in
// ca/), each trusting the other, with their PAs at consPA and provPA, the services declared on
// both (the provider delivering to backendURL) and the SIL an application of the consumer. It
// returns the consumer's and the provider's directories.
func writeBenchNetwork(dir, alg, traceBody, consPA, provPA, backendURL string) (cons, prov string, err error) {
	cons, prov = filepath.Join(dir, "consumer"), filepath.Join(dir, "provider")
	ca := filepath.Join(dir, "ca")
	for _, d := range []string{cons, prov, ca} {
		if err := os.RemoveAll(d); err != nil {
			return "", "", err
		}
	}
	if err := writeGateways(ca, alg, []gatewayFiles{{benchConsumer, cons, consPA}, {benchProvider, prov, provPA}}); err != nil {
		return "", "", err
	}
	if traceBody == "encrypted" {
		for _, d := range []string{cons, prov} {
			if _, err := seal.Add(filepath.Join(d, node.DefaultTraceKeys), time.Now()); err != nil {
				return "", "", err
			}
		}
	}
	hash, err := registry.HashPassword(benchApp+"-bench", rand.Reader)
	if err != nil {
		return "", "", err
	}
	services := func(delivery string) string {
		var b strings.Builder
		b.WriteString("\nservices:\n")
		for _, s := range []struct{ name, profile string }{{benchSync, "sync"}, {benchOneWay, "oneway"}} {
			fmt.Fprintf(&b, "  - provider: %s\n    name: %s\n    profile: %s\n    filter_duplicates: true\n", benchProvider, s.name, s.profile)
			if traceBody != "" {
				fmt.Fprintf(&b, "    trace:\n      body: %s\n", traceBody)
			}
			if s.profile == "oneway" {
				b.WriteString("    ack: true\n")
			}
			fmt.Fprintf(&b, "    schema: %s\n    actions: [%s]\n    consumers: [%s]\n%s", benchSchema, benchAction, benchConsumer, delivery)
		}
		return b.String()
	}
	consExtra := services("") + fmt.Sprintf("\napplications:\n  - name: SIL\n    username: %s\n    password_hash: %s\n    may:\n"+
		"      - {consumer: %s, provider: %s, service: %s}\n      - {consumer: %s, provider: %s, service: %s}\n",
		benchApp, hash, benchConsumer, benchProvider, benchSync, benchConsumer, benchProvider, benchOneWay)
	provExtra := services(fmt.Sprintf("    delivery:\n      url: %s\n      timeout: 2m\n", backendURL))
	for _, x := range []struct{ dir, extra string }{{cons, consExtra}, {prov, provExtra}} {
		f, err := os.OpenFile(filepath.Join(x.dir, "registry.yaml"), os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			return "", "", err
		}
		_, err = f.WriteString(x.extra)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return "", "", err
		}
	}

	return cons, prov, nil
}

// gatewayFiles is one gateway of the bench: its party, directory and PA address.
type gatewayFiles struct{ party, dir, pa string }

// writeGateways writes a local CA in caDir and, for each gateway, what porta init and porta
// registry add-party would: key.pem, cert.pem (issued by the CA), ca.pem, porta.yaml (the PD and
// admin on any free port) and registry.yaml listing every party of gs, each gateway's own hosted.
func writeGateways(caDir, alg string, gs []gatewayFiles) error {
	ca, err := registry.NewCA(caDir, alg, "Porta bench CA", rand.Reader)
	if err != nil {
		return err
	}
	for _, g := range gs {
		if err := os.MkdirAll(g.dir, 0o755); err != nil {
			return err
		}
		key, err := registry.GenerateKey(alg, rand.Reader)
		if err != nil {
			return err
		}
		cert, err := ca.Issue(key.Public(), registry.CertRequest{CommonName: g.party, Organization: g.party + " (" + registry.DefaultPortID(g.party, registry.TypeSPC) + ")", Hosts: []string{"127.0.0.1"}}, rand.Reader)
		if err != nil {
			return err
		}
		if err := registry.WriteKeyFile(filepath.Join(g.dir, "key.pem"), key); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(g.dir, "cert.pem"), registry.EncodeCertsPEM(cert), 0o644); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(g.dir, "ca.pem"), registry.EncodeCertsPEM(ca.Cert), 0o644); err != nil {
			return err
		}
		cfg := node.ConfigYAML(node.ConfigFile{Party: g.party, PD: "127.0.0.1:0", PA: g.pa, Admin: "127.0.0.1:0", CA: "ca.pem", WrittenBy: "porta bench"})
		if err := os.WriteFile(filepath.Join(g.dir, "porta.yaml"), []byte(cfg), 0o644); err != nil {
			return err
		}
	}
	for _, g := range gs {
		var b strings.Builder
		fmt.Fprintf(&b, "# Registry of %s, written by porta bench.\nparties:\n", g.party)
		for _, p := range gs {
			fmt.Fprintf(&b, "  - name: %s\n    url: https://%s/pa\n    certificates: [../%s/cert.pem]\n    ca: ca.pem\n", p.party, p.pa, filepath.Base(p.dir))
			if p.party == g.party {
				b.WriteString("    hosted: true\n")
			}
		}
		if err := os.WriteFile(filepath.Join(g.dir, "registry.yaml"), []byte(b.String()), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// nodeConfig returns the porta.yaml of node k of the gateway in dir: porta.yaml itself for the
// first, else a copy naming node k (nodes sharing a store need distinct names).
func nodeConfig(dir string, k int) (string, error) {
	path := filepath.Join(dir, "porta.yaml")
	if k == 1 {
		return path, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	re := regexp.MustCompile(`(?m)^node: (.*)-1$`)
	if !re.Match(b) {
		return "", fmt.Errorf("%s: no line node: NAME-1 to name node %d after", path, k)
	}
	out := filepath.Join(dir, fmt.Sprintf("porta-%d.yaml", k))
	return out, os.WriteFile(out, re.ReplaceAll(b, []byte("node: ${1}-"+strconv.Itoa(k))), 0o644)
}

// balance accepts TCP connections at addr and hands each to the next of backends in turn,
// copying bytes both ways: the provider's nodes behind the one address its peer's registry
// names, as a TCP load balancer would put them.
func balance(res *listen.Reserved, addr string, backends []string) (net.Listener, error) {
	l, err := res.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("balancer at %s: %w", addr, err)
	}
	var next atomic.Uint64
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			to := backends[next.Add(1)%uint64(len(backends))]
			go func() {
				defer c.Close()
				u, err := net.DialTimeout("tcp", to, 5*time.Second)
				if err != nil {
					return
				}
				defer u.Close()
				go func() { io.Copy(u, c); u.(*net.TCPConn).CloseWrite() }()
				io.Copy(c, u)
			}()
		}
	}()
	return l, nil
}

// benchDatabases creates a database for each gateway on the PostgreSQL server of dsn and returns
// their DSNs and a function dropping them. Two gateways cannot share one database: its queues are
// those of one gateway's nodes, so the provider would lease and send the consumer's outbox.
func benchDatabases(ctx context.Context, dsn string) ([2]string, func(), error) {
	var out [2]string
	u, err := url.Parse(dsn)
	if err != nil {
		return out, nil, fmt.Errorf("--store: %w", err)
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return out, nil, err
	}
	var names []string
	drop := func() {
		for _, n := range names {
			if _, err := db.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+n+" WITH (FORCE)"); err != nil {
				fmt.Fprintf(os.Stderr, "porta bench: drop database %s: %v\n", n, err)
			}
		}
		db.Close()
	}
	stamp := strconv.FormatInt(time.Now().UnixNano(), 36)
	for i, role := range []string{"consumer", "provider"} {
		name := "porta_bench_" + role + "_" + stamp
		if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
			drop()
			return out, nil, fmt.Errorf("--store %s: create database %s: %w", RedactDSN(dsn), name, err)
		}
		names = append(names, name)
		v := *u
		v.Path = "/" + name
		out[i] = v.String()
	}
	return out, drop, nil
}

// ackStore is the consumer's store, reporting each outbox message completed (acknowledged by
// the provider's riscontro) to an ackWatch: a one-way exchange counts when acknowledged.
type ackStore struct {
	gateway.Store
	w *ackWatch
}

func (s *ackStore) Done(ctx context.Context, queue, id string, rec *gateway.Record) error {
	err := s.Store.Done(ctx, queue, id, rec)
	if err == nil && queue == gateway.Outbox {
		s.w.done(id)
	}
	return err
}

func (s *ackStore) Fail(ctx context.Context, queue, id, reason string, rec *gateway.Record) error {
	err := s.Store.Fail(ctx, queue, id, reason, rec)
	if err == nil && queue == gateway.Outbox {
		s.w.fail(id, reason)
	}
	return err
}

// ackWatch pairs message IDs answered by the PD with their completion, in either order: the
// riscontro may arrive before the client has read the PD's answer.
type ackWatch struct {
	mu sync.Mutex
	m  map[string]chan error
}

func newAckWatch() *ackWatch { return &ackWatch{m: map[string]chan error{}} }

func (a *ackWatch) ch(id string) chan error {
	a.mu.Lock()
	defer a.mu.Unlock()
	c, ok := a.m[id]
	if !ok {
		c = make(chan error, 1)
		a.m[id] = c
	}
	return c
}

func (a *ackWatch) done(id string) { a.send(id, nil) }
func (a *ackWatch) fail(id, reason string) {
	a.send(id, fmt.Errorf("message %s failed: %s", id, reason))
}

// send never blocks the gateway's worker: a second completion of one ID is dropped.
func (a *ackWatch) send(id string, err error) {
	select {
	case a.ch(id) <- err:
	default:
	}
}

func (a *ackWatch) wait(ctx context.Context, id string) error {
	c := a.ch(id)
	defer func() { a.mu.Lock(); delete(a.m, id); a.mu.Unlock() }()
	select {
	case err := <-c:
		return err
	case <-ctx.Done():
		return fmt.Errorf("message %s not acknowledged: %w", id, ctx.Err())
	}
}

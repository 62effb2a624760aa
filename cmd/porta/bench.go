package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
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

	"porta/gateway"
	"porta/gateway/node"
	"porta/internal/listen"
	"porta/internal/loadgen"
	"porta/internal/size"
	"porta/registry"
)

// porta bench: the real thing over loopback, measured. Two gateways built exactly as porta serve
// builds them (porta init's files, node.Open, Gateway.Serve: TLS with client certificates,
// WS-Security signing and verification, payload schema validation, the audit store), a backend
// application that echoes the payload, and a load generator acting as the SIL on the consumer's
// Porta Delegata. Two references are measured in the same run: the signature limit (sign
// operations per second of the chosen algorithm on all cores, divided by the two signatures an
// exchange needs: the busta and the reply or riscontro) and a plain HTTP echo of the same payload
// over loopback at the same concurrency, without a gateway.

func init() {
	register(command{
		name:    "bench",
		summary: "measure exchanges/s and latency through two real gateways on loopback",
		run:     runBench,
	})
}

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

// benchOptions are porta bench's flags.
type benchOptions struct {
	profile     string
	payload     int
	concurrency int
	duration    time.Duration
	warmup      time.Duration
	alg         string
	store       string
	nodes       int
	dir         string
	cpuprofile  string
	refDuration time.Duration
}

// benchReport is what --json prints; every figure of the run.
type benchReport struct {
	Profile             string  `json:"profile"`
	PayloadBytes        int     `json:"payload_bytes"`
	Alg                 string  `json:"alg"`
	Store               string  `json:"store"`
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
	Errors              int64   `json:"errors"`
	FirstError          string  `json:"first_error,omitempty"`
	SignsPerS           float64 `json:"signs_per_s"`
	SignaturesPerExchg  int     `json:"signatures_per_exchange"`
	SignatureLimitPerS  float64 `json:"signature_limit_per_s"`
	FractionOfLimit     float64 `json:"fraction_of_limit"`
	PlainEchoPerS       float64 `json:"plain_echo_per_s"`
	PlainEchoP50ms      float64 `json:"plain_echo_p50_ms"`
	PlainEchoCPUmsPerOp float64 `json:"plain_echo_cpu_ms_per_op"`
}

func runBench(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("bench", "[flags]", stdout, stderr)
	var o benchOptions
	fs.StringVar(&o.profile, "profile", "sync", "collaboration profile: sync or oneway-ack")
	payload := fs.String("payload", "1KB", "payload size: 1KB, 100KB, 1MB, 10MB or any size (KB, MB: powers of 1000; KiB, MiB: of 1024)")
	fs.IntVar(&o.concurrency, "concurrency", 2*runtime.GOMAXPROCS(0), "concurrent SIL clients (closed loop)")
	fs.DurationVar(&o.duration, "duration", 20*time.Second, "measured window")
	fs.DurationVar(&o.warmup, "warmup", 3*time.Second, "warm-up before the window (not measured)")
	fs.StringVar(&o.alg, "alg", registry.AlgRSA2048, "key algorithm of both gateways: rsa2048 or ecdsa-p256")
	fs.StringVar(&o.store, "store", "sqlite", "audit store: sqlite (a file per gateway) or a postgres:// URL (a database per gateway is created there and dropped)")
	fs.IntVar(&o.nodes, "nodes", 1, "gateway nodes per side; with 2 or more (PostgreSQL only) each side's nodes share its database, the SIL's clients spread over the consumer's nodes and a round-robin TCP balancer spreads the consumer's connections over the provider's")
	fs.StringVar(&o.dir, "dir", "", "keep the two gateways' files in `DIR` (default a temporary directory, removed)")
	fs.StringVar(&o.cpuprofile, "cpuprofile", "", "write a CPU profile of the warm-up and the window to `FILE` (go tool pprof)")
	fs.DurationVar(&o.refDuration, "ref-duration", 0, "length of each reference measurement (default duration/4, 1s to 5s)")
	memLimit := fs.String("memory-limit", "", memoryLimitUsage)
	asJSON := fs.Bool("json", false, "print one JSON object with every figure")
	if code, done := fs.parse(args); done {
		return code
	}
	usageErr := fs.fail
	var err error
	switch {
	case fs.NArg() > 0:
		return usageErr("unexpected argument %q", fs.Arg(0))
	case o.profile != "sync" && o.profile != "oneway-ack":
		return usageErr("--profile %q: want sync or oneway-ack", o.profile)
	case o.alg != registry.AlgRSA2048 && o.alg != registry.AlgECDSAP256:
		return usageErr("--alg %q: want rsa2048 or ecdsa-p256", o.alg)
	case o.concurrency <= 0:
		return usageErr("--concurrency %d: want at least 1", o.concurrency)
	case o.duration <= 0:
		return usageErr("--duration %s: want a positive duration", o.duration)
	case o.store != "sqlite" && !strings.HasPrefix(o.store, "postgres://") && !strings.HasPrefix(o.store, "postgresql://"):
		return usageErr("--store %q: want sqlite or a postgres:// URL", o.store)
	case o.nodes < 1:
		return usageErr("--nodes %d: want at least 1", o.nodes)
	case o.nodes > 1 && o.store == "sqlite":
		return usageErr("--nodes %d: nodes share a PostgreSQL store (a SQLite file has one gateway): give --store postgres://...", o.nodes)
	}
	n, err := size.Parse(*payload)
	if err != nil || n < 1 || n > 1<<30 {
		return usageErr("--payload %q: want a size from 1 byte to 1GiB, such as 1KB, 100KB, 1MB or 10MB", *payload)
	}
	o.payload = int(n)
	if err := setMemoryLimit(*memLimit); err != nil {
		return usageErr("%v", err)
	}
	if o.refDuration <= 0 {
		o.refDuration = min(max(o.duration/4, time.Second), 5*time.Second)
	}
	rep, err := bench(context.Background(), o, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "porta bench: %v\n", err)
		return 1
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(rep)
	} else {
		printBench(stdout, rep)
	}
	switch {
	case rep.Errors > 0 || rep.FirstError != "":
		fmt.Fprintf(stderr, "porta bench: %d errors in the window; first: %s\n", rep.Errors, rep.FirstError)
		return 1
	case rep.Exchanges == 0:
		fmt.Fprintf(stderr, "porta bench: no exchange completed within the window; lengthen --duration\n")
		return 1
	}
	return 0
}

func bench(ctx context.Context, o benchOptions, stderr io.Writer) (*benchReport, error) {
	dir := o.dir
	if dir == "" {
		d, err := os.MkdirTemp("", "porta-bench-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(d)
		dir = d
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
	if o.store != "sqlite" {
		dsns, drop, err := benchDatabases(ctx, o.store)
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

	body := sapRequest(o.payload)
	client := &http.Client{Transport: &http.Transport{
		MaxIdleConns: o.concurrency, MaxIdleConnsPerHost: o.concurrency, IdleConnTimeout: time.Minute,
	}, Timeout: 2 * time.Minute}
	defer client.CloseIdleConnections()
	service := benchSync
	if o.profile == "oneway-ack" {
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
		if o.profile == "sync" {
			if !bytes.Contains(resp.body, []byte("risposta_richiestaSAP")) || len(resp.body) < o.payload {
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
	if o.cpuprofile != "" {
		f, err := os.Create(o.cpuprofile)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return nil, err
		}
	}
	res, runErr := loadgen.Run(ctx, loadgen.Config{Concurrency: o.concurrency, Warmup: o.warmup, Duration: o.duration}, op)
	if o.cpuprofile != "" {
		pprof.StopCPUProfile()
	}
	if runErr != nil {
		return nil, runErr
	}
	n.close() // the references run on a quiet machine

	// Reference 1: the signature limit.
	key, err := registry.GenerateKey(o.alg, rand.Reader)
	if err != nil {
		return nil, err
	}
	digest := sha256.Sum256(body[:min(len(body), 1024)])
	signs, err := loadgen.Rate(ctx, o.refDuration, func() error {
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
	echo, err := loadgen.Run(ctx, loadgen.Config{Concurrency: o.concurrency, Warmup: o.refDuration / 4, Duration: o.refDuration}, func(ctx context.Context, _ int) error {
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
	rep := &benchReport{
		Profile: o.profile, PayloadBytes: o.payload, Alg: o.alg, Store: redactDSN(o.store), Nodes: o.nodes,
		Concurrency: o.concurrency, Cores: runtime.GOMAXPROCS(0), DurationS: res.Elapsed.Seconds(),
		Exchanges: res.Ops, ExchangesPerS: res.PerSecond(),
		P50ms: ms(res.P50), P90ms: ms(res.P90), P99ms: ms(res.P99), MaxMs: ms(res.Max),
		CPUmsPerExchange: ms(res.CPUPerOp()), AllocsPerExchange: res.AllocsPerOp(),
		PeakRSSBytes: res.PeakRSS, BaseRSSBytes: base, Errors: res.Errors,
		MemoryLimitBytes: memoryLimit(),
		SignsPerS:        signs, SignaturesPerExchg: sigsPerExchg, SignatureLimitPerS: signs / sigsPerExchg,
		PlainEchoPerS: echo.PerSecond(), PlainEchoP50ms: ms(echo.P50), PlainEchoCPUmsPerOp: ms(echo.CPUPerOp()),
	}
	if rep.SignatureLimitPerS > 0 {
		rep.FractionOfLimit = rep.ExchangesPerS / rep.SignatureLimitPerS
	}
	if res.FirstError != nil {
		rep.FirstError = res.FirstError.Error()
	}
	return rep, nil
}

// memoryLimit is the runtime's memory limit, 0 when there is none.
func memoryLimit() int64 {
	if l := debug.SetMemoryLimit(-1); l != math.MaxInt64 {
		return l
	}
	return 0
}

func printBench(w io.Writer, r *benchReport) {
	mb := func(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
	fmt.Fprintf(w, "porta bench: %s, payload %d bytes, %s, store %s, %d node(s) per side, %d clients, %d cores\n",
		r.Profile, r.PayloadBytes, r.Alg, r.Store, r.Nodes, r.Concurrency, r.Cores)
	fmt.Fprintf(w, "  exchanges        %d in %.1fs = %.1f/s, errors %d\n", r.Exchanges, r.DurationS, r.ExchangesPerS, r.Errors)
	fmt.Fprintf(w, "  latency          p50 %.2f ms  p90 %.2f ms  p99 %.2f ms  max %.2f ms\n", r.P50ms, r.P90ms, r.P99ms, r.MaxMs)
	fmt.Fprintf(w, "  per exchange     %.3f ms CPU, %.0f allocations\n", r.CPUmsPerExchange, r.AllocsPerExchange)
	fmt.Fprintf(w, "  memory           peak RSS %s (%s before the run)\n", mb(r.PeakRSSBytes), mb(r.BaseRSSBytes))
	if r.MemoryLimitBytes > 0 {
		fmt.Fprintf(w, "  memory limit     %s (--memory-limit or GOMEMLIMIT)\n", mb(r.MemoryLimitBytes))
	}
	fmt.Fprintf(w, "  signature limit  %.0f signs/s / %d per exchange = %.1f exchanges/s; this run is %.2f of it\n",
		r.SignsPerS, r.SignaturesPerExchg, r.SignatureLimitPerS, r.FractionOfLimit)
	fmt.Fprintf(w, "  plain echo       %.1f/s (p50 %.2f ms, %.3f ms CPU per request) over loopback, no gateway\n",
		r.PlainEchoPerS, r.PlainEchoP50ms, r.PlainEchoCPUmsPerOp)
	if r.FirstError != "" {
		fmt.Fprintf(w, "  first error      %s\n", r.FirstError)
	}
}

func redactDSN(dsn string) string {
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

// benchNetwork is the consumer and the provider gateway (o.nodes nodes of each), serving.
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

// startBenchNetwork writes the two gateways' files with porta init (one local CA), makes each
// trust the other's party card, declares the services and the SIL, and serves both gateways.
func startBenchNetwork(ctx context.Context, dir string, o benchOptions, stores [2]string, backendURL string, stderr io.Writer) (*benchNetwork, error) {
	// The consumer's and the provider's PA ports (the registries name them), then with several
	// nodes one per provider node, behind a balancer at the provider's.
	// They stay bound until the gateways (or the balancer) take them over.
	res := listen.NewReserved()
	defer res.Close()
	ports, err := res.Addrs(2 + o.nodes)
	if err != nil {
		return nil, err
	}
	cons, prov, ca := filepath.Join(dir, "consumer"), filepath.Join(dir, "provider"), filepath.Join(dir, "ca")
	for _, d := range []string{cons, prov, ca} {
		if err := os.RemoveAll(d); err != nil {
			return nil, err
		}
	}
	for i, g := range []struct{ party, dir, caFlag string }{
		{benchConsumer, cons, "--new-ca"}, {benchProvider, prov, "--ca"},
	} {
		var out, errb bytes.Buffer
		if code := runInit([]string{"--party", g.party, "--dir", g.dir, "--alg", o.alg, g.caFlag, ca,
			"--pd-addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0", "--pa-addr", ports[i]}, nil, &out, &errb); code != 0 {
			return nil, fmt.Errorf("porta init %s: %s", g.party, errb.String())
		}
	}
	if _, err := registry.AddParty(filepath.Join(cons, "registry.yaml"), filepath.Join(prov, "party.yaml"), false, registry.Options{}); err != nil {
		return nil, err
	}
	if _, err := registry.AddParty(filepath.Join(prov, "registry.yaml"), filepath.Join(cons, "party.yaml"), false, registry.Options{}); err != nil {
		return nil, err
	}
	hash, err := registry.HashPassword(benchApp+"-bench", rand.Reader)
	if err != nil {
		return nil, err
	}
	services := func(delivery string) string {
		var b strings.Builder
		b.WriteString("\nservices:\n")
		for _, s := range []struct{ name, profile string }{{benchSync, "sync"}, {benchOneWay, "oneway"}} {
			fmt.Fprintf(&b, "  - provider: %s\n    name: %s\n    profile: %s\n    filter_duplicates: true\n", benchProvider, s.name, s.profile)
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
			return nil, err
		}
		_, err = f.WriteString(x.extra)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, err
		}
	}

	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	sctx, stop := context.WithCancel(ctx)
	n := &benchNetwork{acks: newAckWatch(), stop: stop, done: make(chan error, 2*o.nodes)}
	addrs := make(chan string, o.nodes)
	providerPA := []string{ports[1]}
	if o.nodes > 1 {
		providerPA = providerPA[:0]
		for k := 0; k < o.nodes; k++ {
			providerPA = append(providerPA, ports[2+k])
		}
	}
	for i, d := range []string{cons, prov} {
		for k := 1; k <= o.nodes; k++ {
			opt := node.OpenOptions{Store: stores[i], Logger: log, AdminAddr: "127.0.0.1:0"}
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
			} else if o.nodes > 1 {
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
	if o.nodes > 1 {
		if n.lb, err = balance(res, ports[1], providerPA); err != nil {
			n.close()
			return nil, err
		}
	}
	for len(n.pdAddrs) < o.nodes {
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
			return out, nil, fmt.Errorf("--store %s: create database %s: %w", redactDSN(dsn), name, err)
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

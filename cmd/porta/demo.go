package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"

	"porta/adapters/anagrafe"
	"porta/adapters/codicefiscale"
	"porta/adapters/flows"
	"porta/adapters/formazione"
	"porta/adapters/inps"
	"porta/adapters/labour"
	"porta/adapters/merge"
	"porta/adapters/scuola"
	"porta/adapters/sil"
	"porta/audit"
	"porta/gateway"
	"porta/internal/listen"
	"porta/internal/pdclient"
	"porta/xsd"
)

// porta demo: the labour network on embedded defaults. It writes a whole network under --dir
// (a local CA, one gateway per party, a SIL of --workers synthetic workers with planted invalid
// records, the comuni's registries and the schools' attendance with planted changes), starts
// every gateway on loopback ports in this process, runs every flow through the gateways (all at
// once, each with adapters/flows: the code of porta sil send and porta sync), checks that the
// planted changes were found exactly, and verifies every gateway's trace chain. A worker's comune
// of residence decides which municipality answers for them.

func init() {
	register(command{
		name:    "demo",
		summary: "build a labour network with synthetic data, run every flow through its gateways, report",
		run:     runDemo,
	})
}

// flowResult is one flow's line of the summary.
type flowResult struct {
	Name         string         `json:"name"`
	Sent         int            `json:"sent"`
	Acknowledged int            `json:"acknowledged"`
	Merged       int            `json:"merged"`
	Rejected     int            `json:"rejected"`
	Lost         int            `json:"lost"`
	Duplicated   int            `json:"duplicated"`
	Seconds      float64        `json:"seconds"`
	Reasons      map[string]int `json:"reasons,omitempty"`  // rejection reasons, counted
	Problems     []string       `json:"problems,omitempty"` // planted changes missed or extra, failed calls
}

func (f *flowResult) reject(reason string) {
	f.Rejected++
	if f.Reasons == nil {
		f.Reasons = map[string]int{}
	}
	f.Reasons[reason]++
}

func (f *flowResult) problem(format string, a ...any) {
	if len(f.Problems) < 20 {
		f.Problems = append(f.Problems, fmt.Sprintf(format, a...))
	}
}

type demoReport struct {
	Dir         string        `json:"dir"`
	Workers     int           `json:"workers"`
	Flows       []*flowResult `json:"flows"`
	TraceVerify string        `json:"trace_verify"`
	Seconds     float64       `json:"seconds"`
}

func runDemo(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("demo", "[--dir D] [--workers N] [--json] [flags]", stdout, stderr)
	dir := fs.String("dir", "", "directory for the network, its data and stores (default: a new temporary directory)")
	workers := fs.Int("workers", 200, "synthetic workers in the SIL")
	asJSON := fs.Bool("json", false, "print one JSON object instead of the table")
	conc := fs.Int("concurrency", 16, "requests in flight per flow")
	seed := fs.Uint64("seed", 1, "seed of the synthetic data")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to `FILE` (go tool pprof)")
	if code, done := fs.parse(args); done {
		return code
	}
	if fs.NArg() > 0 || *workers < 10 || *conc < 1 {
		return fs.fail("want no arguments, --workers >= 10 and --concurrency >= 1")
	}
	if *dir == "" {
		d, err := os.MkdirTemp("", "porta-demo-*")
		if err != nil {
			fmt.Fprintf(stderr, "porta demo: %v\n", err)
			return 1
		}
		*dir = d
	} else if entries, _ := os.ReadDir(*dir); len(entries) > 0 {
		fmt.Fprintf(stderr, "porta demo: %s is not empty; choose a new --dir\n", *dir)
		return 1
	}
	abs, _ := filepath.Abs(*dir)
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintf(stderr, "porta demo: --cpuprofile: %v\n", err)
			return 1
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	rep, err := demo(context.Background(), abs, *workers, *conc, *seed, log)
	if err != nil {
		fmt.Fprintf(stderr, "porta demo: %v\n", err)
		return 1
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(rep)
	} else {
		printDemo(stdout, rep)
	}
	for _, f := range rep.Flows {
		if f.Lost > 0 || f.Duplicated > 0 || len(f.Problems) > 0 {
			return 1
		}
	}
	if rep.TraceVerify != "ok" {
		return 1
	}
	return 0
}

func printDemo(w io.Writer, r *demoReport) {
	fmt.Fprintf(w, "porta demo: %d workers, network and data in %s\n\n", r.Workers, r.Dir)
	fmt.Fprintf(w, "%-22s %7s %7s %7s %8s %5s %5s %8s\n", "flow", "sent", "acked", "merged", "rejected", "lost", "dup", "seconds")
	for _, f := range r.Flows {
		fmt.Fprintf(w, "%-22s %7d %7d %7d %8d %5d %5d %8.2f\n", f.Name, f.Sent, f.Acknowledged, f.Merged, f.Rejected, f.Lost, f.Duplicated, f.Seconds)
		var rs []string
		for k := range f.Reasons {
			rs = append(rs, k)
		}
		sort.Strings(rs)
		for _, k := range rs {
			fmt.Fprintf(w, "    rejected %dx: %s\n", f.Reasons[k], k)
		}
		for _, p := range f.Problems {
			fmt.Fprintf(w, "    PROBLEM: %s\n", p)
		}
	}
	fmt.Fprintf(w, "\ntrace verify (every gateway): %s\ntotal %.1fs\n", r.TraceVerify, r.Seconds)
}

// The two municipalities and two schools of the network, with real ISTAT and school codes.
var (
	demoComuni = map[string]anagrafe.Comune{
		pComune1: {Nome: "BOLOGNA", CodiceIstat: "037006", Provincia: "BO"},
		pComune2: {Nome: "IMOLA", CodiceIstat: "037032", Provincia: "BO"},
	}
	// demoComuneOf gives the municipality's party by the Belfiore code of its comune: a worker's
	// residence decides who answers for them.
	demoComuneOf = map[string]string{"A944": pComune1, "E289": pComune2}
	demoSchools  = map[string]string{pScuola1: "BOIS00100X", pScuola2: "BOIS00200B"}
)

// demoBelfiore is the Belfiore code of a municipality's comune.
func demoBelfiore(party string) string {
	for code, p := range demoComuneOf {
		if p == party {
			return code
		}
	}
	return ""
}

// demoNet is the running network and the data planted in it.
type demoNet struct {
	peers    map[string]*peer
	http     *http.Client
	password string
	schemas  *xsd.Set
	now      time.Time
	conc     int

	workers     []*sil.Worker      // read from the SIL
	silRejected []*sil.RecordError // refused by the SIL source itself
	silPlanted  []sil.Planted
	anaPlanted  map[string]anagrafe.Change
	school      *scuola.Generated
	pupilsKnown map[string]bool
}

func demo(parent context.Context, dir string, nWorkers, conc int, seed uint64, log *slog.Logger) (*demoReport, error) {
	start := time.Now()
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	res := listen.NewReserved() // the gateways' addresses, held until each gateway listens
	defer res.Close()
	_, password, err := buildNetwork(dir, res)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "app-password"), []byte(password+"\n"), 0o600); err != nil {
		return nil, err
	}
	schemas, err := xsd.Open()
	if err != nil {
		return nil, err
	}
	defer schemas.Close()
	n := &demoNet{
		peers: map[string]*peer{},
		http:  &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}, password: password,
		schemas: schemas, now: time.Now().UTC(), conc: conc,
	}
	defer n.http.CloseIdleConnections()

	// Start every gateway (stopped in reverse at the end).
	var order []*peer
	defer func() {
		cancel()
		for _, p := range order {
			p.stop()
		}
	}()
	for _, name := range networkParties {
		p, err := startPeer(ctx, dir, name, res, log, time.Now)
		if err != nil {
			return nil, err
		}
		n.peers[name] = p
		order = append(order, p)
	}
	if err := n.plant(ctx, dir, nWorkers, seed); err != nil {
		return nil, err
	}

	// The flows run at once: each has its own services, peers and checks, and the gateways'
	// group commits fill up with more messages in flight. A flow's seconds are its own.
	rep := &demoReport{Dir: dir, Workers: nWorkers}
	var all []func(context.Context) (*flowResult, error)
	for _, s := range labour.WorkerDocs() {
		all = append(all, n.workerFlow(s))
	}
	all = append(all, n.flowAnagrafe, n.flowScuola, n.flowINPS, n.flowFormazione)
	rep.Flows = make([]*flowResult, len(all))
	errs := make([]error, len(all))
	var wg sync.WaitGroup
	for i, f := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rep.Flows[i], errs[i] = f(ctx)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}

	// Stop the gateways, then verify each trace chain as porta trace verify does.
	cancel()
	for _, p := range order {
		p.stop()
	}
	order = nil
	var broken []string
	for _, name := range networkParties {
		if err := verifyTrace(parent, filepath.Join(dir, name, "porta.db"), name+"-1"); err != nil {
			broken = append(broken, name+": "+err.Error())
		}
	}
	rep.TraceVerify = "ok"
	if len(broken) > 0 {
		rep.TraceVerify = strings.Join(broken, "; ")
	}
	rep.Seconds = time.Since(start).Seconds()
	return rep, nil
}

func verifyTrace(ctx context.Context, path, node string) error {
	s, err := audit.Open(ctx, path, audit.Options{ReadOnly: true})
	if err != nil {
		return err
	}
	defer s.Close()
	_, err = s.Verify(ctx, audit.VerifyOptions{Node: node})
	return err
}

// plant generates the SIL, the comuni's registries, the schools' attendance, and the
// province's own view of its workers.
func (n *demoNet) plant(ctx context.Context, dir string, nWorkers int, seed uint64) error {
	prov := n.peers[pProvincia]
	bad := max(1, nWorkers/100)
	missing := max(1, nWorkers/200)
	gen, err := sil.Generate(ctx, filepath.Join(prov.Dir, "sil"), sil.GenOptions{Workers: nWorkers, Seed: seed, Now: n.now, BadCheck: bad, MissingRequired: missing, Homes: []string{"A944", "E289"}})
	if err != nil {
		return fmt.Errorf("generate SIL: %w", err)
	}
	n.silPlanted = gen.Planted
	cfg, err := sil.LoadConfig(gen.Config)
	if err != nil {
		return err
	}
	src, err := sil.Open(ctx, cfg)
	if err != nil {
		return err
	}
	defer src.Close()
	n.workers, n.silRejected, err = src.ChangedSince(ctx, time.Time{})
	if err != nil {
		return err
	}

	// The comuni: a worker's residence (the Belfiore code the SIL holds) decides which
	// municipality answers for them, and each registry holds exactly those residents. One
	// generation over both comuni plants the changes, so a residence change may move a worker to
	// the other comune: the registry of the comune the province knows (the one it asks) then holds
	// the transfer with the new address, as the comune of emigration records it.
	// anagrafe.Generate draws the known residence between the 18th birthday and a year ago, so
	// only workers 19 or older can carry a planted change; the younger ones are registered
	// unchanged (a second Generate with no rates).
	n.anaPlanted = map[string]anagrafe.Change{}
	residentOf := map[string]string{} // codice fiscale -> municipality party
	var adults, young []anagrafe.Worker
	adultBy := n.now.AddDate(-19, 0, 0)
	for _, w := range n.workers {
		c, ok := demoComuneOf[w.Residenza.Comune]
		if !ok || w.CheckIdentity() != nil {
			continue
		}
		residentOf[w.CodiceFiscale] = c
		aw := anagrafe.Worker{CodiceFiscale: w.CodiceFiscale, Cognome: w.Cognome, Nome: w.Nome, Sesso: w.Sesso, DataNascita: w.DataNascita, Comune: demoComuni[c]}
		if w.DataNascita.After(adultBy) {
			young = append(young, aw)
		} else {
			adults = append(adults, aw)
		}
	}
	g := anagrafe.Generate(adults, anagrafe.GenOptions{Seed: seed + 10, Today: n.now, ResidenceChanges: 0.05, Deaths: 0.01, Emigrations: 0.01})
	gy := anagrafe.Generate(young, anagrafe.GenOptions{Seed: seed + 20, Today: n.now})
	registries := map[string][]*anagrafe.Subject{}
	for _, s := range append(g.Registry, gy.Registry...) {
		c := residentOf[s.CodiceFiscale]
		registries[c] = append(registries[c], s)
	}
	for c, subjects := range registries {
		if err := n.peers[c].Data.Anagrafe.Put(ctx, subjects...); err != nil {
			return err
		}
	}
	for _, s := range append(g.Known, gy.Known...) {
		w := merge.Worker{CodiceFiscale: s.CodiceFiscale, Cognome: s.Cognome, Nome: s.Nome, DataNascita: s.DataNascita, Address: s.Residence.Address, ResidenceSince: s.Residence.Since}
		if err := prov.Data.Merge.PutWorker(ctx, w); err != nil {
			return err
		}
	}
	for _, p := range g.Planted {
		n.anaPlanted[p.CodiceFiscale] = p.Change
	}

	// The schools: pupils of school age, spread over the two schools, with drop-outs.
	pupils := demoPupils(max(40, nWorkers/5), seed+100, n.now)
	codes := []string{demoSchools[pScuola1], demoSchools[pScuola2]}
	year := n.now.Year() - 1
	if n.now.Month() >= time.September {
		year = n.now.Year()
	}
	n.school = scuola.Generate(pupils, scuola.GenOptions{Seed: seed + 200, Schools: codes, Year: year, DropOuts: 0.08, Transfers: 0.04})
	for _, s := range n.school.Schools {
		party := pScuola1
		if s.School == demoSchools[pScuola2] {
			party = pScuola2
		}
		if err := n.peers[party].Data.Scuola.Put(ctx, s.School, n.school.Year, s.Pupils...); err != nil {
			return err
		}
	}
	return nil
}

// demoPupils makes n distinct school-age persons with valid codici fiscali.
func demoPupils(n int, seed uint64, now time.Time) []scuola.Person {
	surnames := []string{"ROSSI", "BIANCHI", "VERDI", "FERRARI", "ESPOSITO", "ROMANO", "COLOMBO", "RICCI", "MARINO", "GRECO", "BRUNO", "GALLO", "CONTI", "DE LUCA", "MANCINI", "COSTA"}
	names := []struct {
		n string
		s codicefiscale.Sex
	}{{"MARIO", 'M'}, {"LUCA", 'M'}, {"GIULIA", 'F'}, {"SARA", 'F'}, {"PAOLO", 'M'}, {"ANNA", 'F'}, {"MARCO", 'M'}, {"CHIARA", 'F'}}
	belfiore := []string{"A944", "E289", "B880"} // Bologna, Imola, Casalecchio di Reno
	r := rand.New(rand.NewPCG(seed, 2))
	from := time.Date(now.Year()-19, 1, 1, 0, 0, 0, 0, time.UTC)
	seen := map[string]bool{}
	var out []scuola.Person
	for len(out) < n {
		nm, sn := names[r.IntN(len(names))], surnames[r.IntN(len(surnames))]
		born := from.AddDate(0, 0, r.IntN(365*6))
		cf, err := codicefiscale.Generate(sn, nm.n, born, nm.s, belfiore[r.IntN(len(belfiore))])
		if err != nil || seen[cf] {
			continue
		}
		seen[cf] = true
		out = append(out, scuola.Person{CodiceFiscale: cf, Cognome: sn, Nome: nm.n, DataNascita: born})
	}
	return out
}

// reasonOf is a rejection's reason as the summary counts it: field and rule, or what went wrong.
func reasonOf(r flows.Rejection) string {
	if r.Field == "" || r.Rule == "" {
		return strings.TrimPrefix(strings.TrimSpace(r.Field+" "+r.Rule+": "+r.Reason), ": ")
	}
	return r.Field + ": " + r.Rule
}

func (f *flowResult) rejectAll(rs []flows.Rejection) {
	for _, r := range rs {
		f.reject(reasonOf(r))
	}
}

// sender is the flows.Sender of porta sil send, acting for the province through its PD, keeping
// rejected records in the province's failures table.
func (n *demoNet) sender() *flows.Sender {
	prov := n.peers[pProvincia]
	now := func() time.Time { return n.now }
	return &flows.Sender{PD: n.pd(prov), Store: prov.Data.Merge, DB: prov.Data.DB, Concurrency: n.conc,
		Options: labour.NetworkOptions(n.schemas, now),
	}
}

// pd is the Porta Delegata of p as the network's local application calls it.
func (n *demoNet) pd(p *peer) *pdclient.PD {
	return &pdclient.PD{URL: p.PD, Consumer: p.Name, User: appUser, Password: n.password, Client: n.http}
}

// send runs one worker document through flows.Sender (porta sil send's code) and checks that
// every planted invalid record it carries was rejected.
func (n *demoNet) send(ctx context.Context, f *flowResult, what string, notCarried map[string]bool) error {
	sums, err := n.sender().Send(ctx, n.workers, n.silRejected, []string{what})
	if err != nil {
		return fmt.Errorf("%s: %w", f.Name, err)
	}
	sum := sums[0]
	f.Sent, f.Acknowledged = sum.Sent, sum.Acknowledged
	f.rejectAll(sum.Rejections)
	rejected := map[string]bool{}
	for _, r := range sum.Rejections {
		rejected[r.SILID] = true
	}
	for _, p := range n.silPlanted {
		if !notCarried[p.Field] && !rejected[p.SILID] {
			f.problem("planted invalid record %s (%s: %s) was not rejected", p.SILID, p.Field, p.Rule)
		}
	}
	return nil
}

// kept fills lost and duplicated from what the receiving peer kept.
func (n *demoNet) kept(ctx context.Context, f *flowResult, provider, service string, delivered int) error {
	_, records, dup, err := n.peers[provider].Data.Kept.Kept(ctx, service)
	if err != nil {
		return err
	}
	f.Lost = max(0, delivered-records) // acknowledged (or answered) but not kept
	f.Duplicated = dup                 // kept from more than one busta
	f.Merged = records
	return nil
}

// syncFlow sends a synchronous worker document: acknowledged is answered OK.
func (n *demoNet) syncFlow(ctx context.Context, name, what, provider, service string, notCarried map[string]bool) (*flowResult, error) {
	f, t := &flowResult{Name: name}, time.Now()
	if err := n.send(ctx, f, what, notCarried); err != nil {
		return nil, err
	}
	err := n.kept(ctx, f, provider, service, f.Acknowledged)
	f.Seconds = time.Since(t).Seconds()
	return f, err
}

// workerFlow sends the worker document of s, as adapters/labour describes it: a synchronous one
// is acknowledged when answered OK, a one-way one when its riscontro came back.
func (n *demoNet) workerFlow(s *labour.Service) func(context.Context) (*flowResult, error) {
	d := s.Worker
	return func(ctx context.Context) (*flowResult, error) {
		if !s.Sync() {
			return n.oneWay(ctx, d.What+" (one-way+ack)", d.What, s.Providers[0], s.Name)
		}
		notCarried := map[string]bool{}
		for _, f := range d.NotCarried {
			notCarried[f] = true
		}
		return n.syncFlow(ctx, d.What+" "+d.Action+" (sync)", d.What, s.Providers[0], s.Name, notCarried)
	}
}

// oneWay sends a one-way document per worker and waits until the provider's gateway acknowledged
// each busta (the consumer's trace holds its riscontro) and the provider's intake kept it.
func (n *demoNet) oneWay(ctx context.Context, name, what, provider, service string) (*flowResult, error) {
	f, t := &flowResult{Name: name}, time.Now()
	if err := n.send(ctx, f, what, nil); err != nil {
		return nil, err
	}
	prov := n.peers[pProvincia]
	if err := n.drain(ctx, prov); err != nil {
		return nil, err
	}
	ids, err := n.sentTo(ctx, prov, provider, service)
	if err != nil {
		return nil, err
	}
	if len(ids) != f.Acknowledged {
		f.problem("the PD queued %d documents, its trail holds %d bustas to %s", f.Acknowledged, len(ids), provider)
	}
	if f.Acknowledged, err = n.acked(ctx, prov, ids); err != nil {
		return nil, err
	}
	if err := n.waitKept(ctx, provider, service, f.Acknowledged); err != nil {
		return nil, err
	}
	err = n.kept(ctx, f, provider, service, len(ids))
	f.Seconds = time.Since(t).Seconds()
	return f, err
}

// drain waits until p's outbox is empty: every queued busta delivered (or given up).
func (n *demoNet) drain(ctx context.Context, p *peer) error {
	deadline := time.Now().Add(5 * time.Minute)
	for {
		depth, _, err := p.Opened.Store.Depth(ctx, gateway.Outbox)
		if err != nil {
			return err
		}
		if depth == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: %d messages still in the outbox after 5 minutes", p.Name, depth)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// readTrail opens p's trail read-only beside its running gateway.
func readTrail(p *peer) (*sqlx.DB, error) {
	return sqlx.Open("sqlite3", "file:"+filepath.Join(p.Dir, "porta.db")+"?mode=ro&_busy_timeout=10000")
}

// sentTo lists the bustas p's trail sent to provider's service.
func (n *demoNet) sentTo(ctx context.Context, p *peer, provider, service string) ([]string, error) {
	db, err := readTrail(p)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	var ids []string
	err = db.SelectContext(ctx, &ids, `SELECT DISTINCT msg_id FROM trace WHERE direction = 'out' AND receiver = ? AND service = ?`, provider, service)
	if err != nil {
		return nil, fmt.Errorf("%s: read the trail: %w", p.Name, err)
	}
	return ids, nil
}

// acked counts the bustas of ids that p's trail shows acknowledged: an inbound riscontro (or
// reply) relating to each. Call it once p's outbox is drained.
func (n *demoNet) acked(ctx context.Context, p *peer, ids []string) (int, error) {
	db, err := readTrail(p)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var related []string
	if err := db.SelectContext(ctx, &related, `SELECT DISTINCT relates_to FROM trace WHERE direction = 'in' AND outcome = ? AND relates_to <> ''`, gateway.OutcomeReceived); err != nil {
		return 0, fmt.Errorf("%s: read acknowledgements: %w", p.Name, err)
	}
	acked := map[string]bool{}
	for _, r := range related {
		acked[r] = true
	}
	count := 0
	for _, id := range ids {
		if acked[id] {
			count++
		}
	}
	return count, nil
}

// waitKept waits until the provider's inbox is empty and its intake holds want documents (or
// a while has passed: what is missing then is reported as lost).
func (n *demoNet) waitKept(ctx context.Context, provider, service string, want int) error {
	p := n.peers[provider]
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		depth, _, err := p.Opened.Store.Depth(ctx, gateway.Inbox)
		if err != nil {
			return err
		}
		docs, _, _, err := p.Data.Kept.Kept(ctx, service)
		if err != nil {
			return err
		}
		if depth == 0 && docs >= want {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return nil
}

// merges counts the province store's merges of kind per record (its merge log: one entry per
// change merged).
func (n *demoNet) merges(ctx context.Context, kind string) (map[string]int, error) {
	var rows []struct {
		Key   string `db:"record_key"`
		Count int    `db:"n"`
	}
	err := n.peers[pProvincia].Data.DB.SelectContext(ctx, &rows, `SELECT record_key, COUNT(*) AS n FROM merge_log WHERE kind = ? GROUP BY record_key`, kind)
	out := map[string]int{}
	for _, r := range rows {
		out[r.Key] = r.Count
	}
	return out, err
}

// flowAnagrafe consults every worker's municipality, chosen by the worker's comune of residence,
// with porta sync anagrafe's code, and checks that exactly the planted changes were merged, once.
func (n *demoNet) flowAnagrafe(ctx context.Context) (*flowResult, error) {
	f, t := &flowResult{Name: "anagrafe E002 (sync)"}, time.Now()
	prov := n.peers[pProvincia]
	a := &flows.Anagrafe{PD: n.pd(prov), Store: prov.Data.Merge, DB: prov.Data.DB, Concurrency: n.conc,
		Motivo: "allineamento SIL", CasoUso: "C020", Route: demoAnagrafeRoute}
	sum, err := a.Run(ctx, n.workers)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.Name, err)
	}
	f.Sent, f.Acknowledged = sum.Sent, sum.Answered
	f.rejectAll(sum.Rejections)
	merged, err := n.merges(ctx, merge.KindAnagrafe)
	if err != nil {
		return nil, err
	}
	for cf, ch := range n.anaPlanted {
		if merged[cf] == 0 {
			f.problem("planted %s of %s not merged", ch, cf)
			f.Lost++
		}
	}
	for cf, k := range merged {
		f.Merged += k
		if n.anaPlanted[cf] == "" {
			f.problem("%s merged but nothing was planted", cf)
		}
		if k > 1 {
			f.Duplicated++
		}
	}
	if f.Merged != sum.Merged {
		f.problem("the flow merged %d records, the merge log holds %d", sum.Merged, f.Merged)
	}
	f.Lost += f.Sent - f.Acknowledged
	f.Seconds = time.Since(t).Seconds()
	return f, nil
}

// demoAnagrafeRoute sends a worker's consultation to the municipality of their residence.
func demoAnagrafeRoute(w *sil.Worker) (pdclient.Route, bool) {
	party, ok := demoComuneOf[w.Residenza.Comune]
	return pdclient.Route{Provider: party, Service: svcAnagrafe, Action: "consultazioneSoggetti"}, ok
}

// flowScuola requests each school's extraction with porta sync scuole's code and checks that
// exactly the planted drop-outs under 18 were flagged, once.
func (n *demoNet) flowScuola(ctx context.Context) (*flowResult, error) {
	f, t := &flowResult{Name: "scuola estrazione (async)"}, time.Now()
	prov := n.peers[pProvincia]
	s := &flows.Scuole{PD: n.pd(prov), Store: prov.Data.Merge, Every: 50 * time.Millisecond, MaxWait: 2 * time.Minute,
		Request: pdclient.Route{Service: svcScuola, Action: "RichiestaEstrazione"},
		Poll:    pdclient.Route{Service: svcScuola, Action: "StatoEstrazione"}}
	var schools []flows.School
	for _, party := range []string{pScuola1, pScuola2} {
		schools = append(schools, flows.School{Party: party, Code: demoSchools[party], Year: n.school.Year})
	}
	sum, err := s.Run(ctx, schools)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.Name, err)
	}
	// Sent and acknowledged count extractions (requests), not the polls between.
	f.Sent, f.Acknowledged = len(schools), sum.Answered
	f.rejectAll(sum.Rejections)
	flagged, err := n.merges(ctx, merge.KindScuola)
	if err != nil {
		return nil, err
	}
	want := map[string]bool{}
	for _, p := range n.school.DropOuts {
		if p.AgeOn(p.DataEvento) < 18 {
			want[p.CodiceFiscale] = true
		}
	}
	for cf := range want {
		if flagged[cf] == 0 {
			f.problem("planted drop-out %s not flagged", cf)
			f.Lost++
		}
	}
	for cf, k := range flagged {
		f.Merged += k
		if !want[cf] {
			f.problem("%s flagged but no drop-out under 18 was planted", cf)
		}
		if k > 1 {
			f.Duplicated++
		}
	}
	flags, err := prov.Data.Merge.OrientationFlags(ctx)
	if err != nil {
		return nil, err
	}
	if len(flags) != len(want) {
		f.problem("%d orientation flags kept, %d drop-outs under 18 planted", len(flags), len(want))
	}
	f.Seconds = time.Since(t).Seconds()
	return f, nil
}

func (n *demoNet) flowINPS(ctx context.Context) (*flowResult, error) {
	f, t := &flowResult{Name: "inps elenco (one-way+ack)"}, time.Now()
	var people, invalid []inps.Person
	for _, w := range n.workers {
		p := inps.Person{CodiceFiscale: w.CodiceFiscale, Cognome: w.Cognome, Nome: w.Nome, DataNascita: w.DataNascita}
		if w.CheckIdentity() == nil {
			people = append(people, p)
		} else {
			invalid = append(invalid, p)
		}
	}
	list := inps.Generate(people, inps.GenOptions{Seed: 7, Date: n.now, Share: 0.05, ID: "ELENCO-" + n.now.Format("20060102")})
	// The SIL's planted invalid workers are on the list too: the province rejects each alone, with
	// its reason, and merges the rest.
	bad := inps.Generate(invalid, inps.GenOptions{Seed: 8, Date: n.now, Share: 1})
	planted := map[string]bool{}
	for i, r := range bad.Recipients {
		r.NumeroDomanda = fmt.Sprintf("%s-9%05d", n.now.Format("2006"), i+1)
		planted[r.Key()] = true
		list.Recipients = append(list.Recipients, r)
	}
	doc, err := inps.Build(list)
	if err != nil {
		return nil, err
	}
	src := n.peers[pINPS]
	rep, err := n.pd(src).Call(ctx, pdclient.Route{Provider: pProvincia, Service: svcINPS, Action: "InvioElencoPercettori"}, doc)
	f.Sent = len(list.Recipients)
	if err != nil {
		f.problem("InvioElencoPercettori: %v", err)
		f.Lost = f.Sent
		f.Seconds = time.Since(t).Seconds()
		return f, nil
	}
	if err := n.drain(ctx, src); err != nil {
		return nil, err
	}
	acked, err := n.acked(ctx, src, []string{rep.MessageID})
	if err != nil {
		return nil, err
	}
	if acked == 1 {
		f.Acknowledged = f.Sent
	}
	prov := n.peers[pProvincia]
	var entries []merge.INPSEntry
	var rejected []merge.Failure
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		if entries, err = prov.Data.Merge.INPSEntries(ctx, ""); err != nil {
			return nil, err
		}
		failures, err := prov.Data.Merge.Failures(ctx, merge.FailureOpen)
		if err != nil {
			return nil, err
		}
		rejected = rejected[:0]
		for _, fl := range failures {
			if fl.Kind == merge.KindINPS {
				rejected = append(rejected, fl)
			}
		}
		if len(entries)+len(rejected) >= f.Sent {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	seen := map[string]int{}
	for _, e := range entries {
		seen[e.CodiceFiscale+"/"+e.NumeroDomanda]++
	}
	refused := map[string]int{}
	for _, fl := range rejected {
		refused[fl.Key]++
		f.reject(reasonOf(flows.Rejection{Field: fl.Field, Rule: fl.Rule, Reason: fl.Reason}))
		if !planted[fl.Key] {
			f.problem("INPS record %s rejected (%s: %s) but nothing was planted", fl.Key, fl.Field, fl.Reason)
		}
	}
	for _, r := range list.Recipients {
		k := r.Key()
		switch {
		case planted[k] && refused[k] == 0:
			f.problem("planted invalid INPS record %s was not rejected", k)
			f.Lost++
		case planted[k]:
			if seen[k] > 0 {
				f.problem("planted invalid INPS record %s was merged", k)
			}
		case seen[k] == 0:
			f.Lost++
		case seen[k] == 1:
			f.Merged++
		default:
			f.Merged++
			f.Duplicated++
		}
	}
	f.Seconds = time.Since(t).Seconds()
	return f, nil
}

func (n *demoNet) flowFormazione(ctx context.Context) (*flowResult, error) {
	f, t := &flowResult{Name: "formazione catalogo (sync)"}, time.Now()
	ente := n.peers[pEnte]
	start := n.now.AddDate(0, 1, 0).Truncate(24 * time.Hour)
	titles := []string{"Saldatore a filo continuo", "Operatore di magazzino", "Addetto alla contabilita", "Tecnico di rete", "Operatore socio sanitario"}
	var keys []string
	for i, title := range titles {
		c := formazione.Course{CodiceEnte: "A944S003140", CodiceFiscaleEnte: "80123456784", DenominazioneEnte: "CENTRO FORMAZIONE RENO",
			CodiceCorso: fmt.Sprintf("DEMO-%s-%02d", n.now.Format("2006"), i+1), Titolo: title, Descrizione: "Corso di qualifica: " + strings.ToLower(title),
			SedeComune: "A944", SedeIndirizzo: "VIA EMILIA 12", DataInizio: start, DataFine: start.AddDate(0, 3, 0), DurataOre: 300, Posti: 18}
		doc, err := formazione.BuildPublish(c)
		if err != nil {
			return nil, err
		}
		f.Sent++
		a, err := n.pd(ente).Call(ctx, pdclient.Route{Provider: pProvincia, Service: svcFormazione, Action: "PubblicaCorso"}, doc)
		var ans *formazione.Answer
		if err == nil {
			ans, err = formazione.ParseAnswer(a.Payload)
		}
		if err != nil {
			f.problem("PubblicaCorso %s: %v", c.CodiceCorso, err)
			continue
		}
		f.Acknowledged++
		if ans.Outcome == formazione.Published {
			keys = append(keys, c.Key())
		} else {
			f.reject(fmt.Sprintf("%s %v", ans.Outcome, ans.Problems))
		}
	}
	q, err := formazione.BuildSearch(formazione.Query{Comune: "A944", Limit: 100})
	if err != nil {
		return nil, err
	}
	a, err := n.pd(ente).Call(ctx, pdclient.Route{Provider: pProvincia, Service: svcFormazione, Action: "RicercaCorsi"}, q)
	var found []formazione.Course
	if err == nil {
		found, err = formazione.ParseSearchResult(a.Payload)
	}
	if err != nil {
		f.problem("RicercaCorsi: %v", err)
	}
	count := map[string]int{}
	for _, c := range found {
		count[c.Key()]++
	}
	for _, k := range keys {
		switch count[k] {
		case 0:
			f.Lost++
		case 1:
			f.Merged++
		default:
			f.Merged++
			f.Duplicated++
		}
	}
	f.Seconds = time.Since(t).Seconds()
	return f, nil
}

// Package demo owns the labour network that porta demo runs and porta sim serves one party of:
// who takes part and which services each provides (from adapters/labour's table), writing the
// network's files (one local CA, one gateway per party, every registry), starting its gateways in
// this process (StartPeer), planting synthetic data with known changes in the SIL, the comuni's
// registries and the schools, running every flow through the gateways with adapters/flows (the
// code of porta sil send and porta sync), checking what came out against what was planted, and
// the Report of it. Addresses come from internal/listen.Reserved and stay held until each gateway
// takes its socket over.
//
// It must not parse flags or print: cmd/porta does that, and hears how the run goes through
// Options.Progress. It reads the gateways' trails through package audit's queries, never their
// tables.
package demo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"time"

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

// Flow is one flow's line of the report.
type Flow struct {
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

// OK reports whether the flow lost, duplicated and missed nothing.
func (f *Flow) OK() bool { return f.Lost == 0 && f.Duplicated == 0 && len(f.Problems) == 0 }

func (f *Flow) reject(reason string) {
	f.Rejected++
	if f.Reasons == nil {
		f.Reasons = map[string]int{}
	}
	f.Reasons[reason]++
}

func (f *Flow) problem(format string, a ...any) {
	if len(f.Problems) < 20 {
		f.Problems = append(f.Problems, fmt.Sprintf(format, a...))
	}
}

// Report is what a run found.
type Report struct {
	Dir         string  `json:"dir"`
	Workers     int     `json:"workers"`
	Flows       []*Flow `json:"flows"`
	TraceVerify string  `json:"trace_verify"` // "ok", or each broken chain
	Seconds     float64 `json:"seconds"`
}

// OK reports whether every flow and every trace chain is in order.
func (r *Report) OK() bool {
	for _, f := range r.Flows {
		if !f.OK() {
			return false
		}
	}
	return r.TraceVerify == "ok"
}

// Options are a run's parameters.
type Options struct {
	Dir         string // where the network is written: an empty or new directory
	Workers     int    // synthetic workers in the SIL (at least 10)
	Concurrency int    // requests in flight per flow
	Seed        uint64 // of the synthetic data
	// Store, when set, names each gateway's store (a postgres:// URL, or sqlite:FILE) instead of
	// the SQLite file beside its porta.yaml.
	Store func(party string) string
	Log   *slog.Logger
	// Progress, if set, hears each step as it starts and ends (from several goroutines, one call
	// at a time).
	Progress func(Step)
	// Admin, if set, gives each gateway's admin listener more routes (porta demo --console: the
	// management API and the console).
	Admin func(*Peer) (map[string]http.Handler, error)
	// Hold, if set, is called once the flows are done, with the network still running; the
	// gateways stop (and their chains are verified) when it returns. Its error ends the run.
	Hold func(context.Context, *Running) error
}

// Running is the network as Options.Hold sees it: its folder, its running gateways by party and
// what the flows found so far (TraceVerify is filled after Hold).
type Running struct {
	Dir      string
	Peers    map[string]*Peer
	Password string // the local applications' password (user AppUser) on every PD
	Report   *Report
}

// Step is one event of a run: a stage of the setup, or a flow starting or done.
type Step struct {
	Stage string // "network", "gateways", "data", "flow", "verify"
	Flow  string // the flow's name (Stage "flow")
	Done  bool   // the stage or flow ended
	// Result is the finished flow's line (Stage "flow", Done), nil if it failed outright.
	Result *Flow
}

// The setup stages, in order, as Step.Stage names them.
const (
	StageNetwork  = "network"
	StageGateways = "gateways"
	StageData     = "data"
	StageFlow     = "flow"
	StageVerify   = "verify"
)

// FlowNames are the flows of a run, in the report's order.
func FlowNames() []string {
	var out []string
	for _, s := range labour.WorkerDocs() {
		out = append(out, workerFlowName(s))
	}
	return append(out, flowAnagrafeName, flowScuolaName, flowINPSName, flowFormazioneName)
}

const (
	flowAnagrafeName   = "anagrafe E002 (sync)"
	flowScuolaName     = "scuola estrazione (async)"
	flowINPSName       = "inps elenco (one-way, Linee Guida)"
	flowFormazioneName = "formazione catalogo (sync)"
)

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

// network is the running network and the data planted in it.
type network struct {
	peers    map[string]*Peer
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
}

// Run writes the labour network under o.Dir, starts every gateway, plants the data, runs every
// flow at once through the gateways, stops them and verifies each trace chain. An error means the
// run could not be made; what the flows found (lost, duplicated, missed) is in the Report.
func Run(parent context.Context, o Options) (*Report, error) {
	start := time.Now()
	if o.Workers < 10 || o.Concurrency < 1 {
		return nil, fmt.Errorf("demo: want at least 10 workers and a concurrency of at least 1")
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	var mu sync.Mutex
	progress := func(st Step) {
		if o.Progress != nil {
			mu.Lock()
			defer mu.Unlock()
			o.Progress(st)
		}
	}
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	dir := o.Dir
	progress(Step{Stage: StageNetwork})
	res := listen.NewReserved() // the gateways' addresses, held until each gateway listens
	defer res.Close()
	_, password, err := WriteNetwork(dir, res)
	if err != nil {
		return nil, err
	}
	schemas, err := xsd.Open()
	if err != nil {
		return nil, err
	}
	defer schemas.Close()
	n := &network{
		peers: map[string]*Peer{},
		http:  &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}, password: password,
		schemas: schemas, now: time.Now().UTC(), conc: o.Concurrency,
	}
	defer n.http.CloseIdleConnections()
	progress(Step{Stage: StageNetwork, Done: true})

	// Start every gateway (stopped in reverse at the end).
	progress(Step{Stage: StageGateways})
	var order []*Peer
	defer func() {
		cancel()
		for _, p := range order {
			p.Stop()
		}
	}()
	for _, name := range Parties {
		p, err := StartPeerWith(ctx, dir, name, PeerOptions{Reserved: res, Log: o.Log, Now: time.Now, Admin: o.Admin, Store: o.store(name)})
		if err != nil {
			return nil, err
		}
		n.peers[name] = p
		order = append(order, p)
	}
	progress(Step{Stage: StageGateways, Done: true})
	progress(Step{Stage: StageData})
	if err := n.plant(ctx, o.Workers, o.Seed); err != nil {
		return nil, err
	}
	progress(Step{Stage: StageData, Done: true})

	// The flows run at once: each has its own services, peers and checks, and the gateways'
	// group commits fill up with more messages in flight. A flow's seconds are its own.
	rep := &Report{Dir: dir, Workers: o.Workers}
	type flow struct {
		name string
		run  func(context.Context) (*Flow, error)
	}
	var all []flow
	for _, s := range labour.WorkerDocs() {
		all = append(all, flow{workerFlowName(s), n.workerFlow(s)})
	}
	all = append(all, flow{flowAnagrafeName, n.flowAnagrafe}, flow{flowScuolaName, n.flowScuola},
		flow{flowINPSName, n.flowINPS}, flow{flowFormazioneName, n.flowFormazione})
	rep.Flows = make([]*Flow, len(all))
	errs := make([]error, len(all))
	var wg sync.WaitGroup
	for i, f := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			progress(Step{Stage: StageFlow, Flow: f.name})
			rep.Flows[i], errs[i] = f.run(ctx)
			progress(Step{Stage: StageFlow, Flow: f.name, Done: true, Result: rep.Flows[i]})
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if o.Hold != nil {
		err := o.Hold(ctx, &Running{Dir: dir, Peers: n.peers, Password: n.password, Report: rep})
		for _, name := range Parties {
			order = append(order, n.peers[name]) // a gateway Hold restarted stops too (Stop is once)
		}
		if err != nil {
			return nil, err
		}
	}

	// Stop the gateways, then verify each trace chain as porta trace verify does.
	cancel()
	for _, p := range order {
		p.Stop()
	}
	order = nil
	progress(Step{Stage: StageVerify})
	var broken []string
	for _, name := range Parties {
		dsn := o.store(name)
		if dsn == "" {
			dsn = filepath.Join(dir, name, "porta.db")
		}
		if err := verifyTrace(parent, dsn, name+"-1"); err != nil {
			broken = append(broken, name+": "+err.Error())
		}
	}
	rep.TraceVerify = "ok"
	if len(broken) > 0 {
		rep.TraceVerify = strings.Join(broken, "; ")
	}
	progress(Step{Stage: StageVerify, Done: true})
	rep.Seconds = time.Since(start).Seconds()
	return rep, nil
}

// store is the DSN of party's store, "" for porta.yaml's.
func (o *Options) store(party string) string {
	if o.Store == nil {
		return ""
	}
	return o.Store(party)
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
func (n *network) plant(ctx context.Context, nWorkers int, seed uint64) error {
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

func (f *Flow) rejectAll(rs []flows.Rejection) {
	for _, r := range rs {
		f.reject(reasonOf(r))
	}
}

// sender is the flows.Sender of porta sil send, acting for the province through its PD, keeping
// rejected records in the province's failures table.
func (n *network) sender() *flows.Sender {
	prov := n.peers[pProvincia]
	now := func() time.Time { return n.now }
	return &flows.Sender{PD: n.pd(prov), Store: prov.Data.Merge, DB: prov.Data.DB, Concurrency: n.conc,
		Options: labour.NetworkOptions(n.schemas, now),
	}
}

// pd is the Porta Delegata of p as the network's local application calls it.
func (n *network) pd(p *Peer) *pdclient.PD {
	return &pdclient.PD{URL: p.PD, Consumer: p.Name, User: AppUser, Password: n.password, Client: n.http}
}

// send runs one worker document through flows.Sender (porta sil send's code) and checks that
// every planted invalid record it carries was rejected.
func (n *network) send(ctx context.Context, f *Flow, what string, notCarried map[string]bool) error {
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
func (n *network) kept(ctx context.Context, f *Flow, provider, service string, delivered int) error {
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
func (n *network) syncFlow(ctx context.Context, name, what, provider, service string, notCarried map[string]bool) (*Flow, error) {
	f, t := &Flow{Name: name}, time.Now()
	if err := n.send(ctx, f, what, notCarried); err != nil {
		return nil, err
	}
	err := n.kept(ctx, f, provider, service, f.Acknowledged)
	f.Seconds = time.Since(t).Seconds()
	return f, err
}

// workerFlow sends the worker document of s, as adapters/labour describes it: a synchronous one
// is acknowledged when answered OK, a one-way one when its riscontro came back (or, to a Linee
// Guida partner, which has none, when its gateway took it: acknowledged).
func (n *network) workerFlow(s *labour.Service) func(context.Context) (*Flow, error) {
	d := s.Worker
	return func(ctx context.Context) (*Flow, error) {
		if !s.Sync() {
			return n.oneWay(ctx, workerFlowName(s), d.What, s.Providers[0], s.Name)
		}
		notCarried := map[string]bool{}
		for _, f := range d.NotCarried {
			notCarried[f] = true
		}
		return n.syncFlow(ctx, workerFlowName(s), d.What, s.Providers[0], s.Name, notCarried)
	}
}

// workerFlowName is the report's name of the flow of s's worker document.
func workerFlowName(s *labour.Service) string {
	switch {
	case !s.Sync() && s.OneWayAck:
		return s.Worker.What + " (one-way+ack)"
	case !s.Sync():
		return s.Worker.What + " (one-way, Linee Guida)"
	}
	return s.Worker.What + " " + s.Worker.Action + " (sync)"
}

// oneWay sends a one-way document per worker and waits until the provider's gateway acknowledged
// each busta (acknowledged) and the provider's intake kept it.
func (n *network) oneWay(ctx context.Context, name, what, provider, service string) (*Flow, error) {
	f, t := &Flow{Name: name}, time.Now()
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
	if f.Acknowledged, err = n.acknowledged(ctx, prov, service, ids); err != nil {
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
func (n *network) drain(ctx context.Context, p *Peer) error {
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

// sentTo lists the bustas p's trail sent to provider's service.
func (n *network) sentTo(ctx context.Context, p *Peer, provider, service string) ([]string, error) {
	var ids []string
	err := readTrail(ctx, p, func(s *audit.Store) (err error) {
		ids, err = s.MessageIDs(ctx, audit.Filter{Direction: audit.Out, Party: provider, Service: service})
		return err
	})
	return ids, err
}

// acknowledged counts the bustas of ids, sent by p on service, that their receiver acknowledged as
// the service has it: by a riscontro or reply in p's trail (acked), or, for a one-way service
// without riscontro (towards or from a Linee Guida partner, spec §11), by the transport answer:
// p's outbox settled them without giving up (a re-send refused as a duplicate is an earlier copy
// taken). Until p's outbox is drained it counts none of those.
func (n *network) acknowledged(ctx context.Context, p *Peer, service string, ids []string) (int, error) {
	if s := labour.ByName(service); s == nil || s.Profile != "oneway" || s.OneWayAck {
		return n.acked(ctx, p, ids)
	}
	failed, pending := map[string]bool{}, false
	err := readTrail(ctx, p, func(s *audit.Store) error {
		st, err := s.Stats(ctx, audit.Outbox)
		if err != nil {
			return err
		}
		pending = st.Depth > 0
		items, err := s.Failed(ctx, audit.Outbox, 1<<20)
		for _, it := range items {
			failed[it.MsgID] = true
		}
		return err
	})
	if err != nil || pending {
		return 0, err // while the outbox holds anything, what it holds is not settled yet
	}
	count := 0
	for _, id := range ids {
		if !failed[id] {
			count++
		}
	}
	return count, nil
}

// acked counts the bustas of ids that p's trail shows acknowledged: an inbound riscontro (or
// reply) relating to each. Call it once p's outbox is drained.
func (n *network) acked(ctx context.Context, p *Peer, ids []string) (int, error) {
	var related []string
	err := readTrail(ctx, p, func(s *audit.Store) (err error) {
		related, err = s.RelatedIDs(ctx, audit.Filter{Direction: audit.In, Outcome: gateway.OutcomeReceived})
		return err
	})
	if err != nil {
		return 0, err
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

// readTrail runs read on p's trail, opened read-only beside its running gateway.
func readTrail(ctx context.Context, p *Peer, read func(*audit.Store) error) error {
	dsn := p.Store
	if dsn == "" { // a peer run by another process (porta sim): its porta.yaml's store
		dsn = filepath.Join(p.Dir, "porta.db")
	}
	s, err := audit.Open(ctx, dsn, audit.Options{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("%s: open the trail: %w", p.Name, err)
	}
	defer s.Close()
	if err := read(s); err != nil {
		return fmt.Errorf("%s: read the trail: %w", p.Name, err)
	}
	return nil
}

// waitKept waits until the provider's inbox is empty and its intake holds want documents (or
// a while has passed: what is missing then is reported as lost).
func (n *network) waitKept(ctx context.Context, provider, service string, want int) error {
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
func (n *network) merges(ctx context.Context, kind string) (map[string]int, error) {
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
func (n *network) flowAnagrafe(ctx context.Context) (*Flow, error) {
	f, t := &Flow{Name: flowAnagrafeName}, time.Now()
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
func (n *network) flowScuola(ctx context.Context) (*Flow, error) {
	f, t := &Flow{Name: flowScuolaName}, time.Now()
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

func (n *network) flowINPS(ctx context.Context) (*Flow, error) {
	f, t := &Flow{Name: flowINPSName}, time.Now()
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
	acked, err := n.acknowledged(ctx, src, svcINPS, []string{rep.MessageID})
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

func (n *network) flowFormazione(ctx context.Context) (*Flow, error) {
	f, t := &Flow{Name: flowFormazioneName}, time.Now()
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

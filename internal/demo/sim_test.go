package demo

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"regexp"
	"sort"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"porta/adapters/flows"
	"porta/adapters/inps"
	"porta/adapters/labour"
	"porta/adapters/sil"
	"porta/adapters/sil/siltest"
	"porta/gateway/node"
	"porta/internal/pdclient"
	"porta/internal/proctest"
	"porta/xsd"
)

// simNet is one `porta sim ROLE` process and the in-process gateways that talk to it, all from one
// network directory.
type simNet struct {
	*network
	dir  string
	sim  *Peer // the simulated party: its name, directory and PD (no in-process handles)
	proc *proctest.Proc
}

// startSim runs `porta sim role` as a process (it writes the network into a new directory) and
// starts the given parties' gateways in this process from the same directory.
// The worker documents' service names, as adapters/labour's table spells them.
var (
	svcSAP         = labour.ByWhat(labour.WhatSAP).Name
	svcDID         = labour.ByWhat(labour.WhatDID).Name
	svcCandidatura = labour.ByWhat(labour.WhatCandidatura).Name
	svcEuropass    = labour.ByWhat(labour.WhatEuropass).Name
)

func startSim(t *testing.T, role string, parties ...string) *simNet {
	t.Helper()
	dir := t.TempDir()
	proc := proctest.Start(t, "sim-"+role, proctest.Binary(t), []string{"sim", role, "--dir", dir, "--workers", "40"})
	proc.WaitFor(regexp.MustCompile(`porta sim: running`), 60*time.Second)
	party := Roles[role][0]
	cfg, err := node.LoadConfig(filepath.Join(dir, party, "porta.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	password, err := ReadPassword(dir)
	if err != nil {
		t.Fatal(err)
	}
	schemas, err := xsd.Open()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { schemas.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	s := &simNet{dir: dir, proc: proc, sim: &Peer{Name: party, Dir: filepath.Join(dir, party), PD: "http://" + cfg.PDAddr},
		network: &network{peers: map[string]*Peer{}, http: &http.Client{}, password: password, schemas: schemas, now: time.Now().UTC(), conc: 2}}
	var started []*Peer
	t.Cleanup(func() {
		cancel()
		for _, p := range started {
			p.Stop()
		}
	})
	for _, name := range parties {
		p, err := StartPeer(ctx, dir, name, nil, slog.New(slog.NewTextHandler(io.Discard, nil)), time.Now)
		if err != nil {
			t.Fatal(err)
		}
		s.peers[name] = p
		started = append(started, p)
	}
	return s
}

// stop ends the sim process as SIGTERM would, cleanly.
func (s *simNet) stop(t *testing.T) {
	t.Helper()
	if err := s.proc.Stop(10 * time.Second); err != nil {
		t.Errorf("porta sim stop: %v\n%s", err, s.proc.Output())
	}
}

// simDB opens the simulated party's backends database read-only, beside the running process.
func (s *simNet) simDB(t *testing.T) *sqlx.DB {
	t.Helper()
	db, err := sqlx.Open("sqlite3", "file:"+filepath.Join(s.sim.Dir, "backends.db")+"?mode=ro&_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// keptRecords waits until the simulated party kept want documents of service (or 30s passed)
// and returns the records (codici fiscali) it kept, sorted.
func (s *simNet) keptRecords(t *testing.T, service string, want int) []string {
	t.Helper()
	db := s.simDB(t)
	var recs []string
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		recs = nil
		if err := db.Select(&recs, `SELECT record FROM kept WHERE service = ? ORDER BY record`, service); err != nil {
			t.Fatal(err)
		}
		if len(recs) >= want || time.Now().After(deadline) {
			return recs
		}
	}
}

// simWorkers are a few valid workers of a fresh synthetic SIL.
func simWorkers(t *testing.T, n int) []*sil.Worker {
	ws, _ := siltest.Workers(t, sil.GenOptions{Workers: n, Seed: 3, Homes: []string{"A944"}})
	return ws
}

// acceptedCFs lists the codici fiscali of the workers a send accepted: all but the rejected and,
// for a DID, those who filed none.
func acceptedCFs(ws []*sil.Worker, sum flows.Summary) []string {
	rejected := map[string]bool{}
	for _, r := range sum.Rejections {
		rejected[r.CF] = true
	}
	var out []string
	for _, w := range ws {
		if !rejected[w.CodiceFiscale] && (sum.What != labour.WhatDID || !w.Admin.DataDID.IsZero()) {
			out = append(out, w.CodiceFiscale)
		}
	}
	sort.Strings(out)
	return out
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestSimPeersKeepWhatTheyReceive starts each provider role of porta sim as a process, sends it
// real documents through the province's gateway with porta sil send's code, and checks that the
// peer answered (synchronous) or acknowledged (one-way) each one and kept exactly those records.
func TestSimPeersKeepWhatTheyReceive(t *testing.T) {
	ws := simWorkers(t, 6)
	for _, tc := range []struct {
		role    string
		what    []string
		service map[string]string
		oneWay  bool
	}{
		{"ministero", []string{labour.WhatSAP, labour.WhatDID}, map[string]string{labour.WhatSAP: svcSAP, labour.WhatDID: svcDID}, false},
		{"borsalavoro", []string{labour.WhatCandidatura}, map[string]string{labour.WhatCandidatura: svcCandidatura}, true},
		{"europass", []string{labour.WhatEuropass}, map[string]string{labour.WhatEuropass: svcEuropass}, true},
	} {
		t.Run(tc.role, func(t *testing.T) {
			s := startSim(t, tc.role, pProvincia)
			ctx := context.Background()
			sums, err := s.sender().Send(ctx, ws, nil, tc.what)
			if err != nil {
				t.Fatal(err)
			}
			prov := s.peers[pProvincia]
			if tc.oneWay {
				if err := s.drain(ctx, prov); err != nil {
					t.Fatal(err)
				}
			}
			for _, sum := range sums {
				want := acceptedCFs(ws, sum)
				if sum.Acknowledged != len(want) || len(want) == 0 {
					t.Errorf("%s: %d acknowledged, want %d (rejections %+v)", sum.What, sum.Acknowledged, len(want), sum.Rejections)
				}
				service := tc.service[sum.What]
				if tc.oneWay {
					ids, err := s.sentTo(ctx, prov, s.sim.Name, service)
					if err != nil {
						t.Fatal(err)
					}
					if acked, err := s.acknowledged(ctx, prov, service, ids); err != nil || acked != len(want) || len(ids) != len(want) {
						t.Errorf("%s: %d bustas sent, %d acknowledged by the peer (%v), want %d", sum.What, len(ids), acked, err, len(want))
					}
				}
				got := s.keptRecords(t, service, len(want))
				if sum.What == labour.WhatEuropass {
					// A SkillsPassport names no codice fiscale: the peer keeps it by its hash.
					if len(got) != len(want) {
						t.Errorf("%s: the peer kept %d documents, want %d", service, len(got), len(want))
					}
				} else if !equalStrings(got, want) {
					t.Errorf("%s: the peer kept %v, want %v", service, got, want)
				}
			}
			s.stop(t)
		})
	}
}

// TestSimScuolaServesExtractions starts porta sim scuola as a process; the province requests its
// attendance extraction with porta sync scuole's code, polls it, and merges every pupil the school
// holds, flagging as many as the province's store keeps orientation flags for.
func TestSimScuolaServesExtractions(t *testing.T) {
	s := startSim(t, "scuola", pProvincia)
	prov := s.peers[pProvincia]
	ctx := context.Background()
	db := s.simDB(t)
	var school struct {
		Code string `db:"codice_meccanografico"`
		Year string `db:"anno_scolastico"`
		N    int    `db:"n"`
	}
	if err := db.Get(&school, `SELECT codice_meccanografico, anno_scolastico, COUNT(*) AS n FROM ans_alunni GROUP BY 1, 2`); err != nil {
		t.Fatal(err)
	}
	if school.Code != demoSchools[s.sim.Name] || school.N == 0 {
		t.Fatalf("the sim's school %+v, want %s with pupils", school, demoSchools[s.sim.Name])
	}
	sc := &flows.Scuole{PD: s.pd(prov), Store: prov.Data.Merge, Every: 50 * time.Millisecond, MaxWait: time.Minute,
		Request: pdclient.Route{Service: svcScuola, Action: "RichiestaEstrazione"}, Poll: pdclient.Route{Service: svcScuola, Action: "StatoEstrazione"}}
	sum, err := sc.Run(ctx, []flows.School{{Party: s.sim.Name, Code: school.Code, Year: school.Year}})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Answered != 1 || sum.Merged+sum.Unchanged != school.N || sum.Rejected != 0 {
		t.Errorf("extraction: %+v, want one answer merging %d pupils", sum, school.N)
	}
	flags, err := prov.Data.Merge.OrientationFlags(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(flags) != sum.Merged {
		t.Errorf("%d orientation flags, %d pupils flagged", len(flags), sum.Merged)
	}
	s.stop(t)
}

// TestSimINPSSendsLists starts porta sim inps as a process and sends an income-support list
// through its Porta Delegata to the province (in-process): the province takes it (INPS runs the
// Linee Guida profile: no riscontro, the transport answer settles it) and merges every recipient
// once.
func TestSimINPSSendsLists(t *testing.T) {
	s := startSim(t, "inps", pProvincia)
	prov := s.peers[pProvincia]
	ctx := context.Background()
	var people []inps.Person
	for _, w := range simWorkers(t, 5) {
		people = append(people, inps.Person{CodiceFiscale: w.CodiceFiscale, Cognome: w.Cognome, Nome: w.Nome, DataNascita: w.DataNascita})
	}
	list := inps.Generate(people, inps.GenOptions{Seed: 1, Date: s.now, Share: 1, ID: "ELENCO-SIM"})
	doc, err := inps.Build(list)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := s.pd(s.sim).Call(ctx, pdclient.Route{Provider: pProvincia, Service: svcINPS, Action: "InvioElencoPercettori"}, doc)
	if err != nil || rep.MessageID == "" {
		t.Fatalf("InvioElencoPercettori through the sim's PD: %+v, %v", rep, err)
	}
	var entries int
	acked := 0
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		es, err := prov.Data.Merge.INPSEntries(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		entries = len(es)
		if acked, err = s.acknowledged(ctx, s.sim, svcINPS, []string{rep.MessageID}); err != nil {
			t.Fatal(err)
		}
		if entries >= len(list.Recipients) && acked == 1 {
			break
		}
	}
	if entries != len(list.Recipients) || acked != 1 {
		t.Errorf("the province merged %d of %d recipients; the sim's trail holds %d acknowledgements of %s", entries, len(list.Recipients), acked, rep.MessageID)
	}
	s.stop(t)
}

// TestSimEntePublishesCourses starts porta sim ente as a process and runs the demo's training
// flow through its Porta Delegata: each course published into the province's catalogue
// (in-process) is found once by a search.
func TestSimEntePublishesCourses(t *testing.T) {
	s := startSim(t, "ente", pProvincia)
	s.peers[pEnte] = s.sim
	f, err := s.flowFormazione(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if f.Sent != 5 || f.Acknowledged != 5 || f.Merged != 5 || f.Lost != 0 || f.Duplicated != 0 || len(f.Problems) > 0 || f.Rejected != 0 {
		t.Errorf("formazione through porta sim ente: %+v", f)
	}
	s.stop(t)
}

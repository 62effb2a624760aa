package demo

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"porta/adapters/anagrafe"
	"porta/adapters/codicefiscale"
	"porta/audit"
	"porta/gateway/node"
	"porta/internal/pdclient"
	"porta/internal/proctest"
)

// TestDemoFindsPlantedChangesWithoutLossOrDuplicates runs porta demo on 50 workers: every flow
// must go through the gateways with nothing lost or duplicated, the planted changes found exactly
// (the demo reports any miss or extra as a problem), and every trace chain verified.
func TestDemoFindsPlantedChangesWithoutLossOrDuplicates(t *testing.T) {
	dir := t.TempDir()
	var steps []Step
	rep, err := Run(context.Background(), Options{Dir: dir, Workers: 50, Concurrency: 16, Seed: 1, Progress: func(s Step) { steps = append(steps, s) }})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Errorf("not OK: %+v", rep)
	}
	checkSteps(t, steps)
	if rep.TraceVerify != "ok" {
		t.Errorf("trace_verify: %s", rep.TraceVerify)
	}
	want := []string{"sap", "did", "candidatura", "europass", "anagrafe", "scuola", "inps", "formazione"}
	if len(rep.Flows) != len(want) {
		t.Fatalf("%d flows, want %d", len(rep.Flows), len(want))
	}
	for i, f := range rep.Flows {
		if !strings.HasPrefix(f.Name, want[i]) {
			t.Errorf("flow %d is %q, want %s", i, f.Name, want[i])
		}
		if f.Lost != 0 || f.Duplicated != 0 || len(f.Problems) > 0 {
			t.Errorf("%s: lost %d, duplicated %d, problems %v", f.Name, f.Lost, f.Duplicated, f.Problems)
		}
		if f.Sent == 0 || f.Acknowledged != f.Sent {
			t.Errorf("%s: sent %d, acknowledged %d", f.Name, f.Sent, f.Acknowledged)
		}
	}
	// The SIL's planted invalid records (a bad check character, a bad domicile comune) are
	// rejected by every flow built from the SIL, with their reason.
	for _, f := range rep.Flows[:4] {
		if f.Reasons["codice_fiscale: check character"] != 1 {
			t.Errorf("%s: reasons %v, want the planted check character rejected once", f.Name, f.Reasons)
		}
	}
	if rep.Flows[4].Merged == 0 || rep.Flows[5].Merged == 0 {
		t.Errorf("anagrafe merged %d, scuola flagged %d: the generators planted nothing?", rep.Flows[4].Merged, rep.Flows[5].Merged)
	}
	checkRegistriesByResidence(t, dir)
	checkSearchByCF(t, dir)
}

// checkSearchByCF: a worker's codice fiscale finds the SAP the province sent (out, in its store)
// and the Ministry received (in, in its own), each gateway searching with its index key.
func checkSearchByCF(t *testing.T, dir string) {
	t.Helper()
	db, err := sqlx.Open("sqlite3", "file:"+filepath.Join(dir, pProvincia, "sil", "sil.db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var cfs []string
	if err := db.Select(&cfs, `SELECT codice_fiscale FROM lavoratore ORDER BY codice_fiscale`); err != nil {
		t.Fatal(err)
	}
	var cf string
	for _, c := range cfs {
		if codicefiscale.Validate(c) == nil {
			cf = c
			break
		}
	}
	for party, want := range map[string]audit.Direction{pProvincia: audit.Out, pMinistero: audit.In} {
		key, err := node.ReadIndexKey(filepath.Join(dir, party, node.IndexKeyFile))
		if err != nil {
			t.Fatal(err)
		}
		s, err := audit.Open(context.Background(), filepath.Join(dir, party, "porta.db"), audit.Options{ReadOnly: true, IndexKey: key})
		if err != nil {
			t.Fatal(err)
		}
		recs, err := s.List(context.Background(), audit.Filter{BusinessID: audit.BusinessID{Name: "cf", Value: cf}})
		s.Close()
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, r := range recs {
			found = found || (r.Service == "SAP" && r.Direction == want)
		}
		if !found {
			t.Errorf("%s: searching cf %s finds %d records, none the SAP %s", party, cf, len(recs), want)
		}
	}
}

// checkSteps checks the progress a run reported: the setup stages in order, then each flow
// started once and done once, with its line, then the verification.
func checkSteps(t *testing.T, steps []Step) {
	t.Helper()
	var stages []string
	started, done := map[string]int{}, map[string]int{}
	for _, s := range steps {
		switch {
		case s.Stage != StageFlow:
			stages = append(stages, fmt.Sprintf("%s %v", s.Stage, s.Done))
		case !s.Done:
			started[s.Flow]++
		default:
			done[s.Flow]++
			if s.Result == nil || s.Result.Name != s.Flow {
				t.Errorf("flow %s done without its line: %+v", s.Flow, s.Result)
			}
		}
	}
	want := "network false,network true,gateways false,gateways true,data false,data true,verify false,verify true"
	if got := strings.Join(stages, ","); got != want {
		t.Errorf("stages %s, want %s", got, want)
	}
	for _, f := range FlowNames() {
		if started[f] != 1 || done[f] != 1 {
			t.Errorf("flow %s started %d times, done %d times; want once each", f, started[f], done[f])
		}
	}
}

// TestSimComuneServesConsultations starts `porta sim comune` as a real process and consults its
// registry through the province's gateway, run in-process from the same network directory.
func TestSimComuneServesConsultations(t *testing.T) {
	dir := t.TempDir()
	proc := proctest.Start(t, "sim-comune", proctest.Binary(t), []string{"sim", "comune", "--dir", dir, "--workers", "30"})
	proc.WaitFor(regexp.MustCompile(`porta sim: running`), 30*time.Second)

	ctx, cancel := context.WithCancel(context.Background())
	prov, err := StartPeer(ctx, dir, pProvincia, nil, slog.New(slog.NewTextHandler(io.Discard, nil)), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); prov.Stop() }()
	password, err := ReadPassword(dir)
	if err != nil {
		t.Fatal(err)
	}
	// A subject the comune holds (read from its data) comes back; an unknown one is a fault.
	db, err := sqlx.Open("sqlite3", "file:"+filepath.Join(dir, pComune1, "backends.db")+"?mode=ro&_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var known string
	if err := db.Get(&known, `SELECT codice_fiscale FROM anpr_soggetti ORDER BY codice_fiscale LIMIT 1`); err != nil {
		t.Fatal(err)
	}
	c := &pdclient.PD{URL: prov.PD, Consumer: pProvincia, User: AppUser, Password: password}
	route := pdclient.Route{Provider: pComune1, Service: svcAnagrafe, Action: "consultazioneSoggetti"}
	kreq, _ := anagrafe.BuildRequest(anagrafe.Request{IDClient: "T0", From: pProvincia, To: pComune1, At: time.Now(), CodiceFiscale: known, Reference: time.Now().Add(-time.Hour), Motivo: "test", CasoUso: "C020"})
	a, err := c.Call(ctx, route, kreq)
	if err != nil {
		t.Fatalf("consulting %s: %v", known, err)
	}
	subs, err := anagrafe.ParseResponse(a.Payload)
	if err != nil || len(subs) != 1 || subs[0].CodiceFiscale != known {
		t.Fatalf("consulting %s: %+v, %v", known, subs, err)
	}
	unknown, err := codicefiscale.Generate("ROSSI", "MARIO", time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC), 'M', "H501")
	if err != nil {
		t.Fatal(err)
	}
	req, err := anagrafe.BuildRequest(anagrafe.Request{IDClient: "T1", From: pProvincia, To: pComune1, At: time.Now(), CodiceFiscale: unknown, Reference: time.Now().Add(-time.Hour), Motivo: "test", CasoUso: "C020"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Call(ctx, route, req)
	if err == nil || !strings.Contains(err.Error(), "fault") {
		t.Fatalf("consulting an unknown subject: %v, want a fault from the comune", err)
	}
	if err := proc.Stop(10 * time.Second); err != nil {
		t.Errorf("porta sim stop: %v\n%s", err, proc.Output())
	}
}

// checkRegistriesByResidence checks that each municipality's registry holds exactly the SIL's
// valid workers who reside in its comune, and that every residence change that moved a worker to
// the other comune was merged once, with the new comune.
func checkRegistriesByResidence(t *testing.T, dir string) {
	t.Helper()
	open := func(path string) *sqlx.DB {
		db, err := sqlx.Open("sqlite3", "file:"+path+"?mode=ro&_busy_timeout=5000")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	var rows []struct {
		CF      string `db:"codice_fiscale"`
		Comune  string `db:"res_comune"`
		Cognome string `db:"cognome"`
	}
	if err := open(filepath.Join(dir, pProvincia, "sil", "sil.db")).Select(&rows, `SELECT codice_fiscale, COALESCE(res_comune, '') AS res_comune, COALESCE(cognome, '') AS cognome FROM lavoratore`); err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string]bool{pComune1: {}, pComune2: {}}
	for _, r := range rows {
		party, ok := demoComuneOf[r.Comune]
		if !ok {
			t.Errorf("worker %s resides in %q, not in a comune of the network", r.CF, r.Comune)
			continue
		}
		if codicefiscale.Validate(r.CF) == nil && r.Cognome != "" {
			want[party][r.CF] = true
		}
	}
	istat := map[string]string{}
	for party, c := range demoComuni {
		istat[c.CodiceIstat] = party
	}
	moved := 0
	prov := open(filepath.Join(dir, pProvincia, "backends.db"))
	for party, cfs := range want {
		var held []struct {
			CF    string `db:"codice_fiscale"`
			Istat string `db:"res_istat"`
		}
		if err := open(filepath.Join(dir, party, "backends.db")).Select(&held, `SELECT codice_fiscale, res_istat FROM anpr_soggetti`); err != nil {
			t.Fatal(err)
		}
		if len(held) != len(cfs) {
			t.Errorf("%s's registry holds %d subjects, %d workers reside there", party, len(held), len(cfs))
		}
		for _, h := range held {
			if !cfs[h.CF] {
				t.Errorf("%s's registry holds %s, who does not reside there", party, h.CF)
			}
			if other := istat[h.Istat]; other != "" && other != party {
				moved++
				var merges int
				if err := prov.Get(&merges, `SELECT COUNT(*) FROM merge_log WHERE kind = 'anagrafe' AND record_key = ?`, h.CF); err != nil || merges != 1 {
					t.Errorf("%s moved from %s to %s: merged %d times (%v), want once", h.CF, party, other, merges, err)
				}
			}
		}
	}
	t.Logf("%d workers moved between the two comuni", moved)
}

package ops

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"porta/audit"
	"porta/internal/demo"
	"porta/internal/listen"
	"porta/internal/pdclient"
)

// exchangeNetwork runs the Provincia and Ministero gateways of the demo network in this process
// and makes them exchange: two SAP sent through the Provincia's PD (synchronous: request and
// reply), and one Candidatura to Borsa Lavoro, whose gateway is not running (one-way: it waits
// in the outbox). It returns the Provincia's gateway, whose trail the API reads, the busta IDs
// (the two SAP replies' and the Candidatura's), and a function that starts another gateway of
// the network.
func exchangeNetwork(t *testing.T) (*demo.Peer, []string, func(party string) *demo.Peer) {
	t.Helper()
	if testing.Short() {
		t.Skip("runs two gateways")
	}
	dir := t.TempDir()
	res := listen.NewReserved()
	t.Cleanup(func() { res.Close() })
	_, password, err := demo.BuildNetwork(dir, res)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	log := slog.New(slog.DiscardHandler)
	var peers []*demo.Peer
	t.Cleanup(func() {
		cancel()
		for _, p := range peers {
			p.Stop()
		}
	})
	start := func(name string) *demo.Peer {
		p, err := demo.StartPeer(ctx, dir, name, res, log, time.Now)
		if err != nil {
			t.Fatal(err)
		}
		peers = append(peers, p)
		return p
	}
	start("Ministero")
	prov := start("Provincia")
	pd := &pdclient.PD{URL: prov.PD, Consumer: "Provincia", User: demo.AppUser, Password: password, Timeout: 20 * time.Second}
	env, err := os.ReadFile("../testdata/labour/pd/invioSAP.xml")
	if err != nil {
		t.Fatal(err)
	}
	sap, err := audit.BodyContent(env)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := 0; i < 2; i++ {
		rep, err := pd.Call(ctx, pdclient.Route{Provider: "Ministero", Service: "SAP", Action: "invioSAP"}, bytes.TrimSpace(sap))
		if err != nil {
			t.Fatalf("SAP through the PD: %v", err)
		}
		ids = append(ids, rep.MessageID)
	}
	cand, err := os.ReadFile("../testdata/labour/outbound/candidatura/Candidatura-1.xml")
	if err != nil {
		t.Fatal(err)
	}
	if i := bytes.Index(cand, []byte("?>")); i >= 0 {
		cand = cand[i+2:]
	}
	rep, err := pd.Call(ctx, pdclient.Route{Provider: "BorsaLavoro", Service: "Candidatura", Action: "invioCandidatura"}, bytes.TrimSpace(cand))
	if err != nil {
		t.Fatalf("Candidatura through the PD: %v", err)
	}
	return prov, append(ids, rep.MessageID), start
}

// The API over the trail of a real exchange between two gateways.
func TestAPIOverAGatewayExchange(t *testing.T) {
	prov, ids, _ := exchangeNetwork(t)
	s := prov.Opened.Audit
	if s == nil {
		t.Fatal("the gateway's store is not the audit store")
	}
	addOperators(t, s)
	var opened []string
	_, srv := server(t, Options{
		Store: s, Registry: prov.Opened.RegistryInUse,
		OpenBody: func(r *audit.Record) ([]byte, error) {
			opened = append(opened, r.ID)
			return r.Raw, nil
		},
	})

	// The listing: the PD's records of both SAP (request out, reply in) and the queued
	// Candidatura, newest first.
	r := do(t, srv, req{path: "/api/v1/transactions?service=SAP", user: "vera"}).want(t, "transactions", http.StatusOK)
	items := r.json["items"].([]any)
	if len(items) != 4 {
		t.Fatalf("%d SAP records, want 4 (two requests, two replies): %s", len(items), r.body)
	}
	first := items[0].(map[string]any)
	if first["service"] != "SAP" || first["function"] != "PortaDelegata" || first["key"] == "" {
		t.Errorf("a SAP record: %v", first)
	}
	outcomes := map[string]int{}
	for _, it := range items {
		outcomes[it.(map[string]any)["outcome"].(string)]++
	}
	if outcomes["sent"] != 2 || outcomes["received"] != 2 {
		t.Errorf("SAP outcomes %v, want 2 sent and 2 received", outcomes)
	}
	for _, q := range []struct {
		query string
		n     int
	}{
		{"service=SAP&action=invioSAP&outcome=sent", 2},
		{"party=BorsaLavoro", 1},
		{"service=Candidatura&outcome=queued", 1},
		{"id=" + url.QueryEscape(ids[0]), 1}, // the PD answers with the reply's Identificatore
		{"service=SAP&from=2000-01-01&to=2000-01-02", 0},
	} {
		r := do(t, srv, req{path: "/api/v1/transactions?" + q.query, user: "vera"}).want(t, q.query, http.StatusOK)
		if n := len(r.json["items"].([]any)); n != q.n {
			t.Errorf("%s: %d records, want %d\n%s", q.query, n, q.n, r.body)
		}
	}
	do(t, srv, req{path: "/api/v1/transactions?from=yesterday", user: "vera"}).want(t, "a bad time", http.StatusBadRequest)
	r = do(t, srv, req{path: "/api/v1/transactions?cf=PRSDNL79R51Z129X", user: "vera"}).want(t, "cf before the business-id index", http.StatusNotImplemented)

	// Paging by cursor walks every record once.
	seen := map[string]bool{}
	cursor := ""
	for page := 0; ; page++ {
		r := do(t, srv, req{path: "/api/v1/transactions?limit=2&cursor=" + cursor, user: "vera"}).want(t, "a page", http.StatusOK)
		for _, it := range r.json["items"].([]any) {
			k := it.(map[string]any)["key"].(string)
			if seen[k] {
				t.Fatalf("record %s on two pages", k)
			}
			seen[k] = true
		}
		if cursor = r.json["next_cursor"].(string); cursor == "" || page > 10 {
			break
		}
	}
	if len(seen) != 5 {
		t.Errorf("paging saw %d records, want 5", len(seen))
	}
	do(t, srv, req{path: "/api/v1/transactions?cursor=garbage!", user: "vera"}).want(t, "a bad cursor", http.StatusBadRequest)

	// The detail of the first SAP: its exchange, timings, chain; the body for an admin only.
	r = do(t, srv, req{path: "/api/v1/transactions/" + url.PathEscape(ids[0]), user: "vera"}).want(t, "detail", http.StatusOK)
	rec := r.json["record"].(map[string]any)
	if rec["id"] != ids[0] || rec["service"] != "SAP" || rec["action"] != "invioSAP" || rec["body_mode"] != "full" {
		t.Errorf("detail record: %v", rec)
	}
	if !strings.Contains(r.json["header"].(string), ids[0]) {
		t.Errorf("the header does not hold the Identificatore")
	}
	if ex := r.json["exchange"].([]any); len(ex) != 2 {
		t.Errorf("exchange of %d records, want the request and its reply", len(ex))
	}
	chain := r.json["chain"].(map[string]any)
	if chain["verifies"] != true || chain["node"] != "Provincia" && chain["node"] == "" {
		t.Errorf("chain: %v", chain)
	}
	body := r.json["body"].(map[string]any)
	if body["visible"] != false || body["envelope"] != nil || !strings.Contains(body["reason"].(string), "admin") {
		t.Errorf("a viewer sees the body: %v", body)
	}
	r = do(t, srv, req{path: "/api/v1/transactions/" + url.PathEscape(ids[0]), user: "ada"}).want(t, "detail for an admin", http.StatusOK)
	body = r.json["body"].(map[string]any)
	if body["visible"] != true || !strings.Contains(body["envelope"].(string), "invioSAP") || len(opened) != 1 || opened[0] != ids[0] {
		t.Errorf("an admin's body (opened %v): %v", opened, body)
	}
	key := rec["key"].(string)
	r = do(t, srv, req{path: "/api/v1/transactions/" + key, user: "vera"}).want(t, "detail by NODE/SEQ", http.StatusOK)
	if r.json["record"].(map[string]any)["id"] != ids[0] {
		t.Errorf("detail by key %s: %v", key, r.json["record"])
	}
	do(t, srv, req{path: "/api/v1/transactions/no-such-busta", user: "vera"}).want(t, "an unknown busta", http.StatusNotFound)

	// The admin's view of the body is in the trail, and the trail still verifies.
	views := 0
	for _, rec := range operatorActions(t, s) {
		if rec.Outcome == ActionBodyView && rec.Application == "ada" && strings.Contains(rec.Detail, ids[0]) {
			views++
		}
	}
	if views != 1 {
		t.Errorf("%d body views of ada traced, want 1", views)
	}
	if _, err := s.Verify(context.Background(), audit.VerifyOptions{}); err != nil {
		t.Errorf("the trail does not verify: %v", err)
	}
	// Operator actions are not transactions.
	r = do(t, srv, req{path: "/api/v1/transactions", user: "vera"}).want(t, "all transactions", http.StatusOK)
	if n := len(r.json["items"].([]any)); n != 5 {
		t.Errorf("%d records in the listing, want the 5 of the exchanges", n)
	}

	// Statistics: two SAP transactions, each with a latency (request to reply).
	r = do(t, srv, req{path: "/api/v1/stats?by=service&interval=hour", user: "vera"}).want(t, "stats", http.StatusOK)
	var sapRow map[string]any
	for _, row := range r.json["rows"].([]any) {
		if row := row.(map[string]any); row["key"] == "SAP" {
			sapRow = row
		}
	}
	if sapRow == nil || fmt.Sprint(sapRow["count"]) != "2" || fmt.Sprint(sapRow["latency_samples"]) != "2" || fmt.Sprint(sapRow["errors"]) != "0" {
		t.Fatalf("SAP row: %v\n%s", sapRow, r.body)
	}
	if p50 := fmt.Sprint(sapRow["p50_ms"]); p50 == "0" {
		t.Errorf("SAP latency p50 of 0 ms: the request and reply records were not paired")
	}
	r = do(t, srv, req{path: "/api/v1/stats?by=party&interval=month", user: "vera"}).want(t, "stats by party", http.StatusOK)
	parties := map[string]string{}
	for _, row := range r.json["rows"].([]any) {
		row := row.(map[string]any)
		parties[row["key"].(string)] = fmt.Sprint(row["count"])
	}
	if parties["Ministero"] != "2" || parties["BorsaLavoro"] != "1" {
		t.Errorf("transactions by peer: %v", parties)
	}
	r = do(t, srv, req{path: "/api/v1/stats?by=outcome", user: "vera", header: map[string]string{"Accept": "text/csv"}}).want(t, "stats as CSV", http.StatusOK)
	lines, err := csv.NewReader(bytes.NewReader(r.body)).ReadAll()
	if err != nil || len(lines) != 2 || strings.Join(lines[0], ",") != strings.Join(statsCSVHeader, ",") || lines[1][1] != "ok" || lines[1][2] != "3" {
		t.Errorf("CSV (%v):\n%s", err, r.body)
	}
	do(t, srv, req{path: "/api/v1/stats?by=weather", user: "vera"}).want(t, "a bad by", http.StatusBadRequest)

	// The outbox holds the Candidatura for Borsa Lavoro, whose gateway is down.
	r = do(t, srv, req{path: "/api/v1/outbox", user: "vera"}).want(t, "outbox", http.StatusOK)
	found := false
	for _, it := range r.json["items"].([]any) {
		found = found || it.(map[string]any)["msg_id"] == ids[2]
	}
	if !found || r.json["state"] != "pending" {
		t.Errorf("the Candidatura %s is not pending in the outbox: %s", ids[2], r.body)
	}

	// The registry without secrets, with the certificates' expiry.
	r = do(t, srv, req{path: "/api/v1/registry", user: "ada"}).want(t, "registry", http.StatusOK)
	if strings.Contains(string(r.body), "pbkdf2") || strings.Contains(strings.ToLower(string(r.body)), "password") {
		t.Errorf("the registry view shows a secret:\n%s", r.body)
	}
	var ministero map[string]any
	for _, p := range r.json["parties"].([]any) {
		if p := p.(map[string]any); p["name"] == "Ministero" {
			ministero = p
		}
	}
	if ministero == nil || len(ministero["certificates"].([]any)) == 0 {
		t.Fatalf("no Ministero with certificates: %s", r.body)
	}
	if days := ministero["certificates"].([]any)[0].(map[string]any)["days_left"]; fmt.Sprint(days) == "0" {
		t.Errorf("a fresh certificate with 0 days left")
	}
}

// An outbox message the gateway gave up on, requeued by an operator once its receiver is back,
// is delivered: the operator's requeue and the delivery are both in the trail.
func TestRequeueDelivers(t *testing.T) {
	prov, ids, start := exchangeNetwork(t)
	s := prov.Opened.Audit
	addOperators(t, s)
	_, srv := server(t, Options{Store: s})
	cand := ids[2]
	// Borsa Lavoro is down: the worker retries; it gives up as it does past its deadline.
	if err := s.Fail(context.Background(), audit.Outbox, cand, "expired: Borsa Lavoro did not answer"); err != nil {
		t.Fatal(err)
	}
	r := do(t, srv, req{path: "/api/v1/outbox?state=failed", user: "vera"}).want(t, "failed outbox", http.StatusOK)
	if items := r.json["items"].([]any); len(items) != 1 || items[0].(map[string]any)["msg_id"] != cand {
		t.Fatalf("failed outbox: %s", r.body)
	}
	start("BorsaLavoro")
	do(t, srv, req{method: "POST", path: "/api/v1/outbox/" + url.PathEscape(cand) + "/requeue", user: "vera"}).want(t, "a viewer requeues", http.StatusForbidden)
	do(t, srv, req{method: "POST", path: "/api/v1/outbox/" + url.PathEscape(cand) + "/requeue", user: "otto"}).want(t, "an operator requeues", http.StatusOK)
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := s.Stats(context.Background(), audit.Outbox)
		if err != nil {
			t.Fatal(err)
		}
		if st.Depth == 0 && st.Failed == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the requeued Candidatura was not delivered in 30 s: %+v", st)
		}
		time.Sleep(50 * time.Millisecond)
	}
	r = do(t, srv, req{path: "/api/v1/transactions?id=" + url.QueryEscape(cand), user: "vera"}).want(t, "the Candidatura's records", http.StatusOK)
	outcomes := map[string]bool{}
	for _, it := range r.json["items"].([]any) {
		outcomes[it.(map[string]any)["outcome"].(string)] = true
	}
	if !outcomes["queued"] || !outcomes["received"] {
		// Queued by the PD; once requeued, sent and acknowledged: the riscontro received.
		t.Errorf("the Candidatura's outcomes %v: want queued, then its riscontro received\n%s", outcomes, r.body)
	}
	// In the statistics the one-way is one Candidatura transaction, its latency from queued to
	// acknowledged (its riscontro names no service).
	r = do(t, srv, req{path: "/api/v1/stats?by=service", user: "vera"}).want(t, "stats", http.StatusOK)
	var row map[string]any
	for _, x := range r.json["rows"].([]any) {
		if x := x.(map[string]any); x["key"] == "Candidatura" {
			row = x
		}
	}
	if row == nil || fmt.Sprint(row["count"]) != "1" || fmt.Sprint(row["latency_samples"]) != "1" {
		t.Errorf("the Candidatura in the statistics: %v\n%s", row, r.body)
	}
	found := false
	for _, rec := range operatorActions(t, s) {
		found = found || rec.Outcome == ActionRequeue && rec.Application == "otto" && strings.Contains(rec.Detail, cand)
	}
	if !found {
		t.Error("otto's requeue is not in the trail")
	}
}

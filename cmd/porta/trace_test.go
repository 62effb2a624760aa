package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"porta/audit"
	"porta/gateway/node"
)

const traceEnvelope = `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Header>%s</soap:Header><soap:Body><lav:Scheda xmlns:lav="urn:lavoro"><lav:CF>RSSMRA80A01H501U</lav:CF></lav:Scheda></soap:Body></soap:Envelope>`

const traceHeader = `<eGov_IT:Intestazione xmlns:eGov_IT="http://www.cnipa.it/schemas/2003/eGovIT/Busta1_0/"><eGov_IT:Messaggio><eGov_IT:Identificatore>%s</eGov_IT:Identificatore></eGov_IT:Messaggio></eGov_IT:Intestazione>`

func traceID(n int) string {
	return fmt.Sprintf("Provincia_ProvinciaSPCoopIT_%07d_2026-11-28_09:15", n)
}

// traceStore writes a small trail: an exchange (request 1 out, reply 2 and ack 3 in relating to
// it) and a refused busta 4 from another party.
func traceStore(t *testing.T) string {
	t.Helper()
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "audit.db")
	s, err := audit.Open(context.Background(), dsn, audit.Options{Node: "gw1", BodyMode: audit.BodyHeader})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	base := time.Date(2026, 11, 28, 9, 15, 0, 0, time.UTC)
	for n, r := range []*audit.Record{
		{Direction: audit.Out, Sender: "Provincia", Receiver: "Ministero", Service: "SchedaLavoratore", Action: "Invia", Outcome: "sent"},
		{Direction: audit.In, Sender: "Ministero", Receiver: "Provincia", Service: "SchedaLavoratore", Action: "Invia", Outcome: "received", RelatesTo: traceID(1)},
		{Direction: audit.In, Sender: "Ministero", Receiver: "Provincia", Service: "SchedaLavoratore", Outcome: "acked", RelatesTo: traceID(1)},
		{Direction: audit.In, Sender: "Comune", Receiver: "Provincia", Service: "Anagrafe", Action: "Consulta", Outcome: "error",
			Exceptions: []audit.Exception{{Code: "EGOV_IT_201", Severity: "GRAVE", Position: "Mittente"}}, HTTPStatus: 500},
	} {
		id := traceID(n + 1)
		r.ID, r.Transaction, r.Recorded, r.Time = id, fmt.Sprintf("tx%d", n+1), base.Add(time.Duration(n)*time.Minute), base
		r.Header = []byte(fmt.Sprintf(traceHeader, id))
		r.Raw = []byte(fmt.Sprintf(traceEnvelope, r.Header))
		if err := s.Append(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	return dsn
}

func runTrace(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = run(args, strings.NewReader(""), &o, &e)
	return code, o.String(), e.String()
}

func TestTraceVerify(t *testing.T) {
	dsn := traceStore(t)
	code, out, errOut := runTrace("trace", "verify", "--store", dsn)
	if code != 0 || !strings.Contains(out, "OK: 4 records in 1 chains") || !strings.Contains(out, "head gw1:4:") {
		t.Fatalf("verify = %d\n%s%s", code, out, errOut)
	}
	anchor := strings.TrimPrefix(strings.TrimSpace(out[strings.Index(out, "head "):]), "head ")
	if code, _, errOut := runTrace("trace", "verify", "--store", dsn, "--anchor", anchor); code != 0 {
		t.Fatalf("verify with its own head as anchor = %d: %s", code, errOut)
	}
	// Edit a row behind the store's back.
	s, err := audit.Open(context.Background(), dsn, audit.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB().Exec(`UPDATE trace SET outcome = 'delivered' WHERE seq = 2`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	code, out, errOut = runTrace("trace", "verify", "--store", dsn)
	if code != 1 || !strings.Contains(errOut, "broken at record 2 (busta "+traceID(2)+"): edited") {
		t.Errorf("verify after an edit = %d\n%s%s", code, out, errOut)
	}
	code, out, _ = runTrace("trace", "verify", "--store", dsn, "--json")
	var rep struct {
		OK     bool `json:"ok"`
		Broken struct {
			Seq  int64  `json:"seq"`
			Kind string `json:"kind"`
		} `json:"broken"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 1 || rep.OK || rep.Broken.Seq != 2 || rep.Broken.Kind != "edited" {
		t.Errorf("verify --json = %d %s (%v)", code, out, err)
	}
}

func TestTraceList(t *testing.T) {
	dsn := traceStore(t)
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{nil, []string{traceID(4), traceID(3), traceID(2), traceID(1)}},
		{[]string{"--party", "Comune"}, []string{traceID(4)}},
		{[]string{"--service", "SchedaLavoratore", "--limit", "2"}, []string{traceID(3), traceID(2)}},
		{[]string{"--id", traceID(1)}, []string{traceID(3), traceID(2), traceID(1)}},
		{[]string{"--outcome", "error"}, []string{traceID(4)}},
		{[]string{"--direction", "out"}, []string{traceID(1)}},
		{[]string{"--from", "2026-11-28T09:16:00Z", "--to", "2026-11-28T09:18:00Z"}, []string{traceID(3), traceID(2)}},
		{[]string{"--party", "Nessuno"}, []string{}},
	} {
		code, out, errOut := runTrace(append([]string{"trace", "list", "--store", dsn, "--json"}, tc.args...)...)
		var rs []audit.Record
		if err := json.Unmarshal([]byte(out), &rs); code != 0 || err != nil {
			t.Fatalf("list %v = %d %v\n%s", tc.args, code, err, errOut)
		}
		var ids []string
		for _, r := range rs {
			ids = append(ids, r.ID)
		}
		if strings.Join(ids, " ") != strings.Join(tc.want, " ") {
			t.Errorf("list %v = %v, want %v", tc.args, ids, tc.want)
		}
	}
	code, out, _ := runTrace("trace", "list", "--store", dsn, "--outcome", "error")
	if code != 0 || !strings.Contains(out, "gw1/4") || !strings.Contains(out, "Comune -> Provincia") || !strings.Contains(out, "Anagrafe/Consulta") {
		t.Errorf("list table:\n%s", out)
	}
	for _, bad := range [][]string{{"--from", "yesterday"}, {"--direction", "sideways"}, {"--limit", "0"}, {"extra"}} {
		if code, _, errOut := runTrace(append([]string{"trace", "list", "--store", dsn}, bad...)...); code != 2 || errOut == "" {
			t.Errorf("list %v = %d, want 2 with a message", bad, code)
		}
	}
	if code, _, errOut := runTrace("trace", "list"); code != 2 || !strings.Contains(errOut, "--store") {
		t.Errorf("list without a store = %d %q", code, errOut)
	}
	if code, _, errOut := runTrace("trace", "list", "--store", filepath.Join(t.TempDir(), "none.db")); code != 2 || !strings.Contains(errOut, "no store at") {
		t.Errorf("list of a missing store = %d %q", code, errOut)
	}
}

func TestTraceShow(t *testing.T) {
	dsn := traceStore(t)
	code, out, errOut := runTrace("trace", "show", "--store", dsn, traceID(2))
	if code != 0 {
		t.Fatalf("show = %d: %s", code, errOut)
	}
	for _, want := range []string{
		"Record                gw1/2",
		"RiferimentoMessaggio  " + traceID(1),
		"Body mode             header",
		"Intestazione:\n<eGov_IT:Intestazione xmlns:eGov_IT=\"http://www.cnipa.it/schemas/2003/eGovIT/Busta1_0/\">\n  <eGov_IT:Messaggio>\n    <eGov_IT:Identificatore>" + traceID(2) + "</eGov_IT:Identificatore>\n",
		"Envelope (header):\n<soap:Envelope",
		"  <soap:Body></soap:Body>",
		"Exchange (3 records):",
		"*  2026-11-28",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("show output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "RSSMRA80A01H501U") {
		t.Error("show printed a body the header body mode should have dropped")
	}
	code, out, _ = runTrace("trace", "show", "--store", dsn, "--json", "tx4")
	var ex audit.Exchange
	if err := json.Unmarshal([]byte(out), &ex); code != 0 || err != nil || ex.Record.ID != traceID(4) || len(ex.Record.Exceptions) != 1 || len(ex.Exchange) != 1 {
		t.Errorf("show --json tx4 = %d %v %+v", code, err, ex.Record)
	}
	if code, _, errOut := runTrace("trace", "show", "--store", dsn, "nothing"); code != 1 || !strings.Contains(errOut, "no such record") {
		t.Errorf("show of an unknown key = %d %q", code, errOut)
	}
	if code, _, _ := runTrace("trace", "show", "--store", dsn); code != 2 {
		t.Errorf("show without a key = %d, want 2", code)
	}
}

// TestTraceConfig reads the store named by a porta.yaml written by porta init.
func TestTraceConfig(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "prov")
	if code, _, errOut := runTrace("init", "--party", "Provincia", "--dir", dir, "--alg", "ecdsa-p256"); code != 0 {
		t.Fatalf("porta init = %d: %s", code, errOut)
	}
	cfgPath := filepath.Join(dir, "porta.yaml")
	if code, _, errOut := runTrace("trace", "list", "--config", cfgPath); code != 2 || !strings.Contains(errOut, "porta.db") {
		t.Errorf("list before the gateway ever ran = %d %q; want a message naming the missing store", code, errOut)
	}
	s, err := audit.Open(context.Background(), "sqlite:"+filepath.Join(dir, "porta.db"), audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := &audit.Record{ID: traceID(1), Direction: audit.Out, Outcome: "sent", Sender: "Provincia", Receiver: "Ministero", Service: "S"}
	if err := s.Append(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	s.Close()
	code, out, errOut := runTrace("trace", "list", "--config", cfgPath)
	if code != 0 || !strings.Contains(out, traceID(1)) {
		t.Errorf("list --config = %d\n%s%s", code, out, errOut)
	}
	if code, out, _ := runTrace("trace", "verify", "--config", cfgPath); code != 0 || !strings.Contains(out, "OK: 1 records") {
		t.Errorf("verify --config = %d\n%s", code, out)
	}
}

// TestTraceListByBusinessID: --id cf=VALUE finds the records that carried the codice fiscale, with
// the index key porta init wrote and porta.yaml names; without --config there is no key to search by.
func TestTraceListByBusinessID(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "prov")
	if code, _, errOut := runTrace("init", "--party", "Provincia", "--dir", dir, "--alg", "ecdsa-p256"); code != 0 {
		t.Fatalf("porta init = %d: %s", code, errOut)
	}
	cfgPath := filepath.Join(dir, "porta.yaml")
	cfg, err := node.LoadConfig(cfgPath)
	if err != nil || len(cfg.TraceIndexKey) == 0 {
		t.Fatalf("porta init's config: index key %d bytes, %v", len(cfg.TraceIndexKey), err)
	}
	s, err := audit.Open(context.Background(), cfg.Store, audit.Options{IndexKey: cfg.TraceIndexKey})
	if err != nil {
		t.Fatal(err)
	}
	for n, cf := range []string{"RSSMRA80A01H501U", "PRSDNL79R51Z129X", "RSSMRA80A01H501U"} {
		r := &audit.Record{ID: traceID(n + 1), Direction: audit.Out, Outcome: "sent", Sender: "Provincia", Receiver: "Ministero", Service: "SAP",
			IDs: []audit.BusinessID{{Name: "cf", Value: cf}}}
		if err := s.Append(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	code, out, errOut := runTrace("trace", "list", "--config", cfgPath, "--id", "cf=rssmra80a01h501u")
	if code != 0 || !strings.Contains(out, traceID(1)) || !strings.Contains(out, traceID(3)) || strings.Contains(out, traceID(2)) {
		t.Errorf("list --id cf=... = %d\n%s%s", code, out, errOut)
	}
	if code, _, errOut := runTrace("trace", "list", "--store", cfg.Store, "--id", "cf=RSSMRA80A01H501U"); code != 2 || !strings.Contains(errOut, "--config") {
		t.Errorf("list --id cf=... without the key = %d %q; want 2 naming --config", code, errOut)
	}
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"porta/audit"
	"porta/envelope"
	"porta/gateway/node"
)

// runPorta calls run with stdin and returns the exit code and both outputs.
func runPorta(t *testing.T, stdin []byte, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, bytes.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

const wrapPayload = `<?xml version="1.0"?><d:Richiesta xmlns:d="urn:porta:test:did"><d:CF>RSSMRA85T10A562S</d:CF></d:Richiesta>`

func TestEnvelopeWrapValidate(t *testing.T) {
	common := []string{"envelope", "wrap", "--from", "ProvinciaTorino", "--to", "SPC:RegionePiemonte", "--service", "DID", "--action", "Consulta"}
	ref := "RegionePiemonte_RegionePiemonteSPCoopIT_0000003_2026-11-28_09:30"
	tests := []struct {
		name  string
		extra []string
		check func(t *testing.T, h *envelope.Header)
	}{
		{"oneway default", nil, func(t *testing.T, h *envelope.Header) {
			if h.Profile != envelope.OneWay || h.Transmission != nil || h.Conversation != "" {
				t.Errorf("%+v", h)
			}
		}},
		{"sync with relates-to", []string{"--profile", "sync", "--relates-to", ref}, func(t *testing.T, h *envelope.Header) {
			if h.Profile != envelope.Sync || h.RelatesTo != ref {
				t.Errorf("%+v", h)
			}
		}},
		{"async conversation defaults to own id", []string{"--profile", "async-symmetric", "--once", "--ack"}, func(t *testing.T, h *envelope.Header) {
			if h.Conversation != h.ID || !h.Transmission.AtMostOnce || !h.Transmission.AckRequested {
				t.Errorf("%+v", h)
			}
		}},
		{"async-asymmetric with conversation and expiry", []string{"--profile", "async-asymmetric", "--conversation", ref, "--expires", "2030-01-02T03:04:05Z", "--port-id", "PDDProvincia"}, func(t *testing.T, h *envelope.Header) {
			if h.Conversation != ref || h.Expires == nil || h.Expires.UTC().Format("2006-01-02T15:04:05") != "2030-01-02T03:04:05" {
				t.Errorf("%+v", h)
			}
			if err := envelope.ValidateIDOwner(h.ID, "ProvinciaTorino", "PDDProvincia"); err != nil {
				t.Error(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := runPorta(t, []byte(wrapPayload), append(append([]string{}, common...), tt.extra...)...)
			if code != 0 {
				t.Fatalf("wrap exit %d: %s", code, errs)
			}
			if !strings.Contains(out, "<d:Richiesta") {
				t.Errorf("payload missing: %s", out)
			}
			code, js, verrs := runPorta(t, []byte(out), "envelope", "validate")
			if code != 0 {
				t.Fatalf("validate exit %d: %s\n%s", code, verrs, out)
			}
			var h envelope.Header
			if err := json.Unmarshal([]byte(js), &h); err != nil {
				t.Fatalf("%v: %s", err, js)
			}
			if h.Sender[0].Name != "ProvinciaTorino" || h.Receiver != (envelope.Party{Type: "SPC", Name: "RegionePiemonte"}) || h.Service != "DID" || h.Action != "Consulta" {
				t.Errorf("header %+v", h)
			}
			// Without --config the counter is the run's own, and the command says so.
			if !strings.Contains(h.ID, "_0000001_") || !strings.Contains(errs, "no --config: "+h.ID+" comes from this run's own counter") {
				t.Errorf("identifier %s, stderr %q", h.ID, errs)
			}
			tt.check(t, &h)
		})
	}
	// A file argument and an empty payload.
	f := filepath.Join(t.TempDir(), "empty.xml")
	os.WriteFile(f, nil, 0o600)
	code, out, errs := runPorta(t, nil, append(append([]string{}, common...), f)...)
	if code != 0 || !strings.Contains(out, "<soapenv:Body/>") {
		t.Errorf("empty payload: %d %s %s", code, out, errs)
	}
}

func TestEnvelopeWrapErrors(t *testing.T) {
	base := []string{"envelope", "wrap", "--from", "A", "--to", "B", "--service", "S", "--action", "X"}
	tests := []struct {
		args  []string
		stdin string
		want  string
	}{
		{[]string{"envelope", "wrap"}, "", "--from, --to, --service, --action required"},
		{append(append([]string{}, base...), "--profile", "broadcast"), "", `--profile "broadcast"`},
		{append(append([]string{}, base...), "--relates-to", "nope"), "", "--relates-to: identifier \"nope\""},
		{append(append([]string{}, base...), "--expires", "tomorrow"), "", `--expires "tomorrow"`},
		{append(append([]string{}, base[:3]...), "Pro_vincia", "--to", "B", "--service", "S", "--action", "X"), "", "letters and digits"},
		{append(append([]string{}, base...), "--port-id", "a_b"), "", `--port-id "a_b"`},
		{base, "<a><b></a>", "stdin: payload: xml"},
		{base, "<!DOCTYPE a><a/>", "DOCTYPE"},
		{append(append([]string{}, base...), "x.xml", "y.xml"), "", "one FILE at most"},
	}
	for _, tt := range tests {
		code, out, errs := runPorta(t, []byte(tt.stdin), tt.args...)
		if code == 0 || out != "" || !strings.Contains(errs, tt.want) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want stderr with %q", tt.args, code, out, errs, tt.want)
		}
	}
	if code, out, errs := runPorta(t, nil, "envelope", "wrap", "--help"); code != 0 || !strings.Contains(out, "Usage: porta envelope wrap") {
		t.Errorf("--help: %d %s", code, errs)
	}
}

func TestEnvelopeValidateReportsEveryProblem(t *testing.T) {
	golden, err := os.ReadFile("../../testdata/envelope/oneway.xml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		doc   string
		lines []string
	}{
		{"not xml", "<a", []string{"EGOV_IT_001: Envelope: xml: "}},
		{"no busta", `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body/></s:Envelope>`, []string{"EGOV_IT_001: Intestazione: "}},
		{"three header errors and schema", strings.NewReplacer(
			"EGOV_IT_MessaggioSingoloOneWay", "Broadcast",
			`tempo="EGOV_IT_SPC"`, `tempo="UTC"`,
			"_0000001_2026", "_01_2026").Replace(string(golden)),
			[]string{
				"EGOV_IT_103: ProfiloCollaborazione: ",
				"EGOV_IT_108: Messaggio/OraRegistrazione/tempo: ",
				"EGOV_IT_110: Messaggio/Identificatore: ",
				"EGOV_IT_002: ProfiloCollaborazione: schema: line ",
			}},
		{"bad fault", strings.Replace(string(golden), "<soapenv:Body>", "<soapenv:Body><soapenv:Fault><faultcode>soapenv:Client</faultcode><faultstring>oops</faultstring></soapenv:Fault>", 1),
			[]string{"EGOV_IT_003: Body: "}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := runPorta(t, []byte(tt.doc), "envelope", "validate")
			if code != 1 || out != "" {
				t.Errorf("exit %d stdout %q", code, out)
			}
			for _, l := range tt.lines {
				if !strings.Contains(errs, "\n"+l) && !strings.HasPrefix(errs, l) {
					t.Errorf("stderr lacks a line starting %q:\n%s", l, errs)
				}
			}
		})
	}
	code, out, errs := runPorta(t, golden, "envelope", "validate")
	if code != 0 || !strings.HasPrefix(out, `{"sender":[{"type":"SPC","name":"ProvinciaTorino"}]`) || !strings.Contains(out, `"profile":"oneway"`) {
		t.Errorf("golden: %d %s %s", code, out, errs)
	}
}

// porta envelope wrap --config draws from the counter the gateway draws from (its store), so a
// gateway and the command line never mint the same Identificatore, even while the gateway holds
// a reserved block it has not used up.
func TestEnvelopeWrapSharesGatewayCounter(t *testing.T) {
	dir := t.TempDir()
	if code, _, errs := runPorta(t, nil, "init", "--party", "Provincia", "--dir", dir, "--alg", "ecdsa-p256"); code != 0 {
		t.Fatalf("porta init: %s", errs)
	}
	cfgPath := filepath.Join(dir, "porta.yaml")
	wrap := []string{"envelope", "wrap", "--config", cfgPath, "--to", "Ministero", "--service", "SAP", "--action", "invioSAP"}

	// No store yet: refused, and none is created.
	cfg, err := node.LoadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if code, _, errs := runPorta(t, []byte(wrapPayload), wrap...); code != 1 || !strings.Contains(errs, "no store at") || !strings.Contains(errs, "is this the right --config") {
		t.Errorf("wrap without a store: exit %d, %s", code, errs)
	}
	if _, err := os.Stat(strings.TrimPrefix(cfg.Store, "sqlite:")); !os.IsNotExist(err) {
		t.Errorf("wrap created the store: %v", err)
	}

	// The gateway's store and a generator as the gateway makes it (a block of 64 reserved).
	ctx := context.Background()
	st, err := audit.Open(ctx, cfg.Store, audit.Options{Node: cfg.Node})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	gw := envelope.NewIDGenerator("Provincia", envelope.DefaultPortID("Provincia"), nil, st)
	seen := map[string]string{}
	mint := func(who, id string) {
		if prev, dup := seen[id]; dup {
			t.Errorf("%s minted %s, already minted by %s", who, id, prev)
		}
		seen[id] = who
	}
	for round := 0; round < 3; round++ {
		for range 2 {
			id, err := gw.Next(ctx)
			if err != nil {
				t.Fatal(err)
			}
			mint("the gateway", id)
		}
		code, out, errs := runPorta(t, []byte(wrapPayload), wrap...)
		if code != 0 || strings.Contains(errs, "no --config") {
			t.Fatalf("wrap --config: exit %d, %s", code, errs)
		}
		code, js, errs := runPorta(t, []byte(out), "envelope", "validate")
		var h envelope.Header
		if err := json.Unmarshal([]byte(js), &h); code != 0 || err != nil {
			t.Fatalf("validate: %d %v %s", code, err, errs)
		}
		if h.Sender[0].Name != "Provincia" {
			t.Errorf("sender %+v, want the gateway's party", h.Sender)
		}
		mint("porta envelope wrap", h.ID)
	}

	if code, _, errs := runPorta(t, nil, append(wrap, "--from", "Comune")...); code != 1 || !strings.Contains(errs, "hosts Provincia, not Comune") {
		t.Errorf("--from a party the gateway does not host: exit %d, %s", code, errs)
	}
	if code, _, errs := runPorta(t, nil, append(wrap, "--port-id", "X")...); code != 2 || !strings.Contains(errs, "exclude each other") {
		t.Errorf("--port-id with --config: exit %d, %s", code, errs)
	}
}

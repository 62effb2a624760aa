package gateway

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"porta/adapters/labour"
	"porta/audit"
	"porta/internal/soapenv"
	"porta/internal/xmlsafe"
	"porta/registry"
)

// labourDirectory is a directory of the labour services as the network's registries declare them
// (adapters/labour's table, its business identifiers included), all provided by one hosted party.
func labourDirectory(t *testing.T) Directory {
	t.Helper()
	var b strings.Builder
	b.WriteString("parties:\n  - name: P\n    hosted: true\nservices:\n")
	for _, s := range labour.Services {
		fmt.Fprintf(&b, "  - provider: P\n    name: %s\n    profile: %s\n    consumers: [P]\n    delivery: {url: http://127.0.0.1:9/x}\n    actions:\n", s.Name, s.Profile)
		for _, a := range s.Actions {
			fmt.Fprintf(&b, "      - name: %s\n", a)
			if c := s.Correlated[a]; c != "" {
				fmt.Fprintf(&b, "        correlated: %s\n", c)
			}
		}
		if len(s.CF) > 0 {
			var q []string
			for _, p := range s.CF {
				q = append(q, strconv.Quote(p))
			}
			fmt.Fprintf(&b, "    trace:\n      ids: {cf: [%s]}\n", strings.Join(q, ", "))
		}
	}
	path := filepath.Join(t.TempDir(), "registry.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	reg, err := registry.Load(path, registry.Options{})
	if err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	d, err := NewDirectory(reg, nil, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// bodyOf parses a payload file (or a whole SOAP envelope) and returns its SOAP Body.
func bodyOf(t *testing.T, data []byte) *etree.Element {
	t.Helper()
	if !strings.Contains(string(data[:min(len(data), 300)]), "Envelope") {
		var err error
		if data, err = soapenv.Wrap(data); err != nil {
			t.Fatal(err)
		}
	}
	doc, err := xmlsafe.Parse(data, xmlsafe.DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	_, body, err := soapParts(doc)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// TestBusinessIDsLabourPayloads: the codice fiscale the labour services' registry entries point
// at is the person's in each payload (the worker's, the pupil's, the recipient's), never an
// employer's or an operator's, inside the SAP's embedded lavoratore too.
func TestBusinessIDsLabourPayloads(t *testing.T) {
	d := labourDirectory(t)
	for _, tc := range []struct {
		service, file string
		want          []string
	}{
		{"SAP", "pd/invioSAP.xml", []string{"PRSDNL79R51Z129X"}},
		{"SAP", "outbound/sap/invioSAP-1.xml", []string{"PRSDNL79R51Z129X"}},
		{"SAP", "outbound/sap/verificaEsistenzaSAP.xml", []string{"PRSDNL79R51Z129X"}},
		{"SAP", "outbound/sap/richiestaSAP.xml", nil},
		{"DID", "outbound/did/GestisciDID_Input-1.xml", []string{"CTTDRD98R12Z129N"}},
		{"Candidatura", "outbound/candidatura/Candidatura-1.xml", []string{"PRSDNL79R51Z129X"}},
		{"CVEuropass", "outbound/europass/SkillsPassport-1.xml", nil}, // a Europass CV carries no codice fiscale
		{"Anagrafe", "inbound/anagrafe/richiesta_e002.xml", []string{"RSSMRA77L18H501W"}},
		{"Anagrafe", "inbound/anagrafe/risposta_e002_residenza.xml", []string{"RSSMRA77L18H501W"}},
		{"Anagrafe", "inbound/anagrafe/risposta_ko_cf.xml", nil},
		{"FrequenzeScolastiche", "inbound/scuola/risposta_completata.xml", []string{"BNCGLI09E55A944D", "BRNSRA06M60L736L", "VRDLGU08C12A944E"}},
		{"FrequenzeScolastiche", "inbound/scuola/richiesta_estrazione.xml", nil},
		{"PercettoriSostegno", "inbound/inps/elenco_percettori.xml", nil},        // every Percettore's, counted below
		{"CatalogoFormazione", "inbound/formazione/pubblica_richiesta.xml", nil}, // an ente's code, not a person's
	} {
		data, err := os.ReadFile(filepath.Join("..", "testdata", "labour", tc.file))
		if err != nil {
			t.Fatal(err)
		}
		s, ok := d.Service("P", tc.service)
		if !ok {
			t.Fatalf("no service %s", tc.service)
		}
		var got []string
		for _, id := range businessIDs(s, bodyOf(t, data)) {
			if id.Name != "cf" {
				t.Errorf("%s: identifier named %q", tc.file, id.Name)
			}
			got = append(got, id.Value)
		}
		want := tc.want
		if tc.service == "PercettoriSostegno" {
			want = nil
			for _, part := range strings.Split(string(data), "<CodiceFiscale>")[1:] {
				want = append(want, part[:strings.Index(part, "<")])
			}
			if len(want) < 2 {
				t.Fatalf("%s: %d recipients", tc.file, len(want))
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s %s: %v, want %v", tc.service, tc.file, got, want)
		}
	}
}

// TestBusinessIDsCapped: a hostile payload's identifiers stop at audit.MaxRecordIDs; values too
// long to be identifiers are left out.
func TestBusinessIDsCapped(t *testing.T) {
	s, _ := labourDirectory(t).Service("P", "Anagrafe")
	var b strings.Builder
	b.WriteString(`<RichiestaE002 xmlns="urn:x"><criteriRicerca>`)
	fmt.Fprintf(&b, "<codiceFiscale>%s</codiceFiscale>", strings.Repeat("X", audit.MaxIDValue+1))
	for i := range 3 * audit.MaxRecordIDs {
		fmt.Fprintf(&b, "<codiceFiscale>CF%014d</codiceFiscale>", i)
	}
	b.WriteString(`</criteriRicerca></RichiestaE002>`)
	ids := businessIDs(s, bodyOf(t, []byte(b.String())))
	if len(ids) != audit.MaxRecordIDs || ids[0].Value != "CF00000000000000" {
		t.Errorf("%d identifiers, the first %v; want %d from CF00000000000000", len(ids), ids[:1], audit.MaxRecordIDs)
	}
	if none := businessIDs(&Service{Name: "X"}, bodyOf(t, []byte(b.String()))); none != nil {
		t.Errorf("a service without ids: %d identifiers", len(none))
	}
}

// TestBusinessIDSearchOnAuditStore: a synchronous exchange carrying a codice fiscale, between two
// gateways on the real audit store, is found by it on both: the request out and the reply in at
// the consumer, the request in and the reply out at the provider.
func TestBusinessIDSearchOnAuditStore(t *testing.T) {
	n, stores := newAuditNetwork(t)
	cf := registry.FieldPath{Expr: "//codiceFiscale", Path: etree.MustCompilePath(".//codiceFiscale")}
	for _, nd := range []*node{n.prov, n.min} {
		nd.dir.setService(min_, "Anagrafe", func(s *Service) {
			s.Trace.IDs = []registry.BusinessID{{Name: "cf", FieldPath: cf}}
		})
	}
	resp := n.prov.call(t, "/pd/Provincia/Ministero/Anagrafe/Consulta", nil)
	if body := readAll(t, resp); resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d\n%s", resp.StatusCode, body)
	}
	n.prov.call(t, "/pd/Provincia/Ministero/Notifica/Notifica", nil).Body.Close() // no ids declared
	for name, want := range map[string][]string{prov: {"in sent", "out sent"}, min_: {"out sent", "in received"}} {
		recs, err := stores[name].List(context.Background(), audit.Filter{BusinessID: audit.BusinessID{Name: "cf", Value: "rssmra85t10a562s"}})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range recs {
			got = append(got, string(r.Direction)+" "+r.Service)
			if r.Service != "Anagrafe" {
				t.Errorf("%s: found a %s record", name, r.Service)
			}
		}
		if len(got) != 2 || !strings.HasPrefix(got[0], want[0][:3]) || !strings.HasPrefix(got[1], want[1][:3]) {
			t.Errorf("%s: found %v, want the exchange's two records %v", name, got, want)
		}
	}
}

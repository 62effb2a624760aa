package registry

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fixture writes the TEST-ONLY certificates of testdata/pki beside a registry file in a fresh
// directory and returns the directory.
func fixture(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"rsa", "ecdsa", "expired", "ca"} {
		data, err := os.ReadFile(filepath.Join("..", "testdata", "pki", "test-"+f+".cert.pem"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f+".pem"), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// render returns findings as "file:line: msg" with the directory removed.
func render(ps Problems, dir string) []string {
	var out []string
	for _, p := range ps {
		p.File = strings.TrimPrefix(strings.TrimPrefix(p.File, dir), string(filepath.Separator))
		out = append(out, p.String())
	}
	return out
}

const head = `# the parties of every case
parties:
  - name: Provincia
    hosted: true
  - name: Ministero
    url: https://pdd.lavoro.example/pa
    certificates: [ecdsa.pem]
`

func TestCheckFindings(t *testing.T) {
	cases := []struct {
		name string
		yaml string
		now  time.Time // zero: 2030-01-01
		want []string
	}{
		{"clean", head, time.Time{}, nil},
		{"not YAML", "parties: [\n", time.Time{}, []string{
			"registry.yaml:1: not valid YAML: did not find expected node content"}},
		{"unknown top-level key", head + "servizi: []\n", time.Time{}, []string{
			"registry.yaml:8: the registry file has unknown key \"servizi\"; known keys: include, parties, services, applications"}},
		{"no hosted party", `parties:
  - name: Ministero
    url: https://pdd.lavoro.example/pa
    certificates: [ecdsa.pem]
`, time.Time{}, []string{
			"registry.yaml: no party is hosted by this gateway; mark this gateway's own party with hosted: true"}},
		{"party name with punctuation", head + `  - name: Comune_A
    hosted: true
`, time.Time{}, []string{
			"registry.yaml:8: party name \"Comune_A\" must be letters and digits only (it forms eGov identifiers); rename it"}},
		{"duplicate party", head + `  - name: Provincia
    hosted: true
`, time.Time{}, []string{
			"registry.yaml:8: party \"Provincia\" is declared twice (first at DIR/registry.yaml:3); remove one"}},
		{"remote party without url and certificates", head + `  - name: Regione
`, time.Time{}, []string{
			"registry.yaml:8: party \"Regione\" has no url; add url: https://HOST:PORT/pa, its Porta Applicativa",
			"registry.yaml:8: party \"Regione\" has no certificates; add certificates: [{file: their-cert.pem}] (from their party card, or `porta registry add-party`)"}},
		{"plain http url", head + `  - name: Regione
    url: http://regione.example/pa
    certificates: [rsa.pem]
`, time.Time{}, []string{
			"registry.yaml:9: party \"Regione\": url \"http://regione.example/pa\" must be https://HOST[:PORT]/PATH (gateways talk over TLS with client certificates)"}},
		{"bad party type", head + `  - name: Regione
    type: spcoop
    url: https://regione.example/pa
    certificates: [rsa.pem]
`, time.Time{}, []string{
			"registry.yaml:9: party \"Regione\": type \"SPCOOP\" is not one of SPC, TEST, AOO"}},
		{"missing certificate file", head + `  - name: Regione
    url: https://regione.example/pa
    certificates:
      - file: regione.pem
`, time.Time{}, []string{
			"registry.yaml:11: party \"Regione\": certificates regione.pem: no such file or directory (paths are relative to DIR)"}},
		{"garbage inline certificate", head + `  - name: Regione
    url: https://regione.example/pa
    certificates:
      - pem: |
          -----BEGIN CERTIFICATE-----
          AAAA
          -----END CERTIFICATE-----
`, time.Time{}, []string{
			"registry.yaml:11: party \"Regione\": certificates item 1 (inline PEM): PEM block 1: x509: malformed certificate"}},
		{"expired certificate", head + `  - name: Regione
    url: https://regione.example/pa
    certificates: [expired.pem]
`, time.Time{}, []string{
			"registry.yaml:10: party \"Regione\": certificate \"CN=Porta TEST signer expired,O=Porta TEST ONLY,C=IT\" expired on 2021-01-01; replace it with the renewed one"}},
		{"certificate expiring soon", head, time.Date(2044, 12, 15, 0, 0, 0, 0, time.UTC), []string{
			"registry.yaml:7: warning: party \"Ministero\": certificate \"CN=Porta TEST signer ECDSA,O=Porta TEST ONLY,C=IT\" expires on 2045-01-01 (in 17 days); add the renewed certificate beside it"}},
		{"one certificate, two parties", head + `  - name: Regione
    url: https://regione.example/pa
    certificates: [ecdsa.pem]
`, time.Time{}, []string{
			"registry.yaml:8: party \"Regione\" lists the certificate CN=Porta TEST signer ECDSA,O=Porta TEST ONLY,C=IT that party \"Ministero\" (DIR/registry.yaml:5) also lists; a certificate identifies one party"}},
		{"correlated action not declared", head + `services:
  - provider: Ministero
    name: SAP
    profile: async-asymmetric
    actions:
      - name: invio
      - name: Verifica
        correlated: Stato
    consumers: [Provincia]
`, time.Time{}, []string{
			"registry.yaml:14: service \"SAP\" of \"Ministero\" action \"Verifica\" names correlated action \"Stato\" which is not declared; declare it under actions"}},
		{"asymmetric without status action", head + `services:
  - provider: Ministero
    name: SAP
    profile: async-asymmetric
    actions: [Richiesta]
    consumers: [Provincia]
`, time.Time{}, []string{
			"registry.yaml:12: service \"SAP\" of \"Ministero\" is async-asymmetric but no action is correlated; add the status action, e.g. {name: Stato, correlated: Richiesta}"}},
		{"correlated action on a sync service", head + `services:
  - provider: Ministero
    name: SAP
    profile: sync
    actions:
      - name: Richiesta
      - {name: Stato, correlated: Richiesta}
    consumers: [Provincia]
`, time.Time{}, []string{
			"registry.yaml:14: service \"SAP\" of \"Ministero\" action \"Stato\" names correlated action \"Richiesta\", but only async-asymmetric services correlate actions; remove correlated or set profile: async-asymmetric"}},
		{"symmetric without callback", head + `services:
  - provider: Ministero
    name: DID
    profile: async-symmetric
    correlated_service: DIDEsito
    actions: [Invio]
    consumers: [Provincia]
`, time.Time{}, []string{
			"registry.yaml:14: service \"DID\" of \"Ministero\" is async-symmetric: consumer \"Provincia\" must provide the correlated service \"DIDEsito\", which is not declared; declare it under services with provider: Provincia"}},
		{"symmetric callback does not admit the provider", head + `services:
  - provider: Ministero
    name: DID
    profile: async-symmetric
    correlated_service: DIDEsito
    actions: [Invio]
    consumers: [Provincia]
  - provider: Provincia
    name: DIDEsito
    profile: oneway
    actions: [Esito]
    delivery: adapter:did
`, time.Time{}, []string{
			"registry.yaml:15: service \"DIDEsito\" of \"Provincia\" is the correlated service of service \"DID\" of \"Ministero\", so its profile must be async-symmetric"}},
		{"unknown provider, consumer and profile", head + `services:
  - provider: Regione
    name: SAP
    profile: sincrono
    actions: [Invio]
    consumers: [Comune]
`, time.Time{}, []string{
			"registry.yaml:9: service \"SAP\" of \"Regione\" names provider \"Regione\" which is not a declared party; declare it under parties",
			"registry.yaml:11: service \"SAP\" of \"Regione\": profile \"sincrono\" is not one of oneway, sync, async-symmetric, async-asymmetric",
			"registry.yaml:13: service \"SAP\" of \"Regione\" lists consumer \"Comune\" which is not a declared party; declare it under parties"}},
		{"hosted service without delivery, remote with one", head + `services:
  - provider: Provincia
    name: SAP
    profile: oneway
    actions: [Invio]
  - provider: Ministero
    name: DID
    profile: oneway
    actions: [Invio]
    delivery: http://127.0.0.1:9000/
`, time.Time{}, []string{
			"registry.yaml:9: service \"SAP\" of \"Provincia\" is provided by hosted party \"Provincia\" but has no delivery; add delivery: {url: http://127.0.0.1:PORT/PATH} or delivery: adapter:NAME",
			"registry.yaml:17: service \"DID\" of \"Ministero\" is provided by remote party \"Ministero\": its gateway delivers it; remove delivery"}},
		{"in order without reliability", head + `services:
  - provider: Provincia
    name: SAP
    profile: oneway
    in_order: true
    expiry: tomorrow
    actions: [Invio]
    delivery: {url: "ftp://backend/"}
`, time.Time{}, []string{
			"registry.yaml:12: service \"SAP\" of \"Provincia\": in_order needs filter_duplicates: true and ack: true (Sequenza requires inoltro EGOV_IT_ALPIUUNAVOLTA and confermaRicezione)",
			"registry.yaml:13: service \"SAP\" of \"Provincia\": expiry must be a duration such as 30s, 90m, 24h or 7d, found the value \"tomorrow\"",
			"registry.yaml:15: service \"SAP\" of \"Provincia\": delivery url \"ftp://backend/\" must be http(s)://HOST:PORT/PATH"}},
		{"bad schema name and duplicate action", head + `services:
  - provider: Provincia
    name: SAP
    profile: oneway
    schema: ../secret.xsd
    actions: [Invio, Invio]
    delivery: adapter:sap
`, time.Time{}, []string{
			"registry.yaml:12: service \"SAP\" of \"Provincia\": schema \"../secret.xsd\" must be a clean relative path ending in .xsd, under xsd/schemas (e.g. sap/scheda.xsd)",
			"registry.yaml:13: service \"SAP\" of \"Provincia\" declares action \"Invio\" twice (first at line 13); remove one"}},
		{"application problems", head + `services:
  - provider: Ministero
    name: DID
    profile: oneway
    actions: [Invio]
applications:
  - name: SIL
    username: sil
    password_hash: md5$abc
    may:
      - {consumer: Ministero, provider: Ministero, service: DID}
      - {consumer: Provincia, provider: Ministero, service: DID}
      - {consumer: Provincia, provider: Ministero, service: SAP}
  - name: Altro
`, time.Time{}, []string{
			"registry.yaml:16: application \"SIL\": password_hash: not of the form pbkdf2-sha256$ITERATIONS$SALT$KEY; make one with `porta registry hash-password`",
			"registry.yaml:18: application \"SIL\" may call as consumer \"Ministero\", which this gateway does not host; local applications call as a hosted party",
			"registry.yaml:19: application \"SIL\" may call service \"DID\" of \"Ministero\" as \"Provincia\", but the service does not list \"Provincia\" under consumers; add it there",
			"registry.yaml:20: application \"SIL\" may call service \"SAP\" of \"Ministero\", which is not declared; declare it under services",
			"registry.yaml:21: application \"Altro\" has no credentials; add username and password_hash, or certificate: {fingerprint: ...}"}},
		{"trace policy problems", head + `services:
  - provider: Ministero
    name: SAP
    profile: oneway
    actions: [Invio]
    trace:
      body: secret
      mask: ["//a[", ""]
      retention: forever
      ids: {cf: "//codiceFiscale", "c-f": "//x", doc: [a, {b: c}], sap: "parse-xml(//SAP)x"}
`, time.Time{}, []string{
			"registry.yaml:14: service \"SAP\" of \"Ministero\": trace: body \"secret\" must be one of full, header, none, encrypted",
			"registry.yaml:15: service \"SAP\" of \"Ministero\": trace: mask: path \"//a[\": etree: path has invalid filter [brackets].",
			"registry.yaml:15: service \"SAP\" of \"Ministero\": trace: mask: empty path",
			"registry.yaml:16: service \"SAP\" of \"Ministero\": trace: retention must be a duration such as 30s, 90m, 24h or 7d, found the value \"forever\"",
			"registry.yaml:17: service \"SAP\" of \"Ministero\": trace: ids: name \"c-f\" must be letters and digits (e.g. cf)",
			"registry.yaml:17: service \"SAP\" of \"Ministero\": trace: ids: doc must be a path or a list of paths, e.g. //codiceFiscale",
			"registry.yaml:17: service \"SAP\" of \"Ministero\": trace: ids: sap: path \"parse-xml(//SAP)x\": want parse-xml(PATH)/PATH, e.g. parse-xml(invioSAP/SAP)/lavoratore//codicefiscale"}},
		{"include missing", "include: [more.yaml]\n" + head, time.Time{}, []string{
			"registry.yaml:1: include \"DIR/more.yaml\": no such file or directory; fix the path (it is relative to DIR)"}},
		{"unknown interoperability profile", head + `  - name: Regione
    url: https://regione.example/pa
    profile: lineeguida
    certificates: [rsa.pem]
`, time.Time{}, []string{
			"registry.yaml:10: party \"Regione\": profile \"lineeguida\" is not one of egov-1.1, linee-guida-1.1 (the interoperability profile; egov-1.1 is the default)"}},
		{"Linee Guida party of another type", head + `  - name: Regione
    type: TEST
    url: https://regione.example/pa
    profile: linee-guida-1.1
    certificates: [rsa.pem]
`, time.Time{}, []string{
			"registry.yaml:9: party \"Regione\": type TEST cannot be used with profile linee-guida-1.1, whose buste name SPC parties only; set type: SPC, or profile: egov-1.1"}},
		{"Linee Guida partner of a service with acknowledgement", head + `  - name: Regione
    url: https://regione.example/pa
    profile: linee-guida-1.1
    certificates: [rsa.pem]
services:
  - provider: Provincia
    name: Comunicazione
    profile: oneway
    filter_duplicates: true
    ack: true
    actions: [Invia]
    consumers: [Ministero, Regione]
    delivery: adapter:comunicazione
  - provider: Regione
    name: Elenco
    type: URL
    profile: oneway
    filter_duplicates: true
    ack: true
    in_order: true
    actions: [Invia]
    consumers: [Provincia]
`, time.Time{}, []string{
			"registry.yaml:17: service \"Comunicazione\" of \"Provincia\": ack: true asks for a riscontro (confermaRicezione), which the linee-guida-1.1 profile of party \"Regione\" forbids; remove it (towards such a party duplicates are always filtered and the transport answer confirms delivery)",
			"registry.yaml:23: service \"Elenco\" of \"Regione\": type URL cannot be used with the linee-guida-1.1 profile of party \"Regione\", whose buste name SPC services only; set type: SPC",
			"registry.yaml:27: service \"Elenco\" of \"Regione\": in_order needs a riscontro (confermaRicezione), which the linee-guida-1.1 profile of party \"Regione\" forbids; remove it (towards such a party duplicates are always filtered and the transport answer confirms delivery)"}},
		{"Linee Guida partner without acknowledgement", head + `  - name: Regione
    url: https://regione.example/pa
    profile: linee-guida-1.1
    certificates: [rsa.pem]
services:
  - provider: Provincia
    name: Comunicazione
    profile: oneway
    filter_duplicates: true
    actions: [Invia]
    consumers: [Regione]
    delivery: adapter:comunicazione
`, time.Time{}, nil},
		{"wrong shapes", head + `services:
  - SAP
  - provider: Provincia
    name: SAP
    profile: oneway
    ack: sometimes
    actions: [Invio]
    delivery: adapter:sap
`, time.Time{}, []string{
			"registry.yaml:9: a service must be a mapping (key: value lines), found the value \"SAP\"",
			"registry.yaml:13: service \"SAP\" of \"Provincia\": ack must be true or false, found the value \"sometimes\""}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := fixture(t)
			file := filepath.Join(dir, "registry.yaml")
			if err := os.WriteFile(file, []byte(tc.yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			now := tc.now
			if now.IsZero() {
				now = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
			}
			got := render(Check(file, Options{Now: func() time.Time { return now }}), dir)
			for i := range got {
				got[i] = strings.ReplaceAll(got[i], dir, "DIR")
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			// Load agrees with Check: errors refuse the registry, warnings alone do not.
			wantErr := false
			for _, w := range tc.want {
				wantErr = wantErr || !strings.Contains(w, ": warning: ")
			}
			r, err := Load(file, Options{Now: func() time.Time { return now }})
			var ps Problems
			switch {
			case wantErr && !errors.As(err, &ps):
				t.Errorf("Load returned %v, want Problems", err)
			case wantErr && r != nil:
				t.Error("Load returned a registry with errors")
			case !wantErr && err != nil:
				t.Errorf("Load: %v", err)
			case !wantErr && len(r.Warnings()) != len(tc.want):
				t.Errorf("Load warnings %v, want %d", r.Warnings(), len(tc.want))
			}
		})
	}
}

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"porta/registry"
)

// TestTwoGatewaysTrustEachOther is the two-command join of the issue: init two gateways from one
// local CA, import each one's card on the other, and both registries check clean.
func TestTwoGatewaysTrustEachOther(t *testing.T) {
	root := t.TempDir()
	prov, min, ca := filepath.Join(root, "prov"), filepath.Join(root, "min"), filepath.Join(root, "ca")
	mustPorta(t, "init", "--party", "Provincia", "--dir", prov, "--alg", "ecdsa-p256", "--new-ca", ca)
	mustPorta(t, "init", "--party", "Ministero", "--dir", min, "--alg", "ecdsa-p256", "--ca", ca,
		"--pd-addr", "127.0.0.1:8080", "--pa-addr", "127.0.0.1:8443", "--admin-addr", "127.0.0.1:8090")

	out := mustPorta(t, "registry", "add-party", "--config", filepath.Join(prov, "porta.yaml"), filepath.Join(min, "party.yaml"))
	if !strings.Contains(out, "Ministero added in "+filepath.Join(prov, "registry.yaml")) {
		t.Errorf("add-party output: %s", out)
	}
	// Flags after the card work too.
	mustPorta(t, "registry", "add-party", filepath.Join(prov, "party.yaml"), "--registry", filepath.Join(min, "registry.yaml"))
	out = mustPorta(t, "registry", "add-party", "--config", filepath.Join(prov, "porta.yaml"), filepath.Join(min, "party.yaml"))
	if !strings.Contains(out, "already trusts Ministero: unchanged") {
		t.Errorf("second add-party: %s", out)
	}
	for _, d := range []string{prov, min} {
		out := mustPorta(t, "registry", "check", "--config", filepath.Join(d, "porta.yaml"))
		if !strings.Contains(out, "ok: 2 parties (1 hosted), 0 services, 0 applications") {
			t.Errorf("check %s: %s", d, out)
		}
	}
	var shown shownRegistry
	if err := json.Unmarshal([]byte(mustPorta(t, "registry", "show", "--json", "--config", filepath.Join(min, "porta.yaml"))), &shown); err != nil {
		t.Fatal(err)
	}
	if len(shown.Parties) != 2 || shown.Parties[1].Name != "Provincia" || shown.Parties[1].Hosted || shown.Parties[1].URL != "https://127.0.0.1:7443/pa" {
		t.Errorf("show --json parties: %+v", shown.Parties)
	}
	provCert, _ := registry.ReadCertFile(filepath.Join(prov, "cert.pem"))
	if shown.Parties[1].Certs[0].SHA256 != registry.Fingerprint(provCert[0]) {
		t.Error("Ministero does not pin Provincia's certificate")
	}
	// A different card under a taken name is refused without --replace.
	other := filepath.Join(root, "other")
	mustPorta(t, "init", "--party", "Ministero", "--dir", other, "--alg", "ecdsa-p256", "--public-url", "https://elsewhere.example/pa")
	code, _, errOut := porta(t, "", "registry", "add-party", "--config", filepath.Join(prov, "porta.yaml"), filepath.Join(other, "party.yaml"))
	if code != 1 || !strings.Contains(errOut, `party "Ministero" already exists with a different url`) {
		t.Errorf("conflicting card: exit %d, %s", code, errOut)
	}
	mustPorta(t, "registry", "add-party", "--config", filepath.Join(prov, "porta.yaml"), filepath.Join(other, "party.yaml"), "--replace")
}

func TestRegistryCheckListsEveryProblem(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "registry.yaml")
	os.WriteFile(file, []byte(`parties:
  - name: Provincia
    hosted: true
services:
  - provider: Provincia
    name: SAP
    profile: async-asymmetric
    actions:
      - name: invio
        correlated: Stato
    delivery: adapter:sap
  - provider: Ministero
    name: DID
    profile: oneway
    actions: [Invio]
`), 0o644)
	code, out, errOut := porta(t, "", "registry", "check", file)
	want := file + `:9: service "SAP" of "Provincia" action "invio" names correlated action "Stato" which is not declared; declare it under actions
` + file + `:12: service "DID" of "Ministero" names provider "Ministero" which is not a declared party; declare it under parties
`
	if code != 1 || out != want || !strings.Contains(errOut, "2 problem(s)") {
		t.Errorf("exit %d\nstdout:\n%s\nwant:\n%s\nstderr: %s", code, out, want, errOut)
	}
	// A broken porta.yaml is reported the same way.
	cfg := filepath.Join(dir, "porta.yaml")
	os.WriteFile(cfg, []byte("parties: [Provincia]\ntrace: {body: everything}\n"), 0o644)
	code, out, _ = porta(t, "", "registry", "check", "--config", cfg)
	if code != 1 || !strings.Contains(out, cfg+`:2: trace.body "everything" must be full, header, none or encrypted`) {
		t.Errorf("bad config: exit %d, %s", code, out)
	}
	if code, _, _ := porta(t, "", "registry", "check", "--config", cfg, file); code != 1 {
		t.Errorf("two registries named: exit %d", code)
	}
}

func TestRegistryShowAndHashPassword(t *testing.T) {
	full := filepath.Join("..", "..", "testdata", "registry", "full.yaml")
	out := mustPorta(t, "registry", "show", full)
	for _, want := range []string{"Ministero", "Candidatura v1", "async-asymmetric", "Richiesta,Stato→Richiesta", "adapter:anagrafe", "basic sil", "Provincia: Ministero/DID"} {
		if !strings.Contains(out, want) {
			t.Errorf("show lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "pbkdf2") || strings.Contains(out, "backend-secret") {
		t.Error("show prints secrets")
	}
	code, hash, errOut := porta(t, "s3greto\n", "registry", "hash-password")
	if code != 0 {
		t.Fatalf("hash-password: %d %s", code, errOut)
	}
	if ok, err := registry.VerifyPassword(strings.TrimSpace(hash), "s3greto"); !ok || err != nil {
		t.Errorf("hash-password output %q does not verify: %v", hash, err)
	}
	if code, _, _ := porta(t, "", "registry", "hash-password"); code != 1 {
		t.Errorf("empty password: exit %d", code)
	}
}

package main

import (
	"bytes"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"porta/envelope"
	"porta/gateway/node"
	"porta/registry"
)

// porta runs the porta command in-process and returns its exit code, stdout and stderr.
func porta(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(args, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

func mustPorta(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := porta(t, "", args...)
	if code != 0 {
		t.Fatalf("porta %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

func TestInitWritesAWorkingSetup(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "prov")
	out := mustPorta(t, "init", "--party", "Provincia", "--dir", dir, "--alg", "ecdsa-p256",
		"--public-url", "https://pdd.provincia.example:9443/pa", "--pa-addr", "0.0.0.0:9443")
	for _, f := range initFiles {
		if !strings.Contains(out, filepath.Join(dir, f)) {
			t.Errorf("output does not report %s:\n%s", f, out)
		}
	}
	for _, next := range []string{"porta registry add-party --config PEER/porta.yaml " + filepath.Join(dir, "party.yaml"), "porta registry add-service --config " + filepath.Join(dir, "porta.yaml") + " NAME", "porta serve --config " + filepath.Join(dir, "porta.yaml")} {
		if !strings.Contains(out, next) {
			t.Errorf("output does not suggest %q:\n%s", next, out)
		}
	}
	// The WSDLs come from the binary, laid out so that their schema imports resolve.
	for _, f := range []string{"wsdl/sap.wsdl", "wsdl/anagrafe.wsdl", "xsd/schemas/labour/sap-servizicoap.xsd"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("porta init did not write %s: %v", f, err)
		}
	}
	if fi, err := os.Stat(filepath.Join(dir, "key.pem")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key.pem: %v, mode %v", err, fi.Mode().Perm())
	}
	if fi, err := os.Stat(filepath.Join(dir, "index.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("index.key: %v, mode %v", err, fi.Mode().Perm())
	}
	// Round trip: the config and registry load and agree, as porta serve will need.
	cfg, err := node.LoadConfig(filepath.Join(dir, "porta.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.PDAddr != node.DefaultPDAddr || cfg.PAAddr != "0.0.0.0:9443" || cfg.AdminAddr != node.DefaultAdminAddr || cfg.Parties[0] != "Provincia" {
		t.Errorf("config = %+v", cfg)
	}
	reg, err := registry.Load(cfg.Registry, registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.CheckRegistry(reg); err != nil {
		t.Error(err)
	}
	p, _ := reg.Party("Provincia")
	if !p.Hosted || p.URL != "https://pdd.provincia.example:9443/pa" || p.PortID != "ProvinciaSPCoopIT" {
		t.Errorf("party = %+v", p)
	}
	// Self-signed, usable for TLS as server and client at the public host and loopback.
	pool := x509.NewCertPool()
	pool.AddCert(p.Certs[0])
	for _, host := range []string{"pdd.provincia.example", "127.0.0.1", "localhost"} {
		for _, u := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
			if _, err := p.Certs[0].Verify(x509.VerifyOptions{Roots: pool, DNSName: host, KeyUsages: []x509.ExtKeyUsage{u}}); err != nil {
				t.Errorf("certificate for %s %v: %v", host, u, err)
			}
		}
	}
	card, err := registry.ReadCard(filepath.Join(dir, "party.yaml"), p.Certs[0].NotBefore.AddDate(0, 1, 0))
	if err != nil || card.Name != "Provincia" || !card.Certs[0].Equal(p.Certs[0]) || card.URL != p.URL || card.Interop != envelope.InteropEGov {
		t.Errorf("party card: %+v, %v", card, err)
	}

	// Refuses to overwrite, unless --force.
	code, _, errOut := porta(t, "", "init", "--party", "Provincia", "--dir", dir)
	if code != 1 || !strings.Contains(errOut, "already holds porta.yaml, registry.yaml, key.pem, cert.pem, party.yaml, index.key; pass --force") {
		t.Errorf("second init: exit %d, %s", code, errOut)
	}
	indexKey, _ := os.ReadFile(filepath.Join(dir, "index.key"))
	mustPorta(t, "init", "--party", "Provincia", "--dir", dir, "--alg", "ecdsa-p256", "--force")
	after, _ := registry.ReadCertFile(filepath.Join(dir, "cert.pem"))
	if after[0].Equal(p.Certs[0]) {
		t.Error("--force kept the old certificate")
	}
	// ...but keeps the index key: the records indexed under it must stay searchable.
	if again, _ := os.ReadFile(filepath.Join(dir, "index.key")); len(indexKey) == 0 || string(again) != string(indexKey) {
		t.Error("--force replaced the index key")
	}
}

func TestInitUsageErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"init"}, "--party and --dir are required"},
		{[]string{"init", "--party", "Provincia_1", "--dir", dir}, `--party "Provincia_1": letters and digits only`},
		{[]string{"init", "--party", "P", "--dir", dir, "--new-ca", "a", "--ca", "b"}, "--new-ca and --ca exclude each other"},
		{[]string{"init", "--party", "P", "--dir", dir, "--alg", "dsa"}, `--alg "dsa": want rsa2048 or ecdsa-p256`},
		{[]string{"init", "--party", "P", "--dir", dir, "--pa-addr", "7443"}, `--pa-addr "7443": want HOST:PORT`},
		{[]string{"init", "--party", "P", "--dir", dir, "--public-url", "http://x/pa"}, `--public-url "http://x/pa": want https://HOST:PORT/pa`},
		{[]string{"init", "--party", "P", "--dir", dir, "--free-ports", "--pa-addr", "127.0.0.1:7443", "--admin-addr", ":0"}, "--free-ports chooses the listen addresses; drop --admin-addr and --pa-addr, or drop --free-ports"},
		{[]string{"init", "--party", "P", "--dir", dir, "--profile", "lg"}, `--profile "lg": want egov-1.1 or linee-guida-1.1`},
		{[]string{"init", "--party", "P", "--dir", dir, "--profile", "linee-guida-1.1", "--type", "aoo"}, "--profile linee-guida-1.1 names SPC parties only: drop --type AOO"},
	} {
		code, _, errOut := porta(t, "", tc.args...)
		if code != 2 || !strings.Contains(errOut, tc.want) {
			t.Errorf("porta %v: exit %d, stderr %q; want 2 and %q", tc.args, code, errOut, tc.want)
		}
	}
	code, _, errOut := porta(t, "", "init", "--party", "P", "--dir", dir, "--ca", filepath.Join(dir, "noca"))
	if code != 1 || !strings.Contains(errOut, "load CA") {
		t.Errorf("missing CA: exit %d, %s", code, errOut)
	}
}

// --free-ports gives each gateway of a machine its own loopback ports, outside the range the kernel
// hands out to other programs' port-0 listeners and outgoing connections, and the party card
// carries the Porta Applicativa's.
func TestInitFreePorts(t *testing.T) {
	root := t.TempDir()
	seen := map[string]bool{}
	for _, party := range []string{"Provincia", "Ministero"} {
		dir := filepath.Join(root, party)
		mustPorta(t, "init", "--party", party, "--dir", dir, "--alg", "ecdsa-p256", "--free-ports")
		cfg, err := node.LoadConfig(filepath.Join(dir, "porta.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range []string{cfg.PDAddr, cfg.PAAddr, cfg.AdminAddr} {
			host, port, err := net.SplitHostPort(a)
			n, _ := strconv.Atoi(port)
			if err != nil || host != "127.0.0.1" || n < 1024 || n >= 32768 || seen[a] {
				t.Errorf("%s: listen address %q: want a loopback port below 32768, not used twice", party, a)
			}
			seen[a] = true
		}
		card, err := registry.ReadCard(filepath.Join(dir, "party.yaml"), time.Now())
		if err != nil || card.URL != "https://"+cfg.PAAddr+"/pa" {
			t.Errorf("%s: card %+v, %v; want the url https://%s/pa", party, card, err, cfg.PAAddr)
		}
	}
}

// --profile linee-guida-1.1 makes a gateway for a Linee Guida 1.1 party: its registry entry and
// its party card say so, and peers that import the card apply the profile to it.
func TestInitLineeGuida(t *testing.T) {
	dir := t.TempDir()
	mustPorta(t, "init", "--party", "Regione", "--dir", dir, "--profile", "linee-guida-1.1", "--alg", "ecdsa-p256")
	cfg, err := node.LoadConfig(filepath.Join(dir, "porta.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	reg, err := registry.Load(cfg.Registry, registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := reg.Party("Regione"); p.Interop != envelope.InteropLineeGuida {
		t.Errorf("registry profile %q", p.Interop)
	}
	card, err := registry.ReadCard(filepath.Join(dir, "party.yaml"), time.Now())
	if err != nil || card.Interop != envelope.InteropLineeGuida {
		t.Errorf("card %+v, %v", card, err)
	}
}

package main

import (
	"path/filepath"
	"strings"
	"testing"

	"porta/registry"
)

// add-service and add-app take two joined gateways to a Ministry providing SAP through a
// built-in adapter and a Province whose SIL may call it; each mistake is named with its fix.
func TestRegistryAddServiceAndApp(t *testing.T) {
	root := t.TempDir()
	min, prov := filepath.Join(root, "min"), filepath.Join(root, "prov")
	mustPorta(t, "init", "--party", "Ministero", "--dir", min, "--alg", "ecdsa-p256", "--new-ca", filepath.Join(root, "ca"), "--free-ports")
	mustPorta(t, "init", "--party", "Provincia", "--dir", prov, "--alg", "ecdsa-p256", "--ca", filepath.Join(root, "ca"), "--free-ports")
	minCfg, provCfg := filepath.Join(min, "porta.yaml"), filepath.Join(prov, "porta.yaml")
	mustPorta(t, "registry", "add-party", "--config", minCfg, filepath.Join(prov, "party.yaml"))
	mustPorta(t, "registry", "add-party", "--config", provCfg, filepath.Join(min, "party.yaml"))

	for _, tc := range []struct {
		stdin string
		args  []string
		code  int
		want  string
	}{
		{"", []string{"add-service", "--config", minCfg, "SAP"}, 2, "--consumers: name the parties that may call SAP"},
		{"", []string{"add-service", "--config", minCfg, "SAP", "--consumers", "Provincia"}, 2,
			"SAP is provided by Ministero, hosted here: say where to deliver it, --delivery http://HOST:PORT/PATH (your application) or --delivery adapter:NAME (built in: anagrafe, borsalavoro, europass, formazione, inps, ministerodid, ministerosap, scuola)"},
		{"", []string{"add-service", "--config", minCfg, "SAP", "--consumers", "Provincia", "--delivery", "adapter:sap"}, 2, "--delivery adapter:sap: no such built-in adapter; one of: anagrafe,"},
		{"", []string{"add-service", "--config", provCfg, "SAP", "--provider", "Ministero", "--consumers", "Provincia", "--delivery", "adapter:ministerosap"}, 2,
			"--delivery: SAP is provided by Ministero, a remote party, whose gateway delivers it; drop --delivery here"},
		{"", []string{"add-service", "--config", provCfg, "Notifica", "--consumers", "Ministero"}, 2, `service "Notifica" is not one of the labour services porta knows (SAP, DID,`},
		{"", []string{"add-service", "--config", provCfg, "SAP", "--provider", "Regione", "--consumers", "Provincia"}, 1, `Regione`},
		{"", []string{"add-app", "--config", provCfg, "SIL"}, 2, "--may: say what SIL may call, e.g. --may Ministero/SAP"},
		{"", []string{"add-app", "--config", provCfg, "SIL", "--may", "Ministero"}, 2, `--may "Ministero": want [CONSUMER:]PROVIDER/SERVICE`},
		{"", []string{"add-app", "--config", provCfg, "SIL", "--may", "Ministero/SAP"}, 1, "empty password on stdin"},
		{"s3cret\n", []string{"add-app", "--config", provCfg, "SIL", "--may", "Ministero/SAP"}, 1, "SAP"}, // not declared yet on the Province
	} {
		code, out, errOut := porta(t, tc.stdin, append([]string{"registry"}, tc.args...)...)
		if code != tc.code || !strings.Contains(out+errOut, tc.want) {
			t.Errorf("porta registry %s: exit %d, %s%s; want %d and %q", strings.Join(tc.args, " "), code, out, errOut, tc.code, tc.want)
		}
	}

	out := mustPorta(t, "registry", "add-service", "--config", minCfg, "SAP", "--consumers", "Provincia", "--delivery", "adapter:ministerosap")
	if !strings.Contains(out, "added service SAP of Ministero") || !strings.Contains(out, "delivered to adapter:ministerosap") {
		t.Errorf("add-service said:\n%s", out)
	}
	mustPorta(t, "registry", "add-service", "--config", provCfg, "SAP", "--provider", "Ministero", "--consumers", "Provincia")
	code, out, errOut := porta(t, "s3cret\n", "registry", "add-app", "--config", provCfg, "SIL", "--may", "Ministero/SAP")
	if code != 0 || !strings.Contains(out, "added application SIL") || !strings.Contains(out, "HTTP Basic user sil, may call Provincia: Ministero/SAP") {
		t.Fatalf("add-app: exit %d, %s%s", code, out, errOut)
	}
	mustPorta(t, "registry", "check", "--config", minCfg)
	mustPorta(t, "registry", "check", "--config", provCfg)

	reg, err := registry.Load(filepath.Join(prov, "registry.yaml"), registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s, _ := reg.Service("Ministero", "SAP")
	if s == nil || s.WSDL == "" || s.Schema != "labour/sap-servizicoap.xsd" || len(s.Actions) != 4 {
		t.Errorf("SAP on the Province: %+v; want the labour service's WSDL, schema and four actions", s)
	}
	if a, err := reg.AuthenticateApplication(registry.Credentials{Username: "sil", Password: "s3cret", HasBasic: true}); err != nil || a.Name != "SIL" {
		t.Errorf("SIL's password: %+v, %v", a, err)
	}
}

package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestReloadOnSIGHUP (issue 10, finding 10): a party added with porta registry add-party, and a
// service of it, are reachable after SIGHUP without a restart; a broken registry.yaml and SIGHUP
// keep the registry in use (the gateway serves on) and count the failure in /metrics.
func TestReloadOnSIGHUP(t *testing.T) {
	t.Parallel()
	be := newBackend(t)
	p, m := newSites(t, map[string]string{prov: be.URL, min_: be.URL})
	gp := serve(t, p, "provincia")
	serve(t, m, "ministero")

	// A third gateway, Regione, providing Consulta to Provincia.
	root := filepath.Dir(p.dir)
	r := &site{name: "Regione", dir: filepath.Join(root, "regione"), pa: freePort(t)}
	porta(t, "init", "--party", r.name, "--dir", r.dir, "--new-ca", filepath.Join(root, "regione-ca"),
		"--alg", "ecdsa-p256", "--pa-addr", r.pa, "--pd-addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0")
	r.cfg = filepath.Join(r.dir, "porta.yaml")
	porta(t, "registry", "add-party", "--config", r.cfg, filepath.Join(p.dir, "party.yaml"))
	appendFile(t, filepath.Join(r.dir, "registry.yaml"), "\nservices:\n  - provider: Regione\n    name: Consulta\n    profile: sync\n    actions: [Consulta]\n    consumers: [Provincia]\n    delivery: {url: "+be.URL+"/Regione, timeout: 5s}\n")
	serve(t, r, "regione")

	const path = "/pd/Provincia/Regione/Consulta/Consulta"
	if resp, body := gp.mustCall(t, path, 1, nil); resp.StatusCode == 200 || resp.Header.Get("Porta-Error-Reason") != "route-unknown" {
		t.Fatalf("before the reload: %d %s\n%s", resp.StatusCode, resp.Header.Get("Porta-Error-Reason"), body)
	}

	// Provincia trusts Regione and may call Consulta: add-party, then the service and permission.
	out := porta(t, "registry", "add-party", "--config", p.cfg, filepath.Join(r.dir, "party.yaml"))
	if !strings.Contains(out, "kill -HUP") {
		t.Errorf("add-party does not say how to reload:\n%s", out)
	}
	reg := filepath.Join(p.dir, "registry.yaml")
	edit(t, reg, "\nservices:\n", "\nservices:\n  - provider: Regione\n    name: Consulta\n    profile: sync\n    actions: [Consulta]\n    consumers: [Provincia]\n",
		"      - {consumer: Provincia, provider: Ministero, service: Anagrafe}\n", "      - {consumer: Provincia, provider: Ministero, service: Anagrafe}\n      - {consumer: Provincia, provider: Regione, service: Consulta}\n")
	porta(t, "registry", "check", "--config", p.cfg)

	start := time.Now()
	if err := gp.proc.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	gp.proc.WaitFor(regexp.MustCompile(`msg="porta serve: registry reloaded"`), 10*time.Second)
	t.Logf("reloaded %v after SIGHUP", time.Since(start))
	if resp, body := gp.mustCall(t, path, 2, nil); resp.StatusCode != 200 || !strings.Contains(body, "<n>2</n>") {
		t.Fatalf("after the reload: %d %s\n%s", resp.StatusCode, resp.Header.Get("Porta-Error-Reason"), body)
	}
	if n := len(be.of("Consulta")); n != 1 {
		t.Errorf("Regione's backend got %d Consulta, want 1", n)
	}
	reloaded := metric(t, gp, "porta_registry_last_reload_success_timestamp_seconds")

	// A broken registry.yaml: the reload is refused, the gateway serves on with the registry in use.
	good, err := os.ReadFile(reg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(reg, append(good, "\nparties: [oops\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := gp.proc.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	gp.proc.WaitFor(regexp.MustCompile(`level=ERROR msg="registry reload failed; the registry in use stays".*registry.yaml`), 10*time.Second)
	if gp.proc.Exited() {
		t.Fatal("porta serve ended after a failed reload")
	}
	for i, pth := range []string{path, "/pd/Provincia/Ministero/Anagrafe/Consulta"} {
		if resp, body := gp.mustCall(t, pth, 10+i, nil); resp.StatusCode != 200 {
			t.Errorf("%s after the failed reload: %d\n%s", pth, resp.StatusCode, body)
		}
	}
	if got := metric(t, gp, "porta_registry_reload_failures_total"); got != "1" {
		t.Errorf("porta_registry_reload_failures_total %s, want 1", got)
	}
	if got := metric(t, gp, "porta_registry_last_reload_success_timestamp_seconds"); got != reloaded {
		t.Errorf("the last success moved from %s to %s on a failed reload", reloaded, got)
	}
}

// metric is the value of an unlabelled metric in g's /metrics.
func metric(t testing.TB, g *gw, name string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + name + ` (\S+)$`).FindStringSubmatch(get(t, "http://"+g.admin+"/metrics"))
	if m == nil {
		t.Fatalf("/metrics has no %s", name)
	}
	return m[1]
}

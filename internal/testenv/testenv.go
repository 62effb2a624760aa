// Package testenv finds the independent tools that Porta's interoperability tests use as oracles
// (xmlsec1, xmllint, Debian's python3 with zeep, PostgreSQL's server binaries, the Apache WSS4J
// peer of ../shared/peers/wss4j over Java) and the shared reference folder next to the repository
// (../shared: the reference schemas, the peers), and decides what a test does when one is
// missing: skip with a message naming the Debian package to install, or, under CI (CI=true or
// PORTA_REQUIRE_TOOLS=1), fail, because CI installs every tool and must show no such skip.
//
// It lives under internal/ because it is test support shared by several packages, not part of the
// gateway's design; it must not be imported by non-test code.
package testenv

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Strict reports whether a missing tool is a failure rather than a skip.
func Strict() bool {
	return os.Getenv("CI") == "true" || os.Getenv("PORTA_REQUIRE_TOOLS") == "1"
}

// Missing ends the test because a tool is not installed: a skip naming what to install, or under
// CI a failure.
func Missing(t testing.TB, what, install string) {
	t.Helper()
	if Strict() {
		t.Fatalf("%s is not available; CI must install it: %s", what, install)
	}
	t.Skipf("%s is not available; install it to run this test: %s", what, install)
}

// LookPath returns the path of the named program, or ends the test through Missing.
func LookPath(t testing.TB, name, install string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Missing(t, name, install)
	}
	return p
}

// Xmlsec1 returns the path of xmlsec1 (Debian package xmlsec1).
func Xmlsec1(t testing.TB) string { return LookPath(t, "xmlsec1", "apt-get install xmlsec1") }

// Xmllint returns the path of xmllint (Debian package libxml2-utils).
func Xmllint(t testing.TB) string { return LookPath(t, "xmllint", "apt-get install libxml2-utils") }

// PythonZeep returns the path of a python3 that can import zeep and xmlsec. It uses Debian's
// /usr/bin/python3, since a python3 earlier on PATH (pyenv) lacks the Debian modules.
func PythonZeep(t testing.TB) string {
	t.Helper()
	const py = "/usr/bin/python3"
	const install = "apt-get install python3-zeep python3-xmlsec"
	if _, err := os.Stat(py); err != nil {
		Missing(t, py, install)
	}
	if err := exec.Command(py, "-c", "import zeep, zeep.wsse.signature, xmlsec").Run(); err != nil {
		Missing(t, "python3 modules zeep and xmlsec", install)
	}
	return py
}

// Shared returns the path of elem under ../shared, the reference folder next to the repository
// (the module's root, found from the test's directory), or ends the test through Missing when it
// is not there.
func Shared(t testing.TB, elem ...string) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("no go.mod above %s", dir)
		}
		dir = parent
	}
	p := filepath.Join(append([]string{filepath.Dir(dir), "shared"}, elem...)...)
	if _, err := os.Stat(p); err != nil {
		Missing(t, p, "the shared reference folder next to the repository (../shared)")
	}
	return p
}

// WSS4J builds the Apache WSS4J 1.6 peer of ../shared/peers/wss4j (its build.sh, output in dir,
// as PEER_BUILD) and returns a function that runs its run.sh with args, returning stdout (the
// peer's summary on stderr is added to the error). It ends the test through Missing when Java or
// Debian's WSS4J jars are not installed. Building takes a JVM compile: call it once per test.
func WSS4J(t testing.TB, dir string) func(args ...string) ([]byte, error) {
	t.Helper()
	const install = "apt-get install default-jdk-headless libwss4j-java libxml-security-java libslf4j-java"
	LookPath(t, "javac", install)
	LookPath(t, "java", install)
	for _, jar := range []string{"wss4j", "xmlsec", "slf4j-api", "slf4j-nop", "commons-logging", "commons-codec"} {
		if _, err := os.Stat("/usr/share/java/" + jar + ".jar"); err != nil {
			Missing(t, "/usr/share/java/"+jar+".jar", install)
		}
	}
	peer := Shared(t, "peers", "wss4j")
	env := append(os.Environ(), "PEER_BUILD="+dir)
	build := exec.Command(filepath.Join(peer, "build.sh"))
	build.Env = env
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("WSS4J peer build.sh: %v\n%s", err, out)
	}
	return func(args ...string) ([]byte, error) {
		cmd := exec.Command(filepath.Join(peer, "run.sh"), args...)
		cmd.Env = env
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			err = fmt.Errorf("run.sh %s: %w: %s%s", strings.Join(args, " "), err, out, stderr.Bytes())
		}
		return out, err
	}
}

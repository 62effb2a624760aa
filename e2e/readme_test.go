package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"porta/internal/proctest"
)

// The README's commands, run as a reader would run them, so that they cannot rot.

// readmeBlocks returns the fenced code blocks (with their info string) of the README section whose
// heading is heading.
func readmeBlocks(t *testing.T, heading string) []struct{ info, body string } {
	t.Helper()
	data, err := os.ReadFile(repoFile("README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(data), "\n"+heading+"\n")
	if !ok {
		t.Fatalf("README.md has no section %q", heading)
	}
	// The section's own text: up to the next heading of any level (a subsection's examples, such
	// as Operating it's HTTPS one, need a real network and are not run).
	if loc := regexp.MustCompile(`\n#{2,6} `).FindStringIndex(sec); loc != nil {
		sec = sec[:loc[0]]
	}
	var out []struct{ info, body string }
	for _, m := range regexp.MustCompile("(?ms)^```([a-z]*)\n(.*?)^```$").FindAllStringSubmatch(sec, -1) {
		out = append(out, struct{ info, body string }{m[1], m[2]})
	}
	return out
}

// sandbox is a working directory laid out like the repository root for the README's commands:
// testdata (linked), and a `go` on PATH that answers the README's build command with the binary
// the tests built from the same tree (building again in a copy would take minutes of cgo).
func sandbox(t *testing.T) (dir string, env []string) {
	t.Helper()
	dir = t.TempDir()
	if err := os.Symlink(repoFile("testdata"), filepath.Join(dir, "testdata")); err != nil {
		t.Fatal(err)
	}
	shim := filepath.Join(t.TempDir(), "go")
	script := "#!/bin/sh\n" +
		`if [ "$*" = "build -o bin/porta ./cmd/porta" ]; then mkdir -p bin && cp "` + proctest.Binary(t) + `" bin/porta; exit; fi` + "\n" +
		`echo "README test: unexpected go $*" >&2; exit 1` + "\n"
	if err := os.WriteFile(shim, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	env = append(os.Environ(), "PATH="+filepath.Dir(shim)+":"+os.Getenv("PATH"), "TMPDIR="+tmp, "XDG_STATE_HOME="+tmp)
	return dir, env
}

// tmpDir is the TMPDIR of a sandbox's environment, where the README's mktemp makes its folders.
func tmpDir(env []string) string {
	dir := os.TempDir()
	for _, e := range env { // the last one counts, as in exec.Cmd
		if v, ok := strings.CutPrefix(e, "TMPDIR="); ok {
			dir = v
		}
	}
	return dir
}

// runBash runs script with bash -e in dir, in its own process group, which is killed at the end
// (the gateways the script starts in the background included) or when timeout passes.
func runBash(t *testing.T, dir string, env []string, script string, timeout time.Duration) (string, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-e", "-c", script)
	cmd.Dir, cmd.Env = dir, env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
	err := cmd.Wait()
	if ctx.Err() != nil {
		err = ctx.Err()
	}
	return stdout.String(), stderr.String(), err
}

// TestReadmeQuickStart runs the README's Quick start block as it stands: two gateways made,
// joined and served, one SAP through the PD with curl, its trace record shown, both stopped.
func TestReadmeQuickStart(t *testing.T) {
	for _, tool := range []string{"bash", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("the quick start needs %s: %v", tool, err)
			}
			t.Skipf("the quick start needs %s (apt-get install %s)", tool, tool)
		}
	}
	blocks := readmeBlocks(t, "## Quick start")
	if len(blocks) != 1 || blocks[0].info != "sh" {
		t.Fatalf("the Quick start section must hold one ```sh block, has %d", len(blocks))
	}
	block := blocks[0].body
	if first := strings.Fields(strings.SplitN(block, "#", 2)[0]); len(first) < 5 || strings.Join(first[:5], " ") != "go build -o bin/porta ./cmd/porta" {
		t.Fatalf("the block must start with the build the sandbox provides (go build -o bin/porta ./cmd/porta), starts with %q", first)
	}
	dir, env := sandbox(t)
	start := time.Now()
	stdout, stderr, err := runBash(t, dir, env, block, 3*time.Minute)
	t.Logf("the quick start took %v", time.Since(start).Round(time.Millisecond))
	if err != nil {
		logs, _ := filepath.Glob(filepath.Join(tmpDir(env), "*", "*", "log"))
		for _, l := range logs {
			b, _ := os.ReadFile(l)
			stderr += "\n--- " + l + "\n" + string(b)
		}
		t.Fatalf("the quick start failed: %v\n--- stdout\n%s\n--- stderr\n%s", err, stdout, stderr)
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`<typ:risposta_invioSAP [^>]*><typ:Esito>OK</typ:Esito><typ:CodiceSAP>SP\d{8}A</typ:CodiceSAP></typ:risposta_invioSAP>`),
		regexp.MustCompile(`(?m)^Identificatore\s+Ministero_MinisteroSPCoopIT_0000001_`),
		regexp.MustCompile(`(?m)^Servizio/Azione\s+SAP/invioSAP$`),
		regexp.MustCompile(`(?m)^Outcome\s+received$`),
		regexp.MustCompile(`Exchange \(2 records\):`),
	} {
		if !want.MatchString(stdout) {
			t.Errorf("the quick start's output lacks %s:\n%s\n--- stderr\n%s", want, stdout, stderr)
		}
	}
}

// TestReadmeUsingIt runs the commands of the README's "Using it" block that need no running
// gateway: making and joining two gateways, declaring a service and an application, checking and
// showing the registry, and the envelope pipeline.
func TestReadmeUsingIt(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("needs bash")
	}
	blocks := readmeBlocks(t, "## Using it")
	if len(blocks) == 0 {
		t.Fatal("Using it has no code block")
	}
	var script []string
	lines := strings.Split(blocks[0].body, "\n")
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if strings.HasPrefix(l, "porta serve") { // the rest needs running gateways, except:
			for ; i < len(lines) && !strings.HasPrefix(lines[i], "porta envelope wrap"); i++ {
			}
			script = append(script, lines[i], lines[i+1]) // the pipeline and its continuation
			break
		}
		script = append(script, l)
	}
	dir, env := sandbox(t)
	if err := os.WriteFile(filepath.Join(dir, "password.txt"), []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env = append(env, "PATH="+filepath.Dir(proctest.Binary(t))+":"+os.Getenv("PATH"))
	stdout, stderr, err := runBash(t, dir, env, strings.Join(script, "\n"), 2*time.Minute)
	if err != nil {
		t.Fatalf("the Using it commands failed: %v\n--- script\n%s\n--- stdout\n%s\n--- stderr\n%s", err, strings.Join(script, "\n"), stdout, stderr)
	}
	for _, want := range []string{
		"ok: 2 parties (1 hosted), 1 services, 1 applications",       // registry check
		"SIL          basic sil    Provincia: Ministero/SAP",         // registry show
		`"service":"SAP","action":"invioSAP","id":"Provincia_Provin`, // envelope verify
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s\n--- stderr\n%s", want, stdout, stderr)
		}
	}
}

// TestReadmeOperatingIt runs the README's "Operating it" block after the Quick start's, with the
// Quick start's gateways still running: operators added, the API called with curl.
func TestReadmeOperatingIt(t *testing.T) {
	for _, tool := range []string{"bash", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("Operating it needs %s: %v", tool, err)
			}
			t.Skipf("Operating it needs %s (apt-get install %s)", tool, tool)
		}
	}
	quick := readmeBlocks(t, "## Quick start")
	ops := readmeBlocks(t, "## Operating it")
	if len(quick) != 1 || len(ops) != 1 || ops[0].info != "sh" {
		t.Fatalf("want one ```sh block in Quick start and in Operating it, have %d and %d", len(quick), len(ops))
	}
	lines := strings.Split(strings.TrimRight(quick[0].body, "\n"), "\n")
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, "kill ") {
		t.Fatalf("the Quick start's last line is not the one that stops the gateways: %q", last)
	}
	script := strings.Join(lines[:len(lines)-1], "\n") + "\necho '--- operating it'\n" + ops[0].body + last + "\n"
	dir, env := sandbox(t)
	stdout, stderr, err := runBash(t, dir, env, script, 3*time.Minute)
	if err != nil {
		t.Fatalf("Operating it failed: %v\n--- stdout\n%s\n--- stderr\n%s", err, stdout, stderr)
	}
	_, out, _ := strings.Cut(stdout, "--- operating it\n")
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`"service": "SAP",\s+"action": "invioSAP"`),                       // the listing
		regexp.MustCompile(`"verifies": true`),                                               // the detail's chain
		regexp.MustCompile(`"visible": true,\s+"envelope": "`),                               // an admin sees the body
		regexp.MustCompile(`(?m)^bucket,key,count,errors,error_rate,latency_samples,p50_ms`), // the CSV
		regexp.MustCompile(`(?m)^\d{4}-\d\d-\d\dT00:00:00Z,SAP,1,0,0,1,`),                    // one SAP, one latency
		regexp.MustCompile(`"state": "failed",\s+"items": \[\]`),                             // nothing failed
		regexp.MustCompile(`"status": 403,\s+"error": "forbidden"`),                          // mario is a viewer
	} {
		if !want.MatchString(out) {
			t.Errorf("Operating it's output lacks %s:\n%s\n--- stderr\n%s", want, out, stderr)
		}
	}
}

package main

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"porta/internal/demo"
)

// TestDemoKeepReportAndWhatNext runs porta demo --keep on 10 workers with its temporary folder
// in a test directory: the report's rows start every column at the same place, progress went to
// stderr only, the folder is kept and named, and the what-next lines are commands that work as
// printed (failures list shows the demo's rejections, trace verify checks the chain).
func TestDemoKeepReportAndWhatNext(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	var out, errb bytes.Buffer
	code := run([]string{"demo", "--keep", "--workers", "10"}, nil, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out.String(), errb.String())
	}
	report := out.String()
	checkColumnsAlign(t, report)
	for _, f := range demo.FlowNames() {
		if !strings.Contains(errb.String(), "flow "+f+" started") || !strings.Contains(errb.String(), "flow "+f+" done in") {
			t.Errorf("stderr has no start and end of %s:\n%s", f, errb.String())
		}
	}
	if strings.Contains(report, "porta demo: ") && strings.Contains(report, " started") {
		t.Errorf("progress on stdout:\n%s", report)
	}
	entries, _ := os.ReadDir(tmp)
	if len(entries) != 1 {
		t.Fatalf("--keep left %d entries in TMPDIR, want the network's folder", len(entries))
	}
	dir := filepath.Join(tmp, entries[0].Name())
	if !strings.Contains(report, "The network is in "+dir+" (kept: --keep)") {
		t.Errorf("the report does not say where the kept network is:\n%s", report)
	}
	cmds := whatNext(report)
	for _, want := range []string{"trace list", "trace show", "trace verify", "failures list", "serve"} {
		if cmds[want] == nil {
			t.Errorf("what next has no porta %s:\n%s", want, report)
		}
	}
	var fo, fe bytes.Buffer
	if code := run(cmds["failures list"], nil, &fo, &fe); code != 0 || !strings.Contains(fo.String(), "check character") {
		t.Errorf("%v: exit %d, want the demo's planted rejections:\n%s%s", cmds["failures list"], code, fo.String(), fe.String())
	}
	var vo, ve bytes.Buffer
	if code := run(cmds["trace verify"], nil, &vo, &ve); code != 0 {
		t.Errorf("%v: exit %d\n%s%s", cmds["trace verify"], code, vo.String(), ve.String())
	}
	var lo, le bytes.Buffer
	if code := run(cmds["trace list"], nil, &lo, &le); code != 0 || !strings.Contains(lo.String(), "Ministero") {
		t.Errorf("%v: exit %d\n%s%s", cmds["trace list"], code, lo.String(), le.String())
	}
}

// TestDemoRemovesItsTemporaryFolder: without --keep or --dir, nothing is left behind, and the
// report says so; --dir is kept and named as such.
func TestDemoRemovesItsTemporaryFolder(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	var out, errb bytes.Buffer
	if code := run([]string{"demo", "--workers", "10"}, nil, &out, &errb); code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out.String(), errb.String())
	}
	if entries, _ := os.ReadDir(tmp); len(entries) != 0 {
		t.Errorf("porta demo left %d entries in TMPDIR: %v", len(entries), entries)
	}
	if !strings.Contains(out.String(), "removed now") || strings.Contains(out.String(), "porta failures list") {
		t.Errorf("the report does not say the network was removed:\n%s", out.String())
	}
}

// TestDemoDirMustBeEmpty: --dir is a new or empty folder, never written over.
func TestDemoDirMustBeEmpty(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "x"), nil, 0o644)
	if code, _, errs := runPorta(t, nil, "demo", "--dir", dir); code != 1 || !strings.Contains(errs, "is not empty") {
		t.Errorf("demo --dir on a full folder: exit %d, %s", code, errs)
	}
}

// checkColumnsAlign checks that the header and every flow row of the report start each column at
// the same offset (the rows between the header and the blank line, but the indented reasons).
func checkColumnsAlign(t *testing.T, report string) {
	t.Helper()
	lines := strings.Split(report, "\n")
	var rows []string
	for i, l := range lines {
		if strings.HasPrefix(l, "flow ") {
			for _, r := range lines[i:] {
				if r == "" {
					break
				}
				if !strings.HasPrefix(r, "    ") {
					rows = append(rows, r)
				}
			}
			break
		}
	}
	if len(rows) != 1+len(demo.FlowNames()) {
		t.Fatalf("%d rows under the header, want %d:\n%s", len(rows)-1, len(demo.FlowNames()), report)
	}
	// A column ends where a cell ends: the numbers are right-aligned, so every row must have the
	// same end offsets of its cells (the flow names, left-aligned, hold spaces themselves).
	ends := func(r string) []int {
		var out []int
		for i := 1; i < len(r); i++ {
			if r[i] == ' ' && r[i-1] != ' ' {
				out = append(out, i)
			}
		}
		return append(out, len(r))
	}
	want := ends(rows[0])
	for _, r := range rows[1:] {
		got := ends(r)
		if len(r) != len(rows[0]) || !endsWith(got, want[1:]) {
			t.Errorf("row not aligned with the header:\n%s\n%s", rows[0], r)
		}
	}
}

// endsWith reports whether a ends with the elements of b.
func endsWith(a, b []int) bool {
	if len(a) < len(b) {
		return false
	}
	for i := range b {
		if a[len(a)-len(b)+i] != b[i] {
			return false
		}
	}
	return true
}

// whatNext reads the what-next block: each "  porta ..." line, its comment cut off, by its
// subcommand ("trace verify", "serve"), as arguments for run.
func whatNext(report string) map[string][]string {
	out := map[string][]string{}
	for _, l := range strings.Split(report, "\n") {
		if !strings.HasPrefix(l, "  porta ") {
			continue
		}
		cmd, _, _ := strings.Cut(l, "#")
		f := strings.Fields(cmd)[1:]
		key := f[0]
		if len(f) > 1 && !strings.HasPrefix(f[1], "-") {
			key += " " + f[1]
		}
		out[key] = f
	}
	return out
}

// TestDemoConsole runs porta demo --console: once the flows are done it prints the console's
// address and an admin's credentials, the console and the API answer there with them (and 401
// without), and SIGINT stops the network, which then reports as usual.
func TestDemoConsole(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	out, errb := &syncBuffer{}, &syncBuffer{}
	done := make(chan int, 1)
	go func() { done <- run([]string{"demo", "--console", "--workers", "10"}, nil, out, errb) }()
	deadline := time.Now().Add(3 * time.Minute)
	for !strings.Contains(out.String(), "Ctrl-C stops") {
		select {
		case code := <-done:
			t.Fatalf("porta demo --console ended (exit %d) before holding the network:\n%s\n%s", code, out.String(), errb.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no console after 3 minutes:\n%s\n%s", out.String(), errb.String())
		}
	}
	m := regexp.MustCompile(`console: +(http://[0-9.:]+)/ui/`).FindStringSubmatch(out.String())
	c := regexp.MustCompile(`log in: +(\S+) / (\S+) +\(role admin`).FindStringSubmatch(out.String())
	if m == nil || c == nil {
		syscall.Kill(os.Getpid(), syscall.SIGINT)
		<-done
		t.Fatalf("no console address or credentials in:\n%s", out.String())
	}
	get := func(path, user, pass string) (int, string) {
		req, _ := http.NewRequest("GET", m[1]+path, nil)
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			return 0, ""
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if code, body := get("/ui/", "", ""); code != 200 || !strings.Contains(body, "/ui/app.js") {
		t.Errorf("GET /ui/: %d", code)
	}
	if code, _ := get("/api/v1/transactions", "", ""); code != http.StatusUnauthorized {
		t.Errorf("GET /api/v1/transactions without credentials: %d, want 401", code)
	}
	if code, body := get("/api/v1/transactions?service=SAP", c[1], c[2]); code != 200 || !strings.Contains(body, `"service": "SAP"`) {
		t.Errorf("GET /api/v1/transactions?service=SAP as %s: %d\n%.500s", c[1], code, body)
	}
	if code, body := get("/api/v1/registry", c[1], c[2]); code != 200 || !strings.Contains(body, `"Ministero"`) {
		t.Errorf("GET /api/v1/registry as the demo's admin: %d\n%.300s", code, body)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-done:
		if code != 0 || !strings.Contains(out.String(), "trace verify (every gateway): ok") {
			t.Errorf("after Ctrl-C: exit %d\n%s\n%s", code, out.String(), errb.String())
		}
	case <-time.After(time.Minute):
		t.Fatal("porta demo --console did not stop a minute after SIGINT")
	}
}

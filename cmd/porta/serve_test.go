package main

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for the serve goroutine to write while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func TestServeStartsAndStopsOnSignal(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	if code := run([]string{"init", "--party", "Provincia", "--dir", dir, "--alg", "ecdsa-p256",
		"--pd-addr", "127.0.0.1:0", "--pa-addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0"}, nil, &out, &errb); code != 0 {
		t.Fatalf("porta init: exit %d\n%s", code, errb.String())
	}
	if code := run([]string{"operator", "add", "--config", filepath.Join(dir, "porta.yaml"), "--name", "vera", "--password-stdin"},
		strings.NewReader("vera-password\n"), &out, &errb); code != 0 {
		t.Fatalf("porta operator add: exit %d\n%s", code, errb.String())
	}
	addrFile := filepath.Join(dir, "addrs")
	os.WriteFile(addrFile, []byte("PORTA_PD=127.0.0.1:1\n"), 0o644) // an earlier run's: not to be read as this one's
	addrs, done, logs := serveInProcess(t, filepath.Join(dir, "porta.yaml"), "--addr-file", addrFile)
	deadline := time.Now().Add(10 * time.Second)
	// --addr-file: the three bound addresses, as shell assignments, once all are bound.
	want := "PORTA_PD=" + addrs["pd"] + "\nPORTA_PA=" + addrs["pa"] + "\nPORTA_ADMIN=" + addrs["admin"] + "\n"
	for b, _ := os.ReadFile(addrFile); string(b) != want; b, _ = os.ReadFile(addrFile) {
		if time.Now().After(deadline) {
			t.Fatalf("--addr-file holds %q, want %q", b, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// /healthz, /readyz and /metrics are open; the management API wants an operator.
	for _, c := range []struct {
		path, user string
		status     int
	}{{"/healthz", "", 200}, {"/readyz", "", 200}, {"/metrics", "", 200}, {"/api/v1/transactions", "", 401},
		{"/api/v1/transactions", "vera", 200}, {"/api/v1/registry", "vera", 403}, {"/api/v1/openapi.json", "", 200}} {
		req, _ := http.NewRequest("GET", "http://"+addrs["admin"]+c.path, nil)
		if c.user != "" {
			req.SetBasicAuth(c.user, c.user+"-password")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status {
			t.Errorf("%s as %q: %d %s, want %d", c.path, c.user, resp.StatusCode, b, c.status)
		}
	}
	stopServe(t, done, logs)
	if _, err := os.Stat(addrFile); !os.IsNotExist(err) {
		t.Errorf("--addr-file left behind after stop: %v", err)
	}
	if !strings.Contains(logs.String(), "stopped") {
		t.Errorf("no stop line:\n%s", logs.String())
	}
}

// serveInProcess runs porta serve --config cfg (and args) in this process until stopServe, and
// returns its listeners' addresses by name once all three listen, its exit code's channel and
// its log.
func serveInProcess(t *testing.T, cfg string, args ...string) (map[string]string, chan int, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- run(append([]string{"serve", "--config", cfg}, args...), nil, io.Discard, logs)
	}()
	re := regexp.MustCompile(`msg=listening listener=(\w+) addr=(\S+)`)
	addrs := map[string]string{}
	deadline := time.Now().Add(10 * time.Second)
	for len(addrs) < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("no three listening lines:\n%s", logs.String())
		}
		select {
		case code := <-done:
			t.Fatalf("serve exited with %d:\n%s", code, logs.String())
		case <-time.After(20 * time.Millisecond):
		}
		for _, m := range re.FindAllStringSubmatch(logs.String(), -1) {
			addrs[m[1]] = m[2]
		}
	}
	return addrs, done, logs
}

// stopServe sends this process SIGTERM, which porta serve catches, and waits for it to exit 0.
func stopServe(t *testing.T, done chan int, logs *syncBuffer) {
	t.Helper()
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("serve exited with %d after SIGTERM:\n%s", code, logs.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop on SIGTERM")
	}
}

func TestServeRefusesBadConfig(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "porta.yaml")
	if err := os.WriteFile(cfg, []byte("parties: [Provincia]\nlisten:\n  pd: nowhere\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var errb bytes.Buffer
	if code := run([]string{"serve", "--config", cfg}, nil, io.Discard, &errb); code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	if !strings.Contains(errb.String(), "porta.yaml:3") {
		t.Errorf("the error does not name file:line:\n%s", errb.String())
	}
	if code := run([]string{"serve", "--bogus"}, nil, io.Discard, &errb); code != 2 {
		t.Errorf("bad flag: exit %d, want 2", code)
	}
}

// TestGCPercent: serve and bench run the collector at gcPercent unless GOGC says otherwise, and
// --memory-limit sets the runtime's limit.
func TestGCPercent(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	if err := setMemoryLimit(""); err != nil {
		t.Fatal(err)
	}
	if _, set := os.LookupEnv("GOGC"); !set {
		if got := debug.SetGCPercent(100); got != gcPercent {
			t.Errorf("GC percent %d, want %d", got, gcPercent)
		}
	}
	t.Setenv("GOGC", "100")
	debug.SetGCPercent(100)
	if err := setMemoryLimit("256MiB"); err != nil {
		t.Fatal(err)
	}
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("with GOGC=100: GC percent %d", got)
	}
	if got := debug.SetMemoryLimit(-1); got != 256<<20 {
		t.Errorf("memory limit %d, want 256 MiB", got)
	}
	if err := setMemoryLimit("lots"); err == nil {
		t.Error("--memory-limit lots accepted")
	}
}

// TestGCPacer: while large messages are held the collector runs at largeGCPercent, from the first
// Hold to the last Release, then at the target it had; a lower target, or none, is kept.
func TestGCPacer(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(gcPercent))
	gc := func() int { p := debug.SetGCPercent(-1); debug.SetGCPercent(p); return p }
	var p gcPacer
	p.Hold()
	p.Hold()
	if got := gc(); got != largeGCPercent {
		t.Errorf("two held: GC percent %d, want %d", got, largeGCPercent)
	}
	p.Release()
	if got := gc(); got != largeGCPercent {
		t.Errorf("one still held: GC percent %d, want %d", got, largeGCPercent)
	}
	p.Release()
	if got := gc(); got != gcPercent {
		t.Errorf("none held: GC percent %d, want %d", got, gcPercent)
	}
	for _, target := range []int{largeGCPercent / 2, -1} {
		debug.SetGCPercent(target)
		p.Hold()
		if got := gc(); got != target {
			t.Errorf("GOGC %d, held: GC percent %d", target, got)
		}
		p.Release()
		if got := gc(); got != target {
			t.Errorf("GOGC %d, released: GC percent %d", target, got)
		}
	}
}

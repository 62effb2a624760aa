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
	logs := &syncBuffer{}
	done := make(chan int, 1)
	addrFile := filepath.Join(dir, "addrs")
	os.WriteFile(addrFile, []byte("PORTA_PD=127.0.0.1:1\n"), 0o644) // an earlier run's: not to be read as this one's
	go func() {
		done <- run([]string{"serve", "--config", filepath.Join(dir, "porta.yaml"), "--addr-file", addrFile}, nil, io.Discard, logs)
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
	// --addr-file: the three bound addresses, as shell assignments, once all are bound.
	want := "PORTA_PD=" + addrs["pd"] + "\nPORTA_PA=" + addrs["pa"] + "\nPORTA_ADMIN=" + addrs["admin"] + "\n"
	for b, _ := os.ReadFile(addrFile); string(b) != want; b, _ = os.ReadFile(addrFile) {
		if time.Now().After(deadline) {
			t.Fatalf("--addr-file holds %q, want %q", b, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get("http://" + addrs["admin"] + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s: %d %s", path, resp.StatusCode, b)
		}
	}
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
	if _, err := os.Stat(addrFile); !os.IsNotExist(err) {
		t.Errorf("--addr-file left behind after stop: %v", err)
	}
	if !strings.Contains(logs.String(), "stopped") {
		t.Errorf("no stop line:\n%s", logs.String())
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

// Package proctest runs the real porta binary in tests: it builds it once per test binary, starts
// processes with their output captured, waits for lines they print (such as the addresses they
// listen on), and stops them gently (SIGTERM) or not (SIGKILL), for end-to-end, durability and
// scale-out tests that must cross process boundaries.
//
// It lives under internal/ because it is test support, not part of the gateway's design; it must
// not be imported by non-test code.
package proctest

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"porta/internal/listen"
)

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
	buildDir  string
)

// Binary builds ./cmd/porta once for the whole test binary and returns its path.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		root, err := moduleRoot()
		if err != nil {
			buildErr = err
			return
		}
		buildDir, err = os.MkdirTemp("", "porta-bin-")
		if err != nil {
			buildErr = err
			return
		}
		buildPath = filepath.Join(buildDir, "porta")
		cmd := exec.Command("go", "build", "-o", buildPath, "./cmd/porta")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/porta: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildPath
}

// Cleanup removes the built binary; call it from TestMain after m.Run.
func Cleanup() {
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
}

func moduleRoot() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", fmt.Errorf("proctest: cannot locate the module root")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", "..")), nil
}

// Proc is a running process with its combined output kept in memory and scanned line by line.
type Proc struct {
	Name string
	cmd  *exec.Cmd
	t    testing.TB

	mu    sync.Mutex
	lines []string
	cond  *sync.Cond
	done  chan struct{}
	err   error
}

// Start runs bin with args (env is appended to the test's environment). The process is killed at
// the end of the test if still running, and its output is logged when the test fails.
func Start(t testing.TB, name, bin string, args []string, env ...string) *Proc {
	t.Helper()
	return StartWithSockets(t, name, bin, args, nil, env...)
}

// StartWithSockets is Start passing listening sockets by socket activation (internal/listen):
// socks maps a listener name ("pd", "pa", "admin") to a socket the test holds (Reserved.File), so
// the process serves on an address reserved before it started, and the same address again after
// a restart.
func StartWithSockets(t testing.TB, name, bin string, args []string, socks map[string]*os.File, env ...string) *Proc {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	if len(socks) > 0 {
		names := make([]string, 0, len(socks))
		for n := range socks {
			names = append(names, n)
		}
		sort.Strings(names)
		if err := listen.Activate(cmd, names, socks); err != nil {
			t.Fatalf("start %s: %v", name, err)
		}
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	pr, pw := io.Pipe()
	cmd.Stdout = pw
	cmd.Stderr = pw
	p := &Proc{Name: name, cmd: cmd, t: t, done: make(chan struct{})}
	p.cond = sync.NewCond(&p.mu)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64*1024), 4<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, sc.Text())
			p.cond.Broadcast()
			p.mu.Unlock()
		}
	}()
	go func() {
		err := cmd.Wait()
		pw.Close()
		p.mu.Lock()
		p.err = err
		close(p.done)
		p.cond.Broadcast()
		p.mu.Unlock()
	}()
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() {
			t.Logf("--- output of %s ---\n%s", name, p.Output())
		}
	})
	return p
}

// WaitFor waits until a line of output matches re and returns its submatches.
func (p *Proc) WaitFor(re *regexp.Regexp, timeout time.Duration) []string {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	timer := time.AfterFunc(timeout, func() {
		p.mu.Lock()
		p.cond.Broadcast()
		p.mu.Unlock()
	})
	defer timer.Stop()
	p.mu.Lock()
	defer p.mu.Unlock()
	seen := 0
	for {
		for ; seen < len(p.lines); seen++ {
			if m := re.FindStringSubmatch(p.lines[seen]); m != nil {
				return m
			}
		}
		select {
		case <-p.done:
			p.t.Fatalf("%s exited (%v) before printing a line matching %q; output:\n%s", p.Name, p.err, re, strings.Join(p.lines, "\n"))
		default:
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s printed no line matching %q within %v; output:\n%s", p.Name, re, timeout, strings.Join(p.lines, "\n"))
		}
		p.cond.Wait()
	}
}

// Pid is the process's id, for reading what it uses from /proc.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Output returns everything the process printed so far.
func (p *Proc) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var b bytes.Buffer
	for _, l := range p.lines {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return b.String()
}

// Kill sends SIGKILL to the process group and waits for the process to end.
func (p *Proc) Kill() {
	if p.cmd.Process == nil {
		return
	}
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}

// Stop sends SIGTERM and waits up to timeout for a clean exit, then kills. It returns the
// process's exit error (nil for a clean exit).
func (p *Proc) Stop(timeout time.Duration) error {
	if p.cmd.Process == nil {
		return nil
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(timeout):
		p.Kill()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// Exited reports whether the process has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

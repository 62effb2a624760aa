// Package listen owns where a server's listening sockets come from when they are not simply bound
// from an address in porta.yaml:
//
//   - Reserved holds loopback sockets bound now and keeps them bound until the server that uses
//     them takes them over (in process through Reserved.Listen, or in a child process through
//     socket activation). An address handed out is never free in between, so no other process,
//     test or outgoing connection can take it: this is how porta demo, porta sim, porta bench and
//     the tests choose the addresses a registry must know before a gateway listens.
//   - Inherited reads the sockets passed by systemd-style socket activation (LISTEN_PID,
//     LISTEN_FDS, LISTEN_FDNAMES), so porta serve can run behind a .socket unit, and so a test
//     can pass a reserved socket to a porta serve child process.
//
// It must not know what is served on a socket: it hands out net.Listeners and nothing else.
package listen

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// Reserved holds bound loopback sockets by address until they are taken over. It is safe for
// concurrent use. The zero value is not usable; call NewReserved.
type Reserved struct {
	mu   sync.Mutex
	held map[string]*net.TCPListener
}

var loopback = net.IPv4(127, 0, 0, 1)

// NewReserved returns an empty set of reservations.
func NewReserved() *Reserved { return &Reserved{held: map[string]*net.TCPListener{}} }

// Addr binds a new loopback socket, keeps it bound and returns its address ("127.0.0.1:port").
// The port is drawn below the kernel's usual ephemeral range (32768-60999 on Linux) when one is
// free there, so that an address written into a configuration and released (a network that
// other processes will serve later, as porta sim writes) is not taken by the local end of some
// outgoing connection before its server binds it; otherwise the kernel picks one.
func (r *Reserved) Addr() (string, error) {
	const lo, hi = 20000, 32768
	var l *net.TCPListener
	var err error
	for range 100 {
		if l, err = net.ListenTCP("tcp", &net.TCPAddr{IP: loopback, Port: lo + rand.IntN(hi-lo)}); err == nil {
			break
		}
	}
	if l == nil {
		if l, err = net.ListenTCP("tcp", &net.TCPAddr{IP: loopback}); err != nil {
			return "", fmt.Errorf("reserve a loopback port: %w", err)
		}
	}
	addr := l.Addr().String()
	r.mu.Lock()
	r.held[addr] = l
	r.mu.Unlock()
	return addr, nil
}

// Addrs reserves n addresses.
func (r *Reserved) Addrs(n int) ([]string, error) {
	out := make([]string, 0, n)
	for range n {
		a, err := r.Addr()
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// Listen has the signature of net.Listen. For an address this set holds, it hands the held
// socket over (the caller now owns it and the set forgets it); any other address is bound with
// net.Listen.
func (r *Reserved) Listen(network, addr string) (net.Listener, error) {
	r.mu.Lock()
	l, ok := r.held[addr]
	if ok {
		delete(r.held, addr)
	}
	r.mu.Unlock()
	if ok {
		return l, nil
	}
	return net.Listen(network, addr)
}

// Holds reports whether addr is reserved here and not yet taken over.
func (r *Reserved) Holds(addr string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.held[addr]
	return ok
}

// File returns a duplicate of the held socket for addr, for a child process (see Activate). The
// set keeps its own copy bound, so the address stays reserved across restarts of the child.
func (r *Reserved) File(addr string) (*os.File, error) {
	r.mu.Lock()
	l, ok := r.held[addr]
	r.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("listen: %s is not reserved here", addr)
	}
	return l.File()
}

// Close releases every socket still held.
func (r *Reserved) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var errs []error
	for a, l := range r.held {
		errs = append(errs, l.Close())
		delete(r.held, a)
	}
	return errors.Join(errs...)
}

// The environment of socket activation (sd_listen_fds(3)): the first passed descriptor is 3.
const (
	envPID   = "LISTEN_PID"
	envFDs   = "LISTEN_FDS"
	envNames = "LISTEN_FDNAMES"
	firstFD  = 3
)

// Inherited returns the sockets passed to this process by socket activation, by name
// (LISTEN_FDNAMES, colon-separated; an unnamed socket is called "unknown", as systemd does).
// It returns nil when none were passed to this process (LISTEN_PID names another process or is
// unset). It unsets the variables so that child processes do not take the sockets for theirs.
func Inherited() (map[string]net.Listener, error) {
	pid, fds := os.Getenv(envPID), os.Getenv(envFDs)
	if pid == "" || fds == "" {
		return nil, nil
	}
	if p, err := strconv.Atoi(pid); err != nil || p != os.Getpid() {
		return nil, nil
	}
	names := strings.Split(os.Getenv(envNames), ":")
	os.Unsetenv(envPID)
	os.Unsetenv(envFDs)
	os.Unsetenv(envNames)
	n, err := strconv.Atoi(fds)
	if err != nil || n < 0 {
		return nil, fmt.Errorf("socket activation: %s=%q is not a count", envFDs, fds)
	}
	out := map[string]net.Listener{}
	for i := range n {
		fd := firstFD + i
		syscall.CloseOnExec(fd)
		name := "unknown"
		if i < len(names) && names[i] != "" {
			name = names[i]
		}
		f := os.NewFile(uintptr(fd), name)
		l, err := net.FileListener(f)
		f.Close() // FileListener made its own duplicate
		if err != nil {
			return nil, fmt.Errorf("socket activation: descriptor %d (%s) is not a listening socket: %w", fd, name, err)
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("socket activation: two sockets named %q", name)
		}
		out[name] = l
	}
	return out, nil
}

// Activate prepares cmd to receive files as activated sockets named by their key (the order of
// names decides the descriptors). Since LISTEN_PID must be the child's own process id, which is
// known only once it runs, cmd is rewritten to start through /bin/sh, which sets LISTEN_PID to
// its own id and then execs the program in its place (same id).
func Activate(cmd *exec.Cmd, names []string, files map[string]*os.File) error {
	if len(names) == 0 {
		return nil
	}
	for _, n := range names {
		f := files[n]
		if f == nil {
			return fmt.Errorf("activate: no socket named %q", n)
		}
		if strings.ContainsRune(n, ':') {
			return fmt.Errorf("activate: socket name %q contains ':'", n)
		}
		cmd.ExtraFiles = append(cmd.ExtraFiles, f)
	}
	if len(cmd.ExtraFiles) != len(names) {
		return fmt.Errorf("activate: cmd already passes other descriptors")
	}
	env := cmd.Env
	if env == nil {
		env = os.Environ()
	}
	cmd.Env = append(env, envFDs+"="+strconv.Itoa(len(names)), envNames+"="+strings.Join(names, ":"))
	cmd.Args = append([]string{"/bin/sh", "-c", `export LISTEN_PID=$$; exec "$0" "$@"`, cmd.Path}, cmd.Args[1:]...)
	cmd.Path = "/bin/sh"
	return nil
}

// Package pgtest starts throwaway PostgreSQL servers for tests, from the machine's own server
// binaries (/usr/lib/postgresql/*/bin): initdb into a temporary folder and a server listening only
// on a Unix socket in the same folder (no TCP port to collide on). When the binaries are missing, tests skip through
// testenv.Missing (and fail under CI, which installs them).
//
// It lives under internal/ because it is test support, not part of the gateway; it must not be
// imported by non-test code. It never touches a server it did not start.
package pgtest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // driver "pgx"

	"porta/internal/testenv"
)

const install = "apt-get install postgresql"

// Binaries returns the directory holding initdb and postgres (the newest version installed), or
// an error saying what is missing.
func Binaries() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if isExec(filepath.Join(d, "initdb")) && isExec(filepath.Join(d, "postgres")) {
			return d, nil
		}
	}
	return "", errors.New("no /usr/lib/postgresql/*/bin with initdb and postgres")
}

func version(dir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return v
}

func isExec(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode()&0o111 != 0
}

// Server is a running PostgreSQL owned by the test process.
type Server struct {
	Dir  string // data directory's parent: data/, the socket, the log
	Port int    // names the socket file (.s.PGSQL.<Port>) in Dir
	cmd  *exec.Cmd
	done chan struct{} // closed when the server process has exited
	mu   sync.Mutex
	dbs  int
}

// DSN returns the URL of database name on the server (user postgres, trust authentication).
func (s *Server) DSN(name string) string {
	return fmt.Sprintf("postgres://postgres@/%s?host=%s&port=%d&sslmode=disable", name, url.QueryEscape(s.Dir), s.Port)
}

// StartServer runs initdb in dir and starts postgres listening on a Unix socket in dir only. As
// root, both run as the postgres user (PostgreSQL refuses root) through setpriv, and dir is handed to that user.
func StartServer(dir string) (*Server, error) {
	bin, err := Binaries()
	if err != nil {
		return nil, err
	}
	var uid, gid int = -1, -1
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root needs a postgres user to run the server: %w", err)
		}
		uid, _ = strconv.Atoi(u.Uid)
		gid, _ = strconv.Atoi(u.Gid)
		// The server user must reach dir: open the path to it for traversal, own dir itself.
		for p := filepath.Dir(dir); p != "/" && p != "."; p = filepath.Dir(p) {
			if fi, err := os.Stat(p); err == nil && fi.Mode().Perm()&0o001 == 0 {
				if err := os.Chmod(p, fi.Mode().Perm()|0o011); err != nil {
					return nil, fmt.Errorf("let the postgres user reach %s: %w", dir, err)
				}
			}
		}
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, fmt.Errorf("give %s to the postgres user: %w", dir, err)
		}
	}
	command := func(name string, args ...string) *exec.Cmd {
		path := filepath.Join(bin, name)
		if uid >= 0 {
			args = append([]string{"--reuid=" + strconv.Itoa(uid), "--regid=" + strconv.Itoa(gid), "--init-groups", "--", path}, args...)
			path = "setpriv"
		}
		c := exec.Command(path, args...)
		c.Env = append(os.Environ(), "LC_ALL=C")
		return c
	}
	data := filepath.Join(dir, "data")
	if out, err := command("initdb", "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb: %w\n%s", err, out)
	}
	// The server listens on a Unix socket in dir only: no TCP port to choose, so no test can
	// ever collide with another on one. The port number only names the socket file.
	const port = 5432
	logf, err := os.Create(filepath.Join(dir, "postgres.log"))
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	// Durability settings are off: a test server dies with its test, and fsync costs seconds.
	cmd := command("postgres", "-D", data, "-p", strconv.Itoa(port), "-k", dir, "-c", "listen_addresses=",
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c", "max_connections=200")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	s := &Server{Dir: dir, Port: port, cmd: cmd, done: make(chan struct{})}
	var werr error
	go func() { werr = cmd.Wait(); close(s.done) }()
	db, err := sql.Open("pgx", s.DSN("postgres"))
	if err != nil {
		s.Stop()
		return nil, err
	}
	defer db.Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err = db.PingContext(ctx)
		cancel()
		if err == nil {
			break
		}
		select {
		case <-s.done:
			log, _ := os.ReadFile(filepath.Join(dir, "postgres.log"))
			return nil, fmt.Errorf("postgres exited (%v) before accepting connections:\n%s", werr, log)
		default:
		}
		if time.Now().After(deadline) {
			s.Stop()
			return nil, fmt.Errorf("postgres on the socket in %s not ready after 30s: %w", dir, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return s, nil
}

// Stop shuts the server down (fast shutdown: SIGINT) and waits up to 10 s, then kills it.
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// CreateDB creates a new empty database on the server and returns its DSN.
func (s *Server) CreateDB() (string, error) {
	s.mu.Lock()
	s.dbs++
	name := fmt.Sprintf("test_%d", s.dbs)
	s.mu.Unlock()
	db, err := sql.Open("pgx", s.DSN("postgres"))
	if err != nil {
		return "", err
	}
	defer db.Close()
	if _, err := db.Exec("CREATE DATABASE " + name); err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	return s.DSN(name), nil
}

// Start starts a server for this test alone and returns the DSN of an empty database on it; the
// server stops in t.Cleanup. Missing binaries skip the test (fail under CI).
func Start(t testing.TB) string {
	t.Helper()
	if _, err := Binaries(); err != nil {
		testenv.Missing(t, "PostgreSQL server binaries", install)
	}
	s, err := StartServer(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	dsn, err := s.CreateDB()
	if err != nil {
		t.Fatal(err)
	}
	return dsn
}

// Shared is one server for all the tests of a package, started on first use and stopped when
// the package's tests end:
//
//	var pg pgtest.Shared
//	func TestMain(m *testing.M) { os.Exit(pg.Run(m)) }
//	func TestX(t *testing.T) { dsn := pg.DB(t) ... }
type Shared struct {
	once sync.Once
	srv  *Server
	dir  string
	err  error
}

// Run runs the tests and then stops the server if one was started.
func (sh *Shared) Run(m *testing.M) int {
	code := m.Run()
	if sh.srv != nil {
		sh.srv.Stop()
	}
	if sh.dir != "" {
		os.RemoveAll(sh.dir)
	}
	return code
}

// DB returns the DSN of a fresh empty database on the shared server.
func (sh *Shared) DB(t testing.TB) string {
	t.Helper()
	if _, err := Binaries(); err != nil {
		testenv.Missing(t, "PostgreSQL server binaries", install)
	}
	sh.once.Do(func() {
		sh.dir, sh.err = os.MkdirTemp("", "pgtest-")
		if sh.err == nil {
			sh.srv, sh.err = StartServer(sh.dir)
		}
	})
	if sh.err != nil {
		t.Fatalf("shared PostgreSQL: %v", sh.err)
	}
	dsn, err := sh.srv.CreateDB()
	if err != nil {
		t.Fatal(err)
	}
	return dsn
}

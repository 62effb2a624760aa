package ops

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"porta/audit"
	"porta/registry"
)

// clock is a test clock that only moves when told.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// The test operators, one per role, with their passwords.
var testOperators = []struct{ name, role, password string }{
	{"vera", "viewer", "vera-password"},
	{"otto", "operator", "otto-password"},
	{"ada", "admin", "ada-password"},
}

// addOperators puts the test operators into s. Their hashes are made once per test binary
// (PBKDF2 is slow on purpose).
func addOperators(t testing.TB, s *audit.Store) {
	t.Helper()
	hashesOnce.Do(func() {
		for _, op := range testOperators {
			h, err := registry.HashPassword(op.password, rand.Reader)
			if err != nil {
				panic(err)
			}
			hashes = append(hashes, h)
		}
	})
	for i, op := range testOperators {
		if err := s.PutOperator(context.Background(), &audit.Operator{Name: op.name, Role: op.role, PasswordHash: hashes[i]}); err != nil {
			t.Fatal(err)
		}
	}
}

var (
	hashesOnce sync.Once
	hashes     []string
)

func passwordOf(name string) string {
	for _, op := range testOperators {
		if op.name == name {
			return op.password
		}
	}
	return ""
}

// newStore is a real audit store (SQLite) with the test operators.
func newStore(t testing.TB, now func() time.Time) *audit.Store {
	t.Helper()
	s, err := audit.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "audit.db"), audit.Options{Node: "gw1", Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	addOperators(t, s)
	return s
}

// server serves the API of opt on a test server.
func server(t testing.TB, opt Options) (*API, *httptest.Server) {
	t.Helper()
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	a, err := New(opt)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	for p, h := range a.Routes() {
		mux.Handle(p, h)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return a, srv
}

// req is one API request of a test.
type req struct {
	method, path string
	user         string            // HTTP Basic as this test operator; "" = none
	body         string            // JSON
	header       map[string]string // more headers
	cookie       *http.Cookie
}

type resp struct {
	status int
	header http.Header
	body   []byte
	json   map[string]any
}

func do(t testing.TB, srv *httptest.Server, r req) resp {
	t.Helper()
	return doWith(t, srv.Client(), srv.URL, r)
}

// doWith is do with another client of the server at base (a TLS client certificate).
func doWith(t testing.TB, client *http.Client, base string, r req) resp {
	t.Helper()
	if r.method == "" {
		r.method = "GET"
	}
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	hr, err := http.NewRequest(r.method, base+r.path, body)
	if err != nil {
		t.Fatal(err)
	}
	if r.body != "" {
		hr.Header.Set("Content-Type", "application/json")
	}
	if r.user != "" {
		hr.SetBasicAuth(r.user, passwordOf(r.user))
	}
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	if r.cookie != nil {
		hr.AddCookie(r.cookie)
	}
	hresp, err := client.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	defer hresp.Body.Close()
	out := resp{status: hresp.StatusCode, header: hresp.Header}
	out.body, _ = io.ReadAll(hresp.Body)
	if strings.HasPrefix(hresp.Header.Get("Content-Type"), "application/json") && len(out.body) > 0 {
		d := json.NewDecoder(bytes.NewReader(out.body))
		d.UseNumber()
		if err := d.Decode(&out.json); err != nil {
			t.Fatalf("%s %s: not a JSON object: %v\n%s", r.method, r.path, err, out.body)
		}
		if !strings.HasSuffix(hr.URL.Path, "/openapi.json") {
			checkShape(t, r.method, hr.URL.Path, out.status, out.json)
		}
	}
	return out
}

// want checks the status, and that the body matches the OpenAPI document's schema for it.
func (r resp) want(t testing.TB, what string, status int) resp {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: status %d, want %d\n%s", what, r.status, status, r.body)
	}
	return r
}

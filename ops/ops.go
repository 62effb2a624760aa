package ops

import (
	"context"
	"crypto/rand"
	_ "embed"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"porta/audit"
	"porta/registry"
)

// Options configure the API. Store is required; every other field has a default or turns its
// part off when nil.
type Options struct {
	// Store is the node's audit store: the trail, the outbox, the jobs' state and the operators;
	// operator actions are appended to its chain.
	Store *audit.Store
	// Registry returns the registry in use (GET /api/v1/registry); nil: that route answers 503.
	Registry func() *registry.Registry
	// Jobs are porta.yaml's jobs; Wake, when set, makes this node look at a job at once after an
	// operator made it due (jobs.Scheduler.Wake).
	Jobs []JobInfo
	Wake func(job string) bool
	// Failures lists the records the provincial flows rejected (porta failures list) with status
	// open, resolved or "" for all; nil: this node keeps none (404).
	Failures func(ctx context.Context, status string) ([]Failure, error)
	// OpenBody returns the body of a record as an admin may read it: the seam where an encrypted
	// body is decrypted (audit.Record.Envelope with the node's trace keys). Nil shows an envelope
	// kept in clear and says an encrypted one cannot be opened.
	OpenBody func(*audit.Record) ([]byte, error)
	// UI is the console's handler, mounted at /ui/ beside the API (it gets the whole path); nil:
	// no console.
	UI http.Handler
	// IdleTimeout ends a browser session unused this long (default 30m).
	IdleTimeout time.Duration
	// Throttle configures the failed-login throttle (zero fields: defaults).
	Throttle ThrottleOptions
	Now      func() time.Time // default time.Now
	Random   io.Reader        // default crypto/rand.Reader: session and CSRF tokens, action ids
	Logger   *slog.Logger     // default slog.Default()
}

// JobInfo describes one of porta.yaml's jobs.
type JobInfo struct {
	Name     string `json:"name"`
	Schedule string `json:"schedule"` // in words, e.g. "every 24h at 02:30"
	Command  string `json:"command"`  // porta's arguments, e.g. "sil send --what sap"
}

// Failure is a record the provincial flows rejected (adapters/merge's failures table).
type Failure struct {
	ID       int64  `json:"id"`
	At       string `json:"at"`
	Source   string `json:"source"`
	Kind     string `json:"kind"`
	Record   string `json:"record"`
	Field    string `json:"field"`
	Rule     string `json:"rule"`
	Reason   string `json:"reason"`
	Status   string `json:"status"`
	Attempts int    `json:"attempts"`
	Updated  string `json:"updated"`
}

// API is the management API's handler.
type API struct {
	opt      Options
	mux      *http.ServeMux
	sessions *sessions
	throttle *throttle
	verified registry.PasswordCache // operators' passwords that checked out
}

// route is one operation of the API: its method and ServeMux path, the least role that may call
// it (0: no credentials needed) and its handler.
type route struct {
	method, path string
	role         Role
	h            func(w http.ResponseWriter, r *http.Request, c *caller) error
}

// routes is the API, in the order of its OpenAPI document.
func (a *API) routes() []route {
	return []route{
		{"GET", "/api/v1/openapi.json", 0, a.openAPI},
		{"POST", "/api/v1/login", 0, a.login},
		{"POST", "/api/v1/logout", Viewer, a.logout},
		{"GET", "/api/v1/session", Viewer, a.session},
		{"GET", "/api/v1/transactions", Viewer, a.transactions},
		{"GET", "/api/v1/transactions/{id...}", Viewer, a.transaction},
		{"GET", "/api/v1/failures", Viewer, a.failures},
		{"GET", "/api/v1/outbox", Viewer, a.outbox},
		{"POST", "/api/v1/outbox/{id}/requeue", Operator, a.requeue},
		{"GET", "/api/v1/stats", Viewer, a.stats},
		{"GET", "/api/v1/jobs", Viewer, a.jobs},
		{"POST", "/api/v1/jobs/{name}/run", Operator, a.runJob},
		{"GET", "/api/v1/registry", Admin, a.registry},
	}
}

// New returns the API over opt.Store.
func New(opt Options) (*API, error) {
	if opt.Store == nil {
		return nil, errors.New("ops: no store")
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Random == nil {
		opt.Random = rand.Reader
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.IdleTimeout <= 0 {
		opt.IdleTimeout = 30 * time.Minute
	}
	a := &API{opt: opt, mux: http.NewServeMux(), sessions: newSessions(), throttle: newThrottle(opt.Throttle)}
	allowed := map[string][]string{}
	for _, rt := range a.routes() {
		a.mux.Handle(rt.method+" "+rt.path, a.handle(rt))
		allowed[rt.path] = append(allowed[rt.path], rt.method)
	}
	// A path of the API with another method: a JSON 405 (the mux's own is plain text).
	for path, methods := range allowed {
		allow := strings.Join(methods, ", ")
		a.mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", allow)
			writeError(w, errorf(http.StatusMethodNotAllowed, "method_not_allowed", "%s %s: this path answers %s", r.Method, r.URL.Path, allow))
		})
	}
	a.mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, notFound("%s %s is not an operation of this API; GET /api/v1/openapi.json lists them", r.Method, r.URL.Path))
	})
	return a, nil
}

// Routes are the admin listener's routes of the API and the console, for
// gateway.Listeners.AdminRoutes.
func (a *API) Routes() map[string]http.Handler {
	m := map[string]http.Handler{"/api/": a}
	if a.opt.UI != nil {
		m["/ui/"] = a.opt.UI
	}
	return m
}

func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// The management API is never framed, cached or sniffed.
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	a.mux.ServeHTTP(w, r)
}

// handle wraps a route's handler with authentication, the role check and CSRF.
func (a *API) handle(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var c *caller
		if rt.role > 0 {
			var err error
			if c, err = a.authenticate(r); err != nil {
				if !browser(r) {
					w.Header().Set("WWW-Authenticate", `Basic realm="porta", charset="UTF-8"`)
				}
				writeError(w, err)
				return
			}
			if c.role < rt.role {
				writeError(w, errorf(http.StatusForbidden, "forbidden", "%s %s needs the role %s or higher; %s is %s (porta operator add --name %s --role %s changes it)",
					rt.method, rt.path, rt.role, c.name, c.role, c.name, rt.role))
				return
			}
			if rt.method != http.MethodGet {
				if err := a.checkCSRF(r, c); err != nil {
					writeError(w, err)
					return
				}
			}
		}
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		if err := rt.h(w, r, c); err != nil {
			if _, ok := err.(*Error); !ok {
				a.opt.Logger.Error("ops: request failed", "method", r.Method, "path", r.URL.Path, "err", err)
			}
			writeError(w, err)
		}
	})
}

// browser reports whether r comes from a browser's fetch or navigation (it names its Fetch
// Metadata): such a 401 carries no WWW-Authenticate, so the browser shows the console's login
// and never caches Basic credentials that a forged request could ride on.
func browser(r *http.Request) bool { return r.Header.Get("Sec-Fetch-Mode") != "" }

//go:embed openapi.json
var openAPIDoc []byte

// OpenAPI returns the API's OpenAPI 3 document (JSON).
func OpenAPI() []byte { return openAPIDoc }

func (a *API) openAPI(w http.ResponseWriter, r *http.Request, _ *caller) error {
	w.Header().Set("Content-Type", "application/json")
	_, err := w.Write(openAPIDoc)
	return err
}

// pathValue is r's path wildcard, trimmed.
func pathValue(r *http.Request, name string) string { return strings.TrimSpace(r.PathValue(name)) }

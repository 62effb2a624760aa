package ops

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"porta/audit"
	"porta/registry"
)

// Role is what an operator may do; each role may do what the ones below it may.
type Role int

const (
	Viewer   Role = 1 + iota // reads
	Operator                 // also requeues outbox messages and runs jobs
	Admin                    // also sees bodies and the registry
)

func (r Role) String() string {
	switch r {
	case Viewer:
		return "viewer"
	case Operator:
		return "operator"
	case Admin:
		return "admin"
	}
	return fmt.Sprintf("role(%d)", int(r))
}

// ParseRole reads viewer, operator or admin.
func ParseRole(s string) (Role, error) {
	for _, r := range []Role{Viewer, Operator, Admin} {
		if s == r.String() {
			return r, nil
		}
	}
	return 0, fmt.Errorf("role %q: want viewer, operator or admin", s)
}

// caller is who makes a request.
type caller struct {
	name    string
	role    Role
	session *session // nil: HTTP Basic or a certificate
	cert    string   // the client certificate's fingerprint when it authenticated the caller
	remote  string
}

const cookieName = "porta_session"

// CSRFHeader is the header a session's state-changing request carries its CSRF token in.
const CSRFHeader = "X-CSRF-Token"

var errUnauthenticated = errorf(http.StatusUnauthorized, "unauthenticated",
	"log in: HTTP Basic with an operator's name and password (porta operator add), or POST /api/v1/login for a browser session")

// authenticate finds the caller: the TLS client certificate when the connection has one (it
// decides alone: an unknown one is refused, whatever else the request carries), else HTTP Basic
// credentials when given, else the session cookie.
func (a *API) authenticate(r *http.Request) (*caller, error) {
	remote := remoteHost(r)
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		return a.checkCert(r)
	}
	if name, password, ok := r.BasicAuth(); ok {
		op, err := a.checkPassword(r, name, password)
		if err != nil {
			return nil, err
		}
		role, err := ParseRole(op.Role)
		if err != nil {
			return nil, err
		}
		return &caller{name: op.Name, role: role, remote: remote}, nil
	}
	ck, err := r.Cookie(cookieName)
	if err != nil || ck.Value == "" {
		return nil, errUnauthenticated
	}
	s := a.sessions.get(ck.Value, a.opt.Now(), a.opt.IdleTimeout)
	if s == nil {
		return nil, errorf(http.StatusUnauthorized, "unauthenticated", "the session ended (logged out, idle for more than %v, or the node restarted): log in again", a.opt.IdleTimeout)
	}
	// The operator's row is read again: a removed operator or a changed role counts at once.
	op, err := a.opt.Store.GetOperator(r.Context(), s.name)
	if errors.Is(err, audit.ErrNoOperator) {
		a.sessions.end(ck.Value)
		return nil, errorf(http.StatusUnauthorized, "unauthenticated", "operator %s was removed; the session is over", s.name)
	}
	if err != nil {
		return nil, err
	}
	role, err := ParseRole(op.Role)
	if err != nil {
		return nil, err
	}
	return &caller{name: op.Name, role: role, session: s, remote: remote}, nil
}

// checkPassword checks an operator's name and password, throttled: a name or an address with
// too many failures in a row is refused (429) before any hashing. A failure is traced.
func (a *API) checkPassword(r *http.Request, name, password string) (*audit.Operator, error) {
	remote := remoteHost(r)
	now := a.opt.Now()
	if wait := a.throttle.locked(now, remote, name); wait > 0 {
		secs := int(math.Ceil(wait.Seconds()))
		return nil, &Error{Status: http.StatusTooManyRequests, Word: "throttled", RetryAfter: secs,
			Message: fmt.Sprintf("too many failed logins from this address or for this name: try again in %d s", secs)}
	}
	op, err := a.opt.Store.GetOperator(r.Context(), name)
	if err != nil && !errors.Is(err, audit.ErrNoOperator) {
		return nil, err
	}
	ok := false
	if op != nil && op.PasswordHash != "" {
		if ok, err = a.verified.Check(op.Name, op.PasswordHash, password); err != nil {
			return nil, fmt.Errorf("operator %s: stored password hash: %w", op.Name, err)
		}
	} else {
		// An unknown name, or an operator with a certificate and no password: the same work as
		// for a real name, so that timing does not tell names apart.
		_, _ = registry.VerifyPassword(decoyHash, password)
	}
	if !ok {
		a.throttle.fail(now, remote, name)
		a.trace(r, name, ActionLoginFailed, "wrong name or password for "+quoteName(name))
		return nil, errorf(http.StatusUnauthorized, "unauthenticated", "wrong operator name or password (porta operator list shows the operators)")
	}
	a.throttle.succeed(remote, name)
	return op, nil
}

// checkCert authenticates the caller by its TLS client certificate: one the listener verified
// against listen.admin_client_ca whose SHA-256 fingerprint is an operator's (porta operator add
// --cert). An unverified or unknown certificate is refused (401, traced as a failed login, and
// throttled like a wrong password).
func (a *API) checkCert(r *http.Request) (*caller, error) {
	remote, now := remoteHost(r), a.opt.Now()
	fp := registry.Fingerprint(r.TLS.PeerCertificates[0])
	if len(r.TLS.VerifiedChains) == 0 {
		return nil, errorf(http.StatusUnauthorized, "unauthenticated",
			"client certificate %s was not verified: this admin listener verifies none (set listen.admin_client_ca to the operators' CA)", fp)
	}
	key := "cert:" + fp
	if wait := a.throttle.locked(now, remote, key); wait > 0 {
		secs := int(math.Ceil(wait.Seconds()))
		return nil, &Error{Status: http.StatusTooManyRequests, Word: "throttled", RetryAfter: secs,
			Message: fmt.Sprintf("too many refused logins from this address or with this certificate: try again in %d s", secs)}
	}
	op, err := a.opt.Store.OperatorByCert(r.Context(), fp)
	if errors.Is(err, audit.ErrNoOperator) {
		a.throttle.fail(now, remote, key)
		subject := r.TLS.PeerCertificates[0].Subject.String()
		a.trace(r, subject, ActionLoginFailed, "client certificate "+fp+" of "+quoteName(subject)+" is no operator's")
		return nil, errorf(http.StatusUnauthorized, "unauthenticated",
			"client certificate %s (%s) is no operator's: porta operator add --name NAME --role ROLE --cert FILE gives it one", fp, subject)
	}
	if err != nil {
		return nil, err
	}
	a.throttle.succeed(remote, key)
	role, err := ParseRole(op.Role)
	if err != nil {
		return nil, err
	}
	return &caller{name: op.Name, role: role, cert: fp, remote: remote}, nil
}

// decoyHash is checked when the name is unknown (a hash of a random password nobody knows).
const decoyHash = "pbkdf2-sha256$600000$3q2+7wAAAAAAAAAAAAAAAA$Kz3xN0dD1wY7m3S0p2j8rQ9uV1xB6cE4fG5hI7kL8mA"

func quoteName(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return fmt.Sprintf("%q", s)
}

// remoteHost is the TCP peer's address without the port.
func remoteHost(r *http.Request) string {
	if h, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return h
	}
	return r.RemoteAddr
}

// checkCSRF refuses a session's state-changing request without its CSRF token. HTTP Basic and
// certificate requests need none (a browser never holds Basic credentials for this API: see
// browser), but a cross-site one is refused all the same: a browser sends its client certificate
// on a cross-site request as it would a cookie, and names the site in Sec-Fetch-Site.
func (a *API) checkCSRF(r *http.Request, c *caller) error {
	if c.session == nil {
		if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
			return errorf(http.StatusForbidden, "csrf", "a cross-site request (Sec-Fetch-Site: %s) may not change anything", site)
		}
		return nil
	}
	got := r.Header.Get(CSRFHeader)
	if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(c.session.csrf)) != 1 {
		return errorf(http.StatusForbidden, "csrf", "missing or wrong %s header: send the csrf_token of POST /api/v1/login or GET /api/v1/session", CSRFHeader)
	}
	return nil
}

// Session is what login and GET /api/v1/session answer.
type Session struct {
	Operator    string `json:"operator"`
	Role        string `json:"role"`
	Via         string `json:"via"` // session, basic or certificate
	CSRFToken   string `json:"csrf_token,omitempty"`
	IdleTimeout int    `json:"idle_timeout_seconds,omitempty"`
	Node        string `json:"node"`
}

func (a *API) sessionOf(c *caller) Session {
	s := Session{Operator: c.name, Role: c.role.String(), Via: "basic", Node: a.opt.Store.Node()}
	if c.cert != "" {
		s.Via = "certificate"
	}
	if c.session != nil {
		s.Via, s.CSRFToken, s.IdleTimeout = "session", c.session.csrf, int(a.opt.IdleTimeout.Seconds())
	}
	return s
}

func (a *API) login(w http.ResponseWriter, r *http.Request, _ *caller) error {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		// A form cannot post JSON across sites without a CORS preflight this API never grants.
		return badRequest("send the credentials as JSON, Content-Type: application/json: {\"name\": ..., \"password\": ...}")
	}
	var in struct{ Name, Password string }
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return badRequest("reading the request: %v", err)
	}
	if err := json.Unmarshal(body, &in); err != nil || in.Name == "" || in.Password == "" {
		return badRequest("want {\"name\": \"...\", \"password\": \"...\"}")
	}
	op, err := a.checkPassword(r, in.Name, in.Password)
	if err != nil {
		return err
	}
	role, err := ParseRole(op.Role)
	if err != nil {
		return err
	}
	token, csrf, err := a.tokens()
	if err != nil {
		return err
	}
	s := a.sessions.start(token, &session{name: op.Name, csrf: csrf, last: a.opt.Now()}, a.opt.Now(), a.opt.IdleTimeout)
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: token, Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	c := &caller{name: op.Name, role: role, session: s, remote: remoteHost(r)}
	a.trace(r, op.Name, ActionLogin, "session opened, role "+role.String())
	writeJSON(w, http.StatusOK, a.sessionOf(c))
	return nil
}

func (a *API) logout(w http.ResponseWriter, r *http.Request, c *caller) error {
	if c.session != nil {
		ck, _ := r.Cookie(cookieName)
		a.sessions.end(ck.Value)
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", MaxAge: -1, Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	a.trace(r, c.name, ActionLogout, "session closed")
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) session(w http.ResponseWriter, r *http.Request, c *caller) error {
	writeJSON(w, http.StatusOK, a.sessionOf(c))
	return nil
}

// tokens draws a session token and a CSRF token.
func (a *API) tokens() (token, csrf string, err error) {
	b := make([]byte, 64)
	if _, err := io.ReadFull(a.opt.Random, b); err != nil {
		return "", "", fmt.Errorf("session tokens: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:32]), base64.RawURLEncoding.EncodeToString(b[32:]), nil
}

// session is a browser's login, kept in memory under the SHA-256 of its token.
type session struct {
	name string
	csrf string
	last time.Time // last use; the session ends IdleTimeout after it
}

type sessions struct {
	mu sync.Mutex
	m  map[[32]byte]*session
}

// maxSessions bounds the sessions kept: past it, the least recently used goes.
const maxSessions = 10_000

func newSessions() *sessions { return &sessions{m: map[[32]byte]*session{}} }

func (ss *sessions) start(token string, s *session, now time.Time, idle time.Duration) *session {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for k, x := range ss.m {
		if now.Sub(x.last) > idle {
			delete(ss.m, k)
		}
	}
	if len(ss.m) >= maxSessions {
		var oldest [32]byte
		var t time.Time
		for k, x := range ss.m {
			if t.IsZero() || x.last.Before(t) {
				oldest, t = k, x.last
			}
		}
		delete(ss.m, oldest)
	}
	ss.m[sha256.Sum256([]byte(token))] = s
	return s
}

// get returns the session of token and marks it used, or nil when it has none or it has been
// idle too long (then it ends).
func (ss *sessions) get(token string, now time.Time, idle time.Duration) *session {
	k := sha256.Sum256([]byte(token))
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s := ss.m[k]
	if s == nil {
		return nil
	}
	if now.Sub(s.last) > idle {
		delete(ss.m, k)
		return nil
	}
	s.last = now
	return s
}

func (ss *sessions) end(token string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	delete(ss.m, sha256.Sum256([]byte(token)))
}

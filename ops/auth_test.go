package ops

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"porta/audit"
)

// failedItem puts a failed outbox message into s, as the outbox worker leaves one it gave up on.
func failedItem(t *testing.T, s *audit.Store, id string) {
	t.Helper()
	ctx := context.Background()
	if err := s.Enqueue(ctx, &audit.Item{Kind: audit.Outbox, MsgID: id, Party: "Ministero", Service: "SAP", Payload: []byte("<x/>")}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Claim(ctx, "worker", audit.Outbox, 10, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := s.Fail(ctx, audit.Outbox, id, "the provider's gateway refused it: EGOV_IT_201"); err != nil {
		t.Fatal(err)
	}
}

// operatorActions are the trail's records of operator actions, oldest first.
func operatorActions(t *testing.T, s *audit.Store) []*audit.Record {
	t.Helper()
	recs, err := s.List(context.Background(), audit.Filter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var out []*audit.Record
	for i := len(recs) - 1; i >= 0; i-- {
		if recs[i].Function == FunctionOperator {
			out = append(out, recs[i])
		}
	}
	return out
}

func TestRoles(t *testing.T) {
	s := newStore(t, nil)
	failedItem(t, s, "busta-1")
	failedItem(t, s, "busta-2")
	_, srv := server(t, Options{Store: s})

	// No credentials: 401, with a Basic challenge for a script and none for a browser.
	r := do(t, srv, req{path: "/api/v1/transactions"}).want(t, "no credentials", http.StatusUnauthorized)
	if r.header.Get("WWW-Authenticate") == "" || r.json["error"] != "unauthenticated" {
		t.Errorf("401 without a Basic challenge or the error word: %v %s", r.header, r.body)
	}
	r = do(t, srv, req{path: "/api/v1/transactions", header: map[string]string{"Sec-Fetch-Mode": "cors"}}).want(t, "a browser without a session", http.StatusUnauthorized)
	if r.header.Get("WWW-Authenticate") != "" {
		t.Errorf("a browser's 401 carries a Basic challenge: it would pop a dialog and cache the credentials")
	}
	do(t, srv, req{path: "/api/v1/session", header: map[string]string{"Authorization": "Basic dmVyYTp3cm9uZw=="}}).want(t, "a wrong password", http.StatusUnauthorized)
	r = do(t, srv, req{method: "DELETE", path: "/api/v1/transactions", user: "ada"})
	if r.status != http.StatusMethodNotAllowed || r.header.Get("Allow") != "GET" || r.json["error"] != "method_not_allowed" {
		t.Errorf("DELETE on a GET route: %d %v %s", r.status, r.header, r.body)
	}

	for _, c := range []struct {
		user, method, path string
		status             int
	}{
		{"vera", "GET", "/api/v1/transactions", 200},
		{"vera", "GET", "/api/v1/outbox?state=failed", 200},
		{"vera", "GET", "/api/v1/jobs", 200},
		{"vera", "GET", "/api/v1/stats", 200},
		{"vera", "POST", "/api/v1/outbox/busta-1/requeue", 403},
		{"vera", "GET", "/api/v1/registry", 403},
		{"otto", "GET", "/api/v1/registry", 403},
		{"otto", "POST", "/api/v1/outbox/busta-1/requeue", 200},
		{"otto", "POST", "/api/v1/outbox/busta-1/requeue", 404}, // not failed any more
		{"ada", "POST", "/api/v1/outbox/busta-2/requeue", 200},
		{"ada", "GET", "/api/v1/registry", 503}, // this API was given no registry
		{"ada", "GET", "/api/v1/failures", 404}, // nor a province store
		{"ada", "POST", "/api/v1/jobs/nightly/run", 404},
	} {
		r := do(t, srv, req{method: c.method, path: c.path, user: c.user}).want(t, c.user+" "+c.method+" "+c.path, c.status)
		if c.status >= 400 && !strings.Contains(r.json["message"].(string), " ") {
			t.Errorf("%s %s: an error without a message: %s", c.method, c.path, r.body)
		}
	}
	r = do(t, srv, req{path: "/api/v1/outbox?state=pending", user: "vera"}).want(t, "pending", http.StatusOK)
	if items := r.json["items"].([]any); len(items) != 2 {
		t.Errorf("%d pending items after two requeues, want 2: %s", len(items), r.body)
	}
	var requeues []string
	for _, rec := range operatorActions(t, s) {
		if rec.Outcome == ActionRequeue {
			requeues = append(requeues, rec.Application+": "+rec.Detail)
		}
		if rec.Peer == "" || rec.Recorded.IsZero() {
			t.Errorf("an operator action without where from or when: %+v", rec)
		}
	}
	if len(requeues) != 2 || !strings.HasPrefix(requeues[0], "otto: outbox message busta-1") || !strings.HasPrefix(requeues[1], "ada: outbox message busta-2") {
		t.Errorf("requeues traced: %q", requeues)
	}
	if rep, err := s.Verify(context.Background(), audit.VerifyOptions{}); err != nil || rep.Records == 0 {
		t.Errorf("the trail with the operator actions does not verify: %v", err)
	}
}

// login opens a session as a test operator and returns its cookie and CSRF token.
func login(t *testing.T, srv interface{ Client() *http.Client }, do2 func(req) resp, name string) (*http.Cookie, string) {
	t.Helper()
	r := do2(req{method: "POST", path: "/api/v1/login", body: `{"name":"` + name + `","password":"` + passwordOf(name) + `"}`}).want(t, "login "+name, http.StatusOK)
	var ck *http.Cookie
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == cookieName {
			ck = c
		}
	}
	if ck == nil {
		t.Fatalf("login set no %s cookie: %v", cookieName, r.header)
	}
	if !ck.Secure || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/" {
		t.Errorf("session cookie %+v: want Secure, HttpOnly, SameSite=Strict, Path=/", ck)
	}
	csrf, _ := r.json["csrf_token"].(string)
	if csrf == "" || r.json["role"] == nil || r.json["via"] != "session" {
		t.Fatalf("login answer: %s", r.body)
	}
	return &http.Cookie{Name: ck.Name, Value: ck.Value}, csrf
}

func TestSessionCSRFAndIdleTimeout(t *testing.T) {
	clk := &clock{t: time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)}
	s := newStore(t, clk.now)
	failedItem(t, s, "busta-1")
	_, srv := server(t, Options{Store: s, Now: clk.now, IdleTimeout: 10 * time.Minute})
	d := func(r req) resp { return do(t, srv, r) }

	do(t, srv, req{method: "POST", path: "/api/v1/login", body: `{"name":"otto","password":"nope"}`}).want(t, "login with a wrong password", http.StatusUnauthorized)
	r := do(t, srv, req{method: "POST", path: "/api/v1/login", body: `name=otto`, header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}})
	r.want(t, "a form login (cross-site forms cannot send JSON)", http.StatusBadRequest)

	ck, csrf := login(t, srv, d, "otto")
	r = do(t, srv, req{path: "/api/v1/session", cookie: ck}).want(t, "session", http.StatusOK)
	if r.json["operator"] != "otto" || r.json["csrf_token"] != csrf {
		t.Errorf("session: %s", r.body)
	}
	do(t, srv, req{method: "POST", path: "/api/v1/outbox/busta-1/requeue", cookie: ck}).want(t, "requeue without the CSRF token", http.StatusForbidden)
	do(t, srv, req{method: "POST", path: "/api/v1/outbox/busta-1/requeue", cookie: ck, header: map[string]string{CSRFHeader: "forged"}}).want(t, "requeue with a wrong CSRF token", http.StatusForbidden)
	do(t, srv, req{method: "POST", path: "/api/v1/outbox/busta-1/requeue", cookie: ck, header: map[string]string{CSRFHeader: csrf}}).want(t, "requeue with the CSRF token", http.StatusOK)

	// Used within the idle timeout, the session lives on; idle longer, it ends.
	clk.advance(9 * time.Minute)
	do(t, srv, req{path: "/api/v1/transactions", cookie: ck}).want(t, "after 9 idle minutes", http.StatusOK)
	clk.advance(9 * time.Minute)
	do(t, srv, req{path: "/api/v1/transactions", cookie: ck}).want(t, "9 minutes after the last use", http.StatusOK)
	clk.advance(11 * time.Minute)
	r = do(t, srv, req{path: "/api/v1/transactions", cookie: ck}).want(t, "after 11 idle minutes", http.StatusUnauthorized)
	if !strings.Contains(r.json["message"].(string), "log in again") {
		t.Errorf("an expired session's message: %s", r.body)
	}

	// Logout needs the token, and ends the session.
	ck, csrf = login(t, srv, d, "vera")
	do(t, srv, req{method: "POST", path: "/api/v1/logout", cookie: ck}).want(t, "logout without the CSRF token", http.StatusForbidden)
	do(t, srv, req{method: "POST", path: "/api/v1/logout", cookie: ck, header: map[string]string{CSRFHeader: csrf}}).want(t, "logout", http.StatusNoContent)
	do(t, srv, req{path: "/api/v1/session", cookie: ck}).want(t, "after logout", http.StatusUnauthorized)

	// A removed operator's session ends at its next request; a changed role counts at once.
	ck, _ = login(t, srv, d, "ada")
	do(t, srv, req{path: "/api/v1/registry", cookie: ck}).want(t, "admin's registry (none given)", http.StatusServiceUnavailable)
	op, err := s.GetOperator(context.Background(), "ada")
	if err != nil {
		t.Fatal(err)
	}
	op.Role = "viewer"
	if err := s.PutOperator(context.Background(), op); err != nil {
		t.Fatal(err)
	}
	do(t, srv, req{path: "/api/v1/registry", cookie: ck}).want(t, "registry after ada became a viewer", http.StatusForbidden)
	if err := s.RemoveOperator(context.Background(), "ada"); err != nil {
		t.Fatal(err)
	}
	do(t, srv, req{path: "/api/v1/session", cookie: ck}).want(t, "session of a removed operator", http.StatusUnauthorized)

	var actions []string
	for _, rec := range operatorActions(t, s) {
		actions = append(actions, rec.Application+" "+rec.Outcome)
	}
	for _, w := range []string{"otto login-failed", "otto requeue", "vera logout", "ada login"} {
		found := false
		for _, a := range actions {
			found = found || a == w
		}
		if !found {
			t.Errorf("action %q not in the trail: %q", w, actions)
		}
	}
}

func TestFailedLoginsThrottled(t *testing.T) {
	clk := &clock{t: time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)}
	s := newStore(t, clk.now)
	_, srv := server(t, Options{Store: s, Now: clk.now, Throttle: ThrottleOptions{Free: 3, Initial: time.Minute, Max: time.Hour}})
	bad := req{method: "POST", path: "/api/v1/login", body: `{"name":"vera","password":"guess"}`}
	for i := 0; i < 4; i++ {
		do(t, srv, bad).want(t, "a wrong password", http.StatusUnauthorized)
	}
	r := do(t, srv, bad).want(t, "the fifth wrong password in a row", http.StatusTooManyRequests)
	if r.header.Get("Retry-After") != "60" || r.json["error"] != "throttled" {
		t.Errorf("throttled answer: %v %s", r.header, r.body)
	}
	// Locked: even the right password is refused until the lock ends (no hashing meanwhile), by
	// HTTP Basic as well.
	good := req{method: "POST", path: "/api/v1/login", body: `{"name":"vera","password":"vera-password"}`}
	do(t, srv, good).want(t, "the right password while locked", http.StatusTooManyRequests)
	do(t, srv, req{path: "/api/v1/session", user: "vera"}).want(t, "Basic while locked", http.StatusTooManyRequests)
	clk.advance(61 * time.Second)
	do(t, srv, good).want(t, "the right password after the lock", http.StatusOK)
	failed := 0
	for _, rec := range operatorActions(t, s) {
		if rec.Outcome == ActionLoginFailed {
			failed++
		}
	}
	if failed != 4 {
		t.Errorf("%d failed logins traced, want 4 (the throttled ones cost nothing, not even a record)", failed)
	}
}

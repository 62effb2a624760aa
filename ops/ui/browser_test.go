package ui_test

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"porta/adapters/labour"
	"porta/audit"
	"porta/internal/demo"
	"porta/internal/pdclient"
	"porta/internal/testenv"
	"porta/ops"
	"porta/ops/ui"
	"porta/registry"
)

// screenshots, when set, is where TestConsoleInBrowser writes PNGs of the main pages (go generate
// in this package writes them to docs/).
var screenshots = flag.String("screenshots", "", "write PNG screenshots of the console's main pages to `DIR`")

// candidatura is the codice fiscale in the Candidatura this test sends while BorsaLavoro is down.
const candidatura = "PRSDNL79R51Z129X"

// TestConsoleInBrowser drives Debian's chromium through the console of the Province's gateway in
// a demo network run in this process (real gateways, real stores, the real management API):
// unauthenticated API calls get 401; an operator logs in, searches a codice fiscale, opens the
// detail, sees a chart; a viewer sees the failed outbox message with no requeue button and the API
// refuses it (403); the operator requeues it and sees it delivered.
func TestConsoleInBrowser(t *testing.T) {
	chromium := testenv.LookPath(t, "chromium", "apt-get install chromium")
	if *screenshots != "" {
		if err := os.MkdirAll(*screenshots, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	log := slog.New(slog.DiscardHandler)
	routes := func(p *demo.Peer) (map[string]http.Handler, error) {
		api, err := ops.New(ops.Options{Store: p.Opened.Audit, Registry: p.Opened.RegistryInUse, UI: ui.Handler(), Logger: log})
		if err != nil {
			return nil, err
		}
		return api.Routes(), nil
	}
	ran := false
	_, err := demo.Run(context.Background(), demo.Options{
		Dir: t.TempDir(), Workers: 20, Concurrency: 4, Seed: 1, Log: log, Admin: routes,
		Hold: func(ctx context.Context, n *demo.Running) error {
			ran = true
			consoleInBrowser(t, ctx, n, routes, chromium)
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !ran {
		t.Fatal("the demo never held the network")
	}
}

func consoleInBrowser(t *testing.T, ctx context.Context, n *demo.Running, routes func(*demo.Peer) (map[string]http.Handler, error), chromium string) {
	prov := n.Peers[labour.Provincia]
	store := prov.Opened.Audit
	pw := map[string]string{"anna": rand.Text(), "vito": rand.Text()}
	for name, role := range map[string]string{"anna": "operator", "vito": "viewer"} {
		hash, err := registry.HashPassword(pw[name], rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if err := store.PutOperator(ctx, &audit.Operator{Name: name, Role: role, PasswordHash: hash}); err != nil {
			t.Fatal(err)
		}
	}
	base := prov.Admin
	client := &http.Client{Timeout: 10 * time.Second}
	call := func(method, path, user string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, method, base+path, nil)
		if user != "" {
			req.SetBasicAuth(user, pw[user])
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, b
	}

	// Unauthenticated: 401 on the API, the console's files open to all.
	for _, p := range []string{"/api/v1/transactions", "/api/v1/outbox?state=failed", "/api/v1/stats"} {
		if code, _ := call("GET", p, ""); code != http.StatusUnauthorized {
			t.Errorf("GET %s without credentials: %d, want 401", p, code)
		}
	}
	if code, _ := call("POST", "/api/v1/outbox/x/requeue", ""); code != http.StatusUnauthorized {
		t.Errorf("POST requeue without credentials: %d, want 401", code)
	}
	if code, body := call("GET", "/ui/", ""); code != http.StatusOK || !strings.Contains(string(body), "app.js") {
		t.Fatalf("GET /ui/: %d %s", code, body)
	}

	msgID := failedOutboxMessage(t, ctx, n, routes)
	prov = n.Peers[labour.Provincia]

	b := newBrowser(t, ctx, chromium, base)
	// The operator: log in, search the codice fiscale, open the detail.
	b.login("anna", pw["anna"])
	field, value := "#f-cf", candidatura
	if code, body := call("GET", "/api/v1/transactions?cf="+candidatura, "anna"); code != http.StatusOK {
		t.Fatalf("the API's search by codice fiscale: %d %s", code, body)
	}
	// As a person would: the search form, then the first row of the message.
	link := `[...document.querySelectorAll("table.list a")].find(a => a.textContent === "` + msgID + `")`
	b.do(chromedp.Click(`#navlinks a[href="#/transactions"]`), chromedp.WaitVisible(field),
		chromedp.SendKeys(field, value), chromedp.Click(`form.filters button[type="submit"]`),
		// The search's own list, drawn for the hash that carries the cf (the unfiltered list
		// drawn before the submit holds the message too, and its hashchange is dispatched late).
		chromedp.Poll[chromedp.Void](`location.hash.includes("cf=") && document.getElementById("main").dataset.drawn === location.hash && `+link))
	b.shot("search")
	b.do(chromedp.Evaluate[chromedp.Void](link+".click()"), chromedp.WaitVisible("#s-header"))
	detail := b.text("main")
	for _, want := range []string{msgID, labour.BorsaLavoro, "Candidatura", "invioCandidatura", "Percorso del messaggio"} {
		if !strings.Contains(detail, want) {
			t.Errorf("detail page lacks %q:\n%s", want, detail)
		}
	}

	// A chart renders from /api/v1/stats.
	b.do(chromedp.Navigate(base+"/ui/#/stats"), chromedp.WaitVisible("svg.chart .point"))
	if n := b.eval(`document.querySelectorAll("svg.chart .point").length`); n == "0" {
		t.Error("the stats page drew no series")
	}
	b.shot("stats")

	// The English toggle.
	b.do(chromedp.Click("#lang"), chromedp.WaitVisible("svg.chart .point"))
	if h1 := b.text("h1"); h1 != "Statistics per service" {
		t.Errorf("after the toggle the title is %q", h1)
	}
	b.do(chromedp.Click("#lang"), chromedp.WaitVisible("svg.chart .point"))

	// The other pages draw from their routes: jobs (none in the demo), failures (this test's API
	// has no provincial store: the API's 404 in words), the registry (admin only: a note).
	for _, c := range []struct{ hash, want string }{
		{"#/jobs", "Nessun job configurato."},
		{"#/failures", "Errore: "},
		{"#/registry", "Il registro è visibile solo al ruolo amministratore."},
	} {
		b.do(chromedp.Navigate(base+"/ui/"+c.hash), chromedp.Poll[chromedp.Void](`document.querySelector("main").innerText.includes(`+strconv.Quote(c.want)+`)`))
	}

	// A phone: nothing wider than the screen, the menu behind its button.
	b.do(chromedp.EmulateViewport(390, 844), chromedp.Navigate(base+"/ui/#/outbox"), chromedp.WaitVisible("#menu"))
	if w := b.eval(`document.documentElement.scrollWidth <= window.innerWidth`); w != "true" {
		t.Errorf("on a 390 px phone the outbox page scrolls sideways")
	}
	b.shot("outbox-phone")
	b.do(chromedp.EmulateViewport(1280, 800))

	// The viewer: the failed message without a requeue button; the API refuses the requeue.
	b.do(chromedp.Click("#logout"), chromedp.WaitVisible("#f-name"))
	b.login("vito", pw["vito"])
	b.do(chromedp.Navigate(base+"/ui/#/outbox?state=failed"), chromedp.WaitVisible(`tr[data-msg="`+msgID+`"]`))
	if n := b.eval(`document.querySelectorAll("button.requeue").length`); n != "0" {
		t.Errorf("the viewer sees %s requeue buttons", n)
	}
	status := b.eval(`fetch("/api/v1/session").then(r => r.json()).then(s => fetch("/api/v1/outbox/` + msgID + `/requeue",
		{method: "POST", headers: {"X-CSRF-Token": s.csrf_token}})).then(r => r.status)`)
	if status != "403" {
		t.Errorf("the viewer's requeue from the browser: HTTP %s, want 403", status)
	}
	if code, _ := call("POST", "/api/v1/outbox/"+msgID+"/requeue", "vito"); code != http.StatusForbidden {
		t.Errorf("the viewer's requeue with Basic: HTTP %d, want 403", code)
	}

	// The operator requeues it, and it is delivered.
	b.do(chromedp.Click("#logout"), chromedp.WaitVisible("#f-name"))
	b.login("anna", pw["anna"])
	b.do(chromedp.Navigate(base+"/ui/#/outbox?state=failed"), chromedp.WaitVisible(`button.requeue[data-id="`+msgID+`"]`))
	b.shot("outbox")
	b.do(chromedp.Click(`button.requeue[data-id="`+msgID+`"]`), chromedp.WaitNotPresent(`tr[data-msg="`+msgID+`"]`))
	deadline := time.Now().Add(30 * time.Second)
	b.do(chromedp.Navigate(base+"/ui/#/transactions/"+msgID), chromedp.WaitVisible("ol.path"))
	for {
		if path := b.text("ol.path"); strings.Contains(path, "received") {
			break
		} else if time.Now().After(deadline) {
			_, d := call("GET", "/api/v1/transactions/"+msgID, "anna")
			_, o := call("GET", "/api/v1/outbox?state=pending", "anna")
			t.Fatalf("the requeued message's path shows no delivery after 30s:\n%s\n%s\n%s", path, d, o)
		}
		time.Sleep(300 * time.Millisecond)
		b.do(chromedp.Reload(), chromedp.WaitVisible("ol.path"))
	}
	b.shot("detail")
	if code, body := call("GET", "/api/v1/outbox?state=failed", "anna"); code != 200 || strings.Contains(string(body), msgID) {
		t.Errorf("after the requeue the failed outbox is %d %s", code, body)
	}
}

// failedOutboxMessage makes the Province's outbox give up on a Candidatura, as it would on a
// night BorsaLavoro was down: it stops BorsaLavoro, restarts the Province with outbox.max_attempts
// 1, sends the Candidatura through the Province's PD, waits until the outbox has failed it, and
// starts BorsaLavoro again. It returns the busta's Identificatore.
func failedOutboxMessage(t *testing.T, ctx context.Context, n *demo.Running, routes func(*demo.Peer) (map[string]http.Handler, error)) string {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	start := func(party string) *demo.Peer {
		p, err := demo.StartPeerWith(ctx, n.Dir, party, demo.PeerOptions{Log: log, Admin: routes})
		if err != nil {
			t.Fatal(err)
		}
		n.Peers[party] = p // the demo stops it at the end
		return p
	}
	for _, party := range []string{labour.BorsaLavoro, labour.Provincia} {
		if err := n.Peers[party].Stop(); err != nil {
			t.Fatalf("stop %s: %v", party, err)
		}
	}
	cfg := filepath.Join(n.Dir, labour.Provincia, "porta.yaml")
	b, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	one := regexp.MustCompile(`(?m)^(\s+max_attempts:) 0\b`)
	if !one.Match(b) {
		t.Fatalf("%s has no outbox max_attempts: 0 to change", cfg)
	}
	if err := os.WriteFile(cfg, one.ReplaceAll(b, []byte("$1 1")), 0o644); err != nil {
		t.Fatal(err)
	}
	prov := start(labour.Provincia)

	doc, err := os.ReadFile("../../testdata/labour/outbound/candidatura/Candidatura-1.xml")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), candidatura) {
		t.Fatalf("Candidatura-1.xml does not carry %s", candidatura)
	}
	pd := &pdclient.PD{URL: prov.PD, Consumer: labour.Provincia, User: demo.AppUser, Password: n.Password, Timeout: 10 * time.Second}
	rep, err := pd.Call(ctx, pdclient.Route{Provider: labour.BorsaLavoro, Service: "Candidatura", Action: "invioCandidatura"}, doc)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		failed, err := prov.Opened.Audit.Failed(ctx, audit.Outbox, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(failed) > 0 && failed[0].MsgID == rep.MessageID {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the outbox did not give up on %s within 30s", rep.MessageID)
		}
		time.Sleep(100 * time.Millisecond)
	}
	start(labour.BorsaLavoro)
	return rep.MessageID
}

// browser is one headless chromium with a fresh profile, closed at the end of the test.
type browser struct {
	t    *testing.T
	ctx  context.Context
	base string
}

func newBrowser(t *testing.T, parent context.Context, chromium, base string) *browser {
	t.Helper()
	actx, cancelAlloc := chromedp.NewExecAllocator(parent,
		chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 800))
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // start the browser with no timeout on it
		t.Fatalf("start chromium: %v", err)
	}
	return &browser{t: t, ctx: ctx, base: base}
}

// do runs the actions with a timeout of 30 s.
func (b *browser) do(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		page, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`location.href + "\n" + document.body.innerText`))
		b.t.Fatalf("browser: %v\npage: %s", err, page)
	}
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(sel))
	if err != nil {
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

// eval runs a JavaScript expression (awaiting a promise) and returns its value as text.
func (b *browser) eval(expr string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[any](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("eval %s: %v", expr, err)
	}
	return fmt.Sprint(v)
}

func (b *browser) login(name, password string) {
	b.t.Helper()
	b.do(chromedp.Navigate(b.base+"/ui/"), chromedp.WaitVisible("#f-name"))
	b.shot("login")
	b.do(chromedp.SendKeys("#f-name", name), chromedp.SendKeys("#f-password", password),
		chromedp.Click(`form.login button[type="submit"]`), chromedp.WaitVisible("form.filters"))
	if who := b.text("#user"); !strings.HasPrefix(who, name+" ") {
		b.t.Fatalf("logged in as %q, want %s", who, name)
	}
}

// shot writes a PNG of the whole page to the screenshots folder as console-NAME.png, if asked.
func (b *browser) shot(name string) {
	b.t.Helper()
	if *screenshots == "" {
		return
	}
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100)) // 100: PNG
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(*screenshots, "console-"+name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

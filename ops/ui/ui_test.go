package ui

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, method, path string) *http.Response {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	return rec.Result()
}

func TestHandlerServesTheConsole(t *testing.T) {
	h := Handler()
	for _, c := range []struct {
		method, path string
		status       int
		typ, body    string // Content-Type prefix, a piece of the body
	}{
		{"GET", "/ui/", 200, "text/html", `<main id="main"`},
		{"GET", "/ui/index.html", 200, "text/html", `<main id="main"`},
		{"GET", "/ui/app.js", 200, "text/javascript", "function route()"},
		{"GET", "/ui/i18n.js", 200, "text/javascript", "PORTA_I18N"},
		{"GET", "/ui/app.css", 200, "text/css", "@media"},
		{"GET", "/ui/transactions/x", 200, "text/html", `<main id="main"`}, // any other path: the document
		{"GET", "/ui/../../etc/passwd", 200, "text/html", `<main id="main"`},
		{"GET", "/ui", 301, "", ""},
		{"POST", "/ui/", 404, "", ""},
		{"GET", "/elsewhere", 404, "", ""},
	} {
		res := get(t, h, c.method, c.path)
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode != c.status {
			t.Errorf("%s %s: status %d, want %d", c.method, c.path, res.StatusCode, c.status)
			continue
		}
		if c.status != 200 {
			continue
		}
		if typ := res.Header.Get("Content-Type"); !strings.HasPrefix(typ, c.typ) {
			t.Errorf("%s: Content-Type %q, want %s", c.path, typ, c.typ)
		}
		if !strings.Contains(string(body), c.body) {
			t.Errorf("%s: body lacks %q", c.path, c.body)
		}
		if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("%s: Content-Security-Policy %q", c.path, csp)
		}
	}
	if res := get(t, h, "GET", "/ui"); res.Header.Get("Location") != "/ui/" {
		t.Errorf("/ui redirects to %q, want /ui/", res.Header.Get("Location"))
	}
}

// The console must work with no internet: nothing in it names another origin (the SVG namespace
// is a name, not a fetch), and the page loads only its own files.
func TestAssetsAreSelfContained(t *testing.T) {
	external := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}`)
	err := fs.WalkDir(static, "static", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := static.ReadFile(path)
		for _, m := range external.FindAllString(string(b), -1) {
			if m != "http://www.w3.org" {
				t.Errorf("%s names %q: the console must not fetch from another origin", path, m)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	index, _ := static.ReadFile("static/index.html")
	if regexp.MustCompile(`<script>|style=`).Match(index) {
		t.Error("index.html has an inline script or style: the Content-Security-Policy forbids them")
	}
}

// Every word the console shows exists in Italian and in English.
func TestEveryKeyInBothLanguages(t *testing.T) {
	i18n, _ := static.ReadFile("static/i18n.js")
	app, _ := static.ReadFile("static/app.js")
	index, _ := static.ReadFile("static/index.html")
	src := string(i18n)
	it, en := src[strings.Index(src, "it: {"):strings.Index(src, "en: {")], src[strings.Index(src, "en: {"):strings.Index(src, "window.PORTA_EGOV")]
	used := map[string]bool{}
	for _, m := range regexp.MustCompile(`\bt\("([a-zA-Z.]*[a-zA-Z])"`).FindAllSubmatch(app, -1) {
		used[string(m[1])] = true
	}
	for _, m := range regexp.MustCompile(`data-i18n="([a-zA-Z.]+)"`).FindAllSubmatch(index, -1) {
		used[string(m[1])] = true
	}
	// Keys built at run time: t("dir." + ...), t("role." + ...) and the like.
	for _, k := range []string{"dir.in", "dir.out", "role.viewer", "role.operator", "role.admin", "outbox.failed", "outbox.pending",
		"by.service", "by.party", "by.outcome", "interval.hour", "interval.day", "interval.month",
		"failures.open", "failures.resolved", "failures.all"} {
		used[k] = true
	}
	if len(used) < 50 {
		t.Fatalf("found only %d keys in use; the pattern is wrong", len(used))
	}
	for k := range used {
		q := `"` + k + `":`
		if !strings.Contains(it, q) {
			t.Errorf("key %s has no Italian", k)
		}
		if !strings.Contains(en, q) {
			t.Errorf("key %s has no English", k)
		}
	}
}

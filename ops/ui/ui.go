// Package ui owns the operators' web console of porta serve's admin listener: the HTML, CSS and
// plain JavaScript under static/, embedded in the binary so the console works with no internet,
// and the handler that serves them at /ui/.
//
// It must not read the store or the registry, nor decide who may do what: every page is drawn in
// the browser from the management API (/api/v1) on the same listener, and the API alone checks
// the session, the CSRF token and the operator's role. The console only hides what a role cannot
// use (the requeue and run buttons for a viewer); the API's 403 is the rule.
package ui

import (
	"embed"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

// The screenshots of the main pages in docs/ (shown by the README) come from the browser test:
//
//go:generate go test -run ^TestConsoleInBrowser$ -count=1 . -args -screenshots=../../docs

//go:embed static
var static embed.FS

// Prefix is where the console is served; Handler expects requests under it.
const Prefix = "/ui/"

// csp keeps the console to its own files: no inline script or style, nothing from another origin,
// no framing (clickjacking of the requeue button).
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"font-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// Handler serves the console under Prefix: its files by name, and index.html for every other path
// under it (the pages are the hash routes of one document). /ui without the slash redirects.
// Every answer carries a Content-Security-Policy that allows only the console's own files.
func Handler() http.Handler {
	files, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embedded tree is part of the binary
	}
	fileServer := http.FileServer(http.FS(files))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == strings.TrimSuffix(Prefix, "/") {
			http.Redirect(w, r, Prefix, http.StatusMovedPermanently)
			return
		}
		name, ok := strings.CutPrefix(r.URL.Path, Prefix)
		if !ok || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		name = path.Clean("/" + name)[1:]
		if name == "" || name == "index.html" {
			name = "index.html"
		} else if _, err := fs.Stat(files, name); err != nil {
			name = "index.html"
		}
		// The console's files change only with the binary: revalidate, so an upgrade shows at once.
		h.Set("Cache-Control", "no-cache")
		r2 := r.Clone(r.Context())
		r2.URL.Path = "/" + name
		if name == "index.html" {
			r2.URL.Path = "/" // FileServer redirects /index.html to ./
		}
		fileServer.ServeHTTP(w, r2)
	})
}

package gateway

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/beevik/etree"

	"porta/internal/xmlsafe"
)

// GET /pd/{consumer}/{provider}/{service}[/{action}]?wsdl returns the service's WSDL with every
// soap:address rewritten to this Porta Delegata URL, so that a WSDL-driven client (zeep, SoapUI,
// gowsdl) calls the gateway unchanged. Schemas the WSDL imports or includes by relative location
// (transitively) are served from ?xsd=PATH, PATH relative to the WSDL's folder, and their
// locations rewritten to match; no other file is ever served.

const (
	nsWSDLSOAP   = "http://schemas.xmlsoap.org/wsdl/soap/"
	nsWSDLSOAP12 = "http://schemas.xmlsoap.org/wsdl/soap12/"
	nsXSD        = "http://www.w3.org/2001/XMLSchema"
	nsWSDL       = "http://schemas.xmlsoap.org/wsdl/"
)

func (g *Gateway) serveWSDL(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if !q.Has("wsdl") && !q.Has("xsd") {
		http.Error(w, "GET on a Porta Delegata path serves ?wsdl (and the schemas it imports); send requests with POST", http.StatusMethodNotAllowed)
		return
	}
	provider, service := r.PathValue("provider"), r.PathValue("service")
	s, ok := g.dir.Service(provider, service)
	if !ok || !g.dir.Hosted(r.PathValue("consumer")) {
		http.Error(w, fmt.Sprintf("no service %s of %s for consumer %s", service, provider, r.PathValue("consumer")), http.StatusNotFound)
		return
	}
	if s.WSDL == "" {
		http.Error(w, fmt.Sprintf("service %s of %s has no WSDL in the registry", service, provider), http.StatusNotFound)
		return
	}
	base := g.opt.PDBase
	if base == "" {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		base = scheme + "://" + r.Host
	}
	self := strings.TrimSuffix(base, "/") + r.URL.EscapedPath()
	file, rel := s.WSDL, ""
	if q.Has("xsd") {
		rel = path.Clean(q.Get("xsd"))
		refs, err := references(s.WSDL)
		if err != nil {
			g.log.Error("serve wsdl", "file", s.WSDL, "err", err)
			http.Error(w, "the service's WSDL could not be read", http.StatusInternalServerError)
			return
		}
		if !refs[rel] {
			http.Error(w, "?xsd must name a schema the service's WSDL imports", http.StatusBadRequest)
			return
		}
		file = filepath.Join(filepath.Dir(s.WSDL), filepath.FromSlash(rel))
	}
	out, err := rewriteWSDL(file, rel, self)
	if err != nil {
		g.log.Error("serve wsdl", "file", file, "err", err)
		http.Error(w, "the service's WSDL could not be read", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	_, _ = w.Write(out)
}

// rewriteWSDL reads a WSDL or XSD file (rel is its path relative to the WSDL's folder, "" for the
// WSDL itself) and points its soap:address locations at self and its relative imports at
// self?xsd=PATH.
func rewriteWSDL(file, rel, self string) ([]byte, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	doc, err := xmlsafe.Parse(data, xmlsafe.DefaultLimits)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	dir := path.Dir(rel)
	var walk func(e *etree.Element)
	walk = func(e *etree.Element) {
		ns := e.NamespaceURI()
		switch {
		case e.Tag == "address" && (ns == nsWSDLSOAP || ns == nsWSDLSOAP12):
			if a := e.SelectAttr("location"); a != nil {
				a.Value = self
			}
		case (e.Tag == "import" || e.Tag == "include") && (ns == nsXSD || ns == nsWSDL):
			for _, key := range []string{"schemaLocation", "location"} {
				a := e.SelectAttr(key)
				if a == nil || a.Value == "" || strings.Contains(a.Value, "://") || strings.HasPrefix(a.Value, "/") {
					continue
				}
				a.Value = self + "?xsd=" + url.QueryEscape(path.Join(dir, a.Value))
			}
		}
		for _, c := range e.ChildElements() {
			walk(c)
		}
	}
	walk(doc.Root())
	return doc.WriteToBytes()
}

// references returns the relative locations (cleaned, relative to the WSDL's folder) of every
// schema or WSDL the WSDL imports or includes, transitively: the only files ?xsd may serve.
func references(wsdl string) (map[string]bool, error) {
	refs := map[string]bool{}
	queue := []string{""}
	for len(queue) > 0 {
		rel := queue[0]
		queue = queue[1:]
		file := wsdl
		if rel != "" {
			file = filepath.Join(filepath.Dir(wsdl), filepath.FromSlash(rel))
		}
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		doc, err := xmlsafe.Parse(data, xmlsafe.DefaultLimits)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		for _, loc := range locations(doc.Root()) {
			r := path.Clean(path.Join(path.Dir(rel), loc))
			if !refs[r] {
				refs[r] = true
				queue = append(queue, r)
			}
		}
	}
	return refs, nil
}

// locations lists the relative import and include locations under e.
func locations(e *etree.Element) []string {
	var out []string
	ns := e.NamespaceURI()
	if (e.Tag == "import" || e.Tag == "include") && (ns == nsXSD || ns == nsWSDL) {
		for _, key := range []string{"schemaLocation", "location"} {
			if v := e.SelectAttrValue(key, ""); v != "" && !strings.Contains(v, "://") && !strings.HasPrefix(v, "/") {
				out = append(out, v)
			}
		}
	}
	for _, c := range e.ChildElements() {
		out = append(out, locations(c)...)
	}
	return out
}

package ops

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
)

// The OpenAPI document is the contract of the console and of scripts: these tests hold the
// routes and the document to each other, and every JSON answer the tests receive is checked
// against the schema the document gives for its status (see do).

type schema struct {
	Ref        string             `json:"$ref"`
	Type       string             `json:"type"`
	Required   []string           `json:"required"`
	Properties map[string]*schema `json:"properties"`
	Items      *schema            `json:"items"`
	AllOf      []*schema          `json:"allOf"`
	Enum       []any              `json:"enum"`
}

type document struct {
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components struct {
		Schemas   map[string]*schema `json:"schemas"`
		Responses map[string]struct {
			Content map[string]struct {
				Schema *schema `json:"schema"`
			} `json:"content"`
		} `json:"responses"`
	} `json:"components"`
}

type operation struct {
	Responses map[string]struct {
		Ref     string `json:"$ref"`
		Content map[string]struct {
			Schema *schema `json:"schema"`
		} `json:"content"`
	} `json:"responses"`
}

var (
	docOnce sync.Once
	doc     document
	docErr  error
)

func openAPIDocument(t testing.TB) *document {
	t.Helper()
	docOnce.Do(func() { docErr = json.Unmarshal(OpenAPI(), &doc) })
	if docErr != nil {
		t.Fatalf("openapi.json: %v", docErr)
	}
	return &doc
}

// resolve follows $ref and merges allOf.
func (d *document) resolve(s *schema) *schema {
	for s != nil && s.Ref != "" {
		s = d.Components.Schemas[strings.TrimPrefix(s.Ref, "#/components/schemas/")]
	}
	if s == nil || len(s.AllOf) == 0 {
		return s
	}
	m := &schema{Type: s.Type, Properties: map[string]*schema{}}
	for _, part := range append(slices.Clone(s.AllOf), &schema{Type: s.Type, Required: s.Required, Properties: s.Properties}) {
		p := d.resolve(part)
		if p.Type != "" {
			m.Type = p.Type
		}
		m.Required = append(m.Required, p.Required...)
		for k, v := range p.Properties {
			m.Properties[k] = v
		}
	}
	return m
}

// docPath is the document's path template that path matches ("/api/v1/transactions/{id}"
// matches "/api/v1/transactions/gw1/3": the last parameter may hold slashes).
func (d *document) docPath(path string) (string, bool) {
	segs := strings.Split(path, "/")
	for tmpl := range d.Paths {
		ts := strings.Split(tmpl, "/")
		ok := len(ts) <= len(segs)
		for i := 0; ok && i < len(ts); i++ {
			last := i == len(ts)-1
			switch {
			case strings.HasPrefix(ts[i], "{") && last:
			case strings.HasPrefix(ts[i], "{"):
			default:
				ok = ts[i] == segs[i]
			}
			if last && !strings.HasPrefix(ts[i], "{") && len(segs) != len(ts) {
				ok = false
			}
		}
		if ok && (len(ts) == len(segs) || strings.HasSuffix(tmpl, "}")) {
			return tmpl, true
		}
	}
	return "", false
}

// checkShape checks a JSON answer against the document: the operation exists, documents the
// status, and the body has the schema's type, its required properties and the declared types of
// the properties at its top level.
func checkShape(t testing.TB, method, path string, status int, body map[string]any) {
	t.Helper()
	d := openAPIDocument(t)
	tmpl, ok := d.docPath(path)
	if !ok {
		t.Errorf("%s %s: no path of the OpenAPI document matches", method, path)
		return
	}
	var op operation
	raw, ok := d.Paths[tmpl][strings.ToLower(method)]
	if !ok && status == http.StatusMethodNotAllowed {
		return // the answer to a method the document has not: an Error, as every error
	}
	if !ok {
		t.Errorf("%s %s: the document has no %s operation at %s", method, path, method, tmpl)
		return
	}
	if err := json.Unmarshal(raw, &op); err != nil {
		t.Fatal(err)
	}
	r, ok := op.Responses[fmt.Sprint(status)]
	if !ok {
		t.Errorf("%s %s: status %d is not documented for %s %s", method, path, status, method, tmpl)
		return
	}
	var s *schema
	if r.Ref != "" {
		s = d.Components.Responses[strings.TrimPrefix(r.Ref, "#/components/responses/")].Content["application/json"].Schema
	} else {
		s = r.Content["application/json"].Schema
	}
	if s == nil {
		t.Errorf("%s %s: status %d has no JSON schema in the document", method, path, status)
		return
	}
	if err := d.conforms(s, body); err != nil {
		t.Errorf("%s %s (%d): the answer does not match the document: %v", method, path, status, err)
	}
}

func (d *document) conforms(s *schema, v map[string]any) error {
	s = d.resolve(s)
	if s.Type != "object" {
		return nil
	}
	for _, k := range s.Required {
		if _, ok := v[k]; !ok {
			return fmt.Errorf("required property %q missing", k)
		}
	}
	for k, val := range v {
		p := d.resolve(s.Properties[k])
		if p == nil {
			if len(s.Properties) > 0 {
				return fmt.Errorf("property %q is not in the document", k)
			}
			continue
		}
		if err := typeOK(p.Type, val); err != nil {
			return fmt.Errorf("property %q: %v", k, err)
		}
		if items := d.resolve(p.Items); p.Type == "array" && items != nil {
			for i, it := range val.([]any) {
				if err := typeOK(items.Type, it); err != nil {
					return fmt.Errorf("property %q[%d]: %v", k, i, err)
				}
				if m, ok := it.(map[string]any); ok {
					if err := d.conforms(items, m); err != nil {
						return fmt.Errorf("property %q[%d]: %v", k, i, err)
					}
				}
			}
		}
	}
	return nil
}

func typeOK(typ string, v any) error {
	ok := true
	switch typ {
	case "string":
		_, ok = v.(string)
	case "integer":
		n, isNum := v.(json.Number)
		_, err := n.Int64()
		ok = isNum && err == nil
	case "number":
		_, ok = v.(json.Number)
	case "boolean":
		_, ok = v.(bool)
	case "array":
		_, ok = v.([]any)
	case "object":
		_, ok = v.(map[string]any)
	}
	if !ok {
		return fmt.Errorf("%T %v is not of type %s", v, v, typ)
	}
	return nil
}

// Every route the API registers is in the document, with its method, and the document describes
// no route the API does not serve.
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	d := openAPIDocument(t)
	a := &API{}
	served := map[string]bool{}
	for _, rt := range a.routes() {
		path := strings.ReplaceAll(rt.path, "...}", "}")
		served[rt.method+" "+path] = true
		if _, ok := d.Paths[path][strings.ToLower(rt.method)]; !ok {
			t.Errorf("route %s %s is not in openapi.json", rt.method, path)
		}
	}
	var documented []string
	for path, ops := range d.Paths {
		for m := range ops {
			if m == "parameters" {
				continue
			}
			documented = append(documented, strings.ToUpper(m)+" "+path)
		}
	}
	sort.Strings(documented)
	for _, op := range documented {
		if !served[op] {
			t.Errorf("openapi.json documents %s, which the API does not serve", op)
		}
	}
	if len(documented) != len(served) {
		t.Errorf("%d documented operations, %d routes", len(documented), len(served))
	}
}

// The document is what GET /api/v1/openapi.json serves, without credentials.
func TestOpenAPIServed(t *testing.T) {
	_, srv := server(t, Options{Store: newStore(t, nil)})
	r := do(t, srv, req{path: "/api/v1/openapi.json"}).want(t, "openapi.json", http.StatusOK)
	if r.json["openapi"] != "3.0.3" || r.json["paths"] == nil {
		t.Fatalf("not the OpenAPI document: %.200s", r.body)
	}
}

package registry

import (
	"fmt"
	"slices"
	"time"

	"github.com/beevik/etree"
	"go.yaml.in/yaml/v3"
)

// The body modes a service's trace policy may name (TracePolicy.Body).
var TraceBodyModes = []string{"full", "header", "none", "encrypted"}

// TracePolicy is what the audit trail keeps of a service's messages: the personal-data policy of
// the service, declared under its trace: key. The zero value defers everything to the gateway's
// defaults (porta.yaml's trace:).
//
//	trace:
//	  body: encrypted              # full | header | none | encrypted; "" = the gateway's default
//	  mask: ["//codiceFiscale"]    # fields blanked before the record is stored and hashed
//	  retention: 400d              # records older than this are archived and removed; 0 = kept
//	  ids:                         # business identifiers (correlazione applicativa), indexed for search
//	    cf: "//codiceFiscale"
//
// Paths are etree paths (github.com/beevik/etree's XPath subset: //tag, tag/child, [@a='v'],
// [local-name()='v'], [namespace-uri()='v']), evaluated on the SOAP Body's content; a tag
// without a prefix matches any namespace. They are compiled when the registry loads, so a bad
// path is a registry error naming its file and line.
type TracePolicy struct {
	Body      string        // one of TraceBodyModes, or "" for the gateway's default
	Mask      []FieldPath   // fields whose text is replaced before the record is stored and hashed
	Retention time.Duration // how long records are kept; 0 = until archived by hand
	IDs       []BusinessID  // business identifiers extracted and indexed when a message is traced
	Pos       Pos           // where trace: is written; zero when the service has none
}

// FieldPath is a compiled path to fields of a payload, with its source text.
type FieldPath struct {
	Expr string
	Path etree.Path
}

// BusinessID names one business identifier of a service's payloads (GovWay's correlazione
// applicativa): Name is what an operator searches by (e.g. "cf" for the codice fiscale), Path
// where it is found in the SOAP Body's content.
type BusinessID struct {
	Name string
	FieldPath
}

// tracePolicy reads a service's trace: mapping.
func (b *builder) tracePolicy(d *decoder, n *yaml.Node, what string) TracePolicy {
	p := TracePolicy{Pos: d.pos(n)}
	what += ": trace"
	m, ok := d.Fields(n, what, "body", "mask", "retention", "ids")
	if !ok {
		return p
	}
	p.Body = d.Str(m, "body", what)
	if p.Body != "" && !slices.Contains(TraceBodyModes, p.Body) {
		d.errf(d.File, m["body"].Line, "%s: body %q must be one of full, header, none, encrypted", what, p.Body)
	}
	exprs, lines := d.Strs(m, "mask", what)
	for i, e := range exprs {
		if fp, ok := compileFieldPath(d, lines[i], what+": mask", e); ok {
			p.Mask = append(p.Mask, fp)
		}
	}
	p.Retention = d.Duration(m, "retention", what)
	if in, ok := m["ids"]; ok {
		if in.Kind != yaml.MappingNode {
			d.errf(d.File, in.Line, "%s: ids must be a mapping of names to paths, e.g. cf: //codiceFiscale", what)
			return p
		}
		for i := 0; i+1 < len(in.Content); i += 2 {
			k, v := in.Content[i], in.Content[i+1]
			if !ValidName(k.Value) {
				d.errf(d.File, k.Line, "%s: ids: name %q must be letters and digits (e.g. cf)", what, k.Value)
				continue
			}
			if v.Kind != yaml.ScalarNode {
				d.errf(d.File, v.Line, "%s: ids: %s must be a path, e.g. //codiceFiscale", what, k.Value)
				continue
			}
			if fp, ok := compileFieldPath(d, v.Line, what+": ids: "+k.Value, v.Value); ok {
				p.IDs = append(p.IDs, BusinessID{Name: k.Value, FieldPath: fp})
			}
		}
	}
	return p
}

func compileFieldPath(d *decoder, line int, what, expr string) (FieldPath, bool) {
	if expr == "" {
		d.errf(d.File, line, "%s: empty path", what)
		return FieldPath{}, false
	}
	p, err := etree.CompilePath(expr)
	if err != nil {
		d.errf(d.File, line, "%s: path %q: %v", what, expr, err)
		return FieldPath{}, false
	}
	return FieldPath{Expr: expr, Path: p}, true
}

// String gives the policy as written, for messages.
func (p TracePolicy) String() string {
	return fmt.Sprintf("body=%q mask=%d retention=%s ids=%d", p.Body, len(p.Mask), p.Retention, len(p.IDs))
}

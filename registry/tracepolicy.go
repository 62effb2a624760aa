package registry

import (
	"fmt"
	"slices"
	"strings"
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
// [local-name()='v'], [namespace-uri()='v']), evaluated on the SOAP Body's content: the Body
// element is the context, and a path starting with / starts there too (//tag is every tag
// inside the Body, /invioSAP the payload's root element), whether the Body is read inside its
// envelope or its content alone; a tag without a prefix matches any namespace. They are compiled
// when the registry loads, so a bad path is a registry error naming its file and line.
//
// An identifier may be found by several paths (a list: the actions of a service carry it in
// different places; all are tried and every value found is kept), and inside a document that a
// payload carries as text (the SAP's lavoratore, in a CDATA section) with XPath 3's parse-xml:
// parse-xml(invioSAP/SAP)/lavoratore/datianagrafici/datipersonali/codicefiscale reads the text
// of each element the inner path selects as an XML document and evaluates the rest there.
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
// where it is found in the SOAP Body's content. A name found by several paths has one BusinessID
// per path. When In is set (parse-xml), Path selects elements whose text is an XML document and
// In is evaluated on each such document.
type BusinessID struct {
	Name string
	FieldPath
	In *FieldPath
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
			paths := []*yaml.Node{v}
			if v.Kind == yaml.SequenceNode {
				paths = v.Content
			}
			for _, e := range paths {
				if e.Kind != yaml.ScalarNode {
					d.errf(d.File, e.Line, "%s: ids: %s must be a path or a list of paths, e.g. //codiceFiscale", what, k.Value)
					continue
				}
				if id, ok := compileIDPath(d, e.Line, what+": ids: "+k.Value, e.Value); ok {
					id.Name = k.Value
					p.IDs = append(p.IDs, id)
				}
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
	p, err := etree.CompilePath(fromContext(expr))
	if err != nil {
		d.errf(d.File, line, "%s: path %q: %v", what, expr, err)
		return FieldPath{}, false
	}
	return FieldPath{Expr: expr, Path: p}, true
}

// fromContext makes an absolute path start at the context element (the SOAP Body) rather than at
// the root of its document: //tag becomes .//tag, /a/b becomes ./a/b.
func fromContext(expr string) string {
	if strings.HasPrefix(expr, "/") {
		return "." + expr
	}
	return expr
}

// compileIDPath compiles a business identifier's path, which may be parse-xml(INNER)REST.
func compileIDPath(d *decoder, line int, what, expr string) (BusinessID, bool) {
	inner, rest, ok := strings.Cut(strings.TrimPrefix(expr, "parse-xml("), ")")
	if !strings.HasPrefix(expr, "parse-xml(") {
		fp, ok := compileFieldPath(d, line, what, expr)
		return BusinessID{FieldPath: fp}, ok
	}
	if !ok || !strings.HasPrefix(rest, "/") || strings.Contains(rest, "parse-xml(") {
		d.errf(d.File, line, "%s: path %q: want parse-xml(PATH)/PATH, e.g. parse-xml(invioSAP/SAP)/lavoratore//codicefiscale", what, expr)
		return BusinessID{}, false
	}
	outer, ok1 := compileFieldPath(d, line, what, inner)
	in, ok2 := compileFieldPath(d, line, what, rest)
	outer.Expr = expr
	return BusinessID{FieldPath: outer, In: &in}, ok1 && ok2
}

// String gives the policy as written, for messages.
func (p TracePolicy) String() string {
	return fmt.Sprintf("body=%q mask=%d retention=%s ids=%d", p.Body, len(p.Mask), p.Retention, len(p.IDs))
}

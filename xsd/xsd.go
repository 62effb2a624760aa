// Package xsd owns Porta's XML schemas and validates documents against them.
//
// The schemas are ours, written from the specifications (never copies of someone else's files),
// and embedded in the binary from the schemas/ tree: schemas/egov holds the eGov busta 1.1 header,
// a SOAP 1.1 envelope and the WS-Security utility schema; other directories (e.g. schemas/labour)
// hold the payload schemas of the cooperation services and are picked up without code changes.
//
// Validation runs on libxml2 (libxml2.go). A Set materialises the embedded tree in a temporary
// directory it owns (so that xs:import and xs:include resolve by relative path and nothing is
// fetched from the network), compiles each schema once on first use, and removes the directory
// on Close. A document is validated as libxml2's parser reads it from the caller's slice: no copy
// of it goes to C and no tree is built, so a 10 MB payload costs the parser's buffers and the
// text of the element being checked, not three times its size. Failures are *Error values whose
// Problems name the line and the element, as a tree validation would name them.
//
// This package knows nothing of eGov exception codes: mapping a schema failure to EGOV_IT_001 or
// 002 is the caller's job (package envelope or the gateway), so xsd imports no Porta package.
package xsd

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
)

//go:embed all:schemas
var embedded embed.FS

// Paths of our own schemas, relative to the schemas/ tree.
const (
	Busta        = "egov/busta.xsd"         // eGov_IT:Intestazione and the manifest
	SOAPEnvelope = "egov/soap-envelope.xsd" // SOAP 1.1 Envelope, Header, Body, Fault
	WSU          = "egov/wsu.xsd"           // wsu:Id, wsu:Timestamp
)

// Problem is one schema violation.
type Problem struct {
	Line    int    // 1-based line in the validated document, 0 when not known
	Element string // local name of the element concerned, "" when not known
	Message string // libxml2's text, e.g. "Element '{…}Azione': [facet 'minLength'] …"
}

func (p Problem) String() string {
	var b strings.Builder
	if p.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", p.Line)
	}
	if p.Element != "" && !strings.Contains(p.Message, p.Element) {
		fmt.Fprintf(&b, "element %s: ", p.Element)
	}
	b.WriteString(p.Message)
	return b.String()
}

// Error reports that a document does not conform to a schema, or is not XML at all.
type Error struct {
	Schema   string // the schema path given to Validate
	Problems []Problem
}

func (e *Error) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.String()
	}
	return fmt.Sprintf("schema %s: %s", e.Schema, strings.Join(parts, "; "))
}

// Set is the embedded schema tree, ready to validate. Safe for concurrent use.
type Set struct {
	dir string

	mu       sync.Mutex
	closed   bool
	handlers map[string]*schema
	// inflight counts Validate calls using the handlers, so Close frees them only when idle.
	inflight sync.WaitGroup
}

// Tree is the embedded schemas tree (egov/, labour/, ...), for callers that ship schemas beside
// documents that import them by relative path (package wsdl writes the WSDLs' imports from it).
func Tree() fs.FS {
	sub, err := fs.Sub(embedded, "schemas")
	if err != nil {
		panic(err) // "schemas" is a valid path: fs.Sub cannot fail on it
	}
	return sub
}

// Open materialises the embedded schemas in a new temporary directory and returns a Set over
// them. Schemas compile on first use. Close removes the directory.
func Open() (*Set, error) {
	return OpenFS(embedded, "schemas")
}

// OpenFS is Open over another tree: the schemas under root in fsys (used by tests and by
// deployments that add schemas of their own).
func OpenFS(fsys fs.FS, root string) (*Set, error) {
	dir, err := os.MkdirTemp("", "porta-xsd-*")
	if err != nil {
		return nil, fmt.Errorf("xsd: %w", err)
	}
	err = fs.WalkDir(fsys, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p, root), "/")
		dst := filepath.Join(dir, filepath.FromSlash(rel))
		if d.IsDir() {
			return os.MkdirAll(dst, 0o700)
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o600)
	})
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("xsd: materialise schemas: %w", err)
	}
	return &Set{dir: dir, handlers: map[string]*schema{}}, nil
}

// Schemas lists the .xsd files of the set, as paths relative to its root, sorted.
func (s *Set) Schemas() ([]string, error) {
	var out []string
	err := filepath.WalkDir(s.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".xsd") {
			rel, _ := filepath.Rel(s.dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	sort.Strings(out)
	return out, err
}

// handler returns the compiled schema, compiling it on first use.
func (s *Set) handler(name string) (*schema, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errors.New("xsd: set is closed")
	}
	if h, ok := s.handlers[name]; ok {
		return h, nil
	}
	clean := path.Clean(name)
	if name == "" || path.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, "../") {
		return nil, fmt.Errorf("xsd: schema path %q must be relative to the schemas tree", name)
	}
	file := filepath.Join(s.dir, filepath.FromSlash(clean))
	if _, err := os.Stat(file); err != nil {
		return nil, fmt.Errorf("xsd: no schema %s in the embedded tree", name)
	}
	h, err := compile(file)
	if err != nil {
		return nil, fmt.Errorf("xsd: compile %s: %s", name, strings.ReplaceAll(err.Error(), s.dir+string(filepath.Separator), ""))
	}
	s.handlers[name] = h
	return h, nil
}

// Validate checks doc against the schema at schemaPath (relative to the schemas tree, e.g.
// xsd.Busta). The error is an *Error naming line and element for each problem, or a plain error
// when the schema itself is missing or does not compile. Documents with a DOCTYPE are refused:
// no DTD processing happens here.
func (s *Set) Validate(schemaPath string, doc []byte) error {
	if bytes.Contains(doc, []byte("<!DOCTYPE")) || bytes.Contains(doc, []byte("<!ENTITY")) {
		return &Error{Schema: schemaPath, Problems: []Problem{{Message: "DOCTYPE and entity declarations are not accepted"}}}
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return errors.New("xsd: set is closed")
	}
	s.inflight.Add(1)
	s.mu.Unlock()
	defer s.inflight.Done()

	h, err := s.handler(schemaPath)
	if err != nil {
		return err
	}
	problems, notXML, err := h.validate(doc)
	switch {
	case err != nil:
		return fmt.Errorf("xsd: validate against %s: %w", schemaPath, err)
	case notXML != "":
		return &Error{Schema: schemaPath, Problems: []Problem{parserProblem(notXML)}}
	case len(problems) > 0:
		return &Error{Schema: schemaPath, Problems: problems}
	}
	return nil
}

var (
	elementInMessage = regexp.MustCompile(`Element '(?:\{[^}]*\})?([^']+)'`)
	lineInMessage    = regexp.MustCompile(`(?:line |:)(\d+)(?::| :)`)
)

// elementOf is the local name of the element a libxml2 error concerns: its node name when given,
// else the first "Element '…'" of the message.
func elementOf(node, msg string) string {
	if node != "" {
		if i := strings.LastIndexByte(node, ':'); i >= 0 {
			return node[i+1:]
		}
		return node
	}
	if m := elementInMessage.FindStringSubmatch(msg); m != nil {
		return m[1]
	}
	return ""
}

// parserProblem turns libxml2's parser text ("Entity: line 3: parser error : …") into a Problem.
func parserProblem(msg string) Problem {
	p := Problem{Message: strings.TrimSpace(msg)}
	if m := lineInMessage.FindStringSubmatch(msg); m != nil {
		p.Line, _ = strconv.Atoi(m[1])
	}
	return p
}

// Close frees the compiled schemas once no Validate is running and removes the temporary
// directory. The Set cannot be used afterwards.
func (s *Set) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.inflight.Wait()
	for _, h := range s.handlers {
		h.free()
	}
	s.handlers = nil
	return os.RemoveAll(s.dir)
}

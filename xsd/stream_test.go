package xsd

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	xsdvalidate "github.com/terminalstatic/go-xsd-validate"
)

// treeValidate is what Validate did before it streamed: go-xsd-validate's ValidateMem (a copy of
// doc in C, a libxml2 tree, xmlSchemaValidateDoc) with its results mapped as Validate maps them.
// It is the oracle the streaming validator is held to.
func treeValidate(t *testing.T, s *Set, schemaPath string, doc []byte) error {
	t.Helper()
	treeInit.Do(func() { _ = xsdvalidate.Init() })
	treeMu.Lock()
	h, ok := treeHandlers[schemaPath]
	if !ok {
		var err error
		if h, err = xsdvalidate.NewXsdHandlerUrl(filepath.Join(s.dir, filepath.FromSlash(schemaPath)), xsdvalidate.ParsErrVerbose); err != nil {
			treeMu.Unlock()
			t.Fatalf("compile %s: %v", schemaPath, err)
		}
		treeHandlers[schemaPath] = h
	}
	treeMu.Unlock()
	err := h.ValidateMem(doc, xsdvalidate.ParsErrVerbose)
	if err == nil {
		return nil
	}
	var ve xsdvalidate.ValidationError
	if errors.As(err, &ve) {
		e := &Error{Schema: schemaPath}
		for _, se := range ve.Errors {
			e.Problems = append(e.Problems, Problem{Line: se.Line, Element: elementOf(se.NodeName, se.Message), Message: se.Message})
		}
		return e
	}
	var pe xsdvalidate.XmlParserError
	if errors.As(err, &pe) {
		return &Error{Schema: schemaPath, Problems: []Problem{parserProblem(pe.Error())}}
	}
	return fmt.Errorf("xsd: validate against %s: %w", schemaPath, err)
}

var (
	treeInit     sync.Once
	treeMu       sync.Mutex
	treeHandlers = map[string]*xsdvalidate.XsdHandler{} // by schema path; the schemas tree is the same in every Set
)

var leafLine = regexp.MustCompile(`(?m)^[ \t]*<([A-Za-z_][\w.:-]*)[^<>]*>[^<>]*</[^<>]+>[ \t]*\n`)

// variants are doc and documents made from it that break it in the ways schema problems are
// found: at a start tag, at an end tag (its content checked then, lines apart in a multi-line
// element), in text, and not well-formed at all.
func variants(doc []byte) map[string][]byte {
	out := map[string][]byte{"as is": doc, "truncated": doc[:len(doc)/2], "empty": nil}
	if loc := leafLine.FindSubmatchIndex(doc); loc != nil {
		line := doc[loc[0]:loc[1]]
		name := doc[loc[2]:loc[3]]
		cut := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
		out["leaf removed"] = cut(doc[:loc[0]], doc[loc[1]:])
		out["leaf twice"] = cut(doc[:loc[1]], line, doc[loc[1]:])
		out["leaf renamed"] = cut(doc[:loc[0]], bytes.ReplaceAll(line, name, append(name, 'X')), doc[loc[1]:])
		open := bytes.IndexByte(line, '>') + 1
		close := bytes.LastIndex(line, []byte("</"))
		out["leaf emptied"] = cut(doc[:loc[0]], line[:open], line[close:], doc[loc[1]:])
		out["leaf text over lines"] = cut(doc[:loc[0]], line[:open], []byte("\n  x\n  y\n"), line[close:], doc[loc[1]:])
		out["leaf with a child"] = cut(doc[:loc[0]], line[:open], []byte("<z/>"), line[open:], doc[loc[1]:])
		out["leaf with an attribute"] = cut(doc[:loc[0]], line[:open-1], []byte(` foo="1"`), line[open-1:], doc[loc[1]:])
	}
	return out
}

// The streaming validator gives the verdict and the words the tree validation gave, for every
// document of testdata against every schema of the set, and for each broken in several ways.
func TestStreamAgreesWithTree(t *testing.T) {
	s := open(t)
	schemas, err := s.Schemas()
	if err != nil {
		t.Fatal(err)
	}
	var docs []string
	for _, dir := range []string{"../testdata/labour", "../testdata/envelope"} {
		filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasSuffix(p, ".xml") {
				docs = append(docs, p)
			}
			return nil
		})
	}
	if len(docs) < 40 {
		t.Fatalf("found %d documents under testdata", len(docs))
	}
	valid, invalid := 0, 0
	for _, file := range docs {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte("<!DOCTYPE")) {
			continue
		}
		for name, doc := range variants(b) {
			for _, sc := range schemas {
				want := treeValidate(t, s, sc, doc)
				got := s.Validate(sc, doc)
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("%s (%s) against %s:\nstream: %v\ntree:   %v", file, name, sc, got, want)
					continue
				}
				var ge, we *Error
				if errors.As(got, &ge) != errors.As(want, &we) || (ge != nil && fmt.Sprint(ge.Problems) != fmt.Sprint(we.Problems)) {
					t.Errorf("%s (%s) against %s: problems %+v, tree %+v", file, name, sc, got, want)
				}
				if got == nil {
					valid++
				} else {
					invalid++
				}
			}
		}
	}
	if valid < 40 || invalid < 1000 {
		t.Errorf("%d valid and %d invalid cases: the variants no longer exercise both verdicts", valid, invalid)
	}
	t.Logf("%d documents, %d valid and %d invalid cases agree", len(docs), valid, invalid)
}

// One text node past libxml2's XML_MAX_TEXT_LENGTH (10,000,000 bytes) and one of porta's largest
// message (16 MiB): the tree validation accepted them without XML_PARSE_HUGE, and so does the
// stream.
func TestStreamHugeText(t *testing.T) {
	s := open(t)
	const schema = "labour/sap-servizicoap.xsd"
	for _, n := range []int{10_000_001, 16 << 20} {
		doc := []byte(`<invioSAP xmlns="http://servizi.lavoro.gov.it/servizicoap/types"><SAP>` + strings.Repeat("a", n) + `</SAP></invioSAP>`)
		want := treeValidate(t, s, schema, doc)
		got := s.Validate(schema, doc)
		if got != nil || want != nil {
			t.Errorf("%d bytes of text: stream %v, tree %v", n, got, want)
		}
	}
}

// Package wsdl owns the WSDLs of the labour network's cooperation services (every *.wsdl here,
// one per service of adapters/labour's table, e.g. sap.wsdl), embedded in the binary so that a gateway written by porta init or porta demo can serve them on
// ?wsdl with no source tree. Its subpackages hold the Go types generated from each WSDL.
//
// Each WSDL imports its payload schema by the relative location ../xsd/schemas/labour/NAME.xsd,
// as in the source tree; Write lays the WSDLs and the schemas they import out the same way, so that
// the gateway's ?wsdl and ?xsd answers resolve them. It must not hold domain rules or transport.
package wsdl

import (
	"bytes"
	"embed"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"porta/xsd"
)

// FS holds the WSDL files, at its root.
//
//go:embed *.wsdl
var FS embed.FS

// Dir is the folder Write puts the WSDLs in, below its target directory; a registry beside that
// directory names a service's WSDL as wsdl: ../wsdl/NAME.wsdl, one in it as wsdl/NAME.wsdl.
const Dir = "wsdl"

// Names lists the embedded WSDL files, sorted.
func Names() []string {
	entries, _ := fs.ReadDir(FS, ".")
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out
}

// Write writes every WSDL into dir/wsdl and every schema they import (transitively, from package
// xsd's embedded tree) at its relative location, e.g. dir/xsd/schemas/labour/sap.xsd. Existing
// files are overwritten with the embedded ones.
func Write(dir string) error {
	files := map[string][]byte{} // slash path below dir -> content
	var queue []string
	for _, name := range Names() {
		data, err := FS.ReadFile(name)
		if err != nil {
			return err
		}
		p := path.Join(Dir, name)
		files[p] = data
		queue = append(queue, p)
	}
	tree := xsd.Tree()
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		locs, err := imports(files[p])
		if err != nil {
			return fmt.Errorf("wsdl: %s: %w", p, err)
		}
		for _, loc := range locs {
			q := path.Clean(path.Join(path.Dir(p), loc))
			if _, done := files[q]; done {
				continue
			}
			rel, ok := strings.CutPrefix(q, "xsd/schemas/")
			if !ok {
				return fmt.Errorf("wsdl: %s imports %s, which is not one of package xsd's schemas", p, loc)
			}
			data, err := fs.ReadFile(tree, rel)
			if err != nil {
				return fmt.Errorf("wsdl: %s imports %s: %w", p, loc, err)
			}
			files[q] = data
			queue = append(queue, q)
		}
	}
	for p, data := range files {
		f := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(f, data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// imports lists the relative locations a WSDL or schema imports or includes.
func imports(data []byte) ([]string, error) {
	dec := xml.NewDecoder(bytes.NewReader(data))
	var out []string
	for {
		t, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		se, ok := t.(xml.StartElement)
		if !ok || (se.Name.Local != "import" && se.Name.Local != "include") {
			continue
		}
		for _, a := range se.Attr {
			if (a.Name.Local == "schemaLocation" || a.Name.Local == "location") && a.Value != "" &&
				!strings.Contains(a.Value, "://") && !strings.HasPrefix(a.Value, "/") {
				out = append(out, a.Value)
			}
		}
	}
}

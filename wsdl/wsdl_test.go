package wsdl

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestWriteLaysOutTheSourceTree writes the embedded WSDLs and checks that every file written is
// the source tree's file at the same relative place (so relative imports resolve as they do in
// the repository), and that every WSDL of the source tree is embedded.
func TestWriteLaysOutTheSourceTree(t *testing.T) {
	dir := t.TempDir()
	if err := Write(dir); err != nil {
		t.Fatal(err)
	}
	src, _ := filepath.Glob("*.wsdl")
	if len(src) == 0 || len(src) != len(Names()) {
		t.Fatalf("embedded %v, source tree %v", Names(), src)
	}
	written := 0
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		written++
		rel, _ := filepath.Rel(dir, p)
		got, _ := os.ReadFile(p)
		want, err := os.ReadFile(filepath.Join("..", rel))
		if err != nil {
			t.Errorf("wrote %s, which the source tree does not hold: %v", rel, err)
		} else if !bytes.Equal(got, want) {
			t.Errorf("%s differs from the source tree's", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// every WSDL and the payload schema each imports
	for _, name := range []string{"wsdl/sap.wsdl", "xsd/schemas/labour/sap-servizicoap.xsd", "wsdl/scuola.wsdl", "xsd/schemas/labour/scuola.xsd"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("missing %s: %v", name, err)
		}
	}
	if written != 2*len(src) {
		t.Errorf("wrote %d files, want the %d WSDLs and one schema each", written, len(src))
	}
}

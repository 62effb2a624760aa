// Package siltest is test support for the outbound builders: a synthetic SIL read back through
// the real Source, golden files under testdata/labour/ (rewritten with -update), and the
// xmllint oracle. It must only be imported by tests.
package siltest

import (
	"bytes"
	"context"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"porta/adapters/sil"
	"porta/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/labour")

// Now is the fixed instant of the fixtures.
var Now = time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)

// Workers generates a SIL of n workers with the given seed and plants, and reads every worker
// back through a Source opened on the default mapping.
func Workers(t testing.TB, opt sil.GenOptions) ([]*sil.Worker, *sil.Generated) {
	t.Helper()
	if opt.Now.IsZero() {
		opt.Now = Now
	}
	g, err := sil.Generate(context.Background(), t.TempDir(), opt)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := sil.LoadConfig(g.Config)
	if err != nil {
		t.Fatal(err)
	}
	src, err := sil.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	ws, rejected, err := src.ChangedSince(context.Background(), time.Time{})
	if err != nil || len(rejected) > 0 {
		t.Fatalf("read the SIL: %v %v", err, rejected)
	}
	return ws, g
}

// Root is the repository root, from a package directory two or three levels down.
func Root(t testing.TB) string {
	t.Helper()
	dir, _ := os.Getwd()
	for d := dir; d != "/"; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
	}
	t.Fatalf("no go.mod above %s", dir)
	return ""
}

// Golden compares got with testdata/labour/<rel> (rewriting it with -update).
func Golden(t testing.TB, rel string, got []byte) {
	t.Helper()
	path := filepath.Join(Root(t), "testdata", "labour", rel)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("golden %s: %v (run with -update to create it)", rel, err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run with -update if the change is intended)\ngot:\n%s", rel, got)
	}
}

// Xmllint validates doc with xmllint against xsd/schemas/<schema>.
func Xmllint(t testing.TB, schema string, doc []byte) {
	t.Helper()
	bin := testenv.Xmllint(t)
	f := filepath.Join(t.TempDir(), "doc.xml")
	if err := os.WriteFile(f, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	xsd := filepath.Join(Root(t), "xsd", "schemas", filepath.FromSlash(schema))
	if out, err := exec.Command(bin, "--noout", "--schema", xsd, f).CombinedOutput(); err != nil {
		t.Fatalf("xmllint rejects the document against %s: %v\n%s\n%s", schema, err, out, doc)
	}
}

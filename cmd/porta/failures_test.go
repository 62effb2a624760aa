package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"porta/adapters/merge"
	"porta/internal/backends"
)

// porta failures list --config reads the province's store next to porta.yaml, backends.db: the
// one porta serve's built-in backends and porta demo keep the province's rejections in. Without
// it the command says so and creates nothing.
func TestFailuresListFindsTheProvinceStore(t *testing.T) {
	dir := t.TempDir()
	if code, _, errs := runPorta(t, nil, "init", "--party", "Provincia", "--dir", dir, "--alg", "ecdsa-p256"); code != 0 {
		t.Fatalf("porta init: %s", errs)
	}
	cfg := filepath.Join(dir, "porta.yaml")
	store := filepath.Join(dir, "backends.db")
	code, out, errs := runPorta(t, nil, "failures", "list", "--config", cfg)
	if code != 1 || out != "" || !strings.Contains(errs, "no store at "+store+"; is this the right --config") {
		t.Errorf("failures list without a store: exit %d, %q, %q", code, out, errs)
	}
	if _, err := os.Stat(store); !os.IsNotExist(err) {
		t.Fatalf("failures list created %s: %v", store, err)
	}
	for _, args := range [][]string{{"trace", "list", "--config", cfg}, {"trace", "verify", "--store", filepath.Join(dir, "none.db")}} {
		if code, _, errs := runPorta(t, nil, args...); code == 0 || !strings.Contains(errs, "no store at") {
			t.Errorf("%v without a store: exit %d, %q", args, code, errs)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "none.db")); !os.IsNotExist(err) {
		t.Errorf("trace verify created a store: %v", err)
	}

	// The store porta serve's backends (and porta demo) write, with one rejection in it.
	ctx := context.Background()
	d, err := backends.Open(ctx, store, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Merge.Reject(ctx, &merge.RecordError{Source: "INPS", Kind: merge.KindINPS, Record: "RSSMRA85T10A562S", Field: "codiceFiscale", Rule: "check character", Reason: "wrong check character"}, nil); err != nil {
		t.Fatal(err)
	}
	d.Close()
	code, out, errs = runPorta(t, nil, "failures", "list", "--config", cfg)
	if code != 0 || !strings.Contains(out, "RSSMRA85T10A562S") || !strings.Contains(out, "wrong check character") {
		t.Errorf("failures list: exit %d\n%s%s", code, out, errs)
	}
}

package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"porta/registry"
)

func TestOperatorCommands(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	if code := run([]string{"init", "--party", "Provincia", "--dir", dir, "--alg", "ecdsa-p256"}, nil, &out, &errb); code != 0 {
		t.Fatalf("porta init: exit %d\n%s", code, errb.String())
	}
	cfg := filepath.Join(dir, "porta.yaml")
	op := func(stdin string, args ...string) (int, string, string) {
		var o, e bytes.Buffer
		code := run(append([]string{"operator"}, args...), strings.NewReader(stdin), &o, &e)
		return code, o.String(), e.String()
	}
	// Without --password-stdin a password is drawn and printed once; with it, read from stdin.
	code, o, e := op("", "add", "--config", cfg, "--name", "anna", "--role", "admin")
	if code != 0 || !strings.Contains(o, "operator anna: role admin") || !strings.Contains(o, "password: ") {
		t.Fatalf("add anna: %d\n%s%s", code, o, e)
	}
	if code, o, e = op("s3cret\n", "add", "--config", cfg, "--name", "mario", "--role", "viewer", "--password-stdin"); code != 0 || strings.Contains(o, "password") {
		t.Fatalf("add mario: %d\n%s%s", code, o, e)
	}
	if code, _, e = op("", "add", "--config", cfg, "--name", "x", "--role", "root"); code != 2 || !strings.Contains(e, "want viewer, operator or admin") {
		t.Errorf("a bad role: %d %s", code, e)
	}
	if code, _, e = op("", "add", "--config", cfg, "--name", "x", "--password-stdin"); code != 2 || !strings.Contains(e, "empty password") {
		t.Errorf("an empty password: %d %s", code, e)
	}
	// --cert: the certificate's fingerprint, and no password unless one is given.
	cert, err := registry.ReadCertFile(filepath.Join(dir, "cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	fp := registry.Fingerprint(cert[0])
	if code, o, e = op("", "add", "--config", cfg, "--name", "lucia", "--role", "operator", "--cert", filepath.Join(dir, "cert.pem")); code != 0 ||
		!strings.Contains(o, "certificate: sha256 "+fp) || strings.Contains(o, "password") {
		t.Fatalf("add lucia --cert: %d\n%s%s", code, o, e)
	}
	if code, _, e = op("", "add", "--config", cfg, "--name", "x", "--cert", filepath.Join(dir, "cert.pem")); code != 1 || !strings.Contains(e, "belongs to another operator") {
		t.Errorf("a certificate given twice: %d %s", code, e)
	}
	if code, _, e = op("", "add", "--config", cfg, "--name", "x", "--cert", filepath.Join(dir, "nothing.pem")); code != 2 || !strings.Contains(e, "--cert") {
		t.Errorf("a missing certificate file: %d %s", code, e)
	}
	code, o, e = op("", "list", "--config", cfg)
	if code != 0 || !strings.Contains(o, "lucia") || !strings.Contains(o, "cert "+fp[:16]) {
		t.Fatalf("list with a certificate: %d\n%s%s", code, o, e)
	}
	if code, _, e = op("", "remove", "--config", cfg, "--name", "lucia"); code != 0 {
		t.Fatalf("remove lucia: %d %s", code, e)
	}
	code, o, e = op("", "list", "--config", cfg)
	if code != 0 || !strings.Contains(o, "anna") || !strings.Contains(o, "mario") || !strings.Contains(o, "viewer") {
		t.Fatalf("list: %d\n%s%s", code, o, e)
	}
	code, o, _ = op("", "list", "--config", cfg, "--json")
	var list []map[string]any
	if code != 0 || json.Unmarshal([]byte(o), &list) != nil || len(list) != 2 || strings.Contains(o, "pbkdf2") {
		t.Fatalf("list --json (no hashes): %d\n%s", code, o)
	}
	if code, o, e = op("", "remove", "--config", cfg, "--name", "mario"); code != 0 || !strings.Contains(o, "removed operator mario") {
		t.Errorf("remove: %d %s%s", code, o, e)
	}
	if code, _, e = op("", "remove", "--config", cfg, "--name", "mario"); code != 1 || !strings.Contains(e, "no operator") {
		t.Errorf("remove twice: %d %s", code, e)
	}
}

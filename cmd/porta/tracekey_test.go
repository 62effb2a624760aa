package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"porta/audit"
	"porta/audit/seal"
)

// porta trace show opens an encrypted envelope with the trace keys and says plainly when it
// cannot; porta trace key rotate adds a key that encrypts from then on while the old one still
// opens what it sealed; porta trace verify needs no key.
func TestTraceShowEncryptedAndRotate(t *testing.T) {
	keyDir := filepath.Join(t.TempDir(), "trace-keys")
	if code, out, errOut := runTrace("trace", "key", "rotate", "--keys", keyDir); code != 0 || !strings.Contains(out, "added trace key") {
		t.Fatalf("rotate = %d\n%s%s", code, out, errOut)
	}
	appendEncrypted := func(dsn string, n int) {
		t.Helper()
		keys, err := seal.Load(keyDir)
		if err != nil {
			t.Fatal(err)
		}
		s, err := audit.Open(context.Background(), dsn, audit.Options{Node: "gw1", Keys: keys})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		id := traceID(n)
		h := fmt.Sprintf(traceHeader, id)
		r := &audit.Record{ID: id, Direction: audit.Out, Sender: "Provincia", Receiver: "Ministero", Service: "SAP", Outcome: "sent",
			Header: []byte(h), Raw: []byte(fmt.Sprintf(traceEnvelope, h)), Keep: audit.BodyEncrypted}
		if err := s.Append(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "audit.db")
	appendEncrypted(dsn, 1)
	first := firstKey(t, keyDir)

	code, out, errOut := runTrace("trace", "show", "--store", dsn, "--keys", keyDir, traceID(1))
	if code != 0 || !strings.Contains(out, "RSSMRA80A01H501U") || !strings.Contains(out, "encrypted with key "+first) {
		t.Fatalf("show with the key = %d\n%s%s", code, out, errOut)
	}
	code, out, _ = runTrace("trace", "show", "--store", dsn, "--keys", filepath.Join(t.TempDir(), "none"), traceID(1))
	if code != 0 || strings.Contains(out, "RSSMRA80A01H501U") || !strings.Contains(out, "Envelope (encrypted): not shown: encrypted with key "+first) {
		t.Errorf("show without keys = %d\n%s", code, out)
	}

	if code, out, errOut := runTrace("trace", "key", "rotate", "--keys", keyDir); code != 0 {
		t.Fatalf("rotate = %d\n%s%s", code, out, errOut)
	}
	appendEncrypted(dsn, 2)
	code, out, _ = runTrace("trace", "key", "list", "--keys", keyDir)
	ids := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(ids) != 2 || ids[0] != first || !strings.HasSuffix(ids[1], "(encrypts)") {
		t.Fatalf("list = %d\n%s", code, out)
	}
	second := strings.TrimSuffix(ids[1], "  (encrypts)")
	for n, key := range map[int]string{1: first, 2: second} {
		code, out, errOut := runTrace("trace", "show", "--store", dsn, "--keys", keyDir, traceID(n))
		if code != 0 || !strings.Contains(out, "RSSMRA80A01H501U") || !strings.Contains(out, "encrypted with key "+key) {
			t.Errorf("record %d after rotation = %d\n%s%s", n, code, out, errOut)
		}
	}
	if code, out, errOut := runTrace("trace", "verify", "--store", dsn); code != 0 || !strings.Contains(out, "OK: 2 records") {
		t.Errorf("verify without keys = %d\n%s%s", code, out, errOut)
	}
}

func firstKey(t *testing.T, dir string) string {
	t.Helper()
	k, err := seal.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return k.Current()
}

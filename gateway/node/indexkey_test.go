package node

import (
	"bytes"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestIndexKeyFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, IndexKeyFile)
	if err := WriteIndexKey(path, rand.Reader); err != nil {
		t.Fatal(err)
	}
	key, err := ReadIndexKey(path)
	if err != nil || len(key) != 32 {
		t.Fatalf("read back: %d bytes, %v", len(key), err)
	}
	if err := WriteIndexKey(path, rand.Reader); err == nil {
		t.Error("an existing key was replaced")
	}
	again, _ := ReadIndexKey(path)
	if !bytes.Equal(key, again) {
		t.Error("the key changed")
	}
	// A key readable by others is refused, naming the fix.
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadIndexKey(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("a 0644 key: %v, want it refused", err)
	}
	short := filepath.Join(dir, "short.key")
	os.WriteFile(short, []byte("abcd\n"), 0o600)
	if _, err := ReadIndexKey(short); err == nil {
		t.Error("a 2-byte key was accepted")
	}
}

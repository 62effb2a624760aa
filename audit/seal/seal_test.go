package seal

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSealOpenRotate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	first, err := Add(dir, t0)
	if err != nil {
		t.Fatal(err)
	}
	k1, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	plain := []byte("<codiceFiscale>RSSMRA85T10A562S</codiceFiscale>")
	old, err := k1.Seal(plain, "trace")
	if err != nil {
		t.Fatal(err)
	}
	if !IsSealed(old) || KeyID(old) != first || bytes.Contains(old, []byte("RSSMRA")) {
		t.Fatalf("sealed value: id %q, sealed %v", KeyID(old), IsSealed(old))
	}
	if IsSealed(plain) {
		t.Error("a plain document reads as sealed")
	}

	second, err := Add(dir, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	k2, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if k2.Current() != second || len(k2.IDs()) != 2 {
		t.Fatalf("after rotation: current %s, ids %v; want %s", k2.Current(), k2.IDs(), second)
	}
	got, err := k2.Open(old, "trace")
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("old value after rotation: %q, %v", got, err)
	}
	fresh, _ := k2.Seal(plain, "trace")
	if KeyID(fresh) != second {
		t.Errorf("new value sealed with %s, want the new key %s", KeyID(fresh), second)
	}
	if _, err := k1.Open(fresh, "trace"); !errors.Is(err, ErrUnknownKey) || !strings.Contains(err.Error(), second) {
		t.Errorf("old keyring opening a new value: %v, want ErrUnknownKey naming %s", err, second)
	}
	if _, err := k2.Open(old, "queue/payload"); err == nil {
		t.Error("opened under another purpose")
	}
	bad := bytes.Clone(fresh)
	bad[len(bad)-1] ^= 1
	if _, err := k2.Open(bad, "trace"); err == nil {
		t.Error("opened an altered value")
	}
	third, err := Add(dir, t0.Add(time.Hour)) // in the newest's second: dated a second after it
	if err != nil || third <= second {
		t.Errorf("a key added in the newest's second: %s (%v), want after %s", third, err, second)
	}
	if _, err := Add(dir, t0.Add(-time.Hour)); err == nil || !strings.Contains(err.Error(), "is the clock right") {
		t.Errorf("a key an hour before the newest: %v", err)
	}
}

func TestLoadRefusesLooseKeys(t *testing.T) {
	dir := t.TempDir()
	id, err := Add(dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, id+".key")
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("new key mode %04o, want 0600", fi.Mode().Perm())
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("a world-readable key: %v, want a refusal naming the fix", err)
	}
	if _, err := Load(t.TempDir()); err == nil || !strings.Contains(err.Error(), "holds no key") {
		t.Errorf("an empty directory: %v", err)
	}
	os.Chmod(path, 0o600)
	os.WriteFile(path, []byte("short"), 0o600)
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "32 bytes") {
		t.Errorf("a bad key: %v", err)
	}
}

// BenchmarkSeal: the cost of sealing and opening one traced envelope of a 1 KB payload (about
// 4 KB with its busta and signature).
func BenchmarkSeal(b *testing.B) {
	dir := b.TempDir()
	if _, err := Add(dir, time.Now()); err != nil {
		b.Fatal(err)
	}
	k, err := Load(dir)
	if err != nil {
		b.Fatal(err)
	}
	env := bytes.Repeat([]byte("x"), 4096)
	b.SetBytes(int64(len(env)))
	b.Run("seal", func(b *testing.B) {
		for b.Loop() {
			k.Seal(env, "trace/raw")
		}
	})
	sealed, _ := k.Seal(env, "trace/raw")
	b.Run("open", func(b *testing.B) {
		for b.Loop() {
			k.Open(sealed, "trace/raw")
		}
	})
}

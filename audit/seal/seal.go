// Package seal owns the encryption at rest of what the audit store keeps of personal data: the
// keyring (AES-256 keys in files, each with an id), sealing bytes with the newest key and opening
// them with whichever key sealed them, so keys rotate without rewriting old records.
//
// A key directory holds one file per key, named ID.key, holding the 32-byte key in base64 and
// readable by its owner only: Load refuses a key file that its group or others may read or write
// (mode & 0o077 != 0), naming the file and the fix. Ids are the key's creation time in UTC
// (20060102T150405Z) and four random hex digits, so the lexically greatest id is the newest key,
// the one Seal uses. Add writes a new key (0600, written whole then renamed into place); the
// older keys stay and still open what they sealed.
//
// A sealed value is
//
//	magic "\x00PSL1" | len(id) (1 byte) | id | nonce (12 bytes) | AES-256-GCM ciphertext and tag
//
// with the magic, the id and the caller's purpose (e.g. "trace", "queue/payload") as GCM's
// additional data: a value opened under another purpose, or with its id edited, fails. The magic
// begins with a NUL byte, which no XML document or JSON text (what the store keeps in clear)
// begins with, so IsSealed tells sealed values from values stored before encryption.
//
// It must not know what it seals: no audit, gateway or registry types here.
package seal

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// magic starts every sealed value.
const magic = "\x00PSL1"

// KeySize is the size of a key: AES-256.
const KeySize = 32

// idTime is the layout of the time that starts a key id.
const idTime = "20060102T150405Z"

// keyExt ends the name of every key file in a key directory.
const keyExt = ".key"

// IsSealed reports whether b is a sealed value (it begins with the seal's magic).
func IsSealed(b []byte) bool { return bytes.HasPrefix(b, []byte(magic)) }

// KeyID returns the id of the key that sealed b, or "" when b is not a sealed value.
func KeyID(b []byte) string {
	if !IsSealed(b) || len(b) < len(magic)+1 {
		return ""
	}
	n := int(b[len(magic)])
	if len(b) < len(magic)+1+n {
		return ""
	}
	return string(b[len(magic)+1 : len(magic)+1+n])
}

// ErrUnknownKey is returned (wrapped, naming the id) by Open when the value was sealed with a key
// the keyring does not hold.
var ErrUnknownKey = errors.New("sealed with a key this keyring does not hold")

// Keyring holds the keys of a key directory. It is safe for concurrent use; it is not changed by
// Add (load the directory again to use a new key).
type Keyring struct {
	dir   string
	ids   []string // sorted, oldest first; the last one seals
	aeads map[string]cipher.AEAD
	// tagKeys are the keys' HMAC keys, derived from each so that no key serves two algorithms.
	tagKeys map[string][]byte
	random  func([]byte) (int, error)
}

// Load reads the key directory dir. It fails when dir holds no key, when a key file may be read
// by others than its owner, or when a key is not 32 bytes of base64.
func Load(dir string) (*Keyring, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("trace keys: %w", err)
	}
	k := &Keyring{dir: dir, aeads: map[string]cipher.AEAD{}, tagKeys: map[string][]byte{}, random: rand.Read}
	for _, e := range ents {
		id, ok := strings.CutSuffix(e.Name(), keyExt)
		if !ok || e.IsDir() || !validID(id) {
			continue
		}
		path := filepath.Join(dir, e.Name())
		fi, err := os.Stat(path)
		if err != nil {
			return nil, fmt.Errorf("trace key %s: %w", path, err)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			return nil, fmt.Errorf("trace key %s: mode %04o lets others read it; run chmod 600 %s", path, fi.Mode().Perm(), path)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("trace key %s: %w", path, err)
		}
		key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(data)))
		if err != nil || len(key) != KeySize {
			return nil, fmt.Errorf("trace key %s: want %d bytes in base64 (as porta trace key rotate writes)", path, KeySize)
		}
		aead, err := newAEAD(key)
		if err != nil {
			return nil, fmt.Errorf("trace key %s: %w", path, err)
		}
		k.ids = append(k.ids, id)
		k.aeads[id] = aead
		derive := hmac.New(sha256.New, key)
		derive.Write([]byte("porta-seal-tag-key"))
		k.tagKeys[id] = derive.Sum(nil)
	}
	if len(k.ids) == 0 {
		return nil, fmt.Errorf("trace keys: %s holds no key (ID%s); create one with porta trace key rotate", dir, keyExt)
	}
	slices.Sort(k.ids)
	return k, nil
}

// Add creates a new key in dir (created 0700 if missing) and returns its id: the newest, which
// the next Load seals with. now dates the id.
func Add(dir string, now time.Time) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("trace keys: %w", err)
	}
	key := make([]byte, KeySize)
	var suffix [2]byte
	if _, err := rand.Read(key); err != nil {
		return "", err
	}
	if _, err := rand.Read(suffix[:]); err != nil {
		return "", err
	}
	// A new key must sort after the keys already there: a second key within the same second is
	// dated a second after the newest; a key dated well after now means the clock went back.
	at := now.UTC().Truncate(time.Second)
	if ents, err := os.ReadDir(dir); err == nil {
		for _, e := range ents {
			old, ok := strings.CutSuffix(e.Name(), keyExt)
			if !ok || !validID(old) {
				continue
			}
			t, err := time.Parse(idTime, old[:len(idTime)])
			if err != nil || !t.Before(at) {
				if err != nil || t.After(at.Add(time.Minute)) {
					return "", fmt.Errorf("trace keys: %s holds key %s, newer than now (%s): is the clock right?", dir, old, at.Format(idTime))
				}
				at = t.Add(time.Second)
			}
		}
	}
	id := at.Format(idTime) + "-" + hex.EncodeToString(suffix[:])
	tmp, err := os.CreateTemp(dir, ".new-key-*")
	if err != nil {
		return "", fmt.Errorf("trace keys: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return "", err
	}
	if _, err := tmp.WriteString(base64.StdEncoding.EncodeToString(key) + "\n"); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	path := filepath.Join(dir, id+keyExt)
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("trace keys: %s exists", path)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", fmt.Errorf("trace keys: %w", err)
	}
	return id, nil
}

// validID reports whether id has the form Add gives ids (time, dash, hex digits).
func validID(id string) bool {
	if len(id) < 18 || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-') {
			return false
		}
	}
	return true
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// Dir returns the key directory the keyring was loaded from.
func (k *Keyring) Dir() string { return k.dir }

// IDs returns the ids of the keys, oldest first; the last one seals.
func (k *Keyring) IDs() []string { return slices.Clone(k.ids) }

// Current returns the id of the key Seal uses.
func (k *Keyring) Current() string { return k.ids[len(k.ids)-1] }

// Seal encrypts plain with the newest key under purpose (the use the value is sealed for: it
// must be given again to Open).
func (k *Keyring) Seal(plain []byte, purpose string) ([]byte, error) {
	id := k.Current()
	aead := k.aeads[id]
	hdr := len(magic) + 1 + len(id)
	out := make([]byte, hdr+aead.NonceSize(), hdr+aead.NonceSize()+len(plain)+aead.Overhead())
	copy(out, magic)
	out[len(magic)] = byte(len(id))
	copy(out[len(magic)+1:], id)
	nonce := out[hdr : hdr+aead.NonceSize()]
	if _, err := k.random(nonce); err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return aead.Seal(out, nonce, plain, additional(out[:hdr], purpose)), nil
}

// Open decrypts a value Seal made under the same purpose, with the key that sealed it. A value
// that is not sealed is an error; one sealed with a key the keyring lacks is ErrUnknownKey.
func (k *Keyring) Open(sealed []byte, purpose string) ([]byte, error) {
	if !IsSealed(sealed) {
		return nil, errors.New("open: not a sealed value")
	}
	id := KeyID(sealed)
	if id == "" {
		return nil, errors.New("open: sealed value cut short")
	}
	aead, ok := k.aeads[id]
	if !ok {
		return nil, fmt.Errorf("open: key %s: %w (keys in %s: %s)", id, ErrUnknownKey, k.dir, strings.Join(k.ids, ", "))
	}
	hdr := len(magic) + 1 + len(id)
	if len(sealed) < hdr+aead.NonceSize()+aead.Overhead() {
		return nil, errors.New("open: sealed value cut short")
	}
	nonce := sealed[hdr : hdr+aead.NonceSize()]
	plain, err := aead.Open(nil, nonce, sealed[hdr+aead.NonceSize():], additional(sealed[:hdr], purpose))
	if err != nil {
		return nil, fmt.Errorf("open with key %s (%s): the value was altered or sealed for another use", id, purpose)
	}
	return plain, nil
}

func additional(hdr []byte, purpose string) []byte {
	return append(append(slices.Clip(hdr), 0), purpose...)
}

// Tags returns the keyed hashes (HMAC-SHA256, under a key derived from each key of the keyring
// for purpose) of b, newest key first: a value that must be found again by equality (an
// application's idempotency key) is stored as its tag under the newest key and looked up by all
// of them, so a rotation does not lose it.
func (k *Keyring) Tags(b []byte, purpose string) [][]byte {
	out := make([][]byte, 0, len(k.ids))
	for i := len(k.ids) - 1; i >= 0; i-- {
		out = append(out, k.tag(k.ids[i], b, purpose))
	}
	return out
}

func (k *Keyring) tag(id string, b []byte, purpose string) []byte {
	m := hmac.New(sha256.New, k.tagKeys[id])
	m.Write([]byte(purpose))
	m.Write([]byte{0})
	m.Write(b)
	return m.Sum(nil)
}

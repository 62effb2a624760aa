package node

import (
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strings"

	"porta/audit"
)

// The index key (porta.yaml's trace.index_key) is the HMAC key under which the audit store keeps
// the business identifiers it indexes (a codice fiscale is never stored in clear, see package
// audit's ids.go): a file of hex digits, at least audit.MinIndexKey bytes, that only its owner may
// read. porta init writes one; every node sharing a store needs the same, and a new key makes the
// records indexed under the old one unfindable.

// IndexKeyFile is the index key's file name as porta init and porta demo write it beside porta.yaml.
const IndexKeyFile = "index.key"

// WriteIndexKey creates path with a new random index key, readable by its owner only. An existing
// file is an error: a replaced key loses the search of every record indexed under it.
func WriteIndexKey(path string, rnd io.Reader) error {
	key := make([]byte, audit.MinIndexKey)
	if _, err := io.ReadFull(rnd, key); err != nil {
		return fmt.Errorf("index key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("index key: %w", err)
	}
	if _, err := f.WriteString(hex.EncodeToString(key) + "\n"); err != nil {
		f.Close()
		return fmt.Errorf("index key: %w", err)
	}
	return f.Close()
}

// ReadIndexKey reads the index key at path. A file that its group or others may read (or write)
// is refused: whoever holds the key can test guessed codici fiscali against the store.
func ReadIndexKey(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if m := fi.Mode().Perm(); m&0o077 != 0 {
		return nil, fmt.Errorf("%s is open to others (mode %04o): it must be readable by its owner only; chmod 600 %s", path, m, path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(data)))
	if err != nil || len(key) < audit.MinIndexKey {
		return nil, fmt.Errorf("%s: want at least %d bytes in hex (porta init writes one)", path, audit.MinIndexKey)
	}
	return key, nil
}

package audit

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
)

// hexHash is a hash as people see it: lower-case hex, in JSON as everywhere else porta prints one
// (trace verify's heads, certificate fingerprints).
type hexHash []byte

func (h hexHash) MarshalText() ([]byte, error) { return []byte(hex.EncodeToString(h)), nil }

func (h *hexHash) UnmarshalText(b []byte) error {
	v, err := hex.DecodeString(string(b))
	if err != nil {
		return fmt.Errorf("hash %q: want hex: %w", b, err)
	}
	*h = v
	return nil
}

type plainRecord Record

// jsonRecord is a Record as JSON carries it: its hashes in hex, shadowing (one level up) the
// []byte fields that encoding/json would write as base64.
type jsonRecord struct {
	*plainRecord
	PayloadHash hexHash `json:"payload_sha256,omitempty"`
	RawHash     hexHash `json:"raw_sha256,omitempty"`
	RawDigest   hexHash `json:"raw_digest,omitempty"`
	PrevHash    hexHash `json:"prev_hash"`
	Hash        hexHash `json:"hash"`
}

// MarshalJSON writes the record with its hashes in lower-case hex.
func (r Record) MarshalJSON() ([]byte, error) {
	return json.Marshal(jsonRecord{(*plainRecord)(&r), r.PayloadHash, r.RawHash, r.RawDigest, r.PrevHash, r.Hash})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (r *Record) UnmarshalJSON(b []byte) error {
	j := jsonRecord{plainRecord: (*plainRecord)(r)}
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	r.PayloadHash, r.RawHash, r.RawDigest, r.PrevHash, r.Hash = j.PayloadHash, j.RawHash, j.RawDigest, j.PrevHash, j.Hash
	return nil
}

package audit

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jmoiron/sqlx"
)

// Business identifiers (GovWay's correlazione applicativa): the values a service's registry entry
// declares in its payloads (trace: ids, e.g. cf: the codice fiscale), which an operator searches
// by. The gateway extracts them when it traces a message and hands them in clear to Append
// (Record.IDs); the store keeps only their keyed hashes (Record.IDKeys), in the record (inside its
// chain hash) and in the search index (table trace_id), so a codice fiscale is never in clear in
// the store and a stolen store cannot be searched (or brute-forced: a codice fiscale has few
// enough values to try them all against a plain hash) without the key. List with
// Filter.BusinessID computes the same hash.
//
// The key is the node's index key (Options.IndexKey, porta.yaml's trace.index_key): nodes sharing
// a store must share it, and changing it makes older records unfindable (their hashes stay in
// their chain). Without a key the store indexes nothing and a search by business identifier
// fails with ErrNoIndexKey.

// BusinessID is one business identifier: Name as the service's registry entry declares it (cf),
// Value as found in the payload, or as searched.
type BusinessID struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// IDKey is a business identifier as the store keeps it: its name and the keyed hash of its
// normalised value (IndexKey).
type IDKey struct {
	Name string  `json:"name"`
	Key  hexHash `json:"key"`
}

// Caps on the business identifiers of one record, so a hostile payload cannot blow up the index:
// a record keeps at most MaxRecordIDs of them (the largest lists the labour network carries, a
// school's pupils or an INPS list, hold hundreds to a few thousand), and a value longer than
// MaxIDValue bytes (a codice fiscale has 16) is not an identifier and is left out. The gateway
// stops extracting at the same caps.
const (
	MaxRecordIDs = 4096
	MaxIDValue   = 64
	maxIDName    = 64
)

// ErrNoIndexKey is returned by a search by business identifier on a store opened without
// Options.IndexKey.
var ErrNoIndexKey = errors.New("no index key: business identifiers are searched by their keyed hash (porta.yaml trace.index_key)")

// MinIndexKey is the shortest index key Open accepts, in bytes.
const MinIndexKey = 32

// NormalizeID is the form of a value that is hashed: trimmed of spaces and upper-cased, so a
// codice fiscale written in lower case, or with the spaces a form left around it, finds the same
// records.
func NormalizeID(v string) string {
	return strings.ToUpper(strings.TrimSpace(v))
}

// IndexKeyOf returns the keyed hash of a business identifier as the store keeps it:
// HMAC-SHA256(key, "porta-id-v1" 0x00 name 0x00 NormalizeID(value)). The name is inside, so the
// same value under two names hashes apart.
func IndexKeyOf(key []byte, id BusinessID) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("porta-id-v1\x00"))
	m.Write([]byte(id.Name))
	m.Write([]byte{0})
	m.Write([]byte(NormalizeID(id.Value)))
	return m.Sum(nil)
}

// indexIDs turns r.IDs into r.IDKeys with key (see the caps above), sorted by name then key and
// without repeats, and forgets the values in clear. Without a key nothing is indexed. A record
// read back and appended again (IDs nil) keeps its IDKeys.
func (r *Record) indexIDs(key []byte) {
	if len(r.IDs) == 0 {
		return
	}
	ids := r.IDs
	r.IDs = nil
	if len(key) == 0 {
		r.IDKeys = nil
		return
	}
	r.IDKeys = make([]IDKey, 0, min(len(ids), MaxRecordIDs))
	for _, id := range ids {
		if len(r.IDKeys) == MaxRecordIDs {
			break
		}
		v := NormalizeID(id.Value)
		if v == "" || len(v) > MaxIDValue || id.Name == "" || len(id.Name) > maxIDName {
			continue
		}
		r.IDKeys = append(r.IDKeys, IDKey{Name: id.Name, Key: IndexKeyOf(key, id)})
	}
	slices.SortFunc(r.IDKeys, compareIDKey)
	r.IDKeys = slices.CompactFunc(r.IDKeys, func(a, b IDKey) bool { return compareIDKey(a, b) == 0 })
}

func compareIDKey(a, b IDKey) int {
	if c := strings.Compare(a.Name, b.Name); c != 0 {
		return c
	}
	return bytes.Compare(a.Key, b.Key)
}

// encodeIDs is the trace.ids column, and the part of the chain encoding after RawSize (Digest): a
// count, then per identifier its name and key, each length-prefixed as in the chain encoding.
// Empty for a record without identifiers.
func encodeIDs(buf []byte, ids []IDKey) []byte {
	if len(ids) == 0 {
		return buf
	}
	buf = binary.BigEndian.AppendUint64(buf, uint64(len(ids)))
	for _, id := range ids {
		buf = appendStr(buf, id.Name)
		buf = appendBytes(buf, id.Key)
	}
	return buf
}

// decodeIDs reads what encodeIDs wrote.
func decodeIDs(b []byte) ([]IDKey, error) {
	if len(b) == 0 {
		return nil, nil
	}
	next := func() ([]byte, error) {
		if len(b) < 8 {
			return nil, errors.New("ids column: cut short")
		}
		n := binary.BigEndian.Uint64(b)
		if n > uint64(len(b)-8) {
			return nil, errors.New("ids column: cut short")
		}
		v := b[8 : 8+n]
		b = b[8+n:]
		return v, nil
	}
	if len(b) < 8 {
		return nil, errors.New("ids column: cut short")
	}
	n := binary.BigEndian.Uint64(b)
	b = b[8:]
	if n > uint64(len(b))/16 {
		return nil, fmt.Errorf("ids column: %d identifiers in %d bytes", n, len(b))
	}
	out := make([]IDKey, 0, n)
	for range n {
		name, err := next()
		if err != nil {
			return nil, err
		}
		key, err := next()
		if err != nil {
			return nil, err
		}
		out = append(out, IDKey{Name: string(name), Key: bytes.Clone(key)})
	}
	if len(b) > 0 {
		return nil, errors.New("ids column: trailing bytes")
	}
	return out, nil
}

// insertIDChunk is how many index rows one INSERT carries on PostgreSQL (5 parameters each).
const insertIDChunk = 256

const insertIDRow = `INSERT INTO trace_id (name, value_key, recorded, node, seq) VALUES (?, ?, ?, ?, ?)`

// insertIDs writes the search index rows of recs (in the writer's transaction, with the records).
func (s *Store) insertIDs(ctx context.Context, tx *sqlx.Tx, recs []*Record) error {
	var args []any
	rows := 0
	flush := func() error {
		if rows == 0 {
			return nil
		}
		q := insertIDRow + strings.Repeat(", (?, ?, ?, ?, ?)", rows-1)
		_, err := s.exec(ctx, tx, q, args...)
		args, rows = args[:0], 0
		return err
	}
	for _, r := range recs {
		for _, id := range r.IDKeys {
			args = append(args, id.Name, []byte(id.Key), micros(r.Recorded), r.Node, r.Seq)
			rows++
			if s.dialect == "sqlite" || rows == insertIDChunk {
				// SQLite: one prepared single-row statement, stepped per row (see insertRecords).
				if err := flush(); err != nil {
					return fmt.Errorf("business identifiers of record %d: %w", r.Seq, err)
				}
			}
		}
	}
	if err := flush(); err != nil {
		return fmt.Errorf("business identifiers: %w", err)
	}
	return nil
}

// idSearch is the query of List with a BusinessID: the index entries of the identifier drive it
// (newest first, stopping at the limit), each joined to its record by the primary key, where the
// filter's other conditions apply. The entries' columns are renamed (hit_*), so the conditions'
// column names are the trace table's.
func (s *Store) idSearch(f Filter, where []string, args []any, limit int) (string, []any, error) {
	if len(s.opt.IndexKey) == 0 {
		return "", nil, ErrNoIndexKey
	}
	id := f.BusinessID
	if id.Name == "" || NormalizeID(id.Value) == "" {
		return "", nil, fmt.Errorf("search by business identifier %q=%q: want a name and a value", id.Name, id.Value)
	}
	cte := `WITH hit (hit_recorded, hit_node, hit_seq) AS (SELECT recorded, node, seq FROM trace_id WHERE name = ? AND value_key = ?`
	all := []any{id.Name, IndexKeyOf(s.opt.IndexKey, id)}
	if b := f.Before; b != nil {
		r := micros(b.Recorded)
		cte += ` AND (recorded < ? OR (recorded = ? AND (node < ? OR (node = ? AND seq < ?))))`
		all = append(all, r, r, b.Node, b.Node, b.Seq)
	}
	cte += `)`
	if f.Party != "" {
		where = append(where, "(sender = ? OR receiver = ?)")
		args = append(args, f.Party, f.Party)
	}
	q := cte + ` SELECT ` + listColumns + ` FROM hit JOIN trace ON node = hit_node AND seq = hit_seq`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` ORDER BY hit_recorded DESC, hit_node DESC, hit_seq DESC LIMIT ?`
	all = append(append(all, args...), limit)
	return q, all, nil
}

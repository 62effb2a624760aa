package audit

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"time"
	"unicode/utf8"
)

// ArchiveFormat names the archive format in its manifest.
const ArchiveFormat = "porta-trace-archive/1"

// An archive is a gzip-compressed tar file with, in this order:
//
//	manifest.json  the Manifest: node, chain range, base and head, each file's size, count and SHA-256
//	manifest.sig   the signature of manifest.json's exact bytes by the certificate the manifest
//	               carries (RSA PKCS #1 v1.5 with SHA-256, ECDSA with SHA-256, or Ed25519); check it
//	               with openssl dgst -sha256 -verify PUB.pem -signature manifest.sig manifest.json
//	records.jsonl  the records, one JSON object per line in seq order (Record's JSON: every column,
//	               hashes in hex, header and raw in base64)
//	ids.jsonl      when the store has business identifiers (table trace_id): its rows for the
//	               archived records, one JSON object per row, column name to value
//
// The records chain as in the store: the first one's prev_hash is the base's hash (empty at the
// start of a chain), each next one's the hash of the one before, and the last one is the head.
// VerifyArchive checks all of it from the file alone.
const (
	manifestName  = "manifest.json"
	signatureName = "manifest.sig"
	recordsName   = "records.jsonl"
	idsName       = "ids.jsonl"
)

// Point is a record of a chain, by seq and hash.
type Point struct {
	Seq  int64   `json:"seq"`
	Hash hexHash `json:"hash"`
}

// ArchiveFile describes one file of an archive after the manifest and its signature.
type ArchiveFile struct {
	Name    string  `json:"name"`
	Content string  `json:"content"`
	Entries int64   `json:"entries"` // lines
	Size    int64   `json:"size"`
	SHA256  hexHash `json:"sha256"`
}

// Manifest describes an archive (manifest.json).
type Manifest struct {
	Format  string    `json:"format"`
	Node    string    `json:"node"`
	Created time.Time `json:"created"`
	// Before is the cut: the archive holds the longest prefix of the chain (after Base) whose
	// records were all recorded before it.
	Before  time.Time     `json:"older_than"`
	Base    Point         `json:"base"` // the record before the first archived one; seq 0 at a chain's start
	Head    Point         `json:"head"` // the last archived record: the chain head the archive ends at
	Records int64         `json:"records"`
	Files   []ArchiveFile `json:"files"`
	// Certificate is the DER of the certificate whose key signed manifest.sig (base64).
	Certificate []byte `json:"certificate"`
}

// ErrNothingToArchive is returned by Archive when no record of the chain is older than the cut.
var ErrNothingToArchive = errors.New("no record to archive")

// ArchiveOptions adjust Archive.
type ArchiveOptions struct {
	Node    string    // the chain; default the Store's node
	Before  time.Time // archive the records recorded before this (the longest such prefix of the chain)
	Signer  ChainSigner
	TempDir string // where the records are spooled before the tar is written; default os.TempDir()
}

// Archive writes to w the archive of opt.Node's chain from its base up to the last record of
// the longest prefix recorded before opt.Before, checking each record's hash and link as it
// reads it (a broken chain is never archived). It removes nothing: once w is safely stored, Cut
// removes the archived records. It returns the manifest and its SHA-256, or ErrNothingToArchive.
func (s *Store) Archive(ctx context.Context, w io.Writer, opt ArchiveOptions) (*Manifest, []byte, error) {
	if opt.Node == "" {
		opt.Node = s.opt.Node
	}
	if opt.Signer.Cert == nil || opt.Signer.Key == nil {
		return nil, nil, errors.New("archive: no signing key")
	}
	node := opt.Node
	base, err := s.ChainBase(ctx, node)
	if err != nil {
		return nil, nil, err
	}
	m := &Manifest{Format: ArchiveFormat, Node: node, Created: s.now().UTC().Truncate(time.Microsecond),
		Before: opt.Before.UTC(), Base: Point{Hash: []byte{}}, Certificate: opt.Signer.Cert.Raw}
	if base != nil {
		m.Base = Point{base.Seq, base.Hash}
	}
	// The end of the prefix: the record before the first one recorded at or after the cut.
	// Both in one statement, so one snapshot: read apart, a writer's records committed between
	// them (recorded after the cut) would be taken for the end of an all-before-the-cut chain.
	var first, last *int64
	if err := s.db.QueryRowxContext(ctx, s.q(`SELECT (SELECT MIN(seq) FROM trace WHERE node = ? AND recorded >= ?),
		(SELECT MAX(seq) FROM trace WHERE node = ?)`), node, micros(opt.Before), node).Scan(&first, &last); err != nil {
		return nil, nil, fmt.Errorf("archive node %s: %w", node, err)
	}
	end := m.Base.Seq
	switch {
	case first != nil:
		end = *first - 1
	case last != nil:
		end = *last
	}
	if end <= m.Base.Seq {
		return nil, nil, fmt.Errorf("archive node %s before %s: %w", node, opt.Before.Format(time.RFC3339), ErrNothingToArchive)
	}

	spool := func(name string) (*os.File, error) { return os.CreateTemp(opt.TempDir, "porta-archive-*-"+name) }
	recs, err := spool(recordsName)
	if err != nil {
		return nil, nil, fmt.Errorf("archive: %w", err)
	}
	defer func() { recs.Close(); os.Remove(recs.Name()) }()
	rf, err := s.spoolRecords(ctx, m, end, recs)
	if err != nil {
		return nil, nil, err
	}
	files := []*os.File{recs}
	m.Files = append(m.Files, rf)
	ids, err := s.hasIDs(ctx)
	if err != nil {
		return nil, nil, err
	}
	if ids {
		idf, err := spool(idsName)
		if err != nil {
			return nil, nil, fmt.Errorf("archive: %w", err)
		}
		defer func() { idf.Close(); os.Remove(idf.Name()) }()
		af, err := s.spoolIDs(ctx, node, m.Base.Seq, end, idf)
		if err != nil {
			return nil, nil, err
		}
		files, m.Files = append(files, idf), append(m.Files, af)
	}

	mb, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, nil, err
	}
	mb = append(mb, '\n')
	sig, err := opt.Signer.Sign(mb)
	if err != nil {
		return nil, nil, fmt.Errorf("archive: sign the manifest: %w", err)
	}
	gz := gzip.NewWriter(w)
	tw := tar.NewWriter(gz)
	put := func(name string, size int64, body io.Reader) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: size, ModTime: m.Created, Format: tar.FormatPAX}); err != nil {
			return err
		}
		_, err := io.Copy(tw, body)
		return err
	}
	if err := put(manifestName, int64(len(mb)), bytes.NewReader(mb)); err != nil {
		return nil, nil, fmt.Errorf("archive: %w", err)
	}
	if err := put(signatureName, int64(len(sig)), bytes.NewReader(sig)); err != nil {
		return nil, nil, fmt.Errorf("archive: %w", err)
	}
	for i, f := range files {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return nil, nil, fmt.Errorf("archive: %w", err)
		}
		if err := put(m.Files[i].Name, m.Files[i].Size, f); err != nil {
			return nil, nil, fmt.Errorf("archive: %s: %w", m.Files[i].Name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, nil, fmt.Errorf("archive: %w", err)
	}
	if err := gz.Close(); err != nil {
		return nil, nil, fmt.Errorf("archive: %w", err)
	}
	sum := sha256.Sum256(mb)
	return m, sum[:], nil
}

// countingHash counts and hashes what is written through it.
type countingHash struct {
	h hash.Hash
	n int64
}

func (c *countingHash) Write(p []byte) (int, error) { c.n += int64(len(p)); return c.h.Write(p) }

// spoolRecords writes the records after m.Base up to end to f as JSON lines, checking the chain,
// and fills m's Head and Records.
func (s *Store) spoolRecords(ctx context.Context, m *Manifest, end int64, f *os.File) (ArchiveFile, error) {
	af := ArchiveFile{Name: recordsName, Content: "the archived records, one JSON object per line, in seq order"}
	ch := &countingHash{h: sha256.New()}
	bw := bufio.NewWriterSize(io.MultiWriter(f, ch), 1<<16)
	enc := json.NewEncoder(bw)
	rows, err := s.db.QueryxContext(ctx, s.q(`SELECT `+traceSelect+` FROM trace WHERE node = ? AND seq > ? AND seq <= ? ORDER BY seq`), m.Node, m.Base.Seq, end)
	if err != nil {
		return af, fmt.Errorf("archive node %s: %w", m.Node, err)
	}
	defer rows.Close()
	c := chainCheck{node: m.Node, seq: m.Base.Seq, prev: m.Base.Hash}
	for rows.Next() {
		r, err := scanRecord(rows)
		if err != nil {
			return af, fmt.Errorf("archive node %s: %w", m.Node, err)
		}
		if err := c.next(r); err != nil {
			return af, fmt.Errorf("archive node %s: %w", m.Node, err)
		}
		if err := enc.Encode(r); err != nil {
			return af, fmt.Errorf("archive record %s/%d: %w", r.Node, r.Seq, err)
		}
	}
	if err := rows.Err(); err != nil {
		return af, fmt.Errorf("archive node %s: %w", m.Node, err)
	}
	if c.seq != end {
		return af, &ChainError{Node: m.Node, Seq: c.seq + 1, Kind: Deleted, Reason: fmt.Sprintf("records %d to %d are missing", c.seq+1, end)}
	}
	if err := bw.Flush(); err != nil {
		return af, fmt.Errorf("archive: %w", err)
	}
	m.Head, m.Records = Point{c.seq, c.prev}, c.n
	af.Entries, af.Size, af.SHA256 = c.n, ch.n, ch.h.Sum(nil)
	return af, nil
}

// spoolIDs writes the business identifiers (table trace_id) of the records lo < seq <= hi of
// node to f as JSON lines.
func (s *Store) spoolIDs(ctx context.Context, node string, lo, hi int64, f *os.File) (ArchiveFile, error) {
	af := ArchiveFile{Name: idsName, Content: "the rows of table trace_id of the archived records, one JSON object per row"}
	ch := &countingHash{h: sha256.New()}
	bw := bufio.NewWriterSize(io.MultiWriter(f, ch), 1<<16)
	enc := json.NewEncoder(bw)
	rows, err := s.db.QueryxContext(ctx, s.q(`SELECT * FROM trace_id WHERE node = ? AND seq > ? AND seq <= ? ORDER BY seq`), node, lo, hi)
	if err != nil {
		return af, fmt.Errorf("archive business identifiers of node %s: %w", node, err)
	}
	defer rows.Close()
	for rows.Next() {
		row := map[string]any{}
		if err := rows.MapScan(row); err != nil {
			return af, fmt.Errorf("archive business identifiers of node %s: %w", node, err)
		}
		for k, v := range row {
			if b, ok := v.([]byte); ok && utf8.Valid(b) {
				row[k] = string(b)
			}
		}
		if err := enc.Encode(row); err != nil {
			return af, err
		}
		af.Entries++
	}
	if err := rows.Err(); err != nil {
		return af, fmt.Errorf("archive business identifiers of node %s: %w", node, err)
	}
	if err := bw.Flush(); err != nil {
		return af, err
	}
	af.Size, af.SHA256 = ch.n, ch.h.Sum(nil)
	return af, nil
}

// chainCheck checks records one after another as Verify does, from a base.
type chainCheck struct {
	node string
	seq  int64
	prev []byte
	n    int64
	buf  []byte
}

func (c *chainCheck) next(r *Record) error {
	if r.Node != c.node {
		return &ChainError{Node: c.node, Seq: r.Seq, ID: r.ID, Kind: Edited, Reason: fmt.Sprintf("the record names node %q", r.Node)}
	}
	if r.Seq != c.seq+1 {
		return &ChainError{Node: c.node, Seq: r.Seq, ID: r.ID, Kind: Deleted, Reason: fmt.Sprintf("records %d to %d are missing", c.seq+1, r.Seq-1)}
	}
	c.buf = r.appendEncoding(c.buf[:0], r.PrevHash)
	if sum := sha256.Sum256(c.buf); !bytes.Equal(sum[:], r.Hash) {
		return &ChainError{Node: c.node, Seq: r.Seq, ID: r.ID, Kind: Edited, Reason: "its content does not match its hash"}
	}
	if !bytes.Equal(r.PrevHash, c.prev) {
		return &ChainError{Node: c.node, Seq: r.Seq, ID: r.ID, Kind: Deleted, Reason: "the record it was written after is not before it"}
	}
	c.seq, c.prev = r.Seq, bytes.Clone(r.Hash)
	c.n++
	return nil
}

// ErrCutConflict is returned (wrapped) by Cut when the chain is no longer what the archive
// holds: another cut was made meanwhile, or the archived records changed.
var ErrCutConflict = errors.New("the chain changed since it was archived")

// Cut removes the records m archives (written by Archive, its manifest's SHA-256 manifestSum)
// from the store, with their signed heads and business identifiers, and records the chain's new
// base signed by signer, in one transaction: the chain then starts after m.Head.
func (s *Store) Cut(ctx context.Context, m *Manifest, manifestSum []byte, signer ChainSigner) (*Base, error) {
	b := &Base{Node: m.Node, Seq: m.Head.Seq, Hash: m.Head.Hash, Cut: s.now().UTC().Truncate(time.Microsecond), Manifest: manifestSum, Cert: signer.Cert}
	var err error
	if b.Signature, err = signer.Sign(baseStatement(b.Node, b.Seq, b.Hash, b.Cut, b.Manifest)); err != nil {
		return nil, fmt.Errorf("cut node %s: sign the base: %w", m.Node, err)
	}
	ids, err := s.hasIDs(ctx)
	if err != nil {
		return nil, err
	}
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("cut node %s: %w", m.Node, err)
	}
	defer tx.Rollback()
	old, err := s.chainBase(ctx, tx, m.Node)
	if err != nil {
		return nil, err
	}
	oldSeq := int64(0)
	if old != nil {
		oldSeq = old.Seq
	}
	if oldSeq != m.Base.Seq {
		return nil, fmt.Errorf("cut node %s: %w: the chain's base is no longer record %d", m.Node, ErrCutConflict, m.Base.Seq)
	}
	var hash []byte
	if err := tx.QueryRowxContext(ctx, tx.Rebind(`SELECT hash FROM trace WHERE node = ? AND seq = ?`), m.Node, m.Head.Seq).Scan(&hash); err != nil || !bytes.Equal(hash, m.Head.Hash) {
		return nil, fmt.Errorf("cut node %s: %w: record %d is not the archive's head (%v)", m.Node, ErrCutConflict, m.Head.Seq, err)
	}
	for _, q := range []string{`DELETE FROM trace WHERE node = ? AND seq <= ?`, `DELETE FROM chain_sig WHERE node = ? AND seq <= ?`} {
		if _, err := tx.ExecContext(ctx, tx.Rebind(q), m.Node, m.Head.Seq); err != nil {
			return nil, fmt.Errorf("cut node %s: %w", m.Node, err)
		}
	}
	if ids {
		if _, err := tx.ExecContext(ctx, tx.Rebind(`DELETE FROM trace_id WHERE node = ? AND seq <= ?`), m.Node, m.Head.Seq); err != nil {
			return nil, fmt.Errorf("cut node %s: business identifiers: %w", m.Node, err)
		}
	}
	if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO chain_base (node, seq, hash, cut, manifest, cert, signature) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (node) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, cut = excluded.cut, manifest = excluded.manifest,
		cert = excluded.cert, signature = excluded.signature`), b.Node, b.Seq, []byte(b.Hash), micros(b.Cut), manifestSum, signer.Cert.Raw, b.Signature); err != nil {
		return nil, fmt.Errorf("cut node %s: chain base: %w", m.Node, err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("cut node %s: %w", m.Node, err)
	}
	return b, nil
}

// ArchiveReport is what VerifyArchive checked.
type ArchiveReport struct {
	Manifest *Manifest
	Cert     *x509.Certificate
	// ManifestSHA256 is the SHA-256 of manifest.json, which the chain base of the store that cut
	// the archive's records names.
	ManifestSHA256 []byte
}

// VerifyArchive checks an archive alone: its layout, the manifest's signature by the certificate
// it carries (and that certificate is one of certs, when certs is not empty), every file's size,
// count and SHA-256, and every record's hash and link from the manifest's base to its head. A
// broken chain is a *ChainError; anything else wrong an error naming the file.
func VerifyArchive(r io.Reader, certs []*x509.Certificate) (*ArchiveReport, error) {
	gz, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("archive: not gzip: %w", err)
	}
	tr := tar.NewReader(gz)
	entry := func(want string) (*tar.Header, error) {
		h, err := tr.Next()
		if err == io.EOF {
			return nil, fmt.Errorf("archive: ends before %s", want)
		}
		if err != nil {
			return nil, fmt.Errorf("archive: %w", err)
		}
		if want != "" && h.Name != want {
			return nil, fmt.Errorf("archive: entry %q where %s belongs", h.Name, want)
		}
		return h, nil
	}
	small := func(name string) ([]byte, error) {
		h, err := entry(name)
		if err != nil {
			return nil, err
		}
		if h.Size > 16<<20 {
			return nil, fmt.Errorf("archive: %s of %d bytes", name, h.Size)
		}
		return io.ReadAll(tr)
	}
	mb, err := small(manifestName)
	if err != nil {
		return nil, err
	}
	sig, err := small(signatureName)
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(mb, &m); err != nil {
		return nil, fmt.Errorf("archive: %s: %w", manifestName, err)
	}
	if m.Format != ArchiveFormat {
		return nil, fmt.Errorf("archive: %s: format %q, want %q", manifestName, m.Format, ArchiveFormat)
	}
	cert, err := x509.ParseCertificate(m.Certificate)
	if err != nil {
		return nil, fmt.Errorf("archive: %s: certificate: %w", manifestName, err)
	}
	if err := CheckSignature(cert, mb, sig); err != nil {
		return nil, fmt.Errorf("archive: %s does not verify: %w", signatureName, err)
	}
	if err := trusted(cert, certs); err != nil {
		return nil, fmt.Errorf("archive: %s: %w", signatureName, err)
	}
	sum := sha256.Sum256(mb)
	rep := &ArchiveReport{Manifest: &m, Cert: cert, ManifestSHA256: sum[:]}
	if len(m.Files) == 0 || m.Files[0].Name != recordsName {
		return rep, fmt.Errorf("archive: %s lists no %s", manifestName, recordsName)
	}
	for _, f := range m.Files {
		_, err := entry(f.Name)
		if err != nil {
			return rep, err
		}
		ch := &countingHash{h: sha256.New()}
		body := io.TeeReader(tr, ch)
		var n int64
		if f.Name == recordsName {
			if n, err = checkRecords(body, &m); err != nil {
				return rep, err
			}
		} else {
			sc := bufio.NewScanner(body)
			sc.Buffer(nil, 64<<20)
			for sc.Scan() {
				n++
			}
			if err := sc.Err(); err != nil {
				return rep, fmt.Errorf("archive: %s: %w", f.Name, err)
			}
		}
		io.Copy(io.Discard, body)
		if ch.n != f.Size {
			return rep, fmt.Errorf("archive: %s has %d bytes, the manifest says %d", f.Name, ch.n, f.Size)
		}
		if n != f.Entries || !bytes.Equal(ch.h.Sum(nil), f.SHA256) {
			return rep, fmt.Errorf("archive: %s does not match the manifest (%d entries, SHA-256 %x; the manifest says %d, %x)", f.Name, n, ch.h.Sum(nil), f.Entries, []byte(f.SHA256))
		}
	}
	if h, err := tr.Next(); err != io.EOF {
		if err == nil {
			return rep, fmt.Errorf("archive: entry %q not in the manifest", h.Name)
		}
		return rep, fmt.Errorf("archive: %w", err)
	}
	return rep, nil
}

// checkRecords checks the chain of records.jsonl against the manifest's base, head and count.
func checkRecords(r io.Reader, m *Manifest) (int64, error) {
	dec := json.NewDecoder(r)
	c := chainCheck{node: m.Node, seq: m.Base.Seq, prev: m.Base.Hash}
	if c.prev == nil {
		c.prev = []byte{}
	}
	for {
		var rec Record
		err := dec.Decode(&rec)
		if err == io.EOF {
			break
		}
		if err != nil {
			return c.n, fmt.Errorf("archive: %s after record %d: %w", recordsName, c.seq, err)
		}
		if rec.PrevHash == nil {
			rec.PrevHash = []byte{}
		}
		if err := c.next(&rec); err != nil {
			return c.n, err
		}
	}
	if c.n != m.Records || c.seq != m.Head.Seq || !bytes.Equal(c.prev, m.Head.Hash) {
		return c.n, &ChainError{Node: m.Node, Seq: c.seq, Kind: Truncated,
			Reason: fmt.Sprintf("the archive's records end at record %d (%x) after %d records; its manifest says head %d (%x) after %d", c.seq, c.prev, c.n, m.Head.Seq, []byte(m.Head.Hash), m.Records)}
	}
	return c.n, nil
}

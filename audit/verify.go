package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"porta/internal/rfc3161"
)

// BreakKind says how a chain is broken.
type BreakKind string

const (
	Edited    BreakKind = "edited"    // the record's content no longer matches its hash
	Deleted   BreakKind = "deleted"   // records before this one are missing (gap in seq, or a predecessor that is not there)
	Reordered BreakKind = "reordered" // the record is intact but not where it was written
	Truncated BreakKind = "truncated" // the newest records are missing: the chain ends before its recorded head
	// Signature: a chain base or signed head whose signature does not verify, or whose
	// certificate is not one VerifyOptions.Certs accepts.
	Signature BreakKind = "signature"
)

// ChainError is the first broken record Verify found.
type ChainError struct {
	Node   string
	Seq    int64 // the first record that does not verify (for Truncated: the recorded head)
	ID     string
	Kind   BreakKind
	Reason string

	link bool // found by classifyLink, whose lookahead a range's end may have cut short
}

func (e *ChainError) Error() string {
	id := ""
	if e.ID != "" {
		id = " (busta " + e.ID + ")"
	}
	return fmt.Sprintf("audit chain of node %s broken at record %d%s: %s: %s", e.Node, e.Seq, id, e.Kind, e.Reason)
}

// Head is the last record of a chain, as an operator may keep it to check later that nothing
// was cut off the end (like a Certificate Transparency tree head).
type Head struct {
	Node string `json:"node"`
	Seq  int64  `json:"seq"`
	Hash string `json:"hash"` // hex
}

// VerifyOptions adjust Verify.
type VerifyOptions struct {
	Node string // verify only this node's chain; "" for every chain
	// Anchors are heads kept from an earlier run: each chain must still contain the anchor's
	// record with that hash.
	Anchors []Head
	// Progress, if set, is called after every 100,000 records of a chain.
	Progress func(node string, seq int64)
	// Certs are, by node, the certificates whose keys may sign the node's chain base and heads
	// (its porta.yaml's paths.cert); those under "" may sign any node's. A node with none
	// accepts the certificate stored with each signature.
	Certs map[string][]*x509.Certificate
	// TSARoots, when set, are the CAs the TSA of signed heads' timestamps must chain to; a
	// timestamp is checked (its imprint, the TSA's signature) either way.
	TSARoots *x509.CertPool
}

func (o VerifyOptions) certs(node string) []*x509.Certificate {
	return slices.Concat(o.Certs[""], o.Certs[node])
}

// VerifyReport is what Verify checked.
type VerifyReport struct {
	Heads   []Head        `json:"heads"`
	Bases   []*Base       `json:"bases,omitempty"`  // the chains' signed bases (cut chains)
	Signed  []*SignedHead `json:"signed,omitempty"` // each chain's newest signed head
	Records int64         `json:"records"`
	Elapsed time.Duration `json:"elapsed_ns"`
}

// VerifyGCPercent is the GOGC that porta trace verify runs Verify at. Verify keeps a few MB live
// but the driver makes a new value of every column of every row, so at the default 100 the
// collector runs every few thousand records and takes about a quarter of the CPU; at 400 it
// takes a few MB more memory and Verify 25% less CPU per record (8.0 to 5.9 µs at 1M records,
// BenchmarkVerify on 2 cores). The process's setting, for a command that does nothing else.
const VerifyGCPercent = 400

// lookahead is how many records Verify reads past a broken link to tell a moved record from a
// deleted one.
const lookahead = 64

// Verify recomputes every chain (one streaming query per node, in seq order) and returns a
// *ChainError naming the first broken record, or another error if the store could not be read.
// It checks each record's hash, its link to the previous record, that seq counts 1, 2, 3 … with
// no gap (or, in a chain cut by an archive, base+1, base+2 … from its signed base), that the
// chain reaches the head recorded in chain_head, the Anchors, and every signed head: its
// signature, its timestamp if any, and that the chain still holds that record with that hash.
func (s *Store) Verify(ctx context.Context, opt VerifyOptions) (VerifyReport, error) {
	start := time.Now()
	var rep VerifyReport
	heads := map[string]Head{}
	rows, err := s.db.QueryxContext(ctx, `SELECT node, seq, hash FROM chain_head ORDER BY node`)
	if err != nil {
		return rep, fmt.Errorf("verify: chain heads: %w", err)
	}
	var nodes []string
	for rows.Next() {
		var h Head
		var hash []byte
		if err := rows.Scan(&h.Node, &h.Seq, &hash); err != nil {
			rows.Close()
			return rep, fmt.Errorf("verify: chain heads: %w", err)
		}
		h.Hash = hex.EncodeToString(hash)
		heads[h.Node] = h
		nodes = append(nodes, h.Node)
	}
	rows.Close()
	// Chains without a head row are verified too (and reported): find every node with a skip scan
	// of the primary key, cheap at millions of rows.
	rows, err = s.db.QueryxContext(ctx, `WITH RECURSIVE n(node) AS (
		SELECT MIN(node) FROM trace
		UNION ALL SELECT (SELECT MIN(t.node) FROM trace t WHERE t.node > n.node) FROM n WHERE n.node IS NOT NULL)
		SELECT node FROM n WHERE node IS NOT NULL`)
	if err != nil {
		return rep, fmt.Errorf("verify: chains: %w", err)
	}
	for rows.Next() {
		var node string
		if err := rows.Scan(&node); err != nil {
			rows.Close()
			return rep, fmt.Errorf("verify: chains: %w", err)
		}
		if _, ok := heads[node]; !ok {
			nodes = append(nodes, node)
		}
	}
	rows.Close()
	// And the chains whose every record was archived or removed, known by a base or a signed head.
	for _, tbl := range []string{"chain_base", "chain_sig"} {
		var more []string
		if err := s.db.SelectContext(ctx, &more, `SELECT DISTINCT node FROM `+tbl+` ORDER BY node`); err != nil {
			return rep, fmt.Errorf("verify: %s: %w", tbl, err)
		}
		for _, node := range more {
			if !slices.Contains(nodes, node) {
				nodes = append(nodes, node)
			}
		}
	}
	if opt.Node != "" {
		nodes = []string{opt.Node}
	}
	for _, a := range opt.Anchors {
		if _, ok := heads[a.Node]; !ok {
			return rep, &ChainError{Node: a.Node, Seq: a.Seq, Kind: Truncated, Reason: "the anchored chain has no recorded head: its records were removed"}
		}
	}
	for _, node := range nodes {
		cs, err := s.chainStart(ctx, node, opt, &rep)
		if err != nil {
			rep.Elapsed = time.Since(start)
			return rep, err
		}
		got, n, err := s.verifyNode(ctx, node, cs)
		rep.Records += n
		if err != nil {
			rep.Elapsed = time.Since(start)
			return rep, err
		}
		want, ok := heads[node]
		switch {
		case !ok && got.Seq > 0:
			return rep, &ChainError{Node: node, Seq: got.Seq, Kind: Truncated, Reason: "the chain has records but no recorded head (chain_head row removed)"}
		case ok && got.Seq < want.Seq:
			return rep, &ChainError{Node: node, Seq: want.Seq, Kind: Truncated, Reason: fmt.Sprintf("the chain ends at record %d but its recorded head is record %d: the newest records were removed", got.Seq, want.Seq)}
		case ok && got.Seq > want.Seq:
			// A live store: records appended since the heads were read (each head moves in the
			// transaction that appends, so the head read first is a record of the chain). The
			// chain's links were checked to its end; the head must be one of its records.
			at, err := s.Get(ctx, node, want.Seq)
			if err != nil {
				return rep, fmt.Errorf("verify node %s: record %d of the recorded head: %w", node, want.Seq, err)
			}
			if h := hex.EncodeToString(at.Hash); h != want.Hash {
				return rep, &ChainError{Node: node, Seq: want.Seq, Kind: Truncated, Reason: fmt.Sprintf("the recorded head (record %d, %s) does not match the chain's record %d (%s)", want.Seq, want.Hash, want.Seq, h)}
			}
		case ok && got.Hash != want.Hash:
			return rep, &ChainError{Node: node, Seq: want.Seq, Kind: Truncated, Reason: fmt.Sprintf("the recorded head (record %d, %s) does not match the chain's last record (%d, %s)", want.Seq, want.Hash, got.Seq, got.Hash)}
		}
		rep.Heads = append(rep.Heads, got)
	}
	rep.Elapsed = time.Since(start)
	return rep, nil
}

// segment is what verifyRange found in a range of seq.
type segment struct {
	n         int64
	firstSeq  int64
	firstID   string
	firstPrev []byte
	lastSeq   int64
	lastHash  []byte
	err       error
}

// anchor is a head the chain must contain: given by the operator or signed by the node.
type anchor struct {
	hash string // hex
	what string // "the anchored head", "the head signed at ..."
}

// start is where verifyNode starts a chain and what it checks on the way.
type start struct {
	seq      int64  // the chain's base: 0, or the last archived record
	hash     []byte // its hash ([]byte{} for a chain's start)
	anchors  map[int64]anchor
	progress func(node string, seq int64)
}

// chainStart reads node's base and signed heads, checks their signatures and makes the signed
// heads (past the base) anchors, with opt's.
func (s *Store) chainStart(ctx context.Context, node string, opt VerifyOptions, rep *VerifyReport) (start, error) {
	st := start{hash: []byte{}, anchors: map[int64]anchor{}, progress: opt.Progress}
	for _, a := range opt.Anchors {
		if a.Node == node {
			st.anchors[a.Seq] = anchor{a.Hash, "the anchored head"}
		}
	}
	b, err := s.ChainBase(ctx, node)
	if err != nil {
		return st, fmt.Errorf("verify: %w", err)
	}
	if b != nil {
		err := b.Check()
		if err == nil {
			err = trusted(b.Cert, opt.certs(node))
		}
		if err != nil {
			return st, &ChainError{Node: node, Seq: b.Seq, Kind: Signature, Reason: "the chain base (where the chain starts after an archive): " + err.Error()}
		}
		st.seq, st.hash = b.Seq, b.Hash
		rep.Bases = append(rep.Bases, b)
	}
	heads, err := s.SignedHeads(ctx, node, 0)
	if err != nil {
		return st, fmt.Errorf("verify: %w", err)
	}
	for i, h := range heads {
		err := h.Check()
		if err == nil {
			err = trusted(h.Cert, opt.certs(node))
		}
		if err == nil && len(h.Timestamp) > 0 {
			sum := sha256.Sum256(h.Signature)
			_, err = rfc3161.Verify(h.Timestamp, sum[:], opt.TSARoots)
		}
		if err != nil {
			return st, &ChainError{Node: node, Seq: h.Seq, Kind: Signature, Reason: fmt.Sprintf("the head signed at %s: %v", h.Signed.Format(time.RFC3339), err)}
		}
		if i == 0 {
			rep.Signed = append(rep.Signed, h)
		}
		if h.Seq > st.seq {
			if _, ok := st.anchors[h.Seq]; !ok {
				st.anchors[h.Seq] = anchor{hex.EncodeToString(h.Hash), "the head signed at " + h.Signed.Format(time.RFC3339)}
			}
		}
	}
	return st, nil
}

// verifyNode checks one chain. Long chains are split into as many seq ranges as there are
// CPUs, verified at once (keyset ranges of the primary key), then joined: each range's first
// record must follow the previous range's last. A break at a joint is re-checked sequentially
// from there, so the error is the same as a sequential pass would give.
func (s *Store) verifyNode(ctx context.Context, node string, st start) (Head, int64, error) {
	anchors := st.anchors
	var max sql.NullInt64
	if err := s.db.QueryRowxContext(ctx, s.q(`SELECT MAX(seq) FROM trace WHERE node = ?`), node).Scan(&max); err != nil {
		return Head{Node: node}, 0, fmt.Errorf("verify node %s: %w", node, err)
	}
	parts := runtime.GOMAXPROCS(0)
	if max.Int64 < s.parallelMin() || parts < 1 {
		parts = 1
	}
	segs := make([]segment, parts)
	var wg sync.WaitGroup
	step := max.Int64/int64(parts) + 1
	for k := range segs {
		lo, hi := int64(k)*step+1, int64(k+1)*step
		if k == 0 {
			lo = math.MinInt64
		}
		if k == parts-1 {
			hi = math.MaxInt64
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			segs[k] = s.verifyRange(ctx, node, lo, hi, st.hash, st.seq, k == 0, anchors, st.progress)
		}()
	}
	wg.Wait()
	var n int64
	prev, last := st.hash, st.seq
	for k, sg := range segs {
		n += sg.n
		if k > 0 && sg.n > 0 && (sg.firstSeq != last+1 || !bytes.Equal(sg.firstPrev, prev)) {
			re := s.verifyRange(ctx, node, sg.firstSeq, math.MaxInt64, prev, last, true, anchors, nil)
			if re.err != nil {
				return Head{Node: node}, n, re.err
			}
			return Head{Node: node}, n, fmt.Errorf("verify node %s: record %d does not follow record %d, but a sequential pass found no break", node, sg.firstSeq, last)
		}
		var ce *ChainError
		if errors.As(sg.err, &ce) && ce.link && k < len(segs)-1 {
			// Look past this range's end, as a sequential pass would, from the record before.
			if before, err := s.Get(ctx, node, ce.Seq-1); err == nil {
				if re := s.verifyRange(ctx, node, ce.Seq, math.MaxInt64, before.Hash, ce.Seq-1, true, anchors, nil); re.err != nil {
					return Head{Node: node}, n, re.err
				}
			}
		}
		if sg.err != nil {
			return Head{Node: node}, n, sg.err
		}
		if sg.n > 0 {
			prev, last = sg.lastHash, sg.lastSeq
		}
	}
	for _, seq := range slices.Sorted(maps.Keys(anchors)) {
		if seq > last {
			return Head{Node: node}, n, &ChainError{Node: node, Seq: seq, Kind: Truncated,
				Reason: fmt.Sprintf("the chain ends at record %d, before %s (record %d)", last, anchors[seq].what, seq)}
		}
	}
	return Head{Node: node, Seq: last, Hash: hex.EncodeToString(prev)}, n, nil
}

// parallelMinRecords is the chain length from which Verify splits a chain into ranges.
const parallelMinRecords = 20000

func (s *Store) parallelMin() int64 {
	if s.verifyParallelMin > 0 {
		return s.verifyParallelMin
	}
	return parallelMinRecords
}

// verifyRange checks the records with lo <= seq <= hi in order, the first of them against
// (prev, last) when linked is set. It reads rows through the driver itself (sql.Conn.Raw):
// database/sql's per-column conversion and copies were a fifth of Verify's time.
func (s *Store) verifyRange(ctx context.Context, node string, lo, hi int64, prev []byte, last int64, linked bool, anchors map[int64]anchor, progress func(string, int64)) (sg segment) {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		sg.err = fmt.Errorf("verify node %s from record %d: %w", node, lo, err)
		return sg
	}
	defer conn.Close()
	err = conn.Raw(func(dc any) error {
		q, ok := dc.(driver.QueryerContext)
		if !ok {
			return fmt.Errorf("driver %T cannot query", dc)
		}
		// Every column but node, which the query fixes: the driver converts each column of each
		// row into a new value, and node's would be the same string a million times.
		rows, err := q.QueryContext(ctx, s.q(`SELECT `+strings.TrimPrefix(traceSelect, "node, ")+` FROM trace WHERE node = ? AND seq >= ? AND seq <= ? ORDER BY seq`),
			[]driver.NamedValue{{Ordinal: 1, Value: node}, {Ordinal: 2, Value: lo}, {Ordinal: 3, Value: hi}})
		if err != nil {
			return err
		}
		defer rows.Close()
		dest := make([]driver.Value, 1+len(rows.Columns()))
		dest[0] = node
		var cur Record // reused: one allocation less per row
		next := func() (*Record, error) {
			if err := rows.Next(dest[1:]); err != nil {
				return nil, err
			}
			return &cur, recordFromValues(dest, &cur)
		}
		var scratch []byte
		for {
			r, err := next()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return fmt.Errorf("after record %d: %w", last, err)
			}
			sg.n++
			if sg.n == 1 {
				sg.firstSeq, sg.firstID, sg.firstPrev = r.Seq, r.ID, r.PrevHash
			}
			check := linked || sg.n > 1
			if check && r.Seq != last+1 {
				sg.err = &ChainError{Node: node, Seq: r.Seq, ID: r.ID, Kind: Deleted,
					Reason: fmt.Sprintf("records %d to %d are missing", last+1, r.Seq-1)}
				return nil
			}
			scratch = r.appendEncoding(scratch[:0], r.PrevHash)
			if sum := sha256.Sum256(scratch); !bytes.Equal(sum[:], r.Hash) {
				sg.err = &ChainError{Node: node, Seq: r.Seq, ID: r.ID, Kind: Edited,
					Reason: "its content does not match its hash"}
				return nil
			}
			if check && !bytes.Equal(r.PrevHash, prev) {
				sg.err = classifyLink(next, node, r, prev)
				return nil
			}
			if a, ok := anchors[r.Seq]; ok && a.hash != hex.EncodeToString(r.Hash) {
				sg.err = &ChainError{Node: node, Seq: r.Seq, ID: r.ID, Kind: Edited,
					Reason: "its hash differs from " + a.what + " (" + a.hash + "): the chain was rewritten from here or before"}
				return nil
			}
			prev, last = bytes.Clone(r.Hash), r.Seq
			sg.lastSeq, sg.lastHash = last, prev
			if progress != nil && last%100000 == 0 {
				progress(node, last)
			}
		}
	})
	if err != nil && sg.err == nil {
		sg.err = fmt.Errorf("verify node %s from record %d: %w", node, lo, err)
	}
	return sg
}

// recordFromValues reads a row selected with traceSelect from driver values (string or []byte
// for text, []byte for bytes, int64 for numbers, in either driver).
func recordFromValues(v []driver.Value, r *Record) error {
	var bad error
	str := func(i int) string {
		switch x := v[i].(type) {
		case string:
			return x
		case []byte:
			return string(x)
		case nil:
			return ""
		}
		bad = fmt.Errorf("column %d: unexpected %T", i, v[i])
		return ""
	}
	byt := func(i int) []byte {
		switch x := v[i].(type) {
		case []byte:
			return x
		case string:
			return []byte(x)
		case nil:
			return nil
		}
		bad = fmt.Errorf("column %d: unexpected %T", i, v[i])
		return nil
	}
	num := func(i int) int64 {
		switch x := v[i].(type) {
		case int64:
			return x
		case int32:
			return int64(x)
		}
		bad = fmt.Errorf("column %d: unexpected %T", i, v[i])
		return 0
	}
	r.Node, r.Seq, r.Transaction, r.Direction, r.Function = str(0), num(1), str(2), Direction(str(3)), str(4)
	r.ID, r.RelatesTo, r.Conversation, r.Sender, r.Receiver = str(5), str(6), str(7), str(8), str(9)
	r.Service, r.Action, r.Profile = str(10), str(11), str(12)
	r.Time, r.Recorded, r.Outcome = fromMicros(num(13)), fromMicros(num(14)), str(15)
	exc := byt(16)
	r.HTTPStatus, r.Peer, r.Signer = int(num(17)), str(18), str(19)
	r.PayloadHash, r.PayloadSize, r.Header, r.BodyMode = byt(20), num(21), byt(22), BodyMode(str(23))
	r.Raw, r.RawHash, r.Detail, r.PrevHash, r.Hash = byt(24), byt(25), str(26), byt(27), byt(28)
	r.ClientSubject, r.ClientCert, r.Application, r.Reason, r.RawSize = str(29), str(30), str(31), str(32), num(33)
	ids := byt(34)
	r.RawDigest, r.Purged = byt(35), fromMicros(num(36))
	if len(r.RawDigest) == 0 {
		r.RawDigest = nil
	}
	if bad != nil {
		return fmt.Errorf("record %s/%d: %w", r.Node, r.Seq, bad)
	}
	var err error
	if r.IDKeys, err = decodeIDs(ids); err != nil {
		return fmt.Errorf("record %s/%d: %w", r.Node, r.Seq, err)
	}
	if r.Exceptions, err = decodeExceptions(exc); err != nil {
		return fmt.Errorf("record %s/%d: %w", r.Node, r.Seq, err)
	}
	return nil
}

// classifyLink explains a record that is intact but does not follow the previous one: if the
// record that should come next, or the one this record follows, appears a little later, records
// were moved; otherwise the record it follows is missing (deleted, or rewritten with a new hash).
func classifyLink(next func() (*Record, error), node string, cur *Record, prev []byte) error {
	r := *cur // next overwrites cur
	for i := 0; i < lookahead; i++ {
		later, err := next()
		if err != nil {
			break
		}
		if bytes.Equal(later.PrevHash, prev) || bytes.Equal(later.Hash, r.PrevHash) {
			return &ChainError{Node: node, Seq: r.Seq, ID: r.ID, Kind: Reordered, link: true,
				Reason: fmt.Sprintf("the record is intact but was written after another record (record %d belongs before it)", later.Seq)}
		}
	}
	return &ChainError{Node: node, Seq: r.Seq, ID: r.ID, Kind: Deleted, link: true,
		Reason: "the record it was written after is not before it: a record was deleted (and the rest renumbered) or the previous record was rewritten with a new hash"}
}

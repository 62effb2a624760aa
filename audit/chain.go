package audit

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// Signed statements about a chain: a signed head (the node's key says "record seq of my chain
// has this hash", periodically and at shutdown) and a chain base (the node's key says "my chain
// now starts after record seq with this hash; what came before is in the archive whose manifest
// has this SHA-256"). Each is a fixed, length-prefixed encoding like Digest's, under its own
// domain, signed with SHA-256 (RSA PKCS #1 v1.5, ECDSA ASN.1) or Ed25519, and checked against the
// certificate stored beside it; VerifyOptions.Certs says which certificates to accept.

const (
	headDomain = "porta-audit-head-v1"
	baseDomain = "porta-audit-base-v1"
)

// ChainSigner signs chain statements with the node's key (porta.yaml's paths.key and
// paths.cert).
type ChainSigner struct {
	Key  crypto.Signer
	Cert *x509.Certificate
}

// Sign signs msg: SHA-256 then the key's scheme (RSA PKCS #1 v1.5, ECDSA), or Ed25519 over msg.
func (cs ChainSigner) Sign(msg []byte) ([]byte, error) {
	if cs.Key == nil || cs.Cert == nil {
		return nil, errors.New("chain signer: no key or certificate")
	}
	if _, ok := cs.Key.Public().(ed25519.PublicKey); ok {
		return cs.Key.Sign(rand.Reader, msg, crypto.Hash(0))
	}
	sum := sha256.Sum256(msg)
	return cs.Key.Sign(rand.Reader, sum[:], crypto.SHA256)
}

// CheckSignature checks sig over msg, made by ChainSigner.Sign with cert's key.
func CheckSignature(cert *x509.Certificate, msg, sig []byte) error {
	var alg x509.SignatureAlgorithm
	switch cert.PublicKeyAlgorithm {
	case x509.RSA:
		alg = x509.SHA256WithRSA
	case x509.ECDSA:
		alg = x509.ECDSAWithSHA256
	case x509.Ed25519:
		alg = x509.PureEd25519
	default:
		return fmt.Errorf("certificate %s: unsupported key algorithm %v", cert.Subject, cert.PublicKeyAlgorithm)
	}
	if err := cert.CheckSignature(alg, msg, sig); err != nil {
		return fmt.Errorf("signature by %s: %w", cert.Subject, err)
	}
	return nil
}

// headStatement is what a signed head signs.
func headStatement(node string, seq int64, hash []byte, signed time.Time) []byte {
	buf := appendStr(nil, headDomain)
	buf = appendStr(buf, node)
	buf = binary.BigEndian.AppendUint64(buf, uint64(seq))
	buf = appendBytes(buf, hash)
	return binary.BigEndian.AppendUint64(buf, uint64(micros(signed)))
}

// baseStatement is what a chain base signs.
func baseStatement(node string, seq int64, hash []byte, cut time.Time, manifest []byte) []byte {
	buf := appendStr(nil, baseDomain)
	buf = appendStr(buf, node)
	buf = binary.BigEndian.AppendUint64(buf, uint64(seq))
	buf = appendBytes(buf, hash)
	buf = binary.BigEndian.AppendUint64(buf, uint64(micros(cut)))
	return appendBytes(buf, manifest)
}

// SignedHead is a chain head signed by its node's key.
type SignedHead struct {
	Node      string            `json:"node"`
	Seq       int64             `json:"seq"`
	Hash      hexHash           `json:"hash"`
	Signed    time.Time         `json:"signed"`
	Cert      *x509.Certificate `json:"-"`
	Signature []byte            `json:"signature"`
	// Timestamp is an RFC 3161 TimeStampToken (DER) over the SHA-256 of Signature, when a TSA
	// was configured.
	Timestamp []byte `json:"timestamp,omitempty"`
}

// Check checks the head's signature against its certificate.
func (h *SignedHead) Check() error {
	if h.Cert == nil {
		return errors.New("no certificate")
	}
	return CheckSignature(h.Cert, headStatement(h.Node, h.Seq, h.Hash, h.Signed), h.Signature)
}

// Base is where a chain starts once its oldest records were archived (Store.Archive): the last
// archived record, the archive's manifest and the node's signature over them.
type Base struct {
	Node      string            `json:"node"`
	Seq       int64             `json:"seq"`
	Hash      hexHash           `json:"hash"`
	Cut       time.Time         `json:"cut"`
	Manifest  hexHash           `json:"manifest_sha256"`
	Cert      *x509.Certificate `json:"-"`
	Signature []byte            `json:"signature"`
}

// Check checks the base's signature against its certificate.
func (b *Base) Check() error {
	if b.Cert == nil {
		return errors.New("no certificate")
	}
	return CheckSignature(b.Cert, baseStatement(b.Node, b.Seq, b.Hash, b.Cut, b.Manifest), b.Signature)
}

// Stamper obtains an RFC 3161 timestamp token over a SHA-256 digest (package rfc3161's
// Client.Stamp).
type Stamper func(ctx context.Context, digest []byte) ([]byte, error)

// SignHead signs this node's committed chain head with signer (and has the signature timestamped
// by stamp, when not nil) and keeps it in the store, unless the newest signed head is already
// this one. It returns the newest signed head, nil when the chain is still empty. A timestamp
// that cannot be had does not stop the signing: the head is kept without one and the error says
// so beside it.
func (s *Store) SignHead(ctx context.Context, signer ChainSigner, stamp Stamper) (*SignedHead, error) {
	node := s.opt.Node
	var seq int64
	var hash []byte
	err := s.db.QueryRowxContext(ctx, s.q(`SELECT seq, hash FROM chain_head WHERE node = ?`), node).Scan(&seq, &hash)
	if isNoRows(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("sign head of node %s: %w", node, err)
	}
	last, err := s.SignedHeads(ctx, node, 1)
	if err != nil {
		return nil, err
	}
	if len(last) == 1 && last[0].Seq == seq && bytes.Equal(last[0].Hash, hash) {
		return last[0], nil
	}
	h := &SignedHead{Node: node, Seq: seq, Hash: hash, Signed: s.now().Truncate(time.Microsecond).UTC(), Cert: signer.Cert}
	if h.Signature, err = signer.Sign(headStatement(node, seq, hash, h.Signed)); err != nil {
		return nil, fmt.Errorf("sign head %s/%d: %w", node, seq, err)
	}
	var stampErr error
	if stamp != nil {
		sum := sha256.Sum256(h.Signature)
		if h.Timestamp, stampErr = stamp(ctx, sum[:]); stampErr != nil {
			h.Timestamp = nil
			stampErr = fmt.Errorf("timestamp head %s/%d (kept signed, without a timestamp): %w", node, seq, stampErr)
		}
	}
	if _, err := s.db.ExecContext(ctx, s.q(`INSERT INTO chain_sig (node, seq, hash, signed, cert, signature, tst) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (node, seq) DO UPDATE SET hash = excluded.hash, signed = excluded.signed, cert = excluded.cert,
		signature = excluded.signature, tst = excluded.tst`),
		node, seq, hash, micros(h.Signed), signer.Cert.Raw, h.Signature, nz(h.Timestamp)); err != nil {
		return nil, fmt.Errorf("keep signed head %s/%d: %w", node, seq, err)
	}
	return h, stampErr
}

// SignedHeads returns node's signed heads, newest (highest seq) first; at most limit when
// limit > 0.
func (s *Store) SignedHeads(ctx context.Context, node string, limit int) ([]*SignedHead, error) {
	q := `SELECT node, seq, hash, signed, cert, signature, tst FROM chain_sig WHERE node = ? ORDER BY seq DESC`
	args := []any{node}
	if limit > 0 {
		q += ` LIMIT ?`
		args = append(args, limit)
	}
	rows, err := s.db.QueryxContext(ctx, s.q(q), args...)
	if err != nil {
		return nil, fmt.Errorf("signed heads of node %s: %w", node, err)
	}
	defer rows.Close()
	var out []*SignedHead
	for rows.Next() {
		var h SignedHead
		var signed int64
		var cert []byte
		if err := rows.Scan(&h.Node, &h.Seq, (*[]byte)(&h.Hash), &signed, &cert, &h.Signature, &h.Timestamp); err != nil {
			return nil, fmt.Errorf("signed heads of node %s: %w", node, err)
		}
		h.Signed = fromMicros(signed)
		if len(h.Timestamp) == 0 {
			h.Timestamp = nil
		}
		if h.Cert, err = x509.ParseCertificate(cert); err != nil {
			return nil, fmt.Errorf("signed head %s/%d: certificate: %w", node, h.Seq, err)
		}
		out = append(out, &h)
	}
	return out, rows.Err()
}

// ChainBase returns node's chain base, nil when its chain was never cut.
func (s *Store) ChainBase(ctx context.Context, node string) (*Base, error) {
	return s.chainBase(ctx, s.db, node)
}

func (s *Store) chainBase(ctx context.Context, db execer, node string) (*Base, error) {
	var b Base
	var cut int64
	var cert []byte
	err := db.QueryRowxContext(ctx, s.q(`SELECT node, seq, hash, cut, manifest, cert, signature FROM chain_base WHERE node = ?`), node).
		Scan(&b.Node, &b.Seq, (*[]byte)(&b.Hash), &cut, (*[]byte)(&b.Manifest), &cert, &b.Signature)
	if isNoRows(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("chain base of node %s: %w", node, err)
	}
	b.Cut = fromMicros(cut)
	if b.Cert, err = x509.ParseCertificate(cert); err != nil {
		return nil, fmt.Errorf("chain base of node %s: certificate: %w", node, err)
	}
	return &b, nil
}

// trusted checks that cert is one of certs (any certificate when certs is empty).
func trusted(cert *x509.Certificate, certs []*x509.Certificate) error {
	if len(certs) == 0 {
		return nil
	}
	for _, c := range certs {
		if bytes.Equal(c.Raw, cert.Raw) {
			return nil
		}
	}
	sum := sha256.Sum256(cert.Raw)
	return fmt.Errorf("signed by %s (SHA-256 %s), not by a certificate given to verify with", cert.Subject, hex.EncodeToString(sum[:]))
}

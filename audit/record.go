package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"porta/audit/seal"
)

// Direction of a traced busta.
type Direction string

const (
	In  Direction = "in"
	Out Direction = "out"
)

// Exception is an eGov exception recorded with a busta (codiceEccezione and its companions).
type Exception struct {
	Code     string `json:"code"`
	Severity string `json:"severity,omitempty"`
	Context  string `json:"context,omitempty"`
	Position string `json:"position,omitempty"`
}

// Record is one traced busta (tracciamento). The caller fills the busta's fields; Append fills
// Node, Seq, Recorded (when zero), BodyMode, RawHash, PrevHash and Hash, and truncates the
// times to microseconds, the precision stored. Its JSON carries the hashes in lower-case hex
// (recordjson.go).
type Record struct {
	Node        string    `json:"node"`
	Seq         int64     `json:"seq"`
	Transaction string    `json:"transaction"` // the gateway's id of the exchange
	Direction   Direction `json:"direction"`
	Function    string    `json:"function,omitempty"` // "PortaDelegata" or "PortaApplicativa"

	ID           string `json:"id"`                     // Identificatore
	RelatesTo    string `json:"relates_to,omitempty"`   // RiferimentoMessaggio
	Conversation string `json:"conversation,omitempty"` // Collaborazione
	Sender       string `json:"sender"`
	Receiver     string `json:"receiver"`
	Service      string `json:"service"`
	Action       string `json:"action,omitempty"`
	Profile      string `json:"profile,omitempty"`

	Time     time.Time `json:"time"`     // OraRegistrazione of the busta
	Recorded time.Time `json:"recorded"` // when the gateway traced it

	Outcome     string      `json:"outcome"` // sent, queued, received, delivered, acked, duplicate, error, expired...
	Exceptions  []Exception `json:"exceptions,omitempty"`
	HTTPStatus  int         `json:"http_status,omitempty"`
	Peer        string      `json:"peer,omitempty"`           // remote address, or the URL sent to
	Signer      string      `json:"signer,omitempty"`         // SHA-256 of the signer certificate, hex
	PayloadHash []byte      `json:"payload_sha256,omitempty"` // SHA-256 of the payload (the SOAP Body's content, BodyContent)
	PayloadSize int64       `json:"payload_size"`
	// Header is the busta's eGov Intestazione as XML, kept in every body mode: it names parties,
	// services and identifiers, never a worker.
	Header   []byte   `json:"header,omitempty"`
	BodyMode BodyMode `json:"body_mode"`
	Raw      []byte   `json:"raw,omitempty"`        // the envelope as kept by BodyMode
	RawHash  []byte   `json:"raw_sha256,omitempty"` // SHA-256 of the whole envelope as given to Append
	Detail   string   `json:"detail,omitempty"`     // error text for operators

	// ClientSubject and ClientCert name the TLS client certificate of the connection the busta
	// or request came in on (its subject, and its SHA-256 fingerprint in hex): on every inbound
	// record, whatever the busta claims and whether or not it was accepted.
	ClientSubject string `json:"client_subject,omitempty"`
	ClientCert    string `json:"client_cert,omitempty"`
	// Application is the local application a Porta Delegata request came from (once
	// authenticated), Reason the category of a refusal (the Porta-Error-Reason).
	Application string `json:"application,omitempty"`
	Reason      string `json:"reason,omitempty"`
	// RawSize is the size of the whole envelope as given to Append; with BodyMode BodyCapped, Raw
	// holds only its first bytes and RawSize and RawHash describe the whole.
	RawSize int64 `json:"raw_size,omitempty"`
	// Cap, when more than 0, bounds what Append keeps of this record (a refused busta: junk from
	// anyone must not cost its size): Raw (after the body mode) and Header to Cap bytes each, Detail
	// likewise, and the busta's identifying strings to maxCappedField bytes. A record cut so is
	// stored with BodyMode BodyCapped. Cap itself is not stored.
	Cap int64 `json:"-"`
	// IDs are the business identifiers found in the payload (ids.go), given in clear to Append,
	// which keeps only their keyed hashes in IDKeys and clears IDs; they are never stored.
	IDs []BusinessID `json:"-"`
	// IDKeys are the record's business identifiers as stored: name and keyed hash of each,
	// sorted, without repeats, at most MaxRecordIDs (filled by Append from IDs).
	IDKeys []IDKey `json:"ids,omitempty"`
	// Keep, when set, is the body mode Append keeps this new record in instead of the store's
	// (Options.BodyMode): the service's own policy. Keep itself is not stored; BodyMode says what
	// was done.
	Keep BodyMode `json:"-"`
	// RawDigest and Purged are set on a record whose body outlived its service's retention
	// (Store.PurgeBodies): Raw is then empty and RawDigest is the SHA-256 of the Raw it held, which
	// the chain hash covers in its place; Purged is when. Neither is inside the hash.
	RawDigest []byte    `json:"raw_digest,omitempty"`
	Purged    time.Time `json:"purged,omitzero"`

	PrevHash []byte `json:"prev_hash"`
	Hash     []byte `json:"hash"`

	// rawSum is the SHA-256 of Raw when prepare computed it already (a new record kept whole, Raw
	// the envelope RawHash is the digest of), for appendTail; Store.submit clears it after.
	rawSum []byte
}

// chainDomain separates this encoding from any other use of SHA-256; bump it with the encoding.
const chainDomain = "porta-audit-chain-v1"

// Digest returns the record's chain hash: SHA-256 over chainDomain, the node, prev, and each
// field in a fixed order, strings and bytes as an 8-byte big-endian length then the bytes,
// integers as 8-byte big-endian values, times as Unix microseconds (0 for the zero time), the
// exceptions as a count then each exception's four strings, and the stored Raw through its own
// SHA-256 (RawDigest once the body was purged); then, when any of them is set, ClientSubject,
// ClientCert, Application, Reason and RawSize (added by migration 00004: a record without them
// encodes, and hashes, as before it); then, when it has any, the business identifiers' keys
// (IDKeys, encoded as encodeIDs does, added by migration 00006: the 00004 fields are then written
// even when empty, and a record without identifiers hashes as before).
// Seq and Hash are not inside it. Anyone can recompute it from a row.
func (r *Record) Digest(prev []byte) []byte {
	sum := sha256.Sum256(r.appendEncoding(nil, prev))
	return sum[:]
}

// appendEncoding appends the hashed encoding of the record (see Digest) to buf.
func (r *Record) appendEncoding(buf, prev []byte) []byte {
	return r.appendTail(appendHead(buf, r.Node, prev))
}

// appendHead appends the part of the encoding that depends on the chain: the domain, the node
// and the previous hash.
func appendHead(buf []byte, node string, prev []byte) []byte {
	buf = appendStr(buf, chainDomain)
	buf = appendStr(buf, node)
	return appendBytes(buf, prev)
}

// appendTail appends the part of the encoding after the previous hash: every field but Node,
// Seq and the hashes. It does not depend on the chain, so the writer computes it (and the
// SHA-256 of Raw inside it) in the caller's goroutine, before its transaction starts.
func (r *Record) appendTail(buf []byte) []byte {
	for _, f := range [...]string{r.Transaction, string(r.Direction), r.Function, r.ID, r.RelatesTo, r.Conversation,
		r.Sender, r.Receiver, r.Service, r.Action, r.Profile} {
		buf = appendStr(buf, f)
	}
	buf = binary.BigEndian.AppendUint64(buf, uint64(micros(r.Time)))
	buf = binary.BigEndian.AppendUint64(buf, uint64(micros(r.Recorded)))
	buf = appendStr(buf, r.Outcome)
	buf = binary.BigEndian.AppendUint64(buf, uint64(len(r.Exceptions)))
	for _, x := range r.Exceptions {
		buf = appendStr(buf, x.Code)
		buf = appendStr(buf, x.Severity)
		buf = appendStr(buf, x.Context)
		buf = appendStr(buf, x.Position)
	}
	buf = binary.BigEndian.AppendUint64(buf, uint64(int64(r.HTTPStatus)))
	buf = appendStr(buf, r.Peer)
	buf = appendStr(buf, r.Signer)
	buf = appendBytes(buf, r.PayloadHash)
	buf = binary.BigEndian.AppendUint64(buf, uint64(r.PayloadSize))
	buf = appendBytes(buf, r.Header)
	buf = appendStr(buf, string(r.BodyMode))
	if len(r.RawDigest) == sha256.Size {
		buf = appendBytes(buf, r.RawDigest)
	} else if len(r.rawSum) == sha256.Size {
		buf = appendBytes(buf, r.rawSum)
	} else {
		raw := sha256.Sum256(r.Raw)
		buf = appendBytes(buf, raw[:])
	}
	buf = appendBytes(buf, r.RawHash)
	buf = appendStr(buf, r.Detail)
	if r.ClientSubject == "" && r.ClientCert == "" && r.Application == "" && r.Reason == "" && r.RawSize == 0 && len(r.IDKeys) == 0 {
		return buf
	}
	// Every record before this extension ended at Detail; every length is prefixed, so an
	// extended encoding can never equal a plain one.
	for _, f := range [...]string{r.ClientSubject, r.ClientCert, r.Application, r.Reason} {
		buf = appendStr(buf, f)
	}
	buf = binary.BigEndian.AppendUint64(buf, uint64(r.RawSize))
	// The identifiers come last, only when there are some: every length is prefixed, so an
	// encoding with them is longer than any without.
	return encodeIDs(buf, r.IDKeys)
}

func appendBytes(buf, b []byte) []byte {
	buf = binary.BigEndian.AppendUint64(buf, uint64(len(b)))
	return append(buf, b...)
}

func appendStr(buf []byte, s string) []byte {
	buf = binary.BigEndian.AppendUint64(buf, uint64(len(s)))
	return append(buf, s...)
}

func encodeExceptions(xs []Exception) (string, error) {
	if len(xs) == 0 {
		return "", nil
	}
	b, err := json.Marshal(xs)
	return string(b), err
}

func decodeExceptions(s []byte) ([]Exception, error) {
	if len(s) == 0 {
		return nil, nil
	}
	var xs []Exception
	if err := json.Unmarshal(s, &xs); err != nil {
		return nil, fmt.Errorf("exceptions column: %w", err)
	}
	return xs, nil
}

// prepare fills what Append owns before the record is chained: mode is the store's body mode,
// keys its keys (nil: none).
func (r *Record) prepare(node string, mode BodyMode, keys *seal.Keyring, now time.Time) error {
	if r.Direction != In && r.Direction != Out {
		return fmt.Errorf("audit record %q: direction %q, want %q or %q", r.ID, r.Direction, In, Out)
	}
	if r.Outcome == "" {
		return fmt.Errorf("audit record %q: empty outcome", r.ID)
	}
	if r.PayloadHash != nil && len(r.PayloadHash) != sha256.Size {
		return fmt.Errorf("audit record %q: payload hash of %d bytes, want %d (SHA-256)", r.ID, len(r.PayloadHash), sha256.Size)
	}
	r.Node = node
	if r.Recorded.IsZero() {
		r.Recorded = now
	}
	r.Recorded = r.Recorded.Truncate(time.Microsecond).UTC()
	if !r.Time.IsZero() {
		r.Time = r.Time.Truncate(time.Microsecond).UTC()
	}
	if r.BodyMode == "" {
		// A record read back and appended again keeps its mode; a new one takes the store's.
		if len(r.Raw) > 0 {
			h := sha256.Sum256(r.Raw)
			r.RawHash, r.RawSize = h[:], int64(len(r.Raw))
		}
		if r.Keep != "" {
			if _, err := ParseBodyMode(string(r.Keep)); err != nil {
				return fmt.Errorf("audit record %q: %w", r.ID, err)
			}
			mode = r.Keep
		}
		r.BodyMode = mode
		switch mode {
		case BodyNone:
			r.Raw = nil
		case BodyHeader:
			if len(r.Raw) > 0 {
				stripped, err := StripBody(r.Raw)
				switch {
				case err == nil:
					r.Raw = stripped
				case r.Cap > 0:
					// A refusal is traced even when its envelope cannot be read: without the
					// Body's bounds nothing of it may be kept in this mode.
					r.Raw, r.BodyMode = nil, BodyNone
				default:
					return fmt.Errorf("audit record %q: body mode header: %w", r.ID, err)
				}
			}
		}
		r.capFields()
		if r.BodyMode == BodyFull && int64(len(r.Raw)) == r.RawSize && len(r.Raw) > 0 {
			r.rawSum = r.RawHash // Raw is the whole envelope: the chain hashes the same digest
		}
		if mode == BodyEncrypted {
			if r.BodyMode == BodyCapped {
				r.BodyMode = BodyEncryptedCapped
			}
			if len(r.Raw) > 0 {
				if keys == nil {
					return fmt.Errorf("audit record %q: body mode encrypted: %w", r.ID, ErrNoKeys)
				}
				sealed, err := keys.Seal(r.Raw, purposeTrace)
				if err != nil {
					return fmt.Errorf("audit record %q: %w", r.ID, err)
				}
				r.Raw = sealed
			}
		}
	}
	return nil
}

// maxCappedField bounds each identifying string (Identificatore, parties, service...) of a capped
// record: a legitimate one is far shorter, and refused junk may carry megabytes in any of them.
const maxCappedField = 1024

// capFields applies Cap (see Record.Cap).
func (r *Record) capFields() {
	if r.Cap <= 0 {
		return
	}
	cut := false
	if int64(len(r.Raw)) > r.Cap {
		r.Raw, cut = r.Raw[:r.Cap:r.Cap], true
	}
	if int64(len(r.Header)) > r.Cap {
		r.Header, cut = r.Header[:r.Cap:r.Cap], true
	}
	for _, f := range []*string{&r.Transaction, &r.ID, &r.RelatesTo, &r.Conversation, &r.Sender, &r.Receiver,
		&r.Service, &r.Action, &r.Profile, &r.Peer, &r.ClientSubject, &r.Application} {
		if len(*f) > maxCappedField {
			*f, cut = (*f)[:maxCappedField], true
		}
	}
	if int64(len(r.Detail)) > r.Cap {
		r.Detail, cut = r.Detail[:r.Cap], true
	}
	if cut {
		r.BodyMode = BodyCapped
	}
}

// StripBody returns the SOAP envelope with the content of its Body removed, every other byte
// kept as it was (so the header's signature references stay readable).
func StripBody(env []byte) ([]byte, error) {
	start, end, err := bodySpan(env)
	if err != nil {
		return nil, fmt.Errorf("strip body: %w", err)
	}
	out := make([]byte, 0, start+len(env)-end)
	out = append(out, env[:start]...)
	return append(out, env[end:]...), nil
}

// BodyContent returns the content of the SOAP envelope's Body (the application payload), as the
// bytes between the Body's start and end tags.
func BodyContent(env []byte) ([]byte, error) {
	start, end, err := bodySpan(env)
	if err != nil {
		return nil, fmt.Errorf("body content: %w", err)
	}
	return env[start:end:end], nil
}

// bodySpan finds the content of the Body under the envelope: env[start:end]. It reads the
// markup as bytes, tag names only: the envelope may be a refused one, untrusted, and an element
// with a million attributes must cost its bytes and no more (encoding/xml would build every
// attribute). Comments, CDATA sections, processing instructions and declarations are skipped
// whole; attribute values may hold '>'.
func bodySpan(env []byte) (start, end int, err error) {
	depth := 0
	start = -1
	sc := tagScanner{env: env, next: [3]int{-1, -1, -1}}
	for i := 0; i < len(env); {
		j := bytes.IndexByte(env[i:], '<')
		if j < 0 {
			break
		}
		i += j
		rest := env[i:]
		skip := ""
		switch {
		case bytes.HasPrefix(rest, []byte("<!--")):
			skip = "-->"
		case bytes.HasPrefix(rest, []byte("<![CDATA[")):
			skip = "]]>"
		case bytes.HasPrefix(rest, []byte("<?")):
			skip = "?>"
		}
		if skip != "" {
			k := bytes.Index(rest[2:], []byte(skip))
			if k < 0 {
				return 0, 0, fmt.Errorf("at byte %d: unterminated %s", i, rest[:2])
			}
			i += 2 + k + len(skip)
			continue
		}
		tagEnd := sc.tagEnd(i)
		if tagEnd < 0 {
			return 0, 0, fmt.Errorf("at byte %d: unterminated tag", i)
		}
		tagStart, tag := i, env[i+1:tagEnd-1]
		i = tagEnd
		if len(tag) > 0 && tag[0] == '!' { // a declaration
			continue
		}
		closing := len(tag) > 0 && tag[0] == '/'
		if closing {
			tag = tag[1:]
		}
		name := tag
		for n, c := range tag { // bytes.IndexAny would build its set of five anew for every tag
			if c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '/' {
				name = tag[:n]
				break
			}
		}
		if len(name) == 0 {
			return 0, 0, fmt.Errorf("at byte %d: a tag without a name", i)
		}
		if c := bytes.LastIndexByte(name, ':'); c >= 0 {
			name = name[c+1:]
		}
		isBody := string(name) == "Body"
		switch {
		case closing:
			if depth == 2 && isBody && start >= 0 {
				return start, tagStart, nil
			}
			depth--
		default:
			depth++
			if depth == 2 && isBody && start < 0 {
				start = tagEnd
			}
			if tag[len(tag)-1] == '/' { // an empty-element tag: its end is here
				if depth == 2 && isBody && start == tagEnd {
					return start, tagEnd, nil
				}
				depth--
			}
		}
	}
	if start >= 0 {
		return 0, 0, errors.New("the Body element is not closed")
	}
	return 0, 0, errors.New("no SOAP Body element under the envelope")
}

// tagScanner finds the ends of tags in env with bytes.IndexByte rather than byte by byte. The next
// '>', double quote and apostrophe at or after the last position asked are remembered, so that
// each byte of env is searched for each of the three at most once however many quoted values a
// tag holds.
type tagScanner struct {
	env  []byte
	next [3]int // the index of the next '>', '"', '\'' (len(env): none); -1 not searched yet
}

var tagScannerBytes = [3]byte{'>', '"', '\''}

// at returns the index of the first byte tagScannerBytes[which] at or after from, or len(env).
func (sc *tagScanner) at(which, from int) int {
	if n := sc.next[which]; n >= from {
		return n
	}
	n := bytes.IndexByte(sc.env[from:], tagScannerBytes[which])
	if n < 0 {
		n = len(sc.env)
	} else {
		n += from
	}
	sc.next[which] = n
	return n
}

// tagEnd returns the index just past the '>' that ends the tag starting with '<' at env[i]
// (quoted attribute values may hold '>'), or -1 when the tag is not closed.
func (sc *tagScanner) tagEnd(i int) int {
	for k := i + 1; ; {
		gt, dq, sq := sc.at(0, k), sc.at(1, k), sc.at(2, k)
		q := min(dq, sq)
		if gt < q {
			if gt == len(sc.env) {
				return -1
			}
			return gt + 1
		}
		if q == len(sc.env) {
			return -1
		}
		// A quoted value: on past its closing quote.
		which := 1
		if q == sq {
			which = 2
		}
		closing := sc.at(which, q+1)
		if closing == len(sc.env) {
			return -1
		}
		k = closing + 1
	}
}

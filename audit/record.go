package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"hash"
	"io"
	"time"
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
// times to microseconds, the precision stored.
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
	Peer        string      `json:"peer,omitempty"`   // remote address, or the URL sent to
	Signer      string      `json:"signer,omitempty"` // SHA-256 of the signer certificate, hex
	PayloadHash []byte      `json:"payload_sha256,omitempty"`
	PayloadSize int64       `json:"payload_size"`
	// Header is the busta's eGov Intestazione as XML, kept in every body mode: it names parties,
	// services and identifiers, never a worker.
	Header   []byte   `json:"header,omitempty"`
	BodyMode BodyMode `json:"body_mode"`
	Raw      []byte   `json:"raw,omitempty"`        // the envelope as kept by BodyMode
	RawHash  []byte   `json:"raw_sha256,omitempty"` // SHA-256 of the whole envelope as given to Append
	Detail   string   `json:"detail,omitempty"`     // error text for operators

	PrevHash []byte `json:"prev_hash"`
	Hash     []byte `json:"hash"`
}

// chainDomain separates this encoding from any other use of SHA-256; bump it with the encoding.
const chainDomain = "porta-audit-chain-v1"

// Digest returns the record's chain hash: SHA-256 over chainDomain, the node, prev, and each
// field in a fixed order, strings and bytes as an 8-byte big-endian length then the bytes,
// integers as 8-byte big-endian values, times as Unix microseconds (0 for the zero time), the
// exceptions as a count then each exception's four strings, and the stored Raw through its own
// SHA-256. Seq and Hash are not inside it. Anyone can recompute it from a row.
func (r *Record) Digest(prev []byte) []byte {
	var e encoder
	e.h = sha256.New()
	e.str(chainDomain)
	e.str(r.Node)
	e.bytes(prev)
	e.str(r.Transaction)
	e.str(string(r.Direction))
	e.str(r.Function)
	e.str(r.ID)
	e.str(r.RelatesTo)
	e.str(r.Conversation)
	e.str(r.Sender)
	e.str(r.Receiver)
	e.str(r.Service)
	e.str(r.Action)
	e.str(r.Profile)
	e.int(micros(r.Time))
	e.int(micros(r.Recorded))
	e.str(r.Outcome)
	e.int(int64(len(r.Exceptions)))
	for _, x := range r.Exceptions {
		e.str(x.Code)
		e.str(x.Severity)
		e.str(x.Context)
		e.str(x.Position)
	}
	e.int(int64(r.HTTPStatus))
	e.str(r.Peer)
	e.str(r.Signer)
	e.bytes(r.PayloadHash)
	e.int(r.PayloadSize)
	e.bytes(r.Header)
	e.str(string(r.BodyMode))
	raw := sha256.Sum256(r.Raw)
	e.bytes(raw[:])
	e.bytes(r.RawHash)
	e.str(r.Detail)
	return e.h.Sum(nil)
}

type encoder struct {
	h   hash.Hash
	buf [8]byte
}

func (e *encoder) int(v int64) {
	binary.BigEndian.PutUint64(e.buf[:], uint64(v))
	e.h.Write(e.buf[:])
}

func (e *encoder) bytes(b []byte) {
	e.int(int64(len(b)))
	e.h.Write(b)
}

func (e *encoder) str(s string) {
	e.int(int64(len(s)))
	io.WriteString(e.h, s)
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

// prepare fills what Append owns before the record is chained.
func (r *Record) prepare(node string, mode BodyMode, now time.Time) error {
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
			r.RawHash = h[:]
		}
		r.BodyMode = mode
		switch mode {
		case BodyNone:
			r.Raw = nil
		case BodyHeader:
			if len(r.Raw) > 0 {
				stripped, err := StripBody(r.Raw)
				if err != nil {
					return fmt.Errorf("audit record %q: body mode header: %w", r.ID, err)
				}
				r.Raw = stripped
			}
		}
	}
	return nil
}

// StripBody returns the SOAP envelope with the content of its Body removed, every other byte
// kept as it was (so the header's signature references stay readable).
func StripBody(env []byte) ([]byte, error) {
	d := xml.NewDecoder(bytes.NewReader(env))
	depth := 0
	var start int64 = -1
	for {
		before := d.InputOffset()
		tok, err := d.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("strip body at byte %d: %w", before, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			if depth == 2 && t.Name.Local == "Body" && start < 0 {
				start = d.InputOffset()
			}
		case xml.EndElement:
			if depth == 2 && t.Name.Local == "Body" && start >= 0 {
				out := make([]byte, 0, int(start)+len(env)-int(before))
				out = append(out, env[:start]...)
				return append(out, env[before:]...), nil
			}
			depth--
		}
	}
	if start >= 0 {
		return nil, errors.New("strip body: the Body element is not closed")
	}
	return nil, errors.New("strip body: no SOAP Body element under the envelope")
}

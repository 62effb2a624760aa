package audit

import (
	"errors"
	"fmt"

	"porta/audit/seal"
)

// Encryption at rest. With Options.Keys set, the store seals (package seal, AES-256-GCM with
// key ids) everything it keeps that can carry a worker's data besides the trail's own fields:
//
//   - the envelope of a record kept in BodyEncrypted (Record.Keep or Options.BodyMode), sealed
//     after the body mode and the cap are applied and before it is hashed: the chain covers the
//     ciphertext, so Verify, porta trace verify and archives need no key;
//   - every queue item's payload and meta, the duplicate history's stored replies and the
//     idempotency keys' answers (headers and body), whatever the service's policy: they are
//     operational copies of the messages, needed in clear only by the store's own reader, and
//     sealing them all means a policy changed by a registry reload can never leave one behind
//     in clear. They are opened on the way out (Claim, Expire, Failed, Known,
//     IdempotentRequest); values stored before the keys were configured read as they are;
//   - the applications' Idempotency-Keys, which an application may make of a codice fiscale,
//     kept as keyed hashes (seal.Keyring.Tags) and looked up under every key.
//
// What stays in clear: the busta's identifying fields (parties, service, action, identifiers,
// times), the Intestazione, the hashes and sizes, Detail and the exceptions, which the gateway
// keeps free of payload values for services whose policy is not full.

// The purposes values are sealed for (seal's additional data): a value moved to another column
// does not open.
const (
	purposeTrace    = "trace/raw"
	purposePayload  = "queue/payload"
	purposeMeta     = "queue/meta"
	purposeReply    = "seen/reply"
	purposeIdemHead = "idempotency/header"
	purposeIdemBody = "idempotency/body"
	purposeIdemKey  = "idempotency/key"
)

// ErrNoKeys is returned (wrapped) when a sealed value must be opened, or a record kept
// encrypted, by a store or a caller without the trace keys.
var ErrNoKeys = errors.New("no trace keys: configure trace.keys (porta trace key rotate creates one)")

// sealValue seals b for purpose when the store has keys; empty values stay empty.
func (s *Store) sealValue(b []byte, purpose string) ([]byte, error) {
	if s.opt.Keys == nil || len(b) == 0 {
		return b, nil
	}
	return s.opt.Keys.Seal(b, purpose)
}

// openValue opens b when it is sealed; a value kept in clear is returned as it is.
func (s *Store) openValue(b []byte, purpose string) ([]byte, error) {
	if !seal.IsSealed(b) {
		return b, nil
	}
	if s.opt.Keys == nil {
		return nil, fmt.Errorf("%s sealed with key %s: %w", purpose, seal.KeyID(b), ErrNoKeys)
	}
	return s.opt.Keys.Open(b, purpose)
}

// sealItem fills the sealed copies of an item's payload and meta, in the caller's goroutine.
func (s *Store) sealItem(it *Item) (err error) {
	if it.sealed.payload, err = s.sealValue(it.Payload, purposePayload); err != nil {
		return fmt.Errorf("%s item %q: %w", it.Kind, it.MsgID, err)
	}
	if it.sealed.meta, err = s.sealValue(it.Meta, purposeMeta); err != nil {
		return fmt.Errorf("%s item %q: %w", it.Kind, it.MsgID, err)
	}
	it.sealed.done = true
	return nil
}

// openItem opens an item read back from the store.
func (s *Store) openItem(it *Item) (err error) {
	if it.Payload, err = s.openValue(it.Payload, purposePayload); err != nil {
		return fmt.Errorf("%s item %q: %w", it.Kind, it.MsgID, err)
	}
	if it.Meta, err = s.openValue(it.Meta, purposeMeta); err != nil {
		return fmt.Errorf("%s item %q: %w", it.Kind, it.MsgID, err)
	}
	return nil
}

// sealIdempotent fills the sealed copies of an idempotency entry's answer.
func (s *Store) sealIdempotent(r *Idempotent) (err error) {
	if r.sealed.header, err = s.sealValue(r.Header, purposeIdemHead); err != nil {
		return err
	}
	r.sealed.body, err = s.sealValue(r.Body, purposeIdemBody)
	r.sealed.done = err == nil
	return err
}

// Envelope returns the envelope the record keeps (Raw), opened with keys when the record was
// kept encrypted. It is what a reader entitled to the body (porta trace show, the console's
// admin role) calls; a record kept in another mode gives Raw as it is, whatever keys. The error
// wraps ErrNoKeys when keys is nil, seal.ErrUnknownKey when the record was sealed with a key
// keys does not hold.
func (r *Record) Envelope(keys *seal.Keyring) ([]byte, error) {
	if !r.BodyMode.Encrypted() || len(r.Raw) == 0 {
		return r.Raw, nil
	}
	if keys == nil {
		return nil, fmt.Errorf("record %s/%d: envelope encrypted with key %s: %w", r.Node, r.Seq, seal.KeyID(r.Raw), ErrNoKeys)
	}
	b, err := keys.Open(r.Raw, purposeTrace)
	if err != nil {
		return nil, fmt.Errorf("record %s/%d: %w", r.Node, r.Seq, err)
	}
	return b, nil
}

// KeyID names the key a record's envelope was encrypted with ("" when it was not).
func (r *Record) KeyID() string {
	if !r.BodyMode.Encrypted() {
		return ""
	}
	return seal.KeyID(r.Raw)
}

package audit

import (
	"bytes"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"porta/audit/seal"
)

// keyring makes a key directory with one key and loads it.
func keyring(t *testing.T, dir string, at time.Time) *seal.Keyring {
	t.Helper()
	if _, err := seal.Add(dir, at); err != nil {
		t.Fatal(err)
	}
	k, err := seal.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

const cf = "RSSMRA80A01H501U" // in envelopeXML

// With keys, a record kept encrypted and every queue payload, meta, duplicate reply and
// idempotent answer are sealed: the codice fiscale is nowhere in the database, the chain verifies
// without keys, and the values come back in clear to the store's own readers.
func TestSealedAtRest(t *testing.T) {
	both(t, func(t *testing.T, dsn string) {
		keyDir := filepath.Join(t.TempDir(), "keys")
		t0 := time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)
		k1 := keyring(t, keyDir, t0)
		s := open(t, dsn, Options{Keys: k1})

		r1 := rec(1)
		r1.Keep = BodyEncrypted
		plain := bytes.Clone(r1.Raw)
		clear := rec(2) // the store's mode, full: in clear
		capped := rec(3)
		capped.Keep, capped.Cap = BodyEncrypted, 64
		if err := s.Append(ctx, r1, clear, capped); err != nil {
			t.Fatal(err)
		}
		payload := []byte("<p><cf>" + cf + "</cf></p>")
		it := &Item{Kind: Inbox, MsgID: busta(9), Party: "Ministero", Service: "SAP", Payload: payload, Meta: []byte(`{"cf":"` + cf + `"}`)}
		idem := &Idempotent{App: "sil", Key: "sap-" + cf, Hash: []byte("h"), MsgID: busta(9), Header: []byte(`{"X":["` + cf + `"]}`), Body: payload, Expires: time.Now().Add(48 * time.Hour)}
		if err := s.Write(ctx, Batch{Items: []*Item{it}, Idempotent: idem, Seen: []SeenKey{{"Provincia", busta(9)}}}); err != nil {
			t.Fatal(err)
		}
		if err := s.SetReply(ctx, "Provincia", busta(9), payload); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(it.Payload, payload) {
			t.Error("Write changed the caller's item")
		}
		assertNoCF(t, s, cf, "clear record's Raw")

		got, err := s.Get(ctx, "node1", 1)
		if err != nil {
			t.Fatal(err)
		}
		if got.BodyMode != BodyEncrypted || got.KeyID() != k1.Current() || bytes.Contains(got.Raw, []byte(cf)) {
			t.Fatalf("encrypted record: mode %s, key %q", got.BodyMode, got.KeyID())
		}
		if env, err := got.Envelope(k1); err != nil || !bytes.Equal(env, plain) {
			t.Errorf("Envelope: %q, %v", env, err)
		}
		if _, err := got.Envelope(nil); !errors.Is(err, ErrNoKeys) {
			t.Errorf("Envelope without keys: %v, want ErrNoKeys", err)
		}
		if c, _ := s.Get(ctx, "node1", 3); c.BodyMode != BodyEncryptedCapped {
			t.Errorf("capped encrypted record: mode %s", c.BodyMode)
		} else if env, err := c.Envelope(k1); err != nil || !bytes.Equal(env, plain[:64]) {
			t.Errorf("capped envelope: %q, %v", env, err)
		}

		claimed, err := s.Claim(ctx, "w", Inbox, 10, time.Minute)
		if err != nil || len(claimed) != 1 || !bytes.Equal(claimed[0].Payload, payload) || !strings.Contains(string(claimed[0].Meta), cf) {
			t.Fatalf("claim: %v %v", claimed, err)
		}
		if known, reply, err := s.Known(ctx, "Provincia", busta(9)); !known || err != nil || !bytes.Equal(reply, payload) {
			t.Errorf("Known: %v %q %v", known, reply, err)
		}
		if got, err := s.IdempotentRequest(ctx, "sil", "sap-"+cf); err != nil || !bytes.Equal(got.Body, payload) || !strings.Contains(string(got.Header), cf) {
			t.Errorf("idempotent: %+v %v", got, err)
		}
		if err := s.SettleIdempotent(ctx, "sil", "sap-"+cf, 200, []byte(`{}`), payload); err != nil {
			t.Fatal(err)
		}
		assertNoCF(t, s, cf, "clear record's Raw")

		// Rotation: a new key seals from now on; records sealed with the old one still open.
		if _, err := seal.Add(keyDir, t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		k2, err := seal.Load(keyDir)
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		s = open(t, dsn, Options{Keys: k2})
		r4 := rec(4)
		r4.Keep = BodyEncrypted
		if err := s.Append(ctx, r4); err != nil {
			t.Fatal(err)
		}
		n4, _ := s.Get(ctx, "node1", 4)
		if n4.KeyID() != k2.Current() || n4.KeyID() == k1.Current() {
			t.Errorf("after rotation the new record uses key %s, want %s", n4.KeyID(), k2.Current())
		}
		for seq := int64(1); seq <= 4; seq++ {
			r, _ := s.Get(ctx, "node1", seq)
			if _, err := r.Envelope(k2); err != nil {
				t.Errorf("record %d after rotation: %v", seq, err)
			}
		}
		if _, err := n4.Envelope(k1); !errors.Is(err, seal.ErrUnknownKey) {
			t.Errorf("the old keyring opening a new record: %v, want ErrUnknownKey", err)
		}
		if known, reply, err := s.Known(ctx, "Provincia", busta(9)); !known || err != nil || !bytes.Equal(reply, payload) {
			t.Errorf("Known after rotation: %v %q %v", known, reply, err)
		}
		// An idempotency key kept under the old key is found, and still taken, after rotation.
		if got, err := s.IdempotentRequest(ctx, "sil", "sap-"+cf); err != nil || got == nil || got.Status != 200 {
			t.Errorf("idempotency key after rotation: %+v %v", got, err)
		}
		again := &Idempotent{App: "sil", Key: "sap-" + cf, Hash: []byte("h"), MsgID: busta(10), Expires: time.Now().Add(time.Hour)}
		if err := s.KeepIdempotent(ctx, again); !errors.Is(err, ErrKeyTaken) {
			t.Errorf("keeping a key taken under the old key: %v, want ErrKeyTaken", err)
		}

		// The chain covers the ciphertext: it verifies with no key at all.
		s.Close()
		ro := open(t, dsn, Options{ReadOnly: true})
		if rep, err := ro.Verify(ctx, VerifyOptions{}); err != nil || rep.Records != 4 {
			t.Errorf("verify without keys: %+v %v", rep, err)
		}
	})
}

// assertNoCF fails when the codice fiscale is in any column of the store's tables but the one
// record kept in clear on purpose (except names that column).
func assertNoCF(t *testing.T, s *Store, cf, except string) {
	t.Helper()
	for _, q := range []string{
		`SELECT raw FROM trace WHERE body_mode <> 'full'`, `SELECT payload FROM queue_item`, `SELECT meta FROM queue_item`,
		`SELECT reply FROM seen`, `SELECT idem_key FROM idempotency`, `SELECT header FROM idempotency`, `SELECT body FROM idempotency`,
	} {
		rows, err := s.DB().Query(q)
		if err != nil {
			t.Fatal(q, err)
		}
		for rows.Next() {
			var b []byte
			rows.Scan(&b)
			if bytes.Contains(b, []byte(cf)) {
				t.Errorf("%s: the codice fiscale in clear (%s aside)", q, except)
			}
		}
		rows.Close()
	}
}

func TestEncryptedNeedsKeys(t *testing.T) {
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "a.db")
	if _, err := Open(ctx, dsn, Options{BodyMode: BodyEncrypted}); !errors.Is(err, ErrNoKeys) {
		t.Errorf("store mode encrypted without keys: %v", err)
	}
	s := open(t, dsn, Options{})
	r := rec(1)
	r.Keep = BodyEncrypted
	if err := s.Append(ctx, r); !errors.Is(err, ErrNoKeys) {
		t.Errorf("record kept encrypted without keys: %v", err)
	}
	r = rec(1)
	r.Keep = "secret"
	if err := s.Append(ctx, r); err == nil || !strings.Contains(err.Error(), "want full, header, none or encrypted") {
		t.Errorf("unknown mode: %v", err)
	}
	// A sealed queue item read by a store without keys says why.
	k := keyring(t, filepath.Join(t.TempDir(), "k"), time.Now())
	dsn2 := "sqlite:" + filepath.Join(t.TempDir(), "b.db")
	w := open(t, dsn2, Options{Keys: k})
	if err := w.Enqueue(ctx, item(Outbox, 1)); err != nil {
		t.Fatal(err)
	}
	w.Close()
	r2 := open(t, dsn2, Options{})
	if _, err := r2.Claim(ctx, "w", Outbox, 1, time.Minute); !errors.Is(err, ErrNoKeys) || !strings.Contains(err.Error(), k.Current()) {
		t.Errorf("claim of a sealed item without keys: %v", err)
	}
}

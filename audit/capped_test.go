package audit

import (
	"bytes"
	"crypto/sha256"
	"strings"
	"testing"
)

// A record with Cap keeps the first Cap bytes of its envelope, says so (BodyCapped), and keeps
// the size and SHA-256 of the whole; its identifying strings and detail are bounded too. The
// client certificate, application and reason read back, and the chain verifies, on both databases.
func TestCappedRecord(t *testing.T) {
	for _, mode := range []BodyMode{BodyFull, BodyHeader} {
		t.Run(string(mode), func(t *testing.T) {
			both(t, func(t *testing.T, dsn string) {
				s := open(t, dsn, Options{BodyMode: mode})
				junk := []byte("<junk>" + strings.Repeat("x", 1<<20) + "</junk>") // no SOAP Body: header mode cannot strip it
				whole := sha256.Sum256(junk)
				r := rec(1)
				r.Raw, r.Cap, r.Outcome = junk, 4096, "error"
				r.Service = strings.Repeat("S", 10000)
				r.Detail = strings.Repeat("d", 10000)
				r.ClientSubject, r.ClientCert, r.Application, r.Reason = "CN=Intruso,O=Nessuno", strings.Repeat("ab", 32), "AppSIL", "payload-invalid"
				small := rec(2) // an uncapped record beside it keeps its envelope whole
				if err := s.Append(ctx, r, small); err != nil {
					t.Fatal(err)
				}
				got, err := s.Get(ctx, "node1", 1)
				if err != nil {
					t.Fatal(err)
				}
				wantRaw := junk[:4096]
				if mode == BodyHeader {
					wantRaw = nil
				}
				if got.BodyMode != BodyCapped || !bytes.Equal(got.Raw, wantRaw) || got.RawSize != int64(len(junk)) || !bytes.Equal(got.RawHash, whole[:]) {
					t.Errorf("capped record: mode %s, %d bytes kept, size %d, hash %x", got.BodyMode, len(got.Raw), got.RawSize, got.RawHash)
				}
				if len(got.Service) != maxCappedField || len(got.Detail) != 4096 {
					t.Errorf("service of %d bytes, detail of %d kept", len(got.Service), len(got.Detail))
				}
				if got.ClientSubject != r.ClientSubject || got.ClientCert != r.ClientCert || got.Application != "AppSIL" || got.Reason != "payload-invalid" {
					t.Errorf("client fields read back as %q %q %q %q", got.ClientSubject, got.ClientCert, got.Application, got.Reason)
				}
				got2, err := s.Get(ctx, "node1", 2)
				if err != nil {
					t.Fatal(err)
				}
				if got2.BodyMode != mode || got2.RawSize != int64(len(rec(2).Raw)) {
					t.Errorf("uncapped record: mode %s, size %d", got2.BodyMode, got2.RawSize)
				}
				if _, err := s.Verify(ctx, VerifyOptions{}); err != nil {
					t.Error(err)
				}
				// A client certificate changed afterwards breaks the record's hash.
				if _, err := s.db.ExecContext(ctx, s.q(`UPDATE trace SET client_cert = ? WHERE node = 'node1' AND seq = 1`), "00"); err != nil {
					t.Fatal(err)
				}
				if _, err := s.Verify(ctx, VerifyOptions{}); err == nil || !strings.Contains(err.Error(), "record 1") {
					t.Errorf("verify after editing client_cert: %v", err)
				}
			})
		})
	}
}

// Records written before migration 00004 (no client certificate, application, reason or raw
// size) hash as they did: their encoding ends at Detail.
func TestDigestWithoutNewFieldsUnchanged(t *testing.T) {
	r := rec(1)
	r.Node, r.BodyMode = "node1", BodyFull
	plain := r.appendTail(nil)
	if !bytes.HasSuffix(plain, appendStr(nil, r.Detail)) {
		t.Fatalf("encoding does not end with Detail")
	}
	r.RawSize = 1
	ext := r.appendTail(nil)
	if !bytes.HasPrefix(ext, plain) || len(ext) == len(plain) {
		t.Errorf("the extension must follow the plain encoding")
	}
	if bytes.Equal(r.Digest(nil), (&Record{}).Digest(nil)) {
		t.Error("digest ignores fields")
	}
}

package audit

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strings"
	"testing"
	"time"
)

// testSigner is a node key and its self-signed certificate.
func testSigner(t *testing.T, name string) ChainSigner {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return ChainSigner{Key: key, Cert: cert}
}

// archiveStore is a chain of 10 records: 1-6 recorded at t0, 7-10 two hours later, its head
// signed at 10.
func archiveStore(t *testing.T, dsn string, signer ChainSigner) (*Store, *clock) {
	t.Helper()
	clk := newClock()
	s := open(t, dsn, Options{Node: "a", Now: clk.Now})
	appendN(t, s, 1, 6)
	clk.Add(2 * time.Hour)
	appendN(t, s, 7, 10)
	if _, err := s.SignHead(ctx, signer, nil); err != nil {
		t.Fatal(err)
	}
	return s, clk
}

func archiveCut(t *testing.T, s *Store, before time.Time, signer ChainSigner) ([]byte, *Manifest) {
	t.Helper()
	var buf bytes.Buffer
	m, sum, err := s.Archive(ctx, &buf, ArchiveOptions{Before: before, Signer: signer, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Cut(ctx, m, sum, signer); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), m
}

func TestArchiveCutVerifies(t *testing.T) {
	both(t, func(t *testing.T, dsn string) {
		signer := testSigner(t, "node a")
		s, clk := archiveStore(t, dsn, signer)
		t0 := newClock().Now()
		arch, m := archiveCut(t, s, t0.Add(time.Hour), signer)
		if m.Base.Seq != 0 || m.Head.Seq != 6 || m.Records != 6 {
			t.Fatalf("manifest: base %d head %d records %d; want 0, 6, 6", m.Base.Seq, m.Head.Seq, m.Records)
		}
		rep, err := VerifyArchive(bytes.NewReader(arch), []*x509.Certificate{signer.Cert})
		if err != nil {
			t.Fatalf("the archive alone: %v", err)
		}
		if rep.Manifest.Head.Seq != 6 {
			t.Errorf("archive head %d, want 6", rep.Manifest.Head.Seq)
		}
		vr, err := s.Verify(ctx, VerifyOptions{Certs: map[string][]*x509.Certificate{"a": {signer.Cert}}})
		if err != nil {
			t.Fatalf("the store after the cut: %v", err)
		}
		if vr.Records != 4 || len(vr.Bases) != 1 || vr.Bases[0].Seq != 6 || !bytes.Equal(vr.Bases[0].Manifest, rep.ManifestSHA256) {
			t.Errorf("after the cut: %d records, bases %+v; want 4 records from base 6 naming the archive", vr.Records, vr.Bases)
		}
		if _, err := s.Get(ctx, "a", 6); !errors.Is(err, ErrNotFound) {
			t.Errorf("record 6 after the cut: %v, want ErrNotFound", err)
		}

		// Everything else, then a restarted store goes on from the base; the second archive
		// starts where the first ended.
		clk.Add(time.Hour)
		arch2, m2 := archiveCut(t, s, clk.Now(), signer)
		if m2.Base.Seq != 6 || m2.Head.Seq != 10 || !bytes.Equal(m2.Base.Hash, m.Head.Hash) {
			t.Fatalf("second archive: base %d head %d; want 6 (the first's head), 10", m2.Base.Seq, m2.Head.Seq)
		}
		if _, err := VerifyArchive(bytes.NewReader(arch2), nil); err != nil {
			t.Fatal(err)
		}
		s.Close()
		s = open(t, dsn, Options{Node: "a", Now: clk.Now})
		if _, err := s.Verify(ctx, VerifyOptions{}); err != nil {
			t.Fatalf("a chain all archived: %v", err)
		}
		r := rec(11)
		if err := s.Append(ctx, r); err != nil {
			t.Fatal(err)
		}
		if r.Seq != 11 || !bytes.Equal(r.PrevHash, m2.Head.Hash) {
			t.Errorf("after an archive of everything the chain goes on at %d, want 11 after the base", r.Seq)
		}
		if _, err := s.Verify(ctx, VerifyOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.Archive(ctx, io.Discard, ArchiveOptions{Before: t0, Signer: signer}); !errors.Is(err, ErrNothingToArchive) {
			t.Errorf("archive of nothing: %v", err)
		}
	})
}

func TestTamperedChainAndArchiveRefused(t *testing.T) {
	both(t, func(t *testing.T, dsn string) {
		signer := testSigner(t, "node a")
		s, _ := archiveStore(t, dsn, signer)
		t0 := newClock().Now()
		arch, _ := archiveCut(t, s, t0.Add(time.Hour), signer)
		db := s.DB()

		// A cut tail with a rewritten head: the signed head (record 10) is past the end.
		var hash []byte
		if err := db.QueryRow(db.Rebind(`SELECT hash FROM trace WHERE node = 'a' AND seq = 8`)).Scan(&hash); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(`DELETE FROM trace WHERE node = 'a' AND seq > 8`); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(db.Rebind(`UPDATE chain_head SET seq = 8, hash = ? WHERE node = 'a'`), hash); err != nil {
			t.Fatal(err)
		}
		_, err := s.Verify(ctx, VerifyOptions{})
		var ce *ChainError
		if !errors.As(err, &ce) || ce.Kind != Truncated || ce.Seq != 10 || !strings.Contains(ce.Reason, "signed") {
			t.Errorf("cut tail, rewritten head: %v; want truncated before the signed head 10", err)
		}

		// A forged base (the remaining chain made to start later) does not verify.
		if _, err := db.Exec(`UPDATE chain_base SET seq = 7 WHERE node = 'a'`); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Verify(ctx, VerifyOptions{}); !errors.As(err, &ce) || ce.Kind != Signature {
			t.Errorf("forged base: %v; want a signature break", err)
		}
		// Signed by another key than the node's.
		if _, err := db.Exec(`UPDATE chain_base SET seq = 6 WHERE node = 'a'`); err != nil {
			t.Fatal(err)
		}
		other := testSigner(t, "someone else")
		if _, err := s.Verify(ctx, VerifyOptions{Certs: map[string][]*x509.Certificate{"": {other.Cert}}}); !errors.As(err, &ce) || ce.Kind != Signature {
			t.Errorf("base by another key: %v; want a signature break", err)
		}

		// The archive: an edited record, a record left out, an edited manifest, another signer.
		for _, tc := range []struct {
			name string
			edit func(name string, b []byte) []byte
			want string
		}{
			{"edited record", func(n string, b []byte) []byte {
				if n == recordsName {
					return bytes.Replace(b, []byte(`"outcome":"sent"`), []byte(`"outcome":"lost"`), 1)
				}
				return b
			}, "edited"},
			{"record left out", func(n string, b []byte) []byte {
				if n == recordsName {
					lines := bytes.SplitAfter(b, []byte("\n"))
					return bytes.Join(append(lines[:2:2], lines[3:]...), nil)
				}
				return b
			}, "deleted"},
			{"edited manifest", func(n string, b []byte) []byte {
				if n == manifestName {
					return bytes.Replace(b, []byte(`"records": 6`), []byte(`"records": 5`), 1)
				}
				return b
			}, "does not verify"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := VerifyArchive(bytes.NewReader(retar(t, arch, tc.edit)), nil)
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("VerifyArchive = %v; want %q", err, tc.want)
				}
			})
		}
		if _, err := VerifyArchive(bytes.NewReader(arch), []*x509.Certificate{other.Cert}); err == nil {
			t.Error("an archive signed by another key than the one given was accepted")
		}
	})
}

// retar rewrites an archive with edit applied to each file's content.
func retar(t *testing.T, arch []byte, edit func(name string, b []byte) []byte) []byte {
	t.Helper()
	gz, err := gzip.NewReader(bytes.NewReader(arch))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	var out bytes.Buffer
	gw := gzip.NewWriter(&out)
	tw := tar.NewWriter(gw)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		b = edit(h.Name, b)
		h.Size = int64(len(b))
		tw.WriteHeader(h)
		tw.Write(b)
	}
	tw.Close()
	gw.Close()
	return out.Bytes()
}

func TestPurgeBodiesKeepsTheChain(t *testing.T) {
	both(t, func(t *testing.T, dsn string) {
		clk := newClock()
		s := open(t, dsn, Options{Node: "a", Now: clk.Now})
		appendN(t, s, 1, 3)
		other := rec(4)
		other.Service = "Anagrafe"
		if err := s.Append(ctx, other); err != nil {
			t.Fatal(err)
		}
		clk.Add(48 * time.Hour)
		appendN(t, s, 5, 5)
		n, err := s.PurgeBodies(ctx, Retention{Services: map[string]time.Duration{"SchedaLavoratore": 24 * time.Hour}}, clk.Now())
		if err != nil || n != 3 {
			t.Fatalf("PurgeBodies = %d, %v; want 3 (records 1-3: record 4 is another service, 5 is recent)", n, err)
		}
		for seq, purged := range map[int64]bool{1: true, 3: true, 4: false, 5: false} {
			r, err := s.Get(ctx, "a", seq)
			if err != nil {
				t.Fatal(err)
			}
			if got := len(r.Raw) == 0 && len(r.RawDigest) == 32 && !r.Purged.IsZero(); got != purged {
				t.Errorf("record %d: purged %v (raw %d bytes), want %v", seq, got, len(r.Raw), purged)
			}
			if purged && bytes.Contains(r.Raw, []byte("RSSMRA80A01H501U")) {
				t.Errorf("record %d still holds the codice fiscale", seq)
			}
		}
		if _, err := s.Verify(ctx, VerifyOptions{}); err != nil {
			t.Fatalf("after the purge: %v", err)
		}
		if n, err := s.PurgeBodies(ctx, Retention{Default: 24 * time.Hour}, clk.Now()); err != nil || n != 1 {
			t.Errorf("default retention: purged %d, %v; want 1 (record 4)", n, err)
		}
		// An archive of purged records still verifies alone.
		signer := testSigner(t, "node a")
		var buf bytes.Buffer
		if _, _, err := s.Archive(ctx, &buf, ArchiveOptions{Before: clk.Now(), Signer: signer, TempDir: t.TempDir()}); err != nil {
			t.Fatal(err)
		}
		if _, err := VerifyArchive(&buf, nil); err != nil {
			t.Fatal(err)
		}
	})
}

// TestArchiveWhileWriting cuts a chain from a second, read-only Store (porta trace archive, or
// its job, beside porta serve) while the writer keeps appending: the store still verifies and
// the chain goes on unbroken after the cut.
func TestArchiveWhileWriting(t *testing.T) {
	both(t, func(t *testing.T, dsn string) {
		signer := testSigner(t, "node a")
		s := open(t, dsn, Options{Node: "a"})
		appendN(t, s, 1, 50)
		// The cut at the store's precision, and the writer's records a little after it: a record
		// appended in the cut's own microsecond would be stored (truncated) as before it.
		cut := time.Now().Truncate(time.Microsecond)
		time.Sleep(2 * time.Millisecond)
		stop, done := make(chan struct{}), make(chan error, 1)
		go func() {
			for n := 51; ; n++ {
				select {
				case <-stop:
					done <- nil
					return
				default:
				}
				if err := s.Append(ctx, rec(n)); err != nil {
					done <- err
					return
				}
				// A gateway's pace, not a tight loop: SQLite's lock is not fair, and a writer
				// that takes it back at once can starve the cut's BEGIN IMMEDIATE past its
				// busy timeout.
				time.Sleep(500 * time.Microsecond)
			}
		}()
		ro := open(t, dsn, Options{Node: "a", ReadOnly: true})
		var buf bytes.Buffer
		m, sum, err := ro.Archive(ctx, &buf, ArchiveOptions{Before: cut, Signer: signer, TempDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ro.Cut(ctx, m, sum, signer); err != nil {
			t.Fatal(err)
		}
		close(stop)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if m.Head.Seq != 50 {
			t.Errorf("archived up to %d, want 50 (the records before the cut)", m.Head.Seq)
		}
		if _, err := VerifyArchive(&buf, nil); err != nil {
			t.Fatal(err)
		}
		rep, err := s.Verify(ctx, VerifyOptions{})
		if err != nil {
			t.Fatalf("after a cut beside the writer: %v", err)
		}
		if len(rep.Heads) != 1 || rep.Heads[0].Seq != 50+rep.Records {
			t.Errorf("after the cut: %d records up to %d", rep.Records, rep.Heads[0].Seq)
		}
	})
}

// TestBusinessIDsFollowPurgeAndCut: the search index entries of a record (trace_id) leave with
// its body at retention and with the record at a cut, into the archive's ids.jsonl; the
// records' keyed hashes stay inside their chain hashes, which still verify.
func TestBusinessIDsFollowPurgeAndCut(t *testing.T) {
	both(t, func(t *testing.T, dsn string) {
		clk := newClock()
		s := open(t, dsn, Options{Node: "a", Now: clk.Now, IndexKey: bytes.Repeat([]byte{7}, MinIndexKey)})
		for n := 1; n <= 4; n++ {
			r := rec(n)
			r.IDs = []BusinessID{{Name: "cf", Value: fmt.Sprintf("RSSMRA80A01H50%dU", n)}}
			if err := s.Append(ctx, r); err != nil {
				t.Fatal(err)
			}
			clk.Add(24 * time.Hour)
		}
		count := func() (n int) {
			if err := s.DB().QueryRow(`SELECT COUNT(*) FROM trace_id`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		if n := count(); n != 4 {
			t.Fatalf("%d index entries, want 4", n)
		}
		if _, err := s.PurgeBodies(ctx, Retention{Default: 60 * time.Hour}, clk.Now()); err != nil {
			t.Fatal(err)
		}
		if n := count(); n != 2 {
			t.Errorf("%d index entries after purging 2 bodies, want 2", n)
		}
		signer := testSigner(t, "node a")
		var buf bytes.Buffer
		m, sum, err := s.Archive(ctx, &buf, ArchiveOptions{Before: clk.Now().Add(-36 * time.Hour), Signer: signer, TempDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Cut(ctx, m, sum, signer); err != nil {
			t.Fatal(err)
		}
		if len(m.Files) != 2 || m.Files[1].Name != idsName || m.Files[1].Entries != 1 {
			t.Errorf("archive files %+v; want records and ids.jsonl with record 3's entry", m.Files)
		}
		if n := count(); n != 1 {
			t.Errorf("%d index entries after the cut, want 1 (record 4)", n)
		}
		if _, err := VerifyArchive(&buf, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Verify(ctx, VerifyOptions{}); err != nil {
			t.Fatal(err)
		}
	})
}

package audit

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"porta/internal/pgtest"
)

var pg pgtest.Shared

func TestMain(m *testing.M) { os.Exit(pg.Run(m)) }

var ctx = context.Background()

// backend opens stores of one dialect; open gives a fresh database, reopen another Store on the
// same database.
type backend struct {
	name string
	dsn  func(t *testing.T) string
}

var backends = []backend{
	{"sqlite", func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "audit.db") }},
	{"postgres", func(t *testing.T) string { return pg.DB(t) }},
}

// both runs f as a subtest on SQLite and on PostgreSQL.
func both(t *testing.T, f func(t *testing.T, dsn string)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { f(t, b.dsn(t)) })
	}
}

func open(t *testing.T, dsn string, opt Options) *Store {
	t.Helper()
	s, err := Open(ctx, dsn, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// clock is a settable clock for leases and deadlines.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 11, 28, 9, 15, 0, 0, time.UTC)} }
func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func busta(n int) string { return fmt.Sprintf("Provincia_ProvinciaSPCoopIT_%07d_2026-11-28_09:15", n) }

const envelopeXML = `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Header><eGov_IT:Intestazione xmlns:eGov_IT="http://www.cnipa.it/schemas/2003/eGovIT/Busta1_0/">` +
	`<eGov_IT:Messaggio><eGov_IT:Identificatore>%s</eGov_IT:Identificatore></eGov_IT:Messaggio></eGov_IT:Intestazione></soap:Header>` +
	`<soap:Body><lav:Scheda xmlns:lav="urn:lavoro"><lav:CodiceFiscale>RSSMRA80A01H501U</lav:CodiceFiscale></lav:Scheda></soap:Body></soap:Envelope>`

func rec(n int) *Record {
	id := busta(n)
	raw := []byte(fmt.Sprintf(envelopeXML, id))
	ph := sha256.Sum256([]byte("payload"))
	return &Record{
		Transaction: fmt.Sprintf("tx-%d", n), Direction: Out, Function: "PortaDelegata",
		ID: id, Conversation: busta(n - n%4), Sender: "Provincia", Receiver: "Ministero",
		Service: "SchedaLavoratore", Action: "Invia", Profile: "EGOV_IT_ServizioSincrono",
		Time: time.Date(2026, 11, 28, 9, 15, 0, n*1000, time.UTC), Outcome: "sent",
		HTTPStatus: 200, Peer: "https://ministero.example/pa", Signer: "ab12", PayloadHash: ph[:], PayloadSize: 7,
		Header: []byte("<eGov_IT:Intestazione/>"), Raw: raw,
	}
}

func appendN(t *testing.T, s *Store, from, to int) {
	t.Helper()
	for n := from; n <= to; n++ {
		if err := s.Append(ctx, rec(n)); err != nil {
			t.Fatal(err)
		}
	}
}

func TestAppendConcurrentChainValid(t *testing.T) {
	both(t, func(t *testing.T, dsn string) {
		s := open(t, dsn, Options{Node: "a"})
		const workers, each = 32, 20
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for i := 0; i < each; i++ {
					r := rec(1 + w*each + i)
					if i%5 == 0 {
						r.Exceptions = []Exception{{Code: "EGOV_IT_101", Severity: "GRAVE", Context: "ErroreIntestazione", Position: "Messaggio/Identificatore"}}
					}
					if err := s.Append(ctx, r); err != nil {
						errs <- err
						return
					}
					if r.Seq == 0 || len(r.Hash) != sha256.Size {
						errs <- fmt.Errorf("record %s not filled: seq %d", r.ID, r.Seq)
						return
					}
				}
			}(w)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		rep, err := s.Verify(ctx, VerifyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Records != workers*each || len(rep.Heads) != 1 || rep.Heads[0].Seq != workers*each {
			t.Errorf("verify report %+v, want one chain of %d", rep, workers*each)
		}
		// Reopening continues the chain.
		s.Close()
		s2 := open(t, dsn, Options{Node: "a"})
		appendN(t, s2, 10001, 10002)
		if rep, err := s2.Verify(ctx, VerifyOptions{}); err != nil || rep.Heads[0].Seq != workers*each+2 {
			t.Errorf("after reopen: %+v, %v", rep, err)
		}
		got, err := s2.Lookup(ctx, busta(7), Out)
		if err != nil || got == nil {
			t.Fatalf("Lookup: %v, %v", got, err)
		}
		want := rec(7)
		if got.Sender != want.Sender || got.Service != want.Service || !got.Time.Equal(want.Time) || string(got.Raw) != string(want.Raw) ||
			got.PayloadSize != 7 || string(got.Header) != string(want.Header) || got.BodyMode != BodyFull {
			t.Errorf("Lookup = %+v", got)
		}
		if r, _ := s2.Lookup(ctx, busta(7), In); r != nil {
			t.Error("Lookup found the busta in the other direction")
		}
	})
}

// TestTamper edits the table behind the store's back; Verify must name the first broken record.
func TestTamper(t *testing.T) {
	for _, tc := range []struct {
		name string
		sql  []string
		kind BreakKind
		seq  int64
	}{
		{"edit a field", []string{`UPDATE trace SET outcome = 'delivered' WHERE seq = 5`}, Edited, 5},
		{"edit the raw envelope", []string{`UPDATE trace SET raw = ? WHERE seq = 7`}, Edited, 7},
		{"edit a time", []string{`UPDATE trace SET recorded = recorded + 1 WHERE seq = 3`}, Edited, 3},
		{"delete a record", []string{`DELETE FROM trace WHERE seq = 5`}, Deleted, 6},
		{"delete the first record", []string{`DELETE FROM trace WHERE seq = 1`}, Deleted, 2},
		{"delete and renumber", []string{`DELETE FROM trace WHERE seq = 5`, `UPDATE trace SET seq = seq - 1 WHERE seq > 5`}, Deleted, 5},
		{"swap two records", []string{`UPDATE trace SET seq = 1000 WHERE seq = 5`, `UPDATE trace SET seq = 5 WHERE seq = 6`, `UPDATE trace SET seq = 6 WHERE seq = 1000`}, Reordered, 5},
		{"truncate the head", []string{`DELETE FROM trace WHERE seq >= 9`}, Truncated, 10},
		{"truncate the head and its record", []string{`DELETE FROM trace WHERE seq >= 9`, `DELETE FROM chain_head`}, Truncated, 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			both(t, func(t *testing.T, dsn string) {
				s := open(t, dsn, Options{Node: "a"})
				appendN(t, s, 1, 10)
				if _, err := s.Verify(ctx, VerifyOptions{}); err != nil {
					t.Fatalf("before tampering: %v", err)
				}
				for _, q := range tc.sql {
					var args []any
					if tc.name == "edit the raw envelope" {
						args = append(args, []byte("<soap:Envelope/>"))
					}
					if _, err := s.DB().Exec(s.DB().Rebind(q), args...); err != nil {
						t.Fatal(err)
					}
				}
				_, err := s.Verify(ctx, VerifyOptions{})
				var ce *ChainError
				if !errors.As(err, &ce) {
					t.Fatalf("Verify after %v: %v, want a ChainError", tc.sql, err)
				}
				if ce.Kind != tc.kind || ce.Seq != tc.seq || ce.Node != "a" {
					t.Errorf("Verify: %v; want %s at record %d", ce, tc.kind, tc.seq)
				}
			})
		})
	}
}

func TestTamperRehashedRecord(t *testing.T) {
	both(t, func(t *testing.T, dsn string) {
		s := open(t, dsn, Options{Node: "a"})
		appendN(t, s, 1, 10)
		// A careful forger edits record 4 and recomputes its hash: record 5 no longer follows it.
		r, err := s.Get(ctx, "a", 4)
		if err != nil {
			t.Fatal(err)
		}
		r.Outcome = "delivered"
		if _, err := s.DB().Exec(s.DB().Rebind(`UPDATE trace SET outcome = ?, hash = ? WHERE seq = 4`), r.Outcome, r.Digest(r.PrevHash)); err != nil {
			t.Fatal(err)
		}
		_, err = s.Verify(ctx, VerifyOptions{})
		var ce *ChainError
		if !errors.As(err, &ce) || ce.Seq != 5 || ce.Kind != Deleted {
			t.Errorf("Verify: %v, want a break at record 5", err)
		}
	})
}

func TestVerifyAnchors(t *testing.T) {
	both(t, func(t *testing.T, dsn string) {
		s := open(t, dsn, Options{Node: "a"})
		appendN(t, s, 1, 6)
		rep, err := s.Verify(ctx, VerifyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		anchor := rep.Heads[0]
		appendN(t, s, 7, 8)
		if _, err := s.Verify(ctx, VerifyOptions{Anchors: []Head{anchor}}); err != nil {
			t.Fatalf("a grown chain must still contain its anchor: %v", err)
		}
		// Rewriting the whole chain from record 6 on, heads included, is caught by the anchor.
		if _, err := s.DB().Exec(`DELETE FROM trace WHERE seq >= 6`); err != nil {
			t.Fatal(err)
		}
		if _, err := s.DB().Exec(s.DB().Rebind(`UPDATE chain_head SET seq = 5, hash = (SELECT hash FROM trace WHERE seq = 5)`)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Verify(ctx, VerifyOptions{}); err != nil {
			t.Fatalf("without the anchor the cut is invisible, as documented: %v", err)
		}
		_, err = s.Verify(ctx, VerifyOptions{Anchors: []Head{anchor}})
		var ce *ChainError
		if !errors.As(err, &ce) || ce.Kind != Truncated || ce.Seq != 6 {
			t.Errorf("Verify with anchor: %v, want truncated at 6", err)
		}
	})
}

func TestBodyModes(t *testing.T) {
	for _, mode := range []BodyMode{BodyFull, BodyHeader, BodyNone} {
		t.Run(string(mode), func(t *testing.T) {
			s := open(t, "sqlite:"+filepath.Join(t.TempDir(), "a.db"), Options{BodyMode: mode})
			r := rec(1)
			orig := append([]byte(nil), r.Raw...)
			if err := s.Append(ctx, r); err != nil {
				t.Fatal(err)
			}
			got, err := s.Get(ctx, "node1", 1)
			if err != nil {
				t.Fatal(err)
			}
			h := sha256.Sum256(orig)
			if string(got.RawHash) != string(h[:]) || got.BodyMode != mode {
				t.Errorf("raw hash or mode not kept: %x %s", got.RawHash, got.BodyMode)
			}
			want := map[BodyMode]string{
				BodyFull:   string(orig),
				BodyHeader: `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Header><eGov_IT:Intestazione xmlns:eGov_IT="http://www.cnipa.it/schemas/2003/eGovIT/Busta1_0/"><eGov_IT:Messaggio><eGov_IT:Identificatore>` + busta(1) + `</eGov_IT:Identificatore></eGov_IT:Messaggio></eGov_IT:Intestazione></soap:Header><soap:Body></soap:Body></soap:Envelope>`,
				BodyNone:   "",
			}[mode]
			if string(got.Raw) != want {
				t.Errorf("raw kept:\n%s\nwant\n%s", got.Raw, want)
			}
			if _, err := s.Verify(ctx, VerifyOptions{}); err != nil {
				t.Error(err)
			}
		})
	}
	if _, err := StripBody([]byte(`<a><b/></a>`)); err == nil {
		t.Error("StripBody accepted an envelope without Body")
	}
	if _, err := StripBody([]byte(`<a><Body>`)); err == nil {
		t.Error("StripBody accepted an unclosed Body")
	}
}

func TestOpenErrors(t *testing.T) {
	for _, tc := range []struct{ dsn, want string }{
		{"", "empty store DSN"},
		{"sqlite:", "want sqlite:PATH"},
		{"sqlite:/tmp/x.db?mode=ro", "want sqlite:PATH"},
		{"mysql://x", "want sqlite:PATH"},
		{"sqlite:" + filepath.Join(t.TempDir(), "missing-dir", "a.db"), "open sqlite store"},
	} {
		_, err := Open(ctx, tc.dsn, Options{})
		if err == nil || !contains(err.Error(), tc.want) {
			t.Errorf("Open(%q) = %v, want an error containing %q", tc.dsn, err, tc.want)
		}
	}
	if _, err := Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "a.db"), Options{BodyMode: "some"}); err == nil {
		t.Error("Open accepted body mode some")
	}
}

func contains(s, sub string) bool {
	return len(sub) == 0 || (len(s) >= len(sub) && indexOf(s, sub) >= 0)
}
func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

func TestSameNodeTwice(t *testing.T) {
	both(t, func(t *testing.T, dsn string) {
		a := open(t, dsn, Options{Node: "a"})
		b := open(t, dsn, Options{Node: "a"})
		appendN(t, a, 1, 3)
		err := b.Append(ctx, rec(4))
		if !errors.Is(err, ErrConflict) {
			t.Fatalf("a second writer of node a: %v, want ErrConflict", err)
		}
		// It picked up the real head and goes on without forking the chain.
		if err := b.Append(ctx, rec(5)); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Verify(ctx, VerifyOptions{}); err != nil {
			t.Error(err)
		}
	})
}

func TestSQLiteSettings(t *testing.T) {
	s := open(t, "sqlite:"+filepath.Join(t.TempDir(), "a.db"), Options{})
	for pragma, want := range map[string]string{"journal_mode": "wal", "synchronous": "2", "foreign_keys": "1", "busy_timeout": "10000",
		"wal_autocheckpoint": "0", "journal_size_limit": strconv.Itoa(walLimit), "secure_delete": "1"} {
		var got string
		if err := s.DB().QueryRow("PRAGMA " + pragma).Scan(&got); err != nil || got != want {
			t.Errorf("PRAGMA %s = %q (%v), want %q", pragma, got, err, want)
		}
	}
}

// The writer's connections never checkpoint (wal_autocheckpoint=0, above); the Store's
// checkpointer copies the WAL into the database file in the background.
func TestSQLiteCheckpointer(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.db")
	s := open(t, "sqlite:"+path, Options{})
	size := func() int64 {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	before := size()
	for n := 1; n <= 200; n += 20 {
		recs := make([]*Record, 20)
		for i := range recs {
			recs[i] = rec(n + i)
		}
		if err := s.Append(ctx, recs...); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * checkpointEvery)
	for size() <= before {
		if time.Now().After(deadline) {
			t.Fatalf("the database file is still %d bytes %v after 200 appends: no checkpoint ran", before, 10*checkpointEvery)
		}
		time.Sleep(checkpointEvery / 10)
	}
	if _, err := s.Verify(ctx, VerifyOptions{}); err != nil {
		t.Fatal(err)
	}
}

package audit

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var testIndexKey = bytes.Repeat([]byte{0x5a}, 32)

const cfA, cfB = "RSSMRA80A01H501U", "PRSDNL79R51Z129X"

// TestBusinessIDSearch is the search by codice fiscale over an exchange like the demo's: the
// request out and its reply in both carry the worker's cf and are found, newest first, with the
// other filters and the cursor; another worker's records are not.
func TestBusinessIDSearch(t *testing.T) {
	both(t, func(t *testing.T, dsn string) {
		clk := newClock()
		s := open(t, dsn, Options{Now: clk.Now, IndexKey: testIndexKey})
		req := rec(10)
		req.IDs = []BusinessID{{"cf", cfA}}
		reply := rec(11)
		reply.Direction, reply.RelatesTo, reply.Outcome, reply.Sender, reply.Receiver = In, busta(10), "received", "Ministero", "Provincia"
		reply.IDs = []BusinessID{{"cf", " " + strings.ToLower(cfA) + "\n"}, {"sap", "BO12345678A"}}
		other := rec(20)
		other.Receiver, other.Service = "Comune", "Anagrafe"
		other.IDs = []BusinessID{{"cf", cfB}}
		plain := rec(30) // no identifiers: hashes as before migration 00006
		for _, r := range []*Record{req, reply, other, plain} {
			clk.Add(time.Second)
			if err := s.Append(ctx, r); err != nil {
				t.Fatal(err)
			}
			if r.IDs != nil {
				t.Fatalf("record %d keeps its identifiers in clear after Append", r.Seq)
			}
		}
		if len(reply.IDKeys) != 2 || len(plain.IDKeys) != 0 {
			t.Fatalf("IDKeys: reply %d, plain %d; want 2 and 0", len(reply.IDKeys), len(plain.IDKeys))
		}
		cf := func(v string) BusinessID { return BusinessID{Name: "cf", Value: v} }
		for _, tc := range []struct {
			name string
			f    Filter
			want []string
		}{
			{"cf, in and out, newest first", Filter{BusinessID: cf(cfA)}, []string{busta(11), busta(10)}},
			{"normalised", Filter{BusinessID: cf(" rssmra80a01h501u ")}, []string{busta(11), busta(10)}},
			{"another worker", Filter{BusinessID: cf(cfB)}, []string{busta(20)}},
			{"unknown", Filter{BusinessID: cf("XXXXXX00X00X000X")}, nil},
			{"another name", Filter{BusinessID: BusinessID{"sap", "BO12345678A"}}, []string{busta(11)}},
			{"the value under another name", Filter{BusinessID: BusinessID{"sap", cfA}}, nil},
			{"with direction", Filter{BusinessID: cf(cfA), Direction: Out}, []string{busta(10)}},
			{"with party", Filter{BusinessID: cf(cfA), Party: "Ministero"}, []string{busta(11), busta(10)}},
			{"with party and service", Filter{BusinessID: cf(cfB), Party: "Comune", Service: "Anagrafe"}, []string{busta(20)}},
			{"with time", Filter{BusinessID: cf(cfA), From: reply.Recorded}, []string{busta(11)}},
			{"limit", Filter{BusinessID: cf(cfA), Limit: 1}, []string{busta(11)}},
			{"before", Filter{BusinessID: cf(cfA), Before: reply}, []string{busta(10)}},
		} {
			got, err := s.List(ctx, tc.f)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			var ids []string
			for _, r := range got {
				ids = append(ids, r.ID)
			}
			if fmt.Sprint(ids) != fmt.Sprint(tc.want) {
				t.Errorf("%s: %v, want %v", tc.name, ids, tc.want)
			}
		}
		ids, err := s.MessageIDs(ctx, Filter{BusinessID: cf(cfA), Direction: In})
		if err != nil || fmt.Sprint(ids) != fmt.Sprint([]string{busta(11)}) {
			t.Errorf("MessageIDs by cf: %v, %v", ids, err)
		}
		// The identifiers are read back as stored, and are inside the chain.
		got, err := s.Get(ctx, s.Node(), reply.Seq)
		if err != nil || fmt.Sprint(got.IDKeys) != fmt.Sprint(reply.IDKeys) {
			t.Fatalf("Get: %v %v, want %v", got.IDKeys, err, reply.IDKeys)
		}
		if _, err := s.Verify(ctx, VerifyOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.DB().ExecContext(ctx, s.q(`UPDATE trace SET ids = ? WHERE seq = ?`), encodeIDs(nil, other.IDKeys), reply.Seq); err != nil {
			t.Fatal(err)
		}
		var ce *ChainError
		if _, err := s.Verify(ctx, VerifyOptions{}); !errors.As(err, &ce) || ce.Seq != reply.Seq || ce.Kind != Edited {
			t.Errorf("Verify after the identifiers of record %d were swapped: %v, want it edited", reply.Seq, err)
		}
		// No codice fiscale in clear where the identifiers are kept.
		var n int
		if err := s.DB().GetContext(ctx, &n, `SELECT COUNT(*) FROM trace_id`); err != nil || n != 4 {
			t.Errorf("trace_id rows: %d %v, want 4", n, err)
		}
		var cols [][]byte
		if err := s.DB().SelectContext(ctx, &cols, `SELECT value_key FROM trace_id UNION ALL SELECT ids FROM trace`); err != nil {
			t.Fatal(err)
		}
		for _, c := range cols {
			for _, v := range []string{cfA, cfB, strings.ToLower(cfA), "BO12345678A"} {
				if bytes.Contains(c, []byte(v)) {
					t.Errorf("the stored identifiers hold %s in clear", v)
				}
			}
		}
	})
}

// TestBusinessIDNoClearCF: with bodies not kept, the store's files hold no codice fiscale at all.
func TestBusinessIDNoClearCF(t *testing.T) {
	dir := t.TempDir()
	s := open(t, "sqlite:"+filepath.Join(dir, "audit.db"), Options{BodyMode: BodyNone, IndexKey: testIndexKey})
	r := rec(1)
	r.IDs = []BusinessID{{"cf", cfA}}
	if err := s.Append(ctx, r); err != nil {
		t.Fatal(err)
	}
	if got, err := s.List(ctx, Filter{BusinessID: BusinessID{"cf", cfA}}); err != nil || len(got) != 1 {
		t.Fatalf("search: %d records, %v", len(got), err)
	}
	s.Close()
	files, _ := filepath.Glob(filepath.Join(dir, "audit.db*"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(cfA)) {
			t.Errorf("%s holds the codice fiscale in clear", filepath.Base(f))
		}
	}
}

// TestBusinessIDCaps: a hostile payload's identifiers cost at most MaxRecordIDs index entries, and
// values too long to be identifiers, empty ones and repeats none.
func TestBusinessIDCaps(t *testing.T) {
	s := open(t, "sqlite:"+filepath.Join(t.TempDir(), "audit.db"), Options{IndexKey: testIndexKey})
	r := rec(1)
	for i := range 3 * MaxRecordIDs {
		r.IDs = append(r.IDs, BusinessID{"cf", fmt.Sprintf("CF%014d", i)})
	}
	long := rec(2)
	long.IDs = []BusinessID{{"cf", strings.Repeat("A", MaxIDValue+1)}, {"cf", "  "}, {"cf", cfA}, {"cf", cfA}, {"cf", strings.ToLower(cfA)}}
	if err := s.Append(ctx, r, long); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := s.DB().GetContext(ctx, &n, `SELECT COUNT(*) FROM trace_id`); err != nil || n != MaxRecordIDs+1 {
		t.Errorf("trace_id rows: %d %v, want %d", n, err, MaxRecordIDs+1)
	}
	if len(r.IDKeys) != MaxRecordIDs || len(long.IDKeys) != 1 {
		t.Errorf("IDKeys: %d and %d, want %d and 1", len(r.IDKeys), len(long.IDKeys), MaxRecordIDs)
	}
	if _, err := s.Verify(ctx, VerifyOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestBusinessIDWithoutKey: a store without an index key indexes nothing and refuses the search.
func TestBusinessIDWithoutKey(t *testing.T) {
	s := open(t, "sqlite:"+filepath.Join(t.TempDir(), "audit.db"), Options{})
	r := rec(1)
	r.IDs = []BusinessID{{"cf", cfA}}
	if err := s.Append(ctx, r); err != nil {
		t.Fatal(err)
	}
	if len(r.IDKeys) != 0 || r.IDs != nil {
		t.Errorf("without a key: IDKeys %v, IDs %v; want none", r.IDKeys, r.IDs)
	}
	if _, err := s.List(ctx, Filter{BusinessID: BusinessID{"cf", cfA}}); !errors.Is(err, ErrNoIndexKey) {
		t.Errorf("search without a key: %v, want ErrNoIndexKey", err)
	}
	if _, err := Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "b.db"), Options{IndexKey: []byte("short")}); err == nil {
		t.Error("a 5-byte index key was accepted")
	}
}

func TestDecodeIDsRejectsJunk(t *testing.T) {
	good := encodeIDs(nil, []IDKey{{"cf", bytes.Repeat([]byte{1}, 32)}})
	if got, err := decodeIDs(good); err != nil || len(got) != 1 || got[0].Name != "cf" {
		t.Fatalf("decode: %v %v", got, err)
	}
	for _, b := range [][]byte{good[:10], append(bytes.Clone(good), 0), {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}} {
		if _, err := decodeIDs(b); err == nil {
			t.Errorf("decodeIDs(%x) accepted", b)
		}
	}
}

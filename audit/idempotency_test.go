package audit

import (
	"errors"
	"testing"
	"time"
)

func TestIdempotencyKeys(t *testing.T) {
	both(t, func(t *testing.T, dsn string) {
		clk := newClock()
		s := open(t, dsn, Options{Node: "a", Now: clk.Now})
		if r, err := s.IdempotentRequest(ctx, "SIL", "k1"); r != nil || err != nil {
			t.Fatalf("unknown key: %v, %v", r, err)
		}
		// Kept with the item it made, in one transaction.
		k := &Idempotent{App: "SIL", Key: "k1", Hash: []byte("h1"), MsgID: busta(1), Status: 200, Header: []byte("hdr"), Expires: clk.Now().Add(time.Hour)}
		if err := s.Write(ctx, Batch{Items: []*Item{item(Outbox, 1)}, Idempotent: k}); err != nil {
			t.Fatal(err)
		}
		r, err := s.IdempotentRequest(ctx, "SIL", "k1")
		if err != nil || r == nil || string(r.Hash) != "h1" || r.MsgID != busta(1) || r.Status != 200 || string(r.Header) != "hdr" {
			t.Fatalf("kept key read back as %+v, %v", r, err)
		}
		if other, _ := s.IdempotentRequest(ctx, "Other", "k1"); other != nil {
			t.Error("a key of SIL answered for another application")
		}
		// A second batch under the same key writes nothing.
		err = s.Write(ctx, Batch{Items: []*Item{item(Outbox, 2)}, Idempotent: &Idempotent{App: "SIL", Key: "k1", Expires: clk.Now().Add(time.Hour)}})
		if !errors.Is(err, ErrKeyTaken) {
			t.Fatalf("second write under k1: %v, want ErrKeyTaken", err)
		}
		if st, _ := s.Stats(ctx, Outbox); st.Depth != 1 {
			t.Errorf("outbox depth %d after the refused batch, want 1", st.Depth)
		}
		// A synchronous exchange: kept pending, then settled.
		if err := s.KeepIdempotent(ctx, &Idempotent{App: "SIL", Key: "k2", MsgID: busta(3), Expires: clk.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if r, _ := s.IdempotentRequest(ctx, "SIL", "k2"); r == nil || r.Status != 0 {
			t.Fatalf("pending key: %+v", r)
		}
		if err := s.SettleIdempotent(ctx, "SIL", "k2", 500, nil, []byte("<fault/>")); err != nil {
			t.Fatal(err)
		}
		if r, _ := s.IdempotentRequest(ctx, "SIL", "k2"); r == nil || r.Status != 500 || string(r.Body) != "<fault/>" {
			t.Fatalf("settled key: %+v", r)
		}
		// Past its window a key is gone, and may be used again.
		clk.Add(2 * time.Hour)
		if r, _ := s.IdempotentRequest(ctx, "SIL", "k1"); r != nil {
			t.Error("an expired key answered")
		}
		if err := s.KeepIdempotent(ctx, &Idempotent{App: "SIL", Key: "k1", Expires: clk.Now().Add(time.Hour)}); err != nil {
			t.Errorf("reusing an expired key: %v", err)
		}
		if n, err := s.PurgeIdempotent(ctx); err != nil || n != 1 {
			t.Errorf("purge: %d, %v; want k2, expired, gone and k1, live, kept", n, err)
		}
	})
}

package audit

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"
)

func TestListAndShow(t *testing.T) {
	both(t, func(t *testing.T, dsn string) {
		clk := newClock()
		s := open(t, dsn, Options{Now: clk.Now})
		// An exchange: request 10 out, its reply in (RelatesTo 10), an ack (RelatesTo 10), and
		// unrelated traffic with another party.
		req := rec(10)
		reply := rec(11)
		reply.Direction, reply.RelatesTo, reply.Outcome, reply.Sender, reply.Receiver = In, busta(10), "received", "Ministero", "Provincia"
		ack := rec(12)
		ack.Direction, ack.RelatesTo, ack.Outcome, ack.Conversation = In, busta(10), "acked", ""
		other := rec(20)
		other.Receiver, other.Service, other.Outcome, other.Conversation = "Comune", "Anagrafe", "error", ""
		for _, r := range []*Record{req, reply, ack, other} {
			clk.Add(time.Second)
			if err := s.Append(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		t0 := req.Recorded
		for _, tc := range []struct {
			name string
			f    Filter
			want []string
		}{
			{"all, newest first", Filter{}, []string{busta(20), busta(12), busta(11), busta(10)}},
			{"limit", Filter{Limit: 2}, []string{busta(20), busta(12)}},
			{"party as receiver", Filter{Party: "Comune"}, []string{busta(20)}},
			{"party as sender or receiver", Filter{Party: "Ministero"}, []string{busta(12), busta(11), busta(10)}},
			{"service", Filter{Service: "Anagrafe"}, []string{busta(20)}},
			{"outcome", Filter{Outcome: "acked"}, []string{busta(12)}},
			{"id matches RelatesTo", Filter{ID: busta(10)}, []string{busta(12), busta(11), busta(10)}},
			{"id matches the transaction", Filter{ID: "tx-11"}, []string{busta(11)}},
			{"direction", Filter{Direction: Out}, []string{busta(20), busta(10)}},
			{"time window", Filter{From: t0.Add(time.Second), To: t0.Add(3 * time.Second)}, []string{busta(12), busta(11)}},
			{"before", Filter{Before: ack}, []string{busta(11), busta(10)}},
		} {
			got, err := s.List(ctx, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, r := range got {
				ids = append(ids, r.ID)
				if r.Raw != nil && len(r.Raw) > 0 {
					t.Errorf("%s: List returned the envelope bytes", tc.name)
				}
			}
			if len(ids) != len(tc.want) {
				t.Errorf("%s: %v, want %v", tc.name, ids, tc.want)
				continue
			}
			for i := range ids {
				if ids[i] != tc.want[i] {
					t.Errorf("%s: %v, want %v", tc.name, ids, tc.want)
					break
				}
			}
		}
		// The distinct identifiers, unlimited: what was sent to a party's service, what was answered.
		for _, tc := range []struct {
			name string
			get  func(context.Context, Filter) ([]string, error)
			f    Filter
			want []string
		}{
			{"sent to Comune", s.MessageIDs, Filter{Direction: Out, Party: "Comune", Service: "Anagrafe"}, []string{busta(20)}},
			{"sent to Ministero", s.MessageIDs, Filter{Direction: Out, Party: "Ministero"}, []string{busta(10)}},
			{"sent, limit ignored", s.MessageIDs, Filter{Direction: Out, Limit: 1}, []string{busta(10), busta(20)}},
			{"answered", s.RelatedIDs, Filter{Direction: In, Outcome: "received"}, []string{busta(10)}},
			{"acked or answered, once", s.RelatedIDs, Filter{Direction: In}, []string{busta(10)}},
			{"nothing relates to what went out", s.RelatedIDs, Filter{Direction: Out}, nil},
		} {
			got, err := tc.get(ctx, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
			}
		}
		for _, key := range []string{busta(10), "tx-10", "node1/1"} {
			ex, err := s.Show(ctx, key)
			if err != nil {
				t.Fatalf("Show(%s): %v", key, err)
			}
			if ex.Record.ID != busta(10) || len(ex.Record.Raw) == 0 || len(ex.Exchange) != 3 || ex.Exchange[0].ID != busta(10) || ex.Exchange[2].ID != busta(12) {
				t.Errorf("Show(%s) = record %s with %d in the exchange", key, ex.Record.ID, len(ex.Exchange))
			}
		}
		if _, err := s.Show(ctx, "nothing"); !errors.Is(err, ErrNotFound) {
			t.Errorf("Show of an unknown key: %v", err)
		}
	})
}

package audit

import (
	"errors"
	"testing"
	"time"
)

func TestOperators(t *testing.T) {
	both(t, func(t *testing.T, dsn string) {
		clk := newClock()
		s := open(t, dsn, Options{Now: clk.Now})
		if err := s.PutOperator(ctx, &Operator{Name: "mario", Role: "viewer", PasswordHash: "h1"}); err != nil {
			t.Fatal(err)
		}
		clk.Add(time.Hour)
		if err := s.PutOperator(ctx, &Operator{Name: "mario", Role: "admin", PasswordHash: "h2"}); err != nil {
			t.Fatal(err)
		}
		if err := s.PutOperator(ctx, &Operator{Name: "anna", Role: "operator", PasswordHash: "h3"}); err != nil {
			t.Fatal(err)
		}
		if err := s.PutOperator(ctx, &Operator{Name: "x", Role: "viewer"}); err == nil {
			t.Error("an operator without a password hash was kept")
		}
		// A certificate instead of a password; one certificate, one operator.
		if err := s.PutOperator(ctx, &Operator{Name: "lucia", Role: "viewer", CertSHA256: "ab12"}); err != nil {
			t.Fatal(err)
		}
		if err := s.PutOperator(ctx, &Operator{Name: "anna", Role: "operator", PasswordHash: "h3", CertSHA256: "ab12"}); !errors.Is(err, ErrCertTaken) {
			t.Errorf("a certificate given to a second operator: %v", err)
		}
		if op, err := s.OperatorByCert(ctx, "ab12"); err != nil || op.Name != "lucia" || op.PasswordHash != "" {
			t.Errorf("by certificate: %+v %v", op, err)
		}
		if _, err := s.OperatorByCert(ctx, "cd34"); !errors.Is(err, ErrNoOperator) {
			t.Errorf("an unknown certificate: %v", err)
		}
		if err := s.RemoveOperator(ctx, "lucia"); err != nil {
			t.Fatal(err)
		}
		op, err := s.GetOperator(ctx, "mario")
		if err != nil {
			t.Fatal(err)
		}
		if op.Role != "admin" || op.PasswordHash != "h2" || !op.Created.Equal(newClock().Now()) || !op.Updated.Equal(clk.Now()) {
			t.Errorf("mario after a change: %+v", op)
		}
		list, err := s.Operators(ctx)
		if err != nil || len(list) != 2 || list[0].Name != "anna" || list[1].Name != "mario" {
			t.Fatalf("operators: %v %v", list, err)
		}
		if err := s.RemoveOperator(ctx, "mario"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetOperator(ctx, "mario"); !errors.Is(err, ErrNoOperator) {
			t.Errorf("removed operator: %v", err)
		}
		if err := s.RemoveOperator(ctx, "mario"); !errors.Is(err, ErrNoOperator) {
			t.Errorf("removing twice: %v", err)
		}
	})
}

// Spans sums a node's records up per transaction: its first and last times, its peer and its
// worst outcome; records of the skipped function are left out.
func TestSpans(t *testing.T) {
	both(t, func(t *testing.T, dsn string) {
		s := open(t, dsn, Options{Node: "gw1"})
		base := time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)
		recs := []*Record{
			{Transaction: "t1", ID: busta(1), Direction: Out, Sender: "Provincia", Receiver: "Ministero", Service: "SAP", Outcome: "sent", Recorded: base},
			{Transaction: "t1", ID: busta(2), Direction: In, Sender: "Ministero", Receiver: "Provincia", Service: "SAP", Outcome: "received", Recorded: base.Add(120 * time.Millisecond)},
			{Transaction: "t1", ID: busta(6), RelatesTo: busta(1), Direction: In, Sender: "Ministero", Receiver: "Provincia", Outcome: "received", Recorded: base.Add(150 * time.Millisecond)}, // a riscontro: no service
			{Transaction: "t2", ID: busta(3), Direction: In, Sender: "Comune", Receiver: "Provincia", Service: "Anagrafe", Outcome: "error", Recorded: base.Add(time.Second)},
			{Transaction: "", ID: busta(4), Direction: In, Sender: "Comune", Receiver: "Provincia", Service: "Anagrafe", Outcome: "error", Recorded: base.Add(2 * time.Second)},
			{Transaction: "", ID: busta(5), Direction: In, Sender: "Comune", Receiver: "Provincia", Service: "Anagrafe", Outcome: "expired", Recorded: base.Add(3 * time.Second)},
			{Transaction: "op-1", ID: "op-1", Direction: In, Function: "Operator", Outcome: "login", Recorded: base.Add(4 * time.Second)},
		}
		if err := s.Append(ctx, recs...); err != nil {
			t.Fatal(err)
		}
		var spans []Span
		err := s.Spans(ctx, base, base.Add(time.Hour), "Operator", func(sp Span) error { spans = append(spans, sp); return nil })
		if err != nil {
			t.Fatal(err)
		}
		if len(spans) != 4 {
			t.Fatalf("%d spans, want 4 (t1, t2 and the two records without a transaction): %+v", len(spans), spans)
		}
		var sap *Span
		worst := map[string]int{}
		for i, sp := range spans {
			if sp.Service == "SAP" {
				sap = &spans[i]
			}
			worst[sp.Worst]++
		}
		if sap == nil || sap.Records != 3 || sap.Last.Sub(sap.First) != 150*time.Millisecond || sap.Peer != "Ministero" || sap.Worst != "" {
			t.Errorf("the SAP exchange: %+v", sap)
		}
		if worst["error"] != 2 || worst["expired"] != 1 {
			t.Errorf("worst outcomes: %v", worst)
		}
	})
}

func TestPendingAndJobDue(t *testing.T) {
	both(t, func(t *testing.T, dsn string) {
		clk := newClock()
		s := open(t, dsn, Options{Now: clk.Now})
		for i := 1; i <= 3; i++ {
			if err := s.Enqueue(ctx, &Item{Kind: Outbox, MsgID: busta(i), Party: "Ministero", Service: "SAP"}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.Claim(ctx, "w", Outbox, 1, time.Minute); err != nil {
			t.Fatal(err)
		}
		if err := s.Fail(ctx, Outbox, busta(1), "refused"); err != nil {
			t.Fatal(err)
		}
		pending, err := s.Pending(ctx, Outbox, 10)
		if err != nil || len(pending) != 2 || pending[0].MsgID != busta(2) {
			t.Fatalf("pending: %v %v", pending, err)
		}
		failed, err := s.Failed(ctx, Outbox, 10)
		if err != nil || len(failed) != 1 || failed[0].LastError != "refused" {
			t.Fatalf("failed: %v %v", failed, err)
		}

		tomorrow := func(t time.Time) time.Time { return t.Add(24 * time.Hour) }
		if _, claimed, err := s.ClaimJob(ctx, "nightly", "gw1", time.Minute, tomorrow); err != nil || claimed {
			t.Fatalf("a job not due was claimed (%v)", err)
		}
		st, err := s.MakeJobDue(ctx, "nightly")
		if err != nil || !st.Due.Equal(clk.Now()) {
			t.Fatalf("made due: %+v %v", st, err)
		}
		if _, claimed, err := s.ClaimJob(ctx, "nightly", "gw1", time.Minute, tomorrow); err != nil || !claimed {
			t.Fatalf("a job made due was not claimed (%v)", err)
		}
	})
}

package audit

import (
	"context"
	"path/filepath"
	"testing"
)

// A store that got migration 00003 before 00002 existed (the two landed in that order) still
// opens: the missing lower migration is applied late.
func TestOpenAppliesMissingLowerMigration(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "audit.db")
	s, err := Open(ctx, "sqlite:"+path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Undo 00002 as if the store had been made by a binary without it.
	for _, q := range []string{
		"DROP INDEX trace_relates_to", "DROP INDEX trace_conversation", "DROP INDEX trace_tx",
		"CREATE INDEX trace_relates_to ON trace (relates_to)",
		"CREATE INDEX trace_conversation ON trace (conversation)",
		"CREATE INDEX trace_tx ON trace (tx)",
		"DELETE FROM goose_db_version WHERE version_id = 2",
	} {
		if _, err := s.db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(ctx, "sqlite:"+path, Options{})
	if err != nil {
		t.Fatalf("reopen with 00002 missing: %v", err)
	}
	defer s.Close()
	var n int
	if err := s.db.GetContext(ctx, &n, "SELECT COUNT(*) FROM goose_db_version WHERE version_id = 2"); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("00002 recorded %d times after reopening, want 1", n)
	}
}

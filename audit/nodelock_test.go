package audit

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A node's lock is taken once per store: a second taker is refused at once, naming the holder;
// another node of the same store is not; after Close the node can be taken again.
func TestLockNode(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct{ name, dsn string }{
		{"sqlite", "sqlite:" + filepath.Join(t.TempDir(), "porta.db")},
		{"postgres", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			dsn := c.dsn
			if dsn == "" {
				dsn = pg.DB(t)
			}
			first, err := LockNode(ctx, dsn, "provincia-1")
			if err != nil {
				t.Fatal(err)
			}
			_, err = LockNode(ctx, dsn, "provincia-1")
			if !errors.Is(err, ErrNodeLocked) || !strings.Contains(err.Error(), fmt.Sprintf("pid %d", os.Getpid())) || !strings.Contains(err.Error(), "node provincia-1") {
				t.Fatalf("second lock of the node: %v, want ErrNodeLocked naming node provincia-1 and pid %d", err, os.Getpid())
			}
			other, err := LockNode(ctx, dsn, "provincia-2")
			if err != nil {
				t.Fatalf("another node: %v", err)
			}
			other.Close()
			if err := first.Close(); err != nil {
				t.Fatal(err)
			}
			again, err := LockNode(ctx, dsn, "provincia-1")
			if err != nil {
				t.Fatalf("after Close: %v", err)
			}
			again.Close()
		})
	}
}

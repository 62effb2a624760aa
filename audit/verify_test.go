package audit

import (
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"testing"
)

// TestVerifyRanges tampers at and around the joints of the ranges a long chain is verified in
// at once (one per CPU), where the break must be named as a sequential pass would name it.
func TestVerifyRanges(t *testing.T) {
	const rows = 1200
	for _, parts := range []int{2, 3} {
		// The joints: with 2 ranges the second starts at 602, with 3 at 402 and 803.
		joint := int64(rows/parts + 2)
		for _, tc := range []struct {
			name string
			sql  []string
			kind BreakKind
			seq  int64
		}{
			{"edit at the joint", []string{`UPDATE trace SET outcome = 'x' WHERE seq = J`}, Edited, joint},
			{"delete at the joint", []string{`DELETE FROM trace WHERE seq = J`}, Deleted, joint + 1},
			{"delete the last of the first range", []string{`DELETE FROM trace WHERE seq = J - 1`}, Deleted, joint},
			{"swap across the joint", []string{`UPDATE trace SET seq = -1 WHERE seq = J - 1`, `UPDATE trace SET seq = J - 1 WHERE seq = J`, `UPDATE trace SET seq = J WHERE seq = -1`}, Reordered, joint - 1},
			{"edit late, delete early", []string{`UPDATE trace SET outcome = 'x' WHERE seq = 1100`, `DELETE FROM trace WHERE seq = 100`}, Deleted, 101},
		} {
			t.Run(fmt.Sprintf("%d ranges/%s", parts, tc.name), func(t *testing.T) {
				s := open(t, "sqlite:"+filepath.Join(t.TempDir(), "long.db"), Options{})
				s.verifyParallelMin = 500
				if err := bulkLoad(ctx, s, rows); err != nil {
					t.Fatal(err)
				}
				prev := setProcs(parts)
				defer setProcs(prev)
				if _, err := s.Verify(ctx, VerifyOptions{}); err != nil {
					t.Fatalf("untouched: %v", err)
				}
				for _, q := range tc.sql {
					if _, err := s.DB().Exec(replaceJ(q, joint)); err != nil {
						t.Fatal(err)
					}
				}
				_, err := s.Verify(ctx, VerifyOptions{})
				var ce *ChainError
				if !errors.As(err, &ce) || ce.Kind != tc.kind || ce.Seq != tc.seq {
					t.Errorf("Verify = %v; want %s at %d", err, tc.kind, tc.seq)
				}
			})
		}
	}
}

func replaceJ(q string, j int64) string {
	for _, pair := range [][2]string{{"J - 1", fmt.Sprint(j - 1)}, {"J", fmt.Sprint(j)}} {
		for {
			i := indexOf(q, pair[0])
			if i < 0 {
				break
			}
			q = q[:i] + pair[1] + q[i+len(pair[0]):]
		}
	}
	return q
}

func setProcs(n int) int { return runtime.GOMAXPROCS(n) }

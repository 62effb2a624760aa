package e2e

import (
	"database/sql"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"

	"porta/internal/proctest"
)

// TestTraceVerifyDetectsTampering: after real traffic between the two processes, changing,
// deleting or reordering one audit row of the Ministero's SQLite database with SQL makes
// porta trace verify --config exit 1 naming the first broken record; the untouched database
// verifies.
func TestTraceVerifyDetectsTampering(t *testing.T) {
	t.Parallel()
	be := newBackend(t)
	p, m := newSites(t, map[string]string{prov: be.URL, min_: be.URL})
	gp := serve(t, p, "provincia")
	gm := serve(t, m, "ministero")
	for i := range 4 {
		if resp, body := gp.mustCall(t, "/pd/Provincia/Ministero/Anagrafe/Consulta", i, nil); resp.StatusCode != 200 {
			t.Fatalf("call %d: %d\n%s", i, resp.StatusCode, body)
		}
	}
	for _, g := range []*gw{gp, gm} {
		if err := g.proc.Stop(10 * time.Second); err != nil {
			t.Fatalf("%s stopped with %v", g.name, err)
		}
	}
	node := min_ + "-1" // porta init's node name
	for _, tc := range []struct {
		name, sql string
		seq       string // the record verify must name
	}{
		{"untouched", "", ""},
		{"edited", `UPDATE trace SET sender = 'Falso' WHERE node = ?1 AND seq = 3`, "record 3"},
		{"payload size edited", `UPDATE trace SET payload_size = payload_size + 1 WHERE node = ?1 AND seq = 5`, "record 5"},
		{"deleted", `DELETE FROM trace WHERE node = ?1 AND seq = 3`, "record 4"},
		{"reordered", `UPDATE trace SET seq = -3 WHERE node = ?1 AND seq = 3;
			UPDATE trace SET seq = 3 WHERE node = ?1 AND seq = 4;
			UPDATE trace SET seq = 4 WHERE node = ?1 AND seq = -3`, "record 3"},
		{"head deleted", `DELETE FROM trace WHERE node = ?1 AND seq = (SELECT MAX(seq) FROM trace)`, "record 8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := copySite(t, m.dir)
			if tc.sql != "" {
				db, err := sql.Open("sqlite3", filepath.Join(dir, "porta.db"))
				if err != nil {
					t.Fatal(err)
				}
				for _, stmt := range strings.Split(tc.sql, ";") {
					res, err := db.Exec(stmt, node)
					if err != nil {
						t.Fatalf("%s: %v", stmt, err)
					}
					if n, _ := res.RowsAffected(); n == 0 {
						t.Fatalf("%s changed no row", stmt)
					}
				}
				db.Close()
			}
			out, err := exec.Command(proctest.Binary(t), "trace", "verify", "--config", filepath.Join(dir, "porta.yaml")).CombinedOutput()
			var ee *exec.ExitError
			switch {
			case tc.sql == "" && err != nil:
				t.Fatalf("untouched database: %v\n%s", err, out)
			case tc.sql == "":
				return
			case !errors.As(err, &ee) || ee.ExitCode() != 1:
				t.Fatalf("verify after %q: %v, want exit status 1\n%s", tc.sql, err, out)
			}
			if want := "node " + node + " broken at " + tc.seq; !strings.Contains(string(out), want) {
				t.Errorf("verify output does not say %q:\n%s", want, out)
			}
		})
	}
}

// copySite copies a stopped gateway's folder (configuration, registry, keys, database).
func copySite(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

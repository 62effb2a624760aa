package demo

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"porta/adapters/codicefiscale"
	"porta/internal/pgtest"
	"porta/internal/testenv"
)

// After porta demo, no gateway's store holds a codice fiscale the demo used: not in clear, not
// in hex (how pg_dump writes bytea), not in base64. The labour services keep bodies encrypted
// (labour.Service.TraceBody) and the stores seal their queues; the chains verify. On SQLite the
// store's files are scanned whole (main, -wal, -shm); on PostgreSQL each database's pg_dump.
func TestDemoKeepsNoCodiceFiscaleInClear(t *testing.T) {
	for _, tc := range []struct {
		name  string
		store func(t *testing.T) func(party string) string
	}{
		{"sqlite", func(*testing.T) func(string) string { return nil }},
		{"postgres", pgStores},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			stores := tc.store(t)
			rep, err := Run(context.Background(), Options{Dir: dir, Workers: 20, Concurrency: 8, Seed: 7, Store: stores})
			if err != nil {
				t.Fatal(err)
			}
			if !rep.OK() || rep.TraceVerify != "ok" {
				t.Fatalf("the demo did not run clean: trace verify %s, %+v", rep.TraceVerify, rep.Flows)
			}
			cfs := usedCFs(t, dir)
			if len(cfs) < 20 {
				t.Fatalf("found %d codici fiscali in the demo's own data, want at least one per worker", len(cfs))
			}
			scanned := 0
			for _, party := range Parties {
				var files map[string][]byte
				if stores == nil {
					files = sqliteFiles(t, filepath.Join(dir, party, "porta.db"))
				} else {
					files = map[string][]byte{party + " pg_dump": pgDump(t, stores(party))}
				}
				for name, data := range files {
					scanned += len(data)
					for cf, pats := range cfs {
						for _, p := range pats {
							if i := bytes.Index(data, p); i >= 0 {
								t.Errorf("%s: codice fiscale %s at byte %d (as %q)", name, cf, i, p)
								break
							}
						}
					}
				}
			}
			if scanned == 0 {
				t.Fatal("no store files scanned")
			}
			t.Logf("%d codici fiscali, none in %d bytes of the gateways' stores", len(cfs), scanned)
		})
	}
}

var cfShape = regexp.MustCompile(`[A-Z]{6}[0-9LMNPQRSTUV]{2}[A-EHLMPR-T][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]`)

// usedCFs returns every valid codice fiscale in the demo's own data (the SIL, the comuni's and
// schools' data, the backends' stores: everything under dir but the gateways' stores), each with
// the byte patterns that would give it away: clear, hex, and base64 at each alignment.
func usedCFs(t *testing.T, dir string) map[string][][]byte {
	t.Helper()
	out := map[string][][]byte{}
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(d.Name(), "porta.db") {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range cfShape.FindAll(data, -1) {
			cf := string(m)
			if _, ok := out[cf]; ok || codicefiscale.Validate(cf) != nil {
				continue
			}
			pats := [][]byte{[]byte(cf), []byte(hex.EncodeToString([]byte(cf)))}
			for k := range 3 {
				// The base64 characters that depend on the codice fiscale alone: skip the
				// quantum holding the k bytes before it and the last one, which may hold bytes after.
				enc := base64.StdEncoding.EncodeToString(append(bytes.Repeat([]byte{'x'}, k), cf...))
				from := 0
				if k > 0 {
					from = 4
				}
				pats = append(pats, []byte(enc[from:len(enc)-4]))
			}
			out[cf] = pats
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// sqliteFiles reads a SQLite store's files that exist: the database, its WAL and shared memory.
func sqliteFiles(t *testing.T, db string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if data, err := os.ReadFile(db + suffix); err == nil {
			out[filepath.Base(filepath.Dir(db))+"/"+filepath.Base(db)+suffix] = data
		}
	}
	if len(out) == 0 {
		t.Fatalf("no store at %s", db)
	}
	return out
}

// pgStores starts a PostgreSQL server for the test and gives each party a database of its own.
func pgStores(t *testing.T) func(string) string {
	bin, err := pgtest.Binaries()
	if err != nil {
		testenv.Missing(t, "PostgreSQL server binaries", "apt-get install postgresql")
	}
	if _, err := os.Stat(filepath.Join(bin, "pg_dump")); err != nil {
		testenv.Missing(t, "pg_dump", "apt-get install postgresql-client")
	}
	srv, err := pgtest.StartServer(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	dsns := map[string]string{}
	for _, p := range Parties {
		if dsns[p], err = srv.CreateDB(); err != nil {
			t.Fatal(err)
		}
	}
	return func(party string) string { return dsns[party] }
}

// pgDump dumps the database of dsn as SQL (data and schema).
func pgDump(t *testing.T, dsn string) []byte {
	t.Helper()
	bin, _ := pgtest.Binaries()
	out, err := exec.Command(filepath.Join(bin, "pg_dump"), "--dbname", dsn).Output()
	if err != nil {
		t.Fatalf("pg_dump: %v", err)
	}
	return out
}

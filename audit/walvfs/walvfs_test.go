package walvfs

import (
	"bytes"
	"database/sql"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	_ "github.com/mattn/go-sqlite3"
)

// open opens path with the VFS named vfs ("" for the default), in WAL mode with the writer's
// settings of package audit; more adds PRAGMA parameters.
func open(t *testing.T, path, vfs string, more ...string) *sql.DB {
	t.Helper()
	if err := Register(); err != nil {
		t.Fatal(err)
	}
	q := url.Values{}
	q.Set("_journal_mode", "WAL")
	q.Set("_synchronous", "FULL")
	q.Set("_busy_timeout", "10000")
	q.Set("_txlock", "immediate")
	if vfs != "" {
		q.Set("vfs", vfs)
	}
	for i := 0; i+1 < len(more); i += 2 {
		q.Set(more[i], more[i+1])
	}
	db, err := sql.Open("sqlite3", "file:"+path+"?"+q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	exec(t, db, "PRAGMA wal_autocheckpoint = 0")
	return db
}

func exec(t *testing.T, db *sql.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func count(t *testing.T, db *sql.DB) int {
	t.Helper()
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM t").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func blob(i, size int) []byte { return bytes.Repeat([]byte{byte(i)}, size) }

// insert commits rows rows of 3 KB in one transaction.
func insert(t *testing.T, db *sql.DB, from, rows int) {
	t.Helper()
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	for i := from; i < from+rows; i++ {
		if _, err := tx.Exec("INSERT INTO t (id, b) VALUES (?, ?)", i, blob(i, 3000)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

// Every commit is in the files when Commit returns, whatever the sync setting: a copy of the
// database and its WAL taken then, opened with the default VFS, holds it; and another connection
// on the default VFS reads it at once. After a checkpoint that empties the WAL, the database file
// alone holds everything (the checkpoint's page writes are buffered too).
func TestCommitInFile(t *testing.T) {
	for _, sync := range []string{"FULL", "NORMAL", "OFF"} {
		t.Run(sync, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "a.db")
			w := open(t, path, Name, "_synchronous", sync)
			exec(t, w, "CREATE TABLE t (id INTEGER PRIMARY KEY, b BLOB NOT NULL)")
			r := open(t, path, "")
			for i, n := 0, 0; i < 40; i++ {
				rows := 1 + i%7*9 // up to 55 rows: commits larger than one write
				insert(t, w, n, rows)
				n += rows
				if got := count(t, r); got != n {
					t.Fatalf("commit %d: the default VFS reads %d rows, want %d", i, got, n)
				}
				if i%10 == 9 {
					cp := filepath.Join(t.TempDir(), "copy.db")
					copyFile(t, path, cp)
					copyFile(t, path+"-wal", cp+"-wal")
					c := open(t, cp, "")
					if got := count(t, c); got != n {
						t.Fatalf("commit %d: a copy of the files holds %d rows, want %d", i, got, n)
					}
					integrity(t, c)
					c.Close()
				}
				if i%10 == 4 {
					exec(t, w, "PRAGMA wal_checkpoint(TRUNCATE)")
					cp := filepath.Join(t.TempDir(), "copy.db")
					copyFile(t, path, cp)
					c := open(t, cp, "")
					if got := count(t, c); got != n {
						t.Fatalf("commit %d, checkpointed: the database file holds %d rows, want %d", i, got, n)
					}
					integrity(t, c)
					c.Close()
				}
			}
		})
	}
}

// A transaction whose frames spilled to the WAL and that rolled back leaves nothing buffered that
// could later overwrite the frames of a transaction another connection commits meanwhile.
func TestRollbackAfterSpill(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.db")
	a := open(t, path, Name, "_cache_size", "10") // ten pages: a large transaction spills
	b := open(t, path, Name)
	exec(t, a, "CREATE TABLE t (id INTEGER PRIMARY KEY, b BLOB NOT NULL)")
	insert(t, a, 0, 5)
	for round := 0; round < 5; round++ {
		tx, err := a.Begin()
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 200; i++ {
			if _, err := tx.Exec("INSERT INTO t (id, b) VALUES (?, ?)", 100000+round*1000+i, blob(i, 3000)); err != nil {
				t.Fatal(err)
			}
		}
		if err := tx.Rollback(); err != nil {
			t.Fatal(err)
		}
		insert(t, b, 1000*(round+1), 20) // b commits over the frames a wrote
		insert(t, a, 1000*(round+1)+500, 3)
	}
	want := 5 + 5*23
	for _, db := range []*sql.DB{a, b, open(t, path, "")} {
		if got := count(t, db); got != want {
			t.Fatalf("%d rows, want %d", got, want)
		}
	}
	exec(t, b, "PRAGMA wal_checkpoint(TRUNCATE)")
	c := open(t, path, "")
	integrity(t, c)
	var sum int
	if err := c.QueryRow("SELECT SUM(length(b)) FROM t WHERE b = zeroblob(0) OR 1").Scan(&sum); err != nil || sum != want*3000 {
		t.Fatalf("blobs %d bytes (%v), want %d", sum, err, want*3000)
	}
}

// The point of the VFS: a commit's frames take one write(2) (per 128 KiB), not two per page.
func TestOneWritePerCommit(t *testing.T) {
	if _, err := os.Stat("/proc/self/io"); err != nil {
		t.Skip("no /proc/self/io to count write(2) calls")
	}
	writes := func(vfs string) int64 {
		path := filepath.Join(t.TempDir(), "a.db")
		db := open(t, path, vfs)
		exec(t, db, "CREATE TABLE t (id INTEGER PRIMARY KEY, b BLOB NOT NULL)")
		exec(t, db, "CREATE INDEX t_b ON t (substr(b, 1, 8))")
		insert(t, db, 0, 1)
		before := syscw(t)
		for i := 0; i < 20; i++ {
			insert(t, db, 10*i+1, 10) // about 10 pages each
		}
		return syscw(t) - before
	}
	plain, coalesced := writes(""), writes(Name)
	t.Logf("20 commits: %d write calls with the default VFS, %d with %s", plain, coalesced, Name)
	if coalesced > 20*2 || coalesced*4 > plain {
		t.Fatalf("%d write calls for 20 commits (default VFS: %d): want about one per commit", coalesced, plain)
	}
}

func syscw(t *testing.T) int64 {
	data, err := os.ReadFile("/proc/self/io")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range bytes.Split(data, []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte("syscw: ")); ok {
			n, err := strconv.ParseInt(string(v), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no syscw in /proc/self/io")
	return 0
}

func integrity(t *testing.T, db *sql.DB) {
	t.Helper()
	var res string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&res); err != nil || res != "ok" {
		t.Fatalf("integrity_check: %q, %v", res, err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(fmt.Errorf("copy %s: %w", from, err))
	}
}

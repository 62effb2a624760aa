// Package walvfs is an SQLite VFS for the audit store: the system's default VFS with the writes
// of a write-ahead log coalesced. SQLite writes each WAL frame with two write(2) calls (its 24-byte
// header, then the page), so a commit of 16 pages makes 32 system calls before its fsync; this VFS
// keeps a transaction's frames in memory and writes them with one call at its commit frame. What
// reaches the file, in what order, and when a commit is synced are unchanged: the frames are
// written before the WAL is synced, read, truncated or closed, before the connection publishes
// the commit to other connections (the WAL index's barrier), and before it gives up the WAL's
// write lock (a transaction rolled back after its frames spilled), so no other connection ever
// reads a frame that is not in the file or writes one that a later flush would overwrite.
//
// It owns nothing else: the database file, journals and temporary files are the default VFS's.
// Where system calls cost little the gain is small; in virtual machines that trap them it is a
// large part of a durable commit's CPU (audit's BenchmarkAppend and BenchmarkExchange).
package walvfs

/*
int porta_walvfs_register(const char *name);
*/
import "C"

import (
	"fmt"
	"sync"

	_ "github.com/mattn/go-sqlite3" // the SQLite this VFS registers with
)

// Name is the VFS's name, for the DSN's vfs parameter.
const Name = "porta-wal"

var cname = C.CString(Name) // SQLite keeps the pointer for the life of the process

// Register registers the VFS with SQLite, once per process; later calls return the first's
// result.
var Register = sync.OnceValue(func() error {
	if rc := C.porta_walvfs_register(cname); rc != 0 {
		return fmt.Errorf("sqlite: register VFS %s: error %d", Name, int(rc))
	}
	return nil
})

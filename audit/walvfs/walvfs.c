// The VFS of package walvfs (see its doc comment). The declarations below are the parts of
// sqlite3.h's stable VFS interface this file uses, so that building it needs no SQLite header:
// the functions are those of the SQLite that github.com/mattn/go-sqlite3 links into the binary.

#include <stdlib.h>
#include <string.h>

typedef long long sqlite3_int64;
typedef struct sqlite3_file sqlite3_file;
typedef struct sqlite3_io_methods sqlite3_io_methods;
typedef struct sqlite3_vfs sqlite3_vfs;
typedef void (*sqlite3_syscall_ptr)(void);

struct sqlite3_file {
	const struct sqlite3_io_methods *pMethods;
};

struct sqlite3_io_methods {
	int iVersion;
	int (*xClose)(sqlite3_file *);
	int (*xRead)(sqlite3_file *, void *, int iAmt, sqlite3_int64 iOfst);
	int (*xWrite)(sqlite3_file *, const void *, int iAmt, sqlite3_int64 iOfst);
	int (*xTruncate)(sqlite3_file *, sqlite3_int64 size);
	int (*xSync)(sqlite3_file *, int flags);
	int (*xFileSize)(sqlite3_file *, sqlite3_int64 *pSize);
	int (*xLock)(sqlite3_file *, int);
	int (*xUnlock)(sqlite3_file *, int);
	int (*xCheckReservedLock)(sqlite3_file *, int *pResOut);
	int (*xFileControl)(sqlite3_file *, int op, void *pArg);
	int (*xSectorSize)(sqlite3_file *);
	int (*xDeviceCharacteristics)(sqlite3_file *);
	int (*xShmMap)(sqlite3_file *, int iPg, int pgsz, int, void volatile **);
	int (*xShmLock)(sqlite3_file *, int offset, int n, int flags);
	void (*xShmBarrier)(sqlite3_file *);
	int (*xShmUnmap)(sqlite3_file *, int deleteFlag);
	int (*xFetch)(sqlite3_file *, sqlite3_int64 iOfst, int iAmt, void **pp);
	int (*xUnfetch)(sqlite3_file *, sqlite3_int64 iOfst, void *p);
};

struct sqlite3_vfs {
	int iVersion;
	int szOsFile;
	int mxPathname;
	sqlite3_vfs *pNext;
	const char *zName;
	void *pAppData;
	int (*xOpen)(sqlite3_vfs *, const char *zName, sqlite3_file *, int flags, int *pOutFlags);
	int (*xDelete)(sqlite3_vfs *, const char *zName, int syncDir);
	int (*xAccess)(sqlite3_vfs *, const char *zName, int flags, int *pResOut);
	int (*xFullPathname)(sqlite3_vfs *, const char *zName, int nOut, char *zOut);
	void *(*xDlOpen)(sqlite3_vfs *, const char *zFilename);
	void (*xDlError)(sqlite3_vfs *, int nByte, char *zErrMsg);
	void (*(*xDlSym)(sqlite3_vfs *, void *, const char *zSymbol))(void);
	void (*xDlClose)(sqlite3_vfs *, void *);
	int (*xRandomness)(sqlite3_vfs *, int nByte, char *zOut);
	int (*xSleep)(sqlite3_vfs *, int microseconds);
	int (*xCurrentTime)(sqlite3_vfs *, double *);
	int (*xGetLastError)(sqlite3_vfs *, int, char *);
	int (*xCurrentTimeInt64)(sqlite3_vfs *, sqlite3_int64 *);
	int (*xSetSystemCall)(sqlite3_vfs *, const char *zName, sqlite3_syscall_ptr);
	sqlite3_syscall_ptr (*xGetSystemCall)(sqlite3_vfs *, const char *zName);
	const char *(*xNextSystemCall)(sqlite3_vfs *, const char *zName);
};

extern sqlite3_vfs *sqlite3_vfs_find(const char *);
extern int sqlite3_vfs_register(sqlite3_vfs *, int makeDflt);
extern sqlite3_file *sqlite3_database_file_object(const char *);

#define SQLITE_OK 0
#define SQLITE_ERROR 1
#define SQLITE_OPEN_MAIN_DB 0x00000100
#define SQLITE_OPEN_WAL 0x00080000
#define SQLITE_SHM_UNLOCK 1
#define WAL_HDRSIZE 32
#define WAL_FRAME_HDRSIZE 24

// walBufSize is how many bytes of frames a WAL file holds before writing them: a commit of more
// is written in pieces of this size. The default VFS's xWrite takes at most 0x1ffff bytes a call
// (seekAndWriteFd masks the length to 17 bits and fails a longer write as SQLITE_FULL).
#define walBufSize 0x1ffff

// writeBuf holds the bytes [off, off+n) of a file, written to it by flush. err is the error of a
// write made where it could not be reported (a shared-memory lock or barrier, a file-control
// hint), reported by the next flush: a checkpoint must not record as copied pages that were not
// written, so its sync fails instead.
typedef struct writeBuf {
	char *buf;
	int n;
	sqlite3_int64 off;
	int err;
} writeBuf;

typedef struct dbFile dbFile;

// walFile is an open WAL: its writes wait in w until the transaction's commit frame, or anything
// else that needs the file as written.
typedef struct walFile {
	sqlite3_file base;
	dbFile *db; // the database file it was opened for, while both are open
	sqlite3_file *real; // the default VFS's file, in the memory after this struct
	writeBuf w;
	int commitFrame; // the frame header last buffered was a commit frame's: flush after its page
} walFile;

// dbFile is an open main database file: the default VFS's, with the WAL opened for it, so that
// the WAL's frames are written before the connection publishes them to other connections or lets
// another connection write. Its own writes (in WAL mode, a checkpoint's copies of pages, in page
// order) are buffered too, until anything but another write of the next bytes: the checkpoint
// syncs the file before it records the pages as copied.
struct dbFile {
	sqlite3_file base;
	sqlite3_file *real;
	walFile *wal; // its WAL, while both are open
	writeBuf w;   // pages a checkpoint copies, written in runs of consecutive pages
};

static sqlite3_vfs *origVfs;
static sqlite3_vfs walVfs;

// flushKeep writes what w holds to f, keeping a failure in w->err for the next flush.
static void flushKeep(sqlite3_file *f, writeBuf *w) {
	if (w->n > 0) {
		int rc = f->pMethods->xWrite(f, w->buf, w->n, w->off);
		w->n = 0;
		if (rc != SQLITE_OK && w->err == SQLITE_OK) w->err = rc;
	}
}

// flush writes what w holds to f and reports the first failure since the last flush: the
// transaction or checkpoint whose bytes they were fails.
static int flush(sqlite3_file *f, writeBuf *w) {
	flushKeep(f, w);
	int rc = w->err;
	w->err = SQLITE_OK;
	return rc;
}

// bufWrite writes amt bytes at ofst to f through w: kept while they continue what w holds.
// *kept reports whether they were (else they went to f at once).
static int bufWrite(sqlite3_file *f, writeBuf *w, const void *z, int amt, sqlite3_int64 ofst, int *kept) {
	int rc;
	*kept = 0;
	if (w->n > 0 && (ofst != w->off + w->n || w->n + amt > walBufSize)) {
		if ((rc = flush(f, w)) != SQLITE_OK) return rc;
	}
	if (!w->buf && amt < walBufSize) w->buf = malloc(walBufSize);
	if (!w->buf || amt >= walBufSize) {
		// Nowhere to keep it: write it now, as the default VFS would.
		return f->pMethods->xWrite(f, z, amt, ofst);
	}
	if (w->n == 0) w->off = ofst;
	memcpy(w->buf + w->n, z, amt);
	w->n += amt;
	*kept = 1;
	return SQLITE_OK;
}

static void bufFree(writeBuf *w) {
	free(w->buf);
	w->buf = 0;
	w->n = 0;
}

static int walClose(sqlite3_file *f) {
	walFile *p = (walFile *)f;
	int rc = flush(p->real, &p->w);
	int rc2 = p->real->pMethods->xClose(p->real);
	if (p->db) p->db->wal = 0;
	p->db = 0;
	bufFree(&p->w);
	return rc != SQLITE_OK ? rc : rc2;
}

static int walRead(sqlite3_file *f, void *z, int amt, sqlite3_int64 ofst) {
	walFile *p = (walFile *)f;
	int rc = flush(p->real, &p->w);
	if (rc != SQLITE_OK) return rc;
	return p->real->pMethods->xRead(p->real, z, amt, ofst);
}

static int walWrite(sqlite3_file *f, const void *z, int amt, sqlite3_int64 ofst) {
	walFile *p = (walFile *)f;
	const unsigned char *b = (const unsigned char *)z;
	int kept;
	int rc = bufWrite(p->real, &p->w, z, amt, ofst, &kept);
	if (rc != SQLITE_OK || !kept) {
		p->commitFrame = 0;
		return rc;
	}
	if (amt == WAL_FRAME_HDRSIZE && ofst >= WAL_HDRSIZE) {
		// A frame's header: bytes 4-7 are the database's size in pages after a commit frame,
		// 0 in any other.
		p->commitFrame = (b[4] | b[5] | b[6] | b[7]) != 0;
	} else if (p->commitFrame) {
		// The commit frame's page: the transaction is complete and is about to be published
		// (or synced first).
		p->commitFrame = 0;
		rc = flush(p->real, &p->w);
	}
	return rc;
}

static int walTruncate(sqlite3_file *f, sqlite3_int64 size) {
	walFile *p = (walFile *)f;
	int rc = flush(p->real, &p->w);
	if (rc != SQLITE_OK) return rc;
	return p->real->pMethods->xTruncate(p->real, size);
}

static int walSync(sqlite3_file *f, int flags) {
	walFile *p = (walFile *)f;
	int rc = flush(p->real, &p->w);
	if (rc != SQLITE_OK) return rc;
	return p->real->pMethods->xSync(p->real, flags);
}

static int walFileSize(sqlite3_file *f, sqlite3_int64 *size) {
	walFile *p = (walFile *)f;
	int rc = flush(p->real, &p->w);
	if (rc != SQLITE_OK) return rc;
	return p->real->pMethods->xFileSize(p->real, size);
}

static int walLock(sqlite3_file *f, int l) {
	walFile *p = (walFile *)f;
	return p->real->pMethods->xLock(p->real, l);
}

static int walUnlock(sqlite3_file *f, int l) {
	walFile *p = (walFile *)f;
	return p->real->pMethods->xUnlock(p->real, l);
}

static int walCheckReservedLock(sqlite3_file *f, int *out) {
	walFile *p = (walFile *)f;
	return p->real->pMethods->xCheckReservedLock(p->real, out);
}

static int walFileControl(sqlite3_file *f, int op, void *arg) {
	walFile *p = (walFile *)f;
	flushKeep(p->real, &p->w); // SQLite ignores what a hint returns: the next flush reports
	return p->real->pMethods->xFileControl(p->real, op, arg);
}

static int walSectorSize(sqlite3_file *f) {
	walFile *p = (walFile *)f;
	return p->real->pMethods->xSectorSize(p->real);
}

static int walDeviceCharacteristics(sqlite3_file *f) {
	walFile *p = (walFile *)f;
	return p->real->pMethods->xDeviceCharacteristics(p->real);
}

// A WAL file is read and written, never mapped or shared-memory locked (those are the database
// file's): version 1 of the methods.
static const sqlite3_io_methods walMethods = {
	1, walClose, walRead, walWrite, walTruncate, walSync, walFileSize, walLock, walUnlock,
	walCheckReservedLock, walFileControl, walSectorSize, walDeviceCharacteristics,
};

// The database file: every method the default VFS's, with the connection's WAL flushed before a
// shared-memory barrier (a connection publishing a commit in the WAL index) and before the WAL
// write lock is released (a transaction rolled back after its frames spilled: the next writer
// may be another connection, whose frames must not be overwritten by these later).

// flushDb writes the database file's buffered pages before anything that is not another write.
static int flushDb(dbFile *p) { return flush(p->real, &p->w); }

static int dbClose(sqlite3_file *f) {
	dbFile *p = (dbFile *)f;
	int rc = flushDb(p);
	if (p->wal) p->wal->db = 0;
	p->wal = 0;
	int rc2 = p->real->pMethods->xClose(p->real);
	bufFree(&p->w);
	return rc != SQLITE_OK ? rc : rc2;
}
static int dbRead(sqlite3_file *f, void *z, int amt, sqlite3_int64 ofst) {
	dbFile *p = (dbFile *)f;
	int rc = flushDb(p);
	if (rc != SQLITE_OK) return rc;
	return p->real->pMethods->xRead(p->real, z, amt, ofst);
}
static int dbWrite(sqlite3_file *f, const void *z, int amt, sqlite3_int64 ofst) {
	dbFile *p = (dbFile *)f;
	int kept;
	return bufWrite(p->real, &p->w, z, amt, ofst, &kept);
}
static int dbTruncate(sqlite3_file *f, sqlite3_int64 size) {
	dbFile *p = (dbFile *)f;
	int rc = flushDb(p);
	if (rc != SQLITE_OK) return rc;
	return p->real->pMethods->xTruncate(p->real, size);
}
static int dbSync(sqlite3_file *f, int flags) {
	dbFile *p = (dbFile *)f;
	int rc = flushDb(p);
	if (rc != SQLITE_OK) return rc;
	return p->real->pMethods->xSync(p->real, flags);
}
static int dbFileSize(sqlite3_file *f, sqlite3_int64 *size) {
	dbFile *p = (dbFile *)f;
	int rc = flushDb(p);
	if (rc != SQLITE_OK) return rc;
	return p->real->pMethods->xFileSize(p->real, size);
}
static int dbLock(sqlite3_file *f, int l) {
	dbFile *p = (dbFile *)f;
	int rc = flushDb(p);
	if (rc != SQLITE_OK) return rc;
	return p->real->pMethods->xLock(p->real, l);
}
static int dbUnlock(sqlite3_file *f, int l) {
	dbFile *p = (dbFile *)f;
	int rc = flushDb(p);
	if (rc != SQLITE_OK) return rc;
	return p->real->pMethods->xUnlock(p->real, l);
}
static int dbCheckReservedLock(sqlite3_file *f, int *out) {
	dbFile *p = (dbFile *)f;
	return p->real->pMethods->xCheckReservedLock(p->real, out);
}
static int dbFileControl(sqlite3_file *f, int op, void *arg) {
	dbFile *p = (dbFile *)f;
	flushKeep(p->real, &p->w); // SQLite ignores what a hint returns: the next flush reports
	return p->real->pMethods->xFileControl(p->real, op, arg);
}
static int dbSectorSize(sqlite3_file *f) {
	dbFile *p = (dbFile *)f;
	return p->real->pMethods->xSectorSize(p->real);
}
static int dbDeviceCharacteristics(sqlite3_file *f) {
	dbFile *p = (dbFile *)f;
	return p->real->pMethods->xDeviceCharacteristics(p->real);
}
static int dbShmMap(sqlite3_file *f, int pg, int pgsz, int extend, void volatile **pp) {
	dbFile *p = (dbFile *)f;
	int rc = flushDb(p);
	if (rc != SQLITE_OK) return rc;
	return p->real->pMethods->xShmMap(p->real, pg, pgsz, extend, pp);
}
static int dbShmLock(sqlite3_file *f, int offset, int n, int flags) {
	dbFile *p = (dbFile *)f;
	flushKeep(p->real, &p->w);
	// Slot 0 is WAL_WRITE_LOCK.
	if ((flags & SQLITE_SHM_UNLOCK) && offset == 0 && p->wal) flushKeep(p->wal->real, &p->wal->w);
	return p->real->pMethods->xShmLock(p->real, offset, n, flags);
}
static void dbShmBarrier(sqlite3_file *f) {
	dbFile *p = (dbFile *)f;
	flushKeep(p->real, &p->w);
	if (p->wal) flushKeep(p->wal->real, &p->wal->w);
	p->real->pMethods->xShmBarrier(p->real);
}
static int dbShmUnmap(sqlite3_file *f, int del) {
	dbFile *p = (dbFile *)f;
	return p->real->pMethods->xShmUnmap(p->real, del);
}
static int dbFetch(sqlite3_file *f, sqlite3_int64 ofst, int amt, void **pp) {
	dbFile *p = (dbFile *)f;
	int rc = flushDb(p);
	if (rc != SQLITE_OK) return rc;
	return p->real->pMethods->xFetch(p->real, ofst, amt, pp);
}
static int dbUnfetch(sqlite3_file *f, sqlite3_int64 ofst, void *pg) {
	dbFile *p = (dbFile *)f;
	return p->real->pMethods->xUnfetch(p->real, ofst, pg);
}

static const sqlite3_io_methods dbMethods = {
	3, dbClose, dbRead, dbWrite, dbTruncate, dbSync, dbFileSize, dbLock, dbUnlock,
	dbCheckReservedLock, dbFileControl, dbSectorSize, dbDeviceCharacteristics,
	dbShmMap, dbShmLock, dbShmBarrier, dbShmUnmap, dbFetch, dbUnfetch,
};

static int vfsOpen(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *outFlags) {
	int rc;
	(void)vfs;
	if (flags & SQLITE_OPEN_WAL) {
		// Only the WAL of a database file of this VFS is buffered: that file is what flushes
		// it at the WAL index's barrier and when the write lock goes.
		sqlite3_file *db = sqlite3_database_file_object(name);
		if (!db || db->pMethods != &dbMethods) return origVfs->xOpen(origVfs, name, f, flags, outFlags);
		walFile *p = (walFile *)f;
		memset(p, 0, sizeof *p);
		p->real = (sqlite3_file *)&p[1];
		rc = origVfs->xOpen(origVfs, name, p->real, flags, outFlags);
		if (p->real->pMethods) {
			p->base.pMethods = &walMethods;
			p->db = (dbFile *)db;
			p->db->wal = p;
		}
		return rc;
	}
	if (flags & SQLITE_OPEN_MAIN_DB) {
		dbFile *p = (dbFile *)f;
		memset(p, 0, sizeof *p);
		p->real = (sqlite3_file *)&p[1];
		rc = origVfs->xOpen(origVfs, name, p->real, flags, outFlags);
		if (p->real->pMethods && p->real->pMethods->iVersion >= dbMethods.iVersion) {
			p->base.pMethods = &dbMethods;
			return rc;
		}
		if (!p->real->pMethods) return rc;
		// A default VFS without the methods of version 3: its own file, in place, unbuffered.
		p->real->pMethods->xClose(p->real);
		return origVfs->xOpen(origVfs, name, f, flags, outFlags);
	}
	// Journals, temporary files: the default VFS's own, in place.
	return origVfs->xOpen(origVfs, name, f, flags, outFlags);
}

static int vfsDelete(sqlite3_vfs *v, const char *name, int syncDir) { (void)v; return origVfs->xDelete(origVfs, name, syncDir); }
static int vfsAccess(sqlite3_vfs *v, const char *name, int flags, int *out) { (void)v; return origVfs->xAccess(origVfs, name, flags, out); }
static int vfsFullPathname(sqlite3_vfs *v, const char *name, int n, char *out) { (void)v; return origVfs->xFullPathname(origVfs, name, n, out); }
static void *vfsDlOpen(sqlite3_vfs *v, const char *name) { (void)v; return origVfs->xDlOpen(origVfs, name); }
static void vfsDlError(sqlite3_vfs *v, int n, char *msg) { (void)v; origVfs->xDlError(origVfs, n, msg); }
static void (*vfsDlSym(sqlite3_vfs *v, void *h, const char *sym))(void) { (void)v; return origVfs->xDlSym(origVfs, h, sym); }
static void vfsDlClose(sqlite3_vfs *v, void *h) { (void)v; origVfs->xDlClose(origVfs, h); }
static int vfsRandomness(sqlite3_vfs *v, int n, char *out) { (void)v; return origVfs->xRandomness(origVfs, n, out); }
static int vfsSleep(sqlite3_vfs *v, int us) { (void)v; return origVfs->xSleep(origVfs, us); }
static int vfsCurrentTime(sqlite3_vfs *v, double *t) { (void)v; return origVfs->xCurrentTime(origVfs, t); }
static int vfsGetLastError(sqlite3_vfs *v, int n, char *msg) { (void)v; return origVfs->xGetLastError(origVfs, n, msg); }
static int vfsCurrentTimeInt64(sqlite3_vfs *v, sqlite3_int64 *t) { (void)v; return origVfs->xCurrentTimeInt64(origVfs, t); }

// porta_walvfs_register registers the VFS named name over the default one; 0 on success.
int porta_walvfs_register(const char *name) {
	if (sqlite3_vfs_find(name)) return SQLITE_OK;
	origVfs = sqlite3_vfs_find(0);
	if (!origVfs || origVfs->iVersion < 2) return SQLITE_ERROR;
	int sz = sizeof(walFile) > sizeof(dbFile) ? sizeof(walFile) : sizeof(dbFile);
	walVfs.iVersion = 2;
	walVfs.szOsFile = sz + origVfs->szOsFile;
	walVfs.mxPathname = origVfs->mxPathname;
	walVfs.zName = name;
	walVfs.xOpen = vfsOpen;
	walVfs.xDelete = vfsDelete;
	walVfs.xAccess = vfsAccess;
	walVfs.xFullPathname = vfsFullPathname;
	walVfs.xDlOpen = vfsDlOpen;
	walVfs.xDlError = vfsDlError;
	walVfs.xDlSym = vfsDlSym;
	walVfs.xDlClose = vfsDlClose;
	walVfs.xRandomness = vfsRandomness;
	walVfs.xSleep = vfsSleep;
	walVfs.xCurrentTime = vfsCurrentTime;
	walVfs.xGetLastError = vfsGetLastError;
	walVfs.xCurrentTimeInt64 = vfsCurrentTimeInt64;
	return sqlite3_vfs_register(&walVfs, 0);
}

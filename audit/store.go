package audit

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"hash"
	"io/fs"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // driver "pgx"
	"github.com/jmoiron/sqlx"
	"github.com/mattn/go-sqlite3"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"porta/audit/seal"
	"porta/audit/walvfs"
)

// Migrations live in one directory per dialect: the DDL differs (AUTOINCREMENT and BLOB against
// IDENTITY and BYTEA) and each file is then plain SQL a reviewer reads once. goose's Provider
// runs them without package-level state, and on PostgreSQL under an advisory lock, so nodes
// starting together migrate once.
//
//go:embed migrations
var migrations embed.FS

// BodyMode says how much of each envelope the trail keeps: workers' personal data live in the
// bodies, so an operator may keep the header only, or nothing.
type BodyMode string

const (
	BodyFull   BodyMode = "full"   // the envelope as sent or received
	BodyHeader BodyMode = "header" // the envelope with the SOAP Body emptied
	BodyNone   BodyMode = "none"   // no envelope bytes (their SHA-256 is still kept)
	// BodyCapped marks a record Append cut to its Cap (Record.Cap): Raw is the first bytes of the
	// envelope (as the store's mode keeps it), RawSize and RawHash describe the whole. It is a
	// record's mode, never a store's.
	BodyCapped BodyMode = "capped"
	// BodyEncrypted keeps the envelope as sent or received, sealed with the store's newest key
	// (Options.Keys; sealing.go): Record.Envelope opens it.
	BodyEncrypted BodyMode = "encrypted"
	// BodyEncryptedCapped is BodyCapped for a record kept encrypted: the first bytes, sealed.
	BodyEncryptedCapped BodyMode = "encrypted-capped"
)

// Encrypted reports whether a record kept in mode m holds its envelope sealed.
func (m BodyMode) Encrypted() bool { return m == BodyEncrypted || m == BodyEncryptedCapped }

// ParseBodyMode checks a body mode a store or a record may be asked to keep: full, header, none
// or encrypted.
func ParseBodyMode(s string) (BodyMode, error) {
	switch m := BodyMode(s); m {
	case BodyFull, BodyHeader, BodyNone, BodyEncrypted:
		return m, nil
	}
	return "", fmt.Errorf("body mode %q: want full, header, none or encrypted", s)
}

// Options adjust Open. The zero value is valid.
type Options struct {
	// Node names this gateway node's chain; nodes sharing a database need distinct names.
	// Default "node1".
	Node string
	// BodyMode is applied by Append to Record.Raw unless the record names its own (Record.Keep).
	// Default BodyFull.
	BodyMode BodyMode
	// Keys, when set, seal the records kept in BodyEncrypted and every queue payload, duplicate
	// reply and idempotent answer (sealing.go). A store without them refuses to keep a record
	// encrypted and cannot open what was sealed.
	Keys *seal.Keyring
	// BatchSize caps the writes committed in one transaction. Default 512.
	BatchSize int
	// Linger is how long the writer waits for more writes before committing a batch that is not
	// full. Default 0: commit at once whatever arrived while the previous commit ran, which
	// batches under load without adding latency when idle.
	Linger time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// IndexKey is the key of the business identifiers' hashes (ids.go), at least MinIndexKey
	// bytes: Append indexes Record.IDs with it and List's Filter.BusinessID searches with it.
	// Nil: nothing is indexed, and a search by business identifier fails with ErrNoIndexKey.
	IndexKey []byte
	// ReadOnly opens an existing store without starting the writer, for porta trace: writes
	// fail. (Migrations still run, so an older store can be read by a newer binary.)
	ReadOnly bool
}

// Store is an open audit store. Its methods are safe for concurrent use.
type Store struct {
	db      *sqlx.DB
	dialect string // "sqlite" or "postgres"
	opt     Options
	now     func() time.Time

	ops      chan *op
	stop     chan struct{}
	stopped  chan struct{}
	closeMu  sync.Once
	closeErr error

	// The writer's own state: its connection on SQLite (see begin), the hash it chains with,
	// and the statements it prepared once.
	wconn    *sqlx.Conn
	wconnErr error
	hasher   hash.Hash
	scratch  []byte
	stmtMu   sync.Mutex
	stmts    map[string]*sqlx.Stmt
	// written is set by each durable commit and taken by the checkpointer (SQLite); catchUp is
	// set by the checkpointer when the WAL outgrew walRestartPages and taken by the writer.
	written     atomic.Bool
	catchUp     atomic.Bool
	checkpoints chan struct{} // closed when the checkpointer stopped; nil without one

	verifyParallelMin int64 // tests lower it to exercise the ranges with few records
}

// Dialect returns "sqlite" or "postgres".
func (s *Store) Dialect() string { return s.dialect }

// Node returns the name of the chain this Store writes.
func (s *Store) Node() string { return s.opt.Node }

// DB returns the database handle, for tests and tools that must read it directly.
func (s *Store) DB() *sqlx.DB { return s.db }

// ParseDSN tells the dialect of dsn and returns the driver's name and data source:
// "postgres://..." or "postgresql://..." for PostgreSQL; "sqlite:PATH" or a plain PATH for
// SQLite.
func ParseDSN(dsn string) (dialect, driver, source string, err error) {
	switch {
	case dsn == "":
		return "", "", "", errors.New("empty store DSN: want sqlite:PATH, a file path, or postgres://...")
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return "postgres", "pgx", dsn, nil
	}
	path := strings.TrimPrefix(dsn, "sqlite:")
	if path == "" || strings.ContainsAny(path, "?#") || strings.Contains(path, "://") {
		return "", "", "", fmt.Errorf("store DSN %q: want sqlite:PATH (a file path without ? or #) or postgres://...", dsn)
	}
	// WAL lets readers (porta trace, the admin listener) run beside the writer. synchronous=FULL
	// fsyncs the WAL at every commit: "accepted ⇒ traced and queued" must survive power loss, not
	// only a killed process (NORMAL would only survive the latter); group commit pays for it.
	// _txlock=immediate takes the write lock at BEGIN, so two writers wait on busy_timeout
	// instead of failing a lock upgrade.
	q := url.Values{}
	q.Set("_journal_mode", "WAL")
	q.Set("_synchronous", "FULL")
	q.Set("_busy_timeout", "10000")
	q.Set("_foreign_keys", "on")
	q.Set("_txlock", "immediate")
	// A deleted row (a settled queue item, a purged key or duplicate) is overwritten with zeros,
	// in the database file and in the pages the WAL gets, not left in free pages to be read back.
	q.Set("_secure_delete", "on")
	// database/sql never shares a connection between goroutines at once, so SQLite's
	// per-connection mutex (taken on every column read) is pure cost: multi-thread mode.
	q.Set("_mutex", "no")
	// The WAL's frames reach the file in one write per commit instead of two per page (package
	// walvfs; the connector registers it).
	q.Set("vfs", walvfs.Name)
	return "sqlite", "sqlite3", "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode(), nil
}

// Open opens (creating if needed) the store named by dsn, runs its migrations, loads the chain
// head of opt.Node and starts the writer. Close it when done.
func Open(ctx context.Context, dsn string, opt Options) (*Store, error) {
	dialect, driver, source, err := ParseDSN(dsn)
	if err != nil {
		return nil, err
	}
	if opt.Node == "" {
		opt.Node = "node1"
	}
	switch opt.BodyMode {
	case "":
		opt.BodyMode = BodyFull
	default:
		if _, err := ParseBodyMode(string(opt.BodyMode)); err != nil {
			return nil, fmt.Errorf("audit: %w", err)
		}
		if opt.BodyMode == BodyEncrypted && opt.Keys == nil && !opt.ReadOnly {
			return nil, fmt.Errorf("audit: body mode encrypted: %w", ErrNoKeys)
		}
	}
	if n := len(opt.IndexKey); n > 0 && n < MinIndexKey {
		return nil, fmt.Errorf("audit: index key of %d bytes, want at least %d", n, MinIndexKey)
	}
	if opt.BatchSize <= 0 {
		opt.BatchSize = 512
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if path := strings.TrimPrefix(dsn, "sqlite:"); dialect == "sqlite" && opt.ReadOnly {
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("open sqlite store read-only: %w", err)
		}
	}
	var db *sqlx.DB
	if dialect == "sqlite" {
		db = sqlx.NewDb(sql.OpenDB(sqliteConnector{source: source, writer: !opt.ReadOnly}), driver)
	} else if db, err = sqlx.Open(driver, source); err != nil {
		return nil, fmt.Errorf("open %s store: %w", dialect, err)
	}
	if dialect == "postgres" {
		db.SetMaxOpenConns(16)
		db.SetMaxIdleConns(16)
	} else {
		db.SetMaxOpenConns(8)
		db.SetMaxIdleConns(8)
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s store: %w", dialect, err)
	}
	s := &Store{db: db, dialect: dialect, opt: opt, now: opt.Now, hasher: sha256.New(), stmts: map[string]*sqlx.Stmt{}}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if !opt.ReadOnly {
		h, err := s.loadHead(ctx, db)
		if err != nil {
			db.Close()
			return nil, err
		}
		if dialect == "sqlite" {
			if s.wconn, err = db.Connx(ctx); err != nil {
				db.Close()
				return nil, fmt.Errorf("open sqlite store: the writer's connection: %w", err)
			}
		}
		s.ops = make(chan *op, opt.BatchSize)
		s.stop = make(chan struct{})
		s.stopped = make(chan struct{})
		go s.writer(h)
		if dialect == "sqlite" {
			s.checkpoints = make(chan struct{})
			go s.checkpointer()
		}
	}
	return s, nil
}

// SQLite's WAL is checkpointed (its pages copied into the database file, which fsyncs both) by a
// goroutine of the Store, not by whichever commit crosses wal_autocheckpoint's threshold: that
// commit's callers waited for the copy too, a few times a second under load. The writer's
// connections run with wal_autocheckpoint=0; every checkpointEvery, a PASSIVE checkpoint copies
// what was committed meanwhile without blocking the writer or any reader.
//
// The WAL starts again from its beginning only when a write transaction begins with every frame
// copied, which a background checkpoint racing a busy writer may never see. So the bound: when
// the WAL holds more than walRestartPages pages, the writer itself runs one PASSIVE checkpoint
// after its next commit, with no write between it and the writer's next transaction. Most pages
// were copied by the background pass, so this one only copies the last second's, and the next
// transaction restarts the WAL; journal_size_limit truncates the file to walLimit then. Only a
// reader holding an old snapshot (a long porta trace verify) keeps the WAL from restarting, until
// it ends, as with SQLite's own checkpoints.
const (
	checkpointEvery = time.Second
	walRestartPages = 4096 // 16 MiB of 4 KiB pages
	walLimit        = 64 << 20
)

// sqliteConnector opens the store's SQLite connections, each set up for its role before use.
type sqliteConnector struct {
	source string
	writer bool
}

func (c sqliteConnector) Connect(context.Context) (driver.Conn, error) {
	if err := walvfs.Register(); err != nil {
		return nil, err
	}
	return c.Driver().Open(c.source)
}

func (c sqliteConnector) Driver() driver.Driver {
	return &sqlite3.SQLiteDriver{ConnectHook: func(conn *sqlite3.SQLiteConn) error {
		if !c.writer {
			return nil
		}
		_, err := conn.Exec(fmt.Sprintf("PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = %d", walLimit), nil)
		return err
	}}
}

// checkpointer runs the WAL checkpoints of a writable SQLite store until Close.
func (s *Store) checkpointer() {
	defer close(s.checkpoints)
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	idle := 0
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		// Writes outside the writer (counters, leases) count too: check now and then anyway.
		if !s.written.Swap(false) && idle < 10 {
			idle++
			continue
		}
		idle = 0
		var busy, log, done int
		err := s.db.QueryRowContext(context.Background(), "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &log, &done)
		if err == nil && log > walRestartPages {
			s.catchUp.Store(true)
		}
	}
}

func (s *Store) migrate(ctx context.Context) error {
	sub, err := fs.Sub(migrations, "migrations/"+s.dialect)
	if err != nil {
		return fmt.Errorf("audit migrations: %w", err)
	}
	gd := goose.DialectSQLite3
	// Migrations 00002 (trace indexes) and 00003 (jobs) landed in the opposite order, so a
	// store made in between holds 00003 without 00002. They touch different tables, so
	// applying a lower one late is safe; without this goose refuses to open such a store.
	opts := []goose.ProviderOption{goose.WithAllowOutofOrder(true)}
	if s.dialect == "postgres" {
		gd = goose.DialectPostgres
		l, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return fmt.Errorf("audit migrations: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(l))
	}
	p, err := goose.NewProvider(gd, s.db.DB, sub, opts...)
	if err != nil {
		return fmt.Errorf("audit migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("audit migrations (%s): %w", s.dialect, err)
	}
	return nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("audit store: %w", err)
	}
	return nil
}

// Close stops the writer after the writes already submitted and closes the database.
func (s *Store) Close() error {
	s.closeMu.Do(func() {
		if s.stop != nil {
			close(s.stop)
			<-s.stopped
		}
		if s.checkpoints != nil {
			<-s.checkpoints
		}
		s.stmtMu.Lock()
		for _, st := range s.stmts {
			st.Close()
		}
		s.stmtMu.Unlock()
		if s.wconn != nil {
			s.wconn.Close()
		}
		s.closeErr = s.db.Close()
	})
	return s.closeErr
}

// q rebinds a query written with ? placeholders for the driver.
func (s *Store) q(query string) string { return s.db.Rebind(query) }

// micros is the stored form of a time: Unix microseconds, 0 for the zero time.
func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromMicros(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMicro(v).UTC()
}

// isUnique reports whether err is a unique-constraint violation of either driver.
func isUnique(err error) bool {
	if err == nil {
		return false
	}
	m := err.Error()
	return strings.Contains(m, "UNIQUE constraint failed") || strings.Contains(m, "SQLSTATE 23505")
}

var errClosed = errors.New("audit store is closed")

// execer is what both *sqlx.DB and *sqlx.Tx offer.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowxContext(ctx context.Context, query string, args ...any) *sqlx.Row
	QueryxContext(ctx context.Context, query string, args ...any) (*sqlx.Rows, error)
	Rebind(string) string
}

package audit

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // driver "pgx"
	"github.com/jmoiron/sqlx"
	_ "github.com/mattn/go-sqlite3" // driver "sqlite3"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
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
)

// Options adjust Open. The zero value is valid.
type Options struct {
	// Node names this gateway node's chain; nodes sharing a database need distinct names.
	// Default "node1".
	Node string
	// BodyMode is applied by Append to Record.Raw. Default BodyFull.
	BodyMode BodyMode
	// BatchSize caps the writes committed in one transaction. Default 512.
	BatchSize int
	// Linger is how long the writer waits for more writes before committing a batch that is not
	// full. Default 0: commit at once whatever arrived while the previous commit ran, which
	// batches under load without adding latency when idle.
	Linger time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
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
	// database/sql never shares a connection between goroutines at once, so SQLite's
	// per-connection mutex (taken on every column read) is pure cost: multi-thread mode.
	q.Set("_mutex", "no")
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
	case BodyFull, BodyHeader, BodyNone:
	default:
		return nil, fmt.Errorf("audit: body mode %q: want full, header or none", opt.BodyMode)
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
	db, err := sqlx.Open(driver, source)
	if err != nil {
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
	s := &Store{db: db, dialect: dialect, opt: opt, now: opt.Now}
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
		s.ops = make(chan *op, opt.BatchSize)
		s.stop = make(chan struct{})
		s.stopped = make(chan struct{})
		go s.writer(h)
	}
	return s, nil
}

func (s *Store) migrate(ctx context.Context) error {
	sub, err := fs.Sub(migrations, "migrations/"+s.dialect)
	if err != nil {
		return fmt.Errorf("audit migrations: %w", err)
	}
	gd := goose.DialectSQLite3
	var opts []goose.ProviderOption
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

package audit

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"
)

// ErrNodeLocked is returned (wrapped, naming the holder) by LockNode when another process holds
// the node's lock on the store.
var ErrNodeLocked = errors.New("another process runs this node on this store")

// NodeLock is a node's exclusive claim on a store: while it is held no other process can take
// the same node id there, so no second writer appends to the node's chain (ErrConflict) or runs
// its queues. It lasts until Close or the end of the process.
//
// On SQLite it is a flock(2) on the file STORE.node-NODE.lock beside the database, which holds
// the holder's pid, host and start; the kernel releases it when the process ends, however it
// ends. On PostgreSQL it is a session advisory lock (pg_try_advisory_lock on a key derived from
// the node id) held on a connection of its own, whose application_name names the holder; the
// server releases it when that connection ends.
type NodeLock struct {
	close func() error
}

// Close releases the lock.
func (l *NodeLock) Close() error {
	if l == nil || l.close == nil {
		return nil
	}
	c := l.close
	l.close = nil
	return c()
}

// holder describes this process for the lock's record: what a second process prints.
func holder() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("pid %d on %s since %s", os.Getpid(), host, time.Now().UTC().Format(time.RFC3339))
}

// LockNode takes node's lock on the store named by dsn without waiting: if another process holds
// it, the error wraps ErrNodeLocked and names the holder.
func LockNode(ctx context.Context, dsn, node string) (*NodeLock, error) {
	dialect, driver, source, err := ParseDSN(dsn)
	if err != nil {
		return nil, err
	}
	if dialect == "postgres" {
		return lockNodePostgres(ctx, driver, source, node)
	}
	return lockNodeFile(strings.TrimPrefix(dsn, "sqlite:")+".node-"+node+".lock", node)
}

func lockNodeFile(path, node string) (*NodeLock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock node %s: %w", node, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			b, _ := os.ReadFile(path)
			who := strings.TrimSpace(string(b))
			if who == "" {
				who = "a process that has not written its name yet"
			}
			return nil, fmt.Errorf("%w: node %s is held by %s (lock %s)", ErrNodeLocked, node, who, path)
		}
		return nil, fmt.Errorf("lock node %s: flock %s: %w", node, path, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte("porta serve "+holder()+"\n"), 0)
	}
	return &NodeLock{close: func() error {
		// The file stays: removing it would let a process that opened it before the removal lock
		// a file no later process sees.
		_ = f.Truncate(0)
		return f.Close() // releases the flock
	}}, nil
}

// nodeLockKey is the advisory lock key of a node: the first 8 bytes of SHA-256("porta node " +
// node), so that unrelated advisory locks of the same database are unlikely to meet it.
func nodeLockKey(node string) int64 {
	sum := sha256.Sum256([]byte("porta node " + node))
	return int64(binary.BigEndian.Uint64(sum[:8]))
}

func lockNodePostgres(ctx context.Context, driver, source, node string) (*NodeLock, error) {
	db, err := sql.Open(driver, source)
	if err != nil {
		return nil, fmt.Errorf("lock node %s: %w", node, err)
	}
	db.SetMaxOpenConns(2)
	conn, err := db.Conn(ctx)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("lock node %s: %w", node, err)
	}
	fail := func(err error) (*NodeLock, error) {
		conn.Close()
		db.Close()
		return nil, err
	}
	key := nodeLockKey(node)
	var got bool
	if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1)`, key).Scan(&got); err != nil {
		return fail(fmt.Errorf("lock node %s: %w", node, err))
	}
	if !got {
		// The holder's session: its application_name (set below by the holder) and address.
		var who, addr, since sql.NullString
		_ = db.QueryRowContext(ctx, `SELECT a.application_name, host(a.client_addr), to_char(a.backend_start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
			WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1 AND l.objid = $2 AND l.objsubid = 1 LIMIT 1`,
			int64(uint32(uint64(key)>>32)), int64(uint32(uint64(key)))).Scan(&who, &addr, &since)
		desc := who.String
		if desc == "" {
			desc = "another session"
		}
		if addr.String != "" {
			desc += ", connected from " + addr.String
		}
		if since.String != "" {
			desc += ", since " + since.String
		}
		return fail(fmt.Errorf("%w: node %s is held by %s (PostgreSQL advisory lock %d)", ErrNodeLocked, node, desc, key))
	}
	host, _ := os.Hostname()
	name := fmt.Sprintf("porta serve %s: pid %d on %s", node, os.Getpid(), host)
	if len(name) > 63 { // NAMEDATALEN-1: PostgreSQL would cut it
		name = name[:63]
	}
	if _, err := conn.ExecContext(ctx, `SELECT set_config('application_name', $1, false)`, name); err != nil {
		return fail(fmt.Errorf("lock node %s: name the session: %w", node, err))
	}
	return &NodeLock{close: func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := conn.ExecContext(ctx, `SELECT pg_advisory_unlock($1)`, key)
		conn.Close()
		db.Close()
		return err
	}}, nil
}

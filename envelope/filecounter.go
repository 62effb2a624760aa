package envelope

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// FileCounter is a CounterStore in a small text file ("key value" per line), for the command
// line and single-host deployments. Every Reserve takes an exclusive flock on "<path>.lock",
// reads the file, writes the new state to a temporary file, syncs it and renames it over the old
// one, so concurrent processes and goroutines never hand out the same value and a crash leaves
// either the old state or the new one. Counters of minutes more than a day older than the one
// being reserved are dropped, so the file stays small.
type FileCounter struct {
	path string
}

// NewFileCounter returns a FileCounter keeping its state in path; the directory is created when
// missing.
func NewFileCounter(path string) (*FileCounter, error) {
	if path == "" {
		return nil, errors.New("file counter: empty path")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("file counter: %w", err)
	}
	return &FileCounter{path: path}, nil
}

// DefaultStateDir is where the command line keeps its state: $XDG_STATE_HOME/porta, else
// ~/.local/state/porta.
func DefaultStateDir() (string, error) {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "porta"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("state directory: %w (set XDG_STATE_HOME or pass --state-dir)", err)
	}
	return filepath.Join(home, ".local", "state", "porta"), nil
}

// Reserve implements CounterStore.
func (c *FileCounter) Reserve(ctx context.Context, key string, n int) (int, error) {
	if n < 1 {
		return 0, fmt.Errorf("reserve %d values of %s: n must be ≥ 1", n, key)
	}
	if strings.ContainsAny(key, " \t\r\n") || key == "" {
		return 0, fmt.Errorf("reserve %q: a key is one non-empty word", key)
	}
	unlock, err := c.lock(ctx)
	if err != nil {
		return 0, err
	}
	defer unlock()
	state, err := c.read()
	if err != nil {
		return 0, err
	}
	first := state[key] + 1
	state[key] += n
	prune(state, key)
	if err := c.write(state); err != nil {
		return 0, err
	}
	return first, nil
}

func (c *FileCounter) lock(ctx context.Context) (func(), error) {
	f, err := os.OpenFile(c.path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("file counter: %w", err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, fmt.Errorf("file counter: lock %s: %w", f.Name(), err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("file counter: lock %s: %w", f.Name(), ctx.Err())
		case <-time.After(2 * time.Millisecond):
		}
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

func (c *FileCounter) read() (map[string]int, error) {
	state := map[string]int{}
	data, err := os.ReadFile(c.path)
	if errors.Is(err, os.ErrNotExist) {
		return state, nil
	}
	if err != nil {
		return nil, fmt.Errorf("file counter: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for line := 1; sc.Scan(); line++ {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		v, err := strconv.Atoi(f[len(f)-1])
		if len(f) != 2 || err != nil || v < 0 {
			return nil, fmt.Errorf("file counter: %s:%d: want \"KEY COUNT\", got %q", c.path, line, sc.Text())
		}
		state[f[0]] = v
	}
	return state, nil
}

func (c *FileCounter) write(state map[string]int) error {
	keys := make([]string, 0, len(state))
	for k := range state {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b bytes.Buffer
	for _, k := range keys {
		fmt.Fprintf(&b, "%s %d\n", k, state[k])
	}
	tmp, err := os.CreateTemp(filepath.Dir(c.path), ".counter-*")
	if err != nil {
		return fmt.Errorf("file counter: %w", err)
	}
	_, err = tmp.Write(b.Bytes())
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), c.path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("file counter: write %s: %w", c.path, err)
	}
	return nil
}

// prune drops counters whose minute (the key's last 16 characters, yyyy-MM-dd_HH:mm) is more than
// a day before the minute of current. Keys in another form are kept.
func prune(state map[string]int, current string) {
	cur, ok := keyMinute(current)
	if !ok {
		return
	}
	for k := range state {
		if t, ok := keyMinute(k); ok && cur.Sub(t) > 24*time.Hour {
			delete(state, k)
		}
	}
}

func keyMinute(key string) (time.Time, bool) {
	if len(key) < 16 {
		return time.Time{}, false
	}
	t, err := time.Parse("2006-01-02_15:04", key[len(key)-16:])
	return t, err == nil
}

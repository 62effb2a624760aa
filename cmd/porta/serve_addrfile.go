package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"porta/gateway"
)

// addrFile is porta serve --addr-file: the addresses the listeners bound (port 0 picks any free
// one), written once all are bound, so that a script can wait for the file and source it:
//
//	PORTA_PD=127.0.0.1:41327
//	PORTA_PA=127.0.0.1:24001
//	PORTA_ADMIN=127.0.0.1:41329
//
// The file appears whole (written beside it, then renamed) and is removed when porta serve
// exits, so its presence means "listening".
type addrFile struct {
	path string
	want int

	mu    sync.Mutex
	lines []string
}

// newAddrFile prepares path for the listeners of l; an empty path does nothing. A file left by an
// earlier run is removed now, so that nobody reads it as this run's.
func newAddrFile(path string, l gateway.Listeners) (*addrFile, error) {
	if path == "" {
		return nil, nil
	}
	a := &addrFile{path: path}
	for _, addr := range []string{l.PD, l.PA, l.Admin} {
		if addr != "" {
			a.want++
		}
	}
	if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	return a, nil
}

// bound records that listener name listens on addr, and writes the file once all do.
func (a *addrFile) bound(name, addr string) error {
	if a == nil {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.lines = append(a.lines, fmt.Sprintf("PORTA_%s=%s\n", strings.ToUpper(name), addr))
	if len(a.lines) != a.want {
		return nil
	}
	tmp := filepath.Join(filepath.Dir(a.path), "."+filepath.Base(a.path)+".new")
	if err := os.WriteFile(tmp, []byte(strings.Join(a.lines, "")), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, a.path)
}

func (a *addrFile) remove() {
	if a != nil {
		os.Remove(a.path)
	}
}

package demo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"porta/gateway/node"
	"porta/internal/backends"
	"porta/internal/listen"
)

// Peer is one running gateway of the labour network with its backends' data.
type Peer struct {
	Name   string
	Dir    string
	Data   *backends.Data
	Opened *node.Opened
	PD     string // http://host:port of the Porta Delegata
	Store  string // the store's DSN: porta.db beside porta.yaml unless the run named another
	done   chan error
}

// StartPeer opens the gateway of party under dir (written by BuildNetwork) with its built-in
// backends and serves it until ctx ends; it returns once the PD and PA listen. Its listeners take
// over the sockets res holds for their addresses (res may be nil: every address is bound anew).
func StartPeer(ctx context.Context, dir, party string, res *listen.Reserved, log *slog.Logger, now func() time.Time) (*Peer, error) {
	return startPeer(ctx, dir, party, "", res, log, now)
}

// startPeer is StartPeer on the store named by store ("" = porta.yaml's).
func startPeer(ctx context.Context, dir, party, store string, res *listen.Reserved, log *slog.Logger, now func() time.Time) (*Peer, error) {
	pdir := filepath.Join(dir, party)
	data, err := backends.Open(ctx, filepath.Join(pdir, "backends.db"), now)
	if err != nil {
		return nil, err
	}
	o, err := node.Open(ctx, filepath.Join(pdir, "porta.yaml"), node.OpenOptions{Store: store, Backends: data.Backends(now), Logger: log})
	if err != nil {
		data.Close()
		return nil, fmt.Errorf("%s: %w", party, err)
	}
	if store == "" {
		store = filepath.Join(pdir, "porta.db")
	}
	p := &Peer{Name: party, Dir: pdir, Data: data, Opened: o, Store: store, done: make(chan error, 1)}
	var mu sync.Mutex
	up := map[string]string{}
	ready := make(chan struct{})
	l := o.Listeners
	if res != nil {
		l.Listen = func(_, network, addr string) (net.Listener, error) { return res.Listen(network, addr) }
	}
	l.Listening = func(name, addr string) {
		mu.Lock()
		defer mu.Unlock()
		up[name] = addr
		if up["pd"] != "" && up["pa"] != "" && len(up) == 3 {
			close(ready)
		}
	}
	go func() { p.done <- o.Gateway.Serve(ctx, l) }()
	select {
	case <-ready:
		p.PD = "http://" + up["pd"]
		return p, nil
	case err := <-p.done:
		p.close()
		return nil, fmt.Errorf("%s: serve: %v", party, err)
	case <-time.After(20 * time.Second):
		return nil, fmt.Errorf("%s: listeners not up after 20s", party)
	}
}

// Stop waits for Serve to return (ctx must be cancelled first) and closes everything.
func (p *Peer) Stop() error {
	err := <-p.done
	return errors.Join(err, p.close())
}

func (p *Peer) close() error {
	return errors.Join(p.Opened.Close(), p.Data.Close())
}

// ReadPassword reads the application password kept in dir (app-password, as WriteNetwork writes it).
func ReadPassword(dir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, "app-password"))
	return strings.TrimSpace(string(b)), err
}

package demo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
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
	Admin  string // http://host:port of the admin listener
	done   chan error
	cancel context.CancelFunc
	stop   sync.Once
	err    error
}

// PeerOptions adjust StartPeerWith.
type PeerOptions struct {
	Reserved *listen.Reserved // the sockets to take over; nil: every address is bound anew
	Log      *slog.Logger
	Now      func() time.Time
	Store    string // the store's DSN; "" = porta.yaml's (porta.db beside it)
	// Admin, when set, gives the admin listener more routes (porta demo --console: the management
	// API and the console), made once the node is open.
	Admin func(*Peer) (map[string]http.Handler, error)
}

// StartPeer opens the gateway of party under dir (written by BuildNetwork) with its built-in
// backends and serves it until ctx ends; it returns once the PD and PA listen. Its listeners take
// over the sockets res holds for their addresses (res may be nil: every address is bound anew).
func StartPeer(ctx context.Context, dir, party string, res *listen.Reserved, log *slog.Logger, now func() time.Time) (*Peer, error) {
	return StartPeerWith(ctx, dir, party, PeerOptions{Reserved: res, Log: log, Now: now})
}

// StartPeerWith is StartPeer with options; the gateway serves until ctx ends or Stop.
func StartPeerWith(ctx context.Context, dir, party string, po PeerOptions) (*Peer, error) {
	res, log, now, store := po.Reserved, po.Log, po.Now, po.Store
	if now == nil {
		now = time.Now
	}
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
	ctx, p.cancel = context.WithCancel(ctx)
	var mu sync.Mutex
	up := map[string]string{}
	ready := make(chan struct{})
	l := o.Listeners
	if po.Admin != nil {
		if l.AdminRoutes, err = po.Admin(p); err != nil {
			p.cancel()
			p.close()
			return nil, fmt.Errorf("%s: admin routes: %w", party, err)
		}
	}
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
		p.PD, p.Admin = "http://"+up["pd"], "http://"+up["admin"]
		return p, nil
	case err := <-p.done:
		p.cancel()
		p.close()
		return nil, fmt.Errorf("%s: serve: %v", party, err)
	case <-time.After(20 * time.Second):
		p.cancel()
		p.Stop()
		return nil, fmt.Errorf("%s: listeners not up after 20s", party)
	}
}

// Stop ends the gateway, waits for Serve to return and closes everything; calling it again
// returns the first call's error.
func (p *Peer) Stop() error {
	p.stop.Do(func() {
		p.cancel()
		err := <-p.done
		p.err = errors.Join(err, p.close())
	})
	return p.err
}

func (p *Peer) close() error {
	return errors.Join(p.Opened.Close(), p.Data.Close())
}

// ReadPassword reads the application password kept in dir (app-password, as WriteNetwork writes it).
func ReadPassword(dir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, "app-password"))
	return strings.TrimSpace(string(b)), err
}

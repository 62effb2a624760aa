package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"porta/gateway/node"
	"porta/internal/backends"
	"porta/internal/listen"
	"porta/internal/size"
)

// porta serve: one porta di dominio. It loads porta.yaml and the registry, opens the store, and
// serves the Porta Delegata, the Porta Applicativa and the admin listener (with the management
// API, /api/v1, for the operators of porta operator add: package ops) with the background
// workers until SIGINT or SIGTERM, then stops gracefully. SIGHUP reloads registry.yaml and the
// certificates it names (node.Opened.Reload); a reload that fails keeps the running registry. Each listener logs a "listening" line
// with its bound address (port 0 picks a free one), so scripts and tests can find it. Sockets
// passed by socket activation (LISTEN_FDS, named pd, pa, admin by LISTEN_FDNAMES) are served in
// place of the configured addresses.
//
// One process per node id and store: porta serve takes the node's lock on its store first
// (audit.LockNode), and a second porta serve of the same node exits 1 at once naming the holder.
//
// porta.yaml's jobs run in the same process once the PD listens (package jobs: one node at a
// time per job on a shared store, each run in porta jobs history). On SIGINT or SIGTERM the
// running jobs are cancelled and recorded first, while the PD they call still serves; then the
// listeners stop.

func init() {
	register(command{
		name:    "serve",
		summary: "run the gateway: Porta Delegata, Porta Applicativa, admin listener and workers",
		run:     runServe,
	})
}

func runServe(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("serve", "--config DIR/porta.yaml [--store DSN] [flags]", stdout, stderr)
	cfgPath := fs.String("config", "porta.yaml", "the gateway's configuration `file` (porta.yaml, written by porta init)")
	store := fs.String("store", "", "store `DSN`, overriding the configuration: a SQLite file path or postgres://...")
	pdAddr := fs.String("pd-addr", "", "override the Porta Delegata listen `address` (host:port; port 0 = any free port)")
	paAddr := fs.String("pa-addr", "", "override the Porta Applicativa listen `address`")
	adminAddr := fs.String("admin-addr", "", "override the admin listen `address`")
	level := fs.String("log-level", "info", "log `level`: debug, info, warn or error")
	memLimit := fs.String("memory-limit", "", memoryLimitUsage)
	addrFile := fs.String("addr-file", "", "once every listener is bound, write their addresses to `FILE` as shell assignments (PORTA_PD=HOST:PORT, PORTA_PA=..., PORTA_ADMIN=...); removed on exit")
	if code, done := fs.parse(args); done {
		return code
	}
	if fs.NArg() > 0 {
		return fs.fail("unexpected arguments %q", fs.Args())
	}
	if err := setMemoryLimit(*memLimit); err != nil {
		io.WriteString(stderr, "porta serve: "+err.Error()+"\n")
		return 2
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*level)); err != nil {
		io.WriteString(stderr, "porta serve: --log-level: "+err.Error()+"\n")
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lvl}))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// SIGHUP reloads the registry; caught from the start, so that an early one does not end the
	// process (its default), and acted on once the gateway is open.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	builtin, closeBackends, err := backends.ForConfig(ctx, *cfgPath)
	if err != nil {
		log.Error("porta serve: cannot open the built-in backends", "err", err)
		return 1
	}
	defer closeBackends.Close()
	o, err := node.Open(ctx, *cfgPath, node.OpenOptions{
		Store: *store, Logger: log, Backends: builtin,
		PDAddr: *pdAddr, PAAddr: *paAddr, AdminAddr: *adminAddr, CheckJob: checkJob, LockNode: true,
		Large: &gcPacer{},
	})
	if err != nil {
		log.Error("porta serve: cannot start", "err", err)
		return 1
	}
	defer o.Close()
	var pdURL atomic.Value // the PD's address once it listens, for the jobs
	sched, err := newScheduler(o, &pdURL, log)
	if err == nil && sched != nil {
		err = o.Gateway.RegisterMetrics(sched.Collector())
	}
	var keep func(context.Context)
	if err == nil {
		keep, err = trailKeeper(o, log)
	}
	if err != nil {
		log.Error("porta serve: cannot start", "err", err)
		return 1
	}
	api, err := newOpsAPI(o, sched, log)
	if err != nil {
		log.Error("porta serve: cannot start", "err", err)
		return 1
	}
	// The chain head is signed now, every trace.sign_every, and once the gateway has stopped.
	kctx, stopKeeper := context.WithCancel(context.Background())
	defer stopKeeper()
	kept := make(chan struct{})
	go func() {
		defer close(kept)
		if keep != nil {
			keep(kctx)
		}
	}()
	pdReady := make(chan struct{})
	l := o.Listeners
	if api != nil {
		l.AdminRoutes = api.Routes()
	}
	inherited, err := listen.Inherited()
	if err != nil {
		log.Error("porta serve: cannot start", "err", err)
		return 1
	}
	if len(inherited) > 0 {
		l.Listen = activated(inherited, log)
	}
	announce, err := newAddrFile(*addrFile, l)
	if err != nil {
		log.Error("porta serve: --addr-file", "err", err)
		return 1
	}
	defer announce.remove()
	l.Listening = func(name, addr string) {
		log.Info("listening", "listener", name, "addr", addr)
		if err := announce.bound(name, addr); err != nil {
			log.Error("porta serve: --addr-file", "err", err)
		}
		if name == "pd" {
			scheme := "http://"
			if l.PDTLS != nil {
				scheme = "https://"
			}
			pdURL.Store(scheme + addr)
			close(pdReady)
		}
	}
	// The gateway stops after the jobs: a job being cancelled may still be talking to the PD.
	gctx, stopGateway := context.WithCancel(context.Background())
	defer stopGateway()
	jobsDone := make(chan struct{})
	go func() {
		defer close(jobsDone)
		defer stopGateway()
		if sched != nil {
			select {
			case <-pdReady:
				sched.Run(ctx)
			case <-ctx.Done():
			}
		}
		<-ctx.Done()
	}()
	go reloadOnHUP(ctx, hup, o, log)
	log.Info("porta serve: starting", "config", *cfgPath, "parties", o.Hosted, "jobs", len(o.Config.Jobs), "pid", os.Getpid())
	err = o.Gateway.Serve(gctx, l)
	stop()
	<-jobsDone
	stopKeeper()
	<-kept
	if err != nil {
		log.Error("porta serve: stopped", "err", err)
		return 1
	}
	log.Info("porta serve: stopped")
	return 0
}

// reloadOnHUP reloads the registry and its certificates at each SIGHUP until ctx ends (see
// node.Opened.Reload: a reload that fails keeps the registry in use, logs why at ERROR and counts
// in porta_registry_reload_failures_total).
func reloadOnHUP(ctx context.Context, hup <-chan os.Signal, o *node.Opened, log *slog.Logger) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			if err := o.Reload(); err != nil {
				continue // logged by the gateway
			}
			log.Info("porta serve: registry reloaded", "registry", o.Config.Registry)
		}
	}
}

// activated serves each listener on its socket passed by socket activation (a systemd .socket
// unit with FileDescriptorName=pd, pa or admin, or a test holding the address), binding the
// configured address only for a listener with none. A socket of another name is an error: the
// unit and porta.yaml disagree.
func activated(socks map[string]net.Listener, log *slog.Logger) func(name, network, addr string) (net.Listener, error) {
	for name := range socks {
		if name != "pd" && name != "pa" && name != "admin" {
			log.Warn("porta serve: an activated socket has a name that is not a listener (pd, pa, admin); it is not used", "name", name)
		}
	}
	return func(name, network, addr string) (net.Listener, error) {
		if l, ok := socks[name]; ok {
			if l.Addr().String() != addr {
				log.Info("porta serve: activated socket replaces the configured address", "listener", name, "configured", addr, "socket", l.Addr().String())
			}
			return l, nil
		}
		return net.Listen(network, addr)
	}
}

const memoryLimitUsage = "soft limit of the Go runtime's memory, such as 256MiB or 300MB (MB: 10^6 bytes, MiB: 2^20, as in porta.yaml) (debug.SetMemoryLimit): the garbage " +
	"collector runs as often as it must to stay under it, where by default it lets the heap grow to three times what is " +
	"live (GOGC=200), and by a quarter while a message of 1 MiB or more is held (GOGC=25); empty: GOMEMLIMIT or no limit"

// gcPercent is the garbage collector's target (debug.SetGCPercent) of porta serve and porta bench
// when GOGC is not set: the heap may grow to three times what is live before a collection, where
// Go's default is twice. Measured with porta bench (sync, 1 KB, ECDSA, 4 interleaved pairs of 10 s
// runs on the shared 2-core machine): 13% less CPU per exchange than GOGC=100 (lower in every
// pair) for 4-6 MiB more peak RSS; GOGC=400 saved no more than 200. --memory-limit (or
// GOMEMLIMIT) still bounds the heap, large messages included.
const gcPercent = 200

// largeGCPercent is the garbage collector's target while the gateway holds a large message
// (gcPacer): the heap may grow by a quarter of what is live. A 10 MB exchange holds two or three
// whole copies of its message at once (the bytes read, the signed busta, the trace record), so at
// gcPercent the heap grew to 60-70 MB of Go memory for it; the collections this costs scan little,
// the copies being byte slices without pointers. Measured with porta bench --payload 10MB
// --gateway-memory 3 (the README's figures).
const largeGCPercent = 25

// gcPacer is the gateway's LargeMessages: from the first large message held to the release of the
// last it sets the garbage collector's target to largeGCPercent, then gives back the one it found
// (gcPercent, or GOGC's). A target already lower, or off, is left as it is.
type gcPacer struct {
	mu     sync.Mutex
	held   int
	normal int // the target found at the first Hold
}

func (p *gcPacer) Hold() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.held++; p.held > 1 {
		return
	}
	if p.normal = debug.SetGCPercent(largeGCPercent); p.normal < largeGCPercent {
		debug.SetGCPercent(p.normal)
	}
}

func (p *gcPacer) Release() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.held--; p.held == 0 && p.normal > largeGCPercent {
		debug.SetGCPercent(p.normal)
	}
}

// setMemoryLimit applies --memory-limit (a size as size.Parse reads it; empty: leave the
// runtime's setting), and gcPercent unless GOGC is set.
func setMemoryLimit(v string) error {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(gcPercent)
	}
	if strings.TrimSpace(v) == "" {
		return nil
	}
	n, err := size.Parse(v)
	if err != nil || n < 1 {
		return fmt.Errorf("--memory-limit %q: want a positive size such as 256MiB or 300MB", v)
	}
	debug.SetMemoryLimit(n)
	return nil
}

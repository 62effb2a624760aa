package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"porta/internal/demo"
	"porta/internal/listen"
)

// porta sim ROLE --dir D: one real peer of the labour network (its own gateway, keys, registry,
// store and backend). D is a network written by porta demo, or an empty directory where the
// network is written first (every gateway's files, so the other peers can be started from the
// same D). A comune or scuola with no data of its own gets synthetic data generated.

func init() {
	register(command{
		name:    "sim",
		summary: "run one simulated peer of the labour network (ministero, comune, scuola, ...)",
		run:     runSim,
	})
}

func runSim(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	var roles []string
	for r := range demo.Roles {
		roles = append(roles, r)
	}
	sort.Strings(roles)
	fs := newFlags("sim", "ROLE --dir D [--party NAME] [--workers N]", stdout, stderr)
	fs.About = "ROLE is one of " + strings.Join(roles, ", ") + "."
	dir := fs.String("dir", "", "the network's directory (written by porta demo, or created here), required")
	party := fs.String("party", "", "which party of the role (default: the role's first)")
	workers := fs.Int("workers", 200, "synthetic people for a comune's registry or a school's pupils, when it has none")
	level := fs.String("log-level", "info", "log `level`")
	role := ""
	if len(args) > 0 && demo.Roles[args[0]] != nil {
		role, args = args[0], args[1:]
	}
	if code, done := fs.parse(args); done {
		return code
	}
	if role == "" {
		return fs.fail("name the ROLE first: one of %s", strings.Join(roles, ", "))
	}
	if *party == "" {
		*party = demo.Roles[role][0]
	}
	ok := false
	for _, p := range demo.Roles[role] {
		ok = ok || p == *party
	}
	if *dir == "" || !ok || fs.NArg() > 0 {
		fmt.Fprintf(stderr, "porta sim %s: --dir is required and --party must be one of %s\n", role, strings.Join(demo.Roles[role], ", "))
		return 2
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*level)); err != nil {
		fmt.Fprintf(stderr, "porta sim: --log-level: %v\n", err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lvl}))
	abs, _ := filepath.Abs(*dir)
	// A network written now has its addresses reserved until this party's gateway listens; the
	// other parties' are released then, for the processes that will serve them.
	res := listen.NewReserved()
	defer res.Close()
	if _, err := os.Stat(filepath.Join(abs, *party, "porta.yaml")); os.IsNotExist(err) {
		if _, _, err := demo.WriteNetwork(abs, res); err != nil {
			log.Error("porta sim: write the network", "dir", abs, "err", err)
			return 1
		}
		log.Info("porta sim: wrote the labour network", "dir", abs)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	p, err := demo.StartPeer(ctx, abs, *party, res, log, time.Now)
	if err != nil {
		log.Error("porta sim: cannot start", "party", *party, "err", err)
		return 1
	}
	res.Close()
	if err := demo.SeedPeer(ctx, p, *workers); err != nil {
		stop()
		p.Stop()
		log.Error("porta sim: seed data", "party", *party, "err", err)
		return 1
	}
	log.Info("listening", "listener", "pd", "addr", strings.TrimPrefix(p.PD, "http://"))
	log.Info("porta sim: running", "party", *party, "config", filepath.Join(p.Dir, "porta.yaml"))
	<-ctx.Done()
	if err := p.Stop(); err != nil {
		log.Error("porta sim: stopped", "err", err)
		return 1
	}
	log.Info("porta sim: stopped")
	return 0
}

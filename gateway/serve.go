package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Listeners says where the gateway serves. An address with port 0 picks a free port; Listening
// reports the bound address.
type Listeners struct {
	PD, PA, Admin string
	// PATLS is the Porta Applicativa's TLS configuration: the gateway's certificate and the
	// client certificates it accepts. Nil serves plain HTTP (tests, or TLS ended in front).
	PATLS *tls.Config
	// PDTLS, when set, serves the Porta Delegata over TLS, for applications that authenticate
	// with client certificates.
	PDTLS *tls.Config
	// AdminTLS, when set, serves the admin listener over TLS (porta.yaml's listen.admin_tls): the
	// management API then authenticates operators by their client certificates. /healthz, /readyz
	// and /metrics need none, so it should not require one (tls.VerifyClientCertIfGiven).
	AdminTLS *tls.Config
	// Listening is called once per listener with its name ("pd", "pa", "admin") and address.
	Listening func(name, addr string)
	// Listen, when set, supplies the socket of each listener by name ("pd", "pa", "admin") and
	// address instead of net.Listen: a socket reserved before the gateway started (tests, porta
	// demo) or inherited by socket activation (see internal/listen).
	Listen func(name, network, addr string) (net.Listener, error)
	// AdminRoutes are more handlers of the admin listener, by ServeMux pattern, beside /healthz,
	// /readyz and /metrics: porta serve mounts the management API and the console there (package
	// ops), which bring their own authentication.
	AdminRoutes map[string]http.Handler
	// ShutdownTimeout bounds the graceful shutdown (default 10s).
	ShutdownTimeout time.Duration
}

// Serve runs the three listeners and the background workers until ctx is cancelled, then shuts
// down gracefully: listeners stop accepting, requests in flight finish (up to ShutdownTimeout),
// then the workers stop. It returns the first error that stopped it early.
func (g *Gateway) Serve(ctx context.Context, l Listeners) error {
	if l.ShutdownTimeout == 0 {
		l.ShutdownTimeout = 10 * time.Second
	}
	type srv struct {
		name string
		ln   net.Listener
		s    *http.Server
	}
	var srvs []srv
	closeAll := func() {
		for _, s := range srvs {
			s.ln.Close()
		}
	}
	for _, x := range []struct {
		name, addr string
		h          http.Handler
		tls        *tls.Config
	}{{"pd", l.PD, g.PD(), l.PDTLS}, {"pa", l.PA, g.PA(), l.PATLS}, {"admin", l.Admin, g.adminWith(l.AdminRoutes), l.AdminTLS}} {
		if x.addr == "" {
			continue
		}
		listen := func(name, network, addr string) (net.Listener, error) { return net.Listen(network, addr) }
		if l.Listen != nil {
			listen = l.Listen
		}
		ln, err := listen(x.name, "tcp", x.addr)
		if err != nil {
			closeAll()
			return fmt.Errorf("listen %s on %s: %w", x.name, x.addr, err)
		}
		if x.tls != nil {
			ln = tls.NewListener(ln, x.tls)
		}
		s := &http.Server{
			Handler:           x.h,
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       2 * time.Minute,
			WriteTimeout:      2 * time.Minute,
			IdleTimeout:       2 * time.Minute,
			BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
			ErrorLog:          log.New(serverLog{g, x.name}, "", 0),
		}
		srvs = append(srvs, srv{x.name, ln, s})
		if l.Listening != nil {
			l.Listening(x.name, ln.Addr().String())
		}
	}
	wctx, stopWorkers := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = g.Run(wctx) }()

	errc := make(chan error, len(srvs))
	for _, s := range srvs {
		go func() {
			if err := s.s.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("serve %s: %w", s.name, err)
			}
		}()
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	sctx, cancel := context.WithTimeout(context.Background(), l.ShutdownTimeout)
	defer cancel()
	for _, s := range srvs {
		if e := s.s.Shutdown(sctx); e != nil && err == nil {
			err = fmt.Errorf("shut down %s: %w", s.name, e)
		}
	}
	stopWorkers()
	wg.Wait()
	return err
}

// serverLog is a listener's http.Server.ErrorLog. A failed TLS handshake (the one thing
// http.Server reports only there, as "http: TLS handshake error from ADDR: REASON") is counted in
// porta_tls_handshake_failures_total by reason and logged at WARN with the remote address: a
// refused certificate leaves no other trace. The server's other messages go to the debug log.
type serverLog struct {
	g        *Gateway
	listener string
}

const handshakeErrorPrefix = "http: TLS handshake error from "

func (l serverLog) Write(p []byte) (int, error) {
	msg := strings.TrimSuffix(string(p), "\n")
	rest, ok := strings.CutPrefix(msg, handshakeErrorPrefix)
	if !ok {
		l.g.log.Debug(msg, "listener", l.listener)
		return len(p), nil
	}
	// The address is host:port, the host possibly a bracketed IPv6 literal: the first ": " after it
	// ends it.
	addr, cause, _ := strings.Cut(rest, ": ")
	reason := handshakeReason(cause)
	l.g.metrics.handshakes.WithLabelValues(l.listener, reason).Inc()
	l.g.log.Warn("TLS handshake refused", "listener", l.listener, "remote", addr, "reason", reason, "err", cause)
	return len(p), nil
}

// handshakeReason sorts a TLS handshake error (as crypto/tls and net/http word it) into a few
// categories an operator can act on.
func handshakeReason(cause string) string {
	for _, c := range []struct{ text, reason string }{
		{"client sent an HTTP request to an HTTPS server", "plain-http"},
		{"didn't provide a certificate", "no-certificate"},
		{"signed by unknown authority", "unknown-authority"},
		{"has expired or is not yet valid", "certificate-expired"},
		{"failed to verify certificate", "certificate-invalid"},
		{"remote error", "client-aborted"},
		{"timeout", "timeout"},
		{"EOF", "eof"},
		{"connection reset", "eof"},
		{"tls: ", "protocol"},
	} {
		if strings.Contains(cause, c.text) {
			return c.reason
		}
	}
	return "other"
}

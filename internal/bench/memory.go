package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"porta/gateway"
	"porta/internal/listen"
	"porta/internal/loadgen"
)

// The memory of a gateway, measured alone. In Run both gateways, the SIL and the backend share
// one process, so its peak RSS is of all four. MeasureMemory starts each gateway as its own
// `porta serve` process (the files written as for Run, the PA sockets held here and passed by
// socket activation), sends it exchanges one at a time from this process, and reads each
// gateway's peak resident set (VmHWM) from /proc: peak RSS ÷ payload is then a gateway's own.

// MemoryOptions are one memory measurement's parameters.
type MemoryOptions struct {
	Exe       string // the porta binary to run as `porta serve`
	Profile   string // sync or oneway-ack
	Alg       string
	Payload   int
	Exchanges int // sent one after the other; at least 1
}

// GatewayMemory is one gateway's resident set, in bytes.
type GatewayMemory struct {
	PeakRSSBytes int64 `json:"peak_rss_bytes"` // VmHWM after the exchanges
	BaseRSSBytes int64 `json:"base_rss_bytes"` // VmRSS after one 1 KB exchange, before the payloads
}

// MemoryReport is what MeasureMemory measured.
type MemoryReport struct {
	Profile      string        `json:"profile"`
	Alg          string        `json:"alg"`
	PayloadBytes int           `json:"payload_bytes"`
	Exchanges    int           `json:"exchanges"`
	Consumer     GatewayMemory `json:"consumer"`
	Provider     GatewayMemory `json:"provider"`
	// PeakRSSPerPayload is the larger gateway's peak RSS divided by the payload size.
	PeakRSSPerPayload float64 `json:"peak_rss_per_payload"`
	// MsPerExchange is the mean wall time of an exchange (completed: answered, or acknowledged).
	MsPerExchange float64 `json:"ms_per_exchange"`
}

// MeasureMemory runs the two gateways as porta serve processes of o.Exe and measures each one's
// peak resident set over o.Exchanges exchanges of o.Payload bytes, sent one at a time.
func MeasureMemory(ctx context.Context, o MemoryOptions, stderr io.Writer) (*MemoryReport, error) {
	if o.Exchanges < 1 {
		o.Exchanges = 1
	}
	dir, err := os.MkdirTemp("", "porta-bench-mem-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	be, err := startServer(http.HandlerFunc(echoSAP))
	if err != nil {
		return nil, err
	}
	defer be.Close()
	res := listen.NewReserved()
	defer res.Close()
	ports, err := res.Addrs(2)
	if err != nil {
		return nil, err
	}
	cons, prov, err := writeBenchNetwork(dir, o.Alg, "", ports[0], ports[1], "http://"+be.addr+"/sap")
	if err != nil {
		return nil, err
	}
	var gws [2]*child
	for i, d := range []string{prov, cons} {
		c, err := startServe(ctx, o.Exe, d, res, ports[1-i], stderr)
		if err != nil {
			return nil, err
		}
		defer c.stop()
		gws[1-i] = c
	}
	for _, c := range gws {
		if err := c.wait(ctx, 60*time.Second); err != nil {
			return nil, err
		}
	}
	client := &http.Client{Timeout: 2 * time.Minute}
	defer client.CloseIdleConnections()
	service := benchSync
	if o.Profile == "oneway-ack" {
		service = benchOneWay
	}
	pd := "http://" + gws[0].addrs["PORTA_PD"] + "/pd/" + benchConsumer + "/" + benchProvider + "/" + service + "/" + benchAction
	metrics := "http://" + gws[0].addrs["PORTA_ADMIN"] + "/metrics"
	exchange := func(body []byte) error {
		resp, err := post(ctx, client, pd, body, true)
		if err != nil {
			return err
		}
		if o.Profile == "sync" {
			if !bytes.Contains(resp.body, []byte("risposta_richiestaSAP")) || len(resp.body) < len(body)-300 {
				return fmt.Errorf("the reply (%d bytes) is not the echo of the payload", len(resp.body))
			}
			return nil
		}
		if resp.header.Get(gateway.HeaderMessageID) == "" {
			return fmt.Errorf("no %s in the Porta Delegata's answer", gateway.HeaderMessageID)
		}
		return outboxEmpty(ctx, client, metrics, time.Minute)
	}
	if err := exchange(sapRequest(1000)); err != nil {
		return nil, fmt.Errorf("first exchange: %w", err)
	}
	rep := &MemoryReport{Profile: o.Profile, Alg: o.Alg, PayloadBytes: o.Payload, Exchanges: o.Exchanges}
	for i, m := range []*GatewayMemory{&rep.Consumer, &rep.Provider} {
		if m.BaseRSSBytes, err = loadgen.ProcStatus(gws[i].pid(), "VmRSS"); err != nil {
			return nil, err
		}
	}
	body := sapRequest(o.Payload)
	t0 := time.Now()
	for range o.Exchanges {
		if err := exchange(body); err != nil {
			return nil, fmt.Errorf("exchange of %d bytes: %w", o.Payload, err)
		}
	}
	rep.MsPerExchange = float64(time.Since(t0).Microseconds()) / 1000 / float64(o.Exchanges)
	for i, m := range []*GatewayMemory{&rep.Consumer, &rep.Provider} {
		if m.PeakRSSBytes, err = loadgen.ProcStatus(gws[i].pid(), "VmHWM"); err != nil {
			return nil, err
		}
	}
	rep.PeakRSSPerPayload = float64(max(rep.Consumer.PeakRSSBytes, rep.Provider.PeakRSSBytes)) / float64(o.Payload)
	return rep, nil
}

// child is a porta serve process and the addresses of its --addr-file.
type child struct {
	cmd      *exec.Cmd
	addrFile string
	addrs    map[string]string
	exited   chan error
}

// startServe starts exe serve on the gateway in dir, its PA on the socket res holds at pa.
func startServe(ctx context.Context, exe, dir string, res *listen.Reserved, pa string, stderr io.Writer) (*child, error) {
	f, err := res.File(pa)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	c := &child{addrFile: filepath.Join(dir, "addrs"), exited: make(chan error, 1)}
	c.cmd = exec.CommandContext(ctx, exe, "serve", "--config", filepath.Join(dir, "porta.yaml"), "--addr-file", c.addrFile, "--log-level", "error")
	c.cmd.Stdout, c.cmd.Stderr = io.Discard, stderr
	c.cmd.Env = append(os.Environ(), "GOTRACEBACK=single")
	if err := listen.Activate(c.cmd, []string{"pa"}, map[string]*os.File{"pa": f}); err != nil {
		return nil, err
	}
	if err := c.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s serve: %w", exe, err)
	}
	go func() { c.exited <- c.cmd.Wait() }()
	return c, nil
}

func (c *child) pid() int { return c.cmd.Process.Pid }

// wait waits until the child's --addr-file appears (it listens) and reads it.
func (c *child) wait(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		if b, err := os.ReadFile(c.addrFile); err == nil {
			c.addrs = map[string]string{}
			for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
				if k, v, ok := strings.Cut(l, "="); ok {
					c.addrs[k] = v
				}
			}
			return nil
		}
		select {
		case err := <-c.exited:
			c.exited <- err
			return fmt.Errorf("porta serve (%s) stopped at start: %v", filepath.Dir(c.addrFile), err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("porta serve (%s) did not listen within %s", filepath.Dir(c.addrFile), limit)
		}
	}
}

// stop ends the child gently (SIGTERM), then not.
func (c *child) stop() {
	c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-c.exited:
		c.exited <- err
	case <-time.After(10 * time.Second):
		c.cmd.Process.Kill()
	}
}

// outboxEmpty waits until the gateway whose metrics are at url has no message in its outbox:
// the one-way message sent has been acknowledged by the provider's riscontro (or failed).
func outboxEmpty(ctx context.Context, c *http.Client, url string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := c.Do(req)
		if err != nil {
			return err
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		depth := -1
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, `porta_queue_depth{queue="outbox"} `); ok {
				depth, _ = strconv.Atoi(strings.TrimSpace(v))
			}
		}
		switch {
		case depth == 0:
			return nil
		case depth < 0:
			return errors.New("the consumer's /metrics has no porta_queue_depth{queue=\"outbox\"}")
		case time.Now().After(deadline):
			return fmt.Errorf("the outbox still holds %d message(s) after %s", depth, limit)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"porta/internal/loadgen"
)

// The peer: another signed-SOAP stack measured in the same run as the gateways, so that their
// ratio does not depend on how busy the shared machine was. The peer is a folder with run.sh and
// build.sh as ../shared/peers/wss4j has them (Apache WSS4J over two JVMs: its exchange mode
// signs, sends, verifies and answers a signed reply, 2 signatures and 2 verifications per
// exchange, as the gateways' sync exchange). Run runs porta's window, then the peer's exchange
// mode at the same concurrency, payload and window, then porta's window again, and reports the
// ratio of porta's mean to the peer.

// PeerReport is the peer's measurement and porta's ratios to it (Report.Peer).
type PeerReport struct {
	Dir              string  `json:"dir"`
	ExchangesPerS    float64 `json:"exchanges_per_s"`
	CPUmsPerExchange float64 `json:"cpu_ms_per_exchange"`
	P50ms            float64 `json:"p50_ms"`
	P99ms            float64 `json:"p99_ms"`
	WarmupS          float64 `json:"warmup_s"`
	JITSettled       bool    `json:"jit_settled"`
	// PortaAfter* are porta's second window, after the peer's; PortaMean* the mean of both
	// windows, which the ratios use (porta, peer, porta: a drift of the machine's load during the
	// run weighs on both sides alike).
	PortaAfterExchangesPerS    float64 `json:"porta_after_exchanges_per_s"`
	PortaAfterCPUmsPerExchange float64 `json:"porta_after_cpu_ms_per_exchange"`
	PortaMeanExchangesPerS     float64 `json:"porta_mean_exchanges_per_s"`
	PortaMeanCPUmsPerExchange  float64 `json:"porta_mean_cpu_ms_per_exchange"`
	// RatioExchangesPerS is porta's exchanges/s over the peer's (above 1: porta is faster);
	// RatioCPUPerExchange porta's CPU per exchange over the peer's (below 1: porta spends less).
	RatioExchangesPerS  float64 `json:"ratio_exchanges_per_s"`
	RatioCPUPerExchange float64 `json:"ratio_cpu_per_exchange"`
	// Raw is the peer's own JSON line, whole.
	Raw json.RawMessage `json:"raw"`
}

// peerResult is what the peer's exchange mode prints (one JSON line; see its README).
type peerResult struct {
	PerS       float64 `json:"per_s"`
	CPUmsPerOp float64 `json:"cpu_ms_per_op"`
	P50ms      float64 `json:"p50_ms"`
	P99ms      float64 `json:"p99_ms"`
	Errors     int64   `json:"errors"`
	WarmupS    float64 `json:"warmup_s"`
	JITSettled bool    `json:"jit_settled"`
}

// peerBuild is where the peer's build output is: $PEER_BUILD, else DIR/build (the peer's own
// default).
func peerBuild(dir string) string {
	if b := os.Getenv("PEER_BUILD"); b != "" {
		return b
	}
	return filepath.Join(dir, "build")
}

// runPeer runs the peer of dir in exchange mode for o's concurrency, payload and window (in whole
// seconds, at least 1), building it first if it was not built; extra are more arguments of its
// run.sh (its warm-up flags). The peer's progress goes to stderr.
func runPeer(ctx context.Context, dir string, o Options, stderr io.Writer) (*PeerReport, error) {
	build := peerBuild(dir)
	env := append(os.Environ(), "PEER_BUILD="+build)
	if _, err := os.Stat(filepath.Join(build, "classpath")); err != nil {
		fmt.Fprintf(stderr, "porta bench: building the peer in %s (PEER_BUILD)\n", build)
		cmd := exec.CommandContext(ctx, filepath.Join(dir, "build.sh"))
		cmd.Env, cmd.Stdout, cmd.Stderr = env, stderr, stderr
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("peer %s: build.sh: %w", dir, err)
		}
	}
	secs := int(math.Ceil(o.Duration.Seconds()))
	args := append([]string{"exchange", "--concurrency", strconv.Itoa(o.Concurrency),
		"--duration", strconv.Itoa(max(secs, 1)), "--payload", strconv.Itoa(o.Payload)}, o.PeerArgs...)
	cmd := exec.CommandContext(ctx, filepath.Join(dir, "run.sh"), args...)
	cmd.Env, cmd.Stderr = env, stderr
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("peer %s: run.sh %v: %w", dir, args, err)
	}
	line := lastJSONLine(out)
	if line == nil {
		return nil, fmt.Errorf("peer %s: run.sh printed no JSON line: %.300s", dir, out)
	}
	var r peerResult
	if err := json.Unmarshal(line, &r); err != nil {
		return nil, fmt.Errorf("peer %s: %w: %.300s", dir, err, line)
	}
	switch {
	case r.Errors > 0:
		return nil, fmt.Errorf("peer %s: %d errors: %s", dir, r.Errors, line)
	case r.PerS <= 0:
		return nil, fmt.Errorf("peer %s: no exchange measured: %s", dir, line)
	}
	return &PeerReport{Dir: dir, ExchangesPerS: r.PerS, CPUmsPerExchange: r.CPUmsPerOp, P50ms: r.P50ms, P99ms: r.P99ms,
		WarmupS: r.WarmupS, JITSettled: r.JITSettled, Raw: line}, nil
}

// lastJSONLine is the last line of out that is a JSON object.
func lastJSONLine(out []byte) []byte {
	var last []byte
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if l := bytes.TrimSpace(sc.Bytes()); len(l) > 0 && l[0] == '{' && json.Valid(l) {
			last = append(last[:0], l...)
		}
	}
	return last
}

// compare fills p's porta figures from porta's windows before and after the peer's.
func (p *PeerReport) compare(before, after loadgen.Result) {
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	p.PortaAfterExchangesPerS, p.PortaAfterCPUmsPerExchange = after.PerSecond(), ms(after.CPUPerOp())
	p.PortaMeanExchangesPerS = (before.PerSecond() + after.PerSecond()) / 2
	p.PortaMeanCPUmsPerExchange = (ms(before.CPUPerOp()) + p.PortaAfterCPUmsPerExchange) / 2
	if p.ExchangesPerS > 0 {
		p.RatioExchangesPerS = p.PortaMeanExchangesPerS / p.ExchangesPerS
	}
	if p.CPUmsPerExchange > 0 {
		p.RatioCPUPerExchange = p.PortaMeanCPUmsPerExchange / p.CPUmsPerExchange
	}
}

// errPeerProfile: the peer has one exchange, signed request and signed reply, the sync profile.
var errPeerProfile = errors.New("--peer compares the sync profile (the peer's exchange mode is a signed request and a signed reply)")

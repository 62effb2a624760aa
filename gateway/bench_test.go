package gateway

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"porta/audit"
	"porta/internal/loadgen"
)

// exchanges runs the benchmark's loop of synchronous 1 KB exchanges through n and reports the
// process's CPU per exchange (both gateways, the client and the runtime's), beside -benchmem's
// allocations: the figures porta bench gives as cpu_ms_per_exchange and allocs_per_exchange.
func exchanges(b *testing.B, n *network) {
	req := strings.Replace(appRequest, "<codiceFiscale>", "<note>"+strings.Repeat("x", 900)+"</note><codiceFiscale>", 1)
	b.SetBytes(int64(len(req)))
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := loadgen.ProcessCPU()
	for b.Loop() {
		resp := n.prov.callBody(b, "/pd/Provincia/Ministero/Anagrafe/Consulta", req, nil)
		if body := readAll(b, resp); resp.StatusCode != 200 {
			b.Fatalf("status %d\n%s", resp.StatusCode, body)
		}
	}
	b.ReportMetric(float64(loadgen.ProcessCPU()-cpu0)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
}

// BenchmarkSyncExchange measures one synchronous 1 KB exchange through both gateways in one
// process: PD (parse, build, sign) → PA over mTLS (parse, check, verify, deliver, sign the reply)
// → PD (verify, strip) — four signature operations per exchange.
func BenchmarkSyncExchange(b *testing.B) {
	exchanges(b, newNetwork(b))
}

// BenchmarkSyncExchangeAudit is BenchmarkSyncExchange with both gateways on the audit store
// (SQLite, synchronous=FULL): each exchange appends two trace records on each side.
func BenchmarkSyncExchangeAudit(b *testing.B) {
	n := newNetworkOn(b, func(name string) Store {
		s, err := audit.Open(context.Background(), "sqlite:"+filepath.Join(b.TempDir(), name+".db"), audit.Options{Node: name})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		return NewAuditStore(s, time.Hour)
	})
	exchanges(b, n)
}

package gateway

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"porta/audit"
)

// BenchmarkSyncExchange measures one synchronous 1 KB exchange through both gateways in one
// process: PD (parse, build, sign) → PA over mTLS (parse, check, verify, deliver, sign the reply)
// → PD (verify, strip) — four signature operations per exchange.
func BenchmarkSyncExchange(b *testing.B) {
	n := newNetwork(b)
	req := strings.Replace(appRequest, "<codiceFiscale>", "<note>"+strings.Repeat("x", 900)+"</note><codiceFiscale>", 1)
	b.SetBytes(int64(len(req)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		resp := n.prov.callBody(b, "/pd/Provincia/Ministero/Anagrafe/Consulta", req, nil)
		body := readAll(b, resp)
		if resp.StatusCode != 200 {
			b.Fatalf("status %d\n%s", resp.StatusCode, body)
		}
	}
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
	req := strings.Replace(appRequest, "<codiceFiscale>", "<note>"+strings.Repeat("x", 900)+"</note><codiceFiscale>", 1)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		resp := n.prov.callBody(b, "/pd/Provincia/Ministero/Anagrafe/Consulta", req, nil)
		if body := readAll(b, resp); resp.StatusCode != 200 {
			b.Fatalf("status %d\n%s", resp.StatusCode, body)
		}
	}
}

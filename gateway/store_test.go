package gateway_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"porta/audit"
	"porta/gateway"
	"porta/gateway/storetest"
)

// The audit store, through the gateway's adapter, keeps the contract the gateway relies on.
func TestAuditStoreContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) gateway.Store {
		s, err := audit.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "porta.db"), audit.Options{Node: "test"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return gateway.NewAuditStore(s, time.Hour)
	})
}

package gateway_test

import (
	"testing"
	"time"

	"porta/gateway"
	"porta/gateway/storetest"
)

// The gateway's in-memory test double keeps the same contract as the real store.
func TestMemStoreContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) gateway.Store { return gateway.NewMemStoreForTest(time.Now) })
}

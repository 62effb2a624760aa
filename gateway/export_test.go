package gateway

import "time"

// NewMemStoreForTest exposes the in-memory test store to external test packages.
func NewMemStoreForTest(now func() time.Time) Store { return newMemStore(now) }

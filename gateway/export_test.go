//go:build busta_contract

// Built only with -tags busta_contract until the busta side of the envelope contract
// (ProtocolError, NewError, the Code constants, ParseDocument/ParseHeader, Header.Element,
// IDGenerator, ValidateID) is committed; then delete this header (the go:build line and this
// comment). Tested meanwhile against a stand-in of exactly those contract names.

package gateway

import "time"

// NewMemStoreForTest exposes the in-memory test store to external test packages.
func NewMemStoreForTest(now func() time.Time) Store { return newMemStore(now) }

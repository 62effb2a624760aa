//go:build busta_contract

// Built only with -tags busta_contract until the busta side of the envelope contract
// (ProtocolError, NewError, the Code constants, ParseDocument/ParseHeader, Header.Element,
// IDGenerator, ValidateID) is committed; then delete this header (the go:build line and this
// comment). Tested meanwhile against a stand-in of exactly those contract names.

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

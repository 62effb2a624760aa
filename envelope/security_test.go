package envelope

import (
	"errors"
	"fmt"
	"io"
	"testing"

	"porta/envelope/wssec"
)

func TestSecurityError(t *testing.T) {
	tests := []struct {
		kind wssec.Kind
		code Code
		bare bool
	}{
		{wssec.Changed, CodeInvalidSignature, false},
		{wssec.Invalid, CodeInvalidXMLSignature, false},
		{wssec.Policy, CodeSecurityPolicy, false},
		{wssec.Malformed, CodeEnvelopeFormat, true},
	}
	for _, tt := range tests {
		in := fmt.Errorf("verify: %w", &wssec.Error{Kind: tt.kind, Pos: "Security/Signature", Reason: "why"})
		var pe *ProtocolError
		if !errors.As(SecurityError(in), &pe) {
			t.Fatalf("%s: SecurityError(%v) is not a *ProtocolError", tt.kind, in)
		}
		if pe.Code() != tt.code || pe.Bare != tt.bare || pe.Detail != "why" || pe.Exceptions[0].Position != "Security/Signature" {
			t.Errorf("%s: got %s bare=%v detail=%q at %q, want %s bare=%v", tt.kind, pe.Code(), pe.Bare, pe.Detail, pe.Exceptions[0].Position, tt.code, tt.bare)
		}
	}
	if got := SecurityError(io.EOF); got != io.EOF {
		t.Errorf("SecurityError(io.EOF) = %v, want it unchanged", got)
	}
	if got := SecurityError(nil); got != nil {
		t.Errorf("SecurityError(nil) = %v", got)
	}
}

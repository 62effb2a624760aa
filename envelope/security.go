package envelope

import (
	"encoding/xml"
	"errors"

	"porta/envelope/wssec"
)

// IntestazioneName is the expanded name of eGov_IT:Intestazione, the header block of a busta
// that WS-Security signs beside the soap:Body and the wsu:Timestamp.
var IntestazioneName = xml.Name{Space: NSeGov, Local: "Intestazione"}

// SignedParts returns the header blocks a busta's signature covers and a verifier requires
// signed when present: the Intestazione. Give it to wssec.Signer.Parts and wssec.Verifier.Parts.
func SignedParts() []xml.Name { return []xml.Name{IntestazioneName} }

// SecurityError returns err as the eGov error it answers. A *wssec.Error becomes a
// *ProtocolError at the same position: EGOV_IT_117 when signed content changed, EGOV_IT_202 when
// the XML-DSig structure is not acceptable, EGOV_IT_200 when the security policy is not met,
// EGOV_IT_001 with a bare fault when the message could not be read. nil and any other error are
// returned as they are.
func SecurityError(err error) error {
	var we *wssec.Error
	if !errors.As(err, &we) {
		return err
	}
	var code Code
	switch we.Kind {
	case wssec.Changed:
		code = CodeInvalidSignature
	case wssec.Invalid:
		code = CodeInvalidXMLSignature
	case wssec.Policy:
		code = CodeSecurityPolicy
	default:
		code = CodeEnvelopeFormat
	}
	pe := NewError(code, we.Pos, we.Reason)
	pe.Bare = code == CodeEnvelopeFormat
	return pe
}

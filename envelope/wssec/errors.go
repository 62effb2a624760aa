package wssec

import "fmt"

// Kind classifies why a message failed verification, so that a caller can answer with its own
// protocol's code for each kind.
type Kind int

const (
	// Malformed: the input is not acceptable XML (see xmlsafe.Parse) or not a SOAP 1.1 Envelope
	// with a soap:Body; the message could not be read at all.
	Malformed Kind = iota + 1
	// Invalid: the XML-DSig structure is not acceptable: signature wrapping, a duplicate or
	// unresolvable Id, a disallowed algorithm or transform, a repeated part.
	Invalid
	// Policy: the security policy is not met: nothing signed, a required part unsigned, an
	// untrusted, expired or unsuitable certificate, a stale or future Timestamp.
	Policy
	// Changed: a digest or the SignatureValue does not match: the content or the SignedInfo
	// changed after signing.
	Changed
)

func (k Kind) String() string {
	switch k {
	case Malformed:
		return "malformed message"
	case Invalid:
		return "invalid signature structure"
	case Policy:
		return "security policy not met"
	case Changed:
		return "signed content changed"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Error is a verification failure: its Kind, where in the message (a path such as
// "Security/Signature/SignedInfo"), and what was wrong.
type Error struct {
	Kind   Kind
	Pos    string
	Reason string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s: %s: %s", e.Kind, e.Pos, e.Reason)
}

func newError(k Kind, pos, format string, a ...any) *Error {
	return &Error{Kind: k, Pos: pos, Reason: fmt.Sprintf(format, a...)}
}

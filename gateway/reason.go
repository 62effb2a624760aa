package gateway

import "net/http"

// HeaderErrorReason carries the category of a refusal, for the caller's program: the Porta
// Delegata sets it on every fault it answers an application with, the Porta Applicativa on the
// EGOV_IT_300 fault it answers when the provider's application could not be reached.
const HeaderErrorReason = "Porta-Error-Reason"

// Reason is the category of a refused Porta Delegata request: what the caller can act on, no more.
// The faultstring beside it is the human text. A Reason never tells which user names exist: an
// unknown user, a wrong password, an unregistered client certificate and credentials naming two
// applications are all ReasonCredentialsInvalid, answered with the same text on the same path.
type Reason string

// The reasons of the Porta Delegata, in the order of its steps.
const (
	ReasonCredentialsMissing    Reason = "credentials-missing"     // no HTTP Basic, no client certificate
	ReasonCredentialsInvalid    Reason = "credentials-invalid"     // credentials not accepted
	ReasonRouteUnknown          Reason = "route-unknown"           // consumer not hosted, or provider, service or action not registered
	ReasonNotAuthorised         Reason = "not-authorised"          // the application may not call the service as the consumer
	ReasonPayloadInvalid        Reason = "payload-invalid"         // not XML, not SOAP 1.1, too large, or not valid against the schema
	ReasonCorrelationInvalid    Reason = "correlation-invalid"     // Porta-Relates-To or Porta-Conversation-ID malformed or naming no suitable busta
	ReasonPeerUnreachable       Reason = "peer-unreachable"        // the provider's gateway could not be reached (connection, TLS, timeout)
	ReasonPeerRefused           Reason = "peer-refused"            // the provider's gateway refused the busta (its eGov exceptions are in the fault)
	ReasonPeerReplyInvalid      Reason = "peer-reply-invalid"      // the provider's gateway answered with something that does not check
	ReasonBackendUnreachable    Reason = "backend-unreachable"     // the provider's gateway could not reach the provider's application
	ReasonGatewayError          Reason = "gateway-error"           // this gateway failed (store, signature, identifiers): try again later
	ReasonGatewayBusy           Reason = "gateway-busy"            // HTTP 503: too many requests in flight, or too many bytes; try again after Retry-After
	ReasonIdempotencyKeyInvalid Reason = "idempotency-key-invalid" // Idempotency-Key not 1-255 printable ASCII characters (HTTP 400)
	ReasonIdempotencyConflict   Reason = "idempotency-conflict"    // Idempotency-Key already used for another request (HTTP 409)
	ReasonIdempotencyPending    Reason = "idempotency-pending"     // the request under this Idempotency-Key still waits for its answer (HTTP 409, Retry-After)
)

// backendUnreachable is the detail of the EGOV_IT_300 fault the Porta Applicativa answers when the
// service's application could not be reached; it names no internal address.
const backendUnreachable = "the provider's application could not be reached"

// backendError is a failure to hand a busta to the service's backend (a connection refused or
// timed out, an HTTP status that is neither a reply nor a fault).
type backendError struct{ err error }

func (e *backendError) Error() string { return e.err.Error() }
func (e *backendError) Unwrap() error { return e.err }

// credentialsPresented reports whether r carries HTTP Basic credentials or a client certificate.
func credentialsPresented(r *http.Request) bool {
	if _, _, ok := r.BasicAuth(); ok {
		return true
	}
	return r.TLS != nil && len(r.TLS.PeerCertificates) > 0
}

// Package gateway owns the Porta Delegata and Porta Applicativa: the HTTP handlers, the pipeline
// of inbound checks and outbound steps, the four collaboration profiles and reliable delivery (outbox,
// inbox, acknowledgements, duplicates, ordering).
//
// It must not parse or build buste itself (package envelope does), decide who may call what
// (package registry answers, through Directory), or talk SQL (package audit implements Store).
// Nor does it read porta.yaml, open stores or load keys and TLS: package gateway/node assembles
// a node from its configuration. Nothing below it may import it, nor may it import gateway/node.
//
// # Shape
//
// A Gateway is built by New from Options and Deps (the Directory over the registry, the Store,
// the envelope Signer and Verifier, a payload Validator, the mTLS HTTP client for peers, a clock),
// or by node.Open from porta.yaml, which also returns the listeners' addresses and TLS for Serve.
// It serves three handlers and runs background workers:
//
//   - PD: POST /pd/{consumer}/{provider}/{service}[/{action}] from local applications, through the
//     steps pdSteps (pd.go, listed below); GET ...?wsdl serves the service's WSDL pointing here.
//   - PA: POST /pa from peer gateways, through the fixed list of checks paStages (pa.go, listed
//     below), each answering with its eGov code; then delivered at once (synchronous,
//     richiesta-stato) or stored in the inbox before the answer (one-way: HTTP 200 or the
//     riscontro; asynchronous: the ricevuta).
//   - Admin: /healthz, /readyz, /metrics from the gateway's own Prometheus registry.
//   - Run: the outbox sender (re-sends with back-off until acknowledged, expired, or refused for
//     good; every end is in the store), the inbox deliverer (to the Backend of the service, in
//     Sequenza order when the store holds early messages), and the purge of expired state.
//
// Each step of the PD and each stage of the PA returns its outcome as a value (nothing: go on; an
// answer; or an error carrying its code or reason); only the handlers write the answer.
//
// # Porta Delegata: the steps
//
// A request of a local application goes through these steps in order; the first that refuses
// answers HTTP 500 with a SOAP Fault whose detail is an eGov_IT_Ecc:MessaggioDiErroreApplicativo,
// and with the header Porta-Error-Reason naming the category (Reason):
//
//	1  authenticate: HTTP Basic or a client certificate       credentials-missing, credentials-invalid
//	2  route: the consumer is hosted here; provider and
//	   service are in the registry                            route-unknown
//	3  authorise: the application may call the service as
//	   the consumer                                           not-authorised
//	4  read payload: a SOAP 1.1 envelope within
//	   limits.max_message; the action (URL, else SOAPAction,
//	   else the payload's root) is one of the service's       payload-invalid, route-unknown
//	5  validate payload: against the action's schema, if any  payload-invalid
//	6  build header: Identificatore from the consumer's
//	   counter; Collaborazione and RiferimentoMessaggio from
//	   Porta-Conversation-ID and Porta-Relates-To as the
//	   profile requires; Sequenza for in-order services       correlation-invalid
//	7  sign: WS-Security                                      gateway-error
//	8  send synchronously (sync, richiesta-stato): post to
//	   the provider's PA, check the reply busta, answer with
//	   its payload and Porta-Message-ID, Porta-Relates-To,    peer-unreachable, peer-refused,
//	   Porta-Conversation-ID                                  backend-unreachable, peer-reply-invalid
//	9  trace and queue (everything else): the trace record
//	   and the outbox entry in one transaction, then 200
//	   with Porta-Message-ID                                  gateway-error
//
// A failure of this gateway itself (its store, its identifier counter) is gateway-error. An
// unknown user, a wrong password, an unregistered certificate and credentials of two different
// applications are all credentials-invalid, with one text: the answer does not tell which user
// names exist (the cause is in the server's log). peer-refused carries the peer's eGov exceptions
// in the fault; backend-unreachable is the provider's gateway saying (EGOV_IT_300, with
// Porta-Error-Reason) that it could not reach the provider's application.
//
// # Porta Applicativa: the inbound checks
//
// Each busta goes through these stages in order; the first that fails answers HTTP 500 with its
// eGov code:
//
//	 1  well-formedness: acceptable XML (xmlsafe.Parse: no DTD, size caps)                001, bare fault
//	 2  header: a SOAP 1.1 envelope with one eGov_IT:Intestazione the busta model
//	    reads (actor, mustUnderstand, schema of the busta, value formats)                001 bare; 002, 1xx
//	 3  sender: Mittente is a party of the registry                                      101
//	 4  receiver: Destinatario is a party this gateway hosts                             102
//	 5  service and action: Servizio (of the receiver) and Azione are registered         105, 106
//	 6  payload schema: the Body is valid against the service's schema, if any           003
//	 7  profile: ProfiloCollaborazione is the registered one                             103
//	 8  identifiers: Identificatore well-formed and owned by the sender;
//	    Collaborazione well-formed and as the profile requires                           110, 104
//	 9  RiferimentoMessaggio: names a busta this gateway sent or received, as the
//	    profile requires (risposta: a request sent; richiesta-stato: one received)       109, 111
//	10  expiry: Scadenza not past, OraRegistrazione within the window                    301
//	11  signature: WS-Security verified (wssec.Verifier); a KeyInfo that names the
//	    certificate (IssuerSerial, SKI, thumbprint) is resolved among the Mittente's
//	    registered certificates only; from here on only the verified header and body
//	    are used; the signed header must equal the one read in every field the
//	    checks used                                                                      117, 200, 202
//	12  authorisation: signer and TLS client certificates belong to the sender,
//	    the sender may consume the service                                               201
//	13  duplicates (inoltro ALPIUUNAVOLTA or the service filters): a one-way with
//	    riscontro gets its riscontro again (HTTP 200, not delivered twice), any
//	    other busta                                                                      110
//
// Answers (spec §4, §10): a bare soap:Client fault when the busta cannot be read; an error busta
// (parties swapped, RiferimentoMessaggio, ListaEccezioni) with the soap:Client
// "EGOV_IT_001 - Formato Busta non corretto" fault for validation errors; a soap:Server
// "EGOV_IT_300" fault for processing errors. When the service's application cannot be reached
// (connection refused, timeout, an HTTP status that is neither a reply nor a fault) the
// EGOV_IT_300 fault's detail says "the provider's application could not be reached", naming no
// address, and Porta-Error-Reason is backend-unreachable. Every busta in and out is traced before
// answering.
//
// # The trail
//
// Every refusal, of the PA and of the PD, is traced on a context of its own (outliveCaller): a
// sender or application that hangs up does not take the record with it. So is a busta that passed
// the checks: a synchronous delivery under way finishes and is traced as delivered (received)
// though its caller left, and the PD's synchronous send is traced as what the provider answered.
// Every inbound record names the TLS client certificate of its connection (subject and SHA-256
// fingerprint); a PD refusal names the remote address, the application (once authenticated) and
// the reason. What is kept of a refused message is capped (Options.RefusedBodyMax, porta.yaml's
// trace.refused_body_max): its first bytes, with the size and SHA-256 of the whole. TLS handshakes
// a listener refuses leave no request: they are counted in porta_tls_handshake_failures_total by
// reason and logged at WARN with the remote address (serverLog).
//
// Backends are local applications (HTTPBackend) or built-in services (HandlerBackend), which
// cmd/porta passes in by name so that this package never imports the adapters.
package gateway

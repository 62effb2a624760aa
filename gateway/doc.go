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
// # Admission
//
// Before the steps of either, the PD and the PA admit a request within Options' limits
// (admission.go): requests in flight per listener and per peer (client certificate, else IP
// address), and a budget of buffer bytes shared by all requests, charged as bodies arrive (a
// claimed Content-Length reserves nothing). Beyond them: HTTP 503 with Retry-After, on the PA the
// EGOV_IT_300 fault, on the PD Porta-Error-Reason gateway-busy; nothing is traced.
//
// # Porta Delegata: the steps
//
// A request of a local application goes through these steps in order; the first that refuses
// answers HTTP 500 with a SOAP Fault whose detail is an eGov_IT_Ecc:MessaggioDiErroreApplicativo,
// and with the header Porta-Error-Reason naming the category (Reason):
//
//	1  authenticate: HTTP Basic or a client certificate       credentials-missing, credentials-invalid,
//	   behind the throttle (429, Retry-After)                 throttled
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
// names exist (the cause is in the server's log), nor, by its time, which are known (an unknown
// user's password costs the same PBKDF2 work). Too many refused credentials from one address or
// for one user name lock it: 429 with Retry-After and throttled, before any password is checked
// (throttle.go). peer-refused carries the peer's eGov exceptions
// in the fault; backend-unreachable is the provider's gateway saying (EGOV_IT_300, with
// Porta-Error-Reason) that it could not reach the provider's application.
//
// # Porta Applicativa: the inbound checks
//
// Each busta goes through these stages in order. Stages 2-10 (2b included) read only the header:
// they are all run and every problem they find is answered together, once, in one ListaEccezioni
// (spec §10; a problem two stages see is reported once, and a stage does not report again what
// the busta model or an earlier stage already did). A bare error (the header cannot be read) or a
// failure of the gateway itself answers at once. From stage 10a on, the first stage that fails
// answers with its eGov code; all answers are HTTP 500 (but the Linee Guida INFO answers and the
// riscontro repeated for a duplicate, HTTP 200):
//
//	 1  well-formedness: acceptable XML (xmlsafe.Parse: no DTD, size caps)                001, bare fault
//	 2  header: a SOAP 1.1 envelope with one attempted eGov header (the eGov actor or
//	    namespace) the busta model reads (name, namespace, qualified actor and
//	    mustUnderstand, schema of the busta, value formats, indirizzoTelematico URLs)    001 bare; 001, 002, 1xx
//	 2b interop: the sender's interoperability profile (spec §11, lineeguida.go): from a
//	    Linee Guida 1.1 partner, envelope.LineeGuida's GRAVE exceptions refuse the busta
//	    (all of them listed); its INFO ones go in the reply's ListaEccezioni (HTTP 200) or,
//	    for a one-way, in the trace. Such a busta's Sequenza is ignored and its
//	    duplicates always filtered                                                      1xx, 401
//	 3  sender: Mittente is a party of the registry, with its registered tipo            101
//	 4  receiver: Destinatario is a party this gateway hosts, with its registered tipo   102
//	 5  service and action: Servizio (of the receiver) and Azione are registered         105, 106
//	 6  profile: ProfiloCollaborazione is the registered one (posizione
//	    "ProfiloCollaborazione diverso da quanto specificato nel registro")              103
//	 7  identifiers: Identificatore well-formed and owned by the sender as registered
//	    (name and tipo); Collaborazione well-formed and as the profile requires          110, 104
//	 8  ListaTrasmissioni: each Origine and Destinazione a registered party, with its
//	    registered tipo                                                                  116
//	 9  RiferimentoMessaggio: names a busta this gateway sent or received, as the
//	    profile requires (risposta: a request sent; richiesta-stato: one received)       109, 111
//	10  expiry: Scadenza not past, OraRegistrazione within the window                    301
//	10a attachments (SwA, multipart/related): the Body is the eGov Manifest and it
//	    describes exactly the parts; the Richiesta part stands in for the Body           003
//	11  payload schema: the Body is valid against the service's schema, if any           003
//	12  signature: WS-Security verified (wssec.Verifier), every attachment too (SwA
//	    profile 1.1); a KeyInfo that names the certificate (IssuerSerial, SKI,
//	    thumbprint) is resolved among the Mittente's registered certificates only;
//	    from here on only the verified header and body are used; the signed header
//	    must equal the one read in every field the checks used                          117, 200, 202
//	13  authorisation: signer and TLS client certificates belong to the sender,
//	    the sender may consume the service                                               201
//	14  duplicates: a synchronous request or richiesta-stato seen before (the replay
//	    cache, whatever inoltro says), and with inoltro ALPIUUNAVOLTA or a service
//	    that filters any other busta seen before; a one-way with riscontro gets its
//	    riscontro again (HTTP 200, not delivered twice)                                 110
//
// An error busta (one carrying ListaEccezioni) that passes is an answer, never delivered: HTTP
// 200 with no body; its trace records every Eccezione it carries and the EGOV_IT_003 this
// gateway finds when its Body is not the soap:Client "EGOV_IT_001 - Formato Busta non corretto"
// fault (posizione ListaEccezioni/SOAPFault, .../FaultCode, .../FaultString; outcome error).
//
// A busta may come as SOAP with Attachments (spec §12, swa.go): the root part is the envelope the
// stages read and the trace keeps; the signature stage verifies every part too (a changed
// attachment is 117), and the backend gets SwA back. MaxMessage caps the whole message.
//
// Answers (spec §4, §10): a bare soap:Client fault when the busta cannot be read; an error busta
// (parties swapped, RiferimentoMessaggio, ListaEccezioni; from the gateway's default identity to
// Sconosciuto when the header names no Mittente) with the soap:Client
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
// A record carries the business identifiers its service declares (the registry's trace: ids, e.g.
// the codice fiscale; ids.go), read from the Body the gateway already parsed: the PD's request
// once, when its payload is read (its refusals from then on carry them too), each answer and each
// busta the PA accepts (not its refusals: an unverified sender must not fill the index). The store
// keeps them as keyed hashes for search (audit.Filter.BusinessID).
//
// Backends are local applications (HTTPBackend) or built-in services (HandlerBackend), which
// cmd/porta passes in by name so that this package never imports the adapters.
package gateway

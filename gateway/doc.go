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
//   - PD: POST /pd/{consumer}/{provider}/{service}[/{action}] from local applications: authenticate
//     and authorise through the Directory, validate the payload, build and sign the busta (IDs
//     from the consumer's generator, Collaborazione/RiferimentoMessaggio from the
//     Porta-Conversation-ID and Porta-Relates-To headers, Sequenza for in-order services);
//     synchronous requests and richieste-stato are sent at once and answered with the reply's
//     payload, everything else is traced and queued in the outbox in one transaction and
//     answered 200 with Porta-Message-ID. GET ...?wsdl serves the service's WSDL pointing here.
//   - PA: POST /pa from peer gateways, through the fixed list of checks paStages (pa.go), each
//     answering with its eGov code; then delivered at once (synchronous, richiesta-stato) or
//     stored in the inbox before the answer (one-way: HTTP 200 or the riscontro; asynchronous:
//     the ricevuta).
//   - Admin: /healthz, /readyz, /metrics from the gateway's own Prometheus registry.
//   - Run: the outbox sender (re-sends with back-off until acknowledged, expired, or refused for
//     good; every end is in the store), the inbox deliverer (to the Backend of the service, in
//     Sequenza order when the store holds early messages), and the purge of expired state.
//
// Backends are local applications (HTTPBackend) or built-in services (HandlerBackend), which
// cmd/porta passes in by name so that this package never imports the adapters.
package gateway

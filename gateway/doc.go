// Package gateway owns the Porta Delegata and Porta Applicativa: the HTTP handlers, the pipeline
// of inbound checks and outbound steps, the four collaboration profiles, reliable delivery (outbox,
// inbox, acknowledgements, duplicates, ordering) and the gateway's configuration file (porta.yaml,
// see Config and LoadConfig).
//
// It must not parse or build buste itself (package envelope does), decide who may call what
// (package registry answers, through Directory), or talk SQL (package audit implements Store).
// Nothing below it may import it; cmd/porta wires it together.
package gateway

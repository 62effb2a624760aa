// Package node turns a porta.yaml into a running gateway node: it owns the configuration file
// (Config, LoadConfig and its YAML reader, ParseSize), opening the store (StoreOpener,
// OpenAuditStore), the signing key, the trust store and the TLS of the listeners and of the
// client for peers, the built-in backends passed in by name, and the store of porta serve's jobs.
// Open assembles all of it into a gateway.Gateway with the Listeners its Serve needs.
//
// It must not speak the protocol: building, checking, routing and delivering buste belongs to
// package gateway, which must not import this package. cmd/porta, the tests and the tools that run
// a node (serve, demo, bench, sim) come through here.
package node

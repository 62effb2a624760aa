package node

import "fmt"

// ConfigFile is what ConfigYAML writes into a new porta.yaml.
type ConfigFile struct {
	Party         string // the hosted party; the node is called Party-1
	PD, PA, Admin string // listen addresses
	CA            string // the CA certificate file trusted for peers, relative to porta.yaml ("": none)
	WrittenBy     string // names the writer in the file's first line ("porta init")
	IndexKey      string // the index key file (trace.index_key), relative to porta.yaml ("": none)
}

// ConfigYAML is a commented porta.yaml with every key at its default, as porta init, porta demo
// and porta bench write it. LoadConfig reads it back.
func ConfigYAML(c ConfigFile) string {
	ca := ""
	if c.CA != "" {
		ca = "\n  ca: " + c.CA
	}
	ik := ""
	if c.IndexKey != "" {
		ik = "\n  index_key: " + c.IndexKey + "                # HMAC key of business identifiers (search by cf), owner-only"
	}
	return fmt.Sprintf(configTemplate, c.WrittenBy, c.Party, c.Party, c.PD, c.PA, c.Admin, ca, ik)
}

// configTemplate: writer, hosted party (twice), pd, pa, admin, ca line, index key line.
const configTemplate = `# Porta gateway configuration, written by %s. Relative paths are resolved against this
# file's directory. Every key is documented in package gateway/node (Config).
node: %s-1
parties: [%s]                       # hosted parties, marked hosted: true in the registry

listen:
  pd: %s             # Porta Delegata: local applications POST /pd/{consumer}/{provider}/{service}/{action}
  pa: %s             # Porta Applicativa: peer gateways POST /pa (TLS, client certificates)
  admin: %s          # /healthz, /readyz, /metrics, the management API /api/v1 and the console /ui/
  # admin_tls: true                 # HTTPS on the admin listener, with paths.cert and paths.key
  # admin_client_ca: operators-ca.pem  # operators' client certificates (porta operator add --cert); asked for, not required
  pd_tls: false

paths:
  key: key.pem
  cert: cert.pem
  registry: registry.yaml%s

store: sqlite:porta.db              # or postgres://USER@HOST/DB (porta serve --store overrides)

trace:
  body: full                        # full | header | none | encrypted, for services whose trace: names none (personal data live in bodies)
  keys: trace-keys                  # the keys that encrypt bodies and queues at rest (porta trace key rotate adds one)%s
  # retention: 400d                 # purge bodies older than this (a service's trace: retention overrides)
  # sign_every: 1h                  # sign the chain head with paths.key this often and at shutdown
  # tsa: https://tsa.example/tsr    # RFC 3161 timestamp of each signed head (tsa_ca: its CA)

signature:
  algorithm: auto                   # chosen from the key
  max_clock_skew: 5m

limits:
  max_message: 16MiB
  inflight_bytes: 256MiB            # body bytes all requests in flight may hold; beyond: 503 + Retry-After
  per_peer_requests: 256            # requests in flight per client certificate (else IP address) and listener
  per_listener_requests: 1024       # requests in flight on the PD, and on the PA
  retry_after: 5s

outbox:
  initial_backoff: 1s
  max_backoff: 5m
  max_attempts: 0                   # 0 = until expiry
  expiry: 24h

duplicates:
  retention: 7200m

http_client:
  timeout: 30s
  dial_timeout: 10s
  tls_handshake_timeout: 10s
  backend_timeout: 30s

# Provincial commands this gateway runs on a schedule, as a local application of its own PD (the
# credentials: --app USER:PASS in run, or PORTA_APP in porta serve's environment). On nodes
# sharing a PostgreSQL store each job runs on one node at a time. See porta jobs list|history.
jobs: []
#  - name: sap-nightly
#    every: 24h                     # at most 24h; slots every EVERY from AT each day
#    at: "02:30"                    # local time of day (default 00:00)
#    run: [sil, send, --what, sap]  # no --since/--worker: what changed since the last successful run
#  - {name: candidature, every: 15m, run: [sil, send, --what, candidatura, --intermediary, "CF:NAME:REGION:EMAIL"]}
#  - {name: anagrafe, every: 24h, at: "03:00", run: [sync, anagrafe]}
#  - {name: scuole, every: 24h, at: "04:00", run: [sync, scuole, --school, "LiceoRoma:RMPS01000A:2025/2026"]}
#  - {name: retry, every: 1h, run: [failures, retry]}
`

// Package ops is the management API of a Porta node, /api/v1/ on its admin listener: who may
// operate the gateway (operators and their roles, HTTP Basic for scripts, sessions with CSRF
// tokens for the browser, a throttle on failed logins), what they may read (the trail's
// transactions and their detail, the outbox, the provincial failures, statistics, the jobs, the
// registry without secrets) and the few things they may do (requeue an outbox message, run a
// job now). The browser console (/ui/) is another package's embedded handler, mounted here
// through Options.UI so that it and the API share one origin.
//
// It is a top-level package because it fits in no other: it is not the gateway pipeline (which
// carries buste and must not know about people), not the store (package audit keeps the
// operators and the trail, but does not decide who may see what), not a command (cmd/porta
// builds it from porta.yaml and mounts it with gateway.Listeners.AdminRoutes). It must not
// import gateway or cmd; it reads and writes only through *audit.Store and the functions in
// Options.
//
// # Roles
//
// viewer reads everything but bodies and the registry; operator also requeues outbox messages
// and runs jobs; admin also sees the bodies the trail keeps (through Options.OpenBody, the seam
// where an encrypted body is opened) and the registry. A request without valid credentials gets
// 401, a role too low 403; every error is JSON with a message an operator can act on.
//
// # Operator actions in the trail
//
// Every action an operator takes (login, failed login, logout, requeue, job run, body view) is
// appended to the node's audit trail, so it is chained and verified like every busta: a record
// with Function "Operator", Direction in, Outcome the action (see the Action constants),
// Application the operator's name (who; the name tried, for a failed login), Peer the remote
// address (from where), ClientCert and ClientSubject the TLS client certificate the request came
// with (its SHA-256 fingerprint and subject), Recorded the time (when), Detail what it was about in words (the busta,
// the job, the record whose body was read), and ID and Transaction a fresh "op-" identifier
// (never a busta's, so the gateway's lookups by busta ID cannot meet it). porta trace list
// --json shows them; the transactions listing and the statistics leave them out.
//
// # Client certificates
//
// On an HTTPS admin listener with client CAs (porta.yaml's listen.admin_tls and
// listen.admin_client_ca), a request whose connection presented a verified client certificate is
// authenticated by it alone: the certificate's SHA-256 fingerprint (registry.Fingerprint, as the
// trail's client_cert) must be an operator's (porta operator add --cert), which needs no
// password, no session and no CSRF token (cross-site requests are still refused). An unknown or
// unverified certificate gets 401 and is traced as a failed login. An operator added with a
// certificate and no password can only log in with it.
//
// # Sessions
//
// Sessions live in this process's memory (a node's admin listener is reached directly, not
// through a balancer): a random token in the cookie porta_session (Secure, HttpOnly,
// SameSite=Strict), its own random CSRF token returned by login and GET /api/v1/session, and an
// idle timeout (Options.IdleTimeout). The operator's row is read again on every request, so a
// removed operator or a changed role takes effect at once. A restart ends every session.
package ops

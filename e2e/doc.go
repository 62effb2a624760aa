// Package e2e holds Porta's multi-process tests: they build the real porta binary, write each
// gateway's setup with porta init and porta registry add-party, run porta serve as separate
// processes on loopback (a province and a national endpoint, or two nodes of one party on one
// PostgreSQL), and check what crosses process boundaries: the four profiles, acknowledgements,
// duplicates, ordering and inbound checks over mutual TLS, exactly-once delivery across SIGKILL,
// scale-out, zeep against a running PD, and porta trace verify on a tampered database.
//
// It holds tests only; nothing may import it. Independent tools come through internal/testenv
// and PostgreSQL through internal/pgtest, so a machine without them skips and CI fails.
package e2e

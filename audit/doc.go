// Package audit owns Porta's durable state: the audit trail (tracciamento) with its hash chain,
// the durable queues (outbox of buste to send, inbox of buste to deliver to the local backend),
// the duplicate history and the identifier counters. One code path, written with sqlx and ?
// placeholders rebound per driver, serves SQLite (one gateway, one file) and PostgreSQL (several
// gateway nodes sharing one database).
//
// It is a top-level package because the store is a part of the design of its own: it is not a
// command, not the busta (envelope), not the service registry, not a domain adapter, and the
// gateway is only its first user (porta trace reads it without a gateway). It must not import
// gateway, envelope or registry: it stores the busta's fields as plain strings and bytes, and the
// gateway adapts its types to Record and Item. It does not decide protocol outcomes; it records
// them.
//
// # The trail
//
// Each gateway node writes one chain: records numbered 1..n (Record.Seq) where each record's Hash
// is SHA-256 over a fixed, length-prefixed encoding of the node, the previous record's hash and
// every field of the record, the stored raw bytes included through their own SHA-256 (see
// Record.Digest). A changed field breaks that record's hash; a deleted record leaves a gap in
// Seq or a record whose PrevHash names a record that is not before it; a moved record keeps a
// valid hash but follows the wrong predecessor; a deleted tail disagrees with the chain head that
// each write transaction updates (and with a head an operator kept, Verify's Anchors). Verify
// recomputes all of it and names the first broken record. Seq is not inside the hash: the
// position is fixed by PrevHash, which lets Verify tell a moved record from an edited one.
//
// Append returns only after the record is committed (durable: SQLite runs with synchronous=FULL
// in WAL mode, so a commit survives power loss, not only a crash of the process; PostgreSQL
// commits synchronously unless its server is configured otherwise). Concurrent writes are
// batched: one writer goroutine per Store owns the chain head and commits whatever arrived while
// the previous transaction was committing (up to Options.BatchSize, optionally waiting
// Options.Linger for more) in one transaction, so throughput grows with concurrency while each
// caller still waits for its own commit. The writer's statements are prepared once; records are
// validated, body-stripped and encoded in the caller's goroutine, so the transaction only
// chains and inserts. On SQLite the WAL is checkpointed by a goroutine of the Store, off the
// commits' path (see checkpointEvery). Seen's insert is the one write committed without waiting
// for the disk: the caller makes it durable with its next write, before it answers (see Seen).
// A record given a Cap (a refused message) keeps at most Cap bytes of its envelope and header,
// marked BodyCapped, with RawSize and RawHash describing the whole: junk costs its cap, not its
// size, and the record still proves what was received.
// Only one Store may write a node's chain at a time;
// nodes sharing a PostgreSQL database must have distinct Options.Node names (a second writer of
// the same node fails its writes with a conflict, it never forks the chain).
//
// # Personal data at rest
//
// A record is kept in the store's body mode or its own (Record.Keep: the service's policy):
// full, header (the SOAP Body emptied), none, or encrypted (sealed by package audit/seal with
// the store's newest key, Options.Keys). The chain hashes what is stored, so an encrypted
// record's hash covers its ciphertext and Verify needs no key; Record.Envelope opens it for a
// reader entitled to it. With keys, queue payloads and meta, duplicate replies and idempotent
// answers are sealed too (sealing.go). SQLite runs with secure_delete, so a settled item's
// bytes do not stay behind in free pages.
//
// # Retention, archives and signed heads
//
// Records are never removed from the middle of a chain. Two things shorten what the store holds:
//
//   - Retention purges bodies. PurgeBodies empties the envelope (Raw) of each record whose
//     service's retention (Retention: the registry's trace: retention, else porta.yaml's
//     trace.retention) ran out, and drops its business identifiers; it keeps the SHA-256 of the
//     emptied Raw in RawDigest, which Digest hashes in Raw's place, so the record and every one
//     after it still verify (X-Road's message log does the same). The rest of the record (the
//     header, parties, identifiers and outcome) stays until it is archived.
//   - An archive cuts a prefix. Archive writes the longest prefix of a node's chain recorded
//     before a time, from the chain's base, to a self-describing signed file (see ArchiveFormat
//     and VerifyArchive, which checks one alone); Cut then removes exactly those records, in the
//     transaction that records the chain's new base (chain_base: the last archived record's seq
//     and hash, the archive's manifest SHA-256, signed by the node's key). Verify starts a cut
//     chain from its base after checking the base's signature, so a store verifies after any
//     number of cuts, and archives chain to one another: each one's base is the previous one's
//     head.
//
// The chain head row (chain_head) is written by the same transactions as the records, so whoever
// can delete the newest records can rewrite it too. Signed heads close that: SignHead has the
// node's key sign its committed head (porta serve does it periodically and at shutdown), with an
// optional RFC 3161 timestamp over the signature, kept in chain_sig; Verify checks every signed
// head's signature and that the chain still holds each signed record with its hash, so cutting
// the tail is caught back to the last signed head without an anchor kept by an operator. The
// signatures are checked against VerifyOptions.Certs (the node's certificate); a chain base or
// head that does not verify is a break of kind Signature.
//
// # Queues and exactly-once delivery
//
// A queue item is keyed by its queue (Kind) and busta ID. Write puts items, duplicate-history
// entries and trace records in one transaction ("accepted ⇒ traced and queued"), an item already
// leased to its writer's worker when it asks (Item.LeaseOwner: the claim made in the same
// commit). Claim leases due items to a worker; a lease that runs out (the worker's node died)
// makes the item claimable again by any node. Complete removes it (CompleteLazy without waiting
// for the disk), Retry schedules another attempt, Fail keeps it visible with its reason until
// Requeue, Expire fails items past their deadline. Claim, Complete, Retry and Fail are writes of
// the writer, group-committed with the rest.
//
// Delivery to the local backend is exactly-once by this protocol, which the gateway follows:
//
//  1. Claim the item (lease longer than one delivery attempt with its timeout).
//  2. Deliver it to the backend with the busta ID as idempotency key.
//  3. Complete it (in the same transaction as the "delivered" trace record).
//
// A crash before 2 loses nothing: the lease runs out and the item is delivered later. A crash
// between 2 and 3 delivers the item again after the lease runs out, with the same idempotency
// key, so the backend recognises the repeat and must answer it as a success without acting
// twice. Settled with CompleteLazy (as the gateway does), a power loss before the store's next
// durable commit counts as such a crash: the settling is lost, never half-kept. The store
// guarantees that an item is never leased to two workers at once and is never removed before
// Complete, Fail or Expire; everything else follows from the key. Step 1 may be the Write that
// queues the item, leased to the worker it is handed to (Item.LeaseOwner).
//
// An item may carry (Conversation, Sequence > 0): then it is claimable only when its sequence is
// the conversation's next one (kept in a table), so early items wait until the gap fills;
// completing or failing it advances the conversation. Enqueuing a sequence lower than the next
// expected one is refused with ErrDuplicate.
//
// # Reading
//
// List (newest first, filtered), Show (a record and its exchange), Lookup and Get answer from
// indexes that end in (recorded, node, seq), so a listing walks an index newest first and stops
// at its limit. RiferimentoMessaggio, Collaborazione and the transaction are indexed only where
// they differ from the record's Identificatore and RiferimentoMessaggio (partial indexes, whose
// conditions the queries repeat): most records would index the same value two or three times. Verify reads each chain in one keyset range per CPU. Figures on a 2-core
// machine (go test ./audit -run '^$' -bench . ; PORTA_AUDIT_ROWS=N for the store size): at
// 1,000,000 records show and filtered lists answer in under 8 ms and Verify costs about 6 µs of
// CPU per record at VerifyGCPercent (9 µs at the default GOGC), about 300,000 records/s on two
// idle cores; batched appends on SQLite reach about 10,000 records/s with 128 callers.
//
// Business identifiers (GovWay's correlazione applicativa: a codice fiscale, as a service's registry
// entry declares under trace: ids) come to Append in clear (Record.IDs) and are kept only as
// HMAC-SHA256 under the node's index key (Options.IndexKey; ids.go): in the record's ids column,
// inside its chain hash (Digest), and in the table trace_id, whose primary key (name, value_key,
// recorded, node, seq) is the search's, so List with Filter.BusinessID walks one identifier's
// entries newest first, joins each to its record by the primary key and stops at its limit: a
// codice fiscale carried by 20 records answers in about a millisecond at 10,000,000 records (go
// test ./audit -run '^$' -bench SearchByID, PORTA_AUDIT_ROWS=N). Without the key the store indexes
// nothing and cannot be searched by identifier; with it, a stolen store still shows no identifier
// in clear.
//
// # For the gateway
//
// gateway.Store maps onto this package as: Trace → Append; Enqueue → Write (for the inbox with
// Batch.Seen, so a duplicate returns ErrDuplicate and writes nothing); Lease → Claim; Done →
// CompleteLazy; Retry → Retry; Fail → Fail; Seen → Known; Remember → Seen; Lookup → Lookup; Depth →
// Stats; Reserve → Reserve. Nil records must be left out of the variadic lists.
package audit

-- +goose Up
-- The audit trail: one hash chain per gateway node (see package audit's doc comment).
-- Times are Unix microseconds (UTC), exact in both dialects and in the chain hash.
CREATE TABLE trace (
    node          TEXT    NOT NULL,
    seq           INTEGER NOT NULL,
    tx            TEXT    NOT NULL,
    direction     TEXT    NOT NULL,
    function      TEXT    NOT NULL,
    msg_id        TEXT    NOT NULL,
    relates_to    TEXT    NOT NULL,
    conversation  TEXT    NOT NULL,
    sender        TEXT    NOT NULL,
    receiver      TEXT    NOT NULL,
    service       TEXT    NOT NULL,
    action        TEXT    NOT NULL,
    profile       TEXT    NOT NULL,
    busta_time    INTEGER NOT NULL,
    recorded      INTEGER NOT NULL,
    outcome       TEXT    NOT NULL,
    exceptions    TEXT    NOT NULL,
    http_status   INTEGER NOT NULL,
    peer          TEXT    NOT NULL,
    signer        TEXT    NOT NULL,
    payload_hash  BLOB    NOT NULL,
    payload_size  INTEGER NOT NULL,
    header        BLOB    NOT NULL,
    body_mode     TEXT    NOT NULL,
    raw           BLOB    NOT NULL,
    raw_hash      BLOB    NOT NULL,
    detail        TEXT    NOT NULL,
    prev_hash     BLOB    NOT NULL,
    hash          BLOB    NOT NULL,
    PRIMARY KEY (node, seq)
);
CREATE INDEX trace_recorded     ON trace (recorded, node, seq);
CREATE INDEX trace_msg_id       ON trace (msg_id);
CREATE INDEX trace_relates_to   ON trace (relates_to);
CREATE INDEX trace_conversation ON trace (conversation);
CREATE INDEX trace_tx           ON trace (tx);
CREATE INDEX trace_sender       ON trace (sender, recorded, node, seq);
CREATE INDEX trace_receiver     ON trace (receiver, recorded, node, seq);
CREATE INDEX trace_service      ON trace (service, recorded, node, seq);
CREATE INDEX trace_outcome      ON trace (outcome, recorded, node, seq);

-- The last record of each chain, written in the same transaction as the records: Verify compares
-- it with the chain to detect a truncated head.
CREATE TABLE chain_head (
    node TEXT    NOT NULL PRIMARY KEY,
    seq  INTEGER NOT NULL,
    hash BLOB    NOT NULL
);

-- The durable queues (outbox, inbox).
CREATE TABLE queue_item (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    kind         TEXT    NOT NULL,
    msg_id       TEXT    NOT NULL,
    party        TEXT    NOT NULL,
    service      TEXT    NOT NULL,
    conversation TEXT    NOT NULL,
    sequence     INTEGER NOT NULL,
    payload      BLOB    NOT NULL,
    meta         BLOB    NOT NULL,
    state        TEXT    NOT NULL,
    attempts     INTEGER NOT NULL,
    not_before   INTEGER NOT NULL,
    deadline     INTEGER NOT NULL,
    created      INTEGER NOT NULL,
    lease_owner  TEXT    NOT NULL,
    lease_until  INTEGER NOT NULL,
    last_error   TEXT    NOT NULL,
    UNIQUE (kind, msg_id)
);
CREATE INDEX queue_due  ON queue_item (kind, state, not_before);
CREATE INDEX queue_conv ON queue_item (kind, conversation, sequence) WHERE sequence > 0;

-- The next sequence number to deliver per ordered conversation.
CREATE TABLE queue_seq (
    kind         TEXT    NOT NULL,
    conversation TEXT    NOT NULL,
    next         INTEGER NOT NULL,
    PRIMARY KEY (kind, conversation)
);

-- The duplicate history, with the reply to repeat to a duplicate.
CREATE TABLE seen (
    sender     TEXT    NOT NULL,
    msg_id     TEXT    NOT NULL,
    first_seen INTEGER NOT NULL,
    reply      BLOB,
    PRIMARY KEY (sender, msg_id)
);
CREATE INDEX seen_age ON seen (first_seen);

-- Identifier counters (envelope.CounterStore): next is the next value to hand out.
CREATE TABLE counter (
    key  TEXT    NOT NULL PRIMARY KEY,
    next INTEGER NOT NULL
);

-- +goose Down
DROP TABLE counter;
DROP TABLE seen;
DROP TABLE queue_seq;
DROP TABLE queue_item;
DROP TABLE chain_head;
DROP TABLE trace;

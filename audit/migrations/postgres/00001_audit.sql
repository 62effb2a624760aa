-- +goose Up
-- The audit trail: one hash chain per gateway node (see package audit's doc comment).
-- Times are Unix microseconds (UTC), exact in both dialects and in the chain hash.
CREATE TABLE trace (
    node          TEXT    NOT NULL,
    seq           BIGINT  NOT NULL,
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
    busta_time    BIGINT  NOT NULL,
    recorded      BIGINT  NOT NULL,
    outcome       TEXT    NOT NULL,
    exceptions    TEXT    NOT NULL,
    http_status   BIGINT  NOT NULL,
    peer          TEXT    NOT NULL,
    signer        TEXT    NOT NULL,
    payload_hash  BYTEA   NOT NULL,
    payload_size  BIGINT  NOT NULL,
    header        BYTEA   NOT NULL,
    body_mode     TEXT    NOT NULL,
    raw           BYTEA   NOT NULL,
    raw_hash      BYTEA   NOT NULL,
    detail        TEXT    NOT NULL,
    prev_hash     BYTEA   NOT NULL,
    hash          BYTEA   NOT NULL,
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
    seq  BIGINT  NOT NULL,
    hash BYTEA   NOT NULL
);

-- The durable queues (outbox, inbox).
CREATE TABLE queue_item (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind         TEXT    NOT NULL,
    msg_id       TEXT    NOT NULL,
    party        TEXT    NOT NULL,
    service      TEXT    NOT NULL,
    conversation TEXT    NOT NULL,
    sequence     BIGINT  NOT NULL,
    payload      BYTEA   NOT NULL,
    meta         BYTEA   NOT NULL,
    state        TEXT    NOT NULL,
    attempts     BIGINT  NOT NULL,
    not_before   BIGINT  NOT NULL,
    deadline     BIGINT  NOT NULL,
    created      BIGINT  NOT NULL,
    lease_owner  TEXT    NOT NULL,
    lease_until  BIGINT  NOT NULL,
    last_error   TEXT    NOT NULL,
    UNIQUE (kind, msg_id)
);
CREATE INDEX queue_due  ON queue_item (kind, state, not_before);
CREATE INDEX queue_conv ON queue_item (kind, conversation, sequence) WHERE sequence > 0;

-- The next sequence number to deliver per ordered conversation.
CREATE TABLE queue_seq (
    kind         TEXT    NOT NULL,
    conversation TEXT    NOT NULL,
    next         BIGINT  NOT NULL,
    PRIMARY KEY (kind, conversation)
);

-- The duplicate history, with the reply to repeat to a duplicate.
CREATE TABLE seen (
    sender     TEXT    NOT NULL,
    msg_id     TEXT    NOT NULL,
    first_seen BIGINT  NOT NULL,
    reply      BYTEA,
    PRIMARY KEY (sender, msg_id)
);
CREATE INDEX seen_age ON seen (first_seen);

-- Identifier counters (envelope.CounterStore): next is the next value to hand out.
CREATE TABLE counter (
    key  TEXT    NOT NULL PRIMARY KEY,
    next BIGINT  NOT NULL
);

-- +goose Down
DROP TABLE counter;
DROP TABLE seen;
DROP TABLE queue_seq;
DROP TABLE queue_item;
DROP TABLE chain_head;
DROP TABLE trace;

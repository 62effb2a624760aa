-- +goose Up
-- Issue 13, retention and archives (see package audit's doc, "Retention, archives and signed
-- heads"). A record whose body outlived its service's retention keeps, instead of its body, the
-- SHA-256 the chain hash covers (raw_digest) and when it was purged; every other record leaves
-- both empty and hashes its raw bytes as before.
ALTER TABLE trace ADD COLUMN raw_digest BYTEA   NOT NULL DEFAULT ''::bytea;
ALTER TABLE trace ADD COLUMN purged     BIGINT  NOT NULL DEFAULT 0;

-- Where each node's chain starts once its oldest records were archived: the last archived
-- record (seq, hash), the archive's manifest (its SHA-256) and the node's signature over them.
CREATE TABLE chain_base (
    node      TEXT    NOT NULL PRIMARY KEY,
    seq       BIGINT  NOT NULL,
    hash      BYTEA   NOT NULL,
    cut       BIGINT  NOT NULL, -- when the cut was made (Unix microseconds)
    manifest  BYTEA   NOT NULL, -- SHA-256 of the archive's manifest.json
    cert      BYTEA   NOT NULL, -- DER of the certificate whose key signed
    signature BYTEA   NOT NULL
);

-- Chain heads signed by the node's key (porta serve, periodically and at shutdown), with an
-- optional RFC 3161 timestamp token over the signature.
CREATE TABLE chain_sig (
    node      TEXT    NOT NULL,
    seq       BIGINT  NOT NULL,
    hash      BYTEA   NOT NULL,
    signed    BIGINT  NOT NULL, -- when (Unix microseconds)
    cert      BYTEA   NOT NULL,
    signature BYTEA   NOT NULL,
    tst       BYTEA   NOT NULL, -- DER TimeStampToken, empty without a TSA
    PRIMARY KEY (node, seq)
);

-- The business identifiers' index entries of a record (trace_id, migration 00006) leave with its
-- body (retention) or with the record (a cut), found by the record's node and seq.
CREATE INDEX trace_id_record ON trace_id (node, seq);

-- +goose Down
DROP INDEX trace_id_record;
DROP TABLE chain_sig;
DROP TABLE chain_base;
ALTER TABLE trace DROP COLUMN purged;
ALTER TABLE trace DROP COLUMN raw_digest;

-- +goose Up
-- Issue 10, duplicates after a crash: a queue item counts the times a worker leased it, so a
-- delivery after a crash (the lease ran out, the backend may have applied it) or after an error is
-- told apart from the first (Porta-Delivery-Attempt).
ALTER TABLE queue_item ADD COLUMN leases INTEGER NOT NULL DEFAULT 0;

-- The Idempotency-Key an application sent to the Porta Delegata: the request's hash, the busta
-- sent for it and the answer given (status 0: a synchronous exchange still under way), kept until
-- expires (Unix microseconds), so a retry is answered without sending again.
CREATE TABLE idempotency (
    app          TEXT    NOT NULL,
    idem_key     TEXT    NOT NULL,
    request_hash BLOB    NOT NULL,
    msg_id       TEXT    NOT NULL,
    status       INTEGER NOT NULL,
    header       BLOB    NOT NULL,
    body         BLOB    NOT NULL,
    created      INTEGER NOT NULL,
    expires      INTEGER NOT NULL,
    PRIMARY KEY (app, idem_key)
);
CREATE INDEX idempotency_expires ON idempotency (expires);

-- +goose Down
DROP TABLE idempotency;
ALTER TABLE queue_item DROP COLUMN leases;

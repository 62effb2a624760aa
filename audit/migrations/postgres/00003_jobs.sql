-- +goose Up
-- porta serve's scheduled jobs (see package jobs), shared by the nodes of a cluster: one row per
-- job with its lease (one node runs it at a time), when it is next due, and its mark (the start of
-- its last successful run: what it sends next is what changed since then). Times are Unix
-- microseconds (UTC), 0 = never.
CREATE TABLE job_state (
    job          TEXT    NOT NULL PRIMARY KEY,
    owner        TEXT    NOT NULL,
    lease_until  BIGINT  NOT NULL,
    due          BIGINT  NOT NULL,
    mark         BIGINT  NOT NULL,
    last_success BIGINT  NOT NULL,
    last_failure BIGINT  NOT NULL,
    runs         BIGINT  NOT NULL,
    failures     BIGINT  NOT NULL
);

-- Each run of a job, for porta jobs history: outcome is running, ok, failed, cancelled or
-- abandoned (its node died; found by the node that took the lease over).
CREATE TABLE job_run (
    id       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job      TEXT    NOT NULL,
    node     TEXT    NOT NULL,
    started  BIGINT  NOT NULL,
    ended    BIGINT  NOT NULL,
    since    BIGINT  NOT NULL,
    outcome  TEXT    NOT NULL,
    counts   TEXT    NOT NULL,
    error    TEXT    NOT NULL
);
CREATE INDEX job_run_job ON job_run (job, id);

-- +goose Down
DROP TABLE job_run;
DROP TABLE job_state;

-- +goose Up
-- porta serve's scheduled jobs (see package jobs), shared by the nodes of a cluster: one row per
-- job with its lease (one node runs it at a time), when it is next due, and its mark (the start of
-- its last successful run: what it sends next is what changed since then). Times are Unix
-- microseconds (UTC), 0 = never.
CREATE TABLE job_state (
    job          TEXT    NOT NULL PRIMARY KEY,
    owner        TEXT    NOT NULL,
    lease_until  INTEGER NOT NULL,
    due          INTEGER NOT NULL,
    mark         INTEGER NOT NULL,
    last_success INTEGER NOT NULL,
    last_failure INTEGER NOT NULL,
    runs         INTEGER NOT NULL,
    failures     INTEGER NOT NULL
);

-- Each run of a job, for porta jobs history: outcome is running, ok, failed, cancelled or
-- abandoned (its node died; found by the node that took the lease over).
CREATE TABLE job_run (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    job      TEXT    NOT NULL,
    node     TEXT    NOT NULL,
    started  INTEGER NOT NULL,
    ended    INTEGER NOT NULL,
    since    INTEGER NOT NULL,
    outcome  TEXT    NOT NULL,
    counts   TEXT    NOT NULL,
    error    TEXT    NOT NULL
);
CREATE INDEX job_run_job ON job_run (job, id);

-- +goose Down
DROP TABLE job_run;
DROP TABLE job_state;

-- +goose Up
-- Issue 12: the people who operate the gateway through its management API (package ops), added
-- by porta operator add. Only a PBKDF2 hash of the password is kept (registry.HashPassword's
-- format). role is viewer, operator or admin. Times are Unix microseconds (UTC). Their actions are
-- not here: each is a record of the trail (function Operator).
CREATE TABLE operator (
    name          TEXT    NOT NULL PRIMARY KEY,
    role          TEXT    NOT NULL,
    password_hash TEXT    NOT NULL,
    created       BIGINT  NOT NULL,
    updated       BIGINT  NOT NULL
);

-- +goose Down
DROP TABLE operator;

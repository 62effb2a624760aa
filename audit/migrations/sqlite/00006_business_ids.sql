-- +goose Up
-- Issues 12 and 13, search by business identifier (GovWay's correlazione applicativa): the
-- identifiers a service's registry entry declares (trace: ids, e.g. cf: the codice fiscale), found
-- in a record's payload, are kept only as keyed hashes (HMAC-SHA256 under the node's index key,
-- see ids.go), never in clear. trace.ids holds a record's identifiers (inside its chain hash, see
-- Record.Digest; a record without them hashes as before); trace_id indexes them for the search "all
-- records with name = cf and value = X, newest first": one B-tree (WITHOUT ROWID) whose key is the
-- search's, so a search walks its entries newest first and stops at its limit.
ALTER TABLE trace ADD COLUMN ids BLOB NOT NULL DEFAULT x'';

CREATE TABLE trace_id (
    name      TEXT    NOT NULL,
    value_key BLOB    NOT NULL,
    recorded  INTEGER NOT NULL,
    node      TEXT    NOT NULL,
    seq       INTEGER NOT NULL,
    PRIMARY KEY (name, value_key, recorded, node, seq)
) WITHOUT ROWID;

-- +goose Down
DROP TABLE trace_id;
ALTER TABLE trace DROP COLUMN ids;

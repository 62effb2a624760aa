-- +goose Up
-- Fewer index entries per trace record (issue 5): every entry is a page the commit writes to the
-- WAL and syncs. The identifiers an exchange is found by (Show, List's ID filter) are mostly the
-- same few values in several columns: a record's transaction is its request's ID, which is its
-- own Identificatore or its RiferimentoMessaggio; its Collaborazione is empty or one of those.
-- So relates_to, conversation and tx are indexed only where they add something the msg_id and
-- relates_to indexes do not already find; the queries state the same conditions (query.go).
DROP INDEX trace_relates_to;
DROP INDEX trace_conversation;
DROP INDEX trace_tx;
CREATE INDEX trace_relates_to   ON trace (relates_to)   WHERE relates_to <> '';
CREATE INDEX trace_conversation ON trace (conversation) WHERE conversation <> '' AND conversation <> msg_id AND conversation <> relates_to;
CREATE INDEX trace_tx           ON trace (tx)           WHERE tx <> msg_id AND tx <> relates_to;

-- +goose Down
DROP INDEX trace_relates_to;
DROP INDEX trace_conversation;
DROP INDEX trace_tx;
CREATE INDEX trace_relates_to   ON trace (relates_to);
CREATE INDEX trace_conversation ON trace (conversation);
CREATE INDEX trace_tx           ON trace (tx);

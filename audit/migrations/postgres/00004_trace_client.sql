-- +goose Up
-- Issue 10, a complete trail: who was on the other end of the TLS connection (the client
-- certificate's subject and SHA-256 fingerprint, hex), for the Porta Delegata the application and
-- the refusal's reason category, and the size of the whole envelope (a refused one is kept capped:
-- its first bytes, with raw_hash and raw_size describing the whole). Records written before this
-- migration read these as empty and hash as they did (Record.Digest).
ALTER TABLE trace ADD COLUMN client_subject TEXT    NOT NULL DEFAULT '';
ALTER TABLE trace ADD COLUMN client_cert    TEXT    NOT NULL DEFAULT '';
ALTER TABLE trace ADD COLUMN application    TEXT    NOT NULL DEFAULT '';
ALTER TABLE trace ADD COLUMN reason         TEXT    NOT NULL DEFAULT '';
ALTER TABLE trace ADD COLUMN raw_size       BIGINT  NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE trace DROP COLUMN client_subject;
ALTER TABLE trace DROP COLUMN client_cert;
ALTER TABLE trace DROP COLUMN application;
ALTER TABLE trace DROP COLUMN reason;
ALTER TABLE trace DROP COLUMN raw_size;

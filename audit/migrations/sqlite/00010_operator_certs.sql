-- +goose Up
-- Issue 12: operators who authenticate with a TLS client certificate on an HTTPS admin listener
-- (listen.admin_tls). cert_sha256 is the SHA-256 of the certificate's DER, lower-case hex
-- (registry.Fingerprint, as the trail's client_cert); '' for an operator without one. An operator
-- with a certificate and no password has password_hash ''. A certificate names one operator.
ALTER TABLE operator ADD COLUMN cert_sha256 TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX operator_cert ON operator (cert_sha256) WHERE cert_sha256 <> '';

-- +goose Down
DROP INDEX operator_cert;
ALTER TABLE operator DROP COLUMN cert_sha256;

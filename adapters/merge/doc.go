// Package merge is the province's writable store of what Porta merges back from its peers, keyed
// by codice fiscale: workers' residence and its history (from the municipal registries), closed
// records (deaths, AIRE emigrations), pupils under 18 who left school flagged for the CPI's
// orientation service (from the schools), INPS income-support entries matched to a SIL worker or
// queued for a CPI operator, and the training offer catalogue.
//
// Every merge is idempotent (the same record twice changes nothing and is reported Unchanged) and
// audited in merge_log (source, what, before, after, when). Every codice fiscale is checked with
// codicefiscale.Validate on the way in and out; a record that fails a check is rejected alone with
// a *RecordError naming the record, the field and the rule, kept in the failures table where it
// can be listed and re-sent, and the rest of the batch goes on.
//
// The SQL is portable: SQLite (driver "sqlite3", the default) and PostgreSQL (driver "pgx",
// import _ "github.com/jackc/pgx/v5/stdlib"); queries are written with ? and rebound.
//
// It must not talk to peers or know about the busta: the gateway and the domain packages
// (anagrafe, scuola, inps, formazione) hand it decoded records.
package merge

// Package flows runs the province's flows through its own Porta Delegata, as a local application
// would. Sender reads workers from the SIL (adapters/sil), builds each record's document with the
// adapters' builders (sap, did, candidatura, europass) and sends it through the PD with
// internal/pdclient, the PD's HTTP client (this package itself knows no HTTP, as adapters/doc.go
// asks); Anagrafe consults each worker's municipality (E002) and Scuole requests and polls the schools'
// attendance extractions, and both merge what comes back into adapters/merge's store. Every
// rejected record is kept in merge's failures table, where `porta failures list|retry` find it
// (Sender.Retry and Anagrafe.Retry re-send; merge.Store.Resend re-merges).
//
// A record is rejected alone, and the rest of the batch goes on, when a builder refuses it (a
// *sil.RecordError naming field and rule), when the PD refuses its payload (a SOAP Client fault),
// when the peer answers KO, or when a registry answers rispostaKO. A fault that is not the
// record's (authentication, a Server fault, the network) stops the run with an error: nothing is
// marked as sent, so the same run can be repeated. Runs are idempotent on the peers' side only as
// far as the gateway's duplicate filtering goes: a re-run sends again.
//
// It is a library for cmd/porta (sil send, sync, failures) and for the demo; internal/pdclient/pdtest
// holds a PD double for tests. It must not build the busta (the gateway does) nor write the SIL.
package flows

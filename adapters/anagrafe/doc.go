// Package anagrafe is the municipal registry side of the province's ANPR E002-shaped consultation
// by codice fiscale (wsdl/anagrafe.wsdl, xsd/schemas/labour/anagrafe.xsd): the domain record of a
// person as a municipality knows it (Subject: generalità, residence, death, AIRE emigration), a
// Registry of such records over any sqlx database, the Service a municipality's gateway delivers
// consultations to (Service.Handle), the consumer's request builder and response reader, and a
// deterministic generator of registry data derived from a list of workers.
//
// It must not merge anything into the province's store (adapters/merge does), know about the busta
// or HTTP (the gateway carries the payloads), or accept a codice fiscale that fails
// codicefiscale.Validate, in or out.
package anagrafe

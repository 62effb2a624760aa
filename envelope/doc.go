// Package envelope owns the eGov busta 1.1 carried in SOAP 1.1 messages: the typed model of
// every element of eGov_IT:Intestazione, building and parsing it in the schema's order,
// identifier generation and validation, the eGov exception codes with their error buste and SOAP
// faults, and the profiles of collaboration.
//
// It knows nothing of the registry, the store or HTTP: checks that need to know which parties and
// services exist (EGOV_IT_101, 105, ...) belong to the gateway, which reports them with the
// Exception values defined here. Untrusted bytes are read through porta/internal/xmlsafe (never
// a DTD, never an entity expanded); the WS-Security signature over a busta is
// porta/envelope/wssec's, which knows nothing of the busta.
package envelope

import "porta/envelope/wssec"

// Namespaces and fixed values of the busta and the SOAP envelope.
const (
	NSSOAP = wssec.NSSOAP
	NSeGov = "http://www.cnipa.it/schemas/2003/eGovIT/Busta1_0/"
	NSWSU  = wssec.NSWSU // the wsu:Id a signer puts on the Intestazione

	// Actor is the fixed SOAP_ENV:actor of eGov_IT:Intestazione.
	Actor = "http://www.cnipa.it/eGov_it/portadominio"
)

// Package adapters is the root of Porta's domain side: the translations between the province's
// own data (the SIL, the municipal registries, schools, INPS, training bodies) and the documents
// the cooperation services carry (SAP, DID, Cliclavoro Candidatura, Europass, ANPR-shaped
// consultations, attendance and income-support lists), and the small local services that answer
// for the province.
//
// Each subpackage owns one translation or one local service:
//
//	codicefiscale  validation, omocodia, decoding and generation of codici fiscali; Belfiore codes
//	sil            the SIL source (queries and column mapping in YAML) and a synthetic SIL generator
//	sap, did       the worker record (SAP Rev009) and the DID request to the Ministry/ANPAL
//	candidatura    the Cliclavoro Candidatura for the Borsa Lavoro
//	europass       the worker's CV as a Europass v3 SkillsPassport
//	anagrafe, scuola, inps, formazione, merge
//	               the inbound side: registry, schools, income support, training offer, merge rules
//	labour         the table of the network's services (name, providers, profile, actions, schema,
//	               WSDL, built-in backend, consumers; how each worker document is built and answered)
//	               that the demo, sim, backends, flows and the PD double read
//	flows          the province's flows through its own PD (over internal/pdclient, the HTTP client)
//
// Nothing here may know HTTP or the eGov busta: the gateway carries what these packages build and
// hands them what arrives. Every record crossing the boundary is checked (codice fiscale first),
// and a record that fails is rejected alone, with a typed error naming the record, field and rule.
package adapters

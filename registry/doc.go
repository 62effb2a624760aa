// Package registry owns the service registry of a Porta gateway: the parties (soggetti) it knows
// and hosts, the services they provide (accordi di servizio, parte comune and parte specifica
// merged), who may call what (remote parties per service, local applications per outbound service
// with their credentials), where each provided service is delivered, and the certificates that
// identify parties. It also owns the party card (party.yaml, the public face of a hosted party that
// a peer imports) and the small PKI helpers that `porta init` uses.
//
// The registry is plain YAML a person can read and diff. Load reads it (one file, a directory of
// *.yaml files, or files pulled in by an include list), checks every reference and reports every
// problem with file, line and a fix. A loaded *Registry is immutable: lookups are map reads built
// at load time and safe for concurrent use; to reload, Load a new value and swap the pointer.
//
// The package must not do I/O after Load, must not know about HTTP handlers, SOAP or the busta
// pipeline (package gateway asks it questions through the lookups), and must not import gateway
// or cmd.
//
// # File format
//
//	include: [more-parties.yaml]          # optional, relative to this file
//	parties:
//	  - name: Provincia                   # letters and digits: it forms eGov identifiers
//	    type: SPC                         # SPC (default), TEST or AOO
//	    port_id: ProvinciaSPCoopIT        # default <name>SPCoopIT (PDD<name> for AOO)
//	    url: https://pdd.provincia.example:8443/pa   # its Porta Applicativa
//	    profile: egov-1.1                 # egov-1.1 (default) or linee-guida-1.1: see below
//	    hosted: true                      # this gateway is its porta di dominio
//	    certificates:                     # several allowed, for rollover
//	      - file: cert.pem                # or: - pem: | -----BEGIN CERTIFICATE----- ...
//	    ca: ca.pem                        # optional: file name, or inline PEM
//	services:
//	  - provider: Ministero
//	    name: SAP
//	    type: SPC                         # default SPC
//	    version: 1                        # default 1
//	    profile: async-asymmetric         # oneway | sync | async-symmetric | async-asymmetric
//	    correlated_service: SAPRisposta   # async-symmetric only: the callback each consumer provides
//	    filter_duplicates: true           # inoltro EGOV_IT_ALPIUUNAVOLTA
//	    ack: true                         # confermaRicezione
//	    in_order: false                   # Sequenza (needs filter_duplicates and ack)
//	    expiry: 24h                       # Scadenza of outbound buste; 0 = gateway default
//	    wsdl: wsdl/sap.wsdl               # served on ?wsdl
//	    schema: sap/scheda.xsd            # default payload schema of every action (under xsd/schemas)
//	    actions:
//	      - name: Richiesta
//	        request: sap/richiesta.xsd    # payload schemas, override the service's
//	        response: sap/ricevuta.xsd
//	      - name: Stato
//	        correlated: Richiesta         # async-asymmetric: the status action names its request
//	    consumers: [Provincia]            # remote parties that may call it
//	    delivery:                         # only for services of hosted parties
//	      url: http://127.0.0.1:9000/sap  # the local application; or adapter: anagrafe
//	      timeout: 30s
//	      username: porta                 # optional HTTP Basic towards the application
//	      password: secret
//	      tls: {ca: backend-ca.pem, cert: client.pem, key: client.key.pem}
//	applications:                         # servizi applicativi calling the Porta Delegata
//	  - name: SIL
//	    username: sil
//	    password_hash: pbkdf2-sha256$600000$...   # `porta registry hash-password`
//	    certificate: {fingerprint: 3f9a...}       # and/or subject: "CN=SIL,O=Provincia"
//	    may:
//	      - {consumer: Provincia, provider: Ministero, service: SAP}
//
// Delivery may also be written as a single string: "adapter:anagrafe" or a URL.
//
// # Interoperability profiles
//
// A party's profile says which rules its buste follow (spec §11): egov-1.1, the busta as
// specified, or linee-guida-1.1, CNIPA's Linee Guida 1.1 (tipo SPC everywhere, OraRegistrazione
// from the SPC clock, ProfiloTrasmissione without riscontro, duplicates always filtered). The
// gateway checks what it receives from a party, and builds what it sends to it, by that party's
// profile (envelope.LineeGuida); the party card carries it. Check refuses a Linee Guida party of
// another type than SPC, and a service between such a party and anyone that is not of type SPC or
// asks for ack or in_order.
//
// # Certificates
//
// A party's certificates are pinned: a busta signature or TLS client certificate belongs to a party
// when its SHA-256 fingerprint equals one of the party's listed certificates (see Party.Owns and
// Registry.PartyByCert). The optional CA only extends the trust pool used to build TLS
// connections (Registry.TrustPool). Gateways created by `porta init` use one key and certificate for
// the TLS server, the TLS client and the WS-Security signature; IssueParty therefore sets both the
// serverAuth and clientAuth extended key usages and digitalSignature.
package registry

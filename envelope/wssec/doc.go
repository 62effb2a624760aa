// Package wssec owns WS-Security 1.0 (X.509 token profile) over a SOAP 1.1 envelope: signing
// with XML-DSig (Signer), verifying against a policy of what must be signed and by whom
// (Verifier, TrustStore, with caches of parsed certificates and chain checks), and the Exclusive
// XML Canonicalization 1.0 both rest on.
//
// It must not know the eGov busta; it reads XML only through porta/internal/xmlsafe.
package wssec

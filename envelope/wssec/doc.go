// Package wssec owns WS-Security 1.0 (X.509 token profile) over a SOAP 1.1 envelope: signing
// with XML-DSig (Signer), verifying against a policy of what must be signed and by whom
// (Verifier, TrustStore, with caches of parsed certificates and chain checks), and the Exclusive
// XML Canonicalization 1.0 both rest on; with SOAP with Attachments, the attachments signed and
// verified by reference (cid:) as the OASIS WSS SwA profile 1.1 says (swa.go).
//
// It must not know the eGov busta: which header blocks are signed beside the soap:Body and the
// wsu:Timestamp is the caller's to say (Signer.Parts, Verifier.Parts), and failures are *Error
// values of a few kinds that the caller maps to its own protocol codes. It reads XML only through
// porta/internal/xmlsafe and never hands back the input tree, only copies rebuilt from what was
// digested.
package wssec

// Namespaces of SOAP 1.1, WS-Security and XML-DSig.
const (
	NSSOAP    = "http://schemas.xmlsoap.org/soap/envelope/"
	NSWSSE    = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
	NSWSU     = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
	NSDSig    = "http://www.w3.org/2000/09/xmldsig#"
	NSExcC14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
)

// Package sap holds the Go types of the Ministry of Labour's SAP service servizicoap (invioSAP, richiestaSAP, verificaEsistenzaSAP, annullaSAP), generated from ../sap.wsdl (payload schema
// xsd/schemas/labour/sap-servizicoap.xsd) with the pinned gowsdl v0.5.0 and then corrected by hand.
// It owns the wire shape only: it must not hold domain rules, storage or transport (the gateway
// carries the messages; adapters/sap builds them).
//
// Regenerate with `go generate ./wsdl/sap`: gowsdl writes sap.go, then corrections.sed applies the
// hand corrections, each explained in that file; corrections.go adds what gowsdl left undefined.
// Corrections for the gowsdl v0.5.0 defects listed in shared/spec/go-libraries.md §1:
//   - soap.XSDDate and soap.XSDDateTime swallow parse errors (an invalid date became the zero
//     time) and read zone-less values in time.Local: replaced by the strict Date and DateTime of
//     corrections.go, whose errors name the element;
//   - none needed for types: the SAP document is an xs:string (typ:SAP) as in the ministry's WSDL; its
//     own types (root lavoratore, sap.xsd, no namespace) are written by hand in adapters/sap, since
//     gowsdl only reads WSDLs;
//   - child elements carry no namespace in their tags (defect 1): the schema has one target
//     namespace and elementFormDefault="qualified", and encoding/xml writes children in the
//     parent's default namespace, so the emitted documents are right (checked by xmllint in the
//     adapter's tests);
//   - required scalars are still pointers or zero-omitted (defect 4): the builders fill every
//     required field, and every document they emit is validated against the schema;
//   - the generated client (*soap.Client) is not used: v0.5.0 does not parse SOAP faults and has
//     no WS-Security; the gateway carries the messages.
package sap

//go:generate go tool gowsdl -p sap -o sap.go -d .. ../sap.wsdl
//go:generate sed -i -f corrections.sed sap.go
//go:generate gofmt -w sap.go

// Package scuola holds the Go types of the school attendance and drop-outs (asynchronous asymmetric) service, generated from ../scuola.wsdl (payload
// schema xsd/schemas/labour/scuola.xsd) with the pinned gowsdl v0.5.0 and then corrected by hand.
// It owns the wire shape only: it must not hold domain rules, storage or transport (the gateway
// carries the messages; adapters/scuola builds and reads them).
//
// Regenerate with `go generate ./wsdl/scuola`: gowsdl writes scuola.go, then corrections.sed applies the
// hand corrections, each explained in that file; corrections.go adds what gowsdl left undefined.
// Corrections for the gowsdl v0.5.0 defects listed in shared/spec/go-libraries.md §1:
//   - named complex types carried an XMLName with the XSD type name (tipoX), which encoding/xml
//     prefers over the element name of the field: removed, so children marshal under their
//     element names (in the parent's default namespace: each schema has one namespace and
//     elementFormDefault="qualified", so defect 1, unqualified children, cannot arise);
//   - xs:positiveInteger and xs:nonNegativeInteger were referenced but not defined: defined in
//     corrections.go as uint64;
//   - soap.XSDDate and soap.XSDDateTime swallow parse errors (an invalid date became the zero
//     time) and read zone-less values in time.Local: replaced by the strict Date and DateTime
//     of corrections.go, whose errors name the element;
//   - required dates and enumerated strings are still dropped when zero (defect 4): the builders in adapters/scuola fill every required field,
//     and every document they emit is validated against the schema in their tests.
//   - the generated client (*soap.Client) is not used: v0.5.0 does not parse SOAP faults and has
//     no WS-Security; the gateway carries the messages.
package scuola

//go:generate go tool gowsdl -p scuola -o scuola.go -d .. ../scuola.wsdl
//go:generate sed -i -f corrections.sed scuola.go
//go:generate gofmt -w scuola.go

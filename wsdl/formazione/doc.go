// Package formazione holds the Go types of the training offer catalogue service, generated from ../formazione.wsdl (payload
// schema xsd/schemas/labour/formazione.xsd) with the pinned gowsdl v0.5.0 and then corrected by hand.
// It owns the wire shape only: it must not hold domain rules, storage or transport (the gateway
// carries the messages; adapters/formazione builds and reads them).
//
// Regenerate with `go generate ./wsdl/formazione`: gowsdl writes formazione.go, then corrections.sed applies the
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
//   - the elements EsitoPubblicazione and EsitoRitiro share tipoEsitoOperazione: gowsdl stamped
//     the first element's name on the shared type (an EsitoRitiro marshalled as
//     <EsitoPubblicazione>); each element is now its own struct embedding the type;
//   - required dates and enumerated strings are still dropped when zero (defect 4): the builders in adapters/formazione fill every required field,
//     and every document they emit is validated against the schema in their tests.
//   - the generated client (*soap.Client) is not used: v0.5.0 does not parse SOAP faults and has
//     no WS-Security; the gateway carries the messages.
package formazione

//go:generate go tool gowsdl -p formazione -o formazione.go -d .. ../formazione.wsdl
//go:generate sed -i -f corrections.sed formazione.go
//go:generate gofmt -w formazione.go

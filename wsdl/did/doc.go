// Package did holds the Go types of the ANPAL DID service (gestisciDID, ConferimentoDID 1.0), generated from ../did.wsdl (payload schema
// xsd/schemas/labour/did.xsd) with the pinned gowsdl v0.5.0 and then corrected by hand.
// It owns the wire shape only: it must not hold domain rules, storage or transport (the gateway
// carries the messages; adapters/did builds them).
//
// Regenerate with `go generate ./wsdl/did`: gowsdl writes did.go, then corrections.sed applies the
// hand corrections, each explained in that file; corrections.go adds what gowsdl left undefined.
// Corrections for the gowsdl v0.5.0 defects listed in shared/spec/go-libraries.md §1:
//   - soap.XSDDate and soap.XSDDateTime swallow parse errors (an invalid date became the zero
//     time) and read zone-less values in time.Local: replaced by the strict Date and DateTime of
//     corrections.go, whose errors name the element;
//   - xs:decimal (Probabilita) became float64: ProbabilitaType is a string holding the lexical
//     decimal, so a probability keeps its exact digits;
//   - child elements carry no namespace in their tags (defect 1): the schema has one target
//     namespace and elementFormDefault="qualified", and encoding/xml writes children in the
//     parent's default namespace, so the emitted documents are right (checked by xmllint in the
//     adapter's tests);
//   - required scalars are still pointers or zero-omitted (defect 4): the builders fill every
//     required field, and every document they emit is validated against the schema;
//   - the generated client (*soap.Client) is not used: v0.5.0 does not parse SOAP faults and has
//     no WS-Security; the gateway carries the messages.
package did

//go:generate go tool gowsdl -p did -o did.go -d .. ../did.wsdl
//go:generate sed -i -f corrections.sed did.go
//go:generate gofmt -w did.go

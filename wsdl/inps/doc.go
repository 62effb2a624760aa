// Package inps holds the Go types of the INPS income-support recipients list (one-way) service, generated from ../inps.wsdl (payload
// schema xsd/schemas/labour/inps.xsd) with the pinned gowsdl v0.5.0 and then corrected by hand.
// It owns the wire shape only: it must not hold domain rules, storage or transport (the gateway
// carries the messages; adapters/inps builds and reads them).
//
// Regenerate with `go generate ./wsdl/inps`: gowsdl writes inps.go, then corrections.sed applies the
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
//   - the leaves of a Percettore are ValoreType strings (the schema leaves their values to the
//     province's per-record checks), so its dates and amount arrive as text: adapters/inps
//     reads them one record at a time, and a bad one rejects that worker alone (an xs:date or
//     xs:decimal type here would fail the whole list in xml.Unmarshal);
//   - the header's required DataElenco is still dropped when zero (defect 4): adapters/inps fills it,
//     and every document it emits is validated against the schema in its tests.
//   - the generated client (*soap.Client) is not used: v0.5.0 does not parse SOAP faults and has
//     no WS-Security; the gateway carries the messages.
package inps

//go:generate go tool gowsdl -p inps -o inps.go -d .. ../inps.wsdl
//go:generate sed -i -f corrections.sed inps.go
//go:generate gofmt -w inps.go

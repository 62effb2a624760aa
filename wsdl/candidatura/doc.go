// Package candidatura holds the Go types of the Borsa Lavoro's Cliclavoro Candidatura intake (one-way invioCandidatura), generated from ../candidatura.wsdl (payload schema
// xsd/schemas/labour/candidatura.xsd) with the pinned gowsdl v0.5.0 and then corrected by hand.
// It owns the wire shape only: it must not hold domain rules, storage or transport (the gateway
// carries the messages; adapters/candidatura builds them).
//
// Regenerate with `go generate ./wsdl/candidatura`: gowsdl writes candidatura.go, then corrections.sed applies the
// hand corrections, each explained in that file; corrections.go adds what gowsdl left undefined.
// Corrections for the gowsdl v0.5.0 defects listed in shared/spec/go-libraries.md §1:
//   - soap.XSDDate and soap.XSDDateTime swallow parse errors (an invalid date became the zero
//     time) and read zone-less values in time.Local: replaced by the strict Date and DateTime of
//     corrections.go, whose errors name the element;
//   - xs:nonNegativeInteger (Formazione/durata) was referenced but not defined: defined in
//     corrections.go as uint64;
//   - anonymous nested complex types became anonymous Go structs; the repeated ones are slices
//     (maxOccurs="unbounded"), and the one optional container (AbilitazioniPatenti) has only
//     optional children, so its empty form is valid: left as generated;
//   - child elements carry no namespace in their tags (defect 1): the schema has one target
//     namespace and elementFormDefault="qualified", and encoding/xml writes children in the
//     parent's default namespace, so the emitted documents are right (checked by xmllint in the
//     adapter's tests);
//   - required scalars are still pointers or zero-omitted (defect 4): the builders fill every
//     required field, and every document they emit is validated against the schema;
//   - the generated client (*soap.Client) is not used: v0.5.0 does not parse SOAP faults and has
//     no WS-Security; the gateway carries the messages.
package candidatura

//go:generate go tool gowsdl -p candidatura -o candidatura.go -d .. ../candidatura.wsdl
//go:generate sed -i -f corrections.sed candidatura.go
//go:generate gofmt -w candidatura.go

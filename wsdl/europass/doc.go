// Package europass holds the Go types of the Europass v3 CV delivery (one-way invioEuropass of a SkillsPassport), generated from ../europass.wsdl (payload schema
// xsd/schemas/labour/europass.xsd) with the pinned gowsdl v0.5.0 and then corrected by hand.
// It owns the wire shape only: it must not hold domain rules, storage or transport (the gateway
// carries the messages; adapters/europass builds them).
//
// Regenerate with `go generate ./wsdl/europass`: gowsdl writes europass.go, then corrections.sed applies the
// hand corrections, each explained in that file; corrections.go adds what gowsdl left undefined.
// Corrections for the gowsdl v0.5.0 defects listed in shared/spec/go-libraries.md §1:
//   - soap.XSDDate and soap.XSDDateTime swallow parse errors (an invalid date became the zero
//     time) and read zone-less values in time.Local: replaced by the strict Date and DateTime of
//     corrections.go, whose errors name the element;
//   - xs:gYear, xs:gMonth and xs:gDay (the attributes of Birthdate, From, To) were referenced but
//     not defined: defined in corrections.go as strings in their lexical forms, with NewDateType;
//   - gowsdl turns optional anonymous complex types into non-pointer Go structs, which
//     encoding/xml writes even when empty (an empty <Headline/> is invalid): europass.xsd names
//     every complex type, so each optional container is a pointer and is omitted when nil;
//   - child elements carry no namespace in their tags (defect 1): the schema has one target
//     namespace and elementFormDefault="qualified", and encoding/xml writes children in the
//     parent's default namespace, so the emitted documents are right (checked by xmllint in the
//     adapter's tests);
//   - required scalars are still pointers or zero-omitted (defect 4): the builders fill every
//     required field, and every document they emit is validated against the schema;
//   - the generated client (*soap.Client) is not used: v0.5.0 does not parse SOAP faults and has
//     no WS-Security; the gateway carries the messages.
package europass

//go:generate go tool gowsdl -p europass -o europass.go -d .. ../europass.wsdl
//go:generate sed -i -f corrections.sed europass.go
//go:generate gofmt -w europass.go

# Hand corrections applied after `go tool gowsdl` (see doc.go).
# 1. Named complex types (…Type) carry an XMLName with the TYPE name, which encoding/xml prefers
#    over the field's element name: drop it.
/XMLName xml.Name `xml:"[^ ]* [A-Za-z]*Type"`/d
# 2. (ImportoMensile is now a ValoreType string, read by adapters/inps per record: gowsdl's
#    xs:decimal -> float64 defect no longer arises here.)
# soap.XSDDate / soap.XSDDateTime swallow parse errors: use the strict Date/DateTime of corrections.go.
s/soap\.XSDDateTime/DateTime/g
s/soap\.XSDDate/Date/g

# Hand corrections applied after `go tool gowsdl` (see doc.go).
# 1. Named complex types (…Type) carry an XMLName with the TYPE name, which encoding/xml prefers
#    over the field's element name: drop it.
/XMLName xml.Name `xml:"[^ ]* [A-Za-z]*Type"`/d
# 2. xs:decimal became float64 (money!): keep the lexical decimal as a string.
s/^type ImportoType float64$/type ImportoType string/
# soap.XSDDate / soap.XSDDateTime swallow parse errors: use the strict Date/DateTime of corrections.go.
s/soap\.XSDDateTime/DateTime/g
s/soap\.XSDDate/Date/g

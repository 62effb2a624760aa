# Hand corrections applied after `go tool gowsdl` (see doc.go).
# soap.XSDDate / soap.XSDDateTime swallow parse errors: use the strict Date/DateTime of corrections.go.
s/soap\.XSDDateTime/DateTime/g
s/soap\.XSDDate/Date/g
# xs:decimal (Probabilita) became float64: keep the lexical decimal as a string.
s/^type ProbabilitaType float64$/type ProbabilitaType string/

# Hand corrections applied after `go tool gowsdl` (see doc.go).
# soap.XSDDate / soap.XSDDateTime swallow parse errors: use the strict Date/DateTime of corrections.go.
s/soap\.XSDDateTime/DateTime/g
s/soap\.XSDDate/Date/g

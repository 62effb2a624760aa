# Hand corrections applied after `go tool gowsdl` (see doc.go). gowsdl v0.5.0 gives every named
# complexType an XMLName carrying the TYPE name (tipoX); encoding/xml prefers that tag over the
# field's element name, so children would marshal as <tipoX> and fail to unmarshal. Named
# complex types carry no XMLName: the element name comes from the field tag.
/XMLName xml.Name `xml:"[^ ]* tipo[A-Za-z]*"`/d
# soap.XSDDate / soap.XSDDateTime swallow parse errors: use the strict Date/DateTime of corrections.go.
s/soap\.XSDDateTime/DateTime/g
s/soap\.XSDDate/Date/g

# Hand corrections applied after `go tool gowsdl` (see doc.go).
# 1. Named complex types carry an XMLName with the TYPE name, which encoding/xml prefers over the
#    field's element name: drop it.
/XMLName xml.Name `xml:"[^ ]* tipo[A-Za-z]*"`/d
# 2. The two elements of type tipoEsitoOperazione: gowsdl stamped the FIRST element's name
#    (EsitoPubblicazione) on the shared type and made both elements bare type aliases, so an
#    EsitoRitiro would marshal as <EsitoPubblicazione>. Drop that XMLName and give each element its
#    own struct embedding the type.
/XMLName xml.Name `xml:"[^ ]* EsitoPubblicazione"`/d
s|^type EsitoPubblicazione TipoEsitoOperazione$|type EsitoPubblicazione struct {\n\tXMLName xml.Name `xml:"http://porta.lavoro.provincia.it/Formazione/CatalogoOfferta EsitoPubblicazione"`\n\tTipoEsitoOperazione\n}|
s|^type EsitoRitiro TipoEsitoOperazione$|type EsitoRitiro struct {\n\tXMLName xml.Name `xml:"http://porta.lavoro.provincia.it/Formazione/CatalogoOfferta EsitoRitiro"`\n\tTipoEsitoOperazione\n}|
# soap.XSDDate / soap.XSDDateTime swallow parse errors: use the strict Date/DateTime of corrections.go.
s/soap\.XSDDateTime/DateTime/g
s/soap\.XSDDate/Date/g

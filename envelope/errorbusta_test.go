package envelope

import (
	"strings"
	"testing"

	"github.com/beevik/etree"
)

// CheckErrorBusta: the Body of a busta carrying ListaEccezioni must be the soap:Client /
// FaultStringFormat fault; the Linee Guida reading tolerates INFO and LIEVE lists on an ordinary
// Body (spec §10, §11).
func TestCheckErrorBusta(t *testing.T) {
	grave := []Exception{{Code: CodeUnknownReceiver, Severity: SeveritySevere, Position: "Destinatario/IdentificativoParte"}}
	info := []Exception{{Code: CodeInvalidAcks, Severity: SeverityInfo, Position: "ListaRiscontri"}}
	const good = `<soapenv:Fault><faultcode xmlns:soap="` + NSSOAP + `">soap:Client</faultcode><faultstring>` + FaultStringFormat + `</faultstring></soapenv:Fault>`
	tests := []struct {
		name    string
		exc     []Exception
		body    string
		lenient bool
		want    []string
	}{
		{"no exceptions", nil, `<x:p xmlns:x="urn:x"/>`, false, nil},
		{"the eGov fault", grave, good, false, nil},
		{"default namespace faultcode", grave, `<soapenv:Fault><faultcode xmlns="` + NSSOAP + `">Client</faultcode><faultstring>` + FaultStringFormat + `</faultstring></soapenv:Fault>`, false, nil},
		{"payload", grave, `<x:p xmlns:x="urn:x"/>`, false, []string{PosErrorFault}},
		{"empty Body", grave, ``, false, []string{PosErrorFault}},
		{"fault and payload", grave, good + `<x:p xmlns:x="urn:x"/>`, false, []string{PosErrorFault}},
		{"no faultstring", grave, `<soapenv:Fault><faultcode xmlns:soap="` + NSSOAP + `">soap:Client</faultcode></soapenv:Fault>`, false, []string{PosErrorFaultString}},
		{"unprefixed Client outside any namespace", grave, `<soapenv:Fault><faultcode>Client</faultcode><faultstring>` + FaultStringFormat + `</faultstring></soapenv:Fault>`, false, []string{PosErrorFaultCode}},
		{"INFO on a payload, eGov 1.1", info, `<x:p xmlns:x="urn:x"/>`, false, []string{PosErrorFault}},
		{"INFO on a payload, Linee Guida", info, `<x:p xmlns:x="urn:x"/>`, true, nil},
		{"GRAVE on a payload, Linee Guida", grave, `<x:p xmlns:x="urn:x"/>`, true, []string{PosErrorFault}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := etree.NewDocument()
			if err := doc.ReadFromString(`<soapenv:Envelope xmlns:soapenv="` + NSSOAP + `"><soapenv:Body>` + tt.body + `</soapenv:Body></soapenv:Envelope>`); err != nil {
				t.Fatal(err)
			}
			got := CheckErrorBusta(&Header{Exceptions: tt.exc}, doc.Root().SelectElement("Body"), tt.lenient)
			var pos []string
			for _, x := range got {
				if x.Code != CodeBodyFormat || x.Severity != SeveritySevere || x.Context != ContextValidation {
					t.Errorf("exception %+v, want GRAVE %s in %s", x, CodeBodyFormat, ContextValidation)
				}
				pos = append(pos, x.Position)
			}
			if strings.Join(pos, ",") != strings.Join(tt.want, ",") {
				t.Errorf("posizioni %q, want %q", pos, tt.want)
			}
		})
	}
}

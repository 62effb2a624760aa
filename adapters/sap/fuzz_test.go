package sap

import "testing"

// FuzzParseSAP: any body gives the carried document or an error, never a panic.
func FuzzParseSAP(f *testing.F) {
	f.Add([]byte(`<invioSAP xmlns="http://servizi.lavoro.gov.it/servizicoap/types"><SAP><![CDATA[<lavoratore/>]]></SAP></invioSAP>`))
	f.Add([]byte(`<risposta_richiestaSAP><SAP>&lt;lavoratore/&gt;</SAP></risposta_richiestaSAP>`))
	f.Add([]byte(`<x/>`))
	f.Fuzz(func(t *testing.T, body []byte) {
		doc, err := ParseSAP(body)
		if err == nil && doc == nil {
			t.Fatal("no error and no document")
		}
	})
}

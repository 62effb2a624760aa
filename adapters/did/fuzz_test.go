package did

import (
	"testing"

	"porta/xsd"
)

// FuzzParseResponse: any body is validated and read, or refused with an error, never a panic.
func FuzzParseResponse(f *testing.F) {
	set, err := xsd.Open()
	if err != nil {
		f.Fatal(err)
	}
	defer set.Close()
	f.Add([]byte(`<GestisciDID_Output xmlns="http://anpal.gov.it/DataModels/InformationDelivery/ConferimentoDID/1.0"><Esito><CodiceEsito>OK</CodiceEsito></Esito></GestisciDID_Output>`))
	f.Add([]byte(`<GestisciDID_Output xmlns="http://anpal.gov.it/DataModels/InformationDelivery/ConferimentoDID/1.0"><Profiling><IDSProfiling>P</IDSProfiling><Probabilita>0.5</Probabilita><DataInserimento>2026-01-01T00:00:00Z</DataInserimento></Profiling><Esito><CodiceEsito>OK</CodiceEsito></Esito></GestisciDID_Output>`))
	f.Fuzz(func(t *testing.T, body []byte) {
		o, err := ParseResponse(set, body)
		if err == nil && o.Code == "" {
			t.Fatalf("a valid response without CodiceEsito: %s", body)
		}
	})
}

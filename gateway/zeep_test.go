package gateway

import (
	"os/exec"
	"strings"
	"testing"

	"porta/internal/testenv"
)

// TestZeepThroughWSDL: zeep, an independent WSDL-driven SOAP client, loads the WSDL from the
// Porta Delegata (address and schema imports rewritten) and calls the synchronous service
// through both gateways.
func TestZeepThroughWSDL(t *testing.T) {
	py := testenv.PythonZeep(t)
	n := newNetwork(t)
	script := `
import sys, requests, zeep
from zeep.transports import Transport
s = requests.Session()
s.auth = requests.auth.HTTPBasicAuth("sil", "secret")
client = zeep.Client(sys.argv[1], transport=Transport(session=s))
with client.settings(raw_response=True):
    r = client.service.Consulta(codiceFiscale="RSSMRA85T10A562S")
print(r.status_code)
print(r.headers.get("Porta-Relates-To", ""))
print(r.text)
`
	cmd := exec.Command(py, "-c", script, n.prov.pd.URL+"/pd/Provincia/Ministero/Anagrafe?wsdl")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("zeep: %v\n%s", err, out)
	}
	lines := strings.SplitN(string(out), "\n", 3)
	if len(lines) < 3 || lines[0] != "200" || !strings.HasPrefix(lines[1], "Provincia_ProvinciaSPCoopIT_") || !strings.Contains(lines[2], "Risposta") {
		t.Errorf("zeep call:\n%s", out)
	}
	if d := n.min.be.all(); len(d) != 1 || d[0].Header.Action != "Consulta" || !strings.Contains(string(d[0].Envelope), "RSSMRA85T10A562S") {
		t.Errorf("backend deliveries: %+v", d)
	}
}

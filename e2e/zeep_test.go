package e2e

import (
	"os/exec"
	"strings"
	"testing"

	"porta/internal/testenv"
)

// TestZeepThroughRunningGateways: zeep (Debian's python3), an independent WSDL-driven client,
// loads the WSDL from the Provincia's running PD (GET ...?wsdl, address and schema include
// rewritten by the gateway) and calls the synchronous service through both gateway processes to
// the Ministero's backend, once reading the raw HTTP answer and once the typed result.
func TestZeepThroughRunningGateways(t *testing.T) {
	t.Parallel()
	py := testenv.PythonZeep(t)
	be := newBackend(t)
	p, m := newSites(t, map[string]string{prov: be.URL, min_: be.URL})
	gp := serve(t, p, "provincia")
	serve(t, m, "ministero")
	script := `
import sys, requests, zeep
from zeep.transports import Transport
s = requests.Session()
s.auth = requests.auth.HTTPBasicAuth("app", sys.argv[2])
client = zeep.Client(sys.argv[1], transport=Transport(session=s))
with client.settings(raw_response=True):
    r = client.service.Consulta(codiceFiscale="RSSMRA85T10A562S")
print(r.status_code)
print(r.headers.get("Porta-Relates-To", ""))
typed = client.service.Consulta(codiceFiscale="VRDLGU80A01H501X")
print(repr(typed))
`
	wsdl := "http://" + gp.pd + "/pd/Provincia/Ministero/Anagrafe?wsdl"
	out, err := exec.Command(py, "-c", script, wsdl, password).CombinedOutput()
	if err != nil {
		t.Fatalf("zeep: %v\n%s", err, out)
	}
	lines := strings.SplitN(string(out), "\n", 3)
	if len(lines) < 3 || lines[0] != "200" || !strings.HasPrefix(lines[1], "Provincia_ProvinciaSPCoopIT_") || !strings.Contains(lines[2], "VRDLGU80A01H501X") {
		t.Errorf("zeep calls:\n%s", out)
	}
	ds := be.of("Anagrafe")
	if len(ds) != 2 || ds[0].party != min_ || ds[0].sender != prov || ds[0].action != "Consulta" ||
		!strings.Contains(ds[0].body, "RSSMRA85T10A562S") || !strings.Contains(ds[1].body, "VRDLGU80A01H501X") {
		t.Errorf("backend deliveries: %+v", ds)
	}
	t.Logf("zeep:\n%s", out)
}

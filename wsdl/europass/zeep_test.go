package europass

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"porta/internal/testenv"
)

// zeepScript loads a WSDL with zeep (an independent SOAP stack), prints its operations, and parses
// each payload file with the WSDL's own element types (zeep is strict: an unexpected or
// misplaced element fails).
const zeepScript = `
import sys, zeep
from lxml import etree
c = zeep.Client(sys.argv[1])
print(" ".join(sorted(op for s in c.wsdl.services.values() for p in s.ports.values() for op in p.binding._operations)))
for f in sys.argv[2:]:
    el = etree.parse(f).getroot()
    c.get_element(el.tag).parse(el, c.wsdl.types)
`

// TestZeepReadsWSDLAndGoldenPayloads checks the WSDL and the golden payloads the adapter emits
// against zeep.
func TestZeepReadsWSDLAndGoldenPayloads(t *testing.T) {
	py := testenv.PythonZeep(t)
	golden, err := filepath.Glob("../../testdata/labour/outbound/europass/*.xml")
	if err != nil || len(golden) == 0 {
		t.Fatalf("no golden payloads europass/*.xml under testdata/labour/outbound (%v)", err)
	}
	out, err := exec.Command(py, append([]string{"-c", zeepScript, "../europass.wsdl"}, golden...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("zeep: %v\n%s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != "invioEuropass" {
		t.Fatalf("operations %q, want %q", got, "invioEuropass")
	}
}

package demo

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"porta/internal/listen"
	"porta/internal/testenv"
	"porta/wsdl"
)

// TestDemoNetworkServesWSDLs writes a demo network (WSDLs from the binary, no source tree named in
// any registry) and asks the Porta Delegata of each consumer for the WSDL of every service it may
// call: the answer is the service's own WSDL (its target namespace) with every soap:address
// pointing at that gateway's PD path, and the schema it imports is served through ?xsd. zeep, an
// independent WSDL client, loads each one from the gateway and reports the same address.
func TestDemoNetworkServesWSDLs(t *testing.T) {
	dir := t.TempDir()
	res := listen.NewReserved()
	defer res.Close()
	if _, _, err := BuildNetwork(dir, res); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	peers := map[string]*Peer{}
	defer func() {
		cancel()
		for _, p := range peers {
			p.Stop()
		}
	}()
	var urls []string
	want := map[string]string{} // URL -> target namespace of the embedded WSDL
	for _, s := range Services() {
		data, err := wsdl.FS.ReadFile(s.WSDL)
		if err != nil {
			t.Fatalf("%s: %v", s.Name, err)
		}
		doc := etree.NewDocument()
		if err := doc.ReadFromBytes(data); err != nil {
			t.Fatal(err)
		}
		for _, c := range s.Consumers[:1] {
			p := peers[c]
			if p == nil {
				if p, err = StartPeer(ctx, dir, c, res, log, time.Now); err != nil {
					t.Fatal(err)
				}
				peers[c] = p
			}
			u := p.PD + "/pd/" + c + "/" + s.Provider + "/" + s.Name + "/" + s.Actions[0]
			urls = append(urls, u)
			want[u] = doc.Root().SelectAttrValue("targetNamespace", "")
		}
	}
	for _, u := range urls {
		resp, err := http.Get(u + "?wsdl")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s?wsdl: HTTP %d %s", u, resp.StatusCode, body)
			continue
		}
		doc := etree.NewDocument()
		if err := doc.ReadFromBytes(body); err != nil {
			t.Errorf("GET %s?wsdl: %v", u, err)
			continue
		}
		if ns := doc.Root().SelectAttrValue("targetNamespace", ""); ns != want[u] {
			t.Errorf("GET %s?wsdl: targetNamespace %q, want %q", u, ns, want[u])
		}
		addrs := doc.FindElements("//address")
		if len(addrs) == 0 {
			t.Errorf("GET %s?wsdl: no soap:address", u)
		}
		for _, a := range addrs {
			if got := a.SelectAttrValue("location", ""); got != u {
				t.Errorf("GET %s?wsdl: soap:address %q, want the gateway's own %q", u, got, u)
			}
		}
		imp := doc.FindElement("//import[@schemaLocation]")
		if imp == nil {
			t.Errorf("GET %s?wsdl: no schema import", u)
			continue
		}
		loc := imp.SelectAttrValue("schemaLocation", "")
		if !strings.HasPrefix(loc, u+"?xsd=") {
			t.Errorf("GET %s?wsdl: import %q not served by the gateway", u, loc)
			continue
		}
		resp, err = http.Get(loc)
		if err != nil {
			t.Fatal(err)
		}
		xsdBody, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(xsdBody), `targetNamespace="`+imp.SelectAttrValue("namespace", "")+`"`) {
			t.Errorf("GET %s: HTTP %d, not the imported schema:\n%.300s", loc, resp.StatusCode, xsdBody)
		}
	}

	py := testenv.PythonZeep(t)
	script := `
import sys, zeep
for u in sys.argv[1:]:
    c = zeep.Client(u + "?wsdl")
    for s in c.wsdl.services.values():
        for p in s.ports.values():
            print(u, p.binding_options["address"])
`
	out, err := exec.Command(py, append([]string{"-c", script}, urls...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("zeep: %v\n%s", err, out)
	}
	seen := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		u, addr, _ := strings.Cut(line, " ")
		if addr != u {
			t.Errorf("zeep read address %q from %s?wsdl", addr, u)
		}
		seen[u] = true
	}
	for _, u := range urls {
		if !seen[u] {
			t.Errorf("zeep found no port in %s?wsdl:\n%s", u, out)
		}
	}
}

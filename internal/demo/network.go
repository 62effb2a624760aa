package demo

import (
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"porta/adapters/labour"
	"porta/gateway/node"
	"porta/internal/listen"
	"porta/registry"
	"porta/wsdl"
)

// The labour network of porta demo and porta sim: who takes part, which services each provides,
// and the files that make one gateway per party (porta.yaml, registry.yaml, key, certificate),
// all issued by one local CA. Every gateway's registry lists every party and every service, so
// any one of them can be started alone (porta sim) or all together (porta demo).

// Party names of the network (adapters/labour spells them for every registry).
const (
	pProvincia   = labour.Provincia
	pMinistero   = labour.Ministero
	pBorsaLavoro = labour.BorsaLavoro
	pEuropass    = labour.Europass
	pComune1     = labour.Comune1
	pComune2     = labour.Comune2
	pScuola1     = labour.Scuola1
	pScuola2     = labour.Scuola2
	pINPS        = labour.INPS
	pEnte        = labour.Ente
)

var Parties = []string{pProvincia, pMinistero, pBorsaLavoro, pEuropass, pComune1, pComune2, pScuola1, pScuola2, pINPS, pEnte}

// Roles maps the porta sim role to the parties it may run.
var Roles = map[string][]string{
	"ministero": {pMinistero}, "borsalavoro": {pBorsaLavoro}, "europass": {pEuropass},
	"comune": {pComune1, pComune2}, "scuola": {pScuola1, pScuola2}, "inps": {pINPS}, "ente": {pEnte},
	"provincia": {pProvincia},
}

// Service is one cooperation service of the network at one provider.
type Service struct {
	*labour.Service
	Provider string
}

// Service names, as adapters/labour spells them, for the flows that name one.
const (
	svcAnagrafe   = "Anagrafe"
	svcScuola     = "FrequenzeScolastiche"
	svcINPS       = "PercettoriSostegno"
	svcFormazione = "CatalogoFormazione"
)

// Services is adapters/labour's table, one entry per provider.
func Services() []Service {
	var out []Service
	for _, s := range labour.Services {
		for _, p := range s.Providers {
			out = append(out, Service{s, p})
		}
	}
	return out
}

// AppUser and appPassword are the local application's credentials at every gateway of the
// network (the demo's own application; a generated network is a private test setup). Its password
// is drawn by BuildNetwork.
const AppUser = "app"

// Ports are one gateway's listen addresses.
type Ports struct{ PD, PA, Admin string }

// BuildNetwork writes under dir: ca/ (the local CA), wsdl/ and xsd/ (the services' WSDLs and the
// schemas they import, from the binary), and one directory per party with its porta.yaml,
// registry.yaml, key.pem and cert.pem. The addresses are loopback ports reserved in res, which
// holds them bound until StartPeer's gateways take them over (in the same process), or until the
// caller closes res (porta sim, whose gateways run in later processes).
// It returns the application password written (hashed) into every registry.
func BuildNetwork(dir string, res *listen.Reserved) (map[string]Ports, string, error) {
	ca, err := registry.NewCA(filepath.Join(dir, "ca"), registry.AlgECDSAP256, "Porta demo labour network CA", rand.Reader)
	if err != nil {
		return nil, "", err
	}
	if err := wsdl.Write(dir); err != nil {
		return nil, "", err
	}
	ports := map[string]Ports{}
	for _, p := range Parties {
		a, err := res.Addrs(3)
		if err != nil {
			return nil, "", err
		}
		ports[p] = Ports{a[0], a[1], a[2]}
	}
	password := rand.Text()
	hash, err := registry.HashPassword(password, rand.Reader)
	if err != nil {
		return nil, "", err
	}
	for _, p := range Parties {
		pd := filepath.Join(dir, p)
		if err := os.MkdirAll(pd, 0o755); err != nil {
			return nil, "", err
		}
		key, err := registry.GenerateKey(registry.AlgECDSAP256, rand.Reader)
		if err != nil {
			return nil, "", err
		}
		cert, err := ca.Issue(key.Public(), registry.CertRequest{CommonName: p, Organization: p + " (" + registry.DefaultPortID(p, registry.TypeSPC) + ")", Hosts: []string{"127.0.0.1"}}, rand.Reader)
		if err != nil {
			return nil, "", err
		}
		if err := registry.WriteKeyFile(filepath.Join(pd, "key.pem"), key); err != nil {
			return nil, "", err
		}
		if err := os.WriteFile(filepath.Join(pd, "cert.pem"), registry.EncodeCertsPEM(cert), 0o644); err != nil {
			return nil, "", err
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "ca.pem"), registry.EncodeCertsPEM(ca.Cert), 0o644); err != nil {
		return nil, "", err
	}
	for _, p := range Parties {
		pd := filepath.Join(dir, p)
		cfg := node.ConfigYAML(node.ConfigFile{Party: p, PD: ports[p].PD, PA: ports[p].PA, Admin: ports[p].Admin, CA: "../ca.pem", WrittenBy: "porta demo for the labour network", IndexKey: node.IndexKeyFile})
		if err := node.WriteIndexKey(filepath.Join(pd, node.IndexKeyFile), rand.Reader); err != nil {
			return nil, "", err
		}
		if err := os.WriteFile(filepath.Join(pd, "porta.yaml"), []byte(cfg), 0o644); err != nil {
			return nil, "", err
		}
		if err := os.WriteFile(filepath.Join(pd, "registry.yaml"), []byte(networkRegistry(p, ports, hash)), 0o644); err != nil {
			return nil, "", err
		}
	}
	return ports, password, nil
}

// WriteNetwork is BuildNetwork, keeping the application password in dir/app-password (mode 0600)
// for ReadPassword: what porta demo and porta sim leave behind.
func WriteNetwork(dir string, res *listen.Reserved) (map[string]Ports, string, error) {
	ports, password, err := BuildNetwork(dir, res)
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, "app-password"), []byte(password+"\n"), 0o600)
	}
	return ports, password, err
}

// networkRegistry is the registry of the gateway hosting self: every party, every service (with
// a delivery for self's own), and the local application with what self may consume.
func networkRegistry(self string, ports map[string]Ports, hash string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Registry of %s in the porta demo labour network.\nparties:\n", self)
	for _, p := range Parties {
		fmt.Fprintf(&b, "  - name: %s\n    url: https://%s/pa\n    profile: %s\n    certificates: [../%s/cert.pem]\n    ca: ../ca.pem\n", p, ports[p].PA, labour.PartyProfile(p), p)
		if p == self {
			b.WriteString("    hosted: true\n")
		}
	}
	b.WriteString("services:\n")
	var may []string
	for _, s := range Services() {
		fmt.Fprintf(&b, "  - provider: %s\n    name: %s\n    profile: %s\n    schema: %s\n    wsdl: ../%s/%s\n", s.Provider, s.Name, s.Profile, s.Schema, wsdl.Dir, s.WSDL)
		if s.Profile == "oneway" {
			b.WriteString("    filter_duplicates: true\n")
			if s.OneWayAck {
				b.WriteString("    ack: true\n")
			}
		}
		b.WriteString("    actions:\n")
		for _, a := range s.Actions {
			fmt.Fprintf(&b, "      - name: %s\n", a)
			if c := s.Correlated[a]; c != "" {
				fmt.Fprintf(&b, "        correlated: %s\n", c)
			}
		}
		fmt.Fprintf(&b, "    consumers: [%s]\n", strings.Join(s.Consumers, ", "))
		if len(s.CF) > 0 {
			fmt.Fprintf(&b, "    trace:\n      ids: {cf: [%s]}\n", quoteAll(s.CF))
		}
		if s.Provider == self {
			fmt.Fprintf(&b, "    delivery: adapter:%s\n", s.Adapter)
		}
		for _, c := range s.Consumers {
			if c == self {
				may = append(may, fmt.Sprintf("      - {consumer: %s, provider: %s, service: %s}\n", self, s.Provider, s.Name))
			}
		}
	}
	if len(may) > 0 {
		fmt.Fprintf(&b, "applications:\n  - name: App%s\n    username: %s\n    password_hash: %s\n    may:\n%s", self, AppUser, hash, strings.Join(may, ""))
	}
	return b.String()
}

// quoteAll is paths as a YAML flow list's items, each double-quoted.
func quoteAll(paths []string) string {
	q := make([]string, len(paths))
	for i, p := range paths {
		q[i] = strconv.Quote(p)
	}
	return strings.Join(q, ", ")
}

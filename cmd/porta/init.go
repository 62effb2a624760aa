package main

import (
	"crypto/rand"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"porta/envelope"
	"porta/gateway/node"
	"porta/internal/listen"
	"porta/registry"
	"porta/wsdl"
)

func init() {
	register(command{
		name:    "init",
		summary: "create a gateway: porta.yaml, registry, key, certificate and party card",
		run:     runInit,
	})
}

// initFiles are the files porta init writes in --dir, in the order it reports them.
var initFiles = []string{"porta.yaml", "registry.yaml", "key.pem", "cert.pem", "party.yaml", node.IndexKeyFile}

func runInit(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("init", "--party NAME --dir DIR [flags]", stdout, stderr)
	party := fs.String("party", "", "name of the party this gateway hosts (letters and digits), required")
	dir := fs.String("dir", "", "directory to write the gateway's files to (created if missing), required")
	typ := fs.String("type", registry.TypeSPC, "party type: SPC, TEST or AOO")
	portID := fs.String("port-id", "", "identificativo porta (default <party>SPCoopIT)")
	profile := fs.String("profile", string(envelope.InteropEGov), "interoperability profile: egov-1.1 or linee-guida-1.1 (CNIPA's Linee Guida 1.1: SPC only, no riscontri)")
	pdAddr := fs.String("pd-addr", node.DefaultPDAddr, "Porta Delegata listener, for local applications")
	paAddr := fs.String("pa-addr", node.DefaultPAAddr, "Porta Applicativa listener (TLS), for peer gateways")
	adminAddr := fs.String("admin-addr", node.DefaultAdminAddr, "admin listener: /healthz, /readyz, /metrics")
	alg := fs.String("alg", registry.AlgRSA2048, "key algorithm: rsa2048 or ecdsa-p256")
	newCA := fs.String("new-ca", "", "create a local CA in `CADIR` and issue this gateway's certificate from it")
	useCA := fs.String("ca", "", "issue this gateway's certificate from the local CA in `CADIR` (made by --new-ca)")
	publicURL := fs.String("public-url", "", "URL peers use to reach the Porta Applicativa (default https://PA-ADDR/pa)")
	force := fs.Bool("force", false, "overwrite existing files in --dir")
	freePorts := fs.Bool("free-ports", false, "listen on loopback ports that are free now, chosen below the kernel's ephemeral range, instead of the defaults (for several gateways on one machine)")
	fs.About = fmt.Sprintf("Writes porta.yaml, registry.yaml, key.pem, cert.pem and party.yaml in DIR.\n"+
		"Listeners default to loopback: PD %s, PA %s, admin %s.", node.DefaultPDAddr, node.DefaultPAAddr, node.DefaultAdminAddr)
	if code, done := fs.parse(args); done {
		return code
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "porta init: "+format+"\n", a...)
		return 1
	}
	usageErr := fs.fail
	switch {
	case fs.NArg() > 0:
		return usageErr("unexpected argument %q", fs.Arg(0))
	case *party == "" || *dir == "":
		return usageErr("--party and --dir are required (porta init --party NAME --dir DIR)")
	case !registry.ValidName(*party):
		return usageErr("--party %q: letters and digits only (the name forms eGov identifiers)", *party)
	case *portID != "" && !registry.ValidName(*portID):
		return usageErr("--port-id %q: letters and digits only", *portID)
	case *newCA != "" && *useCA != "":
		return usageErr("--new-ca and --ca exclude each other: create a CA once, then use it with --ca")
	case *alg != registry.AlgRSA2048 && *alg != registry.AlgECDSAP256:
		return usageErr("--alg %q: want rsa2048 or ecdsa-p256", *alg)
	}
	*typ = strings.ToUpper(*typ)
	if *typ != registry.TypeSPC && *typ != registry.TypeTEST && *typ != registry.TypeAOO {
		return usageErr("--type %q: want SPC, TEST or AOO", *typ)
	}
	if *portID == "" {
		*portID = registry.DefaultPortID(*party, *typ)
	}
	interop, err := envelope.ParseInterop(*profile)
	if err != nil {
		return usageErr("--profile %q: want %s or %s", *profile, envelope.InteropEGov, envelope.InteropLineeGuida)
	}
	if interop == envelope.InteropLineeGuida && *typ != registry.TypeSPC {
		return usageErr("--profile %s names SPC parties only: drop --type %s", interop, *typ)
	}
	if *freePorts {
		if set := addrFlagsSet(fs.FlagSet); len(set) > 0 {
			return usageErr("--free-ports chooses the listen addresses; drop %s, or drop --free-ports", strings.Join(set, " and "))
		}
		// Free now, released at once: listen.Reserved draws them below the ephemeral range,
		// where no outgoing connection takes them before porta serve binds them.
		res := listen.NewReserved()
		addrs, err := res.Addrs(3)
		res.Close()
		if err != nil {
			return fail("--free-ports: %v; give --pd-addr, --pa-addr and --admin-addr", err)
		}
		*pdAddr, *paAddr, *adminAddr = addrs[0], addrs[1], addrs[2]
	}
	for _, a := range []struct{ flag, addr string }{{"pd-addr", *pdAddr}, {"pa-addr", *paAddr}, {"admin-addr", *adminAddr}} {
		if _, _, err := net.SplitHostPort(a.addr); err != nil {
			return usageErr("--%s %q: want HOST:PORT, e.g. 127.0.0.1:7443", a.flag, a.addr)
		}
	}
	if *publicURL == "" {
		host, port, _ := net.SplitHostPort(*paAddr)
		if host == "" || host == "0.0.0.0" || host == "::" {
			host = "127.0.0.1"
		}
		*publicURL = "https://" + net.JoinHostPort(host, port) + "/pa"
	}
	pu, err := url.Parse(*publicURL)
	if err != nil || pu.Scheme != "https" || pu.Host == "" {
		return usageErr("--public-url %q: want https://HOST:PORT/pa", *publicURL)
	}

	if err := os.MkdirAll(*dir, 0o755); err != nil {
		return fail("%v", err)
	}
	var existing []string
	for _, f := range append(initFiles, "ca.pem") {
		if _, err := os.Stat(filepath.Join(*dir, f)); err == nil {
			existing = append(existing, f)
		}
	}
	if len(existing) > 0 && !*force {
		return fail("%s already holds %s; pass --force to overwrite, or choose another --dir", *dir, strings.Join(existing, ", "))
	}

	// Key and certificate: one key for the PA's TLS server, TLS client calls to peers and the
	// WS-Security signature (see package registry).
	key, err := registry.GenerateKey(*alg, rand.Reader)
	if err != nil {
		return fail("%v", err)
	}
	hosts := []string{pu.Hostname()}
	if h, _, _ := net.SplitHostPort(*paAddr); h != "" && h != "0.0.0.0" && h != "::" {
		hosts = append(hosts, h)
	}
	req := registry.CertRequest{CommonName: *party, Organization: *party + " (" + *portID + ")", Hosts: hosts}
	var ca *registry.CA
	var certDesc string
	switch {
	case *newCA != "":
		ca, err = registry.NewCA(*newCA, *alg, "Porta local CA", rand.Reader)
		if err != nil {
			return fail("%v", err)
		}
		fmt.Fprintf(stdout, "created local CA %s (%s, %s)\n", *newCA, registry.CAKeyFile, registry.CACertFile)
	case *useCA != "":
		ca, err = registry.LoadCA(*useCA)
		if err != nil {
			return fail("%v", err)
		}
	}
	var cert *x509.Certificate
	if ca != nil {
		cert, err = ca.Issue(key.Public(), req, rand.Reader)
		certDesc = "issued by " + ca.Cert.Subject.CommonName
	} else {
		cert, err = registry.SelfSigned(key, req, rand.Reader)
		certDesc = "self-signed"
	}
	if err != nil {
		return fail("%v", err)
	}

	path := func(f string) string { return filepath.Join(*dir, f) }
	var caFile, caEntry string
	var cas []*x509.Certificate
	if ca != nil {
		cas = []*x509.Certificate{ca.Cert}
		if err := registry.WriteCertFile(path("ca.pem"), ca.Cert); err != nil {
			return fail("%v", err)
		}
		caFile = "ca.pem"
		caEntry = "\n    ca: ca.pem"
	} else if err := os.Remove(path("ca.pem")); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fail("%v", err) // a CA left by an earlier init --force would be trusted by mistake
	}
	card := &registry.Card{Name: *party, Type: *typ, PortID: *portID, URL: *publicURL, Interop: interop, Certs: []*x509.Certificate{cert}, CA: cas}
	writes := []struct {
		name string
		data []byte
		perm os.FileMode
		what string
	}{
		{"porta.yaml", []byte(node.ConfigYAML(node.ConfigFile{Party: *party, PD: *pdAddr, PA: *paAddr, Admin: *adminAddr, CA: caFile, WrittenBy: "porta init", IndexKey: node.IndexKeyFile})), 0o644,
			fmt.Sprintf("gateway configuration: PD %s, PA %s (TLS), admin %s", *pdAddr, *paAddr, *adminAddr)},
		{"registry.yaml", []byte(fmt.Sprintf(registryYAML, *party, *party, *typ, *portID, *publicURL, interop, caEntry, *party, *party)), 0o644,
			"service registry: " + *party + " hosted; commented examples of a service and an application"},
		{"cert.pem", registry.EncodeCertsPEM(cert), 0o644,
			fmt.Sprintf("certificate CN=%s, %s, valid until %s", *party, certDesc, cert.NotAfter.UTC().Format("2006-01-02"))},
		{"party.yaml", card.Marshal(), 0o644, "party card: give it to peer gateways"},
	}
	if err := registry.WriteKeyFile(path("key.pem"), key); err != nil {
		return fail("%v", err)
	}
	// The index key of business identifiers: a new one unless kept (--force keeps it, so the
	// records already indexed under it stay searchable).
	if _, err := os.Stat(path(node.IndexKeyFile)); errors.Is(err, os.ErrNotExist) {
		if err := node.WriteIndexKey(path(node.IndexKeyFile), rand.Reader); err != nil {
			return fail("%v", err)
		}
	}
	for _, w := range writes {
		if err := writeFileMode(path(w.name), w.data, w.perm); err != nil {
			return fail("%v", err)
		}
	}
	// The cooperation services' WSDLs, from the binary: a service's wsdl: key can name one.
	if err := wsdl.Write(*dir); err != nil {
		return fail("%v", err)
	}
	// Read everything back as porta serve will: a setup that does not load is a bug here.
	cfg, err := node.LoadConfig(path("porta.yaml"))
	if err == nil {
		var reg *registry.Registry
		if reg, err = registry.Load(cfg.Registry, registry.Options{}); err == nil {
			err = cfg.CheckRegistry(reg)
		}
	}
	if err != nil {
		return fail("the files written do not load (a bug in porta init):\n%v", err)
	}

	abs, _ := filepath.Abs(*dir)
	for _, w := range writes[:2] {
		fmt.Fprintf(stdout, "wrote %-40s %s\n", filepath.Join(abs, w.name), w.what)
	}
	fmt.Fprintf(stdout, "wrote %-40s private key (%s), readable by its owner only\n", filepath.Join(abs, "key.pem"), *alg)
	for _, w := range writes[2:] {
		fmt.Fprintf(stdout, "wrote %-40s %s\n", filepath.Join(abs, w.name), w.what)
	}
	fmt.Fprintf(stdout, "wrote %-40s index key of business identifiers (search by codice fiscale), readable by its owner only\n", filepath.Join(abs, node.IndexKeyFile))
	if ca != nil {
		fmt.Fprintf(stdout, "wrote %-40s the local CA's certificate\n", filepath.Join(abs, "ca.pem"))
	}
	fmt.Fprintf(stdout, "wrote %-40s the labour services' WSDLs (schemas they import in %s)\n", filepath.Join(abs, wsdl.Dir)+"/", filepath.Join(abs, "xsd")+"/")
	fmt.Fprintf(stdout, "\nNext:\n")
	fmt.Fprintf(stdout, "  1. on each peer gateway, trust %s:\n       porta registry add-party --config PEER/porta.yaml %s\n", *party, filepath.Join(abs, "party.yaml"))
	fmt.Fprintf(stdout, "  2. declare the services you exchange, and the local applications that call them:\n       porta registry add-service --config %s NAME --consumers PARTY [--delivery URL|adapter:NAME]\n       porta registry add-app --config %s NAME --may PROVIDER/SERVICE < PASSWORD-FILE\n", filepath.Join(abs, "porta.yaml"), filepath.Join(abs, "porta.yaml"))
	fmt.Fprintf(stdout, "  3. start this gateway:\n       porta serve --config %s\n", filepath.Join(abs, "porta.yaml"))
	return 0
}

// addrFlagsSet are the listen address flags given on the command line, as --NAME.
func addrFlagsSet(fs *flag.FlagSet) []string {
	var set []string
	fs.Visit(func(f *flag.Flag) {
		if strings.HasSuffix(f.Name, "-addr") {
			set = append(set, "--"+f.Name)
		}
	})
	return set
}

func writeFileMode(path string, data []byte, perm os.FileMode) error {
	if err := os.WriteFile(path, data, perm); err != nil {
		return err
	}
	return os.Chmod(path, perm)
}

// registryYAML is the registry template: party (x2), type, port id, url, profile, ca entry, party (x2).
const registryYAML = `# Service registry of the gateway of %s, written by porta init. Check it with
#   porta registry check --config porta.yaml
# Trust a peer gateway with: porta registry add-party --config porta.yaml PEER/party.yaml
# The format is documented in package registry.

parties:
  - name: %s
    type: %s
    port_id: %s
    url: %s
    profile: %s               # interoperability profile: egov-1.1 | linee-guida-1.1 (spec §11)
    hosted: true
    certificates: [cert.pem]%s

# A service this gateway provides, delivered to a local application (or adapter: NAME):
#
# services:
#   - provider: %s
#     name: SAPNotifica
#     profile: oneway                # oneway | sync | async-symmetric | async-asymmetric
#     filter_duplicates: true
#     ack: true
#     actions: [Notifica]
#     consumers: [Ministero]         # remote parties that may call it
#     wsdl: wsdl/sap.wsdl            # served on GET /pd/CONSUMER/PROVIDER/SERVICE/ACTION?wsdl
#     delivery:
#       url: http://127.0.0.1:9000/sap
#       timeout: 30s
#
# A local application calling a peer's service through the Porta Delegata (make the hash with
# porta registry hash-password):
#
# applications:
#   - name: SIL
#     username: sil
#     password_hash: pbkdf2-sha256$600000$...
#     may:
#       - {consumer: %s, provider: Ministero, service: DID}
`

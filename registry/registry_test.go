package registry

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"porta/envelope"
	"porta/envelope/wssec"
)

var at2030 = Options{Now: func() time.Time { return time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC) }}

func loadFull(t *testing.T) *Registry {
	t.Helper()
	r, err := Load(filepath.Join("..", "testdata", "registry", "full.yaml"), at2030)
	if err != nil {
		t.Fatalf("Load full.yaml:\n%v", err)
	}
	return r
}

func TestLoadFullLookups(t *testing.T) {
	r := loadFull(t)
	if got := r.HostedParties(); strings.Join(got, ",") != "Provincia,ComuneA" {
		t.Errorf("HostedParties = %v", got)
	}
	if len(r.Files()) != 2 {
		t.Errorf("Files = %v, want full.yaml and its include", r.Files())
	}
	p, ok := r.Party("Provincia")
	if !ok || p.PortID != "ProvinciaSPCoopIT" || p.Type != "SPC" || len(p.Certs) != 1 || len(p.CA) != 1 {
		t.Errorf("Party(Provincia) = %+v, %v", p, ok)
	}
	if c, _ := r.Party("ComuneA"); c.PortID != "PDDComuneA" {
		t.Errorf("ComuneA port id = %q", c.PortID)
	}
	if !r.Hosted("ComuneA") || r.Hosted("Ministero") || r.Hosted("Nessuno") {
		t.Error("Hosted answers wrong")
	}
	s, ok := r.Service("Provincia", "SAPNotifica")
	if !ok {
		t.Fatal("SAPNotifica missing")
	}
	if s.Profile != envelope.OneWay || !s.FilterDuplicates || !s.Ack || !s.InOrder || s.Expiry != 48*time.Hour || s.Version != 2 {
		t.Errorf("SAPNotifica = %+v", s)
	}
	if s.RequestSchema("Notifica") != "sap/scheda.xsd" {
		t.Errorf("RequestSchema = %q", s.RequestSchema("Notifica"))
	}
	if d, ok := r.Delivery("Provincia", "SAPNotifica"); !ok || d.URL != "http://127.0.0.1:9000/sap" || d.Timeout != 10*time.Second || d.Username != "porta" {
		t.Errorf("Delivery = %+v", d)
	}
	if d, ok := r.Delivery("ComuneA", "Anagrafe"); !ok || d.Adapter != "anagrafe" {
		t.Errorf("Delivery(Anagrafe) = %+v", d)
	}
	if _, ok := r.Delivery("Ministero", "DID"); ok {
		t.Error("a remote service has a delivery")
	}
	if a, _ := r.Service("ComuneA", "Anagrafe"); a.RequestSchema("Consulta") != "anagrafe/consulta.xsd" || a.ResponseSchema("Consulta") != "anagrafe/risposta.xsd" {
		t.Error("per-action schemas lost")
	}
	if a, ok := r.Action("Ministero", "Candidatura", "Stato"); !ok || a.Correlated != "Richiesta" {
		t.Errorf("Action(Stato) = %+v", a)
	}
	if did, _ := r.Service("Ministero", "DID"); did.CorrelatedService != "DIDEsito" || !strings.HasSuffix(did.WSDL, filepath.Join("registry", "wsdl", "did.wsdl")) {
		t.Errorf("DID = %+v", did)
	}
	for _, c := range []struct {
		consumer, provider, service string
		want                        bool
	}{
		{"Ministero", "Provincia", "SAPNotifica", true},
		{"ComuneA", "Provincia", "SAPNotifica", false},
		{"Provincia", "ComuneA", "Anagrafe", true},
		{"Provincia", "Ministero", "Nessuno", false},
	} {
		if got := r.MayConsume(c.consumer, c.provider, c.service); got != c.want {
			t.Errorf("MayConsume(%s, %s, %s) = %v", c.consumer, c.provider, c.service, got)
		}
	}
	min, _ := r.Party("Ministero")
	if owner, ok := r.PartyByCert(min.Certs[0]); !ok || owner != min || !min.Owns(min.Certs[0]) || min.Owns(p.Certs[0]) {
		t.Error("certificate ownership wrong")
	}
	// The trust pool verifies the parties' certificates (test-rsa through its CA, ECDSA likewise).
	if _, err := min.Certs[0].Verify(x509.VerifyOptions{Roots: r.TrustPool(), CurrentTime: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}); err != nil {
		t.Errorf("TrustPool does not verify Ministero: %v", err)
	}
}

func TestAuthenticateApplication(t *testing.T) {
	r := loadFull(t)
	cert := mustCert(t, "test-rsa")
	// A registry where an application is pinned to test-rsa by fingerprint.
	dir := fixture(t)
	file := filepath.Join(dir, "registry.yaml")
	os.WriteFile(file, []byte(head+`applications:
  - name: Protocollo
    certificate: {fingerprint: "`+strings.ToUpper(Fingerprint(cert))+`"}
  - name: Sportello
    certificate: {subject: "CN=Porta TEST signer ECDSA,O=Porta TEST ONLY,C=IT"}
`), 0o644)
	rc, err := Load(file, at2030)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		reg  *Registry
		c    Credentials
		app  string
		err  error
	}{
		{"basic ok", r, Credentials{Username: "sil", Password: "sil-password", HasBasic: true}, "SIL", nil},
		{"basic ok again (cached)", r, Credentials{Username: "sil", Password: "sil-password", HasBasic: true}, "SIL", nil},
		{"wrong password", r, Credentials{Username: "sil", Password: "sil-Password", HasBasic: true}, "", ErrBadPassword},
		{"unknown user", r, Credentials{Username: "mallory", Password: "x", HasBasic: true}, "", ErrUnknownUser},
		{"nothing", r, Credentials{}, "", ErrNoCredentials},
		{"cert by fingerprint", rc, Credentials{Cert: cert}, "Protocollo", nil},
		{"cert by subject", rc, Credentials{Cert: mustCert(t, "test-ecdsa")}, "Sportello", nil},
		{"unknown cert", rc, Credentials{Cert: mustCert(t, "test-untrusted")}, "", ErrUnknownCert},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, err := tc.reg.AuthenticateApplication(tc.c)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if err == nil && a.Name != tc.app {
				t.Errorf("app = %s, want %s", a.Name, tc.app)
			}
		})
	}
	sil, _ := r.Application("SIL")
	if !sil.May("Provincia", "Ministero", "DID") || sil.May("ComuneA", "Ministero", "DID") {
		t.Error("Application.May wrong")
	}
	// From an HTTP request.
	req := httptest.NewRequest("POST", "/pd/Provincia/Ministero/DID/Invio", nil)
	req.SetBasicAuth("sil", "sil-password")
	req.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{cert}}
	c := CredentialsFromRequest(req)
	if !c.HasBasic || c.Cert != cert {
		t.Errorf("CredentialsFromRequest = %+v", c)
	}
}

func mustCert(t *testing.T, name string) *x509.Certificate {
	t.Helper()
	cs, err := ReadCertFile(filepath.Join("..", "testdata", "pki", name+".cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	return cs[0]
}

func TestHashPassword(t *testing.T) {
	h, err := HashPassword("segreto", rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := VerifyPassword(h, "segreto"); !ok || err != nil {
		t.Errorf("VerifyPassword(right) = %v, %v", ok, err)
	}
	if ok, _ := VerifyPassword(h, "segretO"); ok {
		t.Error("VerifyPassword(wrong) = true")
	}
	h2, _ := HashPassword("segreto", rand.Reader)
	if h == h2 {
		t.Error("two hashes of one password are equal: no salt")
	}
	if _, err := HashPassword("", rand.Reader); err == nil {
		t.Error("empty password accepted")
	}
}

func TestPKI(t *testing.T) {
	dir := t.TempDir()
	for _, alg := range []string{AlgECDSAP256, AlgRSA2048} {
		t.Run(alg, func(t *testing.T) {
			cadir := filepath.Join(dir, alg, "ca")
			ca, err := NewCA(cadir, alg, "Test CA", rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := NewCA(cadir, alg, "Test CA", rand.Reader); err == nil || !strings.Contains(err.Error(), "already exists") {
				t.Errorf("NewCA over an existing CA: %v", err)
			}
			if fi, _ := os.Stat(filepath.Join(cadir, CAKeyFile)); fi.Mode().Perm() != 0o600 {
				t.Errorf("CA key mode %v, want 0600", fi.Mode().Perm())
			}
			ca2, err := LoadCA(cadir)
			if err != nil || !ca2.Cert.Equal(ca.Cert) {
				t.Fatalf("LoadCA: %v", err)
			}
			key, _ := GenerateKey(alg, rand.Reader)
			leaf, err := ca2.Issue(key.Public(), CertRequest{CommonName: "Provincia", Hosts: []string{"pdd.provincia.example", "10.0.0.7"}}, rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			pool := x509.NewCertPool()
			pool.AddCert(ca.Cert)
			for _, u := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
				for _, host := range []string{"127.0.0.1", "localhost", "pdd.provincia.example", "10.0.0.7"} {
					if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: host, KeyUsages: []x509.ExtKeyUsage{u}}); err != nil {
						t.Errorf("verify for %v at %s: %v", u, host, err)
					}
				}
			}
			if err := MatchKey(key, leaf); err != nil {
				t.Error(err)
			}
			if err := MatchKey(ca.Key, leaf); err == nil {
				t.Error("MatchKey accepted the wrong key")
			}
			// Keys round-trip through PEM files readable by their owner only.
			kf := filepath.Join(dir, alg, "key.pem")
			if err := WriteKeyFile(kf, key); err != nil {
				t.Fatal(err)
			}
			back, err := ReadKeyFile(kf)
			if err != nil || MatchKey(back, leaf) != nil {
				t.Errorf("ReadKeyFile: %v", err)
			}
			self, err := SelfSigned(key, CertRequest{CommonName: "Comune"}, rand.Reader)
			if err != nil {
				t.Fatalf("SelfSigned: %v", err)
			}
			// A peer that trusts the self-signed certificate itself (as TrustPool does) accepts it
			// for TLS in both directions.
			selfPool := x509.NewCertPool()
			selfPool.AddCert(self)
			for _, u := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
				if _, err := self.Verify(x509.VerifyOptions{Roots: selfPool, DNSName: "localhost", KeyUsages: []x509.ExtKeyUsage{u}}); err != nil {
					t.Errorf("self-signed verify %v: %v", u, err)
				}
			}
		})
	}
	if _, err := GenerateKey("dsa", rand.Reader); err == nil {
		t.Error("GenerateKey(dsa) succeeded")
	}
	if _, err := LoadCA(filepath.Join(dir, "nowhere")); err == nil {
		t.Error("LoadCA of a missing directory succeeded")
	}
	if _, err := wssec.ParseCertificatesPEM([]byte("nothing here")); err == nil {
		t.Error("ParseCertificatesPEM accepted no PEM")
	}
}

// gateway makes what `porta init` makes for one party: key, certificate, a registry hosting the
// party, and its card.
func gateway(t *testing.T, root, name, url string) (registryPath, cardPath string) {
	t.Helper()
	dir := filepath.Join(root, name)
	os.MkdirAll(dir, 0o755)
	key, _ := GenerateKey(AlgECDSAP256, rand.Reader)
	cert, err := SelfSigned(key, CertRequest{CommonName: name}, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	WriteCertFile(filepath.Join(dir, "cert.pem"), cert)
	registryPath = filepath.Join(dir, "registry.yaml")
	os.WriteFile(registryPath, []byte("# Registry of "+name+"\nparties:\n  # this gateway\n  - name: "+name+"\n    hosted: true\n    url: "+url+"\n    certificates: [cert.pem]\n"), 0o644)
	cardPath = filepath.Join(dir, "party.yaml")
	card := &Card{Name: name, Type: TypeSPC, PortID: DefaultPortID(name, TypeSPC), URL: url, Certs: []*x509.Certificate{cert}}
	os.WriteFile(cardPath, card.Marshal(), 0o644)
	return registryPath, cardPath
}

func TestAddPartyJoinsTwoGateways(t *testing.T) {
	root := t.TempDir()
	regA, cardA := gateway(t, root, "Provincia", "https://127.0.0.1:8443/pa")
	regB, cardB := gateway(t, root, "Ministero", "https://127.0.0.1:9443/pa")
	for _, step := range []struct{ reg, card string }{{regA, cardB}, {regB, cardA}} {
		out, err := AddParty(step.reg, step.card, false, Options{})
		if err != nil || out != Added {
			t.Fatalf("AddParty(%s, %s) = %v, %v", step.reg, step.card, out, err)
		}
	}
	ra, err := Load(regA, Options{})
	if err != nil {
		t.Fatal(err)
	}
	rb, err := Load(regB, Options{})
	if err != nil {
		t.Fatal(err)
	}
	pa, _ := ra.Party("Provincia")
	pb, _ := rb.Party("Ministero")
	if got, ok := ra.PartyByCert(pb.Certs[0]); !ok || got.Name != "Ministero" || got.Hosted || got.URL != "https://127.0.0.1:9443/pa" {
		t.Errorf("A does not trust B: %+v", got)
	}
	if got, ok := rb.PartyByCert(pa.Certs[0]); !ok || got.Name != "Provincia" || got.PortID != "ProvinciaSPCoopIT" {
		t.Errorf("B does not trust A: %+v", got)
	}
	data, _ := os.ReadFile(regA)
	for _, keep := range []string{"# Registry of Provincia", "# this gateway", "added from its party card"} {
		if !bytes.Contains(data, []byte(keep)) {
			t.Errorf("registry lost %q:\n%s", keep, data)
		}
	}
	// Importing the same card again changes nothing.
	if out, err := AddParty(regA, cardB, false, Options{}); err != nil || out != Unchanged {
		t.Errorf("re-import = %v, %v", out, err)
	}
	// A renewed card conflicts unless replace is asked for.
	_, renewed := gateway(t, filepath.Join(root, "renewed"), "Ministero", "https://127.0.0.1:9444/pa")
	_, err = AddParty(regA, renewed, false, Options{})
	if err == nil || !strings.Contains(err.Error(), `party "Ministero" already exists with a different url (https://127.0.0.1:9443/pa, the card says https://127.0.0.1:9444/pa); pass --replace`) {
		t.Errorf("conflict: %v", err)
	}
	if out, err := AddParty(regA, renewed, true, Options{}); err != nil || out != Replaced {
		t.Errorf("replace = %v, %v", out, err)
	}
	ra, _ = Load(regA, Options{})
	if p, _ := ra.Party("Ministero"); p.URL != "https://127.0.0.1:9444/pa" || len(ra.Parties()) != 2 {
		t.Errorf("after replace: %+v, %d parties", p, len(ra.Parties()))
	}
	// A gateway's own card cannot replace its hosted party.
	if _, err := AddParty(regA, cardA, true, Options{}); err == nil || !strings.Contains(err.Error(), "is hosted by this gateway") {
		t.Errorf("own card: %v", err)
	}
}

func TestReadCardErrors(t *testing.T) {
	dir := fixture(t)
	for _, tc := range []struct{ card, want string }{
		{"name: Prov-incia\nurl: https://x/pa\ncertificate: rsa.pem\n", "party.yaml:1: party name \"Prov-incia\" must be letters and digits only"},
		{"name: Provincia\nurl: https://x/pa\n", "party.yaml:1: the party card has no certificate"},
		{"name: Provincia\nurl: https://x/pa\ncertificate: expired.pem\nhosted: true\n", "party.yaml:4: a party card has unknown key \"hosted\""},
	} {
		f := filepath.Join(dir, "party.yaml")
		os.WriteFile(f, []byte(tc.card), 0o644)
		_, err := ReadCard(f, time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
		if err == nil || !strings.Contains(strings.ReplaceAll(err.Error(), dir+"/", ""), tc.want) {
			t.Errorf("ReadCard(%q) = %v, want %q", tc.card, err, tc.want)
		}
	}
}

// FuzzCheck feeds arbitrary registry files to the loader: it must report, never panic.
func FuzzCheck(f *testing.F) {
	for _, seed := range []string{head, "include: [x]\n", "parties: 3\n", "services:\n  - {name: A, profile: sync, actions: [{name: B, correlated: B}]}\n", "&a [*a]"} {
		f.Add([]byte(seed))
	}
	full, _ := os.ReadFile(filepath.Join("..", "testdata", "registry", "full.yaml"))
	f.Add(full)
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		file := filepath.Join(dir, "registry.yaml")
		os.WriteFile(file, data, 0o644)
		Check(file, Options{})
	})
}

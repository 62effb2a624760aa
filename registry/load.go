package registry

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"

	"porta/envelope"
	"porta/envelope/wssec"
)

// Options tune Load and Check. The zero value is ready to use.
type Options struct {
	// Now is the clock for certificate validity; time.Now when nil.
	Now func() time.Time
	// ExpiryWarning is how long before a certificate expires Check starts warning (30 days when 0).
	ExpiryWarning time.Duration
	// SchemaExists, when set, reports whether a payload schema name is known (package xsd); unknown
	// names are then errors. When nil only the form of schema names is checked.
	SchemaExists func(name string) bool
}

// Registry is a loaded, checked service registry. It is immutable and safe for concurrent use.
type Registry struct {
	parties   map[string]*Party
	partyList []*Party
	hosted    []string
	services  map[serviceKey]*Service
	svcList   []*Service
	apps      map[string]*Application
	appList   []*Application
	byUser    map[string]*Application
	byFP      map[string]*Application
	bySubject map[string]*Application
	certOwner map[string]*Party // certificate fingerprint -> party
	trust     *x509.CertPool
	files     []string
	warnings  Problems

	verified  sync.Map // authCacheKey -> *passwordCheck: Basic credentials verified or being verified (see checkPassword)
	decoyOnce sync.Once
	decoy     *passwordHash // see decoyHash
}

type serviceKey struct{ provider, name string }

var nameRE = regexp.MustCompile(`^[A-Za-z0-9]+$`)

// ValidName reports whether s may be a party, service, action or application name: letters and
// digits only, since names form eGov identifiers and URL path segments.
func ValidName(s string) bool { return nameRE.MatchString(s) }

// Load reads the registry at path (a file, or a directory whose *.yaml and *.yml files are read in
// name order; any file may include others), checks it, and returns it. When any finding is an
// error, Load returns a nil Registry and the findings as Problems (use errors.As); warnings alone
// are available from Registry.Warnings.
func Load(path string, opts Options) (*Registry, error) {
	r, probs := load(path, opts)
	if len(probs.Errors()) > 0 {
		return nil, probs
	}
	r.warnings = probs.Warnings()
	return r, nil
}

// Check reads and checks the registry at path like Load and returns every finding, errors and
// warnings, in file and line order. An empty result means the registry is clean.
func Check(path string, opts Options) Problems {
	_, probs := load(path, opts)
	return probs
}

// Warnings returns the warnings found when the registry was loaded.
func (r *Registry) Warnings() Problems { return r.warnings }

// Files returns the files the registry was read from.
func (r *Registry) Files() []string { return r.files }

func load(root string, opts Options) (*Registry, Problems) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.ExpiryWarning == 0 {
		opts.ExpiryWarning = 30 * 24 * time.Hour
	}
	rep := &reporter{}
	b := &builder{
		reporter: rep,
		opts:     opts,
		r: &Registry{
			parties:   map[string]*Party{},
			services:  map[serviceKey]*Service{},
			apps:      map[string]*Application{},
			byUser:    map[string]*Application{},
			byFP:      map[string]*Application{},
			bySubject: map[string]*Application{},
			certOwner: map[string]*Party{},
			trust:     x509.NewCertPool(),
		},
		seen: map[string]string{},
	}
	b.readPath(root, Pos{})
	if len(b.r.files) > 0 && !b.broken {
		b.check()
	}
	rep.probs.Sort()
	return b.r, rep.probs
}

type builder struct {
	*reporter
	opts Options
	r    *Registry
	seen map[string]string // absolute file -> name as first read
	// raw references, checked once everything is read
	consumerLines map[*Service][]int
	grantLines    map[*Application][]int
	svcFlagLines  map[*Service]map[string]int
	broken        bool // a file could not be read or parsed: cross-checks would only add noise
}

// readPath reads a file or a directory of YAML files. from is the include that named it.
func (b *builder) readPath(p string, from Pos) {
	fi, err := os.Stat(p)
	if err != nil {
		if from.File == "" {
			b.errf(p, 0, "cannot read the registry: %v", unwrapPathErr(err))
		} else {
			b.at(from, "include %q: %v; fix the path (it is relative to %s)", p, unwrapPathErr(err), filepath.Dir(from.File))
		}
		return
	}
	if !fi.IsDir() {
		b.readFile(p, from)
		return
	}
	entries, err := os.ReadDir(p)
	if err != nil {
		b.errf(p, 0, "cannot read the registry directory: %v", err)
		return
	}
	n := 0
	for _, e := range entries {
		if e.IsDir() || !(strings.HasSuffix(e.Name(), ".yaml") || strings.HasSuffix(e.Name(), ".yml")) {
			continue
		}
		b.readFile(filepath.Join(p, e.Name()), from)
		n++
	}
	if n == 0 {
		b.errf(p, 0, "the registry directory holds no .yaml files")
	}
}

func unwrapPathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func (b *builder) readFile(name string, from Pos) {
	abs, err := filepath.Abs(name)
	if err != nil {
		abs = name
	}
	if first, dup := b.seen[abs]; dup {
		b.at(from, "%s is read twice (first as %s); remove this include", name, first)
		return
	}
	b.seen[abs] = name
	data, err := os.ReadFile(name)
	if err != nil {
		b.errf(name, 0, "cannot read: %v", unwrapPathErr(err))
		return
	}
	b.r.files = append(b.r.files, name)
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		line, msg := yamlErrLine(err)
		b.errf(name, line, "not valid YAML: %s", msg)
		b.broken = true
		return
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return // empty file
	}
	d := newDecoder(b.reporter, name, filepath.Dir(name))
	top, ok := d.Fields(doc.Content[0], "the registry file", "include", "parties", "services", "applications")
	if !ok {
		return
	}
	for _, n := range d.List(top, "parties", "the registry") {
		b.party(d, n)
	}
	for _, n := range d.List(top, "services", "the registry") {
		b.service(d, n)
	}
	for _, n := range d.List(top, "applications", "the registry") {
		b.application(d, n)
	}
	incs, lines := d.Strs(top, "include", "the registry")
	for i, inc := range incs {
		b.readPath(d.Path(inc), Pos{File: name, Line: lines[i]})
	}
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func yamlErrLine(err error) (int, string) {
	msg := err.Error()
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		var n int
		fmt.Sscan(m[1], &n)
		return n, m[2]
	}
	return 0, strings.TrimPrefix(msg, "yaml: ")
}

func (b *builder) party(d *decoder, n *yaml.Node) {
	m, ok := d.Fields(n, "a party", "name", "type", "port_id", "url", "profile", "hosted", "certificates", "ca")
	if !ok {
		return
	}
	p := &Party{Pos: d.pos(n)}
	p.Name = d.Str(m, "name", "a party")
	what := fmt.Sprintf("party %q", p.Name)
	switch {
	case p.Name == "":
		d.errf(d.File, n.Line, "a party has no name; add name: (letters and digits)")
		return
	case !ValidName(p.Name):
		d.errf(d.File, m["name"].Line, "party name %q must be letters and digits only (it forms eGov identifiers); rename it", p.Name)
	}
	p.Type = strings.ToUpper(d.Str(m, "type", what))
	if p.Type == "" {
		p.Type = TypeSPC
	} else if p.Type != TypeSPC && p.Type != TypeTEST && p.Type != TypeAOO {
		d.errf(d.File, m["type"].Line, "%s: type %q is not one of SPC, TEST, AOO", what, p.Type)
	}
	p.PortID = d.Str(m, "port_id", what)
	if p.PortID == "" {
		p.PortID = DefaultPortID(p.Name, p.Type)
	} else if !ValidName(p.PortID) {
		d.errf(d.File, m["port_id"].Line, "%s: port_id %q must be letters and digits only (it forms eGov identifiers)", what, p.PortID)
	}
	p.URL = d.Str(m, "url", what)
	p.Interop = b.interop(d, m, what, p.Type)
	p.Hosted = d.Bool(m, "hosted", what)
	if p.URL == "" && !p.Hosted {
		d.errf(d.File, n.Line, "%s has no url; add url: https://HOST:PORT/pa, its Porta Applicativa", what)
	} else if p.URL != "" {
		u, err := url.Parse(p.URL)
		switch {
		case err != nil:
			d.errf(d.File, m["url"].Line, "%s: url %q does not parse: %v", what, p.URL, unwrapURLErr(err))
		case u.Scheme != "https" || u.Host == "":
			d.errf(d.File, m["url"].Line, "%s: url %q must be https://HOST[:PORT]/PATH (gateways talk over TLS with client certificates)", what, p.URL)
		}
	}
	p.Certs = b.certs(d, m, "certificates", what, p.Hosted)
	p.CA = b.certs(d, m, "ca", what, true)
	if len(p.Certs) == 0 && !p.Hosted && m["certificates"] == nil {
		d.errf(d.File, n.Line, "%s has no certificates; add certificates: [{file: their-cert.pem}] (from their party card, or `porta registry add-party`)", what)
	}
	if first, dup := b.r.parties[p.Name]; dup {
		d.errf(d.File, n.Line, "party %q is declared twice (first at %s); remove one", p.Name, first.Pos)
		return
	}
	b.r.parties[p.Name] = p
	b.r.partyList = append(b.r.partyList, p)
	if p.Hosted {
		b.r.hosted = append(b.r.hosted, p.Name)
	}
	for _, c := range p.Certs {
		fp := Fingerprint(c)
		if other, dup := b.r.certOwner[fp]; dup && other != p {
			d.errf(d.File, n.Line, "%s lists the certificate %s that party %q (%s) also lists; a certificate identifies one party", what, c.Subject, other.Name, other.Pos)
			continue
		}
		b.r.certOwner[fp] = p
	}
}

func unwrapURLErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// certs decodes a list of certificates: each item a file name, inline PEM, {file: F} or {pem: P}.
func (b *builder) certs(d *decoder, m map[string]*yaml.Node, key, what string, optional bool) []*x509.Certificate {
	var out []*x509.Certificate
	for i, item := range d.List(m, key, what) {
		var file, pemText string
		switch item.Kind {
		case yaml.ScalarNode:
			if strings.Contains(item.Value, "-----BEGIN") {
				pemText = item.Value
			} else {
				file = strings.TrimSpace(item.Value)
			}
		case yaml.MappingNode:
			f, _ := d.Fields(item, fmt.Sprintf("%s: %s item %d", what, key, i+1), "file", "pem")
			file = d.Str(f, "file", what)
			if pn := f["pem"]; pn != nil {
				pemText = pn.Value
			}
			if (file == "") == (pemText == "") {
				d.errf(d.File, item.Line, "%s: %s item %d must have exactly one of file: or pem:", what, key, i+1)
				continue
			}
		default:
			d.errf(d.File, item.Line, "%s: %s item %d must be a file name, PEM text, or {file: ...}", what, key, i+1)
			continue
		}
		src := "inline PEM"
		data := []byte(pemText)
		if file != "" {
			src = "file " + file
			var err error
			data, err = os.ReadFile(d.Path(file))
			if err != nil {
				d.errf(d.File, item.Line, "%s: %s %s: %v (paths are relative to %s)", what, key, file, unwrapPathErr(err), d.Dir)
				continue
			}
		}
		cs, err := wssec.ParseCertificatesPEM(data)
		if err != nil {
			d.errf(d.File, item.Line, "%s: %s item %d (%s): %v", what, key, i+1, src, err)
			continue
		}
		for _, c := range cs {
			b.validity(d, item.Line, what, c)
		}
		out = append(out, cs...)
	}
	return out
}

func (b *builder) validity(d *decoder, line int, what string, c *x509.Certificate) {
	now := b.opts.Now()
	day := func(t time.Time) string { return t.UTC().Format("2006-01-02") }
	switch {
	case now.After(c.NotAfter):
		d.errf(d.File, line, "%s: certificate %q expired on %s; replace it with the renewed one", what, c.Subject.String(), day(c.NotAfter))
	case now.Before(c.NotBefore):
		d.errf(d.File, line, "%s: certificate %q is not valid before %s; check the issuer's clock or wait", what, c.Subject.String(), day(c.NotBefore))
	case c.NotAfter.Sub(now) < b.opts.ExpiryWarning:
		d.warnf(d.File, line, "%s: certificate %q expires on %s (in %d days); add the renewed certificate beside it", what, c.Subject.String(), day(c.NotAfter), int(c.NotAfter.Sub(now).Hours()/24))
	}
}

func (b *builder) service(d *decoder, n *yaml.Node) {
	m, ok := d.Fields(n, "a service", "provider", "name", "type", "version", "profile", "correlated_service",
		"filter_duplicates", "ack", "in_order", "expiry", "wsdl", "schema", "actions", "consumers", "delivery", "trace")
	if !ok {
		return
	}
	s := &Service{Pos: d.pos(n), Actions: map[string]*Action{}}
	s.Name = d.Str(m, "name", "a service")
	s.Provider = d.Str(m, "provider", "a service")
	what := fmt.Sprintf("service %q", s.Name)
	if s.Name == "" {
		d.errf(d.File, n.Line, "a service has no name; add name: (letters and digits)")
		return
	}
	if !ValidName(s.Name) {
		d.errf(d.File, m["name"].Line, "service name %q must be letters and digits only (it forms eGov headers and PD URLs); rename it", s.Name)
	}
	if s.Provider == "" {
		d.errf(d.File, n.Line, "%s has no provider; add provider: PARTY (the erogatore)", what)
	}
	what = fmt.Sprintf("service %q of %q", s.Name, s.Provider)
	s.Type = d.Str(m, "type", what)
	if s.Type == "" {
		s.Type = "SPC"
	} else if i := indexFold(envelope.ServiceTypes, s.Type); i < 0 {
		d.errf(d.File, m["type"].Line, "%s: type %q is not one of %s", what, s.Type, strings.Join(envelope.ServiceTypes, ", "))
	} else {
		s.Type = envelope.ServiceTypes[i]
	}
	s.Version = d.Int(m, "version", what, 1)
	prof := d.Str(m, "profile", what)
	if p, err := envelope.ParseProfile(prof); err == nil && p != envelope.ProfileNone && p.String() == prof {
		s.Profile = p
	} else if prof == "" {
		d.errf(d.File, n.Line, "%s has no profile; add profile: oneway, sync, async-symmetric or async-asymmetric", what)
	} else {
		d.errf(d.File, m["profile"].Line, "%s: profile %q is not one of oneway, sync, async-symmetric, async-asymmetric", what, prof)
	}
	s.CorrelatedService = d.Str(m, "correlated_service", what)
	s.FilterDuplicates = d.Bool(m, "filter_duplicates", what)
	s.Ack = d.Bool(m, "ack", what)
	s.InOrder = d.Bool(m, "in_order", what)
	s.Expiry = d.Duration(m, "expiry", what)
	s.Schema = d.Str(m, "schema", what)
	if s.Schema != "" {
		b.schemaName(d, m["schema"].Line, what, s.Schema)
	}
	if w := d.Str(m, "wsdl", what); w != "" {
		s.WSDL = d.Path(w)
		if _, err := os.Stat(s.WSDL); err != nil {
			d.errf(d.File, m["wsdl"].Line, "%s: wsdl %s: %v (paths are relative to %s)", what, w, unwrapPathErr(err), d.Dir)
		}
	}
	for _, an := range d.List(m, "actions", what) {
		a := &Action{Pos: d.pos(an)}
		if an.Kind == yaml.ScalarNode {
			a.Name = strings.TrimSpace(an.Value)
		} else {
			am, ok := d.Fields(an, what+": an action", "name", "correlated", "request", "response")
			if !ok {
				continue
			}
			a.Name = d.Str(am, "name", what+": an action")
			a.Correlated = d.Str(am, "correlated", what)
			a.Request = d.Str(am, "request", what)
			a.Response = d.Str(am, "response", what)
			if a.Request != "" {
				b.schemaName(d, am["request"].Line, what, a.Request)
			}
			if a.Response != "" {
				b.schemaName(d, am["response"].Line, what, a.Response)
			}
		}
		switch {
		case a.Name == "":
			d.errf(d.File, an.Line, "%s: an action has no name; add name:", what)
			continue
		case !ValidName(a.Name):
			d.errf(d.File, an.Line, "%s: action name %q must be letters and digits only; rename it", what, a.Name)
		}
		if first, dup := s.Actions[a.Name]; dup {
			d.errf(d.File, an.Line, "%s declares action %q twice (first at line %d); remove one", what, a.Name, first.Pos.Line)
			continue
		}
		s.Actions[a.Name] = a
		s.ActionOrder = append(s.ActionOrder, a.Name)
	}
	if m["actions"] == nil {
		d.errf(d.File, n.Line, "%s declares no actions; add actions: [NAME, ...]", what)
	}
	var lines []int
	s.Consumers, lines = d.Strs(m, "consumers", what)
	if dn, ok := m["delivery"]; ok {
		s.Delivery = b.delivery(d, dn, what)
	}
	if tn, ok := m["trace"]; ok {
		s.Trace = b.tracePolicy(d, tn, what)
	}
	key := serviceKey{s.Provider, s.Name}
	if first, dup := b.r.services[key]; dup {
		d.errf(d.File, n.Line, "%s is declared twice (first at %s); remove one", what, first.Pos)
		return
	}
	b.r.services[key] = s
	b.r.svcList = append(b.r.svcList, s)
	if b.consumerLines == nil {
		b.consumerLines = map[*Service][]int{}
		b.svcFlagLines = map[*Service]map[string]int{}
	}
	b.consumerLines[s] = lines
	fl := map[string]int{}
	for k, v := range m {
		fl[k] = v.Line
	}
	b.svcFlagLines[s] = fl
}

func indexFold(list []string, s string) int {
	for i, x := range list {
		if strings.EqualFold(x, s) {
			return i
		}
	}
	return -1
}

func (b *builder) schemaName(d *decoder, line int, what, name string) {
	if path.IsAbs(name) || path.Clean(name) != name || strings.HasPrefix(name, "../") || !strings.HasSuffix(name, ".xsd") {
		d.errf(d.File, line, "%s: schema %q must be a clean relative path ending in .xsd, under xsd/schemas (e.g. sap/scheda.xsd)", what, name)
		return
	}
	if b.opts.SchemaExists != nil && !b.opts.SchemaExists(name) {
		d.errf(d.File, line, "%s: schema %q is not among Porta's schemas (xsd/schemas); fix the name or add the schema", what, name)
	}
}

func (b *builder) delivery(d *decoder, n *yaml.Node, what string) *Delivery {
	dl := &Delivery{}
	if n.Kind == yaml.ScalarNode {
		v := strings.TrimSpace(n.Value)
		if a, ok := strings.CutPrefix(v, "adapter:"); ok {
			dl.Adapter = a
		} else {
			dl.URL = v
		}
	} else {
		m, ok := d.Fields(n, what+": delivery", "adapter", "url", "timeout", "username", "password", "tls")
		if !ok {
			return nil
		}
		dl.Adapter = d.Str(m, "adapter", what)
		dl.URL = d.Str(m, "url", what)
		dl.Timeout = d.Duration(m, "timeout", what)
		dl.Username = d.Str(m, "username", what)
		dl.Password = d.Str(m, "password", what)
		if (dl.Username == "") != (dl.Password == "") {
			d.errf(d.File, n.Line, "%s: delivery needs both username and password for HTTP Basic, or neither", what)
		}
		if tn, ok := m["tls"]; ok {
			dl.TLS = b.deliveryTLS(d, tn, what)
		}
		if dl.Adapter != "" && (dl.URL != "" || len(m) > 1) {
			d.errf(d.File, n.Line, "%s: delivery names adapter %q and HTTP settings; keep one", what, dl.Adapter)
		}
	}
	switch {
	case dl.Adapter == "" && dl.URL == "":
		d.errf(d.File, n.Line, "%s: delivery needs url: http(s)://HOST:PORT/PATH of the local application, or adapter: NAME", what)
	case dl.Adapter != "":
		if !ValidName(dl.Adapter) {
			d.errf(d.File, n.Line, "%s: delivery adapter %q must be letters and digits (e.g. adapter:anagrafe)", what, dl.Adapter)
		}
	default:
		u, err := url.Parse(dl.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			d.errf(d.File, n.Line, "%s: delivery url %q must be http(s)://HOST:PORT/PATH", what, dl.URL)
		}
	}
	return dl
}

func (b *builder) deliveryTLS(d *decoder, n *yaml.Node, what string) *tls.Config {
	m, ok := d.Fields(n, what+": delivery tls", "ca", "cert", "key", "server_name")
	if !ok {
		return nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: d.Str(m, "server_name", what)}
	if ca := d.Str(m, "ca", what); ca != "" {
		data, err := os.ReadFile(d.Path(ca))
		cs, perr := wssec.ParseCertificatesPEM(data)
		switch {
		case err != nil:
			d.errf(d.File, m["ca"].Line, "%s: delivery tls ca %s: %v", what, ca, unwrapPathErr(err))
		case perr != nil:
			d.errf(d.File, m["ca"].Line, "%s: delivery tls ca %s: %v", what, ca, perr)
		default:
			cfg.RootCAs = x509.NewCertPool()
			for _, c := range cs {
				cfg.RootCAs.AddCert(c)
			}
		}
	}
	cert, key := d.Str(m, "cert", what), d.Str(m, "key", what)
	if (cert == "") != (key == "") {
		d.errf(d.File, n.Line, "%s: delivery tls needs both cert and key for a client certificate, or neither", what)
	} else if cert != "" {
		pair, err := tls.LoadX509KeyPair(d.Path(cert), d.Path(key))
		if err != nil {
			d.errf(d.File, n.Line, "%s: delivery tls client certificate %s / %s: %v", what, cert, key, unwrapPathErr(err))
		} else {
			cfg.Certificates = []tls.Certificate{pair}
		}
	}
	return cfg
}

func (b *builder) application(d *decoder, n *yaml.Node) {
	m, ok := d.Fields(n, "an application", "name", "username", "password_hash", "certificate", "may")
	if !ok {
		return
	}
	a := &Application{Pos: d.pos(n)}
	a.Name = d.Str(m, "name", "an application")
	what := fmt.Sprintf("application %q", a.Name)
	if a.Name == "" {
		d.errf(d.File, n.Line, "an application has no name; add name: (letters and digits)")
		return
	}
	if !ValidName(a.Name) {
		d.errf(d.File, m["name"].Line, "application name %q must be letters and digits only; rename it", a.Name)
	}
	a.Username = d.Str(m, "username", what)
	a.passwordHash = d.Str(m, "password_hash", what)
	switch {
	case a.Username != "" && a.passwordHash == "":
		d.errf(d.File, m["username"].Line, "%s has a username but no password_hash; add one made by `porta registry hash-password`", what)
	case a.Username == "" && a.passwordHash != "":
		d.errf(d.File, m["password_hash"].Line, "%s has a password_hash but no username; add username:", what)
	case a.passwordHash != "":
		if _, err := parseHash(a.passwordHash); err != nil {
			d.errf(d.File, m["password_hash"].Line, "%s: password_hash: %v; make one with `porta registry hash-password`", what, err)
		}
	}
	if cn, ok := m["certificate"]; ok {
		cm, ok := d.Fields(cn, what+": certificate", "fingerprint", "subject")
		if ok {
			a.CertFingerprint = normFingerprint(d.Str(cm, "fingerprint", what))
			a.CertSubject = d.Str(cm, "subject", what)
			if a.CertFingerprint != "" && !fingerprintRE.MatchString(a.CertFingerprint) {
				d.errf(d.File, cm["fingerprint"].Line, "%s: certificate fingerprint must be the SHA-256 of the certificate, 64 hex digits (openssl x509 -noout -fingerprint -sha256)", what)
			}
			if a.CertFingerprint == "" && a.CertSubject == "" {
				d.errf(d.File, cn.Line, "%s: certificate needs fingerprint: or subject:", what)
			}
		}
	}
	if a.Username == "" && a.CertFingerprint == "" && a.CertSubject == "" {
		d.errf(d.File, n.Line, "%s has no credentials; add username and password_hash, or certificate: {fingerprint: ...}", what)
	}
	var lines []int
	for _, gn := range d.List(m, "may", what) {
		gm, ok := d.Fields(gn, what+": a may entry", "consumer", "provider", "service")
		if !ok {
			continue
		}
		g := Grant{Consumer: d.Str(gm, "consumer", what), Provider: d.Str(gm, "provider", what), Service: d.Str(gm, "service", what)}
		if g.Consumer == "" || g.Provider == "" || g.Service == "" {
			d.errf(d.File, gn.Line, "%s: a may entry needs consumer, provider and service", what)
			continue
		}
		a.Grants = append(a.Grants, g)
		lines = append(lines, gn.Line)
	}
	if first, dup := b.r.apps[a.Name]; dup {
		d.errf(d.File, n.Line, "application %q is declared twice (first at %s); remove one", a.Name, first.Pos)
		return
	}
	b.r.apps[a.Name] = a
	b.r.appList = append(b.r.appList, a)
	if b.grantLines == nil {
		b.grantLines = map[*Application][]int{}
	}
	b.grantLines[a] = lines
	if a.Username != "" {
		if other, dup := b.r.byUser[a.Username]; dup {
			d.errf(d.File, m["username"].Line, "%s uses username %q, already used by application %q (%s); usernames identify applications", what, a.Username, other.Name, other.Pos)
		} else {
			b.r.byUser[a.Username] = a
		}
	}
	if a.CertFingerprint != "" {
		if other, dup := b.r.byFP[a.CertFingerprint]; dup {
			d.errf(d.File, n.Line, "%s uses the certificate fingerprint of application %q (%s); a certificate identifies one application", what, other.Name, other.Pos)
		} else {
			b.r.byFP[a.CertFingerprint] = a
		}
	}
	if a.CertSubject != "" {
		if other, dup := b.r.bySubject[a.CertSubject]; dup {
			d.errf(d.File, n.Line, "%s uses the certificate subject of application %q (%s); a subject identifies one application", what, other.Name, other.Pos)
		} else {
			b.r.bySubject[a.CertSubject] = a
		}
	}
}

var fingerprintRE = regexp.MustCompile(`^[0-9a-f]{64}$`)

// check resolves references between entries once every file is read.
func (b *builder) check() {
	r := b.r
	if len(r.hosted) == 0 {
		b.errf(r.files[0], 0, "no party is hosted by this gateway; mark this gateway's own party with hosted: true")
	}
	for _, p := range r.partyList {
		for _, c := range p.Certs {
			r.trust.AddCert(c)
		}
		for _, c := range p.CA {
			r.trust.AddCert(c)
		}
	}
	for _, s := range r.svcList {
		b.checkService(s)
	}
	for _, a := range r.appList {
		for i, g := range a.Grants {
			at := Pos{a.Pos.File, b.grantLines[a][i]}
			what := fmt.Sprintf("application %q", a.Name)
			cp, ok := r.parties[g.Consumer]
			switch {
			case !ok:
				b.at(at, "%s may call as consumer %q, which is not a declared party; declare it under parties (hosted: true)", what, g.Consumer)
				continue
			case !cp.Hosted:
				b.at(at, "%s may call as consumer %q, which this gateway does not host; local applications call as a hosted party", what, g.Consumer)
				continue
			}
			s, ok := r.services[serviceKey{g.Provider, g.Service}]
			if !ok {
				b.at(at, "%s may call service %q of %q, which is not declared; declare it under services", what, g.Service, g.Provider)
				continue
			}
			if !slices.Contains(s.Consumers, g.Consumer) {
				b.at(at, "%s may call service %q of %q as %q, but the service does not list %q under consumers; add it there", what, g.Service, g.Provider, g.Consumer, g.Consumer)
			}
		}
	}
}

func (b *builder) checkService(s *Service) {
	r := b.r
	what := fmt.Sprintf("service %q of %q", s.Name, s.Provider)
	line := func(key string) Pos {
		if l, ok := b.svcFlagLines[s][key]; ok {
			return Pos{s.Pos.File, l}
		}
		return s.Pos
	}
	prov, ok := r.parties[s.Provider]
	if s.Provider != "" && !ok {
		b.at(line("provider"), "%s names provider %q which is not a declared party; declare it under parties", what, s.Provider)
	}
	for i, c := range s.Consumers {
		at := Pos{s.Pos.File, b.consumerLines[s][i]}
		if _, ok := r.parties[c]; !ok {
			b.at(at, "%s lists consumer %q which is not a declared party; declare it under parties", what, c)
		}
		for _, prev := range s.Consumers[:i] {
			if prev == c {
				b.at(at, "%s lists consumer %q twice; remove one", what, c)
			}
		}
	}
	// Delivery: needed exactly for services this gateway provides.
	if prov != nil {
		switch {
		case prov.Hosted && s.Delivery == nil:
			b.at(s.Pos, "%s is provided by hosted party %q but has no delivery; add delivery: {url: http://127.0.0.1:PORT/PATH} or delivery: adapter:NAME", what, s.Provider)
		case !prov.Hosted && s.Delivery != nil:
			b.at(line("delivery"), "%s is provided by remote party %q: its gateway delivers it; remove delivery", what, s.Provider)
		}
	}
	b.checkInterop(s, line)
	// Flags.
	if s.InOrder && !(s.FilterDuplicates && s.Ack) {
		b.at(line("in_order"), "%s: in_order needs filter_duplicates: true and ack: true (Sequenza requires inoltro EGOV_IT_ALPIUUNAVOLTA and confermaRicezione)", what)
	}
	// Profiles.
	correlated := 0
	for _, name := range s.ActionOrder {
		a := s.Actions[name]
		if a.Correlated == "" {
			continue
		}
		correlated++
		if s.Profile != envelope.AsyncAsymmetric {
			b.at(a.Pos, "%s action %q names correlated action %q, but only async-asymmetric services correlate actions; remove correlated or set profile: async-asymmetric", what, a.Name, a.Correlated)
			continue
		}
		target, ok := s.Actions[a.Correlated]
		switch {
		case !ok:
			b.at(a.Pos, "%s action %q names correlated action %q which is not declared; declare it under actions", what, a.Name, a.Correlated)
		case target == a:
			b.at(a.Pos, "%s action %q names itself as correlated action; name the request action", what, a.Name)
		case target.Correlated != "":
			b.at(a.Pos, "%s action %q names correlated action %q, which is itself a status action; name the request action", what, a.Name, a.Correlated)
		}
	}
	if s.Profile == envelope.AsyncAsymmetric && correlated == 0 && len(s.Actions) > 0 {
		b.at(line("actions"), "%s is async-asymmetric but no action is correlated; add the status action, e.g. {name: Stato, correlated: %s}", what, s.ActionOrder[0])
	}
	if s.CorrelatedService != "" && s.Profile != envelope.AsyncSymmetric {
		b.at(line("correlated_service"), "%s names correlated_service %q, but only async-symmetric services have one; remove it or set profile: async-symmetric", what, s.CorrelatedService)
	}
	if s.Profile == envelope.AsyncSymmetric {
		if s.CorrelatedService == "" {
			b.at(s.Pos, "%s is async-symmetric but names no correlated_service; add correlated_service: the callback service each consumer provides", what)
			return
		}
		if !ValidName(s.CorrelatedService) {
			b.at(line("correlated_service"), "%s: correlated_service %q must be letters and digits only", what, s.CorrelatedService)
			return
		}
		for i, c := range s.Consumers {
			at := Pos{s.Pos.File, b.consumerLines[s][i]}
			cb, ok := r.services[serviceKey{c, s.CorrelatedService}]
			switch {
			case !ok:
				if _, known := r.parties[c]; known {
					b.at(at, "%s is async-symmetric: consumer %q must provide the correlated service %q, which is not declared; declare it under services with provider: %s", what, c, s.CorrelatedService, c)
				}
			case cb.Profile != envelope.AsyncSymmetric:
				b.at(cb.Pos, "service %q of %q is the correlated service of %s, so its profile must be async-symmetric", cb.Name, c, what)
			case !slices.Contains(cb.Consumers, s.Provider):
				b.at(cb.Pos, "service %q of %q is the correlated service of %s, so it must list %q under consumers; add it there", cb.Name, c, what, s.Provider)
			}
		}
	}
}

package main

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"porta/gateway/node"
	"porta/registry"
)

// registrySubcommands holds "porta registry ..." subcommands.
var registrySubcommands = map[string]subcommand{
	"check":         {"check the registry (and porta.yaml with --config); exit 1 listing every problem", runRegistryCheck},
	"add-party":     {"trust a peer gateway: merge its party card (party.yaml) into the registry", runRegistryAddParty},
	"show":          {"print the registry's parties, services and applications (--json)", runRegistryShow},
	"hash-password": {"read a password on stdin, print the password_hash of an application", runRegistryHashPassword},
	"add-service":   {"declare a service (a labour service by name, or --profile and --actions) and its delivery", runRegistryAddService},
	"add-app":       {"add a local application that may call services through the PD (password on stdin)", runRegistryAddApp},
}

func init() {
	register(command{
		name:    "registry",
		summary: "check, show and extend the service registry; trust peer gateways",
		subs:    registrySubcommands,
	})
}

// parseInterleaved parses flags that may come before or after the positional arguments
// (porta registry add-party CARD.yaml --replace) and returns the positional ones.
func parseInterleaved(fs *cmdFlags, args []string) ([]string, int, bool) {
	var pos []string
	for {
		if code, done := fs.parse(args); done {
			return nil, code, true
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, 0, false
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// registrySource is where a registry command finds the registry: --config (porta.yaml, whose
// paths.registry it follows), --registry, or a positional FILE.
type registrySource struct {
	config, file string
}

func (s *registrySource) flags(fs *flag.FlagSet) {
	fs.StringVar(&s.config, "config", "", "the gateway's `porta.yaml` (its registry is paths.registry)")
	fs.StringVar(&s.file, "registry", "", "the registry `FILE` (or directory)")
}

// resolve returns the config (nil without --config) and the registry path. Problems of porta.yaml
// are returned as an error listing them.
func (s *registrySource) resolve(positional string) (*node.Config, string, error) {
	n := 0
	for _, v := range []string{s.config, s.file, positional} {
		if v != "" {
			n++
		}
	}
	switch {
	case n > 1:
		return nil, "", errors.New("name the registry once: --config, --registry or FILE")
	case s.config != "":
		cfg, err := node.LoadConfigWith(s.config, checkJob)
		if err != nil {
			return nil, "", err
		}
		return cfg, cfg.Registry, nil
	case s.file != "":
		return nil, s.file, nil
	case positional != "":
		return nil, positional, nil
	}
	if _, err := os.Stat("porta.yaml"); err == nil {
		return s.withConfig("porta.yaml")
	}
	return nil, "", errors.New("name the registry: --config DIR/porta.yaml, --registry FILE, or FILE")
}

func (s *registrySource) withConfig(p string) (*node.Config, string, error) {
	s.config = p
	return s.resolve("")
}

func runRegistryCheck(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("registry check", "[--config DIR/porta.yaml | --registry FILE | FILE]", stdout, stderr)
	var src registrySource
	src.flags(fs.FlagSet)
	pos, code, done := parseInterleaved(fs, args)
	if done {
		return code
	}
	if len(pos) > 1 {
		return fs.fail("one registry at a time, got %s", strings.Join(pos, " "))
	}
	cfg, path, err := src.resolve(first(pos))
	if err != nil {
		return reportProblems(stdout, stderr, "porta registry check", err)
	}
	probs := registry.Check(path, registry.Options{})
	for _, p := range probs {
		fmt.Fprintln(stdout, p)
	}
	if errs := probs.Errors(); len(errs) > 0 {
		fmt.Fprintf(stderr, "porta registry check: %d problem(s) in %s\n", len(errs), path)
		return 1
	}
	reg, err := registry.Load(path, registry.Options{})
	if err != nil {
		return reportProblems(stdout, stderr, "porta registry check", err)
	}
	if cfg != nil {
		if err := cfg.CheckRegistry(reg); err != nil {
			return reportProblems(stdout, stderr, "porta registry check", err)
		}
	}
	fmt.Fprintf(stdout, "%s: ok: %d parties (%d hosted), %d services, %d applications\n", path,
		len(reg.Parties()), len(reg.HostedParties()), len(reg.Services()), len(reg.Applications()))
	return 0
}

// reportProblems prints problems one per line on stdout (other errors on stderr) and returns 1.
func reportProblems(stdout, stderr io.Writer, cmd string, err error) int {
	var ps registry.Problems
	if errors.As(err, &ps) {
		for _, p := range ps {
			fmt.Fprintln(stdout, p)
		}
		fmt.Fprintf(stderr, "%s: %d problem(s)\n", cmd, len(ps.Errors()))
		return 1
	}
	fmt.Fprintf(stderr, "%s: %v\n", cmd, err)
	return 1
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

func runRegistryAddParty(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("registry add-party", "[--config DIR/porta.yaml | --registry FILE] CARD.yaml [--replace]", stdout, stderr)
	var src registrySource
	src.flags(fs.FlagSet)
	replace := fs.Bool("replace", false, "replace an existing party of the same name with the card's")
	pos, code, done := parseInterleaved(fs, args)
	if done {
		return code
	}
	if len(pos) != 1 {
		return fs.fail("name one party card (party.yaml)")
	}
	_, path, err := src.resolve("")
	if err != nil {
		return reportProblems(stdout, stderr, "porta registry add-party", err)
	}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		fmt.Fprintf(stderr, "porta registry add-party: %s is a directory; name the file to add the party to with --registry\n", path)
		return 2
	}
	out, err := registry.AddParty(path, pos[0], *replace, registry.Options{})
	if err != nil {
		return reportProblems(stdout, stderr, "porta registry add-party", err)
	}
	card, _ := registry.ReadCard(pos[0], time.Now())
	switch out {
	case registry.Unchanged:
		fmt.Fprintf(stdout, "%s already trusts %s: unchanged\n", path, card.Name)
	default:
		fmt.Fprintf(stdout, "%s %s in %s: %s at %s, certificate sha256 %s\n", card.Name, out, path, card.PortID, card.URL, registry.Fingerprint(card.Certs[0]))
		fmt.Fprintln(stdout, "Declare the services you exchange with it (porta registry add-service), then reload the running gateway: kill -HUP <pid of porta serve> (logged as \"porta serve: starting ... pid=\"), or restart it.")
	}
	return 0
}

// Shown forms of the registry (porta registry show --json).
type (
	shownCert struct {
		Subject  string    `json:"subject"`
		Issuer   string    `json:"issuer"`
		NotAfter time.Time `json:"not_after"`
		SHA256   string    `json:"sha256"`
	}
	shownParty struct {
		Name   string `json:"name"`
		Type   string `json:"type"`
		PortID string `json:"port_id"`
		URL    string `json:"url,omitempty"`
		// Profile is the interoperability profile: egov-1.1 or linee-guida-1.1.
		Profile string      `json:"profile"`
		Hosted  bool        `json:"hosted"`
		Certs   []shownCert `json:"certificates"`
		CA      []shownCert `json:"ca,omitempty"`
	}
	shownAction struct {
		Name       string `json:"name"`
		Correlated string `json:"correlated,omitempty"`
		Request    string `json:"request_schema,omitempty"`
		Response   string `json:"response_schema,omitempty"`
	}
	shownService struct {
		Provider          string        `json:"provider"`
		Name              string        `json:"name"`
		Type              string        `json:"type"`
		Version           int           `json:"version"`
		Profile           string        `json:"profile"`
		CorrelatedService string        `json:"correlated_service,omitempty"`
		FilterDuplicates  bool          `json:"filter_duplicates"`
		Ack               bool          `json:"ack"`
		InOrder           bool          `json:"in_order"`
		Expiry            string        `json:"expiry,omitempty"`
		WSDL              string        `json:"wsdl,omitempty"`
		Actions           []shownAction `json:"actions"`
		Consumers         []string      `json:"consumers"`
		Delivery          string        `json:"delivery,omitempty"`
	}
	shownApp struct {
		Name            string           `json:"name"`
		Username        string           `json:"username,omitempty"`
		CertFingerprint string           `json:"certificate_sha256,omitempty"`
		CertSubject     string           `json:"certificate_subject,omitempty"`
		May             []registry.Grant `json:"may"`
	}
	shownRegistry struct {
		Files        []string       `json:"files"`
		Parties      []shownParty   `json:"parties"`
		Services     []shownService `json:"services"`
		Applications []shownApp     `json:"applications"`
	}
)

func showRegistry(reg *registry.Registry) shownRegistry {
	certs := func(cs []*x509.Certificate) []shownCert {
		out := []shownCert{}
		for _, c := range cs {
			out = append(out, shownCert{c.Subject.String(), c.Issuer.String(), c.NotAfter.UTC(), registry.Fingerprint(c)})
		}
		return out
	}
	out := shownRegistry{Files: reg.Files(), Parties: []shownParty{}, Services: []shownService{}, Applications: []shownApp{}}
	for _, p := range reg.Parties() {
		sp := shownParty{Name: p.Name, Type: p.Type, PortID: p.PortID, URL: p.URL, Profile: string(p.Interop), Hosted: p.Hosted, Certs: certs(p.Certs)}
		if len(p.CA) > 0 {
			sp.CA = certs(p.CA)
		}
		out.Parties = append(out.Parties, sp)
	}
	for _, s := range reg.Services() {
		ss := shownService{Provider: s.Provider, Name: s.Name, Type: s.Type, Version: s.Version, Profile: s.Profile.String(),
			CorrelatedService: s.CorrelatedService, FilterDuplicates: s.FilterDuplicates, Ack: s.Ack, InOrder: s.InOrder,
			WSDL: s.WSDL, Consumers: append([]string{}, s.Consumers...), Actions: []shownAction{}}
		if s.Expiry > 0 {
			ss.Expiry = s.Expiry.String()
		}
		for _, name := range s.ActionOrder {
			a := s.Actions[name]
			ss.Actions = append(ss.Actions, shownAction{a.Name, a.Correlated, s.RequestSchema(name), s.ResponseSchema(name)})
		}
		if d := s.Delivery; d != nil {
			ss.Delivery = d.URL
			if d.Adapter != "" {
				ss.Delivery = "adapter:" + d.Adapter
			}
		}
		out.Services = append(out.Services, ss)
	}
	for _, a := range reg.Applications() {
		out.Applications = append(out.Applications, shownApp{a.Name, a.Username, a.CertFingerprint, a.CertSubject, append([]registry.Grant{}, a.Grants...)})
	}
	return out
}

func runRegistryShow(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("registry show", "[--config DIR/porta.yaml | --registry FILE | FILE] [--json]", stdout, stderr)
	var src registrySource
	src.flags(fs.FlagSet)
	asJSON := fs.Bool("json", false, "print JSON")
	pos, code, done := parseInterleaved(fs, args)
	if done {
		return code
	}
	if len(pos) > 1 {
		return fs.fail("one registry at a time, got %s", strings.Join(pos, " "))
	}
	_, path, err := src.resolve(first(pos))
	if err != nil {
		return reportProblems(stdout, stderr, "porta registry show", err)
	}
	reg, err := registry.Load(path, registry.Options{})
	if err != nil {
		return reportProblems(stdout, stderr, "porta registry show", err)
	}
	shown := showRegistry(reg)
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(shown); err != nil {
			fmt.Fprintf(stderr, "porta registry show: %v\n", err)
			return 1
		}
		return 0
	}
	w := tabwriter.NewWriter(stdout, 2, 8, 2, ' ', 0)
	fmt.Fprintln(w, "PARTY\tTYPE\tPORT ID\tURL\tHOSTED\tCERTIFICATES (sha256, until)")
	for _, p := range shown.Parties {
		var cs []string
		for _, c := range p.Certs {
			cs = append(cs, c.SHA256[:16]+"…, "+c.NotAfter.Format("2006-01-02"))
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%v\t%s\n", p.Name, p.Type, p.PortID, dash(p.URL), p.Hosted, dash(strings.Join(cs, "; ")))
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "SERVICE\tPROVIDER\tPROFILE\tACTIONS\tCONSUMERS\tFLAGS\tDELIVERY")
	for _, s := range shown.Services {
		var acts, flags []string
		for _, a := range s.Actions {
			if a.Correlated != "" {
				acts = append(acts, a.Name+"→"+a.Correlated)
			} else {
				acts = append(acts, a.Name)
			}
		}
		for _, f := range []struct {
			on   bool
			name string
		}{{s.FilterDuplicates, "no-dup"}, {s.Ack, "ack"}, {s.InOrder, "in-order"}, {s.Expiry != "", "expiry=" + s.Expiry}} {
			if f.on {
				flags = append(flags, f.name)
			}
		}
		prof := s.Profile
		if s.CorrelatedService != "" {
			prof += "→" + s.CorrelatedService
		}
		fmt.Fprintf(w, "%s v%d\t%s\t%s\t%s\t%s\t%s\t%s\n", s.Name, s.Version, s.Provider, prof, strings.Join(acts, ","),
			dash(strings.Join(s.Consumers, ",")), dash(strings.Join(flags, ",")), dash(s.Delivery))
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "APPLICATION\tCREDENTIALS\tMAY CALL (consumer: provider/service)")
	for _, a := range shown.Applications {
		var creds, may []string
		if a.Username != "" {
			creds = append(creds, "basic "+a.Username)
		}
		if a.CertFingerprint != "" {
			creds = append(creds, "cert "+a.CertFingerprint[:16]+"…")
		}
		if a.CertSubject != "" {
			creds = append(creds, "cert "+a.CertSubject)
		}
		for _, g := range a.May {
			may = append(may, g.Consumer+": "+g.Provider+"/"+g.Service)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\n", a.Name, strings.Join(creds, ", "), dash(strings.Join(may, "; ")))
	}
	w.Flush()
	for _, p := range reg.Warnings() {
		fmt.Fprintln(stderr, p)
	}
	return 0
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func runRegistryHashPassword(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("registry hash-password", "< PASSWORD-FILE", stdout, stderr)
	fs.About = "Reads the password from the first line of stdin and prints the application's password_hash."
	if code, done := fs.parse(args); done {
		return code
	}
	pw, err := passwordFromStdin(stdin)
	if err != nil {
		fmt.Fprintf(stderr, "porta registry hash-password: %v\n", err)
		return 1
	}
	h, err := registry.HashPassword(pw, rand.Reader)
	if err != nil {
		fmt.Fprintf(stderr, "porta registry hash-password: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, h)
	return 0
}

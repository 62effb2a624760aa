package main

import (
	"bufio"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"porta/adapters/labour"
	"porta/internal/backends"
	"porta/registry"
	"porta/wsdl"
)

// porta registry add-service and add-app: declare, after add-party, what two gateways exchange
// (a service, on both sides, delivered on the provider's) and who may call it through the Porta
// Delegata (a local application with a password). Both write the registry through the package
// registry's editor: the result must load, or the file is not touched.

// listFlag is a flag taking comma-separated values, repeatable.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

// registryFor resolves a registry command's source to the registry file and its loaded contents.
func registryFor(src *registrySource, cmd string, stdout, stderr io.Writer) (string, *registry.Registry, int) {
	_, path, err := src.resolve("")
	if err == nil {
		if fi, serr := os.Stat(path); serr == nil && fi.IsDir() {
			fmt.Fprintf(stderr, "%s: %s is a directory; name the file to add to with --registry\n", cmd, path)
			return "", nil, 2
		}
	}
	var reg *registry.Registry
	if err == nil {
		reg, err = registry.Load(path, registry.Options{})
	}
	if err != nil {
		return "", nil, reportProblems(stdout, stderr, cmd, err)
	}
	return path, reg, 0
}

// soleHosted is the registry's hosted party when there is exactly one, or "" with the reason.
func soleHosted(reg *registry.Registry) (string, string) {
	h := reg.HostedParties()
	if len(h) == 1 {
		return h[0], ""
	}
	return "", fmt.Sprintf("the registry hosts %d parties (%s)", len(h), strings.Join(h, ", "))
}

func runRegistryAddService(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	const cmd = "porta registry add-service"
	fs := newFlags("registry add-service", "[--config DIR/porta.yaml | --registry FILE] NAME --consumers PARTY[,PARTY] [--provider PARTY] [--delivery URL|adapter:NAME]", stdout, stderr)
	var src registrySource
	src.flags(fs.FlagSet)
	var actions, consumers listFlag
	provider := fs.String("provider", "", "the party providing it (default: the registry's hosted party)")
	profile := fs.String("profile", "", "oneway, sync, async-symmetric or async-asymmetric (default: the labour service's)")
	fs.Var(&actions, "actions", "its actions, comma-separated (default: the labour service's)")
	fs.Var(&consumers, "consumers", "the parties that may call it, comma-separated (required)")
	schema := fs.String("schema", "", "payload schema under xsd/schemas (default: the labour service's)")
	wsdlPath := fs.String("wsdl", "", "its WSDL, relative to the registry (default: the labour service's, as porta init writes it)")
	delivery := fs.String("delivery", "", "where the provider's gateway delivers it: http(s)://HOST:PORT/PATH of the local application, or adapter:NAME (required when the provider is hosted here)")
	var known []string
	for _, s := range labour.Services {
		if !slices.Contains(known, s.Name) {
			known = append(known, s.Name)
		}
	}
	fs.About = fmt.Sprintf("The labour services (%s) come with their profile, actions, schema and WSDL;\nothers need --profile and --actions. Built-in adapters: %s.", strings.Join(known, ", "), strings.Join(backends.Names(), ", "))
	pos, code, done := parseInterleaved(fs, args)
	if done {
		return code
	}
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(stderr, cmd+": "+format+"\n", a...)
		return 2
	}
	if len(pos) != 1 {
		return usageErr("name one service (porta registry add-service --config DIR/porta.yaml NAME --consumers PARTY)")
	}
	path, reg, code := registryFor(&src, cmd, stdout, stderr)
	if path == "" {
		return code
	}
	d := registry.ServiceDecl{Name: pos[0], Provider: *provider, Profile: *profile, Actions: actions, Consumers: consumers, Schema: *schema, WSDL: *wsdlPath}
	if d.Provider == "" {
		h, why := soleHosted(reg)
		if h == "" {
			return usageErr("%s: name the provider with --provider", why)
		}
		d.Provider = h
	}
	if s := labour.ByName(d.Name); s != nil {
		d.FilterDuplicates, d.Ack = s.Profile == "oneway", s.OneWayAck
		if d.Profile == "" {
			d.Profile = s.Profile
		}
		if len(d.Actions) == 0 {
			d.Actions = s.Actions
			if len(s.Correlated) > 0 && *profile == "" {
				return usageErr("%s has correlated actions, which this command does not write; declare it in %s by hand (see go doc porta/registry)", d.Name, path)
			}
		}
		if d.Schema == "" {
			d.Schema = s.Schema
		}
		if len(s.CF) > 0 {
			d.Trace = &registry.TraceDecl{IDs: map[string][]string{"cf": s.CF}}
		}
		if d.WSDL == "" {
			rel := filepath.Join(wsdl.Dir, s.WSDL)
			if _, err := os.Stat(filepath.Join(filepath.Dir(path), rel)); err == nil {
				d.WSDL = filepath.ToSlash(rel)
			}
		}
	} else if d.Profile == "" || len(d.Actions) == 0 {
		return usageErr("service %q is not one of the labour services porta knows (%s): give --profile and --actions", d.Name, strings.Join(known, ", "))
	}
	if len(d.Consumers) == 0 {
		return usageErr("--consumers: name the parties that may call %s (e.g. --consumers Provincia)", d.Name)
	}
	hosted := slices.Contains(reg.HostedParties(), d.Provider)
	switch a, isAdapter := strings.CutPrefix(*delivery, "adapter:"); {
	case hosted && *delivery == "":
		return usageErr("%s is provided by %s, hosted here: say where to deliver it, --delivery http://HOST:PORT/PATH (your application) or --delivery adapter:NAME (built in: %s)",
			d.Name, d.Provider, strings.Join(backends.Names(), ", "))
	case !hosted && *delivery != "":
		return usageErr("--delivery: %s is provided by %s, a remote party, whose gateway delivers it; drop --delivery here and give it on %s's gateway", d.Name, d.Provider, d.Provider)
	case isAdapter && !slices.Contains(backends.Names(), a):
		return usageErr("--delivery adapter:%s: no such built-in adapter; one of: %s", a, strings.Join(backends.Names(), ", "))
	}
	d.Delivery = *delivery
	if _, err := registry.AddService(path, d, registry.Options{}); err != nil {
		return reportProblems(stdout, stderr, cmd, err)
	}
	deliv := ""
	if d.Delivery != "" {
		deliv = ", delivered to " + d.Delivery
	}
	fmt.Fprintf(stdout, "added service %s of %s to %s: %s, actions %s, consumers %s%s\n", d.Name, d.Provider, path, d.Profile,
		strings.Join(d.Actions, ","), strings.Join(d.Consumers, ","), deliv)
	return 0
}

func runRegistryAddApp(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	const cmd = "porta registry add-app"
	fs := newFlags("registry add-app", "[--config DIR/porta.yaml | --registry FILE] NAME --may PROVIDER/SERVICE [--user USER] < PASSWORD-FILE", stdout, stderr)
	var src registrySource
	src.flags(fs.FlagSet)
	var may listFlag
	user := fs.String("user", "", "its HTTP Basic user name (default: NAME in lower case)")
	fs.Var(&may, "may", "what it may call, `[CONSUMER:]PROVIDER/SERVICE`, comma-separated or repeated (CONSUMER defaults to the hosted party)")
	fs.About = "Reads the password from the first line of stdin and keeps only its hash (as hash-password)."
	pos, code, done := parseInterleaved(fs, args)
	if done {
		return code
	}
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(stderr, cmd+": "+format+"\n", a...)
		return 2
	}
	switch {
	case len(pos) != 1:
		return usageErr("name one application (porta registry add-app --config DIR/porta.yaml NAME --may PROVIDER/SERVICE < PASSWORD-FILE)")
	case len(may) == 0:
		return usageErr("--may: say what %s may call, e.g. --may Ministero/SAP", pos[0])
	}
	path, reg, code := registryFor(&src, cmd, stdout, stderr)
	if path == "" {
		return code
	}
	a := registry.ApplicationDecl{Name: pos[0], Username: *user}
	if a.Username == "" {
		a.Username = strings.ToLower(a.Name)
	}
	for _, m := range may {
		consumer, rest, hasConsumer := strings.Cut(m, ":")
		if !hasConsumer {
			rest = m
			h, why := soleHosted(reg)
			if h == "" {
				return usageErr("--may %s: %s: write CONSUMER:PROVIDER/SERVICE", m, why)
			}
			consumer = h
		}
		provider, service, ok := strings.Cut(rest, "/")
		if !ok || provider == "" || service == "" || consumer == "" {
			return usageErr("--may %q: want [CONSUMER:]PROVIDER/SERVICE, e.g. Ministero/SAP", m)
		}
		a.May = append(a.May, registry.Grant{Consumer: consumer, Provider: provider, Service: service})
	}
	pw, err := passwordFromStdin(stdin)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v (echo PASSWORD | porta registry add-app ...)\n", cmd, err)
		return 1
	}
	if a.PasswordHash, err = registry.HashPassword(pw, rand.Reader); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", cmd, err)
		return 1
	}
	if _, err := registry.AddApplication(path, a, registry.Options{}); err != nil {
		return reportProblems(stdout, stderr, cmd, err)
	}
	var grants []string
	for _, g := range a.May {
		grants = append(grants, g.Consumer+": "+g.Provider+"/"+g.Service)
	}
	fmt.Fprintf(stdout, "added application %s to %s: HTTP Basic user %s, may call %s\n", a.Name, path, a.Username, strings.Join(grants, "; "))
	return 0
}

// passwordFromStdin reads a password from the first line of r.
func passwordFromStdin(r io.Reader) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read stdin: %w", err)
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", errors.New("empty password on stdin")
	}
	return pw, nil
}

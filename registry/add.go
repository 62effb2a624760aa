package registry

import (
	"fmt"

	"go.yaml.in/yaml/v3"
)

// ServiceDecl is a service declaration for AddService, in the file format's terms (see the
// package documentation): what `porta registry add-service` writes.
type ServiceDecl struct {
	Provider         string     `yaml:"provider"`
	Name             string     `yaml:"name"`
	Profile          string     `yaml:"profile"`
	FilterDuplicates bool       `yaml:"filter_duplicates,omitempty"`
	Ack              bool       `yaml:"ack,omitempty"`
	WSDL             string     `yaml:"wsdl,omitempty"`
	Schema           string     `yaml:"schema,omitempty"`
	Actions          []string   `yaml:"actions,flow"`
	Consumers        []string   `yaml:"consumers,flow"`
	Delivery         string     `yaml:"delivery,omitempty"` // a URL, or adapter:NAME; only for a hosted provider
	Trace            *TraceDecl `yaml:"trace,omitempty"`
}

// TraceDecl is a service's trace: policy as AddService writes it (see TracePolicy).
type TraceDecl struct {
	IDs map[string][]string `yaml:"ids,omitempty,flow"` // business identifiers: name -> paths
}

// ApplicationDecl is a local application for AddApplication: HTTP Basic credentials (the
// password_hash made by HashPassword) and what it may call.
type ApplicationDecl struct {
	Name         string  `yaml:"name"`
	Username     string  `yaml:"username"`
	PasswordHash string  `yaml:"password_hash"`
	May          []Grant `yaml:"may"`
}

// AddService appends a service declaration to the registry file at registryPath. A service of the
// same provider and name already declared there is an error naming its line (edit it there); the
// registry must load without errors afterwards (a provider that is not a party, a delivery on a
// remote party's service, a WSDL that does not read...), or the file is not touched.
func AddService(registryPath string, s ServiceDecl, opts Options) (AddOutcome, error) {
	what := fmt.Sprintf("service %s of %s", s.Name, s.Provider)
	return addEntry(registryPath, "services", what, opts, s, func(n *yaml.Node) bool {
		return mapValue(n, "provider") == s.Provider && mapValue(n, "name") == s.Name
	})
}

// AddApplication appends a local application to the registry file at registryPath, on the same
// terms as AddService: an application of the same name is an error naming its line, and the
// registry must load afterwards (a username already used, a grant of a service not declared...).
func AddApplication(registryPath string, a ApplicationDecl, opts Options) (AddOutcome, error) {
	what := "application " + a.Name
	return addEntry(registryPath, "applications", what, opts, a, func(n *yaml.Node) bool {
		return mapValue(n, "name") == a.Name
	})
}

// addEntry appends v, encoded as YAML, to the list under key unless an entry matching same is
// already there.
func addEntry(registryPath, key, what string, opts Options, v any, same func(*yaml.Node) bool) (AddOutcome, error) {
	var entry yaml.Node
	if err := entry.Encode(v); err != nil {
		return 0, fmt.Errorf("add %s: %w", what, err)
	}
	for i := 0; i+1 < len(entry.Content); i += 2 {
		if entry.Content[i].Value == "may" { // one grant a line: {consumer: A, provider: B, service: C}
			for _, g := range entry.Content[i+1].Content {
				g.Style = yaml.FlowStyle
			}
		}
	}
	return editSection(registryPath, key, what, opts, func(list *yaml.Node) (AddOutcome, error) {
		for _, n := range list.Content {
			if n.Kind == yaml.MappingNode && same(n) {
				return 0, fmt.Errorf("%s:%d: %s is already declared; edit it there, or remove it and add it again", registryPath, n.Line, what)
			}
		}
		list.Content = append(list.Content, &entry)
		return Added, nil
	})
}

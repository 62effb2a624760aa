package registry

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"porta/envelope"
)

// Card is a party card (party.yaml): the public face of a hosted party that another gateway
// imports with AddParty to trust it and send to it. It holds nothing secret.
type Card struct {
	Name   string
	Type   string
	PortID string
	URL    string // its Porta Applicativa
	// Interop is its interoperability profile (spec §11): a peer checks its buste and builds the
	// ones it sends to it by these rules.
	Interop envelope.Interop
	Certs   []*x509.Certificate
	CA      []*x509.Certificate // optional
}

// Marshal returns the card as commented YAML.
func (c *Card) Marshal() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Party card of %s: public, holds no secret. On a peer gateway, trust this party with\n", c.Name)
	fmt.Fprintf(&b, "#   porta registry add-party --config PEER/porta.yaml %s\n", "party.yaml")
	doc := &yaml.Node{Kind: yaml.MappingNode}
	add := func(k, v string, style yaml.Style) {
		doc.Content = append(doc.Content,
			&yaml.Node{Kind: yaml.ScalarNode, Value: k},
			&yaml.Node{Kind: yaml.ScalarNode, Value: v, Style: style})
	}
	add("name", c.Name, 0)
	add("type", c.Type, 0)
	add("port_id", c.PortID, 0)
	add("url", c.URL, 0)
	add("profile", string(orEGov(c.Interop)), 0)
	add("certificate", string(EncodeCertsPEM(c.Certs...)), yaml.LiteralStyle)
	if len(c.CA) > 0 {
		add("ca", string(EncodeCertsPEM(c.CA...)), yaml.LiteralStyle)
	}
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		panic("registry: encode card: " + err.Error()) // only scalars: cannot fail
	}
	enc.Close()
	return b.Bytes()
}

// ReadCard reads and checks a party card: valid names, an https URL, certificates that parse and
// are valid at now. Errors name the file and line.
func ReadCard(path string, now time.Time) (*Card, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("party card: %w", err)
	}
	rep := &reporter{}
	d := newDecoder(rep, path, filepath.Dir(path))
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		line, msg := yamlErrLine(err)
		return nil, Problems{{File: path, Line: line, Msg: "not valid YAML: " + msg}}
	}
	if len(doc.Content) == 0 {
		return nil, Problems{{File: path, Msg: "empty party card"}}
	}
	m, ok := d.Fields(doc.Content[0], "a party card", "name", "type", "port_id", "url", "profile", "certificate", "ca")
	if !ok {
		return nil, rep.probs
	}
	// A card is a party entry of another registry: decode it with the same rules.
	b := &builder{reporter: rep, opts: Options{Now: func() time.Time { return now }, ExpiryWarning: 30 * 24 * time.Hour},
		r: &Registry{parties: map[string]*Party{}, certOwner: map[string]*Party{}}}
	entry := &yaml.Node{Kind: yaml.MappingNode, Line: doc.Content[0].Line}
	for _, k := range []string{"name", "type", "port_id", "url", "profile", "certificate", "ca"} {
		v, ok := m[k]
		if !ok {
			continue
		}
		key := k
		if k == "certificate" {
			key = "certificates"
		}
		entry.Content = append(entry.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: key, Line: v.Line}, v)
	}
	if m["certificate"] == nil {
		d.errf(path, doc.Content[0].Line, "the party card has no certificate; add certificate: | with the party's PEM certificate")
	}
	b.party(d, entry)
	if errs := rep.probs.Errors(); len(errs) > 0 {
		return nil, errs
	}
	p := b.r.partyList[0]
	return CardOf(p), nil
}

// CardOf returns the card of a party.
func CardOf(p *Party) *Card {
	return &Card{Name: p.Name, Type: p.Type, PortID: p.PortID, URL: p.URL, Interop: orEGov(p.Interop), Certs: p.Certs, CA: p.CA}
}

// orEGov is ip, or the default profile when ip is unset.
func orEGov(ip envelope.Interop) envelope.Interop {
	if ip == "" {
		return envelope.InteropEGov
	}
	return ip
}

// AddOutcome says what AddParty did.
type AddOutcome int

const (
	Added     AddOutcome = iota + 1 // the party was new
	Replaced                        // an existing, different entry was replaced (replace was set)
	Unchanged                       // the registry already held exactly this party
)

func (o AddOutcome) String() string {
	switch o {
	case Added:
		return "added"
	case Replaced:
		return "replaced"
	case Unchanged:
		return "unchanged"
	}
	return "AddOutcome(?)"
}

// AddParty merges the party card at cardPath into the registry file at registryPath, so that this
// gateway trusts the party and can send to it. The file's comments and key order are kept as far
// as yaml.v3 allows (indentation is normalised to two spaces). An existing party of the same name
// is left alone when identical, and replaced only when replace is set; a hosted party is never
// replaced. The merged registry must load without errors (opts are passed to Load), or the file
// is not touched.
func AddParty(registryPath, cardPath string, replace bool, opts Options) (AddOutcome, error) {
	now := time.Now()
	if opts.Now != nil {
		now = opts.Now()
	}
	card, err := ReadCard(cardPath, now)
	if err != nil {
		return 0, err
	}
	return editSection(registryPath, "parties", "party "+card.Name, opts, func(parties *yaml.Node) (AddOutcome, error) {
		entry := cardNode(card)
		for i, n := range parties.Content {
			if n.Kind != yaml.MappingNode || mapValue(n, "name") != card.Name {
				continue
			}
			at := fmt.Sprintf("%s:%d", registryPath, n.Line)
			if mapValue(n, "hosted") == "true" {
				return 0, fmt.Errorf("%s: party %q is hosted by this gateway; its card cannot replace it (is %s this gateway's own card?)", at, card.Name, cardPath)
			}
			same, why := sameParty(n, card, filepath.Dir(registryPath), now)
			if same {
				return Unchanged, nil
			}
			if !replace {
				return 0, fmt.Errorf("%s: party %q already exists with a different %s; pass --replace to overwrite it with %s", at, card.Name, why, cardPath)
			}
			entry.HeadComment = n.HeadComment
			parties.Content[i] = entry
			return Replaced, nil
		}
		parties.Content = append(parties.Content, entry)
		return Added, nil
	})
}

// editSection rewrites the registry file at registryPath through edit, which is given the list
// under key (parties, services or applications; created, at the top for parties and at the end
// otherwise, when absent or empty) and says what it did. Nothing is written when edit returns
// Unchanged or an error, or when the edited registry does not load without errors: problems of
// the edited file are reported against registryPath, "(after adding WHAT)".
func editSection(registryPath, key, what string, opts Options, edit func(list *yaml.Node) (AddOutcome, error)) (AddOutcome, error) {
	data, err := os.ReadFile(registryPath)
	if err != nil {
		return 0, fmt.Errorf("add %s: %w", what, err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		line, msg := yamlErrLine(err)
		return 0, Problems{{File: registryPath, Line: line, Msg: "not valid YAML: " + msg}}
	}
	if doc.Kind == 0 {
		doc = yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{{Kind: yaml.MappingNode}}}
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return 0, Problems{{File: registryPath, Line: root.Line, Msg: "the registry file must be a mapping with parties:, services:, applications:"}}
	}
	var list *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == key {
			list = root.Content[i+1]
		}
	}
	if list == nil || list.Tag == "!!null" {
		if list == nil {
			list = &yaml.Node{Kind: yaml.SequenceNode}
			k := &yaml.Node{Kind: yaml.ScalarNode, Value: key}
			if key == "parties" {
				root.Content = append([]*yaml.Node{k, list}, root.Content...)
			} else {
				root.Content = append(root.Content, k, list)
			}
		}
		*list = yaml.Node{Kind: yaml.SequenceNode, Line: list.Line}
	}
	if list.Kind != yaml.SequenceNode {
		return 0, Problems{{File: registryPath, Line: list.Line, Msg: key + " must be a list"}}
	}
	outcome, err := edit(list)
	if err != nil || outcome == Unchanged {
		return outcome, err
	}
	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return 0, fmt.Errorf("add %s: encode %s: %w", what, registryPath, err)
	}
	enc.Close()
	// Check the result before replacing the file: write beside it, load, rename.
	tmp := filepath.Join(filepath.Dir(registryPath), "."+filepath.Base(registryPath)+".new.yaml")
	if err := writeFile(tmp, out.Bytes(), 0o644); err != nil {
		return 0, fmt.Errorf("add %s: %w", what, err)
	}
	if _, err := Load(tmp, opts); err != nil {
		os.Remove(tmp)
		var ps Problems
		if errors.As(err, &ps) {
			for i := range ps {
				if ps[i].File == tmp {
					ps[i].File = registryPath + " (after adding " + what + ")"
				}
			}
			return 0, ps
		}
		return 0, err
	}
	if err := os.Rename(tmp, registryPath); err != nil {
		os.Remove(tmp)
		return 0, fmt.Errorf("add %s: %w", what, err)
	}
	return outcome, nil
}

func mapValue(m *yaml.Node, key string) string {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return strings.TrimSpace(m.Content[i+1].Value)
		}
	}
	return ""
}

// sameParty compares a registry entry with a card; when they differ it names what differs.
func sameParty(n *yaml.Node, c *Card, dir string, now time.Time) (bool, string) {
	rep := &reporter{}
	d := newDecoder(rep, "registry", dir)
	b := &builder{reporter: rep, opts: Options{Now: func() time.Time { return now }, ExpiryWarning: time.Nanosecond},
		r: &Registry{parties: map[string]*Party{}, certOwner: map[string]*Party{}}}
	b.party(d, n)
	if len(b.r.partyList) == 0 {
		return false, "entry (the existing one does not read)"
	}
	p := b.r.partyList[0]
	switch {
	case p.Type != c.Type:
		return false, fmt.Sprintf("type (%s, the card says %s)", p.Type, c.Type)
	case p.PortID != c.PortID:
		return false, fmt.Sprintf("port_id (%s, the card says %s)", p.PortID, c.PortID)
	case p.URL != c.URL:
		return false, fmt.Sprintf("url (%s, the card says %s)", p.URL, c.URL)
	case orEGov(p.Interop) != orEGov(c.Interop):
		return false, fmt.Sprintf("profile (%s, the card says %s)", orEGov(p.Interop), orEGov(c.Interop))
	case !sameCerts(p.Certs, c.Certs):
		return false, "certificate"
	case !sameCerts(p.CA, c.CA):
		return false, "ca"
	}
	return true, ""
}

func sameCerts(a, b []*x509.Certificate) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].Equal(b[i]) {
			return false
		}
	}
	return true
}

// cardNode renders a card as a registry party entry.
func cardNode(c *Card) *yaml.Node {
	n := &yaml.Node{Kind: yaml.MappingNode}
	add := func(k string, v *yaml.Node) {
		n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: k}, v)
	}
	scalar := func(v string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Value: v} }
	pemList := func(cs []*x509.Certificate) *yaml.Node {
		l := &yaml.Node{Kind: yaml.SequenceNode}
		for _, cert := range cs {
			item := &yaml.Node{Kind: yaml.MappingNode}
			item.Content = []*yaml.Node{scalar("pem"), {Kind: yaml.ScalarNode, Value: string(EncodeCertsPEM(cert)), Style: yaml.LiteralStyle}}
			item.HeadComment = fmt.Sprintf("%s, valid until %s, sha256 %s", cert.Subject.String(), cert.NotAfter.UTC().Format("2006-01-02"), Fingerprint(cert))
			l.Content = append(l.Content, item)
		}
		return l
	}
	add("name", scalar(c.Name))
	add("type", scalar(c.Type))
	add("port_id", scalar(c.PortID))
	add("url", scalar(c.URL))
	if ip := orEGov(c.Interop); ip != envelope.InteropEGov {
		add("profile", scalar(string(ip))) // the default is left implicit, as in a hand-written registry
	}
	add("certificates", pemList(c.Certs))
	if len(c.CA) > 0 {
		add("ca", pemList(c.CA))
	}
	n.HeadComment = "added from its party card by porta registry add-party"
	return n
}

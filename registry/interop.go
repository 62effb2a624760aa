package registry

import (
	"fmt"
	"slices"

	"go.yaml.in/yaml/v3"

	"porta/envelope"
)

// Each party has an interoperability profile (profile:, spec §11): egov-1.1, the default, or
// linee-guida-1.1. A Linee Guida party's buste carry tipo SPC only and never ask for a riscontro,
// so the registry refuses what such a party cannot do: a type other than SPC for the party or for
// a service it provides or consumes, and acknowledgement (ack, in_order) on a service between it
// and anyone.

// interop reads a party's profile: key; typ is its (already read) type.
func (b *builder) interop(d *decoder, m map[string]*yaml.Node, what, typ string) envelope.Interop {
	s := d.Str(m, "profile", what)
	ip, err := envelope.ParseInterop(s)
	if err != nil {
		d.errf(d.File, m["profile"].Line, "%s: profile %q is not one of %s, %s (the interoperability profile; %s is the default)", what, s, envelope.InteropEGov, envelope.InteropLineeGuida, envelope.InteropEGov)
		return envelope.InteropEGov
	}
	if ip == envelope.InteropLineeGuida && typ != TypeSPC {
		line := m["profile"].Line
		if n := m["type"]; n != nil {
			line = n.Line
		}
		d.errf(d.File, line, "%s: type %s cannot be used with profile %s, whose buste name SPC parties only; set type: SPC, or profile: %s", what, typ, ip, envelope.InteropEGov)
	}
	return ip
}

// checkInterop names what service s asks that a Linee Guida party among its provider and
// consumers cannot do; line gives the position of one of the service's keys.
func (b *builder) checkInterop(s *Service, line func(string) Pos) {
	var lg []string
	for _, name := range append([]string{s.Provider}, s.Consumers...) {
		if p, ok := b.r.parties[name]; ok && p.Interop == envelope.InteropLineeGuida && !slices.Contains(lg, name) {
			lg = append(lg, name)
		}
	}
	if len(lg) == 0 {
		return
	}
	what := fmt.Sprintf("service %q of %q", s.Name, s.Provider)
	who := fmt.Sprintf("party %q", lg[0])
	if len(lg) > 1 {
		who = fmt.Sprintf("parties %q", lg)
	}
	const fix = "; remove it (towards such a party duplicates are always filtered and the transport answer confirms delivery)"
	switch {
	case s.InOrder:
		b.at(line("in_order"), "%s: in_order needs a riscontro (confermaRicezione), which the %s profile of %s forbids%s", what, envelope.InteropLineeGuida, who, fix)
	case s.Ack:
		b.at(line("ack"), "%s: ack: true asks for a riscontro (confermaRicezione), which the %s profile of %s forbids%s", what, envelope.InteropLineeGuida, who, fix)
	}
	if s.Type != TypeSPC {
		b.at(line("type"), "%s: type %s cannot be used with the %s profile of %s, whose buste name SPC services only; set type: SPC", what, s.Type, envelope.InteropLineeGuida, who)
	}
}

package envelope

import "fmt"

var profileNames = [...]struct{ name, wire string }{
	ProfileNone:     {"", ""},
	OneWay:          {"oneway", "EGOV_IT_MessaggioSingoloOneWay"},
	Sync:            {"sync", "EGOV_IT_ServizioSincrono"},
	AsyncSymmetric:  {"async-symmetric", "EGOV_IT_ServizioAsincronoSimmetrico"},
	AsyncAsymmetric: {"async-asymmetric", "EGOV_IT_ServizioAsincronoAsimmetrico"},
}

func (p Profile) known() bool { return p >= ProfileNone && int(p) < len(profileNames) }

// String is the profile's short name: "oneway", "sync", "async-symmetric", "async-asymmetric",
// "" for ProfileNone.
func (p Profile) String() string {
	if !p.known() {
		return fmt.Sprintf("Profile(%d)", int(p))
	}
	return profileNames[p].name
}

// WireName is the ProfiloCollaborazione value, e.g. "EGOV_IT_ServizioSincrono"; "" for ProfileNone.
func (p Profile) WireName() string {
	if !p.known() {
		return ""
	}
	return profileNames[p].wire
}

// Async reports whether p is one of the two asynchronous profiles.
func (p Profile) Async() bool { return p == AsyncSymmetric || p == AsyncAsymmetric }

// ParseProfile reads a short name (String) or a wire name (WireName). The empty string is
// ProfileNone.
func ParseProfile(s string) (Profile, error) {
	for i, n := range profileNames {
		if s == n.name || (n.wire != "" && s == n.wire) {
			return Profile(i), nil
		}
	}
	return ProfileNone, fmt.Errorf("unknown collaboration profile %q (one of oneway, sync, async-symmetric, async-asymmetric)", s)
}

// parseWireProfile reads only the wire names of ProfiloCollaborazione.
func parseWireProfile(s string) (Profile, bool) {
	for i, n := range profileNames {
		if n.wire != "" && s == n.wire {
			return Profile(i), true
		}
	}
	return ProfileNone, false
}

// MarshalText writes the short name.
func (p Profile) MarshalText() ([]byte, error) {
	if !p.known() {
		return nil, fmt.Errorf("marshal profile: unknown value %d", int(p))
	}
	return []byte(p.String()), nil
}

// UnmarshalText reads what ParseProfile reads.
func (p *Profile) UnmarshalText(b []byte) error {
	v, err := ParseProfile(string(b))
	if err != nil {
		return err
	}
	*p = v
	return nil
}

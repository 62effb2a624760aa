package yamlpos

import (
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

func parse(t *testing.T, src string) *yaml.Node {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Content[0]
}

// Each problem names the file, the line of the offending node, and what was found there.
func TestReaderNamesFileAndLine(t *testing.T) {
	n := parse(t, "name: SAP\nack: sometimes\nexpiry: tomorrow\nversion: -1\nlist: {a: b}\nnope: 1\nname: again\nitems: [a, [b]]\n")
	var probs Problems
	r := &Reader{File: "registry.yaml", Dir: "/etc/porta", Sink: &probs}
	m, ok := r.Fields(n, "service", "name", "ack", "expiry", "version", "list", "items")
	if !ok {
		t.Fatal("a mapping refused")
	}
	if got := r.Str(m, "name", "service"); got != "SAP" {
		t.Errorf("Str = %q", got)
	}
	r.Bool(m, "ack", "service")
	if d := r.Duration(m, "expiry", "service"); d != 0 {
		t.Errorf("Duration = %v", d)
	}
	if v := r.Int(m, "version", "service", 1); v != 1 {
		t.Errorf("Int = %d, want the default", v)
	}
	r.List(m, "list", "service")
	if got, lines := r.Strs(m, "items", "service"); len(got) != 1 || got[0] != "a" || lines[0] != 8 {
		t.Errorf("Strs = %v %v", got, lines)
	}
	want := []string{
		`registry.yaml:6: service has unknown key "nope"; known keys: name, ack, expiry, version, list, items`,
		`registry.yaml:7: service sets "name" twice; keep one`,
		`registry.yaml:2: service: ack must be true or false, found the value "sometimes"`,
		`registry.yaml:3: service: expiry must be a duration such as 30s, 90m, 24h or 7d, found the value "tomorrow"`,
		`registry.yaml:4: service: version must be a whole number >= 0, found the value "-1"`,
		`registry.yaml:5: service: list must be a list, found a mapping`,
		`registry.yaml:8: service: each item of items must be a single value, found a list`,
	}
	if len(probs) != len(want) {
		t.Fatalf("problems:\n%v\nwant %d", probs, len(want))
	}
	for i, p := range probs {
		if p.String() != want[i] {
			t.Errorf("problem %d = %s\nwant        %s", i, p, want[i])
		}
	}
	probs.Sort()
	if probs[0].Line != 2 || probs[len(probs)-1].Line != 8 {
		t.Errorf("Sort: %v", probs)
	}
	if got := r.Path("keys/key.pem"); got != "/etc/porta/keys/key.pem" {
		t.Errorf("Path = %s", got)
	}
	r.ErrfAt(nil, "whole file")
	if p := probs[len(probs)-1]; p.Line != 0 || p.String() != "registry.yaml: whole file" {
		t.Errorf("ErrfAt(nil) = %s", p)
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"7d": 7 * 24 * time.Hour, "90m": 90 * time.Minute, " 500ms ": 500 * time.Millisecond} {
		if got, err := ParseDuration(in); err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"-1s", "-2d", "xd", "forever", ""} {
		if _, err := ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q) accepted", bad)
		}
	}
}

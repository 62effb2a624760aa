// Package yamlpos reads hand-written YAML files (porta.yaml, registry.yaml, party cards) node by
// node and reports every problem with the file and line it is on, so that an operator can go
// straight to it: Problem and Problems are the findings, Reader the positional reader over
// yaml.Node that registry's loader and the gateway's porta.yaml loader share.
//
// It must not know what the files mean: the keys, defaults and rules are the callers'.
package yamlpos

import (
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Problem is one finding: what is wrong, where, and how to fix it.
type Problem struct {
	File    string // as given to the loader, or resolved from an include
	Line    int    // 1-based; 0 when the problem concerns the whole file
	Msg     string
	Warning bool // true for findings that do not stop the gateway (a certificate expiring soon)
}

func (p Problem) String() string {
	loc := p.File
	if p.Line > 0 {
		loc += ":" + strconv.Itoa(p.Line)
	}
	if p.Warning {
		return loc + ": warning: " + p.Msg
	}
	return loc + ": " + p.Msg
}

// Problems is a list of findings. As an error its text lists every finding, one per line.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Errors returns the findings that are not warnings.
func (ps Problems) Errors() Problems {
	var out Problems
	for _, p := range ps {
		if !p.Warning {
			out = append(out, p)
		}
	}
	return out
}

// Warnings returns the findings that are warnings.
func (ps Problems) Warnings() Problems {
	var out Problems
	for _, p := range ps {
		if p.Warning {
			out = append(out, p)
		}
	}
	return out
}

// Sort orders the findings by file, then line, keeping the order of those on one line.
func (ps Problems) Sort() {
	sort.SliceStable(ps, func(i, j int) bool {
		if ps[i].File != ps[j].File {
			return ps[i].File < ps[j].File
		}
		return ps[i].Line < ps[j].Line
	})
}

// Reader reads one YAML file's nodes and appends the problems it finds, at File's lines, to
// *Sink (several readers of one load may share a sink).
type Reader struct {
	File string    // the file's name in messages
	Dir  string    // the directory relative paths are resolved against
	Sink *Problems // where problems go
}

// Errf records a problem at line (0: the whole file).
func (r *Reader) Errf(line int, format string, args ...any) {
	*r.Sink = append(*r.Sink, Problem{File: r.File, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// ErrfAt records a problem at n's line (the whole file when n is nil).
func (r *Reader) ErrfAt(n *yaml.Node, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	r.Errf(line, format, args...)
}

// Set reports whether n holds a value: present and not null.
func Set(n *yaml.Node) bool { return n != nil && n.Kind != 0 && n.Tag != "!!null" }

// KindName names what n holds, for messages: "a mapping", "a list", the value "x", ...
func KindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("the value %q", n.Value)
	case yaml.AliasNode:
		return "an alias"
	}
	return "nothing"
}

// Fields checks that n is a mapping whose keys are all in known, each set once, and returns them
// by key. what names the entry in messages ("party \"Provincia\"").
func (r *Reader) Fields(n *yaml.Node, what string, known ...string) (map[string]*yaml.Node, bool) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind != yaml.MappingNode {
		r.Errf(n.Line, "%s must be a mapping (key: value lines), found %s", what, KindName(n))
		return nil, false
	}
	out := make(map[string]*yaml.Node, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if !slices.Contains(known, k.Value) {
			r.Errf(k.Line, "%s has unknown key %q; known keys: %s", what, k.Value, strings.Join(known, ", "))
			continue
		}
		if _, dup := out[k.Value]; dup {
			r.Errf(k.Line, "%s sets %q twice; keep one", what, k.Value)
			continue
		}
		out[k.Value] = v
	}
	return out, true
}

// Str returns m[key] as a trimmed scalar ("" when absent or null).
func (r *Reader) Str(m map[string]*yaml.Node, key, what string) string {
	n, ok := m[key]
	if !ok || n.Tag == "!!null" {
		return ""
	}
	if n.Kind != yaml.ScalarNode {
		r.Errf(n.Line, "%s: %s must be a single value, found %s", what, key, KindName(n))
		return ""
	}
	return strings.TrimSpace(n.Value)
}

// Bool returns m[key] as true or false (false when absent).
func (r *Reader) Bool(m map[string]*yaml.Node, key, what string) bool {
	n, ok := m[key]
	if !ok {
		return false
	}
	var b bool
	if n.Kind != yaml.ScalarNode || n.Decode(&b) != nil {
		r.Errf(n.Line, "%s: %s must be true or false, found %s", what, key, KindName(n))
	}
	return b
}

// Int returns m[key] as a whole number >= 0 (def when absent or wrong).
func (r *Reader) Int(m map[string]*yaml.Node, key, what string, def int) int {
	n, ok := m[key]
	if !ok {
		return def
	}
	v, err := strconv.Atoi(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil || v < 0 {
		r.Errf(n.Line, "%s: %s must be a whole number >= 0, found %s", what, key, KindName(n))
		return def
	}
	return v
}

// Duration returns m[key] as a ParseDuration duration (0 when absent or wrong).
func (r *Reader) Duration(m map[string]*yaml.Node, key, what string) time.Duration {
	n, ok := m[key]
	if !ok {
		return 0
	}
	v, err := ParseDuration(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil {
		r.Errf(n.Line, "%s: %s must be a duration such as 30s, 90m, 24h or 7d, found %s", what, key, KindName(n))
		return 0
	}
	return v
}

// List returns the items of the sequence m[key]; a lone scalar counts as a one-item list.
func (r *Reader) List(m map[string]*yaml.Node, key, what string) []*yaml.Node {
	n, ok := m[key]
	if !ok || n.Tag == "!!null" {
		return nil
	}
	switch n.Kind {
	case yaml.SequenceNode:
		return n.Content
	case yaml.ScalarNode:
		return []*yaml.Node{n}
	}
	r.Errf(n.Line, "%s: %s must be a list, found %s", what, key, KindName(n))
	return nil
}

// Strs returns the list m[key] as trimmed scalars, with the line of each.
func (r *Reader) Strs(m map[string]*yaml.Node, key, what string) ([]string, []int) {
	var out []string
	var lines []int
	for _, n := range r.List(m, key, what) {
		if n.Kind != yaml.ScalarNode {
			r.Errf(n.Line, "%s: each item of %s must be a single value, found %s", what, key, KindName(n))
			continue
		}
		out = append(out, strings.TrimSpace(n.Value))
		lines = append(lines, n.Line)
	}
	return out, lines
}

// Path resolves a file name written in the file relative to Dir.
func (r *Reader) Path(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(r.Dir, p)
}

// ParseDuration is time.ParseDuration that also accepts whole days ("7d"), as operators write
// retention and expiry periods, and refuses negative durations.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if strings.HasSuffix(s, "d") {
		n, err := strconv.Atoi(strings.TrimSuffix(s, "d"))
		if err != nil || n < 0 {
			return 0, fmt.Errorf("invalid duration %q", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return 0, err
	}
	if v < 0 {
		return 0, fmt.Errorf("negative duration %q", s)
	}
	return v, nil
}

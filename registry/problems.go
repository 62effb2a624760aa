package registry

import (
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Problem is one finding of Load or Check: what is wrong, where, and how to fix it.
type Problem struct {
	File    string // as given to Load, or resolved from an include
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

// Problems is the list of findings of Load or Check, in file and line order. As an error it is
// returned by Load when at least one finding is not a warning; its text lists every finding, one
// per line.
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

func (ps Problems) sort() {
	sort.SliceStable(ps, func(i, j int) bool {
		if ps[i].File != ps[j].File {
			return ps[i].File < ps[j].File
		}
		return ps[i].Line < ps[j].Line
	})
}

// Pos is where a registry entry was declared.
type Pos struct {
	File string
	Line int
}

func (p Pos) String() string { return p.File + ":" + strconv.Itoa(p.Line) }

// reporter collects problems while decoding and checking.
type reporter struct {
	probs Problems
}

func (r *reporter) errf(file string, line int, format string, args ...any) {
	r.probs = append(r.probs, Problem{File: file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

func (r *reporter) warnf(file string, line int, format string, args ...any) {
	r.probs = append(r.probs, Problem{File: file, Line: line, Msg: fmt.Sprintf(format, args...), Warning: true})
}

func (r *reporter) at(p Pos, format string, args ...any) { r.errf(p.File, p.Line, format, args...) }

// decoder reads one YAML file's nodes, reporting shape errors with the file's line numbers.
type decoder struct {
	*reporter
	file string // name used in messages
	dir  string // directory relative paths are resolved against
}

func (d *decoder) pos(n *yaml.Node) Pos { return Pos{File: d.file, Line: n.Line} }

func kindName(n *yaml.Node) string {
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

// fields checks that n is a mapping whose keys are all in known and returns them by key. what
// names the entry in messages ("party \"Provincia\"").
func (d *decoder) fields(n *yaml.Node, what string, known ...string) (map[string]*yaml.Node, bool) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind != yaml.MappingNode {
		d.errf(d.file, n.Line, "%s must be a mapping (key: value lines), found %s", what, kindName(n))
		return nil, false
	}
	out := make(map[string]*yaml.Node, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if !contains(known, k.Value) {
			d.errf(d.file, k.Line, "%s has unknown key %q; known keys: %s", what, k.Value, strings.Join(known, ", "))
			continue
		}
		if _, dup := out[k.Value]; dup {
			d.errf(d.file, k.Line, "%s sets %q twice; keep one", what, k.Value)
			continue
		}
		out[k.Value] = v
	}
	return out, true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// str returns a scalar string value ("" when absent).
func (d *decoder) str(m map[string]*yaml.Node, key, what string) string {
	n, ok := m[key]
	if !ok {
		return ""
	}
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		if n.Tag == "!!null" {
			return ""
		}
		d.errf(d.file, n.Line, "%s: %s must be a single value, found %s", what, key, kindName(n))
		return ""
	}
	return strings.TrimSpace(n.Value)
}

func (d *decoder) boolean(m map[string]*yaml.Node, key, what string) bool {
	n, ok := m[key]
	if !ok {
		return false
	}
	var b bool
	if n.Kind != yaml.ScalarNode || n.Decode(&b) != nil {
		d.errf(d.file, n.Line, "%s: %s must be true or false, found %s", what, key, kindName(n))
	}
	return b
}

func (d *decoder) integer(m map[string]*yaml.Node, key, what string, def int) int {
	n, ok := m[key]
	if !ok {
		return def
	}
	v, err := strconv.Atoi(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil || v < 0 {
		d.errf(d.file, n.Line, "%s: %s must be a whole number >= 0, found %s", what, key, kindName(n))
		return def
	}
	return v
}

func (d *decoder) duration(m map[string]*yaml.Node, key, what string) time.Duration {
	n, ok := m[key]
	if !ok {
		return 0
	}
	v, err := ParseDuration(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil {
		d.errf(d.file, n.Line, "%s: %s must be a duration such as 30s, 90m, 24h or 7d, found %s", what, key, kindName(n))
		return 0
	}
	return v
}

// list returns the items of a sequence (a lone scalar counts as a one-item list).
func (d *decoder) list(m map[string]*yaml.Node, key, what string) []*yaml.Node {
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
	d.errf(d.file, n.Line, "%s: %s must be a list, found %s", what, key, kindName(n))
	return nil
}

// strs returns a list of scalars.
func (d *decoder) strs(m map[string]*yaml.Node, key, what string) ([]string, []int) {
	var out []string
	var lines []int
	for _, n := range d.list(m, key, what) {
		if n.Kind != yaml.ScalarNode {
			d.errf(d.file, n.Line, "%s: each item of %s must be a single value, found %s", what, key, kindName(n))
			continue
		}
		out = append(out, strings.TrimSpace(n.Value))
		lines = append(lines, n.Line)
	}
	return out, lines
}

// path resolves a file name of the registry relative to the file's directory.
func (d *decoder) path(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(d.dir, p)
}

// ParseDuration is time.ParseDuration that also accepts whole days ("7d"), as operators write
// retention and expiry periods.
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

package registry

import (
	"fmt"
	"strconv"
	"time"

	"go.yaml.in/yaml/v3"

	"porta/internal/yamlpos"
)

// Problem is one finding of Load or Check: what is wrong, where, and how to fix it.
type Problem = yamlpos.Problem

// Problems is the list of findings of Load or Check, in file and line order. As an error it is
// returned by Load when at least one finding is not a warning; its text lists every finding, one
// per line.
type Problems = yamlpos.Problems

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

// decoder reads one YAML file's nodes (yamlpos.Reader, whose sink is the reporter's), reporting
// shape errors with the file's line numbers.
type decoder struct {
	*reporter
	yamlpos.Reader
}

func newDecoder(rep *reporter, file, dir string) *decoder {
	return &decoder{reporter: rep, Reader: yamlpos.Reader{File: file, Dir: dir, Sink: &rep.probs}}
}

func (d *decoder) pos(n *yaml.Node) Pos { return Pos{File: d.File, Line: n.Line} }

// ParseDuration is time.ParseDuration that also accepts whole days ("7d"), as operators write
// retention and expiry periods.
func ParseDuration(s string) (time.Duration, error) { return yamlpos.ParseDuration(s) }

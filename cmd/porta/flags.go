package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// cmdFlags is the one flag helper every porta command uses. Its usage is
//
//	Usage: porta NAME SYNOPSIS
//
//	SUMMARY (the line of porta help, from the command table)
//
//	ABOUT (optional paragraphs)
//
//	Flags:
//	  ...
//
// -h/--help prints it on stdout and the command exits 0; a bad flag prints the error and the
// usage on stderr and the command exits 2 (fail does the same for the checks after parsing).
type cmdFlags struct {
	*flag.FlagSet
	name     string // "envelope wrap"
	synopsis string // what follows the name on the usage line
	// About is printed between the summary and the flags: what the command reads and writes.
	About          string
	stdout, stderr io.Writer
}

// newFlags returns the flag set of the command name ("serve", "envelope wrap"); synopsis follows
// "porta NAME" on the usage line.
func newFlags(name, synopsis string, stdout, stderr io.Writer) *cmdFlags {
	f := &cmdFlags{FlagSet: flag.NewFlagSet("porta "+name, flag.ContinueOnError), name: name, synopsis: synopsis, stdout: stdout, stderr: stderr}
	f.SetOutput(io.Discard) // parse prints, to the stream the outcome calls for
	f.FlagSet.Usage = func() {}
	return f
}

// printUsage writes the usage to w.
func (f *cmdFlags) printUsage(w io.Writer) {
	fmt.Fprintf(w, "Usage: porta %s", f.name)
	if f.synopsis != "" {
		fmt.Fprintf(w, " %s", f.synopsis)
	}
	fmt.Fprintln(w)
	if s := summaryOf(f.name); s != "" {
		fmt.Fprintf(w, "\n%s\n", upperFirst(s))
	}
	if f.About != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimRight(f.About, "\n"))
	}
	n := 0
	f.VisitAll(func(*flag.Flag) { n++ })
	if n > 0 {
		fmt.Fprintln(w, "\nFlags:")
		f.SetOutput(w)
		f.PrintDefaults()
		f.SetOutput(io.Discard)
	}
}

// parse parses args. It returns (code, true) when the command must return code at once: 0 after
// printing the usage for -h/--help, 2 after printing a bad flag's error and the usage.
func (f *cmdFlags) parse(args []string) (int, bool) {
	if err := f.parseErr(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, true
		}
		return 2, true
	}
	return 0, false
}

// parseErr is parse for callers that carry the error on (the job commands): it returns
// flag.ErrHelp after printing the usage to stdout, or the flag's error after printing it and
// the usage to stderr.
func (f *cmdFlags) parseErr(args []string) error {
	err := f.Parse(args)
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
		f.printUsage(f.stdout)
	default:
		fmt.Fprintf(f.stderr, "porta %s: %v\n\n", f.name, err)
		f.printUsage(f.stderr)
	}
	return err
}

// fail prints "porta NAME: message" and the usage on stderr and returns 2, the exit code of a
// command given the wrong arguments.
func (f *cmdFlags) fail(format string, a ...any) int {
	fmt.Fprintf(f.stderr, "porta %s: %s\n\n", f.name, fmt.Sprintf(format, a...))
	f.printUsage(f.stderr)
	return 2
}

// summaryOf is the one-line summary of the command "name" or "name sub" from the command table.
func summaryOf(name string) string {
	top, sub, _ := strings.Cut(name, " ")
	c, ok := commands[top]
	if !ok {
		return ""
	}
	if sub == "" {
		return c.summary
	}
	return c.subs[sub].summary
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

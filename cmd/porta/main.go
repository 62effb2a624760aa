// Command porta is the one binary of the Porta gateway: a porta di dominio (SPCoop application
// cooperation gateway) for the provincial labour network.
//
// Each subcommand lives in its own file of this package and registers itself with register in an
// init function, so that adding a subcommand never touches this file. Every command parses its
// flags with newFlags (flags.go): --help prints the usage on stdout and exits 0, a bad flag prints
// the error and the usage on stderr and exits 2.
package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// command is one subcommand of porta. run receives the arguments after the subcommand's name and
// returns the process exit code; it writes results to stdout and diagnostics to stderr.
type command struct {
	name    string // the word after "porta", e.g. "envelope"
	summary string // one line for "porta help"
	run     func(args []string, stdin io.Reader, stdout, stderr io.Writer) int
	// subs, when set, are the command's subcommands (porta trace verify, ...); run is then unused.
	subs map[string]subcommand
}

// commands is the table of subcommands, filled by register from each file's init.
var commands = map[string]command{}

func register(c command) {
	if _, dup := commands[c.name]; dup {
		panic("porta: command registered twice: " + c.name)
	}
	commands[c.name] = c
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "porta: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	if c.subs != nil {
		return dispatch(c.name, c.subs, args[1:], stdin, stdout, stderr)
	}
	return c.run(args[1:], stdin, stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: porta COMMAND [flags] [args]")
	fmt.Fprintln(w, "\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'porta COMMAND --help' for a command's flags.")
}

// subcommands dispatches a command that has sub-subcommands (porta envelope wrap, porta trace
// verify, ...). Each entry maps a name to its runner; summaries are printed on --help.
type subcommand struct {
	summary string
	run     func(args []string, stdin io.Reader, stdout, stderr io.Writer) int
}

func dispatch(parent string, subs map[string]subcommand, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		w := stdout
		if len(args) == 0 {
			w = stderr
		}
		fmt.Fprintf(w, "Usage: porta %s SUBCOMMAND [flags] [args]\n\n%s\n\nSubcommands:\n", parent, upperFirst(commands[parent].summary))
		names := make([]string, 0, len(subs))
		for n := range subs {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			fmt.Fprintf(w, "  %-14s %s\n", n, subs[n].summary)
		}
		fmt.Fprintf(w, "\nRun 'porta %s SUBCOMMAND --help' for a subcommand's flags.\n", parent)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	s, ok := subs[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "porta %s: unknown subcommand %q (one of: %s)\n", parent, args[0], strings.Join(keys(subs), ", "))
		return 2
	}
	return s.run(args[1:], stdin, stdout, stderr)
}

func keys(m map[string]subcommand) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

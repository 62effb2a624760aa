package main

import (
	"sort"
	"strings"
	"testing"
)

// Every command and subcommand of the dispatcher's table answers --help and -h with its usage on
// stdout and exit 0; a flag it does not know is an error on stderr, with the usage, and exit 2.
func TestEveryCommandHelp(t *testing.T) {
	var names []string
	for name, c := range commands {
		names = append(names, name)
		for sub := range c.subs {
			names = append(names, name+" "+sub)
		}
	}
	sort.Strings(names)
	if len(names) < 25 {
		t.Fatalf("only %d commands in the table: %v", len(names), names)
	}
	for _, name := range names {
		args := strings.Fields(name)
		for _, h := range []string{"--help", "-h"} {
			code, out, errs := runPorta(t, nil, append(args, h)...)
			if code != 0 || !strings.HasPrefix(out, "Usage: porta "+name+" ") || errs != "" {
				t.Errorf("porta %s %s: exit %d, stdout %.80q, stderr %.80q; want 0 and \"Usage: porta %s\" on stdout", name, h, code, out, errs, name)
			}
			if s := summaryOf(name); s == "" || !strings.Contains(out, upperFirst(s)) {
				t.Errorf("porta %s %s: the usage lacks the summary %q", name, h, s)
			}
		}
		if _, leaf := commands[name]; leaf && commands[name].subs != nil {
			continue // a command with subcommands has no flags of its own
		}
		code, out, errs := runPorta(t, nil, append(args, "--no-such-flag")...)
		if code != 2 || out != "" || !strings.Contains(errs, "flag provided but not defined: -no-such-flag") || !strings.Contains(errs, "Usage: porta "+name) {
			t.Errorf("porta %s --no-such-flag: exit %d, stdout %.80q, stderr %.200q; want 2, the error and the usage on stderr", name, code, out, errs)
		}
	}
}

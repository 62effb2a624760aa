package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"porta/audit/seal"
	"porta/gateway/node"
)

// porta trace key rotate|list: the keys that encrypt personal data at rest (package audit/seal).
// rotate adds a key, the newest, which a gateway seals with from its next start; the older keys
// stay and still open what they sealed, so no record is rewritten.

const traceKeySummary = "rotate|list the keys that encrypt personal data at rest"

func traceKey(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	usage := "Usage: porta trace key rotate|list --config DIR/porta.yaml | --keys DIR\n\n" +
		upperFirst(traceKeySummary) + ":\n" +
		"  rotate  add a new trace key (the newest encrypts from the next start; older keys still decrypt)\n" +
		"  list    list the trace keys, oldest first, the one that encrypts marked\n"
	if len(args) == 0 || (args[0] != "rotate" && args[0] != "list") {
		switch {
		case len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help"):
			fmt.Fprint(stdout, usage)
			return 0
		case len(args) > 0 && strings.HasPrefix(args[0], "-"):
			fmt.Fprintf(stderr, "flag provided but not defined: %s\n", "-"+strings.TrimLeft(args[0], "-"))
		case len(args) > 0:
			fmt.Fprintf(stderr, "porta trace key: unknown subcommand %q (one of: list, rotate)\n", args[0])
		}
		fmt.Fprint(stderr, usage)
		return 2
	}
	sub := args[0]
	fs := newFlags("trace key "+sub, "--config DIR/porta.yaml | --keys DIR", stdout, stderr)
	config := fs.String("config", "", "porta.yaml whose trace.keys directory to use")
	dir := fs.String("keys", "", "the trace keys' directory (overrides --config)")
	if code, done := fs.parse(args[1:]); done {
		return code
	}
	if fs.NArg() > 0 {
		return fs.fail("unexpected argument %q", fs.Arg(0))
	}
	keyDir, err := traceKeyDir(*config, *dir)
	if err != nil {
		fmt.Fprintf(stderr, "porta trace key %s: %v\n", sub, err)
		return 2
	}
	if sub == "rotate" {
		id, err := seal.Add(keyDir, time.Now())
		if err != nil {
			fmt.Fprintf(stderr, "porta trace key rotate: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "added trace key %s in %s: it encrypts from the gateway's next start (restart porta serve); the older keys still decrypt\n", id, keyDir)
		return 0
	}
	k, err := seal.Load(keyDir)
	if err != nil {
		fmt.Fprintf(stderr, "porta trace key list: %v\n", err)
		return 1
	}
	for _, id := range k.IDs() {
		mark := ""
		if id == k.Current() {
			mark = "  (encrypts)"
		}
		fmt.Fprintf(stdout, "%s%s\n", id, mark)
	}
	return 0
}

// traceKeyDir is the trace keys' directory named by --keys, else by --config's trace.keys.
func traceKeyDir(config, dir string) (string, error) {
	if dir != "" {
		return dir, nil
	}
	if config == "" {
		return "", errors.New("give --config DIR/porta.yaml or --keys DIR")
	}
	cfg, err := node.LoadConfig(config)
	if err != nil {
		return "", err
	}
	return cfg.TraceKeys, nil
}

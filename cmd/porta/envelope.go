package main

import "io"

// envelopeSubcommands holds "porta envelope ..." subcommands; each file that implements one adds
// it in its init function (wrap and validate, sign and verify).
var envelopeSubcommands = map[string]subcommand{}

func init() {
	register(command{
		name:    "envelope",
		summary: "wrap, sign, verify and validate eGov buste (stdin to stdout)",
		run: func(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
			return dispatch("envelope", envelopeSubcommands, args, stdin, stdout, stderr)
		},
	})
}

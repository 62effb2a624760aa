package main

// envelopeSubcommands holds "porta envelope ..." subcommands; each file that implements one adds
// it in its init function (wrap and validate, sign and verify).
var envelopeSubcommands = map[string]subcommand{}

func init() {
	register(command{
		name:    "envelope",
		summary: "wrap, sign, verify and validate eGov buste (stdin to stdout)",
		subs:    envelopeSubcommands,
	})
}

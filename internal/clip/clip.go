// Package clip shortens what a request brought before porta repeats it: in a fault string, a log
// line or a trace record's detail. A peer that sends a 60 KB header value gets back, and leaves in
// the log, at most Max bytes of it and a mark saying how long it was. It owns only that rule; it
// does not log, write or parse anything.
package clip

import (
	"strconv"
	"unicode/utf8"
)

// Max is how many bytes of a value Echo keeps.
const Max = 256

// Echo returns s when it is at most Max bytes long; else its first Max bytes (cut at a UTF-8
// boundary) followed by "…(truncated, N bytes)", N being the length of s.
func Echo(s string) string { return To(s, Max) }

// To is Echo with a limit of n bytes, for texts made of several echoed values (a whole fault
// string or error message).
func To(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…(truncated, " + strconv.Itoa(len(s)) + " bytes)"
}

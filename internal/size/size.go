// Package size reads the byte counts people write in porta.yaml and on the command line
// (limits.max_message, --memory-limit, porta bench --payload) with one meaning everywhere:
// KB, MB, GB are powers of 1000 and KiB, MiB, GiB powers of 1024, as SI and IEC define them.
// It only parses; it knows nothing of what the sizes limit.
package size

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

var sizeRE = regexp.MustCompile(`^(\d+)\s*([A-Za-z]*)$`)

// units are the suffixes Parse accepts, in lower case (the unit's case does not matter).
var units = map[string]int64{
	"": 1, "b": 1,
	"kb": 1e3, "mb": 1e6, "gb": 1e9,
	"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30,
}

// Parse reads a byte count: a whole number, optionally followed by B, KB, MB, GB (powers of
// 1000) or KiB, MiB, GiB (powers of 1024), in any case, with or without a space: "512",
// "100MB" (10^8 bytes), "16 MiB" (2^24 bytes).
func Parse(s string) (int64, error) {
	m := sizeRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, fmt.Errorf("size %q: want a number of bytes, optionally with B, KB, MB, GB (powers of 1000) or KiB, MiB, GiB (powers of 1024)", s)
	}
	mult, ok := units[strings.ToLower(m[2])]
	if !ok {
		return 0, fmt.Errorf("size %q: unit %q: want B, KB, MB, GB (powers of 1000) or KiB, MiB, GiB (powers of 1024)", s, m[2])
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil || n > (1<<62)/mult {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return n * mult, nil
}

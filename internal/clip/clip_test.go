package clip

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestEcho(t *testing.T) {
	for _, tt := range []struct{ name, in, want string }{
		{"empty", "", ""},
		{"short", "Provincia_ProvinciaSPCoopIT_0000001", "Provincia_ProvinciaSPCoopIT_0000001"},
		{"exactly Max", strings.Repeat("a", Max), strings.Repeat("a", Max)},
		{"one over", strings.Repeat("a", Max+1), strings.Repeat("a", Max) + "…(truncated, 257 bytes)"},
		{"60 KB", strings.Repeat("Q", 60_000), strings.Repeat("Q", Max) + "…(truncated, 60000 bytes)"},
		// 'è' is two bytes: the cut falls inside the rune at Max-1..Max and moves before it.
		{"rune across the cut", strings.Repeat("a", Max-1) + "è" + "zz", strings.Repeat("a", Max-1) + "…(truncated, 259 bytes)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := Echo(tt.in)
			if got != tt.want {
				t.Errorf("Echo = %q (%d bytes), want %q", got, len(got), tt.want)
			}
			if !utf8.ValidString(got) {
				t.Errorf("Echo cut a rune: %q", got)
			}
		})
	}
}

func TestTo(t *testing.T) {
	if got := To("abcdef", 3); got != "abc…(truncated, 6 bytes)" {
		t.Errorf("To = %q", got)
	}
	if got := To("abc", 3); got != "abc" {
		t.Errorf("To = %q", got)
	}
}

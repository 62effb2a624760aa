package size

import "testing"

func TestParse(t *testing.T) {
	for in, want := range map[string]int64{
		"1024": 1024, "7B": 7, "64b": 64,
		"1KB": 1000, "100kb": 100_000, "100MB": 100_000_000, "1GB": 1e9, "10 MB": 10_000_000,
		"2 KiB": 2048, "16MiB": 16 << 20, "100MiB": 100 << 20, "1gib": 1 << 30,
	} {
		if got, err := Parse(in); err != nil || got != want {
			t.Errorf("Parse(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1", "1TiB", "lots", "1.5MB", "MB", "99999999999999999999GiB", "9999999999GiB"} {
		if _, err := Parse(in); err == nil {
			t.Errorf("Parse(%q) succeeded", in)
		}
	}
}

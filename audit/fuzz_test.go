package audit

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// FuzzStripBody: for any input, StripBody either refuses it or keeps a prefix and a suffix of
// it (never inventing bytes), and stripping again changes nothing.
func FuzzStripBody(f *testing.F) {
	f.Add([]byte(fmt.Sprintf(envelopeXML, busta(1))))
	f.Add([]byte(`<s:Envelope xmlns:s="urn:s"><s:Body/></s:Envelope>`))
	f.Add([]byte(`<Envelope><Header><Body>not this one</Body></Header><Body>x</Body></Envelope>`))
	f.Add([]byte(`<a><Body>`))
	f.Fuzz(func(t *testing.T, env []byte) {
		out, err := StripBody(env)
		if err != nil {
			return
		}
		if len(out) > len(env) {
			t.Fatalf("output longer than input: %q -> %q", env, out)
		}
		i := 0
		for i < len(out) && out[i] == env[i] {
			i++
		}
		if !bytes.HasSuffix(env, out[i:]) {
			t.Fatalf("output is not a prefix and a suffix of the input: %q -> %q", env, out)
		}
		again, err := StripBody(out)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("stripping twice: %q, %v (first %q)", again, err, out)
		}
	})
}

// FuzzParseDSN: any string either parses to a known dialect or is refused with a message
// naming the forms accepted; it never panics.
func FuzzParseDSN(f *testing.F) {
	for _, s := range []string{"", "sqlite:/tmp/a.db", "a.db", "postgres://u@h/db", "sqlite:", "x?y", "mysql://h"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, dsn string) {
		dialect, driver, source, err := ParseDSN(dsn)
		if err != nil {
			if !strings.Contains(err.Error(), "sqlite:PATH") {
				t.Fatalf("error %q does not say what is accepted", err)
			}
			return
		}
		if (dialect == "sqlite") != (driver == "sqlite3") || (dialect == "postgres") != (driver == "pgx") || source == "" {
			t.Fatalf("ParseDSN(%q) = %q %q %q", dsn, dialect, driver, source)
		}
	})
}

package audit

import (
	"bytes"
	"encoding/xml"
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

// bodySpanDecoder is bodySpan as encoding/xml reads it, the reference for FuzzBodySpan.
func bodySpanDecoder(env []byte) (start, end int, ok bool) {
	d := xml.NewDecoder(bytes.NewReader(env))
	depth := 0
	start = -1
	for {
		before := d.InputOffset()
		tok, err := d.RawToken()
		if err != nil {
			return 0, 0, false
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			if depth == 2 && t.Name.Local == "Body" && start < 0 {
				start = int(d.InputOffset())
			}
		case xml.EndElement:
			if depth == 2 && t.Name.Local == "Body" && start >= 0 {
				return start, int(before), true
			}
			depth--
		}
	}
}

// declaration reports whether env has a "<!" that starts neither a comment nor a CDATA section:
// a DTD construct, which no envelope Porta reads carries and whose quoting encoding/xml reads
// its own way.
func declaration(env []byte) bool {
	for i := bytes.Index(env, []byte("<!")); i >= 0; {
		if rest := env[i:]; !bytes.HasPrefix(rest, []byte("<!--")) && !bytes.HasPrefix(rest, []byte("<![CDATA[")) {
			return true
		}
		j := bytes.Index(env[i+2:], []byte("<!"))
		if j < 0 {
			break
		}
		i += 2 + j
	}
	return false
}

// FuzzBodySpan: where encoding/xml finds the Body of an envelope without DTD constructs,
// bodySpan finds the same bytes.
func FuzzBodySpan(f *testing.F) {
	f.Add([]byte(fmt.Sprintf(envelopeXML, busta(1))))
	f.Add([]byte(`<s:Envelope xmlns:s="urn:s"><s:Body/></s:Envelope>`))
	f.Add([]byte(`<Envelope><Header><Body>not this one</Body></Header><!-- <Body> --><Body a='>' b="</Body>"><![CDATA[</Body>]]><?p </Body>?>x</Body></Envelope>`))
	f.Add([]byte("<?xml version=\"1.0\"?>\n<e:Envelope\n xmlns:e='u'><e:Body\n><x/></e:Body ></e:Envelope>"))
	f.Fuzz(func(t *testing.T, env []byte) {
		ws, we, ok := bodySpanDecoder(env)
		if !ok || declaration(env) {
			return
		}
		s, e, err := bodySpan(env)
		if err != nil || s != ws || e != we {
			t.Fatalf("bodySpan = %d, %d, %v; encoding/xml %d, %d\n%q", s, e, err, ws, we, env)
		}
	})
}

// An envelope whose body holds an element of a million attributes costs its bytes: bodySpan
// allocates nothing.
func TestBodySpanAttributes(t *testing.T) {
	var b bytes.Buffer
	b.WriteString(`<s:Envelope xmlns:s="urn:s"><s:Body><e`)
	for i := range 1_000_000 {
		fmt.Fprintf(&b, ` a%d=""`, i)
	}
	b.WriteString(`/></s:Body></s:Envelope>`)
	env := b.Bytes()
	var body []byte
	allocs := testing.AllocsPerRun(1, func() { body, _ = BodyContent(env) })
	if allocs > 0 || len(body) != len(env)-len(`<s:Envelope xmlns:s="urn:s"><s:Body>`)-len(`</s:Body></s:Envelope>`) {
		t.Errorf("%v allocations, %d bytes of body", allocs, len(body))
	}
}

package soapenv

import (
	"strings"
	"testing"
)

func TestWrapPayloadRoundTrip(t *testing.T) {
	in := `<?xml version="1.0"?>` + "\n" + `<t:a xmlns:t="urn:t"><t:b>x</t:b></t:a>`
	env, err := Wrap([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	got, err := Payload(env)
	if err != nil {
		t.Fatal(err)
	}
	if want := `<t:a xmlns:t="urn:t" xmlns:soapenv="` + NS + `"><t:b>x</t:b></t:a>`; string(got) != want {
		t.Errorf("Payload(Wrap(x)) = %s, want %s", got, want)
	}
}

func TestPayloadKeepsInheritedNamespaces(t *testing.T) {
	env := `<s:Envelope xmlns:s="` + NS + `" xmlns:t="urn:t"><s:Body xmlns="urn:d"><t:a><c/></t:a><t:second/></s:Body></s:Envelope>`
	got, err := Payload([]byte(env))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`xmlns="urn:d"`, `xmlns:t="urn:t"`, `xmlns:s="` + NS + `"`, `<c/>`} {
		if !strings.Contains(string(got), want) {
			t.Errorf("Payload = %s, lacks %s", got, want)
		}
	}
	if strings.Contains(string(got), "second") {
		t.Errorf("Payload = %s, want the first Body child only", got)
	}
}

func TestPayloadRefusals(t *testing.T) {
	for _, tt := range []struct{ in, err string }{
		{`not xml <`, "not XML"},
		{`<Envelope/>`, "not a SOAP 1.1 envelope"},
		{`<s:Envelope xmlns:s="` + NS + `"><s:Header/></s:Envelope>`, "no SOAP Body"},
	} {
		if _, err := Payload([]byte(tt.in)); err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("Payload(%q) = %v, want %q", tt.in, err, tt.err)
		}
	}
	got, err := Payload([]byte(`<s:Envelope xmlns:s="` + NS + `"><s:Body/></s:Envelope>`))
	if got != nil || err != nil {
		t.Errorf("empty Body: got %q, %v, want nothing", got, err)
	}
	for _, bad := range []string{"", "text", `<?xml version="1.0"`, `<!DOCTYPE x><x/>`} {
		if _, err := Wrap([]byte(bad)); err == nil {
			t.Errorf("Wrap(%q) accepted", bad)
		}
	}
}

package swa

import (
	"bytes"
	"net/textproto"
	"os"
	"strings"
	"testing"
)

func TestWriteParseRoundTrip(t *testing.T) {
	pdf, err := os.ReadFile("../../testdata/swa/allegato.pdf")
	if err != nil {
		t.Fatal(err)
	}
	m := &Message{
		Root: Part{Content: []byte(`<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body/></soap:Envelope>`)},
		Attachments: []Part{
			{ContentID: "allegato.pdf", ContentType: "application/pdf", Content: pdf, Header: textproto.MIMEHeader{"Content-Disposition": {`attachment; filename="allegato.pdf"`}}},
			{ContentID: "nota", ContentType: "text/plain", Content: []byte("--not a boundary\r\n")},
		},
	}
	ct, body, err := m.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if !IsMultipart(ct) || !strings.Contains(ct, `type="text/xml"`) {
		t.Fatalf("Content-Type %s", ct)
	}
	got, err := Parse(ct, body)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Root.Content, m.Root.Content) || len(got.Attachments) != 2 {
		t.Fatalf("root %q, %d attachments", got.Root.Content, len(got.Attachments))
	}
	p, ok := got.Find("allegato.pdf")
	if !ok || !bytes.Equal(p.Content, pdf) || p.ContentType != "application/pdf" || p.Header.Get("Content-Disposition") == "" {
		t.Errorf("the PDF came back as %+v", p)
	}
	// Not copied: the PDF's bytes are those of the message.
	if i := bytes.Index(body, pdf); i < 0 || &body[i] != &p.Content[0] {
		t.Error("the parsed attachment is a copy, not a slice of the message")
	}
	if n, _ := got.Find("nota"); string(n.Content) != "--not a boundary\r\n" {
		t.Errorf("nota = %q", n.Content)
	}
}

func TestParse(t *testing.T) {
	const ct = `multipart/related; type="text/xml"; boundary="b1"; start="<root>"`
	tests := []struct {
		name, ct, body string
		err            string
		atts           map[string]string
	}{
		{"LF line breaks, preamble, start not first, base64", ct,
			"preamble\n--b1\nContent-ID: <a>\nContent-Transfer-Encoding: base64\n\nY2lhbw==\n--b1\nContent-Type: text/xml\nContent-ID: <root>\n\n<e/>\n--b1--\n", "",
			map[string]string{"a": "ciao"}},
		{"quoted-printable", ct, "--b1\r\nContent-Type: text/xml\r\nContent-ID: <root>\r\n\r\n<e/>\r\n--b1\r\nContent-ID: <q>\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nsc=C3=A8lta\r\n--b1--", "",
			map[string]string{"q": "scèlta"}},
		{"no closing boundary", ct, "--b1\r\nContent-Type: text/xml\r\nContent-ID: <root>\r\n\r\n<e/>", "no closing boundary", nil},
		{"root not text/xml", ct, "--b1\r\nContent-Type: application/soap+xml\r\nContent-ID: <root>\r\n\r\n<e/>\r\n--b1--", "want text/xml", nil},
		{"SOAP 1.2 type", `multipart/related; type="application/soap+xml"; boundary=b1`, "", "wants type", nil},
		{"attachment without Content-ID", ct, "--b1\r\nContent-Type: text/xml\r\nContent-ID: <root>\r\n\r\n<e/>\r\n--b1\r\nContent-Type: text/plain\r\n\r\nx\r\n--b1--", "has no Content-ID", nil},
		{"duplicate Content-ID", ct, "--b1\r\nContent-Type: text/xml\r\nContent-ID: <root>\r\n\r\n<e/>\r\n--b1\r\nContent-ID: <root>\r\n\r\nx\r\n--b1--", "used twice", nil},
		{"unknown start", `multipart/related; type="text/xml"; boundary=b1; start="<x>"`, "--b1\r\nContent-Type: text/xml\r\nContent-ID: <root>\r\n\r\n<e/>\r\n--b1--", "start Content-ID <x>", nil},
		{"unknown transfer encoding", ct, "--b1\r\nContent-Type: text/xml\r\nContent-ID: <root>\r\n\r\n<e/>\r\n--b1\r\nContent-ID: <a>\r\nContent-Transfer-Encoding: x-uue\r\n\r\nx\r\n--b1--", "not supported", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Parse(tt.ct, []byte(tt.body))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(m.Root.Content) != "<e/>" {
				t.Errorf("root = %q", m.Root.Content)
			}
			for id, want := range tt.atts {
				if p, ok := m.Find(id); !ok || string(p.Content) != want {
					t.Errorf("attachment %s = %+v, want %q", id, p, want)
				}
			}
		})
	}
}

func TestFrame(t *testing.T) {
	env := []byte("<soap:Envelope/>")
	if ct, b := Unframe(Frame("", env)); ct != "" || !bytes.Equal(b, env) {
		t.Errorf("plain: %q %q", ct, b)
	}
	const ct = `multipart/related; boundary="b"; type="text/xml"`
	if got, b := Unframe(Frame(ct, []byte("--b\r\n"))); got != ct || string(b) != "--b\r\n" {
		t.Errorf("framed: %q %q", got, b)
	}
	m := &Message{Root: Part{Content: env}, Attachments: []Part{{ContentID: "a", ContentType: "text/plain", Content: []byte("x")}}}
	framed, err := m.Framed()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Parse(Unframe(framed))
	if err != nil || !bytes.Equal(got.Root.Content, env) || string(got.Attachments[0].Content) != "x" {
		t.Errorf("Framed reads back as %+v, %v", got, err)
	}
}

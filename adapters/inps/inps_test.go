package inps

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"porta/adapters/sil/siltest"
	"porta/xsd"
)

const schema = "labour/inps.xsd"

func d(s string) time.Time { t, _ := time.Parse(time.DateOnly, s); return t }

func sample() *List {
	return &List{ID: "INPS-BO-2026-0007", Date: d("2026-03-01"), Sede: "1300", Provincia: "BO", Recipients: []Recipient{
		{CodiceFiscale: "RSSMRA77L18H501W", Cognome: "ROSSI", Nome: "MARIO", DataNascita: d("1977-07-18"),
			Company: Company{"02112345679", "3700012345", "OFFICINE MECCANICHE RENO SPA", "A944"}, Benefit: CIGS,
			NumeroDomanda: "2026-000001", DataInizio: d("2026-01-12"), DataFine: d("2026-12-31"), Importo: "1012.35"},
		{CodiceFiscale: "FRRMRC70B20D969B", Cognome: "FERRARI", Nome: "MARCO", DataNascita: d("1970-02-20"),
			Company: Company{"03456789019", "3700067890", "CERAMICHE DEL SANTERNO SRL", "E289"}, Benefit: NASPI,
			NumeroDomanda: "2026-000002", DataInizio: d("2026-02-01")},
	}}
}

type sink struct {
	got    []*List
	source string
	err    error
}

func (s *sink) ReceiveINPS(_ context.Context, source string, l *List) error {
	s.got, s.source = append(s.got, l), source
	return s.err
}

func TestBuildParseGolden(t *testing.T) {
	doc, err := Build(sample())
	if err != nil {
		t.Fatal(err)
	}
	siltest.Golden(t, "inbound/inps/elenco_percettori.xml", doc)
	siltest.Xmllint(t, schema, doc)
	l, err := Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	want := sample()
	if l.ID != want.ID || !l.Date.Equal(want.Date) || len(l.Recipients) != 2 {
		t.Fatalf("parsed %+v", l)
	}
	for i := range want.Recipients {
		if !reflect.DeepEqual(l.Recipients[i], want.Recipients[i]) {
			t.Errorf("recipient %d:\n got %+v\nwant %+v", i, l.Recipients[i], want.Recipients[i])
		}
	}
	if l.Recipients[0].Importo != "1012.35" {
		t.Errorf("amount %q: decimals must survive exactly", l.Recipients[0].Importo)
	}
}

func TestReceiver(t *testing.T) {
	doc, _ := Build(sample())
	s := &sink{}
	h := &Receiver{Source: "INPS", Sink: s}
	resp, err := h.Handle(context.Background(), doc)
	if err != nil || resp != nil {
		t.Fatalf("one-way: resp %q, err %v", resp, err)
	}
	if len(s.got) != 1 || s.source != "INPS" || len(s.got[0].Recipients) != 2 {
		t.Fatalf("sink got %+v from %q", s.got, s.source)
	}
	s.err = errors.New("disk full")
	if _, err := h.Handle(context.Background(), doc); err == nil || !strings.Contains(err.Error(), "INPS-BO-2026-0007") {
		t.Fatalf("a sink failure must be an error naming the list, got %v", err)
	}
}

func TestParseErrors(t *testing.T) {
	ns := `xmlns="` + Namespace + `"`
	tests := []struct{ name, doc, field string }{
		{"not xml", `<ElencoPercettori`, "ElencoPercettori"},
		{"wrong root", `<Altro ` + ns + `/>`, "ElencoPercettori"},
		{"wrong namespace", `<ElencoPercettori xmlns="urn:x"/>`, "ElencoPercettori"},
		{"doctype", `<!DOCTYPE ElencoPercettori><ElencoPercettori ` + ns + `/>`, "ElencoPercettori"},
		{"no header", `<ElencoPercettori ` + ns + `><Percettore/></ElencoPercettori>`, "Intestazione"},
		{"bad date", `<ElencoPercettori ` + ns + `><Intestazione><IdentificativoElenco>X</IdentificativoElenco><DataElenco>2026-02-31</DataElenco></Intestazione></ElencoPercettori>`, "ElencoPercettori"},
		{"no workers", `<ElencoPercettori ` + ns + `><Intestazione><IdentificativoElenco>X</IdentificativoElenco><DataElenco>2026-02-01</DataElenco></Intestazione></ElencoPercettori>`, "Percettore"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.doc))
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != tc.field {
				t.Fatalf("err = %v, want a FieldError on %s", err, tc.field)
			}
		})
	}
}

// badList is sample() with a worker after each of its two: every kind of value the province must
// reject record by record (pattern, check character, missing element, date, amount, benefit).
func badList() *List {
	l := sample()
	good := l.Recipients
	bad := func(domanda string, f func(r *Recipient)) Recipient {
		r := good[0]
		r.NumeroDomanda = domanda
		f(&r)
		return r
	}
	l.Recipients = []Recipient{
		good[0],
		bad("2026-000003", func(r *Recipient) { r.CodiceFiscale = "RSSMRA77L18H501" }),  // 15 characters
		bad("2026-000004", func(r *Recipient) { r.CodiceFiscale = "RSSMRA77L18H501X" }), // check character
		bad("2026-000005", func(r *Recipient) { r.Cognome = "" }),
		bad("2026-000006", func(r *Recipient) { r.Importo = "12,50" }),
		bad("2026-000007", func(r *Recipient) { r.Benefit = "CIGX" }),
		bad("2026-000008", func(r *Recipient) { r.Company.Matricola = "37000" }),
		good[1],
	}
	return l
}

// TestBadWorkersPassTheSchema: the schema the gateway checks a list against describes each
// Percettore's structure, not its values, so a list with bad workers is valid (for xmllint and
// for the gateway's validator) and reaches the province, which rejects the bad ones alone.
func TestBadWorkersPassTheSchema(t *testing.T) {
	doc, err := Build(badList())
	if err != nil {
		t.Fatal(err)
	}
	siltest.Golden(t, "inbound/inps/elenco_percettori_errori.xml", doc)
	siltest.Xmllint(t, schema, doc)
	set, err := xsd.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	if err := set.Validate(schema, doc); err != nil {
		t.Fatalf("the gateway's validator refuses the list: %v", err)
	}
	l, err := Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Recipients) != 8 || l.Recipients[3].Cognome != "" || l.Recipients[4].Importo != "12,50" || l.Recipients[5].Benefit != "CIGX" {
		t.Fatalf("the workers must come back as sent: %+v", l.Recipients)
	}
	// A structural fault still refuses the list: an element Percettore does not have.
	wrong := bytes.Replace(doc, []byte("<Cognome>ROSSI</Cognome>"), []byte("<Cognome>ROSSI</Cognome><Soprannome>X</Soprannome>"), 1)
	if err := set.Validate(schema, wrong); err == nil {
		t.Fatal("an unknown element in Percettore passed the schema")
	}
}

// TestParseKeepsUnreadableDates: a date that is not an xs:date is noted on its record, which
// Parse returns with the others; the list is not refused.
func TestParseKeepsUnreadableDates(t *testing.T) {
	doc, err := Build(sample())
	if err != nil {
		t.Fatal(err)
	}
	doc = bytes.Replace(doc, []byte("<DataNascita>1970-02-20</DataNascita>"), []byte("<DataNascita>1970-02-30</DataNascita>"), 1)
	doc = bytes.Replace(doc, []byte("<DataInizioPrestazione>2026-01-12</DataInizioPrestazione>"), []byte("<DataInizioPrestazione>12/01/2026</DataInizioPrestazione>"), 1)
	siltest.Xmllint(t, schema, doc)
	l, err := Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]Unreadable{
		{{Field: "Percettore/Prestazione/DataInizioPrestazione", Rule: "xs:date (aaaa-mm-gg)", Value: "12/01/2026"}},
		{{Field: "Percettore/DataNascita", Rule: "xs:date (aaaa-mm-gg)", Value: "1970-02-30"}},
	}
	for i, r := range l.Recipients {
		if !reflect.DeepEqual(r.Unreadable, want[i]) {
			t.Errorf("recipient %d: unreadable %+v, want %+v", i+1, r.Unreadable, want[i])
		}
	}
	if !l.Recipients[0].DataInizio.IsZero() || !l.Recipients[1].DataNascita.IsZero() || l.Recipients[0].DataNascita != d("1977-07-18") {
		t.Errorf("an unreadable date reads as zero, the others as sent: %+v", l.Recipients)
	}
}

func TestGenerateDeterministic(t *testing.T) {
	var people []Person
	for i := range 100 {
		people = append(people, Person{CodiceFiscale: "X" + string(rune('A'+i%26)), Cognome: "C", Nome: "N", DataNascita: d("1980-01-01")})
	}
	opt := GenOptions{Seed: 3, Date: d("2026-03-01"), Share: 0.2, ID: "L1"}
	a, b := Generate(people, opt), Generate(people, opt)
	if len(a.Recipients) == 0 || len(a.Recipients) != len(b.Recipients) {
		t.Fatalf("%d vs %d", len(a.Recipients), len(b.Recipients))
	}
	for i := range a.Recipients {
		if !reflect.DeepEqual(a.Recipients[i], b.Recipients[i]) {
			t.Fatalf("not deterministic at %d", i)
		}
	}
	doc, err := Build(a)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Parse(doc); err != nil {
		t.Fatal(err)
	}
}

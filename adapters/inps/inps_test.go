package inps

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"porta/adapters/sil/siltest"
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
		if l.Recipients[i] != want.Recipients[i] {
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

func TestBuildRejectsBadAmount(t *testing.T) {
	l := sample()
	l.Recipients[1].Importo = "12,50"
	_, err := Build(l)
	var fe *FieldError
	if !errors.As(err, &fe) || !strings.Contains(fe.Field, "Percettore[2]") {
		t.Fatalf("err = %v", err)
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
		if a.Recipients[i] != b.Recipients[i] {
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

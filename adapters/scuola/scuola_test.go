package scuola

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/mattn/go-sqlite3"

	"porta/adapters/sil/siltest"
	"porta/xsd"
)

const schema = "labour/scuola.xsd"

func openData(t *testing.T) *Attendance {
	t.Helper()
	db, err := sqlx.Open("sqlite3", "file:"+filepath.Join(t.TempDir(), "scuola.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	a, err := OpenAttendance(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

var (
	day0 = time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
	d    = func(s string) time.Time { t, _ := time.Parse(time.DateOnly, s); return t }
)

func samplePupils() []Pupil {
	return []Pupil{
		{CodiceFiscale: "VRDLGU08C12A944E", Cognome: "VERDI", Nome: "LUIGI", DataNascita: d("2008-03-12"), ClasseAnno: 3, ClasseSezione: "B", Stato: Interrotto, Momento: Interruzione, DataEvento: d("2026-01-20")},
		{CodiceFiscale: "BNCGLI09E55A944D", Cognome: "BIANCHI", Nome: "GIULIA", DataNascita: d("2009-05-15"), ClasseAnno: 2, ClasseSezione: "A", Stato: Frequentante, Momento: Avvio, DataEvento: d("2025-09-15")},
		{CodiceFiscale: "BRNSRA06M60L736L", Cognome: "BRUNO", Nome: "SARA", DataNascita: d("2006-08-20"), ClasseAnno: 5, ClasseSezione: "C", Stato: Trasferito, Momento: Trasferimento, DataEvento: d("2025-11-03"), ScuolaDestinazione: "BOIS00200B"},
	}
}

func TestServiceExtractionLifecycle(t *testing.T) {
	ctx := context.Background()
	data := openData(t)
	if err := data.Put(ctx, "BOIS00100X", "2025/2026", samplePupils()...); err != nil {
		t.Fatal(err)
	}
	now := day0
	svc := &Service{Data: data, Delay: time.Minute, Now: func() time.Time { return now }, NewID: func(s string) string { return "EXT-" + s + "-1" }}

	req, err := BuildRequest(Extraction{School: "BOIS00100X", Year: "2025/2026"})
	if err != nil {
		t.Fatal(err)
	}
	siltest.Golden(t, "inbound/scuola/richiesta_estrazione.xml", req)
	siltest.Xmllint(t, schema, req)

	receipt, err := svc.Handle(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	siltest.Golden(t, "inbound/scuola/ricevuta_estrazione.xml", receipt)
	siltest.Xmllint(t, schema, receipt)
	id, _, err := ParseReceipt(receipt)
	if err != nil || id != "EXT-BOIS00100X-1" {
		t.Fatalf("receipt id %q, %v", id, err)
	}

	poll, err := BuildPoll(id)
	if err != nil {
		t.Fatal(err)
	}
	siltest.Golden(t, "inbound/scuola/stato_estrazione.xml", poll)
	siltest.Xmllint(t, schema, poll)
	pending, err := svc.Handle(ctx, poll)
	if err != nil {
		t.Fatal(err)
	}
	siltest.Golden(t, "inbound/scuola/risposta_in_corso.xml", pending)
	siltest.Xmllint(t, schema, pending)
	if r, err := ParseResult(pending); err != nil || r.Status != InProgress {
		t.Fatalf("before the delay: %+v, %v; want IN_CORSO", r, err)
	}

	now = now.Add(time.Minute)
	done, err := svc.Handle(ctx, poll)
	if err != nil {
		t.Fatal(err)
	}
	siltest.Golden(t, "inbound/scuola/risposta_completata.xml", done)
	siltest.Xmllint(t, schema, done)
	r, err := ParseResult(done)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != Completed || len(r.Pupils) != 3 || r.School != "BOIS00100X" {
		t.Fatalf("result %+v", r)
	}
	byCF := map[string]Pupil{}
	for _, p := range r.Pupils {
		byCF[p.CodiceFiscale] = p
	}
	for _, want := range samplePupils() {
		if got := byCF[want.CodiceFiscale]; !reflect.DeepEqual(got, want) {
			t.Errorf("round trip of %s:\n got %+v\nwant %+v", want.CodiceFiscale, got, want)
		}
	}
}

func TestServiceFailures(t *testing.T) {
	ctx := context.Background()
	data := openData(t)
	svc := &Service{Data: data, Now: func() time.Time { return day0 }, NewID: func(s string) string { return "X1" }}
	tests := []struct {
		name    string
		payload string
		code    string // ERRORE code in the answer
		field   string // or a *FieldError naming this field
	}{
		{"unknown extraction", `<RichiestaStatoEstrazione xmlns="` + Namespace + `"><idEstrazione>NOPE</idEstrazione></RichiestaStatoEstrazione>`, CodeUnknownExtraction, ""},
		{"school without data", `<RichiestaEstrazione xmlns="` + Namespace + `"><codiceMeccanografico>MIIS00900Z</codiceMeccanografico><annoScolastico>2025/2026</annoScolastico></RichiestaEstrazione>`, CodeUnknownSchool, ""},
		{"bad school code", `<RichiestaEstrazione xmlns="` + Namespace + `"><codiceMeccanografico>BO1</codiceMeccanografico><annoScolastico>2025/2026</annoScolastico></RichiestaEstrazione>`, "", "codiceMeccanografico"},
		{"bad year", `<RichiestaEstrazione xmlns="` + Namespace + `"><codiceMeccanografico>BOIS00100X</codiceMeccanografico><annoScolastico>2025/2027</annoScolastico></RichiestaEstrazione>`, "", "annoScolastico"},
		{"wrong namespace", `<RichiestaEstrazione xmlns="urn:other"/>`, "", "root"},
		{"other element", `<RicevutaEstrazione xmlns="` + Namespace + `"/>`, "", "root"},
		{"doctype", `<!DOCTYPE x [<!ENTITY e "x">]><RichiestaEstrazione xmlns="` + Namespace + `"/>`, "", "root"},
		{"not xml", `<<<`, "", "root"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := svc.Handle(ctx, []byte(tc.payload))
			if tc.field != "" {
				var fe *FieldError
				if !errors.As(err, &fe) || fe.Field != tc.field {
					t.Fatalf("err = %v, want a FieldError on %s", err, tc.field)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if bytes.HasPrefix(out, []byte(xmlDecl)) && strings.Contains(string(out), "RicevutaEstrazione") {
				// an accepted request: poll it
				id, _, _ := ParseReceipt(out)
				p, _ := BuildPoll(id)
				if out, err = svc.Handle(ctx, p); err != nil {
					t.Fatal(err)
				}
			}
			siltest.Xmllint(t, schema, out)
			r, err := ParseResult(out)
			if err != nil || r.Status != Failed || r.Code != tc.code {
				t.Fatalf("result %+v, %v; want ERRORE %s", r, err, tc.code)
			}
		})
	}
}

const xmlDecl = "<?xml"

// One pupil's unreadable values do not sink the extraction: they are noted on that pupil (for
// the merge to reject it alone) and the other pupils are read as usual.
func TestParseResultNotesBadValuesPerPupil(t *testing.T) {
	doc := `<RispostaStatoEstrazione xmlns="` + Namespace + `"><idEstrazione>A</idEstrazione><stato>COMPLETATA</stato>
<codiceMeccanografico>BOIS00100X</codiceMeccanografico><annoScolastico>2025/2026</annoScolastico><listaAlunni><alunno>
<codiceFiscale>VRDLGU08C12A944E</codiceFiscale><cognome>V</cognome><nome>L</nome><dataNascita>2008-13-45</dataNascita>
<classe><anno>terza</anno><sezione>A</sezione></classe><statoFrequenza>ritirato</statoFrequenza>
<momentoComunicazione>INTERRUZIONE</momentoComunicazione><dataEvento>2025-11-03</dataEvento>
</alunno><alunno>
<codiceFiscale>RSSMRA09A01A944X</codiceFiscale><cognome>R</cognome><nome>M</nome><dataNascita>2009-01-01</dataNascita>
<classe><anno>2</anno><sezione>B</sezione></classe><statoFrequenza>frequentante</statoFrequenza>
<momentoComunicazione>AVVIO</momentoComunicazione><dataEvento>2025-09-15</dataEvento>
</alunno></listaAlunni></RispostaStatoEstrazione>`
	r, err := ParseResult([]byte(doc))
	if err != nil {
		t.Fatalf("one bad pupil failed the extraction: %v", err)
	}
	if len(r.Pupils) != 2 {
		t.Fatalf("%d pupils, want 2", len(r.Pupils))
	}
	bad, good := r.Pupils[0], r.Pupils[1]
	want := []Unreadable{
		{Field: "alunno/dataNascita", Rule: "xs:date (aaaa-mm-gg)", Value: "2008-13-45"},
		{Field: "alunno/classe/anno", Rule: "xs:positiveInteger", Value: "terza"},
	}
	if !reflect.DeepEqual(bad.Unreadable, want) || !bad.DataNascita.IsZero() || bad.ClasseAnno != 0 {
		t.Errorf("bad pupil %+v, want unreadable %+v and zero fields", bad, want)
	}
	if len(good.Unreadable) != 0 || good.ClasseAnno != 2 || good.DataNascita.Format("2006-01-02") != "2009-01-01" || good.Stato != Frequentante {
		t.Errorf("good pupil %+v", good)
	}
	// The header stays strict.
	if _, err := ParseResult([]byte(strings.Replace(doc, "BOIS00100X", "nope", 1))); err == nil || !strings.Contains(err.Error(), "codiceMeccanografico") {
		t.Errorf("bad header: err = %v, want one naming codiceMeccanografico", err)
	}
}

func TestGenerateDeterministic(t *testing.T) {
	var people []Person
	for i := range 200 {
		people = append(people, Person{CodiceFiscale: "P" + string(rune('A'+i%26)), Cognome: "X", Nome: "Y", DataNascita: time.Date(2005+i%8, time.Month(1+i%12), 1+i%28, 0, 0, 0, 0, time.UTC)})
	}
	opt := GenOptions{Seed: 7, Schools: []string{"BOIS00100X", "BOIS00200B"}, Year: 2025, DropOuts: 0.1, Transfers: 0.05}
	a, b := Generate(people, opt), Generate(people, opt)
	if len(a.DropOuts) == 0 || len(a.DropOuts) != len(b.DropOuts) {
		t.Fatalf("drop-outs %d vs %d", len(a.DropOuts), len(b.DropOuts))
	}
	for i := range a.DropOuts {
		if !reflect.DeepEqual(a.DropOuts[i], b.DropOuts[i]) {
			t.Fatalf("not deterministic at %d", i)
		}
	}
	total := 0
	for _, s := range a.Schools {
		for _, p := range s.Pupils {
			total++
			if age := p.AgeOn(time.Date(2025, 9, 1, 0, 0, 0, 0, time.UTC)); age < 14 || age > 19 {
				t.Errorf("pupil aged %d", age)
			}
			if p.Stato == Trasferito && (p.ScuolaDestinazione == "" || p.ScuolaDestinazione == s.School) {
				t.Errorf("transfer %+v from %s", p, s.School)
			}
		}
	}
	if total == 0 || a.Year != "2025/2026" {
		t.Fatalf("total %d year %s", total, a.Year)
	}
}

func TestExtractionID(t *testing.T) {
	tests := []struct{ busta, want string }{
		{"Provincia_ProvinciaSPCoopIT_0000042_2026-11-28_09:00", "Provincia_ProvinciaSPCoopIT_0000042_2026-11-28_09-00"},
		{"a.b c/d", "a-b-c-d"},
		{"già", "gi-"},
	}
	for _, tc := range tests {
		got := ExtractionID(tc.busta)
		if got != tc.want {
			t.Errorf("ExtractionID(%q) = %q, want %q", tc.busta, got, tc.want)
		}
		// What the school names the extraction is what the province polls with.
		poll, err := BuildPoll(got)
		if err != nil {
			t.Fatalf("BuildPoll(%q): %v", got, err)
		}
		if id, err := ParsePoll(poll); err != nil || id != got {
			t.Fatalf("ParsePoll = %q, %v; want %q", id, err, got)
		}
	}
}

// TestBadPupilsPassTheSchema: the schema describes each alunno's structure, not its values, so a
// school's list with bad pupils is valid (for xmllint and the gateway's validator) and reaches
// the province, which rejects the bad ones alone; a structural fault still refuses it.
func TestBadPupilsPassTheSchema(t *testing.T) {
	good := samplePupils()[0]
	badCF, noName, noDates, badClass := good, good, good, good
	badCF.CodiceFiscale = "VRDLGU08C12A944X"
	noName.Cognome, noName.Nome = "", ""
	noDates.DataNascita, noDates.DataEvento = time.Time{}, time.Time{}
	badClass.ClasseAnno, badClass.Stato = 0, "sparito"
	res := &Result{ID: "A", Status: Completed, School: "BOIS00100X", Year: "2025/2026", Pupils: []Pupil{good, badCF, noName, noDates, badClass}}
	doc, err := BuildResult(res)
	if err != nil {
		t.Fatal(err)
	}
	siltest.Xmllint(t, schema, doc)
	set, err := xsd.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	if err := set.Validate(schema, doc); err != nil {
		t.Fatalf("the gateway's validator refuses the list: %v", err)
	}
	back, err := ParseResult(doc)
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Pupils) != 5 || back.Pupils[1].CodiceFiscale != badCF.CodiceFiscale || back.Pupils[2].Cognome != "" ||
		!back.Pupils[3].DataNascita.IsZero() || back.Pupils[4].Stato != "sparito" || back.Pupils[4].ClasseAnno != 0 {
		t.Fatalf("the pupils must come back as sent: %+v", back.Pupils)
	}
	wrong := bytes.Replace(doc, []byte("<cognome>"), []byte("<soprannome>X</soprannome><cognome>"), 1)
	if err := set.Validate(schema, wrong); err == nil {
		t.Fatal("an unknown element in alunno passed the schema")
	}
}

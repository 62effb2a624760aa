package sil

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"porta/adapters/codicefiscale"
)

var now = time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)

func generate(t testing.TB, opt GenOptions) (*Generated, *Source) {
	t.Helper()
	dir := t.TempDir()
	g, err := Generate(context.Background(), dir, opt)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(g.Config)
	if err != nil {
		t.Fatal(err)
	}
	src, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	return g, src
}

func TestGenerateAndRead(t *testing.T) {
	ctx := context.Background()
	g, src := generate(t, GenOptions{Workers: 300, Seed: 7, Now: now, BadCheck: 4, MissingRequired: 3})
	if len(g.Planted) != 7 {
		t.Fatalf("planted %d, want 7", len(g.Planted))
	}
	planted := map[string]Planted{}
	for _, p := range g.Planted {
		planted[p.SILID] = p
	}
	ws, rejected, err := src.ChangedSince(ctx, now.AddDate(-2, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	if len(rejected) != 0 || len(ws) != 300 {
		t.Fatalf("read %d workers, %d rejected; want 300, 0", len(ws), len(rejected))
	}
	cfs := map[string]bool{}
	for _, w := range ws {
		err := w.CheckIdentity()
		if err == nil {
			err = w.CheckAddress("dom", w.Domicilio)
		}
		p, isPlanted := planted[w.ID]
		switch {
		case isPlanted && err == nil:
			t.Errorf("planted invalid worker %s passed the checks", w.ID)
		case isPlanted:
			var re *RecordError
			if !errors.As(err, &re) || re.Field != p.Field || re.Rule != p.Rule || re.SILID != w.ID {
				t.Errorf("worker %s: %v; want field %s rule %s", w.ID, err, p.Field, p.Rule)
			}
		case err != nil:
			t.Errorf("worker %s: %v", w.ID, err)
		}
		if cfs[w.CodiceFiscale] {
			t.Errorf("codice fiscale %s twice", w.CodiceFiscale)
		}
		cfs[w.CodiceFiscale] = true
		if len(w.Esperienze) == 0 && w.DataNascita.Before(now.AddDate(-20, 0, 0)) {
			t.Errorf("worker %s born %s has no experience", w.ID, w.DataNascita.Format(time.DateOnly))
		}
		if len(w.Istruzione) == 0 {
			t.Errorf("worker %s has no education", w.ID)
		}
		if !isPlanted {
			info, _ := codicefiscale.Decode(w.CodiceFiscale)
			if !info.Birth(now).Equal(w.DataNascita) || info.Belfiore != w.ComuneNascita || string(info.Sex) != w.Sesso {
				t.Errorf("worker %s: CF %s does not encode %s %s %s", w.ID, w.CodiceFiscale, w.DataNascita.Format(time.DateOnly), w.ComuneNascita, w.Sesso)
			}
		}
	}

	// One worker by CF, lists included, identical to the batch read.
	w0 := ws[10]
	one, err := src.Worker(ctx, w0.CodiceFiscale)
	if err != nil {
		t.Fatal(err)
	}
	if one.ID != w0.ID || len(one.Esperienze) != len(w0.Esperienze) || len(one.Lingue) != len(w0.Lingue) || one.Admin != w0.Admin {
		t.Errorf("Worker(%s) = %+v, want %+v", w0.CodiceFiscale, one, w0)
	}
	if _, err := src.Worker(ctx, "RSSMRA77L18H501W"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown CF: %v, want ErrNotFound", err)
	}

	// Changed since: exactly the workers updated after the instant.
	since := now.AddDate(0, -1, 0)
	recent, _, err := src.ChangedSince(ctx, since)
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, w := range ws {
		if w.UpdatedAt.After(since) {
			want++
		}
	}
	if len(recent) != want || want == 0 {
		t.Errorf("changed since %s: %d workers, want %d", since, len(recent), want)
	}
}

func TestDeterministic(t *testing.T) {
	ctx := context.Background()
	_, a := generate(t, GenOptions{Workers: 50, Seed: 3, Now: now})
	_, b := generate(t, GenOptions{Workers: 50, Seed: 3, Now: now})
	wa, _, _ := a.ChangedSince(ctx, time.Time{})
	wb, _, _ := b.ChangedSince(ctx, time.Time{})
	for i := range wa {
		if wa[i].CodiceFiscale != wb[i].CodiceFiscale || wa[i].Email != wb[i].Email {
			t.Fatalf("same seed, different worker %d: %s vs %s", i, wa[i].CodiceFiscale, wb[i].CodiceFiscale)
		}
	}
}

func TestReadOnly(t *testing.T) {
	_, src := generate(t, GenOptions{Workers: 1, Seed: 1, Now: now})
	if _, err := src.db.Exec("DELETE FROM lavoratore"); err == nil {
		t.Fatal("the SIL accepted a write")
	}
}

func TestUnreadableRowRejectedAlone(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	g, err := Generate(ctx, dir, GenOptions{Workers: 5, Seed: 2, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	// Corrupt one worker's birth date through a writable handle.
	db := openRW(t, g.Database)
	if _, err := db.Exec(`UPDATE lavoratore SET data_nascita = '31/02/1980' WHERE id = 3`); err != nil {
		t.Fatal(err)
	}
	src, err := Open(ctx, mustConfig(t, g.Config))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	ws, rejected, err := src.ChangedSince(ctx, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ws) != 4 || len(rejected) != 1 || rejected[0].SILID != "3" || rejected[0].Field != "data_nascita" || rejected[0].Rule != "date" {
		t.Fatalf("got %d workers, rejected %v", len(ws), rejected)
	}
}

func mustConfig(t *testing.T, path string) *Config {
	t.Helper()
	c, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestConfigErrors(t *testing.T) {
	base := string(DefaultConfig)
	tests := []struct {
		name, edit, want string
	}{
		{"unknown field", strings.Replace(base, "    email: email\n", "    e_mail: email\n", 1), "worker.columns.e_mail: unknown field"},
		{"required unmapped", strings.Replace(base, "    cognome: cognome\n", "", 1), "worker.columns.cognome: required field is not mapped"},
		{"no query", strings.Replace(base, "  query: SELECT * FROM lingua WHERE id_lavoratore = ? ORDER BY id\n", "", 1), "languages.query: required"},
		{"unknown key", base + "extra: 1\n", "field extra not found"},
		{"bad layout", strings.Replace(base, `since_format: "2006-01-02 15:04:05"`, `since_format: "yyyy"`, 1), "since_format"},
	}
	for _, tt := range tests {
		_, err := ParseConfig("sil.yaml", []byte(tt.edit))
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "sil.yaml") {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		}
	}
	// A column the query does not return is named at read time.
	dir := t.TempDir()
	g, err := Generate(context.Background(), dir, GenOptions{Workers: 1, Seed: 1, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseConfig(filepath.Join(dir, "x.yaml"), []byte(strings.Replace(base, "email: email", "email: posta", 1)))
	if err != nil {
		t.Fatal(err)
	}
	src, err := Open(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if _, _, err := src.ChangedSince(context.Background(), time.Time{}); err == nil || !strings.Contains(err.Error(), `column "posta"`) {
		t.Errorf("missing column: %v", err)
	}
	if g.Workers != 1 {
		t.Errorf("Generated.Workers = %d", g.Workers)
	}
}

func TestBatchGoesOn(t *testing.T) {
	ws := []*Worker{{ID: "1", CodiceFiscale: "RSSMRA77L18H501W"}, {ID: "2", CodiceFiscale: "RSSMRA85T10A562T"}, {ID: "3", CodiceFiscale: "RSSMRA85T10A562S"}}
	out, rej := Batch(ws, func(w *Worker) (string, error) {
		if err := codicefiscale.Validate(w.CodiceFiscale); err != nil {
			return "", w.Reject("codice_fiscale", "check character", err)
		}
		return w.ID, nil
	})
	if len(out) != 2 || len(rej) != 1 || rej[0].SILID != "2" {
		t.Fatalf("out %v rejected %v", out, rej)
	}
	if msg := rej[0].Error(); !strings.Contains(msg, "CF RSSMRA85T10A562T (SIL id 2)") || !strings.Contains(msg, "field codice_fiscale") {
		t.Errorf("message %q", msg)
	}
}

func BenchmarkGenerate10k(b *testing.B) {
	for i := 0; i < b.N; i++ {
		if _, err := Generate(context.Background(), b.TempDir(), GenOptions{Workers: 10000, Seed: 1, Now: now, BadCheck: 10, MissingRequired: 10}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRead10k reads every worker of a 10,000-worker SIL with its lists:
// go test -run XXX -bench Read10k -benchtime 1x ./adapters/sil
func BenchmarkRead10k(b *testing.B) {
	_, src := generate(b, GenOptions{Workers: 10000, Seed: 1, Now: now})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ws, _, err := src.ChangedSince(context.Background(), time.Time{})
		if err != nil || len(ws) != 10000 {
			b.Fatal(len(ws), err)
		}
	}
}

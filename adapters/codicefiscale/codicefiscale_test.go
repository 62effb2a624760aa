package codicefiscale

import (
	"errors"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		cf   string
		rule Rule // "" = valid
		pos  int
	}{
		{"RSSMRA85T10A562S", "", 0},
		{"RSSMRA77L18H501W", "", 0},
		{"DOEJHN99T13Z121S", "", 0},
		{"RSSMRA85T10A562T", RuleCheck, 16},
		{"RSSMRA85T10A562", RuleLength, 0},
		{"", RuleLength, 0},
		{"rssmra85t10a562s", RulePattern, 1},
		{"RSSMRA8AT10A562S", RulePattern, 8},
		{"RSSMR485T10A562S", RulePattern, 6},
		{"RSSMRA85Z10A562S", RuleMonth, 9},
		{"RSSMRA85T32A562S", RuleDay, 10},
		{"RSSMRA85T00A562S", RuleDay, 10},
		{"RSSMRA85T72A562S", RuleDay, 10},
		{"RSSMRA85B30A562S", RuleDay, 10},
		{"RSSMRA85B29A562S", RuleDay, 10}, // 1985 and 1885 are not leap years
		{"12345678903", "", 0},            // partita IVA check digit 3
		{"12345678901", RulePartitaIVA, 11},
		{"1234567890A", RulePattern, 11},
	}
	for _, tt := range tests {
		err := Validate(tt.cf)
		if tt.rule == "" {
			if err != nil {
				t.Errorf("Validate(%q) = %v, want nil", tt.cf, err)
			}
			continue
		}
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("Validate(%q) = %v, want *Error %s", tt.cf, err, tt.rule)
			continue
		}
		if e.Rule != tt.rule || e.Pos != tt.pos || e.CF != tt.cf {
			t.Errorf("Validate(%q) = rule %q pos %d, want %q pos %d", tt.cf, e.Rule, e.Pos, tt.rule, tt.pos)
		}
	}
}

func TestOmocodia(t *testing.T) {
	for _, cf := range []string{"RSSMRA85T10A562S", "RSSMRA77L18H501W", "DOEJHN99T13Z121S"} {
		for n := 0; n <= 7; n++ {
			v, err := Omocode(cf, n)
			if err != nil {
				t.Fatalf("Omocode(%q, %d): %v", cf, n, err)
			}
			if err := Validate(v); err != nil {
				t.Errorf("omocodic variant %q of %q: %v", v, cf, err)
			}
			info, err := Decode(v)
			if err != nil {
				t.Fatalf("Decode(%q): %v", v, err)
			}
			if info.CF != cf || info.Omocodic != (n > 0) {
				t.Errorf("Decode(%q).CF = %q omocodic %v, want %q %v", v, info.CF, info.Omocodic, cf, n > 0)
			}
		}
	}
	// A known omocodic variant: the last digit 2 of A562 becomes N, check recomputed.
	if v, _ := Omocode("RSSMRA85T10A562S", 1); v[:15] != "RSSMRA85T10A56N" {
		t.Errorf("Omocode(...,1) = %q", v)
	}
	if err := Validate("RSSMRA85T10A56NS"); err == nil {
		t.Error("an omocodic code with the unomocodic check character was accepted")
	}
}

func TestDecode(t *testing.T) {
	ref := time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		cf       string
		birth    string
		sex      Sex
		belfiore string
	}{
		{"RSSMRA85T10A562S", "1985-12-10", Male, "A562"},
		{"RSSMRA77L18H501W", "1977-07-18", Male, "H501"},
		{"DOEJHN99T13Z121S", "1999-12-13", Male, "Z121"},
	}
	for _, tt := range tests {
		info, err := Decode(tt.cf)
		if err != nil {
			t.Fatalf("Decode(%q): %v", tt.cf, err)
		}
		if got := info.Birth(ref).Format(time.DateOnly); got != tt.birth || info.Sex != tt.sex || info.Belfiore != tt.belfiore {
			t.Errorf("Decode(%q) = %s %s %s, want %s %s %s", tt.cf, got, info.Sex, info.Belfiore, tt.birth, tt.sex, tt.belfiore)
		}
	}
	if _, err := Decode("12345678903"); !errors.Is(err, ErrNotPersonal) {
		t.Errorf("Decode(11 digits) = %v, want ErrNotPersonal", err)
	}
}

func TestBirthCentury(t *testing.T) {
	ref := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		yy   int
		m    time.Month
		d    int
		want string
	}{
		{26, time.February, 1, "2026-02-01"},
		{26, time.March, 2, "1926-03-02"}, // tomorrow is a century ago
		{0, time.February, 29, "2000-02-29"},
		{99, time.January, 1, "1999-01-01"},
	}
	for _, tt := range tests {
		got := Info{YearDigits: tt.yy, Month: tt.m, Day: tt.d}.Birth(ref).Format(time.DateOnly)
		if got != tt.want {
			t.Errorf("Birth(%02d-%02d-%02d) = %s, want %s", tt.yy, tt.m, tt.d, got, tt.want)
		}
	}
}

func TestGenerate(t *testing.T) {
	tests := []struct {
		surname, name string
		birth         string
		sex           Sex
		belfiore      string
		want          string
	}{
		{"Rossi", "Mario", "1977-07-18", Male, "H501", "RSSMRA77L18H501W"},
		{"Rossi", "Mario", "1985-12-10", Male, "A562", "RSSMRA85T10A562S"},
		{"Doe", "John", "1999-12-13", Male, "Z121", "DOEJHN99T13Z121S"},
	}
	for _, tt := range tests {
		b, _ := time.Parse(time.DateOnly, tt.birth)
		got, err := Generate(tt.surname, tt.name, b, tt.sex, tt.belfiore)
		if err != nil || got != tt.want {
			t.Errorf("Generate(%s %s) = %q, %v; want %q", tt.surname, tt.name, got, err, tt.want)
		}
	}
	// Name rule: four or more consonants take the 1st, 3rd and 4th; short names pad with X;
	// accents and apostrophes are folded.
	b := time.Date(1990, 3, 5, 0, 0, 0, 0, time.UTC)
	for _, tt := range []struct{ surname, name, want15 string }{
		{"Bianchi", "Gianfranco", "BNCGFR90C45F205"},
		{"Fò", "Li", "FOXLIX90C45F205"},
		{"D'Ambrosio", "Nicolò", "DMBNCL90C45F205"},
	} {
		got, err := Generate(tt.surname, tt.name, b, Female, "F205")
		if err != nil || got[:15] != tt.want15 {
			t.Errorf("Generate(%q, %q) = %q, %v; want prefix %q", tt.surname, tt.name, got, err, tt.want15)
		}
		if err := Validate(got); err != nil {
			t.Errorf("generated %q: %v", got, err)
		}
	}
	for _, bad := range []struct {
		s, n string
		sex  Sex
		bf   string
	}{{"", "Mario", Male, "H501"}, {"Rossi", "123", Male, "H501"}, {"Rossi", "Mario", 'X', "H501"}, {"Rossi", "Mario", Male, "H50"}} {
		if _, err := Generate(bad.s, bad.n, b, bad.sex, bad.bf); err == nil {
			t.Errorf("Generate(%q, %q, %c, %q) accepted", bad.s, bad.n, bad.sex, bad.bf)
		}
	}
}

func TestPlaces(t *testing.T) {
	seen := map[string]bool{}
	for _, p := range Places() {
		if seen[p.Code] {
			t.Errorf("duplicate Belfiore code %s", p.Code)
		}
		seen[p.Code] = true
		if len(p.Code) != 4 || len(p.Province) != 2 || p.Name == "" {
			t.Errorf("malformed place %+v", p)
		}
	}
	if p, ok := Lookup("H501"); !ok || p.Name != "Roma" {
		t.Errorf("Lookup(H501) = %+v, %v", p, ok)
	}
}

func FuzzValidate(f *testing.F) {
	for _, s := range []string{"RSSMRA85T10A562S", "RSSMRA85T10A56NS", "12345678903", "RSSMRA85T72A562S", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := Normalize(s)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Normalize(%q) error is not *Error: %v", s, err)
			}
			return
		}
		if err := Validate(n); err != nil {
			t.Fatalf("Normalize(%q) = %q which fails: %v", s, n, err)
		}
		if len(n) == 16 {
			for k := 0; k <= 7; k++ {
				v, err := Omocode(n, k)
				if err != nil {
					t.Fatal(err)
				}
				if back, err := Normalize(v); err != nil || back != n {
					t.Fatalf("Omocode(%q,%d)=%q normalises to %q, %v", n, k, v, back, err)
				}
			}
		}
	})
}

package envelope

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestValidateID(t *testing.T) {
	tests := []struct {
		id, err string
	}{
		{"MinisteroFruitore_MinisteroFruitoreSPCoopIT_0000001_2009-07-22_10:59", ""},
		{"Città_CittàSPCoopIT_9999999_2100-12-31_23:59", ""},
		{"A1_B2_0000001_2024-02-29_00:00", ""},
		{"", "empty"},
		{"A_B_0000001_2009-07-22", "4 '_'-separated parts"},
		{"A_B_C_0000001_2009-07-22_10:59", "6 '_'-separated parts"},
		{"A-x_B_0000001_2009-07-22_10:59", `party "A-x"`},
		{"A_B.c_0000001_2009-07-22_10:59", `port id "B.c"`},
		{"A_B_000001_2009-07-22_10:59", "7 digits"},
		{"A_B_00000001_2009-07-22_10:59", "7 digits"},
		{"A_B_0000001_2009/07/22_10:59", "yyyy-MM-dd"},
		{"A_B_0000001_2009-07-22_10.59", "HH:mm"},
		{"A_B_0000001_2101-01-01_10:59", "after 2100"},
		{"A_B_0000001_2009-13-01_10:59", "month 13"},
		{"A_B_0000001_2009-00-01_10:59", "month 00"},
		{"A_B_0000001_2023-02-29_10:59", "day 29"},
		{"A_B_0000001_2009-07-00_10:59", "day 00"},
		{"A_B_0000001_2009-07-22_24:00", "hour 24"},
		{"A_B_0000001_2009-07-22_10:60", "minute 60"},
		{"A_B_0000001_2009-07-22_10:59 ", "HH:mm"},
		{strings.Repeat("A", 200) + "_" + strings.Repeat("A", 208) + "SPCoopIT_0000001_2009-07-22_10:59", ""},
		{strings.Repeat("A", 60_000) + "_ASPCoopIT_0000001_2009-07-22_10:59", "is 60035 bytes long, more than 512"},
		{strings.Repeat("A", 60_000), "(truncated, 60000 bytes)"},
	}
	for _, tt := range tests {
		err := ValidateID(tt.id)
		if err != nil && len(err.Error()) > 2*MaxIDLength {
			t.Errorf("ValidateID(%d bytes) repeats them: %d bytes of error", len(tt.id), len(err.Error()))
		}
		if tt.err == "" {
			if err != nil {
				t.Errorf("ValidateID(%q) = %v", tt.id, err)
			}
			continue
		}
		var ie *IDError
		if !errors.As(err, &ie) || !strings.Contains(err.Error(), tt.err) || ie.ID != tt.id {
			t.Errorf("ValidateID(%q) = %v, want an IDError containing %q", tt.id, err, tt.err)
		}
	}
}

func TestValidateIDOwner(t *testing.T) {
	id := "Provincia_ProvinciaSPCoopIT_0000001_2026-11-28_09:30"
	tests := []struct {
		party, port, err string
	}{
		{"Provincia", "", ""},
		{"PROVINCIA", "provinciaspcoopit", ""},
		{"Provincia", "ProvinciaSPCoopIT", ""},
		{"Regione", "", `belongs to party "Provincia"`},
		{"Provincia", "PDDProvincia", `port id "ProvinciaSPCoopIT" is not "PDDProvincia"`},
	}
	for _, tt := range tests {
		err := ValidateIDOwner(id, tt.party, tt.port)
		if (tt.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("ValidateIDOwner(%s, %s) = %v, want %q", tt.party, tt.port, err, tt.err)
		}
	}
	if err := ValidateIDOwner("bad", "Provincia", ""); err == nil {
		t.Error("malformed id accepted")
	}
}

type stepClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *stepClock) now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *stepClock) set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

func TestIDGeneratorFormatAndMinutes(t *testing.T) {
	clock := &stepClock{t: time.Date(2026, 11, 28, 9, 30, 59, 0, rome)}
	g := NewIDGenerator("Provincia", "", clock.now, &MemoryCounter{})
	ctx := context.Background()
	want := []string{
		"Provincia_ProvinciaSPCoopIT_0000001_2026-11-28_09:30",
		"Provincia_ProvinciaSPCoopIT_0000002_2026-11-28_09:30",
	}
	for _, w := range want {
		if id, err := g.Next(ctx); err != nil || id != w {
			t.Errorf("Next = %q, %v; want %q", id, err, w)
		}
	}
	clock.set(time.Date(2026, 11, 28, 9, 31, 0, 0, rome))
	id, ts, err := g.NextAt(ctx)
	if err != nil || id != "Provincia_ProvinciaSPCoopIT_0000001_2026-11-28_09:31" || !ts.Equal(clock.now()) {
		t.Errorf("new minute: %q %v %v", id, ts, err)
	}
	if err := ValidateIDOwner(id, "Provincia", ""); err != nil {
		t.Error(err)
	}
}

func TestIDGeneratorOverflow(t *testing.T) {
	c := &MemoryCounter{}
	clock := func() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) }
	c.Reserve(context.Background(), "P_PSPCoopIT_2026-01-01_00:00", maxCounter)
	g := NewIDGenerator("P", "", clock, c)
	if _, err := g.Next(context.Background()); err == nil || !strings.Contains(err.Error(), "more than 9999999") {
		t.Errorf("overflow: %v", err)
	}
}

type failingStore struct{}

func (failingStore) Reserve(context.Context, string, int) (int, error) {
	return 0, errors.New("disk full")
}

func TestIDGeneratorStoreError(t *testing.T) {
	g := NewIDGenerator("P", "", nil, failingStore{})
	if _, err := g.Next(context.Background()); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("error = %v", err)
	}
}

// Two generators over one CounterStore stand for two processes sharing a store (a gateway and
// porta envelope wrap --config), many goroutines each; then a restart: new generators, same
// store, same minute. No identifier may repeat.
func TestIDGeneratorUniqueConcurrentAndRestart(t *testing.T) {
	store := &MemoryCounter{}
	minute := time.Date(2026, 11, 28, 9, 30, 0, 0, rome)
	clock := func() time.Time { return minute }
	seen := sync.Map{}
	var dups, total int64
	var mu sync.Mutex
	run := func(block int) {
		var wg sync.WaitGroup
		for p := 0; p < 2; p++ {
			g := NewIDGenerator("Provincia", "", clock, store)
			g.Block = block
			for w := 0; w < 8; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < 40; i++ {
						id, err := g.Next(context.Background())
						if err != nil {
							t.Error(err)
							return
						}
						if err := ValidateID(id); err != nil {
							t.Error(err)
						}
						_, dup := seen.LoadOrStore(id, true)
						mu.Lock()
						total++
						if dup {
							dups++
						}
						mu.Unlock()
					}
				}()
			}
		}
		wg.Wait()
	}
	run(7)
	run(1) // restart, same minute
	if dups != 0 || total != 2*2*8*40 {
		t.Errorf("%d duplicates in %d identifiers", dups, total)
	}
}

func ExampleIDGenerator() {
	clock := func() time.Time { return time.Date(2026, 11, 28, 9, 30, 0, 0, time.UTC) }
	g := NewIDGenerator("Provincia", "", clock, &MemoryCounter{})
	id, _ := g.Next(context.Background())
	fmt.Println(id)
	// Output: Provincia_ProvinciaSPCoopIT_0000001_2026-11-28_09:30
}

// idPattern is the schema's IdentificatoreType read strictly: XML Schema's \w excludes the
// punctuation '_', so the first two parts are letters and digits only. readID is held to it.
var idPattern = regexp.MustCompile(`^([\p{L}\p{N}]+)_([\p{L}\p{N}]+)_(\d{7})_(\d{4})-(\d{2})-(\d{2})_(\d{2}):(\d{2})$`)

// FuzzReadID: readID accepts exactly what idPattern matches, with the same numbers.
func FuzzReadID(f *testing.F) {
	for _, s := range []string{"Provincia_ProvinciaSPCoopIT_0000001_2026-12-03_21:05", "Città_P1_1234567_2100-02-29_23:59",
		"a_b_123456_2026-01-01_00:00", "a__1234567_2026-01-01_00:00", "a_b_1234567_2026-01-01_00:00_", "\xff_b_1234567_2026-01-01_00:00",
		"a_b_１２３４５６７_2026-01-01_00:00", "Ⅻ_٣_1234567_2026-13-99_99:99"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		y, mo, d, h, mi, ok := readID(id)
		m := idPattern.FindStringSubmatch(id)
		if ok != (m != nil) {
			t.Fatalf("readID(%q) ok=%v, idPattern matches: %v", id, ok, m != nil)
		}
		if !ok {
			return
		}
		got := fmt.Sprintf("%04d-%02d-%02d_%02d:%02d", y, mo, d, h, mi)
		if want := m[4] + "-" + m[5] + "-" + m[6] + "_" + m[7] + ":" + m[8]; got != want {
			t.Fatalf("readID(%q) = %s, want %s", id, got, want)
		}
	})
}

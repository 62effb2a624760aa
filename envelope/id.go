package envelope

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode"

	"porta/internal/clip"
)

// IDError says why a string is not a valid eGov identifier (Identificatore, Collaborazione,
// RiferimentoMessaggio). The caller chooses the code: 110, 104 or 111.
type IDError struct {
	ID     string
	Reason string
}

// Error names the identifier cut to clip.Max bytes: it is repeated in faults and logs.
func (e *IDError) Error() string { return fmt.Sprintf("identifier %q: %s", clip.Echo(e.ID), e.Reason) }

// MaxIDLength is the longest identifier ValidateID accepts, in bytes: room for a party name and a
// port id of over 200 letters each, and a bound on what a peer can make porta store and repeat.
const MaxIDLength = 512

var (
	alnum       = regexp.MustCompile(`^[\p{L}\p{N}]+$`)
	sevenDigits = regexp.MustCompile(`^\d{7}$`)
	isoDate     = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)
)

// ValidateID checks an identifier's form: exactly five '_'-separated parts
// <Party>_<PortId>_<NNNNNNN>_<yyyy-MM-dd>_<HH:mm>, letters and digits only in the first two, a
// 7-digit counter, and a real date and time (year ≤ 2100, as the reference implementation checks).
// It is at most MaxIDLength bytes long. The error is an *IDError.
func ValidateID(id string) error {
	if id == "" {
		return &IDError{ID: id, Reason: "empty"}
	}
	if len(id) > MaxIDLength {
		return &IDError{ID: id, Reason: fmt.Sprintf("is %d bytes long, more than %d", len(id), MaxIDLength)}
	}
	year, month, day, hour, minute, ok := readID(id)
	if !ok {
		return badID(id)
	}
	switch {
	case year > 2100:
		return &IDError{ID: id, Reason: fmt.Sprintf("year %d is after 2100", year)}
	case month < 1 || month > 12:
		return &IDError{ID: id, Reason: fmt.Sprintf("month %02d out of range", month)}
	case day < 1 || day > daysIn(year, time.Month(month)):
		return &IDError{ID: id, Reason: fmt.Sprintf("day %02d out of range for %04d-%02d", day, year, month)}
	case hour > 23:
		return &IDError{ID: id, Reason: fmt.Sprintf("hour %02d out of range", hour)}
	case minute > 59:
		return &IDError{ID: id, Reason: fmt.Sprintf("minute %02d out of range", minute)}
	}
	return nil
}

// readID reads an identifier of idPattern's form without the regular expression (every busta's
// identifiers are checked, several times an exchange): the numbers of its date and time, and
// ok=false exactly when idPattern does not match (FuzzReadID).
func readID(id string) (year, month, day, hour, minute int, ok bool) {
	rest := id
	for range 2 { // the party and the port id: letters and digits
		i := strings.IndexByte(rest, '_')
		if i <= 0 {
			return 0, 0, 0, 0, 0, false
		}
		for _, r := range rest[:i] {
			if !unicode.IsLetter(r) && !unicode.IsNumber(r) {
				return 0, 0, 0, 0, 0, false
			}
		}
		rest = rest[i+1:]
	}
	const form = "0000000_0000-00-00_00:00" // NNNNNNN_yyyy-MM-dd_HH:mm, 0 an ASCII digit (\d)
	if len(rest) != len(form) {
		return 0, 0, 0, 0, 0, false
	}
	for i := range len(form) {
		if c := rest[i]; form[i] == '0' && (c < '0' || c > '9') || form[i] != '0' && c != form[i] {
			return 0, 0, 0, 0, 0, false
		}
	}
	num := func(s string) int {
		n := 0
		for i := range len(s) {
			n = n*10 + int(s[i]-'0')
		}
		return n
	}
	return num(rest[8:12]), num(rest[13:15]), num(rest[16:18]), num(rest[19:21]), num(rest[22:24]), true
}

// badID is the error of an identifier readID refuses: the first part that is wrong.
func badID(id string) error {
	parts := strings.Split(id, "_")
	if len(parts) != 5 {
		return &IDError{ID: id, Reason: fmt.Sprintf("has %d '_'-separated parts, want 5 (Party_PortId_NNNNNNN_yyyy-MM-dd_HH:mm)", len(parts))}
	}
	switch {
	case !alnum.MatchString(parts[0]):
		return &IDError{ID: id, Reason: fmt.Sprintf("party %q must be letters and digits only", parts[0])}
	case !alnum.MatchString(parts[1]):
		return &IDError{ID: id, Reason: fmt.Sprintf("port id %q must be letters and digits only", parts[1])}
	case !sevenDigits.MatchString(parts[2]):
		return &IDError{ID: id, Reason: fmt.Sprintf("counter %q must be 7 digits", parts[2])}
	case !isoDate.MatchString(parts[3]):
		return &IDError{ID: id, Reason: fmt.Sprintf("date %q must be yyyy-MM-dd", parts[3])}
	}
	return &IDError{ID: id, Reason: fmt.Sprintf("time %q must be HH:mm", parts[4])}
}

func daysIn(year int, m time.Month) int {
	return time.Date(year, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// ValidateIDOwner checks, after ValidateID, that id belongs to party: its first part is the
// party's name and its second the party's port identifier, both compared case-insensitively
// (spec §2). An empty portID means DefaultPortID(party). The owner is the Mittente for an
// Identificatore and the Destinatario for a RiferimentoMessaggio (the Mittente in an asymmetric
// risposta); choosing it is the caller's job.
func ValidateIDOwner(id, party, portID string) error {
	if err := ValidateID(id); err != nil {
		return err
	}
	if portID == "" {
		portID = DefaultPortID(party)
	}
	parts := strings.Split(id, "_")
	if !strings.EqualFold(parts[0], party) {
		return &IDError{ID: id, Reason: fmt.Sprintf("belongs to party %q, not %q", parts[0], party)}
	}
	if !strings.EqualFold(parts[1], portID) {
		return &IDError{ID: id, Reason: fmt.Sprintf("port id %q is not %q, the port of %s", parts[1], portID, party)}
	}
	return nil
}

// DefaultPortID is the identificativo porta of an SPC party that declares none: <name>SPCoopIT.
func DefaultPortID(party string) string { return party + "SPCoopIT" }

// CounterStore keeps identifier counters persistently. Reserve reserves n consecutive values of
// the counter for key ("<party>_<port>_<yyyy-MM-dd>_<HH:mm>") and returns the first; a counter
// starts at 1. Values once reserved are never handed out again, across processes and restarts.
type CounterStore interface {
	Reserve(ctx context.Context, key string, n int) (first int, err error)
}

// maxCounter is the largest 7-digit counter.
const maxCounter = 9_999_999

// DefaultIDBlock is how many counter values an IDGenerator reserves at a time.
const DefaultIDBlock = 64

// IDGenerator makes the Identificatore of the buste one party sends through one port:
// <party>_<portID>_<NNNNNNN>_<yyyy-MM-dd>_<HH:mm>, the counter starting again each minute
// (spec §2). Uniqueness across goroutines comes from a mutex, across processes and restarts from
// the CounterStore, from which the generator reserves blocks of Block values; values left in a
// block when the minute changes or the process stops are skipped, never reused. The date and time
// are the clock's wall clock in the clock's location. Safe for concurrent use.
type IDGenerator struct {
	party, port string
	clock       func() time.Time
	store       CounterStore

	// Block is how many values a Reserve asks for (DefaultIDBlock when ≤ 0). Set it before use;
	// 1 suits a short-lived process that makes one identifier.
	Block int

	mu        sync.Mutex
	key       string
	next, end int // next value to hand out, and one past the last reserved
}

// NewIDGenerator returns a generator for party's buste through portID (DefaultPortID(party)
// when empty), reading the time from clock (time.Now when nil).
func NewIDGenerator(party, portID string, clock func() time.Time, store CounterStore) *IDGenerator {
	if portID == "" {
		portID = DefaultPortID(party)
	}
	if clock == nil {
		clock = time.Now
	}
	return &IDGenerator{party: party, port: portID, clock: clock, store: store, Block: DefaultIDBlock}
}

// Next returns a new identifier.
func (g *IDGenerator) Next(ctx context.Context) (string, error) {
	id, _, err := g.NextAt(ctx)
	return id, err
}

// NextAt returns a new identifier and the clock reading it was made at, which callers use as the
// busta's OraRegistrazione so that both agree to the minute.
func (g *IDGenerator) NextAt(ctx context.Context) (string, time.Time, error) {
	if g.store == nil {
		return "", time.Time{}, fmt.Errorf("id generator for %s: no counter store", g.party)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.clock()
	minute := now.Format("2006-01-02_15:04")
	key := g.party + "_" + g.port + "_" + minute
	if key != g.key || g.next >= g.end {
		n := g.Block
		if n <= 0 {
			n = DefaultIDBlock
		}
		first, err := g.store.Reserve(ctx, key, n)
		if err != nil {
			return "", time.Time{}, fmt.Errorf("id generator for %s: reserve %d values of %s: %w", g.party, n, key, err)
		}
		if first < 1 {
			return "", time.Time{}, fmt.Errorf("id generator for %s: counter store returned %d for %s, want ≥ 1", g.party, first, key)
		}
		g.key, g.next, g.end = key, first, first+n
	}
	if g.next > maxCounter {
		return "", time.Time{}, fmt.Errorf("id generator for %s: more than %d identifiers in minute %s", g.party, maxCounter, minute)
	}
	c := g.next
	g.next++
	return fmt.Sprintf("%s_%s_%07d_%s", g.party, g.port, c, minute), now, nil
}

// MemoryCounter is a CounterStore in memory, for tests and single-process tools that need no
// persistence. The zero value is ready to use; safe for concurrent use.
type MemoryCounter struct {
	mu sync.Mutex
	m  map[string]int
}

// Reserve implements CounterStore.
func (c *MemoryCounter) Reserve(_ context.Context, key string, n int) (int, error) {
	if n < 1 {
		return 0, fmt.Errorf("reserve %d values of %s: n must be ≥ 1", n, key)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]int{}
	}
	first := c.m[key] + 1
	c.m[key] += n
	return first, nil
}

// Package codicefiscale owns the Italian codice fiscale: validation (length, pattern, month letter,
// day range, check character; the 11-digit partita IVA check for provisional and company codes),
// omocodia (accepted everywhere, undone by Normalize and Decode), decoding (birth date, sex,
// Belfiore code of the place of birth) and generation for synthetic data, plus a small table of
// real Belfiore codes (belfiore.go).
//
// It must not look anything up (the registry of persons is the anagrafe's business) nor decide
// what to do with a bad code: it reports the rule that failed as a typed *Error and the caller
// rejects the record.
package codicefiscale

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
)

// Rule names the check a codice fiscale failed.
type Rule string

// The rules, in the order Validate applies them.
const (
	RuleLength     Rule = "length"            // 16 characters, or 11 digits
	RulePattern    Rule = "pattern"           // letters and digits in their places
	RuleMonth      Rule = "month letter"      // one of A B C D E H L M P R S T
	RuleDay        Rule = "day range"         // 1–31 (men) or 41–71 (women), existing in the month
	RuleCheck      Rule = "check character"   // the 16th character
	RulePartitaIVA Rule = "partita IVA check" // the 11th digit of a numeric code
)

// Error reports why a codice fiscale is invalid. Pos is the 1-based position of the offending
// character, 0 when the rule concerns the whole code.
type Error struct {
	CF     string
	Rule   Rule
	Pos    int
	Reason string
}

func (e *Error) Error() string {
	if e.Pos > 0 {
		return fmt.Sprintf("codice fiscale %q: %s (position %d): %s", e.CF, e.Rule, e.Pos, e.Reason)
	}
	return fmt.Sprintf("codice fiscale %q: %s: %s", e.CF, e.Rule, e.Reason)
}

// Sex is the sex encoded in the day of birth.
type Sex byte

// The two sexes of the codice fiscale.
const (
	Male   Sex = 'M'
	Female Sex = 'F'
)

func (s Sex) String() string { return string(s) }

const monthLetters = "ABCDEHLMPRST"

// omocodia letters replace the digits 0–9 in the seven numeric positions.
const omocodiaLetters = "LMNPQRSTUV"

// numericPos are the 0-based positions that hold digits (or omocodia letters).
var numericPos = [7]int{6, 7, 9, 10, 12, 13, 14}

// oddValues is the value of 0–9 and A–Z in the odd (1-based) positions.
var oddValues = [36]int{1, 0, 5, 7, 9, 13, 15, 17, 19, 21, // 0-9
	1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23} // A-Z

func charIndex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'A' && c <= 'Z':
		return int(c-'A') + 10
	}
	return -1
}

// CheckChar returns the check character of the first 15 characters of a personal codice fiscale.
func CheckChar(first15 string) (byte, error) {
	if len(first15) != 15 {
		return 0, fmt.Errorf("check character: need 15 characters, got %d", len(first15))
	}
	sum := 0
	for i := 0; i < 15; i++ {
		k := charIndex(first15[i])
		if k < 0 {
			return 0, fmt.Errorf("check character: %q at position %d is not A-Z or 0-9", first15[i], i+1)
		}
		if i%2 == 0 { // 1-based odd
			sum += oddValues[k]
		} else if k < 10 {
			sum += k
		} else {
			sum += k - 10
		}
	}
	return byte('A' + sum%26), nil
}

// Validate checks a codice fiscale exactly as it would travel: upper case, no spaces. A 16-character
// personal code may carry omocodia letters; an 11-digit code (provisional or of a company) must
// pass the partita IVA check. The error is an *Error naming the rule.
func Validate(cf string) error {
	_, err := normalize(cf)
	return err
}

// Normalize validates cf and returns it with omocodia undone (letters back to digits, check
// character recomputed). An 11-digit code is returned as is.
func Normalize(cf string) (string, error) { return normalize(cf) }

func normalize(cf string) (string, error) {
	bad := func(rule Rule, pos int, format string, a ...any) error {
		return &Error{CF: cf, Rule: rule, Pos: pos, Reason: fmt.Sprintf(format, a...)}
	}
	switch len(cf) {
	case 11:
		return cf, partitaIVA(cf)
	case 16:
	default:
		return "", bad(RuleLength, 0, "%d characters, want 16 (or 11 digits)", len(cf))
	}
	var plain [16]byte
	for i := 0; i < 16; i++ {
		c := cf[i]
		numeric := false
		for _, p := range numericPos {
			numeric = numeric || p == i
		}
		switch {
		case numeric && c >= '0' && c <= '9':
			plain[i] = c
		case numeric && strings.IndexByte(omocodiaLetters, c) >= 0:
			plain[i] = byte('0' + strings.IndexByte(omocodiaLetters, c))
		case numeric:
			return "", bad(RulePattern, i+1, "%q where a digit or omocodia letter (L-V) belongs", c)
		case c >= 'A' && c <= 'Z':
			plain[i] = c
		default:
			return "", bad(RulePattern, i+1, "%q where an upper-case letter belongs", c)
		}
	}
	month := strings.IndexByte(monthLetters, plain[8])
	if month < 0 {
		return "", bad(RuleMonth, 9, "%q is not a month letter (A B C D E H L M P R S T)", plain[8])
	}
	day := int(plain[9]-'0')*10 + int(plain[10]-'0')
	if day > 40 {
		day -= 40
	}
	yy := int(plain[6]-'0')*10 + int(plain[7]-'0')
	if max := daysIn(time.Month(month+1), yy); day < 1 || day > max {
		return "", bad(RuleDay, 10, "day %s does not exist in %s (1-%d, or 41-%d for women)",
			string(plain[9:11]), time.Month(month+1), max, max+40)
	}
	want, _ := CheckChar(cf[:15]) // the check character covers the code as written
	if cf[15] != want {
		return "", bad(RuleCheck, 16, "%q, want %q", cf[15], want)
	}
	if string(plain[:15]) == cf[:15] {
		return cf, nil
	}
	plain[15], _ = CheckChar(string(plain[:15]))
	return string(plain[:]), nil
}

// daysIn is the number of days of month in a year whose last two digits are yy; February 29 is
// allowed whenever either century makes the year a leap year (yy%4 == 0: 1900 is not, 2000 is).
func daysIn(m time.Month, yy int) int {
	switch m {
	case time.February:
		if yy%4 == 0 {
			return 29
		}
		return 28
	case time.April, time.June, time.September, time.November:
		return 30
	}
	return 31
}

func partitaIVA(cf string) error {
	sum := 0
	for i := 0; i < 11; i++ {
		c := cf[i]
		if c < '0' || c > '9' {
			return &Error{CF: cf, Rule: RulePattern, Pos: i + 1, Reason: fmt.Sprintf("%q in an 11-character code, which must be all digits", c)}
		}
		d := int(c - '0')
		if i == 10 {
			if want := (10 - sum%10) % 10; d != want {
				return &Error{CF: cf, Rule: RulePartitaIVA, Pos: 11, Reason: fmt.Sprintf("check digit %d, want %d", d, want)}
			}
			return nil
		}
		if i%2 == 1 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return nil
}

// Info is what a personal codice fiscale encodes.
type Info struct {
	CF         string // the code with omocodia undone
	Omocodic   bool   // the code as given carried omocodia letters
	YearDigits int    // the last two digits of the year of birth
	Month      time.Month
	Day        int
	Sex        Sex
	Belfiore   string // comune (A000-M999) or foreign state (Z...) of birth
}

// ErrNotPersonal is returned by Decode for an 11-digit code, which encodes nothing.
var ErrNotPersonal = errors.New("an 11-digit codice fiscale encodes no birth data")

// Decode validates a 16-character codice fiscale (omocodia accepted) and returns what it encodes.
func Decode(cf string) (Info, error) {
	n, err := normalize(cf)
	if err != nil {
		return Info{}, err
	}
	if len(n) == 11 {
		return Info{}, fmt.Errorf("decode %q: %w", cf, ErrNotPersonal)
	}
	day := int(n[9]-'0')*10 + int(n[10]-'0')
	sex := Male
	if day > 40 {
		day, sex = day-40, Female
	}
	return Info{
		CF:         n,
		Omocodic:   n != cf,
		YearDigits: int(n[6]-'0')*10 + int(n[7]-'0'),
		Month:      time.Month(strings.IndexByte(monthLetters, n[8]) + 1),
		Day:        day,
		Sex:        sex,
		Belfiore:   n[11:15],
	}, nil
}

// Birth returns the date of birth: the latest date with the encoded year digits, month and day
// that is not after ref (the code does not carry the century). It is the zero time when no such
// date exists (February 29 of a year that is not a leap year in either century near ref).
func (i Info) Birth(ref time.Time) time.Time {
	ref = time.Date(ref.Year(), ref.Month(), ref.Day(), 0, 0, 0, 0, time.UTC)
	y := ref.Year() - ((ref.Year()%100-i.YearDigits)%100+100)%100
	for k := 0; k < 3; k, y = k+1, y-100 {
		d := time.Date(y, i.Month, i.Day, 0, 0, 0, 0, time.UTC)
		if d.Day() == i.Day && !d.After(ref) {
			return d
		}
	}
	return time.Time{}
}

// Omocode returns the omocodic variant of a valid personal codice fiscale in which the last n of the
// seven numeric positions (right to left) carry letters, with the check character recomputed.
// n = 0 returns the normalised code.
func Omocode(cf string, n int) (string, error) {
	p, err := normalize(cf)
	if err != nil {
		return "", err
	}
	if len(p) != 16 {
		return "", fmt.Errorf("omocode %q: %w", cf, ErrNotPersonal)
	}
	if n < 0 || n > len(numericPos) {
		return "", fmt.Errorf("omocode %q: %d substitutions, want 0-%d", cf, n, len(numericPos))
	}
	b := []byte(p)
	for k := 0; k < n; k++ {
		i := numericPos[len(numericPos)-1-k]
		b[i] = omocodiaLetters[b[i]-'0']
	}
	b[15], _ = CheckChar(string(b[:15]))
	return string(b), nil
}

// Generate computes the codice fiscale of a person (without omocodia). Names are folded to
// A-Z (accents dropped, apostrophes and spaces ignored); belfiore must be a letter and three digits.
func Generate(surname, name string, birth time.Time, sex Sex, belfiore string) (string, error) {
	sc, sv := letters(surname)
	nc, nv := letters(name)
	if len(sc)+len(sv) == 0 {
		return "", fmt.Errorf("generate: surname %q has no letters", surname)
	}
	if len(nc)+len(nv) == 0 {
		return "", fmt.Errorf("generate: name %q has no letters", name)
	}
	if sex != Male && sex != Female {
		return "", fmt.Errorf("generate: sex %q, want M or F", byte(sex))
	}
	if len(belfiore) != 4 || belfiore[0] < 'A' || belfiore[0] > 'Z' ||
		strings.Trim(belfiore[1:], "0123456789") != "" {
		return "", fmt.Errorf("generate: belfiore %q, want a letter and three digits", belfiore)
	}
	if birth.IsZero() {
		return "", errors.New("generate: no date of birth")
	}
	var b strings.Builder
	b.WriteString(pad3(sc + sv))
	if len(nc) >= 4 {
		b.WriteString(nc[:1] + nc[2:4])
	} else {
		b.WriteString(pad3(nc + nv))
	}
	day := birth.Day()
	if sex == Female {
		day += 40
	}
	fmt.Fprintf(&b, "%02d%c%02d%s", birth.Year()%100, monthLetters[birth.Month()-1], day, belfiore)
	c, err := CheckChar(b.String())
	if err != nil {
		return "", fmt.Errorf("generate: %w", err)
	}
	b.WriteByte(c)
	return b.String(), nil
}

// accented folds the accented capitals found in Italian and neighbouring names.
var accented = map[rune]rune{
	'À': 'A', 'Á': 'A', 'Â': 'A', 'Ä': 'A', 'Ã': 'A', 'Å': 'A',
	'È': 'E', 'É': 'E', 'Ê': 'E', 'Ë': 'E',
	'Ì': 'I', 'Í': 'I', 'Î': 'I', 'Ï': 'I',
	'Ò': 'O', 'Ó': 'O', 'Ô': 'O', 'Ö': 'O', 'Õ': 'O',
	'Ù': 'U', 'Ú': 'U', 'Û': 'U', 'Ü': 'U',
	'Ç': 'C', 'Ñ': 'N', 'Š': 'S', 'Ž': 'Z', 'Č': 'C', 'Ć': 'C', 'Ş': 'S', 'Ț': 'T', 'Ă': 'A',
}

func pad3(s string) string { return (s + "XXX")[:3] }

// letters folds s to upper-case A-Z and splits it into consonants and vowels, in order.
func letters(s string) (consonants, vowels string) {
	var c, v strings.Builder
	for _, r := range s {
		r = unicode.ToUpper(r)
		if f, ok := accented[r]; ok {
			r = f
		}
		if r < 'A' || r > 'Z' {
			continue
		}
		if strings.ContainsRune("AEIOU", r) {
			v.WriteRune(r)
		} else {
			c.WriteRune(r)
		}
	}
	return c.String(), v.String()
}

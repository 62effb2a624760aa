package envelope

import (
	"fmt"
	"strings"
	"time"
)

// eGov dates (OraRegistrazione, Scadenza) are written as local time without a zone,
// yyyy-MM-ddTHH:mm:ss.SSS as GovWay does (spec §1). The location that "local" means is the
// location of the time.Time handed to the builder: callers pass times in the gateway's zone
// (Europe/Rome for the labour network) and the builder writes their wall clock. The parser reads
// a zone-less value in the location given to ParseHeaderIn (time.Local for ParseHeader), and also
// accepts a value carrying an explicit zone (Z or ±hh:mm), as xsd:dateTime allows.
const (
	egovTimeLayout = "2006-01-02T15:04:05.000"
)

// FormatTime writes t as an eGov date: its wall clock in t's own location, milliseconds, no zone.
func FormatTime(t time.Time) string { return t.Format(egovTimeLayout) }

// ParseTime reads an xsd:dateTime as the busta carries it: yyyy-MM-ddTHH:mm:ss with optional
// fraction (any number of digits) and optional zone; a zone-less value is read in loc.
func ParseTime(s string, loc *time.Location) (time.Time, error) {
	if loc == nil {
		loc = time.Local
	}
	v := strings.TrimSpace(s)
	if len(v) < 19 || v[10] != 'T' {
		return time.Time{}, fmt.Errorf("time %q: want yyyy-MM-ddTHH:mm:ss", s)
	}
	zone := ""
	rest := v[19:]
	if i := strings.IndexAny(rest, "Z+-"); i >= 0 {
		rest, zone = rest[:i], rest[i:]
	}
	if rest != "" {
		if rest[0] != '.' || len(rest) == 1 || strings.Trim(rest[1:], "0123456789") != "" {
			return time.Time{}, fmt.Errorf("time %q: bad fraction of a second %q", s, rest)
		}
	}
	layout := "2006-01-02T15:04:05"
	if rest != "" {
		layout += "." + strings.Repeat("9", len(rest)-1)
	}
	if zone != "" {
		if zone != "Z" && (len(zone) != 6 || zone[3] != ':') {
			return time.Time{}, fmt.Errorf("time %q: bad zone %q (want Z or ±hh:mm)", s, zone)
		}
		t, err := time.Parse(layout+"Z07:00", v)
		if err != nil {
			return time.Time{}, fmt.Errorf("time %q: %v", s, cleanTimeErr(err))
		}
		return t, nil
	}
	t, err := time.ParseInLocation(layout, v, loc)
	if err != nil {
		return time.Time{}, fmt.Errorf("time %q: %v", s, cleanTimeErr(err))
	}
	return t, nil
}

func cleanTimeErr(err error) string {
	var pe *time.ParseError
	if e, ok := err.(*time.ParseError); ok {
		pe = e
		if pe.Message != "" {
			return strings.TrimPrefix(pe.Message, ": ")
		}
		return "not a valid date and time"
	}
	return err.Error()
}

// Package xsdtypes holds the strict XML Schema date types that replace gowsdl v0.5.0's
// soap.XSDDate and soap.XSDDateTime in every generated package under wsdl/: those swallow parse
// errors (an invalid date silently became the zero time). Each generated package aliases them in
// its corrections.go, so one implementation serves every service.
//
// It must not know any service: only XML Schema's lexical forms.
package xsdtypes

import (
	"encoding/xml"
	"fmt"
	"strings"
	"time"
)

// Date is xs:date. It replaces soap.XSDDate, whose decoder swallows parse errors (an invalid date
// became the zero time without a word) and reads zone-less dates in time.Local. A zone, if
// present, is ignored: a date of birth or of an event is a calendar day. The zero Date is
// omitted when marshalled, so a required date must be set by the builder.
type Date struct{ t time.Time }

// NewDate returns the calendar day of t.
func NewDate(t time.Time) Date {
	return Date{time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)}
}

// Time returns the day at midnight UTC; the zero time when unset.
func (d Date) Time() time.Time { return d.t }

// IsZero reports whether the date is unset.
func (d Date) IsZero() bool { return d.t.IsZero() }

// MarshalXML writes aaaa-mm-gg, or nothing when the date is unset.
func (d Date) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	if d.t.IsZero() {
		return nil
	}
	return e.EncodeElement(d.t.Format(time.DateOnly), start)
}

// UnmarshalXML reads an xs:date and reports a malformed one with the element's name.
func (d *Date) UnmarshalXML(dec *xml.Decoder, start xml.StartElement) error {
	var s string
	if err := dec.DecodeElement(&s, &start); err != nil {
		return err
	}
	t, err := ParseDate(s)
	if err != nil {
		return fmt.Errorf("%s: %w", start.Name.Local, err)
	}
	d.t = t
	return nil
}

// ParseDate reads the lexical form of an xs:date (aaaa-mm-gg with an optional zone, which is
// ignored), surrounding white space aside, as the day at midnight UTC. Adapters that read a
// record's dates as text, to reject a bad one without failing its whole document, use it.
func ParseDate(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	day := s
	if len(s) > 10 { // a zone suffix: Z, +hh:mm or -hh:mm
		day = s[:10]
		if z := s[10:]; z != "Z" && !(len(z) == 6 && (z[0] == '+' || z[0] == '-') && z[3] == ':') {
			return time.Time{}, fmt.Errorf("%q is not an xs:date (aaaa-mm-gg)", s)
		}
	}
	t, err := time.Parse(time.DateOnly, day)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not an xs:date (aaaa-mm-gg)", s)
	}
	return t, nil
}

// DateTime is xs:dateTime. It replaces soap.XSDDateTime, whose decoder swallows parse errors.
// A value without a zone is read as UTC. The zero DateTime is omitted when marshalled.
type DateTime struct{ t time.Time }

// NewDateTime returns t truncated to the second.
func NewDateTime(t time.Time) DateTime { return DateTime{t.Truncate(time.Second)} }

// Time returns the instant; the zero time when unset.
func (d DateTime) Time() time.Time { return d.t }

// IsZero reports whether the instant is unset.
func (d DateTime) IsZero() bool { return d.t.IsZero() }

// MarshalXML writes RFC 3339 with its zone, or nothing when unset.
func (d DateTime) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	if d.t.IsZero() {
		return nil
	}
	return e.EncodeElement(d.t.Format(time.RFC3339Nano), start)
}

// UnmarshalXML reads an xs:dateTime and reports a malformed one with the element's name.
func (d *DateTime) UnmarshalXML(dec *xml.Decoder, start xml.StartElement) error {
	var s string
	if err := dec.DecodeElement(&s, &start); err != nil {
		return err
	}
	s = strings.TrimSpace(s)
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t, err = time.ParseInLocation("2006-01-02T15:04:05.999999999", s, time.UTC)
	}
	if err != nil {
		return fmt.Errorf("%s: %q is not an xs:dateTime", start.Name.Local, s)
	}
	d.t = t
	return nil
}

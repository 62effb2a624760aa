package europass

import (
	"fmt"
	"time"

	"porta/wsdl/xsdtypes"
)

// Hand-written corrections (see doc.go).

// Date and DateTime are the strict xs:date and xs:dateTime of package xsdtypes, replacing
// soap.XSDDate and soap.XSDDateTime, whose decoders swallow parse errors.
type (
	Date     = xsdtypes.Date
	DateTime = xsdtypes.DateTime
)

// NewDate returns the calendar day of t.
func NewDate(t time.Time) Date { return xsdtypes.NewDate(t) }

// NewDateTime returns t to the second.
func NewDateTime(t time.Time) DateTime { return xsdtypes.NewDateTime(t) }

// GYear is xs:gYear (e.g. 1985); gowsdl v0.5.0 referenced it undefined.
type GYear string

// GMonth is xs:gMonth, written --MM (e.g. --03); gowsdl v0.5.0 referenced it undefined.
type GMonth string

// GDay is xs:gDay, written ---DD (e.g. ---10); gowsdl v0.5.0 referenced it undefined.
type GDay string

// NewDateType returns the Europass DateType (year, month and day attributes) of a calendar day.
func NewDateType(t time.Time) *DateType {
	y := GYear(fmt.Sprintf("%04d", t.Year()))
	m := GMonth(fmt.Sprintf("--%02d", int(t.Month())))
	d := GDay(fmt.Sprintf("---%02d", t.Day()))
	return &DateType{Year: &y, Month: &m, Day: &d}
}

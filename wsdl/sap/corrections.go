package sap

import (
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

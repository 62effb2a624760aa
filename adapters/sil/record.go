package sil

import (
	"errors"
	"fmt"
	"regexp"

	"porta/adapters/codicefiscale"
	"porta/xsd"
)

// RecordError rejects one record: it names the record (codice fiscale and SIL id), the field
// (as the document or the SIL names it) and the rule that failed. Builders return it so a caller
// can record the rejection, list it and send the record again once corrected.
type RecordError struct {
	CF    string // as the SIL holds it, possibly invalid or empty
	SILID string
	Field string
	Rule  string
	Err   error // the underlying cause, e.g. a *codicefiscale.Error or a schema violation
}

// Record names the record: its codice fiscale, or its SIL id when the code is missing.
func (e *RecordError) Record() string {
	switch {
	case e.CF != "" && e.SILID != "":
		return fmt.Sprintf("CF %s (SIL id %s)", e.CF, e.SILID)
	case e.CF != "":
		return "CF " + e.CF
	}
	return "SIL id " + e.SILID
}

func (e *RecordError) Error() string {
	msg := fmt.Sprintf("record %s: field %s: %s", e.Record(), e.Field, e.Rule)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *RecordError) Unwrap() error { return e.Err }

// Reject builds the RecordError of w for field and rule.
func (w *Worker) Reject(field, rule string, err error) *RecordError {
	return &RecordError{CF: w.CodiceFiscale, SILID: w.ID, Field: field, Rule: rule, Err: err}
}

var (
	belfioreRE = regexp.MustCompile(`^[A-Z][0-9]{3}$`)
	capRE      = regexp.MustCompile(`^[0-9]{5}$`)
	citizenRE  = regexp.MustCompile(`^[0-9]{3}$`)
)

// CheckIdentity applies the checks every outbound document needs: the codice fiscale (every
// rule of codicefiscale.Validate, and a personal 16-character code), surname, name, sex, date and
// place of birth, citizenship. Field names are the SIL's (the mapping keys of the configuration).
func (w *Worker) CheckIdentity() error {
	if w.CodiceFiscale == "" {
		return w.Reject("codice_fiscale", "required", nil)
	}
	if err := codicefiscale.Validate(w.CodiceFiscale); err != nil {
		var ce *codicefiscale.Error
		rule := "codice fiscale"
		if errors.As(err, &ce) {
			rule = string(ce.Rule)
		}
		return w.Reject("codice_fiscale", rule, err)
	}
	if len(w.CodiceFiscale) != 16 {
		return w.Reject("codice_fiscale", "personal code", errors.New("an 11-digit provisional code cannot carry a worker's record"))
	}
	for _, f := range []struct{ name, v string }{{"cognome", w.Cognome}, {"nome", w.Nome}} {
		if f.v == "" {
			return w.Reject(f.name, "required", nil)
		}
	}
	if w.Sesso != "M" && w.Sesso != "F" {
		return w.Reject("sesso", "M or F", fmt.Errorf("got %q", w.Sesso))
	}
	if w.DataNascita.IsZero() {
		return w.Reject("data_nascita", "required", nil)
	}
	if !belfioreRE.MatchString(w.ComuneNascita) {
		return w.Reject("comune_nascita", "Belfiore code [A-Z][0-9]{3}", fmt.Errorf("got %q", w.ComuneNascita))
	}
	if !citizenRE.MatchString(w.Cittadinanza) {
		return w.Reject("cittadinanza", "3 digits", fmt.Errorf("got %q", w.Cittadinanza))
	}
	return nil
}

// CheckAddress checks an address the document requires (field is dom or res).
func (w *Worker) CheckAddress(field string, a Address) error {
	if !belfioreRE.MatchString(a.Comune) {
		return w.Reject(field+"_comune", "Belfiore code [A-Z][0-9]{3}", fmt.Errorf("got %q", a.Comune))
	}
	if !capRE.MatchString(a.CAP) {
		return w.Reject(field+"_cap", "5 digits", fmt.Errorf("got %q", a.CAP))
	}
	return nil
}

// Validator checks a document against one of Porta's schemas; *xsd.Set implements it. schema
// is the path of the schema under xsd/schemas, e.g. "labour/sap.xsd".
type Validator interface {
	Validate(schema string, doc []byte) error
}

// Batch builds a document for each worker with build and goes on past the ones it rejects: out
// holds the documents in order, rejected the *RecordError of each refused worker (an error of
// another type is wrapped into a RecordError with rule "build").
func Batch[T any](workers []*Worker, build func(*Worker) (T, error)) (out []T, rejected []*RecordError) {
	for _, w := range workers {
		doc, err := build(w)
		if err != nil {
			var re *RecordError
			if !errors.As(err, &re) {
				re = w.Reject("-", "build", err)
			}
			rejected = append(rejected, re)
			continue
		}
		out = append(out, doc)
	}
	return out, rejected
}

// CheckDocument validates doc against schema with v and turns a violation into this worker's
// RecordError: the field is the element libxml2 names, the rule the schema.
func (w *Worker) CheckDocument(v Validator, schema string, doc []byte) error {
	if v == nil {
		return fmt.Errorf("record %s: no validator for %s: every emitted document must be validated", w.CodiceFiscale, schema)
	}
	err := v.Validate(schema, doc)
	if err == nil {
		return nil
	}
	field := "-"
	var xe *xsd.Error
	if errors.As(err, &xe) && len(xe.Problems) > 0 && xe.Problems[0].Element != "" {
		field = xe.Problems[0].Element
	}
	return w.Reject(field, "schema "+schema, err)
}

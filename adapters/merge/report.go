package merge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"porta/adapters/codicefiscale"
)

// Outcome is what a merge did with one record.
type Outcome string

// The outcomes.
const (
	Merged    Outcome = "merged"    // the store changed (and merge_log says how)
	Unchanged Outcome = "unchanged" // the store already held this, or the record calls for nothing
	Rejected  Outcome = "rejected"  // the record failed a check; see Result.Err and the failures table
)

// Result is one record's outcome.
type Result struct {
	Key     string
	Outcome Outcome
	What    string // for Merged and Unchanged: what was done or why nothing was
	Err     error  // for Rejected: a *RecordError
}

// Report is a batch's outcome, one Result per record in order.
type Report struct {
	Source  string
	Kind    string
	Results []Result
}

// Count returns how many records had the outcome.
func (r *Report) Count(o Outcome) int {
	n := 0
	for _, x := range r.Results {
		if x.Outcome == o {
			n++
		}
	}
	return n
}

func (r *Report) add(key string, o Outcome, what string, err error) {
	r.Results = append(r.Results, Result{Key: key, Outcome: o, What: what, Err: err})
}

// RecordError reports a record that failed a check: which record (source, kind, key), which field
// and which rule, and why.
type RecordError struct {
	Source string // who sent it
	Kind   string // anagrafe, scuola, inps, corso
	Record string // the record's key, e.g. its codice fiscale
	Field  string // e.g. generalita/codiceFiscale
	Rule   string // e.g. "codice fiscale check character"
	Reason string
}

func (e *RecordError) Error() string {
	return fmt.Sprintf("%s record %s from %s: %s: %s (rule: %s)", e.Kind, e.Record, e.Source, e.Field, e.Reason, e.Rule)
}

// Problem returns the field, the rule and the reason (formazione.Service reads it).
func (e *RecordError) Problem() (field, rule, reason string) { return e.Field, e.Rule, e.Reason }

// checkCF validates a codice fiscale with codicefiscale.Validate; the RecordError's rule is the
// one codicefiscale names (length, pattern, month letter, day range, check character, partita IVA).
func checkCF(source, kind, key, field, cf string) error {
	err := codicefiscale.Validate(cf)
	if err == nil {
		return nil
	}
	re := &RecordError{Source: source, Kind: kind, Record: key, Field: field, Rule: "codice fiscale", Reason: err.Error()}
	var ce *codicefiscale.Error
	if errors.As(err, &ce) {
		re.Rule = "codice fiscale: " + string(ce.Rule)
	}
	return re
}

// FailureStatus is the state of a rejected record in the failures table.
type FailureStatus string

// Failure states.
const (
	FailureOpen     FailureStatus = "open"     // waiting for an operator or a re-send
	FailureResolved FailureStatus = "resolved" // a later merge of the same record succeeded
)

// Failure is a rejected record kept for listing and re-sending.
type Failure struct {
	ID       int64  `db:"id"`
	At       string `db:"at"`
	Source   string `db:"source"`
	Kind     string `db:"kind"`
	Key      string `db:"record_key"`
	Field    string `db:"field"`
	Rule     string `db:"rule"`
	Reason   string `db:"reason"`
	Payload  string `db:"payload"` // the record as JSON, as Resend takes it back
	Status   string `db:"status"`
	Attempts int    `db:"attempts"`
	Updated  string `db:"updated_at"`
}

// reject records a rejected record in the failures table: once per (source, kind, key, field,
// rule) while open, counting attempts, so a re-sent bad record does not pile up.
func (s *Store) reject(ctx context.Context, rep *Report, key string, record any, err error) error {
	var re *RecordError
	if !errors.As(err, &re) {
		return err
	}
	payload, jerr := json.Marshal(record)
	if jerr != nil {
		return fmt.Errorf("merge: encode rejected %s %s: %w", re.Kind, key, jerr)
	}
	now := s.stamp()
	res, xerr := s.db.ExecContext(ctx, s.db.Rebind(`UPDATE failures SET attempts = attempts + 1, reason = ?, payload = ?, updated_at = ?
		WHERE source = ? AND kind = ? AND record_key = ? AND field = ? AND rule = ? AND status = 'open'`),
		re.Reason, string(payload), now, re.Source, re.Kind, key, re.Field, re.Rule)
	if xerr != nil {
		return fmt.Errorf("merge: record failure of %s %s: %w", re.Kind, key, xerr)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		_, xerr = s.db.ExecContext(ctx, s.db.Rebind(`INSERT INTO failures (at, source, kind, record_key, field, rule, reason, payload, status, attempts, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'open', 1, ?)`), now, re.Source, re.Kind, key, re.Field, re.Rule, re.Reason, string(payload), now)
		if xerr != nil {
			return fmt.Errorf("merge: record failure of %s %s: %w", re.Kind, key, xerr)
		}
	}
	rep.add(key, Rejected, "", re)
	return nil
}

// resolve closes the open failures of a record that has now merged.
func (s *Store) resolve(ctx context.Context, kind, key string) error {
	_, err := s.db.ExecContext(ctx, s.db.Rebind(`UPDATE failures SET status = 'resolved', updated_at = ? WHERE kind = ? AND record_key = ? AND status = 'open'`), s.stamp(), kind, key)
	if err != nil {
		return fmt.Errorf("merge: resolve failures of %s %s: %w", kind, key, err)
	}
	return nil
}

// Failures lists the failures with the status ("" = all), oldest first.
func (s *Store) Failures(ctx context.Context, status FailureStatus) ([]Failure, error) {
	var out []Failure
	var err error
	if status == "" {
		err = s.db.SelectContext(ctx, &out, `SELECT * FROM failures ORDER BY id`)
	} else {
		err = s.db.SelectContext(ctx, &out, s.db.Rebind(`SELECT * FROM failures WHERE status = ? ORDER BY id`), string(status))
	}
	if err != nil {
		return nil, fmt.Errorf("merge: list failures: %w", err)
	}
	return out, nil
}

// Reject records a record that failed before it could be merged (a response that did not
// decode, say) in the failures table, with err's field and rule when err is a *RecordError.
func (s *Store) Reject(ctx context.Context, e *RecordError, payload any) error {
	rep := &Report{}
	return s.reject(ctx, rep, e.Record, payload, e)
}

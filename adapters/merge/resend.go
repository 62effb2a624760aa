package merge

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"porta/adapters/anagrafe"
	"porta/adapters/formazione"
	"porta/adapters/inps"
	"porta/adapters/scuola"
)

// Resend merges a failure's stored record again (after the SIL learned the worker, say). If it
// merges, the failure is resolved; if it is rejected again, its attempts grow. It returns the
// record's Result. Each kind's payload holds all the merge needs (a pupil keeps its school and
// school year).
func (s *Store) Resend(ctx context.Context, id int64) (*Result, error) {
	var f Failure
	err := s.db.GetContext(ctx, &f, s.db.Rebind(`SELECT * FROM failures WHERE id = ?`), id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("merge: resend failure %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("merge: resend failure %d: %w", id, err)
	}
	if f.Status != string(FailureOpen) {
		return nil, fmt.Errorf("merge: resend failure %d: it is %s, not open", id, f.Status)
	}
	rep := &Report{}
	decode := func(v any) error {
		if err := json.Unmarshal([]byte(f.Payload), v); err != nil {
			return fmt.Errorf("merge: resend failure %d: payload: %w", id, err)
		}
		return nil
	}
	switch f.Kind {
	case KindAnagrafe:
		var subj anagrafe.Subject
		if err := decode(&subj); err != nil {
			return nil, err
		}
		err = s.mergeSubject(ctx, rep, f.Source, &subj)
	case KindINPS:
		var r inps.Recipient
		if err := decode(&r); err != nil {
			return nil, err
		}
		err = s.mergeRecipient(ctx, rep, f.Source, "resend", f.Key, r)
	case KindScuola:
		var p pupilPayload
		if err := decode(&p); err != nil {
			return nil, err
		}
		err = s.mergePupil(ctx, rep, f.Source, p.School, p.Year, p.Pupil)
	case KindCorso:
		var c formazione.Course
		if err := decode(&c); err != nil {
			return nil, err
		}
		var o formazione.Outcome
		o, err = s.PublishCourse(ctx, f.Source, c)
		var re *RecordError
		switch {
		case errors.As(err, &re):
			rep.add(f.Key, Rejected, "", re)
			err = nil
		case err == nil && o == formazione.Unchanged:
			rep.add(f.Key, Unchanged, "already in the catalogue", nil)
		case err == nil:
			rep.add(f.Key, Merged, "corso "+string(o), nil)
		}
	default:
		return nil, fmt.Errorf("merge: resend failure %d: unknown kind %q", id, f.Kind)
	}
	if err != nil {
		return nil, err
	}
	res := rep.Results[len(rep.Results)-1]
	if res.Outcome != Rejected {
		if _, err := s.db.ExecContext(ctx, s.db.Rebind(`UPDATE failures SET status = 'resolved', updated_at = ? WHERE id = ?`), s.stamp(), id); err != nil {
			return nil, fmt.Errorf("merge: resolve failure %d: %w", id, err)
		}
	}
	return &res, nil
}

// pupilPayload is how a rejected pupil is kept: with its school and year.
type pupilPayload struct {
	School string
	Year   string
	scuola.Pupil
}

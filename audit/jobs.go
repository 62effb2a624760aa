package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

// The state of porta serve's scheduled jobs (package jobs runs them): the store keeps it so that
// the nodes sharing a PostgreSQL database run each job on one node at a time, once per schedule
// slot, and so that a job's mark and history survive restarts. A job row is claimed like a queue
// item: a lease with an expiry that a dead node's successor takes over.

// Job run outcomes.
const (
	JobRunning   = "running"
	JobOK        = "ok"
	JobFailed    = "failed"
	JobCancelled = "cancelled" // stopped by the node's shutdown or a lost lease; the mark stays
	JobAbandoned = "abandoned" // its node stopped without ending it; set by the next holder
)

// JobState is a job's shared row.
type JobState struct {
	Job        string    `json:"job"`
	Owner      string    `json:"owner,omitempty"` // the node holding the lease; "" = none
	LeaseUntil time.Time `json:"lease_until,omitzero"`
	Due        time.Time `json:"due"`           // when the next run may start
	Mark       time.Time `json:"mark,omitzero"` // start of the last successful run; zero = never
	LastOK     time.Time `json:"last_ok,omitzero"`
	LastFailed time.Time `json:"last_failed,omitzero"`
	Runs       int64     `json:"runs"`
	Failures   int64     `json:"failures"`
}

// JobRun is one run of a job.
type JobRun struct {
	ID      int64            `json:"id"`
	Job     string           `json:"job"`
	Node    string           `json:"node"`
	Started time.Time        `json:"started"`
	Ended   time.Time        `json:"ended,omitzero"`
	Since   time.Time        `json:"since,omitzero"` // the mark the run started from
	Outcome string           `json:"outcome"`
	Counts  map[string]int64 `json:"counts,omitempty"`
	Error   string           `json:"error,omitempty"`
}

// ErrJobLease is returned (wrapped) when a node acts on a job whose lease it no longer holds.
var ErrJobLease = errors.New("job lease not held")

const jobStateColumns = `job, owner, lease_until, due, mark, last_success, last_failure, runs, failures`

func scanJobState(sc scanner) (*JobState, error) {
	var st JobState
	var lu, due, mark, ok, failed int64
	if err := sc.Scan(&st.Job, &st.Owner, &lu, &due, &mark, &ok, &failed, &st.Runs, &st.Failures); err != nil {
		return nil, err
	}
	st.LeaseUntil, st.Due, st.Mark, st.LastOK, st.LastFailed = fromMicros(lu), fromMicros(due), fromMicros(mark), fromMicros(ok), fromMicros(failed)
	return &st, nil
}

// ClaimJob leases job to owner for lease if the job is due and nobody's lease is current, or if
// its previous holder's lease ran out without the holder ending its run (that node died: the run
// is taken over at once, and the runs it left as running are recorded as abandoned). next gives
// the job's due time after an instant: it sets the first due time of a job the store does not
// know yet and, on a claim, the next one. It returns the claimed state, or claimed false and the
// current state (who holds it, when it is due).
func (s *Store) ClaimJob(ctx context.Context, job, owner string, lease time.Duration, next func(time.Time) time.Time) (st *JobState, claimed bool, err error) {
	if job == "" || owner == "" || lease <= 0 || next == nil {
		return nil, false, fmt.Errorf("claim job %q for %q: want a job, an owner, a positive lease and a schedule", job, owner)
	}
	now := s.now()
	n := micros(now)
	err = s.jobTx(ctx, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO job_state (`+jobStateColumns+`) VALUES (?, '', 0, ?, 0, 0, 0, 0, 0)
			ON CONFLICT (job) DO NOTHING`), job, micros(next(now))); err != nil {
			return err
		}
		st, err = scanJobState(tx.QueryRowxContext(ctx, tx.Rebind(`UPDATE job_state SET owner = ?, lease_until = ?, due = ?
			WHERE job = ? AND lease_until < ? AND (due <= ? OR owner <> '') RETURNING `+jobStateColumns),
			owner, n+lease.Microseconds(), micros(next(now)), job, n, n))
		if isNoRows(err) {
			st, err = scanJobState(tx.QueryRowxContext(ctx, tx.Rebind(`SELECT `+jobStateColumns+` FROM job_state WHERE job = ?`), job))
			return err
		}
		if err != nil {
			return err
		}
		claimed = true
		_, err = tx.ExecContext(ctx, tx.Rebind(`UPDATE job_run SET outcome = ?, ended = ?, error = ? WHERE job = ? AND outcome = ?`),
			JobAbandoned, n, "its node stopped without ending it (lease expired)", job, JobRunning)
		return err
	})
	if err != nil {
		return nil, false, fmt.Errorf("claim job %q for %s: %w", job, owner, err)
	}
	return st, claimed, nil
}

// RenewJob extends owner's lease of job to now+lease; ErrJobLease if another node holds it now.
func (s *Store) RenewJob(ctx context.Context, job, owner string, lease time.Duration) error {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE job_state SET lease_until = ? WHERE job = ? AND owner = ?`),
		micros(s.now())+lease.Microseconds(), job, owner)
	if err == nil {
		var n int64
		if n, err = res.RowsAffected(); err == nil && n == 0 {
			err = ErrJobLease
		}
	}
	if err != nil {
		return fmt.Errorf("renew job %q for %s: %w", job, owner, err)
	}
	return nil
}

// StartJobRun records r (Job, Node, Started, Since) as running and sets r.ID.
func (s *Store) StartJobRun(ctx context.Context, r *JobRun) error {
	r.Outcome = JobRunning
	err := s.db.QueryRowxContext(ctx, s.q(`INSERT INTO job_run (job, node, started, ended, since, outcome, counts, error)
		VALUES (?, ?, ?, 0, ?, ?, '{}', '') RETURNING id`), r.Job, r.Node, micros(r.Started), micros(r.Since), r.Outcome).Scan(&r.ID)
	if err != nil {
		return fmt.Errorf("start run of job %q: %w", r.Job, err)
	}
	return nil
}

// FinishJob ends run r (Ended, Outcome, Counts, Error filled by the caller) and releases its
// node's lease, in one transaction. An ok run advances the job's mark to its start (never
// backwards); a failed one counts as a failure; a cancelled one makes the job due at once, for
// another node to take over. If the node no longer holds the lease the run is still recorded, the
// job's row is left to its new holder, and ErrJobLease is returned.
func (s *Store) FinishJob(ctx context.Context, r *JobRun) error {
	counts, err := json.Marshal(r.Counts)
	if err != nil {
		return fmt.Errorf("finish run %d of job %q: %w", r.ID, r.Job, err)
	}
	if r.Counts == nil {
		counts = []byte("{}")
	}
	ended := micros(r.Ended)
	var lost bool
	err = s.jobTx(ctx, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE job_run SET ended = ?, outcome = ?, counts = ?, error = ? WHERE id = ?`),
			ended, r.Outcome, string(counts), r.Error, r.ID); err != nil {
			return err
		}
		q := `UPDATE job_state SET owner = '', lease_until = 0, runs = runs + 1`
		args := []any{}
		switch r.Outcome {
		case JobOK:
			q += `, mark = CASE WHEN mark > ? THEN mark ELSE ? END, last_success = ?`
			args = append(args, micros(r.Started), micros(r.Started), ended)
		case JobFailed:
			q += `, failures = failures + 1, last_failure = ?`
			args = append(args, ended)
		case JobCancelled:
			q += `, due = ?`
			args = append(args, micros(s.now()))
		default:
			return fmt.Errorf("outcome %q: want ok, failed or cancelled", r.Outcome)
		}
		res, err := tx.ExecContext(ctx, tx.Rebind(q+` WHERE job = ? AND owner = ?`), append(args, r.Job, r.Node)...)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		lost = n == 0
		return err
	})
	if err == nil && lost {
		err = ErrJobLease
	}
	if err != nil {
		return fmt.Errorf("finish run %d of job %q on %s: %w", r.ID, r.Job, r.Node, err)
	}
	return nil
}

// MakeJobDue makes job due at once (an operator asked for a run): the next ClaimJob of any node
// takes it, unless a node runs it now. A job the store does not know yet (never claimed) is
// created due. It returns the job's state after the change.
func (s *Store) MakeJobDue(ctx context.Context, job string) (*JobState, error) {
	if job == "" {
		return nil, errors.New("make job due: no job name")
	}
	n := micros(s.now())
	var st *JobState
	err := s.jobTx(ctx, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO job_state (`+jobStateColumns+`) VALUES (?, '', 0, ?, 0, 0, 0, 0, 0)
			ON CONFLICT (job) DO UPDATE SET due = excluded.due`), job, n); err != nil {
			return err
		}
		var err error
		st, err = scanJobState(tx.QueryRowxContext(ctx, tx.Rebind(`SELECT `+jobStateColumns+` FROM job_state WHERE job = ?`), job))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("make job %q due: %w", job, err)
	}
	return st, nil
}

// JobStates returns every job's row, by name.
func (s *Store) JobStates(ctx context.Context) ([]*JobState, error) {
	rows, err := s.db.QueryxContext(ctx, `SELECT `+jobStateColumns+` FROM job_state ORDER BY job`)
	if err != nil {
		return nil, fmt.Errorf("job states: %w", err)
	}
	defer rows.Close()
	var out []*JobState
	for rows.Next() {
		st, err := scanJobState(rows)
		if err != nil {
			return nil, fmt.Errorf("job states: %w", err)
		}
		out = append(out, st)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("job states: %w", err)
	}
	return out, nil
}

// JobRuns returns up to limit runs, newest first: of job, or of every job when job is "".
func (s *Store) JobRuns(ctx context.Context, job string, limit int) ([]*JobRun, error) {
	if limit <= 0 {
		limit = 100
	}
	q, args := `SELECT id, job, node, started, ended, since, outcome, counts, error FROM job_run`, []any{}
	if job != "" {
		q, args = q+` WHERE job = ?`, append(args, job)
	}
	rows, err := s.db.QueryxContext(ctx, s.q(q+` ORDER BY id DESC LIMIT ?`), append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("job runs: %w", err)
	}
	defer rows.Close()
	var out []*JobRun
	for rows.Next() {
		var r JobRun
		var started, ended, since int64
		var counts string
		if err := rows.Scan(&r.ID, &r.Job, &r.Node, &started, &ended, &since, &r.Outcome, &counts, &r.Error); err != nil {
			return nil, fmt.Errorf("job runs: %w", err)
		}
		r.Started, r.Ended, r.Since = fromMicros(started), fromMicros(ended), fromMicros(since)
		if err := json.Unmarshal([]byte(counts), &r.Counts); err != nil {
			return nil, fmt.Errorf("job runs: run %d: counts: %w", r.ID, err)
		}
		out = append(out, &r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("job runs: %w", err)
	}
	return out, nil
}

// jobTx runs fn in a transaction of its own (not the trail writer's: job rows are not traced).
func (s *Store) jobTx(ctx context.Context, fn func(tx *sqlx.Tx) error) error {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

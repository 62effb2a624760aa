package sil

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/mattn/go-sqlite3" // driver "sqlite3"
)

// ErrNotFound is returned by Source.Worker when the SIL has no worker with that codice fiscale.
var ErrNotFound = errors.New("sil: no such worker")

// Source reads workers from a SIL database through its Config. It is safe for concurrent use.
type Source struct {
	db  *sqlx.DB
	cfg *Config
}

// Open connects to the SIL of cfg, read-only, and checks that it answers. SQLite ("sqlite3") is
// linked here; another driver (PostgreSQL's "pgx") must be linked by the program, and the
// queries then run in read-only transactions.
func Open(ctx context.Context, cfg *Config) (*Source, error) {
	if !slices.Contains(sql.Drivers(), cfg.Database.Driver) {
		return nil, fmt.Errorf("sil open %s: database driver %q is not linked into this program (linked: %s)",
			cfg.file, cfg.Database.Driver, strings.Join(sql.Drivers(), ", "))
	}
	dsn, err := cfg.dsn()
	if err != nil {
		return nil, fmt.Errorf("sil open %s: %w", cfg.file, err)
	}
	db, err := sqlx.Open(cfg.Database.Driver, dsn)
	if err != nil {
		return nil, fmt.Errorf("sil open: %w", err)
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sil open: %w", err)
	}
	return &Source{db: db, cfg: cfg}, nil
}

// Close releases the database.
func (s *Source) Close() error { return s.db.Close() }

// Worker returns the worker with codice fiscale cf and its lists. A row the mapping cannot read
// (a malformed date or number) is returned as a *RecordError.
func (s *Source) Worker(ctx context.Context, cf string) (*Worker, error) {
	ws, rejected, err := s.query(ctx, s.cfg.Worker.ByCF, cf)
	if err != nil {
		return nil, fmt.Errorf("sil worker %s: %w", cf, err)
	}
	if len(rejected) > 0 {
		return nil, rejected[0]
	}
	if len(ws) == 0 {
		return nil, fmt.Errorf("sil worker %s: %w", cf, ErrNotFound)
	}
	if len(ws) > 1 {
		return nil, fmt.Errorf("sil worker %s: %d rows share the codice fiscale (SIL ids %s, %s)", cf, len(ws), ws[0].ID, ws[1].ID)
	}
	return ws[0], nil
}

// ChangedSince returns the workers changed after t, with their lists; the rows the mapping
// cannot read come back as rejected, and the rest go on.
func (s *Source) ChangedSince(ctx context.Context, t time.Time) (workers []*Worker, rejected []*RecordError, err error) {
	var arg any = t
	if f := s.cfg.Worker.SinceFormat; f != "" {
		arg = t.UTC().Format(f)
	}
	workers, rejected, err = s.query(ctx, s.cfg.Worker.ChangedSince, arg)
	if err != nil {
		return nil, nil, fmt.Errorf("sil changed since %s: %w", t.Format(time.RFC3339), err)
	}
	return workers, rejected, nil
}

func (s *Source) query(ctx context.Context, q string, arg any) ([]*Worker, []*RecordError, error) {
	tx, err := s.db.BeginTxx(ctx, &sql.TxOptions{ReadOnly: s.cfg.Database.Driver != "sqlite3"})
	if err != nil {
		return nil, nil, err
	}
	defer tx.Rollback() // read-only: nothing to commit

	rows, err := tx.QueryxContext(ctx, tx.Rebind(q), arg)
	if err != nil {
		return nil, nil, fmt.Errorf("worker query: %w", err)
	}
	var workers []*Worker
	var rejected []*RecordError
	err = scanAll(rows, s.cfg.Worker.Columns, workerFields, func(w *Worker, ferr *fieldError) {
		if ferr != nil {
			rejected = append(rejected, w.Reject(ferr.field, ferr.rule, ferr.err))
			return
		}
		workers = append(workers, w)
	})
	if err != nil {
		return nil, nil, fmt.Errorf("worker query: %w", err)
	}

	exp, err := tx.PreparexContext(ctx, tx.Rebind(s.cfg.Experiences.Query))
	if err != nil {
		return nil, nil, fmt.Errorf("experiences query: %w", err)
	}
	defer exp.Close()
	edu, err := tx.PreparexContext(ctx, tx.Rebind(s.cfg.Education.Query))
	if err != nil {
		return nil, nil, fmt.Errorf("education query: %w", err)
	}
	defer edu.Close()
	lng, err := tx.PreparexContext(ctx, tx.Rebind(s.cfg.Languages.Query))
	if err != nil {
		return nil, nil, fmt.Errorf("languages query: %w", err)
	}
	defer lng.Close()

	kept := workers[:0]
	for _, w := range workers {
		var bad *fieldError
		note := func(section string) func(*fieldError) {
			return func(f *fieldError) {
				if bad == nil && f != nil {
					f.field = section + "." + f.field
					bad = f
				}
			}
		}
		if err := children(ctx, exp, w.ID, s.cfg.Experiences.Columns, experienceFields, &w.Esperienze, note("experiences")); err != nil {
			return nil, nil, fmt.Errorf("experiences of SIL id %s: %w", w.ID, err)
		}
		if err := children(ctx, edu, w.ID, s.cfg.Education.Columns, educationFields, &w.Istruzione, note("education")); err != nil {
			return nil, nil, fmt.Errorf("education of SIL id %s: %w", w.ID, err)
		}
		if err := children(ctx, lng, w.ID, s.cfg.Languages.Columns, languageFields, &w.Lingue, note("languages")); err != nil {
			return nil, nil, fmt.Errorf("languages of SIL id %s: %w", w.ID, err)
		}
		if bad != nil {
			rejected = append(rejected, w.Reject(bad.field, bad.rule, bad.err))
			continue
		}
		kept = append(kept, w)
	}
	return kept, rejected, nil
}

func children[T any](ctx context.Context, st *sqlx.Stmt, id string, cols map[string]string, fields map[string]field[T], out *[]T, note func(*fieldError)) error {
	rows, err := st.QueryxContext(ctx, id)
	if err != nil {
		return err
	}
	return scanAll(rows, cols, fields, func(v *T, ferr *fieldError) {
		note(ferr)
		*out = append(*out, *v)
	})
}

// fieldError is a value the mapping could not read.
type fieldError struct {
	field, rule string
	err         error
}

// scanAll reads every row, mapping columns to fields; each row goes to emit with the first field
// it could not convert, if any.
func scanAll[T any](rows *sqlx.Rows, cols map[string]string, fields map[string]field[T], emit func(*T, *fieldError)) error {
	defer rows.Close()
	names, err := rows.Columns()
	if err != nil {
		return err
	}
	index := make(map[string]int, len(names))
	for i, n := range names {
		index[strings.ToLower(n)] = i
	}
	type target struct {
		name string
		col  int
		ptr  func(*T) any
	}
	var targets []target
	for f, c := range cols {
		i, ok := index[strings.ToLower(c)]
		if !ok {
			return fmt.Errorf("field %s: column %q is not in the result (columns: %s)", f, c, strings.Join(names, ", "))
		}
		targets = append(targets, target{f, i, fields[f].ptr})
	}
	vals := make([]any, len(names))
	ptrs := make([]any, len(names))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		v := new(T)
		var bad *fieldError
		for _, t := range targets {
			if err := assign(t.ptr(v), vals[t.col]); err != nil && bad == nil {
				bad = &fieldError{field: t.name, rule: err.rule, err: err.err}
			}
		}
		emit(v, bad)
	}
	return rows.Err()
}

type convError struct {
	rule string
	err  error
}

// assign converts a database value into a field; NULL leaves the zero value.
func assign(dst any, v any) *convError {
	if v == nil {
		return nil
	}
	var s string
	switch x := v.(type) {
	case []byte:
		s = string(x)
	case string:
		s = x
	case time.Time:
		switch d := dst.(type) {
		case *time.Time:
			*d = time.Date(x.Year(), x.Month(), x.Day(), x.Hour(), x.Minute(), x.Second(), 0, time.UTC)
			if x.Hour() == 0 && x.Minute() == 0 && x.Second() == 0 {
				*d = time.Date(x.Year(), x.Month(), x.Day(), 0, 0, 0, 0, time.UTC)
			}
			return nil
		case *string:
			*d = x.Format(time.DateOnly)
			return nil
		}
		return &convError{"number", fmt.Errorf("got a date %s", x.Format(time.DateOnly))}
	default:
		s = fmt.Sprint(x)
	}
	s = strings.TrimSpace(s)
	switch d := dst.(type) {
	case *string:
		*d = s
	case *int:
		if s == "" {
			return nil
		}
		n, err := strconv.Atoi(s)
		if err != nil {
			return &convError{"integer", fmt.Errorf("%q is not an integer", s)}
		}
		*d = n
	case *time.Time:
		if s == "" {
			return nil
		}
		t, err := parseTime(s)
		if err != nil {
			return &convError{"date", err}
		}
		*d = t
	}
	return nil
}

var timeLayouts = []string{time.DateOnly, "2006-01-02 15:04:05", "2006-01-02T15:04:05", time.RFC3339Nano, "2006-01-02 15:04:05Z07:00"}

func parseTime(s string) (time.Time, error) {
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a date (aaaa-mm-gg) or a timestamp", s)
}

package scuola

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

// ErrUnknownExtraction is returned for an extraction id the school never issued.
var ErrUnknownExtraction = errors.New("scuola: unknown extraction")

// Attendance is a school's (or a group of schools') own attendance data and its pending
// extractions, in any sqlx database (SQLite by default; portable SQL, "pgx" on PostgreSQL).
type Attendance struct {
	db *sqlx.DB
}

var attendanceSchema = []string{
	`CREATE TABLE IF NOT EXISTS ans_alunni (
		codice_meccanografico VARCHAR(10) NOT NULL,
		anno_scolastico       VARCHAR(9) NOT NULL,
		codice_fiscale        VARCHAR(16) NOT NULL,
		cognome               TEXT NOT NULL,
		nome                  TEXT NOT NULL,
		data_nascita          CHAR(10) NOT NULL,
		classe_anno           INTEGER NOT NULL,
		classe_sezione        TEXT NOT NULL,
		stato                 TEXT NOT NULL,
		momento               TEXT NOT NULL,
		data_evento           CHAR(10) NOT NULL,
		scuola_destinazione   TEXT NOT NULL DEFAULT '',
		PRIMARY KEY (codice_meccanografico, anno_scolastico, codice_fiscale)
	)`,
	`CREATE TABLE IF NOT EXISTS ans_estrazioni (
		id                    VARCHAR(64) PRIMARY KEY,
		codice_meccanografico VARCHAR(10) NOT NULL,
		anno_scolastico       VARCHAR(9) NOT NULL,
		data_da               TEXT NOT NULL DEFAULT '',
		richiesta_il          TEXT NOT NULL,
		pronta_il             TEXT NOT NULL
	)`,
}

type pupilRow struct {
	School      string `db:"codice_meccanografico"`
	Year        string `db:"anno_scolastico"`
	CF          string `db:"codice_fiscale"`
	Cognome     string `db:"cognome"`
	Nome        string `db:"nome"`
	DataNascita string `db:"data_nascita"`
	ClasseAnno  int    `db:"classe_anno"`
	Sezione     string `db:"classe_sezione"`
	Stato       string `db:"stato"`
	Momento     string `db:"momento"`
	DataEvento  string `db:"data_evento"`
	Dest        string `db:"scuola_destinazione"`
}

type extractionRow struct {
	ID        string `db:"id"`
	School    string `db:"codice_meccanografico"`
	Year      string `db:"anno_scolastico"`
	From      string `db:"data_da"`
	Requested string `db:"richiesta_il"`
	Ready     string `db:"pronta_il"`
}

// OpenAttendance prepares the tables in db (created when missing).
func OpenAttendance(ctx context.Context, db *sqlx.DB) (*Attendance, error) {
	for _, ddl := range attendanceSchema {
		if _, err := db.ExecContext(ctx, ddl); err != nil {
			return nil, fmt.Errorf("scuola: create tables: %w", err)
		}
	}
	return &Attendance{db: db}, nil
}

func day(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.DateOnly)
}

// Put inserts or replaces the pupils' records of a school in a school year, in one transaction.
func (a *Attendance) Put(ctx context.Context, school, year string, pupils ...Pupil) error {
	if err := CheckSchool(school); err != nil {
		return fmt.Errorf("scuola: put: %w", err)
	}
	if err := CheckYear(year); err != nil {
		return fmt.Errorf("scuola: put: %w", err)
	}
	tx, err := a.db.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("scuola: put: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	del := tx.Rebind(`DELETE FROM ans_alunni WHERE codice_meccanografico = ? AND anno_scolastico = ? AND codice_fiscale = ?`)
	const ins = `INSERT INTO ans_alunni VALUES (:codice_meccanografico, :anno_scolastico, :codice_fiscale, :cognome, :nome,
		:data_nascita, :classe_anno, :classe_sezione, :stato, :momento, :data_evento, :scuola_destinazione)`
	for _, p := range pupils {
		if _, err := tx.ExecContext(ctx, del, school, year, p.CodiceFiscale); err != nil {
			return fmt.Errorf("scuola: put %s: %w", p.CodiceFiscale, err)
		}
		r := pupilRow{school, year, p.CodiceFiscale, p.Cognome, p.Nome, day(p.DataNascita), p.ClasseAnno, p.ClasseSezione,
			string(p.Stato), string(p.Momento), day(p.DataEvento), p.ScuolaDestinazione}
		if _, err := tx.NamedExecContext(ctx, ins, r); err != nil {
			return fmt.Errorf("scuola: put %s: %w", p.CodiceFiscale, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("scuola: put: %w", err)
	}
	return nil
}

// Pupils returns the records of a school in a school year with events on or after from (zero =
// all), ordered by codice fiscale.
func (a *Attendance) Pupils(ctx context.Context, school, year string, from time.Time) ([]Pupil, error) {
	var rows []pupilRow
	q := a.db.Rebind(`SELECT * FROM ans_alunni WHERE codice_meccanografico = ? AND anno_scolastico = ? AND data_evento >= ? ORDER BY codice_fiscale`)
	if err := a.db.SelectContext(ctx, &rows, q, school, year, day(from)); err != nil {
		return nil, fmt.Errorf("scuola: pupils of %s %s: %w", school, year, err)
	}
	out := make([]Pupil, 0, len(rows))
	for _, r := range rows {
		born, err := time.Parse(time.DateOnly, r.DataNascita)
		if err != nil {
			return nil, fmt.Errorf("scuola: pupil %s: data_nascita %q: %w", r.CF, r.DataNascita, err)
		}
		ev, err := time.Parse(time.DateOnly, r.DataEvento)
		if err != nil {
			return nil, fmt.Errorf("scuola: pupil %s: data_evento %q: %w", r.CF, r.DataEvento, err)
		}
		out = append(out, Pupil{CodiceFiscale: r.CF, Cognome: r.Cognome, Nome: r.Nome, DataNascita: born, ClasseAnno: r.ClasseAnno,
			ClasseSezione: r.Sezione, Stato: Stato(r.Stato), Momento: Momento(r.Momento), DataEvento: ev, ScuolaDestinazione: r.Dest})
	}
	return out, nil
}

// Knows reports whether the data holds any record of the school.
func (a *Attendance) Knows(ctx context.Context, school string) (bool, error) {
	var n int
	if err := a.db.GetContext(ctx, &n, a.db.Rebind(`SELECT COUNT(*) FROM ans_alunni WHERE codice_meccanografico = ?`), school); err != nil {
		return false, fmt.Errorf("scuola: knows %s: %w", school, err)
	}
	return n > 0, nil
}

// addExtraction records an accepted extraction and when it will be ready.
func (a *Attendance) addExtraction(ctx context.Context, x Extraction, requested, ready time.Time) error {
	_, err := a.db.ExecContext(ctx, a.db.Rebind(`INSERT INTO ans_estrazioni VALUES (?, ?, ?, ?, ?, ?)`),
		x.ID, x.School, x.Year, day(x.From), requested.UTC().Format(time.RFC3339Nano), ready.UTC().Format(time.RFC3339Nano))
	if err != nil {
		return fmt.Errorf("scuola: record extraction %s: %w", x.ID, err)
	}
	return nil
}

// extraction returns an extraction and when it is ready.
func (a *Attendance) extraction(ctx context.Context, id string) (*Extraction, time.Time, error) {
	var r extractionRow
	err := a.db.GetContext(ctx, &r, a.db.Rebind(`SELECT * FROM ans_estrazioni WHERE id = ?`), id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, time.Time{}, ErrUnknownExtraction
	}
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("scuola: extraction %s: %w", id, err)
	}
	x := &Extraction{ID: r.ID, School: r.School, Year: r.Year}
	if r.From != "" {
		if x.From, err = time.Parse(time.DateOnly, r.From); err != nil {
			return nil, time.Time{}, fmt.Errorf("scuola: extraction %s: data_da: %w", id, err)
		}
	}
	ready, err := time.Parse(time.RFC3339Nano, r.Ready)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("scuola: extraction %s: pronta_il: %w", id, err)
	}
	return x, ready, nil
}

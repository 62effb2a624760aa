package merge

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"

	"porta/adapters/scuola"
)

// KindScuola is the kind of the schools' attendance records.
const KindScuola = "scuola"

// OrientationFlag is a pupil under 18 who left school, for the CPI's orientation service.
type OrientationFlag struct {
	CodiceFiscale string `db:"codice_fiscale"`
	School        string `db:"codice_meccanografico"`
	Year          string `db:"anno_scolastico"`
	Cognome       string `db:"cognome"`
	Nome          string `db:"nome"`
	DataNascita   string `db:"data_nascita"`
	Stato         string `db:"stato"`
	DataEvento    string `db:"data_evento"`
	Age           int    `db:"eta"`
	FlaggedAt     string `db:"segnalato_il"`
	Source        string `db:"fonte"`
}

// MergePupils merges a school's attendance records for a school year: a pupil who left school
// (ritirato or interrotto) while under 18 on the day of the event is flagged for the CPI's
// orientation service, once per school and year; every other record (attending, transferred,
// 18 or older) calls for nothing and is Unchanged. Each record is checked alone: codice fiscale,
// attendance state, dates and class.
func (s *Store) MergePupils(ctx context.Context, source, school, year string, pupils []scuola.Pupil) (*Report, error) {
	rep := &Report{Source: source, Kind: KindScuola}
	for _, p := range pupils {
		if err := s.mergePupil(ctx, rep, source, school, year, p); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

func (s *Store) mergePupil(ctx context.Context, rep *Report, source, school, year string, p scuola.Pupil) error {
	key := clean(p.CodiceFiscale)
	kept := pupilPayload{School: school, Year: year, Pupil: p}
	bad := func(field, rule, reason string) error {
		return s.reject(ctx, rep, key, kept, &RecordError{Source: source, Kind: KindScuola, Record: key, Field: field, Rule: rule, Reason: reason})
	}
	if len(p.Unreadable) > 0 {
		u := p.Unreadable[0]
		return bad(u.Field, u.Rule, fmt.Sprintf("%q is not one", u.Value))
	}
	if err := checkCF(source, KindScuola, key, "alunno/codiceFiscale", key); err != nil {
		return s.reject(ctx, rep, key, kept, err)
	}
	switch {
	case !p.Stato.Valid():
		return bad("alunno/statoFrequenza", "frequentante|ritirato|trasferito|interrotto", fmt.Sprintf("%q is not an attendance state", p.Stato))
	case p.DataNascita.IsZero():
		return bad("alunno/dataNascita", "required", "missing")
	case p.DataEvento.IsZero():
		return bad("alunno/dataEvento", "required", "missing")
	case p.DataEvento.Before(p.DataNascita):
		return bad("alunno/dataEvento", "dataEvento after dataNascita", "the event is dated before the birth")
	case p.ClasseAnno < 1 || p.ClasseAnno > 5:
		return bad("alunno/classe/anno", "1 to 5", fmt.Sprintf("%d is not a class year", p.ClasseAnno))
	}
	if err := scuola.CheckSchool(school); err != nil {
		return bad("codiceMeccanografico", "codice meccanografico", err.Error())
	}
	age := p.AgeOn(p.DataEvento)
	if !p.Stato.LeftSchool() {
		rep.add(key, Unchanged, "stato "+string(p.Stato)+": nothing to do", nil)
		return nil
	}
	if age >= 18 {
		rep.add(key, Unchanged, fmt.Sprintf("left school at %d: not under 18", age), nil)
		return nil
	}
	flag := OrientationFlag{CodiceFiscale: key, School: school, Year: year, Cognome: p.Cognome, Nome: p.Nome,
		DataNascita: day(p.DataNascita), Stato: string(p.Stato), DataEvento: day(p.DataEvento), Age: age, FlaggedAt: s.stamp(), Source: source}
	outcome := Merged
	what := fmt.Sprintf("segnalato all'orientamento: %s il %s a %d anni", p.Stato, day(p.DataEvento), age)
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var old OrientationFlag
		err := tx.GetContext(ctx, &old, tx.Rebind(`SELECT * FROM orientation_flags WHERE codice_fiscale = ? AND codice_meccanografico = ? AND anno_scolastico = ?`), key, school, year)
		switch {
		case err == nil && old.Stato == flag.Stato && old.DataEvento == flag.DataEvento:
			outcome, what = Unchanged, "already flagged"
			return nil
		case err == nil:
			if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE orientation_flags SET stato = ?, data_evento = ?, eta = ?, segnalato_il = ?, fonte = ?
				WHERE codice_fiscale = ? AND codice_meccanografico = ? AND anno_scolastico = ?`), flag.Stato, flag.DataEvento, flag.Age, flag.FlaggedAt, source, key, school, year); err != nil {
				return fmt.Errorf("merge: update flag %s: %w", key, err)
			}
			return s.logTx(ctx, tx, source, KindScuola, key, what, &old, &flag)
		case errors.Is(err, sql.ErrNoRows):
			if _, err := tx.NamedExecContext(ctx, `INSERT INTO orientation_flags VALUES (:codice_fiscale, :codice_meccanografico, :anno_scolastico,
				:cognome, :nome, :data_nascita, :stato, :data_evento, :eta, :segnalato_il, :fonte)`, flag); err != nil {
				return fmt.Errorf("merge: flag %s: %w", key, err)
			}
			return s.logTx(ctx, tx, source, KindScuola, key, what, nil, &flag)
		default:
			return fmt.Errorf("merge: read flag %s: %w", key, err)
		}
	})
	if err != nil {
		return err
	}
	if outcome == Merged {
		if err := s.resolve(ctx, KindScuola, key); err != nil {
			return err
		}
	}
	rep.add(key, outcome, what, nil)
	return nil
}

// OrientationFlags lists the pupils flagged for the orientation service, by codice fiscale.
func (s *Store) OrientationFlags(ctx context.Context) ([]OrientationFlag, error) {
	var out []OrientationFlag
	if err := s.db.SelectContext(ctx, &out, `SELECT * FROM orientation_flags ORDER BY codice_fiscale, anno_scolastico`); err != nil {
		return nil, fmt.Errorf("merge: orientation flags: %w", err)
	}
	return out, nil
}

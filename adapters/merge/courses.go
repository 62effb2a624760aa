package merge

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"porta/adapters/formazione"
)

// KindCorso is the kind of training catalogue records.
const KindCorso = "corso"

type courseRow struct {
	Ente          string `db:"codice_ente"`
	Corso         string `db:"codice_corso"`
	CFEnte        string `db:"codice_fiscale_ente"`
	Denominazione string `db:"denominazione_ente"`
	Titolo        string `db:"titolo"`
	Descrizione   string `db:"descrizione"`
	Qualifica     string `db:"qualifica"`
	SedeComune    string `db:"sede_comune"`
	SedeIndirizzo string `db:"sede_indirizzo"`
	DataInizio    string `db:"data_inizio"`
	DataFine      string `db:"data_fine"`
	DurataOre     int    `db:"durata_ore"`
	Posti         int    `db:"posti"`
	Stato         string `db:"stato"`
	MotivoRitiro  string `db:"motivo_ritiro"`
	Aggiornato    string `db:"aggiornato_il"`
}

func courseRowOf(c *formazione.Course) courseRow {
	return courseRow{Ente: c.CodiceEnte, Corso: c.CodiceCorso, CFEnte: c.CodiceFiscaleEnte, Denominazione: c.DenominazioneEnte,
		Titolo: c.Titolo, Descrizione: c.Descrizione, Qualifica: c.Qualifica, SedeComune: c.SedeComune, SedeIndirizzo: c.SedeIndirizzo,
		DataInizio: day(c.DataInizio), DataFine: day(c.DataFine), DurataOre: c.DurataOre, Posti: c.Posti, Stato: "pubblicato"}
}

func (r courseRow) course() formazione.Course {
	return formazione.Course{CodiceEnte: r.Ente, CodiceCorso: r.Corso, CodiceFiscaleEnte: r.CFEnte, DenominazioneEnte: r.Denominazione,
		Titolo: r.Titolo, Descrizione: r.Descrizione, Qualifica: r.Qualifica, SedeComune: r.SedeComune, SedeIndirizzo: r.SedeIndirizzo,
		DataInizio: parseDay(r.DataInizio), DataFine: parseDay(r.DataFine), DurataOre: r.DurataOre, Posti: r.Posti}
}

func (s *Store) readCourse(ctx context.Context, q sqlx.QueryerContext, ente, corso string) (*courseRow, error) {
	var r courseRow
	err := sqlx.GetContext(ctx, q, &r, s.db.Rebind(`SELECT * FROM courses WHERE codice_ente = ? AND codice_corso = ?`), ente, corso)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("merge: read course %s/%s: %w", ente, corso, err)
	}
	return &r, nil
}

// PublishCourse implements formazione.Catalog: it stores a course (the body's codice fiscale is
// validated, and the course's own rules checked), re-publishing a withdrawn one. The same course
// twice is Unchanged. A refused course is a *RecordError, kept in the failures table.
func (s *Store) PublishCourse(ctx context.Context, source string, c formazione.Course) (formazione.Outcome, error) {
	key := c.Key()
	rep := &Report{}
	if err := checkCF(source, KindCorso, key, "corso/codiceFiscaleEnte", c.CodiceFiscaleEnte); err != nil {
		if rerr := s.reject(ctx, rep, key, c, err); rerr != nil {
			return "", rerr
		}
		return formazione.Refused, err
	}
	if ps := c.Check(); len(ps) > 0 {
		err := &RecordError{Source: source, Kind: KindCorso, Record: key, Field: "corso/" + ps[0].Field, Rule: ps[0].Rule, Reason: ps[0].Reason}
		if rerr := s.reject(ctx, rep, key, c, err); rerr != nil {
			return "", rerr
		}
		return formazione.Refused, err
	}
	row := courseRowOf(&c)
	row.Aggiornato = s.stamp()
	outcome := formazione.Published
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		old, err := s.readCourse(ctx, tx, c.CodiceEnte, c.CodiceCorso)
		if err != nil {
			return err
		}
		if old != nil {
			cmp := *old
			cmp.Aggiornato = row.Aggiornato
			if cmp == row {
				outcome = formazione.Unchanged
				return nil
			}
			outcome = formazione.Updated
		}
		if _, err := tx.NamedExecContext(ctx, `INSERT INTO courses VALUES (:codice_ente, :codice_corso, :codice_fiscale_ente, :denominazione_ente,
			:titolo, :descrizione, :qualifica, :sede_comune, :sede_indirizzo, :data_inizio, :data_fine, :durata_ore, :posti, :stato,
			:motivo_ritiro, :aggiornato_il) ON CONFLICT (codice_ente, codice_corso) DO UPDATE SET codice_fiscale_ente = excluded.codice_fiscale_ente,
			denominazione_ente = excluded.denominazione_ente, titolo = excluded.titolo, descrizione = excluded.descrizione,
			qualifica = excluded.qualifica, sede_comune = excluded.sede_comune, sede_indirizzo = excluded.sede_indirizzo,
			data_inizio = excluded.data_inizio, data_fine = excluded.data_fine, durata_ore = excluded.durata_ore, posti = excluded.posti,
			stato = excluded.stato, motivo_ritiro = excluded.motivo_ritiro, aggiornato_il = excluded.aggiornato_il`, row); err != nil {
			return fmt.Errorf("merge: store course %s: %w", key, err)
		}
		var before any
		if old != nil {
			before = old
		}
		return s.logTx(ctx, tx, source, KindCorso, key, "corso "+strings.ToLower(string(outcome)), before, &row)
	})
	if err != nil {
		return "", err
	}
	if outcome != formazione.Unchanged {
		if err := s.resolve(ctx, KindCorso, key); err != nil {
			return "", err
		}
	}
	return outcome, nil
}

// WithdrawCourse implements formazione.Catalog: the course leaves the searchable catalogue (it is
// kept, with the reason). Withdrawing twice is Unchanged; an unknown course is a *RecordError.
func (s *Store) WithdrawCourse(ctx context.Context, source, ente, corso, motivo string) (formazione.Outcome, error) {
	key := ente + "/" + corso
	outcome := formazione.Withdrawn
	var refusal error
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		old, err := s.readCourse(ctx, tx, ente, corso)
		if err != nil {
			return err
		}
		if old == nil {
			refusal = &RecordError{Source: source, Kind: KindCorso, Record: key, Field: "codiceCorso", Rule: "published course", Reason: "the catalogue holds no such course"}
			return nil
		}
		if old.Stato == "ritirato" {
			outcome = formazione.Unchanged
			return nil
		}
		after := *old
		after.Stato, after.MotivoRitiro, after.Aggiornato = "ritirato", motivo, s.stamp()
		if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE courses SET stato = ?, motivo_ritiro = ?, aggiornato_il = ? WHERE codice_ente = ? AND codice_corso = ?`),
			after.Stato, after.MotivoRitiro, after.Aggiornato, ente, corso); err != nil {
			return fmt.Errorf("merge: withdraw course %s: %w", key, err)
		}
		return s.logTx(ctx, tx, source, KindCorso, key, "corso ritirato: "+motivo, old, &after)
	})
	if err != nil {
		return "", err
	}
	if refusal != nil {
		payload := map[string]string{"codiceEnte": ente, "codiceCorso": corso, "motivo": motivo, "action": "ritiro"}
		if err := s.reject(ctx, &Report{}, key, payload, refusal); err != nil {
			return "", err
		}
		return formazione.Refused, refusal
	}
	return outcome, nil
}

// SearchCourses implements formazione.Catalog: published courses matching every given filter,
// by start date; at most q.Limit (default 50, at most 1000).
func (s *Store) SearchCourses(ctx context.Context, q formazione.Query) ([]formazione.Course, error) {
	where := []string{"stato = 'pubblicato'"}
	var args []any
	if k := strings.ToLower(clean(q.Keyword)); k != "" {
		k = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(k)
		where = append(where, `(LOWER(titolo) LIKE ? ESCAPE '\' OR LOWER(descrizione) LIKE ? ESCAPE '\')`)
		args = append(args, "%"+k+"%", "%"+k+"%")
	}
	if q.Comune != "" {
		where, args = append(where, "sede_comune = ?"), append(args, q.Comune)
	}
	if q.Qualifica != "" {
		where, args = append(where, "qualifica = ?"), append(args, q.Qualifica)
	}
	if !q.StartsFrom.IsZero() {
		where, args = append(where, "data_inizio >= ?"), append(args, q.StartsFrom.Format(time.DateOnly))
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, 1000)
	query := fmt.Sprintf(`SELECT * FROM courses WHERE %s ORDER BY data_inizio, codice_ente, codice_corso LIMIT %d`, strings.Join(where, " AND "), limit)
	var rows []courseRow
	if err := s.db.SelectContext(ctx, &rows, s.db.Rebind(query), args...); err != nil {
		return nil, fmt.Errorf("merge: search courses: %w", err)
	}
	out := make([]formazione.Course, 0, len(rows))
	for _, r := range rows {
		out = append(out, r.course())
	}
	return out, nil
}

package merge

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"

	"github.com/jmoiron/sqlx"

	"porta/adapters/codicefiscale"
	"porta/adapters/inps"
)

// KindINPS is the kind of INPS list entries.
const KindINPS = "inps"

// INPS entry states.
const (
	INPSMatched = "abbinato"    // the worker is known to the SIL
	INPSQueued  = "da_lavorare" // unknown to the SIL: queued for a CPI operator
)

// INPSEntry is a stored entry of an INPS list.
type INPSEntry struct {
	CodiceFiscale  string `db:"codice_fiscale"`
	NumeroDomanda  string `db:"numero_domanda"`
	Cognome        string `db:"cognome"`
	Nome           string `db:"nome"`
	DataNascita    string `db:"data_nascita"`
	Prestazione    string `db:"prestazione"`
	DataInizio     string `db:"data_inizio"`
	DataFine       string `db:"data_fine"`
	Importo        string `db:"importo"`
	AziendaCF      string `db:"azienda_cf"`
	Matricola      string `db:"matricola"`
	RagioneSociale string `db:"ragione_sociale"`
	ComuneSede     string `db:"comune_sede"`
	Elenco         string `db:"elenco"`
	Stato          string `db:"stato"`
	RicevutoIl     string `db:"ricevuto_il"`
}

var (
	reMatricola = regexp.MustCompile(`^[0-9]{10}$`)
	reImporto   = regexp.MustCompile(`^[0-9]+(\.[0-9]{1,2})?$`)
	reBelfiore  = regexp.MustCompile(`^[A-Z][0-9]{3}$`)
)

// ReceiveINPS implements inps.Sink: it merges the list and reports only a failure of the store.
func (s *Store) ReceiveINPS(ctx context.Context, source string, l *inps.List) error {
	_, err := s.MergeINPS(ctx, source, l)
	return err
}

// MergeINPS merges an INPS list: each worker, checked alone (values Parse could not read,
// codice fiscale of worker and company, names, dates, benefit, application number, amount,
// company number and workplace), is matched to a SIL worker (state abbinato) or queued for a CPI
// operator (da_lavorare); the entry's key is codice fiscale and application number, so the same
// entry twice is Unchanged and a changed one is updated. The list's schema leaves these values
// to this check (xsd/schemas/labour/inps.xsd), so a bad worker is rejected here, alone, and kept
// in the failures table under its key (or, without one, the list and its position).
func (s *Store) MergeINPS(ctx context.Context, source string, l *inps.List) (*Report, error) {
	rep := &Report{Source: source, Kind: KindINPS}
	for i, r := range l.Recipients {
		key := r.Key()
		if clean(r.CodiceFiscale) == "" && clean(r.NumeroDomanda) == "" {
			key = fmt.Sprintf("%s/Percettore[%d]", l.ID, i+1)
		}
		if err := s.mergeRecipient(ctx, rep, source, l.ID, key, r); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// mergeRecipient checks and merges one worker of list under key (r.Key(), or where a worker
// without one stood in its list).
func (s *Store) mergeRecipient(ctx context.Context, rep *Report, source, list, key string, r inps.Recipient) error {
	bad := func(field, rule, reason string) error {
		return s.reject(ctx, rep, key, r, &RecordError{Source: source, Kind: KindINPS, Record: key, Field: field, Rule: rule, Reason: reason})
	}
	if len(r.Unreadable) > 0 {
		u := r.Unreadable[0]
		return bad(u.Field, u.Rule, fmt.Sprintf("%q is not one", u.Value))
	}
	if err := checkCF(source, KindINPS, key, "Percettore/CodiceFiscale", r.CodiceFiscale); err != nil {
		return s.reject(ctx, rep, key, r, err)
	}
	switch {
	case clean(r.Cognome) == "":
		return bad("Percettore/Cognome", "required", "missing")
	case clean(r.Nome) == "":
		return bad("Percettore/Nome", "required", "missing")
	case r.DataNascita.IsZero():
		return bad("Percettore/DataNascita", "required", "missing")
	}
	if err := codicefiscale.Validate(r.Company.CodiceFiscale); err != nil {
		return bad("Percettore/Azienda/CodiceFiscaleAzienda", "codice fiscale or partita IVA check", err.Error())
	}
	switch {
	case clean(r.Company.RagioneSociale) == "":
		return bad("Percettore/Azienda/RagioneSociale", "required", "missing")
	case !reBelfiore.MatchString(r.Company.Comune):
		return bad("Percettore/Azienda/ComuneSedeLavoro", "Belfiore code [A-Z][0-9]{3}", fmt.Sprintf("%q", r.Company.Comune))
	case !r.Benefit.Valid():
		return bad("Percettore/Prestazione/TipoPrestazione", "CIGO|CIGS|FIS|NASPI|DISCOLL", fmt.Sprintf("%q is not a benefit", r.Benefit))
	case clean(r.NumeroDomanda) == "":
		return bad("Percettore/Prestazione/NumeroDomanda", "required", "missing")
	case r.DataInizio.IsZero():
		return bad("Percettore/Prestazione/DataInizioPrestazione", "required", "missing")
	case !r.DataFine.IsZero() && r.DataFine.Before(r.DataInizio):
		return bad("Percettore/Prestazione/DataFinePrestazione", "DataFine >= DataInizio", "the benefit ends before it starts")
	case r.Importo != "" && !reImporto.MatchString(r.Importo):
		return bad("Percettore/Prestazione/ImportoMensile", "decimal with at most 2 digits", fmt.Sprintf("%q", r.Importo))
	case !reMatricola.MatchString(r.Company.Matricola):
		return bad("Percettore/Azienda/MatricolaAzienda", "10 digits", fmt.Sprintf("%q", r.Company.Matricola))
	}
	known, err := s.dir.Known(ctx, r.CodiceFiscale)
	if err != nil {
		return fmt.Errorf("merge: match %s to the SIL: %w", r.CodiceFiscale, err)
	}
	e := INPSEntry{CodiceFiscale: r.CodiceFiscale, NumeroDomanda: clean(r.NumeroDomanda), Cognome: r.Cognome, Nome: r.Nome,
		DataNascita: day(r.DataNascita), Prestazione: string(r.Benefit), DataInizio: day(r.DataInizio), DataFine: day(r.DataFine),
		Importo: r.Importo, AziendaCF: r.Company.CodiceFiscale, Matricola: r.Company.Matricola, RagioneSociale: r.Company.RagioneSociale,
		ComuneSede: r.Company.Comune, Elenco: list, Stato: INPSQueued, RicevutoIl: s.stamp()}
	if known {
		e.Stato = INPSMatched
	}
	outcome, what := Merged, "entry "+e.Stato
	err = s.inTx(ctx, func(tx *sqlx.Tx) error {
		var old INPSEntry
		err := tx.GetContext(ctx, &old, tx.Rebind(`SELECT * FROM inps_entries WHERE codice_fiscale = ? AND numero_domanda = ?`), e.CodiceFiscale, e.NumeroDomanda)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("merge: read INPS entry %s: %w", key, err)
		}
		if err == nil {
			cmp := old
			cmp.Elenco, cmp.RicevutoIl = e.Elenco, e.RicevutoIl
			if cmp == e {
				outcome, what = Unchanged, "already received"
				return nil
			}
			what = "entry updated, " + e.Stato
		}
		if _, err := tx.NamedExecContext(ctx, `INSERT INTO inps_entries VALUES (:codice_fiscale, :numero_domanda, :cognome, :nome, :data_nascita,
			:prestazione, :data_inizio, :data_fine, :importo, :azienda_cf, :matricola, :ragione_sociale, :comune_sede, :elenco, :stato, :ricevuto_il)
			ON CONFLICT (codice_fiscale, numero_domanda) DO UPDATE SET cognome = excluded.cognome, nome = excluded.nome,
			data_nascita = excluded.data_nascita, prestazione = excluded.prestazione, data_inizio = excluded.data_inizio,
			data_fine = excluded.data_fine, importo = excluded.importo, azienda_cf = excluded.azienda_cf, matricola = excluded.matricola,
			ragione_sociale = excluded.ragione_sociale, comune_sede = excluded.comune_sede, elenco = excluded.elenco,
			stato = excluded.stato, ricevuto_il = excluded.ricevuto_il`, e); err != nil {
			return fmt.Errorf("merge: store INPS entry %s: %w", key, err)
		}
		var before any
		if old.CodiceFiscale != "" {
			before = &old
		}
		return s.logTx(ctx, tx, source, KindINPS, key, what, before, &e)
	})
	if err != nil {
		return err
	}
	if outcome == Merged {
		if err := s.resolve(ctx, KindINPS, key); err != nil {
			return err
		}
	}
	rep.add(key, outcome, what, nil)
	return nil
}

// INPSEntries lists the stored entries in the state ("" = all), by codice fiscale.
func (s *Store) INPSEntries(ctx context.Context, state string) ([]INPSEntry, error) {
	var out []INPSEntry
	var err error
	if state == "" {
		err = s.db.SelectContext(ctx, &out, `SELECT * FROM inps_entries ORDER BY codice_fiscale, numero_domanda`)
	} else {
		err = s.db.SelectContext(ctx, &out, s.db.Rebind(`SELECT * FROM inps_entries WHERE stato = ? ORDER BY codice_fiscale, numero_domanda`), state)
	}
	if err != nil {
		return nil, fmt.Errorf("merge: INPS entries: %w", err)
	}
	return out, nil
}

package anagrafe

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

// ErrNotFound is returned by Registry.Lookup when no subject has the codice fiscale.
var ErrNotFound = errors.New("anagrafe: no subject with that codice fiscale")

// Registry is a municipality's own registry data: one row per subject with the current residence,
// death and AIRE emigration, in any sqlx database (SQLite by default; the SQL is portable to
// PostgreSQL through the "pgx" driver name).
type Registry struct {
	db *sqlx.DB
}

const registrySchema = `CREATE TABLE IF NOT EXISTS anpr_soggetti (
	codice_fiscale    VARCHAR(16) PRIMARY KEY,
	cognome           TEXT NOT NULL,
	nome              TEXT NOT NULL,
	sesso             CHAR(1) NOT NULL,
	data_nascita      CHAR(10) NOT NULL,
	nascita_comune    TEXT NOT NULL DEFAULT '',
	nascita_istat     TEXT NOT NULL DEFAULT '',
	nascita_prov      TEXT NOT NULL DEFAULT '',
	nascita_localita  TEXT NOT NULL DEFAULT '',
	res_cap           TEXT NOT NULL DEFAULT '',
	res_comune        TEXT NOT NULL DEFAULT '',
	res_istat         TEXT NOT NULL DEFAULT '',
	res_prov          TEXT NOT NULL DEFAULT '',
	res_specie        TEXT NOT NULL DEFAULT '',
	res_denominazione TEXT NOT NULL DEFAULT '',
	res_numero        INTEGER NOT NULL DEFAULT 0,
	res_lettera       TEXT NOT NULL DEFAULT '',
	res_dal           TEXT NOT NULL DEFAULT '',
	decesso_data      TEXT NOT NULL DEFAULT '',
	decesso_comune    TEXT NOT NULL DEFAULT '',
	decesso_istat     TEXT NOT NULL DEFAULT '',
	decesso_prov      TEXT NOT NULL DEFAULT '',
	aire_dal          TEXT NOT NULL DEFAULT '',
	aire_stato        TEXT NOT NULL DEFAULT '',
	aire_stato_nome   TEXT NOT NULL DEFAULT ''
)`

// row is the table's shape; dates are aaaa-mm-gg text, "" when absent.
type row struct {
	CF               string `db:"codice_fiscale"`
	Cognome          string `db:"cognome"`
	Nome             string `db:"nome"`
	Sesso            string `db:"sesso"`
	DataNascita      string `db:"data_nascita"`
	NascitaComune    string `db:"nascita_comune"`
	NascitaIstat     string `db:"nascita_istat"`
	NascitaProv      string `db:"nascita_prov"`
	NascitaLocalita  string `db:"nascita_localita"`
	ResCAP           string `db:"res_cap"`
	ResComune        string `db:"res_comune"`
	ResIstat         string `db:"res_istat"`
	ResProv          string `db:"res_prov"`
	ResSpecie        string `db:"res_specie"`
	ResDenominazione string `db:"res_denominazione"`
	ResNumero        int    `db:"res_numero"`
	ResLettera       string `db:"res_lettera"`
	ResDal           string `db:"res_dal"`
	DecessoData      string `db:"decesso_data"`
	DecessoComune    string `db:"decesso_comune"`
	DecessoIstat     string `db:"decesso_istat"`
	DecessoProv      string `db:"decesso_prov"`
	AireDal          string `db:"aire_dal"`
	AireStato        string `db:"aire_stato"`
	AireStatoNome    string `db:"aire_stato_nome"`
}

// OpenRegistry prepares the registry tables in db (created when missing).
func OpenRegistry(ctx context.Context, db *sqlx.DB) (*Registry, error) {
	if _, err := db.ExecContext(ctx, registrySchema); err != nil {
		return nil, fmt.Errorf("anagrafe: create registry table: %w", err)
	}
	return &Registry{db: db}, nil
}

func day(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.DateOnly)
}

func parseDay(field, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return t, fmt.Errorf("column %s: %q is not aaaa-mm-gg", field, s)
	}
	return t, nil
}

func toRow(s *Subject) row {
	r := row{CF: s.CodiceFiscale, Cognome: s.Cognome, Nome: s.Nome, Sesso: s.Sesso, DataNascita: day(s.DataNascita), NascitaLocalita: s.LocalitaNascita}
	if c := s.ComuneNascita; c != nil {
		r.NascitaComune, r.NascitaIstat, r.NascitaProv = c.Nome, c.CodiceIstat, c.Provincia
	}
	if x := s.Residence; x != nil {
		a := x.Address
		r.ResCAP, r.ResComune, r.ResIstat, r.ResProv = a.CAP, a.Comune.Nome, a.Comune.CodiceIstat, a.Comune.Provincia
		r.ResSpecie, r.ResDenominazione, r.ResNumero, r.ResLettera, r.ResDal = a.Specie, a.Denominazione, a.Numero, a.Lettera, day(x.Since)
	}
	if x := s.Death; x != nil {
		r.DecessoData = day(x.Date)
		if x.Place != nil {
			r.DecessoComune, r.DecessoIstat, r.DecessoProv = x.Place.Nome, x.Place.CodiceIstat, x.Place.Provincia
		}
	}
	if x := s.Emigration; x != nil {
		r.AireDal, r.AireStato, r.AireStatoNome = day(x.Since), x.StateCode, x.StateName
	}
	return r
}

func (r row) subject() (*Subject, error) {
	var err error
	s := &Subject{CodiceFiscale: r.CF, Cognome: r.Cognome, Nome: r.Nome, Sesso: r.Sesso, LocalitaNascita: r.NascitaLocalita}
	if s.DataNascita, err = parseDay("data_nascita", r.DataNascita); err != nil {
		return nil, err
	}
	if r.NascitaIstat != "" {
		s.ComuneNascita = &Comune{Nome: r.NascitaComune, CodiceIstat: r.NascitaIstat, Provincia: r.NascitaProv}
	}
	if r.ResDal != "" {
		since, err := parseDay("res_dal", r.ResDal)
		if err != nil {
			return nil, err
		}
		s.Residence = &Residence{Since: since, Address: Address{
			CAP: r.ResCAP, Comune: Comune{Nome: r.ResComune, CodiceIstat: r.ResIstat, Provincia: r.ResProv},
			Specie: r.ResSpecie, Denominazione: r.ResDenominazione, Numero: r.ResNumero, Lettera: r.ResLettera,
		}}
	}
	if r.DecessoData != "" {
		d, err := parseDay("decesso_data", r.DecessoData)
		if err != nil {
			return nil, err
		}
		s.Death = &Death{Date: d}
		if r.DecessoIstat != "" {
			s.Death.Place = &Comune{Nome: r.DecessoComune, CodiceIstat: r.DecessoIstat, Provincia: r.DecessoProv}
		}
	}
	if r.AireDal != "" {
		d, err := parseDay("aire_dal", r.AireDal)
		if err != nil {
			return nil, err
		}
		s.Emigration = &Emigration{Since: d, StateCode: r.AireStato, StateName: r.AireStatoNome}
	}
	return s, nil
}

// Put inserts or replaces subjects, in one transaction.
func (g *Registry) Put(ctx context.Context, subjects ...*Subject) error {
	tx, err := g.db.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("anagrafe: put: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	del := tx.Rebind(`DELETE FROM anpr_soggetti WHERE codice_fiscale = ?`)
	const ins = `INSERT INTO anpr_soggetti (codice_fiscale, cognome, nome, sesso, data_nascita, nascita_comune, nascita_istat,
		nascita_prov, nascita_localita, res_cap, res_comune, res_istat, res_prov, res_specie, res_denominazione, res_numero,
		res_lettera, res_dal, decesso_data, decesso_comune, decesso_istat, decesso_prov, aire_dal, aire_stato, aire_stato_nome)
		VALUES (:codice_fiscale, :cognome, :nome, :sesso, :data_nascita, :nascita_comune, :nascita_istat, :nascita_prov,
		:nascita_localita, :res_cap, :res_comune, :res_istat, :res_prov, :res_specie, :res_denominazione, :res_numero,
		:res_lettera, :res_dal, :decesso_data, :decesso_comune, :decesso_istat, :decesso_prov, :aire_dal, :aire_stato, :aire_stato_nome)`
	for _, s := range subjects {
		if _, err := tx.ExecContext(ctx, del, s.CodiceFiscale); err != nil {
			return fmt.Errorf("anagrafe: put %s: %w", s.CodiceFiscale, err)
		}
		if _, err := tx.NamedExecContext(ctx, ins, toRow(s)); err != nil {
			return fmt.Errorf("anagrafe: put %s: %w", s.CodiceFiscale, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("anagrafe: put: %w", err)
	}
	return nil
}

// Lookup returns the subject with the codice fiscale, or ErrNotFound.
func (g *Registry) Lookup(ctx context.Context, cf string) (*Subject, error) {
	var r row
	err := g.db.GetContext(ctx, &r, g.db.Rebind(`SELECT * FROM anpr_soggetti WHERE codice_fiscale = ?`), cf)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("anagrafe: lookup %s: %w", cf, err)
	}
	s, err := r.subject()
	if err != nil {
		return nil, fmt.Errorf("anagrafe: lookup %s: %w", cf, err)
	}
	return s, nil
}

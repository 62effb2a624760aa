package sil

import (
	"context"
	_ "embed"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"porta/adapters/codicefiscale"
)

// Schema is the synthetic SIL's schema (schema.sql).
//
//go:embed schema.sql
var Schema string

// DefaultConfig is the mapping of the synthetic SIL (default.yaml); its dsn is sil.db beside it.
//
//go:embed default.yaml
var DefaultConfig []byte

// GenOptions drive Generate.
type GenOptions struct {
	Workers         int       // how many workers
	Seed            uint64    // same seed, same SIL
	Now             time.Time // the generation instant: ages, DID and change dates are before it
	Provinces       []string  // province siglas whose comuni are used; empty: every province in codicefiscale.Places
	Homes           []string  // Belfiore codes of the comuni residences are drawn from; empty: those of Provinces
	BadCheck        int       // plant this many codici fiscali with a wrong check character
	MissingRequired int       // plant this many workers lacking a required field (surname or domicile comune)
}

// Planted is an invalid record the generator put in on purpose.
type Planted struct {
	SILID string
	CF    string
	Field string // the SIL field that is wrong
	Rule  string // the rule a builder must report
}

// Generated describes a generated SIL.
type Generated struct {
	Database string // path of the SQLite file
	Config   string // path of the mapping (DefaultConfig)
	Workers  int
	Planted  []Planted
}

// Generate writes a synthetic SIL into dir: sil.db (schema.sql) and sil.yaml (default.yaml).
// Workers have valid, distinct codici fiscali built from their names, birth dates and real
// Belfiore codes, one to four experiences, one to three qualifications and up to three languages;
// the planted invalid ones are listed in the result. dir must not already hold a sil.db.
func Generate(ctx context.Context, dir string, opt GenOptions) (*Generated, error) {
	if opt.Workers < 0 || opt.BadCheck < 0 || opt.MissingRequired < 0 || opt.BadCheck+opt.MissingRequired > opt.Workers {
		return nil, fmt.Errorf("sil generate: %d workers cannot hold %d bad check characters and %d missing fields", opt.Workers, opt.BadCheck, opt.MissingRequired)
	}
	if opt.Now.IsZero() {
		return nil, fmt.Errorf("sil generate: GenOptions.Now is required (the generation instant)")
	}
	places, err := pickPlaces(opt.Provinces)
	if err != nil {
		return nil, fmt.Errorf("sil generate: %w", err)
	}
	dbPath := filepath.Join(dir, "sil.db")
	if _, err := os.Stat(dbPath); err == nil {
		return nil, fmt.Errorf("sil generate: %s already exists", dbPath)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("sil generate: %w", err)
	}
	cfgPath := filepath.Join(dir, "sil.yaml")
	if err := os.WriteFile(cfgPath, DefaultConfig, 0o644); err != nil {
		return nil, fmt.Errorf("sil generate: %w", err)
	}
	db, err := sqlx.Open("sqlite3", "file:"+dbPath+"?_journal_mode=OFF&_synchronous=OFF")
	if err != nil {
		return nil, fmt.Errorf("sil generate: %w", err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, Schema); err != nil {
		return nil, fmt.Errorf("sil generate: schema: %w", err)
	}
	g := &generator{rng: rand.New(rand.NewPCG(opt.Seed, opt.Seed^0x5eed)), now: opt.Now.UTC(), places: places, used: map[string]bool{}}
	for _, code := range opt.Homes {
		p, ok := codicefiscale.Lookup(code)
		if !ok || p.Province == "EE" {
			return nil, fmt.Errorf("sil generate: home comune %q is not a Belfiore code of an Italian comune codicefiscale knows", code)
		}
		g.homes = append(g.homes, p)
	}
	plant := map[int]string{}
	for i, k := range g.rng.Perm(opt.Workers)[:opt.BadCheck+opt.MissingRequired] {
		if i < opt.BadCheck {
			plant[k] = "check"
		} else {
			plant[k] = "missing"
		}
	}
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("sil generate: %w", err)
	}
	defer tx.Rollback()
	ins, err := g.prepare(ctx, tx)
	if err != nil {
		return nil, fmt.Errorf("sil generate: %w", err)
	}
	defer ins.close()
	out := &Generated{Database: dbPath, Config: cfgPath, Workers: opt.Workers}
	for i := 0; i < opt.Workers; i++ {
		w, err := g.worker(i + 1)
		if err != nil {
			return nil, fmt.Errorf("sil generate: worker %d: %w", i+1, err)
		}
		switch plant[i] {
		case "check":
			c := w.CodiceFiscale[15]
			w.CodiceFiscale = w.CodiceFiscale[:15] + string(rune('A'+(c-'A'+1+byte(g.rng.IntN(24)))%26))
			out.Planted = append(out.Planted, Planted{w.ID, w.CodiceFiscale, "codice_fiscale", string(codicefiscale.RuleCheck)})
		case "missing":
			if g.rng.IntN(2) == 0 {
				w.Cognome = ""
				out.Planted = append(out.Planted, Planted{w.ID, w.CodiceFiscale, "cognome", "required"})
			} else {
				w.Domicilio.Comune = ""
				out.Planted = append(out.Planted, Planted{w.ID, w.CodiceFiscale, "dom_comune", "Belfiore code [A-Z][0-9]{3}"})
			}
		}
		if err := ins.insert(ctx, w); err != nil {
			return nil, fmt.Errorf("sil generate: worker %s: %w", w.ID, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("sil generate: %w", err)
	}
	return out, nil
}

func pickPlaces(provinces []string) ([]codicefiscale.Place, error) {
	var out []codicefiscale.Place
	for _, p := range codicefiscale.Places() {
		if p.Province == "EE" {
			continue
		}
		if len(provinces) == 0 {
			out = append(out, p)
			continue
		}
		for _, s := range provinces {
			if s == p.Province {
				out = append(out, p)
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no comuni known for provinces %v", provinces)
	}
	return out, nil
}

type generator struct {
	rng    *rand.Rand
	now    time.Time
	places []codicefiscale.Place
	homes  []codicefiscale.Place // where residences are drawn from; places when empty
	used   map[string]bool
}

func (g *generator) pick(list []string) string { return list[g.rng.IntN(len(list))] }

func (g *generator) date(from, to time.Time) time.Time {
	days := int(to.Sub(from).Hours() / 24)
	if days <= 0 {
		return from
	}
	d := from.AddDate(0, 0, g.rng.IntN(days))
	return time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, time.UTC)
}

func (g *generator) digits(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + g.rng.IntN(10))
	}
	return string(b)
}

func (g *generator) worker(n int) (*Worker, error) {
	w := &Worker{ID: fmt.Sprint(n)}
	today := time.Date(g.now.Year(), g.now.Month(), g.now.Day(), 0, 0, 0, 0, time.UTC)
	for try := 0; ; try++ {
		if try == 50 {
			return nil, fmt.Errorf("no free codice fiscale after %d tries", try)
		}
		w.Sesso = "M"
		w.Nome = g.pick(maleNames)
		if g.rng.IntN(2) == 0 {
			w.Sesso, w.Nome = "F", g.pick(femaleNames)
		}
		w.Cognome = g.pick(surnames)
		w.DataNascita = g.date(today.AddDate(-64, 0, 0), today.AddDate(-17, 0, 0))
		w.Cittadinanza = "000"
		birth := g.places[g.rng.IntN(len(g.places))].Code
		if g.rng.IntN(10) == 0 { // born abroad
			f := foreign[g.rng.IntN(len(foreign))]
			birth, w.Cittadinanza = f.code, f.citizenship
		}
		w.ComuneNascita = birth
		cf, err := codicefiscale.Generate(w.Cognome, w.Nome, w.DataNascita, codicefiscale.Sex(w.Sesso[0]), birth)
		if err != nil {
			return nil, err
		}
		if !g.used[cf] {
			g.used[cf] = true
			w.CodiceFiscale = cf
			break
		}
	}
	homes := g.places
	if len(g.homes) > 0 {
		homes = g.homes
	}
	home := homes[g.rng.IntN(len(homes))]
	w.Residenza = Address{Comune: home.Code, CAP: g.cap(), Indirizzo: g.street(), Localita: home.Name}
	w.Domicilio = w.Residenza
	if g.rng.IntN(5) == 0 {
		p := g.places[g.rng.IntN(len(g.places))]
		w.Domicilio = Address{Comune: p.Code, CAP: g.cap(), Indirizzo: g.street(), Localita: p.Name}
	}
	w.Cellulare = "3" + g.digits(9)
	if g.rng.IntN(3) == 0 {
		w.Telefono = "0" + g.digits(9)
	}
	w.Email = strings.ToLower(strings.ReplaceAll(w.Nome+"."+w.Cognome, "'", "")) + fmt.Sprintf("%d@example.it", n)
	w.Email = strings.ReplaceAll(w.Email, " ", "")

	cpi := g.places[g.rng.IntN(len(g.places))]
	w.Admin.CodiceEnteTitolare = fmt.Sprintf("%sC%06d", cpi.Code, 100+g.rng.IntN(900))
	if g.rng.IntN(2) == 0 {
		w.Admin.CodiceSAP = fmt.Sprintf("%s%08d%c", cpi.Province, g.rng.IntN(100000000), 'A'+g.rng.IntN(26))
	}
	w.Admin.StatoOccupazionale = g.pick([]string{"DI", "DI", "DI", "IN", "OC", "AL"})
	if w.Admin.StatoOccupazionale == "DI" {
		w.Admin.DataDID = g.date(today.AddDate(-3, 0, 0), today.AddDate(0, 0, -1))
		w.Admin.AnzianitaMesi = int(today.Sub(w.Admin.DataDID).Hours() / 24 / 30)
		w.Admin.IndiceProfiling = fmt.Sprintf("0.%04d", g.rng.IntN(10000))
	}
	w.Admin.DataEvento = g.date(today.AddDate(-3, 0, 0), today)
	w.Admin.CategoriaProtetta = "NO"
	if g.rng.IntN(20) == 0 {
		w.Admin.CategoriaProtetta = "SI"
	}
	w.Admin.CondizioneAnnoPrima = g.pick([]string{"01", "02", "03", "04"})
	w.Admin.ComponentiFamiglia = 1 + g.rng.IntN(5)
	w.Admin.FigliACarico = g.rng.IntN(w.Admin.ComponentiFamiglia)
	w.Admin.IscrittoFormazione = "NO"
	if g.rng.IntN(8) == 0 {
		w.Admin.IscrittoFormazione = "SI"
	}

	// Education: the school path up to a level, then maybe a degree.
	age18 := w.DataNascita.AddDate(18, 0, 0)
	levels := 1 + g.rng.IntN(3)
	for k := 0; k < levels && k < len(educationPath); k++ {
		e := educationPath[k]
		year := w.DataNascita.Year() + e.age
		if year > today.Year() {
			break
		}
		p := g.places[g.rng.IntN(len(g.places))]
		w.Istruzione = append(w.Istruzione, Education{
			Livello: e.level, Corso: e.corso, Descrizione: e.descr, AnnoTermine: year,
			Votazione: e.vote(g), ComuneFrequenza: p.Code, Istituto: e.school + " di " + p.Name,
		})
	}
	// Experiences after 18, one after the other, the last maybe current.
	start := age18.AddDate(0, g.rng.IntN(24), 0)
	for k, n := 0, 1+g.rng.IntN(4); k < n && start.Before(today); k++ {
		j := jobs[g.rng.IntN(len(jobs))]
		end := start.AddDate(0, 3+g.rng.IntN(48), g.rng.IntN(28))
		if end.After(today) || (k == n-1 && w.Admin.StatoOccupazionale == "OC") {
			end = time.Time{}
		}
		p := g.places[g.rng.IntN(len(g.places))]
		w.Esperienze = append(w.Esperienze, Experience{
			AziendaCF: g.partitaIVA(), AziendaNome: g.pick(companyNames) + " " + g.pick(companyForms),
			AziendaIndirizzo: g.street() + ", " + p.Name, Ateco: j.ateco, DataInizio: start, DataFine: end,
			Professione: j.prof, DescrProfessione: j.descr, Compiti: j.tasks,
			TipoContratto: g.pick([]string{"A.01.00", "A.02.00", "A.02.00", "A.03.00"}), ComuneLavoro: p.Code,
		})
		if end.IsZero() {
			break
		}
		start = end.AddDate(0, g.rng.IntN(12), 1)
	}
	for k, n := 0, g.rng.IntN(4); k < n; k++ {
		l := languages[(g.rng.IntN(len(languages))+k)%len(languages)]
		dup := false
		for _, have := range w.Lingue {
			dup = dup || have.Codice == l
		}
		if dup {
			continue
		}
		w.Lingue = append(w.Lingue, Language{Codice: l, Letto: g.pick(cefr), Scritto: g.pick(cefr), Parlato: g.pick(cefr)})
	}
	w.UpdatedAt = g.now.Add(-time.Duration(g.rng.IntN(365*24*3600)) * time.Second).Truncate(time.Second)
	return w, nil
}

func (g *generator) cap() string    { return fmt.Sprintf("%05d", 10+g.rng.IntN(98000)) }
func (g *generator) street() string { return fmt.Sprintf("%s %d", g.pick(streets), 1+g.rng.IntN(200)) }

// partitaIVA returns a random 11-digit code whose check digit is right.
func (g *generator) partitaIVA() string {
	b := []byte("0" + g.digits(9))
	b[0] = byte('0' + 1 + g.rng.IntN(9))
	sum := 0
	for i, c := range b {
		d := int(c - '0')
		if i%2 == 1 {
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return string(b) + string(rune('0'+(10-sum%10)%10))
}

type inserter struct{ w, e, i, l *sqlx.Stmt }

func (g *generator) prepare(ctx context.Context, tx *sqlx.Tx) (*inserter, error) {
	var ins inserter
	var err error
	for _, s := range []struct {
		dst **sqlx.Stmt
		q   string
	}{
		{&ins.w, `INSERT INTO lavoratore (id, codice_fiscale, cognome, nome, sesso, data_nascita, comune_nascita, cittadinanza,
			res_comune, res_cap, res_indirizzo, res_localita, dom_comune, dom_cap, dom_indirizzo, dom_localita,
			telefono, cellulare, email, cpi, codice_sap, stato_occupazionale, data_did, data_evento, anzianita_mesi,
			indice_profiling, categoria_protetta, condizione_anno_prima, componenti_famiglia, figli_a_carico, iscritto_formazione, aggiornato_il)
			VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`},
		{&ins.e, `INSERT INTO esperienza (id_lavoratore, azienda_cf, azienda_nome, azienda_indirizzo, ateco, data_inizio, data_fine,
			professione, descr_professione, compiti, tipo_contratto, comune_lavoro) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)`},
		{&ins.i, `INSERT INTO istruzione (id_lavoratore, livello, corso, descrizione, anno_termine, votazione, comune_frequenza, istituto)
			VALUES (?,?,?,?,?,?,?,?)`},
		{&ins.l, `INSERT INTO lingua (id_lavoratore, lingua, letto, scritto, parlato) VALUES (?,?,?,?,?)`},
	} {
		if *s.dst, err = tx.PreparexContext(ctx, s.q); err != nil {
			ins.close()
			return nil, err
		}
	}
	return &ins, nil
}

func (ins *inserter) close() {
	for _, s := range []*sqlx.Stmt{ins.w, ins.e, ins.i, ins.l} {
		if s != nil {
			s.Close()
		}
	}
}

// text maps "" to NULL and a date to aaaa-mm-gg (zero: NULL).
func text(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func day(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.Format(time.DateOnly)
}

func (ins *inserter) insert(ctx context.Context, w *Worker) error {
	a := w.Admin
	if _, err := ins.w.ExecContext(ctx, w.ID, w.CodiceFiscale, text(w.Cognome), text(w.Nome), w.Sesso, day(w.DataNascita),
		w.ComuneNascita, w.Cittadinanza,
		text(w.Residenza.Comune), text(w.Residenza.CAP), text(w.Residenza.Indirizzo), text(w.Residenza.Localita),
		text(w.Domicilio.Comune), text(w.Domicilio.CAP), text(w.Domicilio.Indirizzo), text(w.Domicilio.Localita),
		text(w.Telefono), text(w.Cellulare), text(w.Email), a.CodiceEnteTitolare, text(a.CodiceSAP), a.StatoOccupazionale,
		day(a.DataDID), day(a.DataEvento), a.AnzianitaMesi, text(a.IndiceProfiling), a.CategoriaProtetta,
		a.CondizioneAnnoPrima, a.ComponentiFamiglia, a.FigliACarico, a.IscrittoFormazione, w.UpdatedAt.UTC().Format("2006-01-02 15:04:05")); err != nil {
		return err
	}
	for _, e := range w.Esperienze {
		if _, err := ins.e.ExecContext(ctx, w.ID, e.AziendaCF, e.AziendaNome, e.AziendaIndirizzo, e.Ateco, day(e.DataInizio), day(e.DataFine),
			e.Professione, e.DescrProfessione, e.Compiti, e.TipoContratto, e.ComuneLavoro); err != nil {
			return err
		}
	}
	for _, e := range w.Istruzione {
		if _, err := ins.i.ExecContext(ctx, w.ID, e.Livello, text(e.Corso), e.Descrizione, e.AnnoTermine, text(e.Votazione), e.ComuneFrequenza, e.Istituto); err != nil {
			return err
		}
	}
	for _, l := range w.Lingue {
		if _, err := ins.l.ExecContext(ctx, w.ID, l.Codice, l.Letto, l.Scritto, l.Parlato); err != nil {
			return err
		}
	}
	return nil
}

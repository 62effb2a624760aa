package anagrafe

import (
	"math/rand/v2"
	"time"
)

// Worker is a worker of the province's SIL: the seed from which registry data is generated.
type Worker struct {
	CodiceFiscale string
	Cognome       string
	Nome          string
	Sesso         string
	DataNascita   time.Time
	Comune        Comune // comune of residence as the SIL knows it
}

// Change is a kind of registry event the generator plants.
type Change string

// The planted changes.
const (
	ChangeResidence  Change = "residenza"
	ChangeDeath      Change = "decesso"
	ChangeEmigration Change = "emigrazione"
)

// Planted is one change the generator made, for a test or the demo to find again.
type Planted struct {
	CodiceFiscale string
	Change        Change
}

// Generated is a municipality's registry derived from a list of workers.
type Generated struct {
	// Known holds what the province knew before: each worker with the old residence.
	Known []*Subject
	// Registry holds what the municipality's registry says now, one subject per worker.
	Registry []*Subject
	// Planted lists the changes, in worker order.
	Planted []Planted
}

// GenOptions tunes Generate. Rates are fractions of the workers (0 to 1), drawn independently;
// a worker gets at most one change.
type GenOptions struct {
	Seed             uint64
	Today            time.Time // changes take effect in the year before Today
	ResidenceChanges float64
	Deaths           float64
	Emigrations      float64
}

// capByIstat gives a postal code for the comuni the generator knows; others get their
// provincial code.
var capByIstat = map[string]string{
	"037006": "40121", "037032": "40026", "037011": "40033", "037054": "40068",
	"015146": "20121", "058091": "00184", "001272": "10121",
}

var streets = []struct{ specie, nome string }{
	{"VIA", "GIUSEPPE GARIBALDI"}, {"VIA", "GIUSEPPE MAZZINI"}, {"PIAZZA", "MAGGIORE"}, {"VIA", "DELL'INDIPENDENZA"},
	{"VIALE", "DELLA REPUBBLICA"}, {"VIA", "EMILIA"}, {"VIA", "ROMA"}, {"VICOLO", "DEL PONTE"}, {"CORSO", "ITALIA"},
	{"VIA", "DEI MILLE"}, {"VIA", "ANTONIO GRAMSCI"}, {"LARGO", "DEI CADUTI"},
}

var foreignStates = []struct{ code, name string }{
	{"215", "GERMANIA"}, {"212", "FRANCIA"}, {"219", "REGNO UNITO"}, {"241", "SVIZZERA"}, {"239", "SPAGNA"}, {"536", "STATI UNITI D'AMERICA"},
}

func randomAddress(r *rand.Rand, c Comune) Address {
	st := streets[r.IntN(len(streets))]
	cap, ok := capByIstat[c.CodiceIstat]
	if !ok {
		cap = "00100"
	}
	a := Address{CAP: cap, Comune: c, Specie: st.specie, Denominazione: st.nome, Numero: 1 + r.IntN(180)}
	if r.IntN(8) == 0 {
		a.Lettera = string(rune('A' + r.IntN(4)))
	}
	return a
}

// randomDay returns a day in [from, to) at midnight UTC, or from's day when the span is empty.
func randomDay(r *rand.Rand, from, to time.Time) time.Time {
	d := from
	if days := int(to.Sub(from).Hours() / 24); days > 0 {
		d = from.AddDate(0, 0, r.IntN(days))
	}
	return time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, time.UTC)
}

// laterOf returns the later of a and b.
func laterOf(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// knownSince draws when the residence the province knows began: between the 18th birthday and
// a year before today (the window of planted changes), so that a change is always later. A
// worker not yet 19 has lived there since a day between birth and a year ago (since birth when
// younger than one), so no date falls before birth or after today.
func knownSince(r *rand.Rand, birth, yearAgo, today time.Time) time.Time {
	from, to := birth.AddDate(18, 0, 0), yearAgo
	if !from.Before(to) {
		from = birth
	}
	if !from.Before(to) {
		to = today
	}
	return randomDay(r, from, to)
}

// Generate derives a registry from the workers, deterministically for a seed: every worker
// gets a residence in their comune (known to the province and, unless a change is planted,
// still current), and the given shares get a residence change (a new address, possibly in
// another comune of the list, from a later day), a death or an AIRE emigration. Every date
// falls between the worker's birth and Today, and a change falls after the known residence
// began, in the year before Today where the worker's age allows.
func Generate(workers []Worker, opt GenOptions) *Generated {
	r := rand.New(rand.NewPCG(opt.Seed, opt.Seed^0x9e3779b97f4a7c15))
	today := opt.Today
	if today.IsZero() {
		today = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	yearAgo := today.AddDate(-1, 0, 0)
	g := &Generated{}
	for _, w := range workers {
		base := &Subject{CodiceFiscale: w.CodiceFiscale, Cognome: w.Cognome, Nome: w.Nome, Sesso: w.Sesso, DataNascita: w.DataNascita}
		birth := w.Comune
		base.ComuneNascita = &birth
		known := *base
		known.Residence = &Residence{Address: randomAddress(r, w.Comune), Since: knownSince(r, w.DataNascita, yearAgo, today)}
		// Changes happen in the year before today, after the known residence began.
		changeFrom := laterOf(yearAgo, known.Residence.Since.AddDate(0, 0, 1))
		if changeFrom.After(today) {
			changeFrom = today
		}
		now := known
		x := r.Float64()
		switch {
		case x < opt.ResidenceChanges:
			c := w.Comune
			if len(workers) > 1 && r.IntN(3) == 0 {
				c = workers[r.IntN(len(workers))].Comune
			}
			addr := randomAddress(r, c)
			for addr == known.Residence.Address {
				addr = randomAddress(r, c)
			}
			now.Residence = &Residence{Address: addr, Since: randomDay(r, changeFrom, today)}
			g.Planted = append(g.Planted, Planted{w.CodiceFiscale, ChangeResidence})
		case x < opt.ResidenceChanges+opt.Deaths:
			place := w.Comune
			now.Death = &Death{Date: randomDay(r, changeFrom, today), Place: &place}
			g.Planted = append(g.Planted, Planted{w.CodiceFiscale, ChangeDeath})
		case x < opt.ResidenceChanges+opt.Deaths+opt.Emigrations:
			st := foreignStates[r.IntN(len(foreignStates))]
			now.Emigration = &Emigration{Since: randomDay(r, changeFrom, today), StateCode: st.code, StateName: st.name}
			g.Planted = append(g.Planted, Planted{w.CodiceFiscale, ChangeEmigration})
		}
		g.Known = append(g.Known, &known)
		g.Registry = append(g.Registry, &now)
	}
	return g
}

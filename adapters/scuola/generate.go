package scuola

import (
	"math/rand/v2"
	"time"
)

// Person is someone of school age from the province's lists: the seed of generated pupils.
type Person struct {
	CodiceFiscale string
	Cognome       string
	Nome          string
	DataNascita   time.Time
}

// GenOptions tunes Generate. Rates are fractions of the pupils, drawn independently.
type GenOptions struct {
	Seed      uint64
	Schools   []string // codici meccanografici the pupils are spread over
	Year      int      // first calendar year of the school year (2025 for 2025/2026)
	DropOuts  float64  // ritirato or interrotto during the year
	Transfers float64  // trasferito to another of the schools
}

// GeneratedSchool is the attendance records of one school.
type GeneratedSchool struct {
	School string
	Pupils []Pupil
}

// Generated is the schools' data and the drop-outs planted in it.
type Generated struct {
	Year     string
	Schools  []GeneratedSchool
	DropOuts []Pupil // every pupil planted as ritirato or interrotto, under 18 or not
}

// Generate makes pupils of the people aged 14 to 19 on 1 September of the year, deterministically
// for a seed, spread over the schools, and plants withdrawals, interruptions and transfers dated
// during the year.
func Generate(people []Person, opt GenOptions) *Generated {
	r := rand.New(rand.NewPCG(opt.Seed, opt.Seed^0x5851f42d4c957f2d))
	start := time.Date(opt.Year, time.September, 15, 0, 0, 0, 0, time.UTC)
	g := &Generated{Year: yearLabel(opt.Year)}
	if len(opt.Schools) == 0 {
		return g
	}
	idx := map[string]int{}
	for _, s := range opt.Schools {
		idx[s] = len(g.Schools)
		g.Schools = append(g.Schools, GeneratedSchool{School: s})
	}
	for _, p := range people {
		pu := Pupil{CodiceFiscale: p.CodiceFiscale, Cognome: p.Cognome, Nome: p.Nome, DataNascita: p.DataNascita}
		age := pu.AgeOn(time.Date(opt.Year, time.September, 1, 0, 0, 0, 0, time.UTC))
		if age < 14 || age > 19 {
			continue
		}
		school := opt.Schools[r.IntN(len(opt.Schools))]
		pu.ClasseAnno = min(max(age-13, 1), 5)
		pu.ClasseSezione = string(rune('A' + r.IntN(4)))
		pu.Stato, pu.Momento, pu.DataEvento = Frequentante, Avvio, start
		x := r.Float64()
		switch {
		case x < opt.DropOuts:
			pu.Stato = Interrotto
			if r.IntN(2) == 0 {
				pu.Stato = Ritirato
			}
			pu.Momento = Interruzione
			pu.DataEvento = start.AddDate(0, 0, 30+r.IntN(200))
			g.DropOuts = append(g.DropOuts, pu)
		case x < opt.DropOuts+opt.Transfers && len(opt.Schools) > 1:
			dest := opt.Schools[r.IntN(len(opt.Schools))]
			for dest == school {
				dest = opt.Schools[r.IntN(len(opt.Schools))]
			}
			pu.Stato, pu.Momento, pu.ScuolaDestinazione = Trasferito, Trasferimento, dest
			pu.DataEvento = start.AddDate(0, 0, 30+r.IntN(200))
		}
		i := idx[school]
		g.Schools[i].Pupils = append(g.Schools[i].Pupils, pu)
	}
	return g
}

func yearLabel(y int) string {
	return time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC).Format("2006") + "/" + time.Date(y+1, 1, 1, 0, 0, 0, 0, time.UTC).Format("2006")
}

package demo

import (
	"context"
	"path/filepath"
	"time"

	"porta/adapters/anagrafe"
	"porta/adapters/codicefiscale"
	"porta/adapters/scuola"
	"porta/adapters/sil"
)

// SeedPeer gives a comune a registry of n synthetic residents and a school n pupils when they hold
// none yet (porta sim); other parties are left as they are.
func SeedPeer(ctx context.Context, p *Peer, n int) error {
	now := time.Now().UTC()
	if c, ok := demoComuni[p.Name]; ok {
		var have int
		if err := p.Data.DB.GetContext(ctx, &have, `SELECT COUNT(*) FROM anpr_soggetti`); err != nil || have > 0 {
			return err
		}
		gen, err := sil.Generate(ctx, filepath.Join(p.Dir, "seed-sil"), sil.GenOptions{Workers: n, Seed: 1, Now: now, Homes: []string{demoBelfiore(p.Name)}})
		if err != nil {
			return err
		}
		cfg, err := sil.LoadConfig(gen.Config)
		if err != nil {
			return err
		}
		src, err := sil.Open(ctx, cfg)
		if err != nil {
			return err
		}
		defer src.Close()
		ws, _, err := src.ChangedSince(ctx, time.Time{})
		if err != nil {
			return err
		}
		var aw []anagrafe.Worker
		for _, w := range ws {
			if codicefiscale.Validate(w.CodiceFiscale) == nil && !w.DataNascita.After(now.AddDate(-19, 0, 0)) {
				aw = append(aw, anagrafe.Worker{CodiceFiscale: w.CodiceFiscale, Cognome: w.Cognome, Nome: w.Nome, Sesso: w.Sesso, DataNascita: w.DataNascita, Comune: c})
			}
		}
		g := anagrafe.Generate(aw, anagrafe.GenOptions{Seed: 11, Today: now, ResidenceChanges: 0.05, Deaths: 0.01, Emigrations: 0.01})
		return p.Data.Anagrafe.Put(ctx, g.Registry...)
	}
	if code, ok := demoSchools[p.Name]; ok {
		if known, err := p.Data.Scuola.Knows(ctx, code); err != nil || known {
			return err
		}
		year := now.Year() - 1
		if now.Month() >= time.September {
			year = now.Year()
		}
		g := scuola.Generate(demoPupils(n, 101, now), scuola.GenOptions{Seed: 201, Schools: []string{code}, Year: year, DropOuts: 0.08})
		for _, s := range g.Schools {
			if err := p.Data.Scuola.Put(ctx, s.School, g.Year, s.Pupils...); err != nil {
				return err
			}
		}
	}
	return nil
}

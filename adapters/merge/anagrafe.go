package merge

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jmoiron/sqlx"

	"porta/adapters/anagrafe"
)

// KindAnagrafe is the kind of the municipal registry's records.
const KindAnagrafe = "anagrafe"

// MergeSubjects merges what the municipal registries say about workers:
//   - a residence different from the known one, taking effect on or after it, updates the
//     worker's address and keeps the old one in the address history with its dates;
//   - a death (datiDecesso) or an AIRE emigration closes the record (a death wins over an
//     emigration; a closed record takes no later residence);
//   - anything already known is Unchanged.
//
// Each subject is merged in its own transaction; a subject whose codice fiscale fails its check,
// or who is not a worker of the province, is rejected alone.
func (s *Store) MergeSubjects(ctx context.Context, source string, subjects []*anagrafe.Subject) (*Report, error) {
	rep := &Report{Source: source, Kind: KindAnagrafe}
	for _, subj := range subjects {
		if err := s.mergeSubject(ctx, rep, source, subj); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

func (s *Store) mergeSubject(ctx context.Context, rep *Report, source string, subj *anagrafe.Subject) error {
	key := clean(subj.CodiceFiscale)
	if err := checkCF(source, KindAnagrafe, key, "generalita/codiceFiscale", key); err != nil {
		return s.reject(ctx, rep, key, subj, err)
	}
	if r := subj.Residence; r != nil && (r.Since.IsZero() || r.Address.Numero < 1 || r.Address.Comune.CodiceIstat == "") {
		return s.reject(ctx, rep, key, subj, &RecordError{Source: source, Kind: KindAnagrafe, Record: key, Field: "residenza", Rule: "complete address", Reason: "dataDecorrenzaResidenza, numeroCivico and comune/codiceIstat are required"})
	}
	var outcome Outcome
	var what string
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		w, err := s.worker(ctx, tx, key)
		if err != nil {
			return err
		}
		before := *w
		var did []string
		// A residence older than the one we know is stale news: ignored.
		if r := subj.Residence; r != nil && w.Status == Active && r.Address != w.Address && !r.Since.Before(w.ResidenceSince) {
			if w.Address != (anagrafe.Address{}) {
				_, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO address_history (codice_fiscale, cap, comune, comune_istat, provincia,
					specie, denominazione, numero, lettera, dal, al, registrato_il) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
					key, w.Address.CAP, w.Address.Comune.Nome, w.Address.Comune.CodiceIstat, w.Address.Comune.Provincia,
					w.Address.Specie, w.Address.Denominazione, w.Address.Numero, w.Address.Lettera, day(w.ResidenceSince), day(r.Since), s.stamp())
				if err != nil {
					return fmt.Errorf("merge: address history of %s: %w", key, err)
				}
			}
			w.Address, w.ResidenceSince = r.Address, r.Since
			did = append(did, "residenza: "+r.Address.String()+" dal "+day(r.Since))
		}
		switch {
		case subj.Death != nil && (w.Status != Deceased || !w.ClosedOn.Equal(subj.Death.Date)):
			w.Status, w.ClosedOn, w.ClosedReason = Deceased, subj.Death.Date, "decesso"
			did = append(did, "chiuso: decesso il "+day(subj.Death.Date))
		case subj.Death == nil && subj.Emigration != nil && w.Status == Active:
			e := subj.Emigration
			w.Status, w.ClosedOn, w.ClosedReason = Emigrated, e.Since, "iscrizione AIRE: "+e.StateName
			did = append(did, "chiuso: emigrato in "+e.StateName+" dal "+day(e.Since))
		}
		if *w == before {
			outcome, what = Unchanged, "nothing new"
			return nil
		}
		if _, err := tx.NamedExecContext(ctx, upsertWorker, rowOf(w, s.stamp())); err != nil {
			return fmt.Errorf("merge: update worker %s: %w", key, err)
		}
		what = strings.Join(did, "; ")
		outcome = Merged
		return s.logTx(ctx, tx, source, KindAnagrafe, key, what, &before, w)
	})
	if errors.Is(err, ErrNotFound) {
		return s.reject(ctx, rep, key, subj, &RecordError{Source: source, Kind: KindAnagrafe, Record: key, Field: "generalita/codiceFiscale", Rule: "worker known to the province", Reason: "no worker with this codice fiscale in the provincial store"})
	}
	if err != nil {
		return err
	}
	if outcome == Merged {
		if err := s.resolve(ctx, KindAnagrafe, key); err != nil {
			return err
		}
	}
	rep.add(key, outcome, what, nil)
	return nil
}

package flows

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"

	"porta/adapters/anagrafe"
	"porta/adapters/merge"
	"porta/adapters/scuola"
	"porta/adapters/sil"
	"porta/internal/pdclient"
)

// SyncSummary is the outcome of a sync run.
type SyncSummary struct {
	Name       string      `json:"name"`
	Sent       int         `json:"sent"`         // requests posted to the PD
	Answered   int         `json:"acknowledged"` // answers read
	Merged     int         `json:"merged"`
	Unchanged  int         `json:"unchanged"`
	Rejected   int         `json:"rejected"` // kept in the failures table
	Skipped    int         `json:"skipped"`  // no municipality to ask
	Seconds    float64     `json:"seconds"`
	Rejections []Rejection `json:"rejections,omitempty"`
}

func (s *SyncSummary) add(rep *merge.Report) {
	s.Merged += rep.Count(merge.Merged)
	s.Unchanged += rep.Count(merge.Unchanged)
	s.Rejected += rep.Count(merge.Rejected)
	for _, r := range rep.Results {
		if r.Outcome != merge.Rejected {
			continue
		}
		x := Rejection{What: rep.Kind, CF: r.Key}
		var re *merge.RecordError
		if errors.As(r.Err, &re) {
			x.Field, x.Rule, x.Reason = re.Field, re.Rule, re.Reason
		}
		s.Rejections = append(s.Rejections, x)
	}
}

// KindConsultazione is the failures kind of a consultation the registry answered KO
// (rispostaKO): Anagrafe.Retry consults again.
const KindConsultazione = "consultazione"

// Anagrafe consults each worker's municipality (ANPR E002-shaped, synchronous) through the PD and
// merges the answers into the province's store: residence changes, deaths, emigrations.
type Anagrafe struct {
	PD    *pdclient.PD
	Store *merge.Store
	DB    *sqlx.DB // Store's database: Retry marks a consultation that now succeeds resolved
	// Route gives the municipality to ask about a worker, from the worker's residence comune
	// (a Belfiore code); ok false skips the worker. DefaultAnagrafeRoute when nil.
	Route   func(w *sil.Worker) (pdclient.Route, bool)
	Motivo  string // motivoRichiesta; "aggiornamento residenza lavoratori SIL" when empty
	CasoUso string // casoUso; "C001" when empty
	// Concurrency is how many consultations are in flight at once (1 when 0). The store's reads
	// and writes (a worker added, a merge, a rejection) still happen one at a time.
	Concurrency int
	Now         func() time.Time

	mu sync.Mutex // serialises the store's writes between concurrent consultations
}

// DefaultAnagrafeRoute asks the party "Comune" + the residence's Belfiore code, service
// Anagrafe, action consultazioneSoggetti.
func DefaultAnagrafeRoute(w *sil.Worker) (pdclient.Route, bool) {
	if w.Residenza.Comune == "" {
		return pdclient.Route{}, false
	}
	return pdclient.Route{Provider: "Comune" + w.Residenza.Comune, Service: "Anagrafe", Action: "consultazioneSoggetti"}, true
}

func (a *Anagrafe) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// Run consults and merges every worker, Concurrency at a time, and folds the outcomes in the
// workers' order. A worker the store does not know yet is added first (identity only), so that the
// registry's residence becomes its first. A KO answer is recorded under KindConsultazione; a fault
// that is not the record's stops the run.
func (a *Anagrafe) Run(ctx context.Context, workers []*sil.Worker) (*SyncSummary, error) {
	start := a.now()
	sum := &SyncSummary{Name: "anagrafe"}
	parts := make([]SyncSummary, len(workers))
	err := forEach(ctx, a.Concurrency, len(workers), func(ctx context.Context, i int) error {
		return a.one(ctx, &parts[i], workers[i])
	})
	for i := range parts {
		sum.addPart(&parts[i])
	}
	sum.Seconds = a.now().Sub(start).Seconds()
	return sum, err
}

func (s *SyncSummary) addPart(p *SyncSummary) {
	s.Sent += p.Sent
	s.Answered += p.Answered
	s.Merged += p.Merged
	s.Unchanged += p.Unchanged
	s.Rejected += p.Rejected
	s.Skipped += p.Skipped
	s.Rejections = append(s.Rejections, p.Rejections...)
}

// forEach calls fn for 0..count-1, n at a time (1 when n < 1). The first error stops the others
// (their context is cancelled) and is returned.
func forEach(ctx context.Context, n, count int, fn func(ctx context.Context, i int) error) error {
	n = max(1, min(n, count))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	next := make(chan int)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := fn(ctx, i); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					cancel()
				}
			}
		}()
	}
feed:
	for i := range count {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}

func (a *Anagrafe) one(ctx context.Context, sum *SyncSummary, w *sil.Worker) error {
	route := DefaultAnagrafeRoute
	if a.Route != nil {
		route = a.Route
	}
	if err := w.CheckIdentity(); err != nil {
		var re *sil.RecordError
		if errors.As(err, &re) {
			return a.reject(ctx, sum, FailureSource, failureKey(re), re.Field, re.Rule, err.Error())
		}
		return err
	}
	r, ok := route(w)
	if !ok {
		sum.Skipped++
		return nil
	}
	if err := a.known(ctx, w); err != nil {
		return err
	}
	now := a.now()
	motivo, caso := a.Motivo, a.CasoUso
	if motivo == "" {
		motivo = "aggiornamento residenza lavoratori SIL"
	}
	if caso == "" {
		caso = "C001"
	}
	req, err := anagrafe.BuildRequest(anagrafe.Request{IDClient: newID(), From: a.PD.Consumer, To: r.Provider, At: now,
		CodiceFiscale: w.CodiceFiscale, Reference: now, Motivo: motivo, CasoUso: caso})
	if err != nil {
		return a.reject(ctx, sum, r.Provider, w.CodiceFiscale, "richiesta", "E002 request", err.Error())
	}
	sum.Sent++
	rep, err := a.PD.Call(ctx, r, req)
	var fe *pdclient.FaultError
	if errors.As(err, &fe) && fe.RecordFault() {
		return a.reject(ctx, sum, r.Provider, w.CodiceFiscale, "richiesta", "porta delegata", fe.Error())
	}
	if err != nil {
		return fmt.Errorf("anagrafe %s: %w", w.CodiceFiscale, err)
	}
	if rep.Payload == nil {
		return fmt.Errorf("anagrafe %s: %s answered no payload: is consultazioneSoggetti synchronous in the registry?", w.CodiceFiscale, r.Provider)
	}
	sum.Answered++
	subjects, err := anagrafe.ParseResponse(rep.Payload)
	var ko *anagrafe.FaultError
	switch {
	case errors.As(err, &ko):
		return a.reject(ctx, sum, r.Provider, w.CodiceFiscale, "rispostaKO", "consultazione", ko.Error())
	case err != nil:
		return a.reject(ctx, sum, r.Provider, w.CodiceFiscale, "risposta", "E002 response", err.Error())
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	mr, err := a.Store.MergeSubjects(ctx, r.Provider, subjects)
	if err != nil {
		return err
	}
	sum.add(mr)
	return resolveFailures(ctx, a.DB, a.now(), KindConsultazione, w.CodiceFiscale)
}

// known adds a worker the store does not know yet, identity only.
func (a *Anagrafe) known(ctx context.Context, w *sil.Worker) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	_, err := a.Store.Worker(ctx, w.CodiceFiscale)
	if errors.Is(err, merge.ErrNotFound) {
		return a.Store.PutWorker(ctx, merge.Worker{CodiceFiscale: w.CodiceFiscale, Cognome: w.Cognome, Nome: w.Nome,
			DataNascita: w.DataNascita, Status: merge.Active})
	}
	return err
}

// Retry consults again about the worker of an open KindConsultazione failure, read again from src.
func (a *Anagrafe) Retry(ctx context.Context, src *sil.Source, f merge.Failure) (*SyncSummary, error) {
	if f.Kind != KindConsultazione || f.Status != string(merge.FailureOpen) {
		return nil, fmt.Errorf("flows: failure %d is a %s %s record, not an open consultation", f.ID, f.Status, f.Kind)
	}
	w, err := src.Worker(ctx, f.Key)
	if err != nil {
		return nil, fmt.Errorf("flows: failure %d: %w", f.ID, err)
	}
	sum := &SyncSummary{Name: "anagrafe"}
	err = a.one(ctx, sum, w)
	return sum, err
}

func (a *Anagrafe) reject(ctx context.Context, sum *SyncSummary, source, cf, field, rule, reason string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	sum.Rejected++
	sum.Rejections = append(sum.Rejections, Rejection{What: KindConsultazione, CF: cf, Field: field, Rule: rule, Reason: reason})
	return a.Store.Reject(ctx, &merge.RecordError{Source: source, Kind: KindConsultazione, Record: cf, Field: field, Rule: rule, Reason: reason},
		failurePayload{What: KindConsultazione, CF: cf})
}

// Scuole requests each school's attendance extraction (asynchronous asymmetric: a request
// answered with a receipt, then polls of its state) through the PD and merges the pupils: under-18
// drop-outs are flagged for orientation.
type Scuole struct {
	PD      *pdclient.PD
	Store   *merge.Store
	Request pdclient.Route // action RichiestaEstrazione
	Poll    pdclient.Route // action StatoEstrazione (same provider)
	Every   time.Duration  // between polls; 2s when 0
	MaxWait time.Duration  // give up on a school after this long; 10m when 0
	Now     func() time.Time
	Sleep   func(ctx context.Context, d time.Duration) error // nil: a timer
}

// School is one extraction to request: the school's party, its codice meccanografico and the year.
type School struct {
	Party string
	Code  string
	Year  string    // aaaa/aaaa
	From  time.Time // only events from this day; zero: the whole year
}

func (s *Scuole) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Scuole) sleep(ctx context.Context, d time.Duration) error {
	if s.Sleep != nil {
		return s.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Run requests, polls and merges each school in turn.
func (s *Scuole) Run(ctx context.Context, schools []School) (*SyncSummary, error) {
	start := s.now()
	sum := &SyncSummary{Name: "scuole"}
	for _, sc := range schools {
		if err := s.one(ctx, sum, sc); err != nil {
			return sum, fmt.Errorf("school %s (%s): %w", sc.Code, sc.Party, err)
		}
	}
	sum.Seconds = s.now().Sub(start).Seconds()
	return sum, nil
}

func (s *Scuole) one(ctx context.Context, sum *SyncSummary, sc School) error {
	if err := scuola.CheckSchool(sc.Code); err != nil {
		return err
	}
	if err := scuola.CheckYear(sc.Year); err != nil {
		return err
	}
	req, err := scuola.BuildRequest(scuola.Extraction{ID: sc.Code + "-" + newID(), School: sc.Code, Year: sc.Year, From: sc.From})
	if err != nil {
		return err
	}
	rq, pl := s.Request, s.Poll
	rq.Provider, pl.Provider = sc.Party, sc.Party
	sum.Sent++
	rep, err := s.PD.Call(ctx, rq, req)
	if err != nil {
		return err
	}
	var id string
	switch {
	case rep.Payload != nil: // answered at once with the RicevutaEstrazione
		if id, _, err = scuola.ParseReceipt(rep.Payload); err != nil {
			return err
		}
	case rep.MessageID != "": // queued: the school names the extraction after the busta
		id = scuola.ExtractionID(rep.MessageID)
	default:
		return errors.New("the PD answered RichiestaEstrazione with neither a RicevutaEstrazione nor a Porta-Message-ID")
	}
	every, maxWait := s.Every, s.MaxWait
	if every <= 0 {
		every = 2 * time.Second
	}
	if maxWait <= 0 {
		maxWait = 10 * time.Minute
	}
	deadline := s.now().Add(maxWait)
	for {
		poll, err := scuola.BuildPoll(id)
		if err != nil {
			return err
		}
		sum.Sent++
		prep, err := s.PD.CallRelated(ctx, pl, poll, rep.MessageID)
		var fe *pdclient.FaultError
		if errors.As(err, &fe) && strings.Contains(fe.Error(), "RiferimentoMessaggio") && s.now().Before(deadline) {
			// The provider does not know the request yet: the PD's outbox has not delivered it.
			if err := s.sleep(ctx, every); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		if prep.Payload == nil {
			return errors.New("StatoEstrazione answered no payload")
		}
		res, err := scuola.ParseResult(prep.Payload)
		if err != nil {
			return err
		}
		switch res.Status {
		case scuola.Completed:
			sum.Answered++
			mr, err := s.Store.MergePupils(ctx, sc.Party, sc.Code, sc.Year, res.Pupils)
			if err != nil {
				return err
			}
			sum.add(mr)
			return nil
		case scuola.Failed:
			// A queued request may not have reached the school yet: it does not know the id until then.
			if res.Code != scuola.CodeUnknownExtraction {
				return fmt.Errorf("extraction %s failed: %s %s", id, res.Code, res.Reason)
			}
		}
		if s.now().After(deadline) {
			return fmt.Errorf("extraction %s still %s after %s", id, res.Status, maxWait)
		}
		if err := s.sleep(ctx, every); err != nil {
			return err
		}
	}
}

func newID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

package flows

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"porta/adapters/labour"
	"porta/adapters/merge"
	"porta/adapters/sil"
	"porta/internal/pdclient"
)

// FailureSource is the source of the failures Send records: the province's own SIL.
const FailureSource = "sil"

// defaultRoute is where the worker document what goes as the network's registries spell it
// (adapters/labour); a deployment whose registry names it otherwise sets Sender.Routes.
func defaultRoute(what string) pdclient.Route {
	s := labour.ByWhat(what)
	if s == nil {
		return pdclient.Route{}
	}
	return pdclient.Route{Provider: s.Providers[0], Service: s.Name, Action: s.Worker.Action}
}

// Sender sends SIL workers' documents through the PD.
type Sender struct {
	PD     *pdclient.PD
	Routes map[string]pdclient.Route // by What; the network's route (adapters/labour) for a missing one
	Store  *merge.Store              // where rejected records are kept
	DB     *sqlx.DB                  // Store's database: Retry marks re-sent failures resolved in it

	Options labour.Options // what the documents' builders need beyond the worker

	// Concurrency is how many records are in flight at once (1 when 0): the PD signs, traces and
	// waits for the peer, so a few in flight keep it busy.
	Concurrency int

	Now func() time.Time // time.Now when nil
}

// Rejection is one rejected record.
type Rejection struct {
	What   string `json:"what"`
	CF     string `json:"codice_fiscale"`
	SILID  string `json:"sil_id"`
	Field  string `json:"field"`
	Rule   string `json:"rule"`
	Reason string `json:"reason"`
}

// Summary is one document kind's outcome in a run.
type Summary struct {
	What         string      `json:"name"`
	Sent         int         `json:"sent"`         // posted to the PD
	Acknowledged int         `json:"acknowledged"` // accepted: queued by the PD (one-way) or answered OK (synchronous)
	Rejected     int         `json:"rejected"`     // refused by a builder, the PD or the peer; kept in failures
	Skipped      int         `json:"skipped"`      // not concerned: a DID for a worker who filed none
	Seconds      float64     `json:"seconds"`
	Rejections   []Rejection `json:"rejections,omitempty"`
}

// failurePayload is what a rejected outbound record keeps: enough to read the worker again.
type failurePayload struct {
	What  string `json:"what"`
	CF    string `json:"codice_fiscale"`
	SILID string `json:"sil_id"`
}

func (s *Sender) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Sender) route(what string) pdclient.Route {
	if r, ok := s.Routes[what]; ok {
		return r
	}
	return defaultRoute(what)
}

// Send builds and sends each of what (labour.AllWhat() when empty) for each worker, one kind after the
// other, and returns one Summary per kind. unreadable are the SIL rows the mapping could not read
// (from sil.Source.ChangedSince); they are rejected under every kind. It stops with an error at a
// fault that is not the record's.
func (s *Sender) Send(ctx context.Context, workers []*sil.Worker, unreadable []*sil.RecordError, what []string) ([]Summary, error) {
	if len(what) == 0 {
		what = labour.AllWhat()
	}
	// Only records with open failures need resolving: read them once instead of writing per record.
	open := map[string]bool{}
	if s.Store != nil {
		fs, err := s.Store.Failures(ctx, merge.FailureOpen)
		if err != nil {
			return nil, err
		}
		for _, f := range fs {
			open[f.Kind+"\x00"+f.Key] = true
		}
	}
	var out []Summary
	for _, w := range what {
		start := s.now()
		sum := Summary{What: w}
		for _, re := range unreadable {
			if err := s.reject(ctx, &sum, re); err != nil {
				return out, err
			}
		}
		err := s.sendAll(ctx, &sum, w, workers, open)
		sum.Seconds = s.now().Sub(start).Seconds()
		if err != nil {
			return append(out, sum), err
		}
		out = append(out, sum)
	}
	return out, nil
}

// sendAll sends what for every worker, Concurrency at a time, and folds the outcomes into sum in
// the workers' order. The first error that is not a record's stops the others.
func (s *Sender) sendAll(ctx context.Context, sum *Summary, what string, workers []*sil.Worker, open map[string]bool) error {
	parts := make([]Summary, len(workers))
	err := forEach(ctx, s.Concurrency, len(workers), func(ctx context.Context, i int) error {
		wk, p := workers[i], &parts[i]
		p.What = what
		// A worker without this document (a DID for one who filed none) is not concerned, unless
		// the record is invalid: every kind rejects an invalid record, with its reason.
		if s := labour.ByWhat(what); s != nil && s.Worker.Concerns != nil && !s.Worker.Concerns(wk) && wk.CheckIdentity() == nil {
			p.Skipped++
			return nil
		}
		ok, err := s.sendOne(ctx, p, what, wk)
		if err == nil && ok && open[what+"\x00"+wk.CodiceFiscale] {
			err = s.resolve(ctx, what, wk.CodiceFiscale)
		}
		return err
	})
	for _, p := range parts {
		sum.Sent += p.Sent
		sum.Acknowledged += p.Acknowledged
		sum.Rejected += p.Rejected
		sum.Skipped += p.Skipped
		sum.Rejections = append(sum.Rejections, p.Rejections...)
	}
	return err
}

// sendOne sends one document; false with a nil error means the record was rejected (and kept).
func (s *Sender) sendOne(ctx context.Context, sum *Summary, what string, w *sil.Worker) (bool, error) {
	doc, err := s.build(what, w)
	if err != nil {
		var re *sil.RecordError
		if !errors.As(err, &re) {
			re = w.Reject("", "build", err)
		}
		return false, s.reject(ctx, sum, re)
	}
	sum.Sent++
	rep, err := s.PD.CallOnce(ctx, s.route(what), doc, IdempotencyKey(what, w, doc))
	var fe *pdclient.FaultError
	if errors.As(err, &fe) && fe.RecordFault() {
		return false, s.reject(ctx, sum, w.Reject("payload", "porta delegata", fe))
	}
	if err != nil {
		return false, fmt.Errorf("%s of %s: %w", what, w.CodiceFiscale, err)
	}
	if err := s.checkReply(what, rep); err != nil {
		return false, s.reject(ctx, sum, w.Reject("risposta", "esito "+what, err))
	}
	sum.Acknowledged++
	return true, nil
}

// IdempotencyKey is the Idempotency-Key of one document of a worker: its kind, the worker, the
// version the SIL holds (UpdatedAt) and the document's own hash. A send that crashed and runs
// again re-sends an unchanged document under the same key, and the gateway answers it as the
// first time instead of sending it twice; a changed worker or document is a new request.
func IdempotencyKey(what string, w *sil.Worker, doc []byte) string {
	h := sha256.New()
	h.Write([]byte(w.ID))
	h.Write([]byte{0})
	h.Write(doc)
	cf := strings.Map(func(r rune) rune {
		if r < '0' || (r > '9' && r < 'A') || (r > 'Z' && r < 'a') || r > 'z' {
			return -1
		}
		return r
	}, w.CodiceFiscale)
	return fmt.Sprintf("sil/%.32s/%.16s/%d/%x", what, cf, w.UpdatedAt.UnixMicro(), h.Sum(nil)[:12])
}

func (s *Sender) build(what string, w *sil.Worker) ([]byte, error) {
	svc := labour.ByWhat(what)
	if svc == nil {
		return nil, fmt.Errorf("flows: unknown document %q (want one of %v)", what, labour.AllWhat())
	}
	return svc.Worker.Build(&s.Options, w)
}

// checkReply reads a synchronous answer: a KO is the record's rejection.
func (s *Sender) checkReply(what string, rep *pdclient.Reply) error {
	if svc := labour.ByWhat(what); svc != nil && svc.Worker.Reply != nil {
		return svc.Worker.Reply(&s.Options, rep.Payload)
	}
	// one-way: the PD queued it (200 and its identifier)
	if rep.MessageID == "" {
		return fmt.Errorf("HTTP %d without %s", rep.Status, "Porta-Message-ID")
	}
	return nil
}

func (s *Sender) reject(ctx context.Context, sum *Summary, re *sil.RecordError) error {
	reason := "rejected"
	if re.Err != nil {
		reason = re.Err.Error()
	}
	r := Rejection{What: sum.What, CF: re.CF, SILID: re.SILID, Field: re.Field, Rule: re.Rule, Reason: reason}
	sum.Rejected++
	sum.Rejections = append(sum.Rejections, r)
	if s.Store == nil {
		return nil
	}
	err := s.Store.Reject(ctx, &merge.RecordError{Source: FailureSource, Kind: sum.What, Record: failureKey(re),
		Field: re.Field, Rule: re.Rule, Reason: reason}, failurePayload{What: sum.What, CF: re.CF, SILID: re.SILID})
	if err != nil {
		return fmt.Errorf("record rejection of %s %s: %w", sum.What, re.Record(), err)
	}
	return nil
}

// failureKey is a rejected record's key in the failures table: its codice fiscale as the SIL holds
// it, or "sil:" and its SIL id when it has none.
func failureKey(re *sil.RecordError) string {
	if re.CF != "" {
		return re.CF
	}
	return "sil:" + re.SILID
}

// resolve closes the open failures of a record that has now been accepted. adapters/merge resolves
// only the kinds it merges itself, so the outbound kinds are closed here, in the same table.
func (s *Sender) resolve(ctx context.Context, what, key string) error {
	return resolveFailures(ctx, s.DB, s.now(), what, key)
}

func resolveFailures(ctx context.Context, db *sqlx.DB, now time.Time, kind, key string) error {
	if db == nil {
		return nil
	}
	_, err := db.ExecContext(ctx, db.Rebind(`UPDATE failures SET status = 'resolved', updated_at = ?
		WHERE kind = ? AND record_key = ? AND status = 'open'`), now.UTC().Format(time.RFC3339Nano), kind, key)
	if err != nil {
		return fmt.Errorf("resolve failures of %s %s: %w", kind, key, err)
	}
	return nil
}

// Outbound reports whether a failure's kind is one Send records (Retry re-sends those; the
// others are merge's and merge.Store.Resend takes them).
func Outbound(kind string) bool { return labour.ByWhat(kind) != nil }

// Retry re-sends an open outbound failure: the worker is read again from src (the SIL may have
// been corrected), built and sent. It returns the new Summary of that one record; if it is
// accepted the failure is resolved, else its attempts grow.
func (s *Sender) Retry(ctx context.Context, src *sil.Source, f merge.Failure) (*Summary, error) {
	if !Outbound(f.Kind) {
		return nil, fmt.Errorf("flows: failure %d is a %s record, not an outbound one", f.ID, f.Kind)
	}
	if f.Status != string(merge.FailureOpen) {
		return nil, fmt.Errorf("flows: failure %d is %s, not open", f.ID, f.Status)
	}
	var p failurePayload
	if err := json.Unmarshal([]byte(f.Payload), &p); err != nil {
		return nil, fmt.Errorf("flows: failure %d: payload: %w", f.ID, err)
	}
	start := s.now()
	sum := &Summary{What: f.Kind}
	if p.CF == "" {
		return nil, fmt.Errorf("flows: failure %d: the SIL row %s has no codice fiscale; correct it in the SIL and run sil send --since", f.ID, p.SILID)
	}
	w, err := src.Worker(ctx, p.CF)
	var re *sil.RecordError
	switch {
	case errors.As(err, &re):
		return sum, s.reject(ctx, sum, re)
	case err != nil:
		return nil, fmt.Errorf("flows: failure %d: %w", f.ID, err)
	}
	ok, err := s.sendOne(ctx, sum, f.Kind, w)
	if err != nil {
		return sum, err
	}
	if ok {
		// The record's key may be its SIL id if the code was wrong when it failed.
		for _, k := range []string{f.Key, w.CodiceFiscale} {
			if err := s.resolve(ctx, f.Kind, k); err != nil {
				return sum, err
			}
		}
	}
	sum.Seconds = s.now().Sub(start).Seconds()
	return sum, nil
}

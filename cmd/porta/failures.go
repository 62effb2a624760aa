package main

// porta failures list|retry: the records the province's flows rejected (kept in the failures
// table of the province's store, adapters/merge), for an operator to read and send again once
// the SIL or the peer is corrected.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"porta/adapters/flows"
	"porta/adapters/merge"
	"porta/jobs"
	"porta/xsd"
)

func init() {
	register(command{name: "failures", summary: "list and re-send the records the provincial flows rejected", subs: map[string]subcommand{
		"list":  {"list rejected records: source, kind, record, field, rule, reason, attempts", runFailuresList},
		"retry": {"send or merge rejected records again (all open ones, or the IDs given)", runFailuresRetry},
	}})
}

func runFailuresList(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("failures list", "[--config DIR/porta.yaml | --province DSN] [--status open|resolved|all] [--json]", stdout, stderr)
	var f flowFlags
	f.register(fs.FlagSet, false)
	status := fs.String("status", "open", "open, resolved or all")
	if code, done := fs.parse(args); done {
		return code
	}
	st := merge.FailureStatus(*status)
	switch st {
	case merge.FailureOpen, merge.FailureResolved:
	case "all":
		st = ""
	default:
		return fs.fail("--status %q: want open, resolved or all", *status)
	}
	if err := f.resolve(false); err != nil {
		fmt.Fprintln(stderr, "porta failures list:", err)
		return 2
	}
	ctx := context.Background()
	if err := storeExists(f.province, f.config); err != nil {
		fmt.Fprintln(stderr, "porta failures list: the province's store:", err)
		return 1
	}
	store, db, err := f.openProvince(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "porta failures list:", err)
		return 1
	}
	defer db.Close()
	list, err := store.Failures(ctx, st)
	if err != nil {
		fmt.Fprintln(stderr, "porta failures list:", err)
		return 1
	}
	if f.json {
		if list == nil {
			list = []merge.Failure{}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(list)
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tAT\tSOURCE\tKIND\tRECORD\tFIELD\tRULE\tATTEMPTS\tSTATUS\tREASON")
	for _, x := range list {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", x.ID, x.At, x.Source, x.Kind, x.Key, x.Field, x.Rule, x.Attempts, x.Status, x.Reason)
	}
	tw.Flush()
	return 0
}

// retryResult is one failure's retry, as --json prints it.
type retryResult struct {
	ID      int64  `json:"id"`
	Kind    string `json:"kind"`
	Record  string `json:"record"`
	Outcome string `json:"outcome"` // sent, merged, unchanged, rejected, error
	Detail  string `json:"detail,omitempty"`
}

// failuresRetryTask is porta failures retry, parsed.
type failuresRetryTask struct {
	f   flowFlags
	b   builderFlags
	a   anagrafeFlags
	ids map[int64]bool // none: every open failure
}

func (t *failuresRetryTask) flows() *flowFlags { return &t.f }

func parseFailuresRetry(args []string, _ bool, stdout, stderr io.Writer) (task, error) {
	fs := newFlags("failures retry", "[--config DIR/porta.yaml] [flags] [ID...]", stdout, stderr)
	t := &failuresRetryTask{ids: map[int64]bool{}}
	t.f.register(fs.FlagSet, true)
	t.b.register(fs.FlagSet)
	t.a.register(fs.FlagSet)
	if err := fs.parseErr(args); err != nil {
		return nil, flagError{err}
	}
	for _, a := range fs.Args() {
		id, err := strconv.ParseInt(a, 10, 64)
		if err != nil || id < 1 {
			return nil, fmt.Errorf("%q is not a failure ID (see porta failures list)", a)
		}
		t.ids[id] = true
	}
	return t, nil
}

func runFailuresRetry(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return runTask("failures retry", args, stdout, stderr)
}

// run retries the open failures named (all when none); since is not used. Its error says how
// many could not be retried (the PD or the network down); the others' outcomes are printed.
func (t *failuresRetryTask) run(ctx context.Context, _ time.Time, stdout io.Writer) (jobs.Counts, error) {
	f, b, a, ids := &t.f, &t.b, &t.a, t.ids
	store, db, err := f.openProvince(ctx)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	open, err := store.Failures(ctx, merge.FailureOpen)
	if err != nil {
		return nil, err
	}
	var todo []merge.Failure
	outbound := false
	for _, x := range open {
		if len(ids) == 0 || ids[x.ID] {
			todo = append(todo, x)
			outbound = outbound || flows.Outbound(x.Kind) || x.Kind == flows.KindConsultazione
		}
	}
	if len(ids) > 0 && len(todo) != len(ids) {
		return nil, errors.New("not every ID given is an open failure (see porta failures list)")
	}
	// Outbound records are read again from the SIL and sent through the PD.
	var sender *flows.Sender
	var retryOut func(merge.Failure) (*flows.Summary, error)
	var retryConsult func(merge.Failure) (*flows.SyncSummary, error)
	if outbound {
		if err := f.resolve(true); err != nil {
			return nil, fmt.Errorf("outbound records need the PD: %w", err)
		}
		set, err := xsd.Open()
		if err != nil {
			return nil, err
		}
		defer set.Close()
		src, err := f.openSIL(ctx)
		if err != nil {
			return nil, err
		}
		defer src.Close()
		var kinds []string
		for _, x := range todo {
			if flows.Outbound(x.Kind) {
				kinds = append(kinds, x.Kind)
			}
		}
		if len(kinds) > 0 {
			if sender, err = b.sender(f, set, kinds, store, db); err != nil {
				return nil, err
			}
		}
		retryOut = func(x merge.Failure) (*flows.Summary, error) { return sender.Retry(ctx, src, x) }
		consult := a.syncer(f)
		consult.Store, consult.DB = store, db
		retryConsult = func(x merge.Failure) (*flows.SyncSummary, error) { return consult.Retry(ctx, src, x) }
	}
	var results []retryResult
	failed := 0
	for _, x := range todo {
		r := retryResult{ID: x.ID, Kind: x.Kind, Record: x.Key}
		if x.Kind == flows.KindConsultazione {
			sum, err := retryConsult(x)
			switch {
			case err != nil:
				r.Outcome, r.Detail = "error", err.Error()
			case sum.Rejected > 0:
				r.Outcome, r.Detail = "rejected", sum.Rejections[0].Field+": "+sum.Rejections[0].Reason
			case sum.Merged > 0:
				r.Outcome = "merged"
			default:
				r.Outcome = "unchanged"
			}
		} else if flows.Outbound(x.Kind) {
			sum, err := retryOut(x)
			switch {
			case err != nil:
				r.Outcome, r.Detail = "error", err.Error()
			case sum.Acknowledged > 0:
				r.Outcome = "sent"
			default:
				r.Outcome = "rejected"
				if len(sum.Rejections) > 0 {
					r.Detail = sum.Rejections[0].Field + ": " + sum.Rejections[0].Reason
				}
			}
		} else {
			res, err := store.Resend(ctx, x.ID)
			switch {
			case err != nil:
				r.Outcome, r.Detail = "error", err.Error()
			default:
				r.Outcome, r.Detail = string(res.Outcome), res.What
				if res.Err != nil {
					r.Detail = res.Err.Error()
				}
			}
		}
		results = append(results, r)
		if r.Outcome == "error" {
			failed++
			if flows.Outbound(x.Kind) || ctx.Err() != nil {
				break // the PD or the network is down: the rest would fail the same way
			}
		}
	}
	counts := jobs.Counts{}
	for _, r := range results {
		counts[r.Outcome]++
	}
	if f.json {
		if results == nil {
			results = []retryResult{}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(results)
	} else {
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tKIND\tRECORD\tOUTCOME\tDETAIL")
		for _, r := range results {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", r.ID, r.Kind, r.Record, r.Outcome, r.Detail)
		}
		tw.Flush()
	}
	if failed > 0 {
		for _, r := range results {
			if r.Outcome == "error" {
				return counts, fmt.Errorf("%d of %d records could not be retried; the first, %s %s: %s", failed, len(todo), r.Kind, r.Record, r.Detail)
			}
		}
	}
	return counts, nil
}

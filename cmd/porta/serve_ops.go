package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"porta/adapters/merge"
	"porta/audit"
	"porta/gateway/node"
	"porta/internal/redact"
	"porta/jobs"
	"porta/ops"
	"porta/ops/ui"
	"porta/registry"
)

// newOpsAPI builds the management API (package ops) of porta serve for the admin listener: over
// the node's audit store, with porta.yaml's jobs (run now through the scheduler), the registry in
// use, and the province's failures (backends.db next to porta.yaml, as porta failures list
// reads). Nil when the store is not the audit store.
func newOpsAPI(o *node.Opened, sched *jobs.Scheduler, log *slog.Logger) (*ops.API, error) {
	if o.Audit == nil {
		return nil, nil
	}
	keys, err := o.Config.LoadTraceKeys()
	if err != nil {
		return nil, err
	}
	opt := ops.Options{
		Store:    o.Audit,
		Registry: func() *registry.Registry { return o.RegistryInUse() },
		Logger:   log,
		Failures: provinceFailures(o.Config.File),
		UI:       ui.Handler(),
		// An admin's view of a body encrypted at rest opens it with the node's trace keys.
		OpenBody: func(rec *audit.Record) ([]byte, error) { return rec.Envelope(keys) },
	}
	for _, j := range o.Config.Jobs {
		opt.Jobs = append(opt.Jobs, ops.JobInfo{
			Name:     j.Name,
			Schedule: fmt.Sprintf("every %v at %s", j.Schedule.Every, time.Time{}.Add(j.Schedule.At).Format("15:04")),
			Command:  strings.Join(redact.Args(j.Run), " "),
		})
	}
	if sched != nil {
		opt.Wake = sched.Wake
	}
	return ops.New(opt)
}

// provinceFailures reads porta failures list's table for the API, opening the province's store
// for each request (it is another database than the trail, and rarely asked for).
func provinceFailures(cfgPath string) func(ctx context.Context, status string) ([]ops.Failure, error) {
	return func(ctx context.Context, status string) ([]ops.Failure, error) {
		f := flowFlags{config: cfgPath}
		if err := f.resolve(false); err != nil {
			return nil, err
		}
		if err := storeExists(f.province, ""); err != nil {
			return nil, &ops.Error{Status: http.StatusNotFound, Word: "not_found", Message: "this node keeps no provincial failures: " + err.Error()}
		}
		store, db, err := f.openProvince(ctx)
		if err != nil {
			return nil, err
		}
		defer db.Close()
		list, err := store.Failures(ctx, merge.FailureStatus(status))
		if err != nil {
			return nil, err
		}
		out := make([]ops.Failure, 0, len(list))
		for _, x := range list {
			out = append(out, ops.Failure{ID: x.ID, At: x.At, Source: x.Source, Kind: x.Kind, Record: x.Key, Field: x.Field, Rule: x.Rule,
				Reason: x.Reason, Status: x.Status, Attempts: x.Attempts, Updated: x.Updated})
		}
		return out, nil
	}
}

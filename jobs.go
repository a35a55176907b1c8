package npw

import (
	"context"
	"log/slog"
	"time"

	"github.com/npw-dev/npw/job"
	"github.com/npw-dev/npw/state"
)

// Jobs have a life of their own: each is kept in its state store (a
// record beside its task state), so that any process reaching that store
// can follow, provision, wait for or cancel it by its ID, after the
// client that submitted it has left (Options.Detach) or died. These
// functions take the state store's URL.

// A JobRecord is a job as its state store keeps it (job.Record).
type JobRecord = job.Record

// A JobSnapshot is a job as Inspect sees it now (job.Snapshot).
type JobSnapshot = job.Snapshot

// withState opens the state store at stateURL for f.
func withState[T any](ctx context.Context, stateURL string, f func(*state.Store) (T, error)) (T, error) {
	st, err := state.Open(ctx, stateURL)
	if err != nil {
		var zero T
		return zero, err
	}
	defer st.Close()
	return f(st)
}

// Provision provisions a submitted job's workers from this process until
// the job ends, then finishes it (job.Provision): what a detached job's
// provisioner process runs, and how to take over a job whose client died.
func Provision(ctx context.Context, stateURL, id string, log *slog.Logger) (*job.Result, error) {
	return withState(ctx, stateURL, func(st *state.Store) (*job.Result, error) {
		return job.Provision(ctx, st, id, job.Options{Log: log})
	})
}

// Inspect returns where a job stands: its record, its status and the
// workers alive.
func Inspect(ctx context.Context, stateURL, id string) (JobSnapshot, error) {
	return withState(ctx, stateURL, func(st *state.Store) (JobSnapshot, error) {
		return job.Inspect(ctx, st, id, time.Now())
	})
}

// ListJobs returns the jobs a state store holds, as Inspect sees them.
func ListJobs(ctx context.Context, stateURL string) ([]JobSnapshot, error) {
	return withState(ctx, stateURL, func(st *state.Store) ([]JobSnapshot, error) {
		recs, err := job.List(ctx, st)
		if err != nil {
			return nil, err
		}
		var out []JobSnapshot
		for _, r := range recs {
			if s, err := job.Inspect(ctx, st, r.ID, time.Now()); err == nil {
				out = append(out, s) // else it ended or went since the listing
			}
		}
		return out, nil
	})
}

// WaitJob follows a job until it ends, calling progress (if set) about
// once a second, and returns its result and record; it collects the job's
// end (job.Wait).
func WaitJob(ctx context.Context, stateURL, id string, progress func(state.Status)) (*job.Result, *JobRecord, error) {
	var rec *JobRecord
	res, err := withState(ctx, stateURL, func(st *state.Store) (*job.Result, error) {
		var err error
		if rec, err = job.LoadRecord(ctx, st, id); err != nil {
			return nil, err
		}
		return job.Wait(ctx, st, id, progress, nil)
	})
	return res, rec, err
}

// Cancel cancels a job (job.Cancel): its workers stop, and its queue,
// state, record and tiles go, its outputs too unless keepOutputs.
func Cancel(ctx context.Context, stateURL, id string, keepOutputs bool) error {
	_, err := withState(ctx, stateURL, func(st *state.Store) (struct{}, error) {
		return struct{}{}, job.Cancel(ctx, st, id, keepOutputs)
	})
	return err
}

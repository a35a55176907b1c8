package npw

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/npw-dev/npw/job"
	"github.com/npw-dev/npw/provisioner"
	"github.com/npw-dev/npw/state"
)

// Jobs have a life of their own: each is kept in its state store (a
// record beside its task state), so that any process reaching that store
// can follow, provision, wait for or cancel it by its ID, after the
// client that submitted it has left (Options.Detach) or died. These
// functions take the state store's URL.

// A JobRecord is a job as its state store keeps it (job.Record).
type JobRecord = job.Record

// A Progress is a snapshot of a running job, as Options.Progress and
// WaitJob report it: its status, running workers and elapsed time.
type Progress = job.Progress

// A JobSnapshot is a job as Inspect sees it now (job.Snapshot).
type JobSnapshot = job.Snapshot

// OpenState opens the state store at a URL (mem://, redis://), for a
// dashboard of its jobs.
func OpenState(ctx context.Context, stateURL string) (*state.Store, error) {
	return state.Open(ctx, stateURL)
}

// Fault is a failure injected into a running job (Options.Fault): a
// fraction of its workers killed at a time.
type Fault = job.Fault

// EndedResult is the result of a job that ended, as its record keeps it
// (no task spans): its workers, their lifetimes and requests, its wall
// time.
func EndedResult(rec *JobRecord) *job.Result { return job.FromRecord(rec) }

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
func WaitJob(ctx context.Context, stateURL, id string, progress func(Progress)) (*job.Result, *JobRecord, error) {
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

// A LambdaProvision is the payload ({"provision": ...}) of an invocation
// of npw's Lambda function that provisions a job of Lambda workers, so
// that the job needs no long-running process: a detaching client invokes
// the first, and each invokes its successor before its own timeout,
// handing over the workers it launched.
type LambdaProvision struct {
	Job      string `json:"job"`
	State    string `json:"state"`
	Function string `json:"function"`
	// Round counts the invocations of the chain before this one.
	Round  int                     `json:"round"`
	Lambda provisioner.LambdaState `json:"lambda"`
}

// ProvisionInLambda serves one invocation of a job's provisioner chain:
// it provisions the job's workers by the paper's policy until the job
// ends, and then finishes it (saves its outputs, removes its queue, state
// and scratch tiles, records its end); or, if ctx has a deadline and the
// job runs on until a reserve before it, it invokes its successor and
// returns (nil, nil). The reserve, for finishing a job that ends just
// before, is a quarter of the time left, or more on a short timeout: a
// minute, or half the time if that is less. A successor that cannot be
// invoked fails the job, which this invocation then finishes: a job is
// never left without a provisioner.
func ProvisionInLambda(ctx context.Context, p LambdaProvision, log *slog.Logger) (*job.Result, error) {
	opts := job.Options{Log: log, Resume: p.Lambda}
	if deadline, ok := ctx.Deadline(); ok {
		left := time.Until(deadline)
		opts.Until = deadline.Add(-max(left/4, min(left/2, time.Minute)))
	}
	return withState(ctx, p.State, func(st *state.Store) (*job.Result, error) {
		res, err := job.Provision(ctx, st, p.Job, opts)
		var h *job.Handoff
		if !errors.As(err, &h) {
			return res, err
		}
		next := p
		next.Round++
		next.Lambda = h.Lambda
		ierr := InvokeProvisioner(ctx, next)
		if ierr == nil {
			log.Info("handed the job to the next provisioner", "job", p.Job, "round", next.Round, "workers", len(h.Lambda.Launched))
			return nil, nil
		}
		msg := fmt.Sprintf("its provisioner could not hand it on (round %d): %v", next.Round, ierr)
		if ferr := st.Fail(context.WithoutCancel(ctx), p.Job, msg); ferr != nil {
			return nil, fmt.Errorf("job %s: %s; failing it: %w", p.Job, msg, ferr)
		}
		opts.Until = time.Time{}
		return job.Provision(ctx, st, p.Job, opts) // finds it failed, and finishes it
	})
}

// InvokeProvisioner invokes p's function asynchronously to provision p's
// job (ProvisionInLambda), retrying a failed invocation for up to 10 s.
func InvokeProvisioner(ctx context.Context, p LambdaProvision) error {
	payload, err := json.Marshal(struct {
		Provision LambdaProvision `json:"provision"`
	}{p})
	if err != nil {
		return err
	}
	wait := 250 * time.Millisecond
	for end := time.Now().Add(10 * time.Second); ; wait *= 2 {
		err = provisioner.InvokeAsync(ctx, p.Function, payload)
		if err == nil || time.Now().Add(wait).After(end) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
	}
}

package job

// A job's life after its submission: Follow (job.go) provisions it in the
// client; Provision does so in any other process that reaches the job's
// services; Wait follows it without provisioning; Cancel ends it from
// anywhere. Whoever provisions a job finishes it (finish): saves the
// outputs that have targets, removes the queue, the state and every tile
// but the outputs kept, and leaves the job's end in its record for Wait
// (or deletes the record when an attached client collects the end).

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/npw-dev/npw/analysis"
	"github.com/npw-dev/npw/blockstore"
	"github.com/npw-dev/npw/clock"
	"github.com/npw-dev/npw/cost"
	"github.com/npw-dev/npw/executor"
	"github.com/npw-dev/npw/manifest"
	"github.com/npw-dev/npw/provisioner"
	"github.com/npw-dev/npw/queue"
	"github.com/npw-dev/npw/state"
)

// programText is a plan's program and arguments, as "cholesky N=8".
func programText(p *analysis.Plan) string {
	var args []string
	for name, v := range p.Args() {
		args = append(args, name+"="+v.String())
	}
	slices.Sort(args)
	return strings.TrimSpace(p.Program().Name + " " + strings.Join(args, " "))
}

// checkTargets refuses targets of matrices that are not outputs, and
// target URLs that name no stored matrix.
func checkTargets(spec Spec) error {
	for _, name := range slices.Sorted(maps.Keys(spec.Targets)) {
		if !slices.Contains(spec.Outputs, name) {
			return fmt.Errorf("target %s for %s, which is not an output", spec.Targets[name], name)
		}
		if _, _, err := blockstore.SplitURL(spec.Targets[name]); err != nil {
			return err
		}
	}
	return nil
}

// finish ends a job that its provisioner saw end with jobErr (nil: done):
// it saves the outputs that have targets, removes what the job made
// (queue, state, every tile but the outputs kept, the tiles it owns) and
// records the end. It returns jobErr, or the error of a save.
func finish(ctx context.Context, env Env, rec *Record, j *manifest.Job, q *queue.Queue, res *Result, jobErr error, opts Options) error {
	ctx = context.WithoutCancel(ctx)
	end := &End{At: opts.Clock.Now(), Phase: state.Done, Status: res.Status, Wall: res.Wall, Workers: workers(res.Workers),
		PeakWorkers: res.PeakWorkers(), Traffic: res.Traffic}
	if jobErr == nil {
		end.Saved, jobErr = saveTargets(ctx, env, rec, j)
	}
	var keep []string
	for _, o := range rec.Outputs {
		if o.Target == "" && jobErr == nil {
			keep = append(keep, o.Name)
		}
	}
	cleanup(ctx, env, q, j, keep, opts.Log)
	// An attached client releases its inputs itself; a job that was left
	// to this process, or whose client died, takes them with it.
	for _, p := range ownedBy(rec) {
		if err := env.Tiles.DeletePrefix(ctx, p); err != nil {
			opts.Log.Warn("deleting the job's inputs failed", "job", rec.ID, "prefix", p, "err", err)
		}
	}
	if jobErr != nil {
		end.Phase, end.Error = state.Failed, jobErr.Error()
	}
	if err := recordEnd(ctx, env.State, rec, end); err != nil {
		opts.Log.Warn("recording the job's end failed", "job", rec.ID, "err", err)
	}
	return jobErr
}

// ownedBy returns the tiles a job's finisher deletes: those it owns,
// unless an attached client does so.
func ownedBy(rec *Record) []string {
	if rec.Attached {
		return nil
	}
	return rec.Owned
}

// recordEnd leaves the end in the job's record for Wait, or deletes the
// record when an attached client collects the end itself. A record that
// is gone (the job was cancelled) stays gone.
func recordEnd(ctx context.Context, st *state.Store, rec *Record, end *End) error {
	if rec.Attached {
		return st.DeleteRecord(ctx, rec.ID)
	}
	if _, err := st.Record(ctx, rec.ID); err != nil {
		if errors.Is(err, state.ErrNoJob) {
			return nil
		}
		return err
	}
	rec.End = end
	rec.Provisioner = ""
	return putRecord(ctx, st, rec)
}

// saveTargets saves the outputs that have targets as stored matrices and
// returns their names.
func saveTargets(ctx context.Context, env Env, rec *Record, j *manifest.Job) ([]string, error) {
	var saved []string
	for _, o := range rec.Outputs {
		if o.Target == "" {
			continue
		}
		m := &j.Matrices[j.Plan.MatrixIndex(o.Name)].BigMatrix
		if err := saveOutput(ctx, env, m, o); err != nil {
			return saved, fmt.Errorf("output %s: %w", o.Name, err)
		}
		saved = append(saved, o.Name)
	}
	return saved, nil
}

// saveOutput saves one output's grid at its target URL.
func saveOutput(ctx context.Context, env Env, m *blockstore.BigMatrix, o Output) error {
	rows, cols, _, err := blockstore.Extent(ctx, env.Tiles, m, o.Fixed)
	if err != nil {
		return err
	}
	dst, key := env.Tiles, ""
	if k, ok := blockstore.Within(env.Tiles.URL(), o.Target); ok {
		key = k
	} else {
		var err error
		if dst, key, err = blockstore.OpenURL(ctx, o.Target, true); err != nil {
			return err
		}
		defer dst.Close()
	}
	src := &blockstore.Grid{Store: env.Tiles, Matrix: m, Fixed: o.Fixed, Rows: rows, Cols: cols}
	_, err = blockstore.SaveGrid(ctx, src, m.Block, dst, key, o.Target)
	return err
}

// openEnv opens the services a job's record names, with the state store
// st.
func openEnv(ctx context.Context, st *state.Store, rec *Record) (Env, error) {
	tiles, err := blockstore.Open(ctx, rec.Store)
	if err != nil {
		return Env{}, err
	}
	return Env{Tiles: tiles, QueueURL: rec.Queue, State: st}, nil
}

// Provision provisions a submitted job from this process, by the policy
// and launcher of its record, until the job ends, and finishes it: what
// `npw provision --job ID` runs, for a client that submitted the job and
// left, or died. opts gives the provisioner's own settings (Interval,
// Stall, Outage, Log, Progress, Clock); the workers' come from the
// record.
func Provision(ctx context.Context, st *state.Store, id string, opts Options) (*Result, error) {
	rec, err := LoadRecord(ctx, st, id)
	if err != nil {
		return nil, err
	}
	if rec.End != nil {
		return FromRecord(rec), nil
	}
	env, err := openEnv(ctx, st, rec)
	if err != nil {
		return nil, err
	}
	defer env.Tiles.Close()
	j, err := manifest.Load(ctx, env.Tiles, id)
	if err != nil {
		return nil, err
	}
	q, err := queue.Open(ctx, rec.Queue, manifest.QueueName(id))
	if err != nil {
		return nil, fmt.Errorf("job %s: %w", id, err)
	}
	defer q.Close()
	if !opts.Until.IsZero() && rec.Launch.Kind != "lambda" {
		return nil, fmt.Errorf("job %s: only a provisioner of Lambda workers hands its job off; this one launches %s workers", id, rec.Launch.Kind)
	}
	if opts.Pool, err = rec.Launch.PoolFrom(opts.Resume); err != nil {
		return nil, err
	}
	opts.Launch, opts.MaxWorkers, opts.ScaleFactor, opts.Settings = rec.Launch, rec.Launch.MaxWorkers, rec.Launch.ScaleFactor, rec.Launch.Settings
	opts.defaults()
	// A client that submitted the job attached has died, or left: the
	// end goes to the record, for npw wait.
	rec.Provisioner, rec.Attached = whoAmI("provisioner"), false
	if err := putRecord(ctx, st, rec); err != nil {
		return nil, err
	}
	res := newResult(j, outputNames(rec), rec.Kernels, rec.Created)
	res.Uploaded = rec.Uploaded
	tiles0 := snapshot(env)
	err = run(ctx, env, j, q, tiles0, opts, res)
	if _, ok := err.(*Handoff); ok {
		return nil, err // the job runs on; its successor finishes it
	}
	res.Wall = opts.Clock.Since(rec.Created)
	res.account(env, q, tiles0)
	return res, finish(ctx, env, rec, j, q, res, err, opts)
}

func outputNames(rec *Record) []string {
	var names []string
	for _, o := range rec.Outputs {
		names = append(names, o.Name)
	}
	return names
}

// FromRecord is the result of a job that ended, as its record keeps it.
func FromRecord(rec *Record) *Result {
	res := &Result{ID: rec.ID, Program: rec.Program, TasksByKernel: rec.Kernels, Started: rec.Created, Uploaded: rec.Uploaded,
		Outputs: outputNames(rec), Matrices: map[string]*blockstore.BigMatrix{}}
	if rec.End == nil {
		return res
	}
	res.Status, res.Wall, res.Traffic = rec.End.Status, rec.End.Wall, rec.End.Traffic
	res.Timeline = []provisioner.Sample{{Running: rec.End.PeakWorkers}}
	for _, w := range rec.End.Workers {
		rep := provisioner.WorkerReport{Report: w.Report, Launched: w.Launched}
		if w.Err != "" {
			rep.Err = errors.New(w.Err)
		}
		res.Workers = append(res.Workers, rep)
	}
	return res
}

// Wait follows a job until it ends, without provisioning it, calling
// progress (if set) about once a second with its status, and returns its
// result as its record keeps it. It collects the end: the record is
// deleted. A job that ended in failure returns an *Error too; one that
// was cancelled (its record deleted) an error saying so.
func Wait(ctx context.Context, st *state.Store, id string, progress func(Progress), clk clock.Clock) (*Result, error) {
	clk = clock.Or(clk)
	rec, err := LoadRecord(ctx, st, id)
	for ; err == nil && rec.End == nil; rec, err = LoadRecord(ctx, st, id) {
		if progress != nil {
			if status, serr := st.Status(ctx, id); serr == nil {
				progress(Progress{ID: id, Program: rec.Program, Status: status, Running: -1, Elapsed: clk.Since(rec.Created)})
			}
		}
		if err := clk.Sleep(ctx, time.Second); err != nil {
			return nil, err
		}
	}
	if errors.Is(err, state.ErrNoJob) {
		return nil, fmt.Errorf("job %s is gone from the state store: cancelled, or collected by another wait: %w", id, err)
	}
	if err != nil {
		return nil, err
	}
	if err := collect(ctx, st, rec); err != nil {
		return nil, err
	}
	res := FromRecord(rec)
	if rec.End.Phase == state.Failed {
		return res, &Error{ID: id, Msg: rec.End.Error}
	}
	return res, nil
}

// collect removes what is left of a job that ended once its end is
// read: the outputs it kept without a target (no client is there to
// take them) and its record.
func collect(ctx context.Context, st *state.Store, rec *Record) error {
	env, err := openEnv(ctx, st, rec)
	if err != nil {
		return err
	}
	defer env.Tiles.Close()
	if err := env.Tiles.DeletePrefix(ctx, "jobs/"+rec.ID+"/"); err != nil {
		return err
	}
	return st.DeleteRecord(ctx, rec.ID)
}

// Cancel ends a job from any process: it marks it failed (its workers
// and its provisioner stop), deletes its queue, its state, its record
// and every tile it made, the outputs too unless keepOutputs. Outputs
// already saved to their targets are removed with them unless
// keepOutputs.
func Cancel(ctx context.Context, st *state.Store, id string, keepOutputs bool) error {
	rec, err := LoadRecord(ctx, st, id)
	if err != nil {
		return err
	}
	if err := st.Fail(ctx, id, "cancelled"); err != nil && !errors.Is(err, state.ErrNoJob) {
		return err
	}
	env, err := openEnv(ctx, st, rec)
	if err != nil {
		return err
	}
	defer env.Tiles.Close()
	if err := destroyQueue(ctx, rec); err != nil {
		return err
	}
	if err := st.Delete(ctx, id); err != nil && !errors.Is(err, state.ErrNoJob) {
		return err
	}
	if err := removeTiles(ctx, env, rec, keepOutputs); err != nil {
		return err
	}
	return st.DeleteRecord(ctx, id)
}

// destroyQueue deletes a job's queue, if it is still there.
func destroyQueue(ctx context.Context, rec *Record) error {
	q, err := queue.Open(ctx, rec.Queue, manifest.QueueName(rec.ID))
	if errors.Is(err, queue.ErrNoQueue) {
		return nil
	}
	if err != nil {
		return err
	}
	defer q.Close()
	return q.Destroy(ctx)
}

// removeTiles deletes a cancelled job's tiles, the inputs it owns, and,
// unless keepOutputs, its outputs and the targets it saved.
func removeTiles(ctx context.Context, env Env, rec *Record, keepOutputs bool) error {
	var errs []error
	for _, p := range rec.Owned {
		errs = append(errs, env.Tiles.DeletePrefix(ctx, p))
	}
	if !keepOutputs {
		errs = append(errs, env.Tiles.DeletePrefix(ctx, "jobs/"+rec.ID+"/"))
		if rec.End != nil {
			for _, name := range rec.End.Saved {
				errs = append(errs, removeTarget(ctx, env, rec, name))
			}
		}
		return errors.Join(errs...)
	}
	j, err := manifest.Load(ctx, env.Tiles, rec.ID)
	if errors.Is(err, blockstore.ErrNotFound) {
		return errors.Join(errs...) // ended: only the outputs are left
	}
	if err != nil {
		return err
	}
	return errors.Join(append(errs, deleteExcept(ctx, env.Tiles, j, outputNames(rec)))...)
}

// removeTarget removes the stored matrix an output was saved to.
func removeTarget(ctx context.Context, env Env, rec *Record, name string) error {
	for _, o := range rec.Outputs {
		if o.Name != name || o.Target == "" {
			continue
		}
		if key, ok := blockstore.Within(env.Tiles.URL(), o.Target); ok {
			return blockstore.Remove(ctx, env.Tiles, key, o.Target)
		}
		s, key, err := blockstore.OpenURL(ctx, o.Target, false)
		if err != nil {
			return err
		}
		defer s.Close()
		return blockstore.Remove(ctx, s, key, o.Target)
	}
	return nil
}

// A Snapshot is a job as Inspect sees it now.
type Snapshot struct {
	Record  *Record
	Status  state.Status // while it runs
	Running bool         // its task state is there
	Workers []string     // workers alive in the last HeartbeatWindow
	// Usage is what the job has used so far, while it runs (LiveUsage).
	Usage *cost.Usage
}

// HeartbeatWindow is how recent a worker's heartbeat must be for
// Inspect to count it as running.
const HeartbeatWindow = 3 * executor.DefaultHeartbeat

// Inspect returns a job's record, its status while it runs and the
// workers alive, whoever started them.
func Inspect(ctx context.Context, st *state.Store, id string, now time.Time) (Snapshot, error) {
	rec, err := LoadRecord(ctx, st, id)
	if err != nil {
		return Snapshot{}, err
	}
	s := Snapshot{Record: rec}
	if rec.End != nil {
		s.Status = rec.End.Status
		return s, nil
	}
	s.Status, err = st.Status(ctx, id)
	if errors.Is(err, state.ErrNoJob) {
		return s, nil // ending
	}
	if err != nil {
		return Snapshot{}, err
	}
	s.Running = true
	if s.Workers, err = st.Workers(ctx, id, now.Add(-HeartbeatWindow)); err != nil {
		return s, err
	}
	u, err := LiveUsage(ctx, st, rec, now)
	if errors.Is(err, state.ErrNoJob) {
		return s, nil // it ended since
	}
	s.Usage = &u
	return s, err
}

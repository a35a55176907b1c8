// Package job runs one LAmbdaPACK job from start to end, as the client:
// it uploads the inputs as tiles under a job-scoped prefix, saves the
// job's manifest, creates the job in the state store, enqueues the
// starter tasks, runs the provisioner (which launches workers) until the
// state store reports the job done or failed, and cleans up: the queue,
// the state and every tile but the outputs'.
//
// A job never hangs: it ends when the state store says so, when the
// context is cancelled, or when nothing is queued, leased or running
// while tasks remain (a stall, which is reported, not waited out).
package job

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"runtime"
	"slices"
	"strings"
	"time"

	"gonum.org/v1/gonum/blas/blas64"

	"github.com/npw-dev/npw/analysis"
	"github.com/npw-dev/npw/blockstore"
	"github.com/npw-dev/npw/clock"
	"github.com/npw-dev/npw/executor"
	"github.com/npw-dev/npw/lambdapack"
	"github.com/npw-dev/npw/manifest"
	"github.com/npw-dev/npw/provisioner"
	"github.com/npw-dev/npw/queue"
	"github.com/npw-dev/npw/state"
)

// Env is where jobs run: a tile store, a queue URL (each job gets its own
// queue there) and a state store.
type Env struct {
	Tiles    *blockstore.Store
	QueueURL string
	State    *state.Store
}

// An Input binds a BigMatrix parameter to data: a 2-D array to upload
// (under the binding rule of blockstore.BigMatrix), or tiles already in
// the store, such as another job's output. Tiles with the parameter's
// layout that the program only reads are used in place; otherwise they
// are assembled (with the selector Fixed) and re-tiled into the job.
type Input struct {
	Name  string
	Array blas64.General
	Tiles *blockstore.BigMatrix
	Fixed []int32 // leading indices selecting Tiles' 2-D array; nil for the default
	// Copy re-tiles even a matching layout: for tiles with gaps, which
	// assemble as zeros but cannot be read in place.
	Copy bool
}

// Spec is one job.
type Spec struct {
	Plan    *analysis.Plan
	Block   int
	Inputs  []Input
	Outputs []string // matrices whose tiles are kept after the job
}

// Options tune the run; zero values take defaults.
type Options struct {
	// Settings are every worker's; RuntimeLimit, with ColdStart, emulates
	// Lambda for goroutine workers.
	executor.Settings
	MaxWorkers  int           // default GOMAXPROCS
	ScaleFactor float64       // the provisioner's sf (default 1)
	Interval    time.Duration // between the provisioner's rounds (default 100ms)
	ColdStart   time.Duration // delay before each goroutine worker starts (Lambda emulation)
	Parallel    int           // concurrent requests for uploads (default 16)
	// Stall is how long nothing may be queued, leased or running while
	// tasks remain before the job is failed as stalled (default 5s).
	Stall time.Duration
	// Outage is how long the client retries a failing state store or
	// queue before it gives the job up (default 30s).
	Outage time.Duration
	// Worker, when set, adjusts each worker's configuration (tests use it
	// to inject faults).
	Worker func(*executor.Config)
	// Pool, when set, makes the launcher of the job's workers: processes
	// or Lambda functions that serve the job described by remote through
	// shared services. By default workers are goroutines running cfg.
	Pool     func(remote executor.Remote) (provisioner.Pool, error)
	Progress func(state.Status) // called about once a second
	Log      *slog.Logger
	// Clock is the job's time: the client's, the provisioner's and its
	// goroutine workers' (default clock.Real).
	Clock clock.Clock
}

// A Result describes a finished job.
type Result struct {
	ID      string
	Program string
	// TasksByKernel counts the job's tasks per kernel, in program order.
	TasksByKernel []KernelCount
	Status        state.Status
	Started       time.Time // when Run began
	Wall          time.Duration
	Workers       []provisioner.WorkerReport
	Timeline      []provisioner.Sample
	Matrices      map[string]*blockstore.BigMatrix // every matrix of the job, by name
	Outputs       []string
	Uploaded      int64 // bytes of input tiles
	Traffic       TrafficStats
}

// A KernelCount is the number of tasks calling one kernel.
type KernelCount struct {
	Kernel string
	Tasks  int64
}

// A grid is the tiles of a matrix whose leading indices are fixed.
type grid struct {
	matrix int
	fixed  []int32
}

func (g grid) contains(t analysis.Tile) bool {
	return int(t.Matrix) == g.matrix && int(t.N) == len(g.fixed)+2 && slices.Equal(t.Indices()[:len(g.fixed)], g.fixed)
}

// countTasks walks the plan once: tasks in all, tasks per kernel, the
// range of the task priorities, and which of grids some task writes into.
func countTasks(p *analysis.Plan, grids []grid) (int64, []KernelCount, [2]int, []bool, error) {
	var counts []KernelCount
	index := map[string]int{}
	var total int64
	prio := [2]int{math.MaxInt, math.MinInt}
	written := make([]bool, len(grids))
	err := p.Walk(func(n analysis.Node) error {
		if len(grids) > 0 {
			_, writes, err := p.Tiles(n)
			if err != nil {
				return err
			}
			for _, t := range writes {
				for i, g := range grids {
					written[i] = written[i] || g.contains(t)
				}
			}
		}
		pr := p.Priority(n)
		prio[0], prio[1] = min(prio[0], pr), max(prio[1], pr)
		k := p.Kernel(n)
		i, ok := index[k]
		if !ok {
			i = len(counts)
			index[k] = i
			counts = append(counts, KernelCount{Kernel: k})
		}
		counts[i].Tasks++
		total++
		return nil
	})
	if total == 0 {
		prio = [2]int{}
	}
	return total, counts, prio, written, err
}

// TrafficStats counts requests to the services during the job (through
// this process's clients).
type TrafficStats struct {
	TileGets, TilePuts, TileDeletes int64
	StateRequests                   int64
	QueueSends, QueueReceives       int64
	// Requests counts requests to each service: this process's, and
	// those the workers with services of their own reported.
	Requests executor.Requests
}

// PeakWorkers returns the most workers running at once.
func (r *Result) PeakWorkers() int {
	peak := 0
	for _, s := range r.Timeline {
		peak = max(peak, s.Running)
	}
	return peak
}

// WorkerSeconds sums the workers' lifetimes, cold starts included.
func (r *Result) WorkerSeconds() float64 {
	var s float64
	for _, w := range r.Workers {
		s += w.Seconds()
	}
	return s
}

// An Error is a job that failed; Msg is the state store's message.
type Error struct {
	ID  string
	Msg string
}

func (e *Error) Error() string { return "job " + e.ID + " failed: " + e.Msg }

// NewID returns a fresh job id.
func NewID() string {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// Run runs a job and returns its result; outputs stay in the tile store
// under Result.Matrices until the caller deletes them (Cleanup).
func Run(ctx context.Context, env Env, spec Spec, opts Options) (*Result, error) {
	opts.defaults()
	start := time.Now()
	id := NewID()
	j, err := prepare(id, spec)
	if err != nil {
		return nil, err
	}
	res := &Result{ID: id, Started: start, Program: spec.Plan.Program().Name, Matrices: map[string]*blockstore.BigMatrix{}, Outputs: spec.Outputs}
	for i := range j.Matrices {
		res.Matrices[j.Matrices[i].Name] = &j.Matrices[i].BigMatrix
	}
	tiles0 := snapshot(env)
	q, err := queue.Create(ctx, env.QueueURL, manifest.QueueName(id))
	if err != nil {
		return nil, err
	}
	defer func() {
		res.Traffic = snapshot(env).minus(tiles0)
		res.Traffic.QueueSends = q.Stats().Sends.Load()
		res.Traffic.QueueReceives = q.Stats().Receives.Load()
		res.Traffic.Requests.Queue = q.Requests()
		for _, w := range res.Workers {
			res.Traffic.Requests.Add(w.Requests)
		}
	}()
	// From here on the job owns resources: remove them on every path.
	cleanupCtx := context.WithoutCancel(ctx)
	defer func() {
		if err := q.Destroy(cleanupCtx); err != nil {
			opts.Log.Warn("deleting the queue failed", "job", id, "err", err)
		}
		if err := env.State.Delete(cleanupCtx, id); err != nil {
			opts.Log.Warn("deleting the job state failed", "job", id, "err", err)
		}
		if err := deleteExcept(cleanupCtx, env.Tiles, j, spec.Outputs); err != nil {
			opts.Log.Warn("deleting the job's tiles failed", "job", id, "err", err)
		}
	}()
	candidates, grids := aliasCandidates(j, spec)
	tasks, counts, prio, written, err := countTasks(spec.Plan, grids)
	if err != nil {
		return nil, err
	}
	for i, in := range candidates {
		if !written[i] {
			// No task writes the input's grid: read the input's tiles
			// there in place instead of copying them into the job.
			fixed := in.Fixed
			if fixed == nil {
				fixed = in.Tiles.DefaultFixed()
			}
			j.Matrices[grids[i].matrix].Alias = &manifest.Alias{Fixed: grids[i].fixed, Tiles: *in.Tiles, TilesFixed: fixed}
		}
	}
	if res.Uploaded, err = upload(ctx, env.Tiles, j, spec, opts.Parallel); err != nil {
		return nil, err
	}
	j.Priorities = prio
	if err := j.Save(ctx, env.Tiles); err != nil {
		return nil, err
	}
	res.TasksByKernel = counts
	if err := env.State.CreateJob(ctx, state.Job{ID: id, Tasks: tasks, TTL: 24 * time.Hour}); err != nil {
		return nil, err
	}
	if err := enqueueStarters(ctx, q, j); err != nil {
		return nil, err
	}
	err = run(ctx, env, j, q, opts, res)
	res.Wall = time.Since(start)
	return res, err
}

func (o *Options) defaults() {
	if o.MaxWorkers <= 0 {
		o.MaxWorkers = runtime.GOMAXPROCS(0)
	}
	o.Settings = o.Settings.WithDefaults()
	o.Clock = clock.Or(o.Clock)
	if o.Parallel <= 0 {
		o.Parallel = 16
	}
	if o.Stall <= 0 {
		o.Stall = 5 * time.Second
	}
	if o.Outage <= 0 {
		o.Outage = 30 * time.Second
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
}

// prepare checks the spec against the program and lays out the matrices.
func prepare(id string, spec Spec) (*manifest.Job, error) {
	prog := spec.Plan.Program()
	if spec.Block <= 0 {
		return nil, fmt.Errorf("the block size must be positive, got %d", spec.Block)
	}
	j := &manifest.Job{ID: id, Plan: spec.Plan}
	var written, names []string
	for _, m := range prog.Matrices {
		names = append(names, m.Name)
		if m.Written {
			written = append(written, m.Name)
		}
		j.Matrices = append(j.Matrices, manifest.Matrix{BigMatrix: blockstore.BigMatrix{
			Name: m.Name, Prefix: "jobs/" + id, Arity: max(m.Arity, 1), Block: spec.Block}})
	}
	bound := map[string]bool{}
	for _, in := range spec.Inputs {
		m := prog.Matrix(in.Name)
		switch {
		case m == nil:
			return nil, fmt.Errorf("%s has no matrix %s to bind (matrices: %s)", prog.Name, in.Name, strings.Join(names, ", "))
		case bound[in.Name]:
			return nil, fmt.Errorf("matrix %s is bound twice", in.Name)
		}
		bound[in.Name] = true
		if inPlace(in, m, spec.Block) {
			// Read in place: point the job's matrix at the existing tiles.
			j.Matrices[spec.Plan.MatrixIndex(in.Name)].BigMatrix = *in.Tiles
		}
	}
	for _, m := range prog.Matrices {
		if m.Read && !m.Written && !bound[m.Name] {
			return nil, fmt.Errorf("matrix %s is an input of %s: bind it to data (--in %s=FILE.npy)", m.Name, prog.Name, m.Name)
		}
	}
	for _, out := range spec.Outputs {
		m := prog.Matrix(out)
		switch {
		case m == nil:
			return nil, fmt.Errorf("unknown output %s: %s has no matrix of that name (written matrices: %s)", out, prog.Name, strings.Join(written, ", "))
		case !m.Written:
			return nil, fmt.Errorf("%s is not an output: no task of %s writes it (written matrices: %s)", out, prog.Name, strings.Join(written, ", "))
		}
		j.Matrices[spec.Plan.MatrixIndex(out)].Output = true
	}
	return j, nil
}

// inPlace reports whether existing tiles can serve as a matrix as they
// are: same layout, and no task writes into the matrix.
func inPlace(in Input, m *lambdapack.Matrix, block int) bool {
	return in.Tiles != nil && !in.Copy && in.Fixed == nil && in.Tiles.Arity == m.Arity && in.Tiles.Block == block && !m.Written
}

// aliasCandidates returns the inputs whose tiles could be read in place
// by a matrix tasks write (a grid of a matrix with more than two
// indices, as Cholesky's S[0, j, k]), and those grids. Each can be an
// alias if no task writes into its grid and the matrix is not kept.
func aliasCandidates(j *manifest.Job, spec Spec) ([]Input, []grid) {
	var ins []Input
	var grids []grid
	for _, in := range spec.Inputs {
		i := spec.Plan.MatrixIndex(in.Name)
		m := &j.Matrices[i].BigMatrix
		if in.Tiles == nil || in.Copy || inPlace(in, spec.Plan.Program().Matrix(in.Name), spec.Block) ||
			m.Arity <= 2 || slices.Contains(spec.Outputs, in.Name) || !blockstore.CanCopyTiles(in.Tiles, in.Fixed, m) {
			continue
		}
		ins = append(ins, in)
		grids = append(grids, grid{matrix: i, fixed: m.DefaultFixed()})
	}
	return ins, grids
}

func upload(ctx context.Context, s *blockstore.Store, j *manifest.Job, spec Spec, parallel int) (int64, error) {
	var total int64
	prog := spec.Plan.Program()
	for _, in := range spec.Inputs {
		jm := &j.Matrices[spec.Plan.MatrixIndex(in.Name)]
		if inPlace(in, prog.Matrix(in.Name), spec.Block) || jm.Alias != nil {
			continue
		}
		m := &jm.BigMatrix
		if in.Tiles != nil && !in.Copy && blockstore.CanCopyTiles(in.Tiles, in.Fixed, m) {
			// The tiles are already right: copy them as stored.
			if _, err := blockstore.CopyTiles(ctx, s, in.Tiles, in.Fixed, m, parallel); err != nil {
				return 0, err
			}
			continue
		}
		data := in.Array
		if in.Tiles != nil {
			var err error
			if data, err = blockstore.Assemble(ctx, s, in.Tiles, in.Fixed, parallel); err != nil {
				return 0, fmt.Errorf("re-tile %s: %w", in.Name, err)
			}
		}
		_, n, err := blockstore.Upload(ctx, s, m, data, parallel)
		if err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}

func enqueueStarters(ctx context.Context, q *queue.Queue, j *manifest.Job) error {
	starters, err := j.Plan.Starters()
	if err != nil {
		return err
	}
	for len(starters) > 0 {
		n := min(len(starters), 1000)
		msgs := make([]queue.Message, n)
		for i, s := range starters[:n] {
			msgs[i] = queue.Message{Body: s.Key(), Priority: j.Priority(s)}
		}
		if err := q.Send(ctx, msgs...); err != nil {
			return err
		}
		starters = starters[n:]
	}
	return nil
}

// run provisions workers until the job ends.
func run(ctx context.Context, env Env, j *manifest.Job, q *queue.Queue, opts Options, res *Result) error {
	cfg := executor.Config{Job: j, Tiles: env.Tiles, Queue: q, State: env.State, Settings: opts.Settings, Clock: opts.Clock, Log: opts.Log}
	if opts.Worker != nil {
		opts.Worker(&cfg)
	}
	var launcher provisioner.Pool = &provisioner.Goroutines{Config: cfg, ColdStart: opts.ColdStart}
	if opts.Pool != nil {
		remote := executor.Remote{Job: j.ID, Store: env.Tiles.URL(), Queue: env.QueueURL, State: env.State.URL(), Settings: opts.Settings}
		if err := remote.Check(); err != nil {
			return err
		}
		var err error
		if launcher, err = opts.Pool(remote); err != nil {
			return err
		}
	}
	prov := &provisioner.Provisioner{Queue: q, Launcher: launcher, Interval: opts.Interval,
		Policy: provisioner.Policy{ScaleFactor: opts.ScaleFactor, Pipeline: opts.Pipeline, MaxWorkers: opts.MaxWorkers}}
	workCtx, stopWork := context.WithCancel(ctx)
	provDone := make(chan struct{})
	go func() {
		defer close(provDone)
		prov.Run(workCtx)
	}()
	err := wait(ctx, env, j.ID, q, launcher, opts)
	stopWork()
	<-provDone
	res.Workers = launcher.Wait()
	res.Timeline = prov.Timeline()
	st, serr := env.State.Status(context.WithoutCancel(ctx), j.ID)
	if serr == nil {
		res.Status = st
	}
	return err
}

// wait polls the state store until the job is done or failed, failing it
// when ctx is cancelled or the job stalls. A service that fails (a Redis
// restart, a network blip) is retried for up to opts.Outage before the
// job is given up with that error.
func wait(ctx context.Context, env Env, id string, q *queue.Queue, launcher provisioner.Launcher, opts Options) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	lastProgress := time.Now()
	var quietSince, lastDepth, failingSince time.Time
	failing := func(err error) error {
		if failingSince.IsZero() {
			failingSince = time.Now()
			opts.Log.Warn("a service failed; retrying", "job", id, "err", err)
		}
		if time.Since(failingSince) > opts.Outage {
			return fmt.Errorf("gave up after %v of failures: %w", opts.Outage.Round(time.Second), err)
		}
		return nil
	}
	for {
		select {
		case <-ctx.Done():
			env.State.Fail(context.WithoutCancel(ctx), id, "cancelled: "+ctx.Err().Error())
			return ctx.Err()
		case <-tick.C:
		}
		st, err := env.State.Status(ctx, id)
		if err != nil {
			if errors.Is(err, state.ErrNoJob) {
				return fmt.Errorf("job %s: its state is gone from the state store (was the store restarted without persistence?)", id)
			}
			if err := failing(err); err != nil {
				return err
			}
			continue
		}
		switch st.Phase {
		case state.Done:
			return nil
		case state.Failed:
			return &Error{ID: id, Msg: st.Error}
		}
		if opts.Progress != nil && time.Since(lastProgress) >= time.Second {
			opts.Progress(st)
			lastProgress = time.Now()
		}
		// The queue depth only serves to detect a stall: read it less often
		// than the status, since a cloud queue charges per request.
		if time.Since(lastDepth) < opts.Stall/10 {
			continue
		}
		lastDepth = time.Now()
		visible, inflight, err := q.Depth(ctx)
		if err != nil {
			if err := failing(err); err != nil {
				return err
			}
			continue
		}
		failingSince = time.Time{}
		if visible == 0 && inflight == 0 && launcher.Running() == 0 {
			if quietSince.IsZero() {
				quietSince = time.Now()
			} else if time.Since(quietSince) > opts.Stall {
				msg := fmt.Sprintf("stalled: %d of %d tasks done, and none is queued or running", st.Done, st.Tasks)
				env.State.Fail(ctx, id, msg)
				return &Error{ID: id, Msg: msg}
			}
		} else {
			quietSince = time.Time{}
		}
	}
}

// deleteExcept removes the job's manifest and the tiles of every matrix
// the job made that is not kept.
func deleteExcept(ctx context.Context, s *blockstore.Store, j *manifest.Job, keep []string) error {
	var errs []error
	for _, m := range j.Matrices {
		if slices.Contains(keep, m.Name) || m.Prefix != "jobs/"+j.ID {
			continue // kept, or another job's tiles read in place
		}
		errs = append(errs, s.DeletePrefix(ctx, m.Dir()))
	}
	errs = append(errs, s.Delete(ctx, manifest.Key(j.ID)))
	return errors.Join(errs...)
}

// Cleanup deletes the tiles a job kept (its outputs).
func Cleanup(ctx context.Context, s *blockstore.Store, res *Result) error {
	var errs []error
	for _, name := range res.Outputs {
		if m := res.Matrices[name]; m != nil && m.Prefix == "jobs/"+res.ID {
			errs = append(errs, s.DeletePrefix(ctx, m.Dir()))
		}
	}
	return errors.Join(errs...)
}

func snapshot(env Env) TrafficStats {
	ts := env.Tiles.Stats()
	return TrafficStats{TileGets: ts.Gets.Load(), TilePuts: ts.Puts.Load(), TileDeletes: ts.Deletes.Load(),
		StateRequests: env.State.Requests(),
		Requests:      executor.Requests{Tiles: env.Tiles.Requests(), State: env.State.Requests()}}
}

func (a TrafficStats) minus(b TrafficStats) TrafficStats {
	return TrafficStats{TileGets: a.TileGets - b.TileGets, TilePuts: a.TilePuts - b.TilePuts, TileDeletes: a.TileDeletes - b.TileDeletes,
		StateRequests: a.StateRequests - b.StateRequests,
		Requests:      executor.Requests{Tiles: a.Requests.Tiles - b.Requests.Tiles, State: a.Requests.State - b.Requests.State}}
}

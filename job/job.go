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
	"maps"
	"math"
	mrand "math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"time"

	"gonum.org/v1/gonum/blas/blas64"

	"github.com/npw-dev/npw/analysis"
	"github.com/npw-dev/npw/blockstore"
	"github.com/npw-dev/npw/clock"
	"github.com/npw-dev/npw/cost"
	"github.com/npw-dev/npw/executor"
	"github.com/npw-dev/npw/lambdapack"
	"github.com/npw-dev/npw/manifest"
	"github.com/npw-dev/npw/provisioner"
	"github.com/npw-dev/npw/queue"
	"github.com/npw-dev/npw/state"

	"github.com/npw-dev/npw/internal/secret"
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
// a store, such as another job's output or a stored matrix. Tiles in the
// job's store with the parameter's layout that the program only reads
// are used in place; otherwise the tiles of the Rows×Cols array they
// form (with the selector Fixed) are copied into the job, tile by tile,
// and cut again where the layouts differ (blockstore.Retile).
type Input struct {
	Name  string
	Array blas64.General
	Tiles *blockstore.BigMatrix
	Fixed []int32 // leading indices selecting Tiles' 2-D array; nil for the default
	// Rows and Cols are the size of Tiles' array.
	Rows, Cols int
	// Store holds Tiles when it is not the job's store; they are then
	// copied into the job.
	Store *blockstore.Store
	// Copy re-tiles even a matching layout: for tiles with gaps, which
	// read as zeros but cannot be read in place.
	Copy bool
	// Scratch says the tiles are the client's own (an upload, an earlier
	// job's output), not a stored matrix of the user's.
	Scratch bool
	// Source, when set, is where the input's array is, as a grid of
	// another layout than npw's tiles (a Zarr array's chunks): the job
	// copies it in, tile by tile, from there.
	Source *blockstore.Grid
}

// elsewhere says whether the input's tiles must be copied from another
// store or layout than the job's.
func (in Input) elsewhere(s *blockstore.Store) bool {
	return in.Source != nil || in.Store != nil && in.Store != s
}

// Spec is one job.
type Spec struct {
	Plan    *analysis.Plan
	Block   int
	Inputs  []Input
	Outputs []string // matrices whose tiles are kept after the job
	// Targets maps outputs to URLs of stored matrices: the job's end
	// saves them there (and keeps no tiles of them in the job).
	Targets map[string]string
	// Direct maps outputs of two indices to stored arrays (a Zarr array's
	// chunks) that the workers write their tiles into, in the array's
	// encoding, instead of the job's tiles; no task may read them.
	Direct map[string]blockstore.GridSpec
	// Owned are key prefixes of tiles the job's client made for it, such
	// as its uploaded inputs: they go when the job ends, unless an
	// attached client (the one that runs it) deletes them itself.
	Owned []string
	// Shapes are the rows and columns of outputs known before the job
	// runs (a generated matrix), for the estimate of the store it needs.
	Shapes map[string][2]int
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
	// MaxTasks is the most tasks a job may have (default
	// analysis.DefaultMaxTasks): a bigger one is refused before anything
	// is uploaded, as is one that needs more memory or disk than this
	// machine has where its store or workers are on it.
	MaxTasks int64
	// Worker, when set, adjusts each worker's configuration (tests use it
	// to inject faults).
	Worker func(*executor.Config)
	// Pool, when set, makes the launcher of the job's workers: processes
	// or Lambda functions that serve the job described by remote through
	// shared services. By default workers are goroutines running cfg.
	Pool     func(remote executor.Remote) (provisioner.Pool, error)
	Progress func(Progress) // called about once a second
	Log      *slog.Logger
	// Clock is the job's time: the client's, the provisioner's and its
	// goroutine workers' (default clock.Real).
	Clock clock.Clock
	// Launch describes Pool for the job's record, so that a provisioner
	// in another process can start its workers (Provision).
	Launch Launch
	// Detach submits the job for a provisioner in another process: no
	// client waits for it, and its record stays after its end for Wait.
	Detach bool
	// OnSubmit, when set, sees the job's record once its tasks are
	// queued, before any worker starts.
	OnSubmit func(*Record)
	// Until, when set, is when Provision hands a job that has not ended
	// to a successor: it stops launching, leaves the workers running and
	// returns a *Handoff (Lambda workers only). A job's provisioner runs
	// this way as a chain of Lambda invocations, each within its timeout.
	Until time.Time
	// Resume is the Lambda launcher state a predecessor handed off.
	Resume provisioner.LambdaState
	// Fault, when its Fraction is positive, kills workers during the job
	// (goroutine and process workers).
	Fault Fault
	// LoopPriorities ranks tasks by the loop formula alone. By default a
	// task's priority is its level, the length of its longest path to the
	// end of the DAG (analysis.Levels), for DAGs of up to MaxLevelCells.
	LoopPriorities bool
}

// MaxLevelCells bounds the table of task levels a job ranks by (about 4
// bytes a cell while the client computes it, much less in the manifest):
// a bigger job ranks its tasks by the loop formula.
const MaxLevelCells = 1 << 24

// A Fault is a failure injected into a running job, as in the paper's
// Fig. 9b: At after the job started, Fraction of the workers running
// then, picked at random (by Seed), are killed as a machine failure
// would kill them: their leased tasks lapse and are redone, and the
// provisioner replaces them.
type Fault struct {
	Fraction float64
	At       time.Duration
	Seed     uint64
}

// Check refuses a fraction outside (0, 1] and a negative time.
func (f Fault) Check() error {
	switch {
	case f.Fraction == 0 && f.At == 0:
		return nil
	case !(f.Fraction > 0 && f.Fraction <= 1):
		return fmt.Errorf("the fraction of workers to kill must be in (0, 1], got %g", f.Fraction)
	case f.At < 0:
		return fmt.Errorf("the time to kill workers at must not be negative, got %v", f.At)
	}
	return nil
}

// A Kill is one injected failure: when, and how many workers it killed.
type Kill struct {
	At     time.Duration // since the job started
	Killed int
}

// A Handoff is Provision's error when it reached Options.Until before
// the job ended: the job runs on, and Lambda is what its successor
// takes over (Options.Resume).
type Handoff struct {
	Job    string
	Lambda provisioner.LambdaState
}

func (h *Handoff) Error() string {
	return fmt.Sprintf("job %s: handed to the next provisioner with %d workers running", h.Job, len(h.Lambda.Launched))
}

// errHandoff is the watch's signal that Options.Until has come.
var errHandoff = errors.New("the provisioner's time is up")

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
	// TimelineStart is when the provisioner began, the time the
	// Timeline's samples count from.
	TimelineStart time.Time
	Matrices      map[string]*blockstore.BigMatrix // every matrix of the job, by name
	Outputs       []string
	Uploaded      int64 // bytes of input tiles
	Traffic       TrafficStats
	Kills         []Kill // failures injected by Options.Fault
}

// A KernelCount is the number of tasks calling one kernel.
type KernelCount struct {
	Kernel string
	Tasks  int64
}

// A grid is the tiles of a matrix whose leading indices are fixed.
type grid struct {
	matrix int
	arity  int
	fixed  []int32
}

func (g grid) contains(t analysis.Tile) bool {
	return int(t.Matrix) == g.matrix && int(t.N) == g.arity && slices.Equal(t.Indices()[:len(g.fixed)], g.fixed)
}

// A census is what one walk over the plan learns: tasks in all and per
// kernel, the range of the task priorities, and which of some grids a
// task writes into. The walk also refuses a program that writes a tile
// twice, before any task starts.
type census struct {
	tasks    int64
	kernels  []KernelCount
	priority [2]int
	written  []bool // by grid
}

// countTasks walks the plan once and takes its census.
func countTasks(p *analysis.Plan, grids []grid) (census, error) {
	c := census{priority: [2]int{math.MaxInt, math.MinInt}, written: make([]bool, len(grids))}
	index := map[string]int{}
	var writers []analysis.Node
	err := p.Walk(func(n analysis.Node) error {
		_, writes, err := p.Tiles(n)
		if err != nil {
			return err
		}
		for _, t := range writes {
			if writers, err = p.Writers(t, writers[:0]); err != nil {
				return err
			}
			if len(writers) > 1 {
				return writtenTwice(p, t, writers)
			}
			for i, g := range grids {
				c.written[i] = c.written[i] || g.contains(t)
			}
		}
		c.count(p, n, index)
		return nil
	})
	if c.tasks == 0 {
		c.priority = [2]int{}
	}
	return c, err
}

// count adds task n to the census.
func (c *census) count(p *analysis.Plan, n analysis.Node, index map[string]int) {
	pr := p.Priority(n)
	c.priority[0], c.priority[1] = min(c.priority[0], pr), max(c.priority[1], pr)
	k := p.Kernel(n)
	i, ok := index[k]
	if !ok {
		i = len(c.kernels)
		index[k] = i
		c.kernels = append(c.kernels, KernelCount{Kernel: k})
	}
	c.kernels[i].Tasks++
	c.tasks++
}

// writtenTwice is the error of a program that writes tile t twice, at
// the second writer's statement.
func writtenTwice(p *analysis.Plan, t analysis.Tile, writers []analysis.Node) error {
	return &lambdapack.Error{Pos: p.Position(writers[1]), Msg: fmt.Sprintf("tile %s is written twice: by %s (at %s) and by %s; a program writes each tile once",
		p.TileString(t), p.Describe(writers[0]), p.Position(writers[0]), p.Describe(writers[1]))}
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
// Usage is what the job used, as AWS would bill it were its workers
// Lambda functions of memoryMB on S3, SQS and Redis: worker-seconds,
// invocations (one per worker), the tile store's requests by price class,
// queue requests and the wall time.
func (r *Result) Usage(memoryMB int) cost.Usage {
	u := cost.Usage{MemoryGB: float64(memoryMB) / 1024, WorkerSeconds: r.WorkerSeconds(), Invocations: int64(len(r.Workers)),
		S3Puts: r.Traffic.Requests.TilePutClass, S3Gets: r.Traffic.Requests.TileGetClass, SQSRequests: r.Traffic.Requests.Queue, Wall: r.Wall}
	for _, w := range r.Workers {
		u.FunctionMemoryMB = max(u.FunctionMemoryMB, w.FunctionMemoryMB)
	}
	return u
}

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
// under Result.Matrices until the caller deletes them (Cleanup). Bad
// settings, a bad spec and a program that writes a tile twice are
// refused before the job makes anything. Run is Submit, then Follow.
func Run(ctx context.Context, env Env, spec Spec, opts Options) (*Result, error) {
	s, err := Submit(ctx, env, spec, opts)
	if err != nil {
		return nil, err
	}
	return s.Follow(ctx, opts)
}

// A Submission is a job whose tasks are queued: Follow provisions and
// finishes it in this process; Release leaves it to a provisioner
// elsewhere (Provision).
type Submission struct {
	Record *Record
	env    Env
	job    *manifest.Job
	queue  *queue.Queue
	res    *Result
	tiles0 TrafficStats
}

// Submit creates a job and returns once its starter tasks are queued:
// inputs in the store, the manifest saved, the state created, the record
// kept. Nothing is provisioned. A Submit that fails removes what it made.
func Submit(ctx context.Context, env Env, spec Spec, opts Options) (_ *Submission, err error) {
	opts.defaults()
	if err := opts.Settings.Check(); err != nil {
		return nil, err
	}
	if err := opts.Fault.Check(); err != nil {
		return nil, err
	}
	if opts.Fault.Fraction > 0 && opts.Launch.Kind == "lambda" {
		return nil, errors.New("killing workers (a fault injection) needs goroutine or process workers: npw cannot kill a Lambda invocation")
	}
	if sf := opts.ScaleFactor; sf < 0 || math.IsNaN(sf) || math.IsInf(sf, 0) {
		return nil, fmt.Errorf("the scale factor must be a positive number (0 for the default), got %g", sf)
	}
	if err := checkTargets(spec); err != nil {
		return nil, err
	}
	if spec.Block <= 0 {
		return nil, fmt.Errorf("the block size must be positive, got %d", spec.Block)
	}
	if err := checkSize(spec, env.Tiles, opts); err != nil {
		return nil, err
	}
	id := NewID()
	j, cs, err := layout(id, spec, env.Tiles, opts)
	if err != nil {
		return nil, err
	}
	s := &Submission{env: env, job: j, tiles0: snapshot(env), res: newResult(j, spec.Outputs, cs.kernels, opts.Clock.Now())}
	s.Record = newRecord(j, spec, cs, env, opts)
	if s.queue, err = queue.Create(ctx, env.QueueURL, manifest.QueueName(id)); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil { // the job owns resources from here: remove them
			cleanup(context.WithoutCancel(ctx), env, s.queue, j, nil, opts.Log)
			env.State.DeleteRecord(context.WithoutCancel(ctx), id)
		}
	}()
	if s.res.Uploaded, err = upload(ctx, env.Tiles, j, spec, opts.Parallel); err != nil {
		return nil, err
	}
	s.Record.Uploaded = s.res.Uploaded
	if err := j.Save(ctx, env.Tiles); err != nil {
		return nil, err
	}
	if err := env.State.CreateJob(ctx, state.Job{ID: id, Tasks: cs.tasks, TTL: 24 * time.Hour}); err != nil {
		return nil, err
	}
	if err := putRecord(ctx, env.State, s.Record); err != nil {
		return nil, err
	}
	if err := enqueueStarters(ctx, s.queue, j); err != nil {
		return nil, err
	}
	if opts.OnSubmit != nil {
		opts.OnSubmit(s.Record)
	}
	return s, nil
}

// newResult starts the result of job j.
func newResult(j *manifest.Job, outputs []string, kernels []KernelCount, start time.Time) *Result {
	res := &Result{ID: j.ID, Started: start, Program: j.Plan.Program().Name, Matrices: map[string]*blockstore.BigMatrix{},
		Outputs: outputs, TasksByKernel: kernels}
	for i := range j.Matrices {
		res.Matrices[j.Matrices[i].Name] = &j.Matrices[i].BigMatrix
	}
	return res
}

// newRecord is the record of a job about to be submitted.
func newRecord(j *manifest.Job, spec Spec, cs census, env Env, opts Options) *Record {
	r := &Record{ID: j.ID, Program: programText(spec.Plan), Created: opts.Clock.Now(), Tasks: cs.tasks, Kernels: cs.kernels,
		Store: env.Tiles.URL(), Queue: env.QueueURL, Owned: spec.Owned, Launch: opts.Launch, Attached: !opts.Detach}
	r.Launch.MaxWorkers, r.Launch.ScaleFactor, r.Launch.Settings = opts.MaxWorkers, opts.ScaleFactor, opts.Settings
	if !opts.Detach {
		r.Provisioner = whoAmI("client")
	}
	for _, name := range spec.Outputs {
		r.Outputs = append(r.Outputs, Output{Name: name, Target: spec.Targets[name]})
	}
	return r
}

// Follow provisions the job's workers in this process and follows the
// job until it ends, then finishes it (Provision's end).
func (s *Submission) Follow(ctx context.Context, opts Options) (*Result, error) {
	opts.defaults()
	err := run(ctx, s.env, s.job, s.queue, s.tiles0, opts, s.res)
	s.res.Wall = opts.Clock.Since(s.res.Started)
	s.res.account(s.env, s.queue, s.tiles0)
	return s.res, finish(ctx, s.env, s.Record, s.job, s.queue, s.res, err, opts)
}

// Release leaves the job to a provisioner in another process
// (Provision) and closes this process's hold on its queue.
func (s *Submission) Release() error { return s.queue.Close() }

// layout checks the spec, takes the plan's census and lays out the job's
// matrices: an input whose grid no task writes is read in place.
func layout(id string, spec Spec, s *blockstore.Store, opts Options) (*manifest.Job, census, error) {
	var err error
	var ranked bool
	if spec.Plan, ranked, err = spec.Plan.Ranked(!opts.LoopPriorities, MaxLevelCells); err != nil {
		return nil, census{}, err
	}
	if !ranked && !opts.LoopPriorities && opts.Log != nil {
		opts.Log.Info("the DAG is too big to rank by critical path; tasks are ranked by the loop formula", "cells", MaxLevelCells)
	}
	j, err := prepare(id, spec, s)
	if err != nil {
		return nil, census{}, err
	}
	candidates, grids := readCandidates(j, spec, s)
	cs, err := countTasks(spec.Plan, grids)
	if err != nil {
		return nil, census{}, err
	}
	for i, in := range candidates {
		if !cs.written[i] {
			// No task writes the input's grid: the workers read it where
			// it is instead of a copy in the job.
			if err := readWhereItIs(j, in, grids[i], s); err != nil {
				return nil, census{}, err
			}
		}
	}
	j.Priorities = cs.priority
	for _, in := range spec.Inputs {
		jm := &j.Matrices[spec.Plan.MatrixIndex(in.Name)]
		copied := !inPlace(in, spec.Plan.Program().Matrix(in.Name), spec.Block, s) && jm.Alias == nil && jm.View == nil
		if in.Tiles != nil && copied && (in.Rows <= 0 || in.Cols <= 0) {
			return nil, census{}, fmt.Errorf("input %s: tiles to copy into the job need the size of their array (Input.Rows and Cols)", in.Name)
		}
	}
	return j, cs, nil
}

// account sets the job's traffic: this process's requests since tiles0,
// and those the workers reported.
func (res *Result) account(env Env, q *queue.Queue, tiles0 TrafficStats) {
	res.Traffic = snapshot(env).minus(tiles0)
	res.Traffic.QueueSends = q.Stats().Sends.Load()
	res.Traffic.QueueReceives = q.Stats().Receives.Load()
	res.Traffic.Requests.Queue = q.Requests()
	for _, w := range res.Workers {
		res.Traffic.Requests.Add(w.Requests)
	}
}

// cleanup removes what the job made: its queue, its state and every tile
// but the outputs'.
func cleanup(ctx context.Context, env Env, q *queue.Queue, j *manifest.Job, outputs []string, log *slog.Logger) {
	if err := q.Destroy(ctx); err != nil {
		log.Warn("deleting the queue failed", "job", j.ID, "err", err)
	}
	if err := env.State.Delete(ctx, j.ID); err != nil {
		log.Warn("deleting the job state failed", "job", j.ID, "err", err)
	}
	if err := deleteExcept(ctx, env.Tiles, j, outputs); err != nil {
		log.Warn("deleting the job's tiles failed", "job", j.ID, "err", err)
	}
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
	if o.MaxTasks <= 0 {
		o.MaxTasks = analysis.DefaultMaxTasks
	}
}

// prepare checks the spec against the program and lays out the matrices.
func prepare(id string, spec Spec, s *blockstore.Store) (*manifest.Job, error) {
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
		if inPlace(in, m, spec.Block, s) {
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
	for _, name := range slices.Sorted(maps.Keys(spec.Direct)) {
		m := prog.Matrix(name)
		switch {
		case !slices.Contains(spec.Outputs, name):
			return nil, fmt.Errorf("%s is written into a stored array but is not an output", name)
		case m.Arity != 2 || m.Read:
			return nil, fmt.Errorf("%s is written into a stored array: it must have two indices, and no task may read it", name)
		}
		target := spec.Direct[name]
		j.Matrices[spec.Plan.MatrixIndex(name)].Target = &target
	}
	return j, nil
}

// inPlace reports whether existing tiles can serve as a matrix as they
// are: same layout, and no task writes into the matrix.
func inPlace(in Input, m *lambdapack.Matrix, block int, s *blockstore.Store) bool {
	return in.Tiles != nil && !in.Copy && !in.elsewhere(s) && in.Fixed == nil && in.Tiles.Arity == m.Arity && in.Tiles.Block == block && !m.Written
}

// readCandidates returns the inputs in the job's store that are not
// read in place as they are but could be read where they are — through
// an alias (the same tiles under other indices, as Cholesky's S[0, j, k])
// or a view (other tiles, cut on the workers) — and the grids of the
// job's matrices they fill. Each can be, if no task writes into its grid
// and the matrix is not kept.
func readCandidates(j *manifest.Job, spec Spec, s *blockstore.Store) ([]Input, []grid) {
	var ins []Input
	var grids []grid
	for _, in := range spec.Inputs {
		i := spec.Plan.MatrixIndex(in.Name)
		m := &j.Matrices[i].BigMatrix
		foreign := in.Store != nil && in.Store != s || in.Source != nil && in.Source.Store != s
		if in.Tiles == nil || foreign || inPlace(in, spec.Plan.Program().Matrix(in.Name), spec.Block, s) ||
			slices.Contains(spec.Outputs, in.Name) {
			continue
		}
		ins = append(ins, in)
		grids = append(grids, grid{matrix: i, arity: m.Arity, fixed: m.DefaultFixed()})
	}
	return ins, grids
}

// readWhereItIs makes the workers read input in where it is: the same
// tiles under other indices through an alias, or cut from its tiles
// through a view.
func readWhereItIs(j *manifest.Job, in Input, g grid, s *blockstore.Store) error {
	jm := &j.Matrices[g.matrix]
	if in.Source == nil && !in.Copy && jm.Arity > 2 && blockstore.CanCopyTiles(in.Tiles, in.Fixed, &jm.BigMatrix) {
		fixed := in.Fixed
		if fixed == nil {
			fixed = in.Tiles.DefaultFixed()
		}
		jm.Alias = &manifest.Alias{Fixed: g.fixed, Tiles: *in.Tiles, TilesFixed: fixed}
		return nil
	}
	src := in.Source
	if src == nil {
		if in.Rows <= 0 || in.Cols <= 0 {
			return nil // no size to cut it by: copied, or refused for want of one
		}
		src = &blockstore.Grid{Store: s, Matrix: in.Tiles, Fixed: in.Fixed, Rows: in.Rows, Cols: in.Cols}
	}
	spec, err := src.Spec()
	if err != nil {
		return fmt.Errorf("input %s: %w", in.Name, err)
	}
	jm.View = &manifest.View{Fixed: g.fixed, Source: spec}
	return nil
}

// upload writes the inputs that are not read in place into the job's
// matrices: arrays as tiles, tiles copied as they are stored where the
// layouts match, else cut again; tile by tile, parallel at once.
func upload(ctx context.Context, s *blockstore.Store, j *manifest.Job, spec Spec, parallel int) (int64, error) {
	var total int64
	prog := spec.Plan.Program()
	for _, in := range spec.Inputs {
		jm := &j.Matrices[spec.Plan.MatrixIndex(in.Name)]
		if inPlace(in, prog.Matrix(in.Name), spec.Block, s) || jm.Alias != nil || jm.View != nil {
			continue
		}
		m := &jm.BigMatrix
		if in.Tiles == nil {
			_, n, err := blockstore.Upload(ctx, s, m, in.Array, parallel)
			if err != nil {
				return 0, err
			}
			total += n
			continue
		}
		src := &blockstore.Grid{Store: s, Matrix: in.Tiles, Fixed: in.Fixed, Rows: in.Rows, Cols: in.Cols}
		switch {
		case in.Source != nil:
			src = in.Source
		case in.elsewhere(s):
			src.Store = in.Store
		}
		n, err := blockstore.Retile(ctx, src, &blockstore.Grid{Store: s, Matrix: m, Rows: in.Rows, Cols: in.Cols}, parallel)
		if err != nil {
			return 0, fmt.Errorf("input %s: %w", in.Name, err)
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
func run(ctx context.Context, env Env, j *manifest.Job, q *queue.Queue, tiles0 TrafficStats, opts Options, res *Result) error {
	launcher, err := newLauncher(env, j, q, opts)
	if err != nil {
		return err
	}
	prov := &provisioner.Provisioner{Queue: q, Launcher: launcher, Interval: opts.Interval, Clock: opts.Clock,
		Policy: provisioner.Policy{ScaleFactor: opts.ScaleFactor, Pipeline: opts.Pipeline, MaxWorkers: opts.MaxWorkers}}
	workCtx, stopWork := context.WithCancel(ctx)
	provDone := make(chan struct{})
	res.TimelineStart = clock.Or(opts.Clock).Now()
	go func() {
		defer close(provDone)
		prov.Run(workCtx)
	}()
	faultDone := make(chan struct{})
	go func() {
		defer close(faultDone)
		injectFault(workCtx, launcher, opts, res)
	}()
	usageDone := make(chan struct{})
	go func() {
		defer close(usageDone)
		keepUsage(workCtx, env, q, j.ID, tiles0, opts)
	}()
	w := &watch{env: env, id: j.ID, q: q, prov: prov, opts: opts, start: res.Started,
		program: strings.TrimSpace(j.Plan.Program().Name + " " + analysis.ArgString(j.Plan.Args()))}
	err = w.wait(ctx)
	stopWork()
	<-provDone
	<-faultDone
	<-usageDone
	if errors.Is(err, errHandoff) {
		h, ok := launcher.(interface {
			Handoff() provisioner.LambdaState
		})
		if !ok {
			return fmt.Errorf("job %s: only a provisioner of Lambda workers hands its job off", j.ID)
		}
		return &Handoff{Job: j.ID, Lambda: h.Handoff()}
	}
	res.Workers = launcher.Wait()
	res.Workers = append(res.Workers, othersReports(context.WithoutCancel(ctx), env.State, j.ID, res.Workers, opts.Clock)...)
	res.Timeline = prov.Timeline()
	st, serr := env.State.Status(context.WithoutCancel(ctx), j.ID)
	if serr == nil {
		res.Status = st
	}
	return err
}

// killer is a launcher that can kill its workers (Options.Fault).
type killer interface {
	Kill(rng *mrand.Rand, frac float64) int
}

// injectFault kills opts.Fault's fraction of the workers at its time,
// unless ctx ends first, and notes the kill in res.
func injectFault(ctx context.Context, launcher provisioner.Pool, opts Options, res *Result) {
	f := opts.Fault
	k, ok := launcher.(killer)
	if f.Fraction <= 0 || !ok {
		return
	}
	clk := clock.Or(opts.Clock)
	if d := f.At - clk.Since(res.Started); d > 0 {
		select {
		case <-clk.After(d):
		case <-ctx.Done():
			return
		}
	}
	n := k.Kill(mrand.New(mrand.NewPCG(f.Seed, f.Seed^0x9e3779b97f4a7c15)), f.Fraction)
	res.Kills = append(res.Kills, Kill{At: clk.Since(res.Started), Killed: n})
	if opts.Log != nil {
		opts.Log.Info("workers killed", "killed", n, "fraction", f.Fraction)
	}
}

// newLauncher makes the launcher of the job's workers: goroutines running
// the job's executor.Config, or opts.Pool's.
func newLauncher(env Env, j *manifest.Job, q *queue.Queue, opts Options) (provisioner.Pool, error) {
	if opts.Pool != nil {
		remote := executor.Remote{Job: j.ID, Store: env.Tiles.URL(), Queue: env.QueueURL, State: env.State.URL(), Settings: opts.Settings}
		if err := remote.Check(); err != nil {
			return nil, err
		}
		return opts.Pool(remote)
	}
	cfg := executor.Config{Job: j, Tiles: env.Tiles, Queue: q, State: env.State, Settings: opts.Settings, Clock: opts.Clock, Log: opts.Log}
	if opts.Worker != nil {
		opts.Worker(&cfg)
	}
	return &provisioner.Goroutines{Config: cfg, ColdStart: opts.ColdStart}, nil
}

// A Progress is a snapshot of a running job for a progress display.
type Progress struct {
	ID      string
	Program string // the program and its sizes, "cholesky N=8"
	Status  state.Status
	// Running counts the workers running now; -1 when this process does
	// not provision the job (Wait), so it cannot know.
	Running int
	Elapsed time.Duration // since the job was submitted
}

// A watch follows a job in the state store until it ends (wait).
type watch struct {
	env  Env
	id   string
	q    *queue.Queue
	prov *provisioner.Provisioner
	opts Options

	program string    // for Progress
	start   time.Time // when the job was submitted

	lastProgress, lastDepth time.Time
	failingSince            time.Time // zero while the services answer
	stall                   stallWatch
}

// wait polls the state store until the job is done or failed, failing it
// when ctx is cancelled or the job stalls. A service that fails (a Redis
// restart, a network blip) is retried for up to opts.Outage before the
// job is given up with that error.
func (w *watch) wait(ctx context.Context) error {
	clk := w.opts.Clock
	tick := clk.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	// lastProgress stays zero: the first poll shows the job at once.
	for {
		select {
		case <-ctx.Done():
			w.env.State.Fail(context.WithoutCancel(ctx), w.id, "cancelled: "+ctx.Err().Error())
			return ctx.Err()
		case <-tick.C():
		}
		st, err := w.env.State.Status(ctx, w.id)
		if err != nil {
			if errors.Is(err, state.ErrNoJob) {
				return fmt.Errorf("job %s: its state is gone from the state store %s (was the store restarted without persistence?)", w.id, secret.Redact(w.env.State.URL()))
			}
			if err := w.failing(err, "state store "+secret.Redact(w.env.State.URL())); err != nil {
				return err
			}
			continue
		}
		switch st.Phase {
		case state.Done:
			return nil
		case state.Failed:
			return &Error{ID: w.id, Msg: st.Error}
		}
		if !w.opts.Until.IsZero() && !clk.Now().Before(w.opts.Until) {
			return errHandoff
		}
		if err := w.running(ctx, st); err != nil {
			return err
		}
	}
}

// running reports progress of a running job and checks it for a stall.
func (w *watch) running(ctx context.Context, st state.Status) error {
	clk := w.opts.Clock
	if w.opts.Progress != nil && clk.Since(w.lastProgress) >= time.Second {
		w.opts.Progress(Progress{ID: w.id, Program: w.program, Status: st, Running: w.prov.Launcher.Running(), Elapsed: clk.Since(w.start)})
		w.lastProgress = clk.Now()
	}
	// The queue depth only serves to detect a stall: read it less often
	// than the status, since a cloud queue charges per request.
	if clk.Since(w.lastDepth) < w.opts.Stall/10 {
		return nil
	}
	w.lastDepth = clk.Now()
	visible, inflight, err := w.q.Depth(ctx)
	if errors.Is(err, queue.ErrNoQueue) {
		// Its tasks went with it: no retry brings them back.
		msg := fmt.Sprintf("its queue is gone from the queue service %s (was the service restarted without its data?)", secret.Redact(w.q.URL()))
		w.env.State.Fail(ctx, w.id, msg)
		return &Error{ID: w.id, Msg: msg}
	}
	if err != nil {
		return w.failing(err, "queue service "+secret.Redact(w.q.URL()))
	}
	w.failingSince = time.Time{}
	running := w.prov.Launcher.Running()
	stopped := w.prov.Launched() - running
	// Workers that stop without leasing a task mostly say why.
	why := ""
	if le, ok := w.prov.Launcher.(interface{ LastError() error }); ok {
		if err := le.LastError(); err != nil {
			why = secret.RedactIn(err.Error(), w.env.State.URL(), w.q.URL(), w.env.Tiles.URL())
		}
	}
	if msg := w.stall.observe(clk.Now(), w.opts.Stall, st, visible, inflight, running, stopped, why); msg != "" {
		w.env.State.Fail(ctx, w.id, msg)
		return &Error{ID: w.id, Msg: msg}
	}
	return nil
}

// failing notes a failed request to a service; it gives the job up once
// the services have failed for opts.Outage, naming the job and service.
func (w *watch) failing(err error, service string) error {
	clk := w.opts.Clock
	if w.failingSince.IsZero() {
		w.failingSince = clk.Now()
		w.opts.Log.Warn("a service failed; retrying", "job", w.id, "service", service, "err", err)
	}
	if clk.Since(w.failingSince) > w.opts.Outage {
		return fmt.Errorf("job %s: gave up after %v of failures of the %s: %w", w.id, w.opts.Outage.Round(time.Second), service, err)
	}
	return nil
}

// A stallWatch finds a job that cannot go on: for longer than the stall
// time no task is leased or done, and either nothing is queued or running
// (tasks remain that nothing will make ready), or tasks are queued while
// the workers launched for them stop without leasing one (a runtime limit
// or a lease too short to work in).
type stallWatch struct {
	since   time.Time // when the job went quiet; zero while it works
	done    int64     // tasks done when it went quiet
	stopped int       // workers stopped when it went quiet
}

// observe returns why the job stalled, or "".
// why is what the last worker to fail said, if one did.
func (s *stallWatch) observe(now time.Time, stall time.Duration, st state.Status, visible, inflight, running, stopped int, why string) string {
	if inflight > 0 || visible == 0 && running > 0 {
		s.since = time.Time{} // working
		return ""
	}
	if s.since.IsZero() || st.Done != s.done {
		s.since, s.done, s.stopped = now, st.Done, stopped // quiet from now on
		return ""
	}
	if now.Sub(s.since) <= stall {
		return ""
	}
	switch {
	case visible == 0:
		return fmt.Sprintf("stalled: %d of %d tasks done, and none is queued or running", st.Done, st.Tasks)
	case stopped > s.stopped && why != "":
		return fmt.Sprintf("stalled: %d of %d tasks done; %d tasks are queued, but the %d workers that stopped in the last %v leased none; the last to fail said: %s",
			st.Done, st.Tasks, visible, stopped-s.stopped, now.Sub(s.since).Round(time.Millisecond), why)
	case stopped > s.stopped:
		return fmt.Sprintf("stalled: %d of %d tasks done; %d tasks are queued, but the %d workers that stopped in the last %v leased none (is the runtime limit too short?)",
			st.Done, st.Tasks, visible, stopped-s.stopped, now.Sub(s.since).Round(time.Millisecond))
	case running == 0:
		return fmt.Sprintf("stalled: %d of %d tasks done; %d tasks are queued and no worker runs", st.Done, st.Tasks, visible)
	}
	return ""
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
		Requests:      executor.Requests{Tiles: env.Tiles.Requests(), TilePutClass: env.Tiles.PutRequests(), TileGetClass: env.Tiles.GetRequests(), State: env.State.Requests()}}
}

func (a TrafficStats) minus(b TrafficStats) TrafficStats {
	return TrafficStats{TileGets: a.TileGets - b.TileGets, TilePuts: a.TilePuts - b.TilePuts, TileDeletes: a.TileDeletes - b.TileDeletes,
		StateRequests: a.StateRequests - b.StateRequests,
		Requests: executor.Requests{Tiles: a.Requests.Tiles - b.Requests.Tiles, TilePutClass: a.Requests.TilePutClass - b.Requests.TilePutClass,
			TileGetClass: a.Requests.TileGetClass - b.Requests.TileGetClass,
			State:        a.Requests.State - b.Requests.State}}
}

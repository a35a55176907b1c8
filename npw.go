// Package npw runs dense linear algebra on serverless workers: matrices
// live as tiles in an object store, algorithms written in LAmbdaPACK run
// as an implicit DAG of tile tasks, and short-lived workers, scaled to the
// DAG's parallelism, lease the tasks from a queue.
//
// An Engine is opened on three services given by URL: a tile store
// (mem://, file:///dir), a task queue (mem://) and a state store (mem://).
// The defaults run everything in this process, with goroutine workers.
//
//	eng, err := npw.Open(ctx, npw.Options{})
//	A, err := eng.Upload(ctx, "A", a, 1024)   // a *mat.Dense, tiled 1024×1024
//	L, err := eng.Cholesky(ctx, A)             // A = L Lᵀ
//	l, err := L.Dense(ctx)
//
// Results stay in the store as tiles until released, so they can feed the
// next call without leaving it.
package npw

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/mat"

	"github.com/npw-dev/npw/blockstore"
	"github.com/npw-dev/npw/executor"
	"github.com/npw-dev/npw/job"
	"github.com/npw-dev/npw/kernels"
	"github.com/npw-dev/npw/queue"
	"github.com/npw-dev/npw/state"
)

// Options configure an engine. Zero values take defaults.
type Options struct {
	Store string // tile store URL (default mem://)
	Queue string // queue URL (default mem://)
	State string // state store URL (default mem://)

	// Workers caps the workers running at once: by default the number
	// of cores for goroutine and process workers, and DefaultLambdaWorkers
	// for Lambda workers.
	Workers     int
	ScaleFactor float64 // workers per pending task (default 1)
	// MaxTasks is the most tasks a job may have (default
	// analysis.DefaultMaxTasks, 1e8); a job with more, or one that needs
	// more memory or disk than this machine has where its store or
	// workers are on it, is refused before anything is uploaded.
	MaxTasks int64

	// Settings are every worker's (executor.Settings: pipeline, lease,
	// poll, idle timeout, runtime limit, attempts, memory, trace).
	executor.Settings
	// ColdStart, with Settings.RuntimeLimit, emulates Lambda for
	// goroutine workers: a delay before each worker starts.
	ColdStart time.Duration

	// Launch picks where workers run: "goroutine" (the default: in this
	// process), "process" (`npw worker` processes on this machine) or
	// "lambda" (invocations of the Lambda function Function; see `npw
	// deploy lambda`). The last two need shared services: file:// or
	// s3:// tiles, sqs://, redis://.
	Launch string
	// Function is the Lambda function of Launch "lambda".
	Function string
	// WorkerCommand is a process worker's command line before its flags
	// (default: the npw in PATH, then "worker").
	WorkerCommand []string

	// Detach makes every job the engine runs for an Engine call (but
	// Generate's) a detached one: submitted, left to a provisioner that
	// finishes it, and reported by a *Detached error. The provisioner is
	// a process of its own (ProvisionCommand) for process workers, and a
	// chain of invocations of Function for Lambda workers
	// (ProvisionInLambda: the job needs no long-running process), unless
	// ProvisionCommand is set. It needs workers in other processes (Launch
	// "process" or "lambda") on shared services. Targets maps the
	// program's output matrices (cholesky's O, gemm's C, ...) to URLs of
	// stored matrices where the job's end saves them.
	Detach  bool
	Targets map[string]string
	// ProvisionCommand is the provisioner process's command line before
	// its flags (default: WorkerCommand's program, then "provision").
	ProvisionCommand []string

	Log *slog.Logger
	// Progress, when set, is called about once a second during a job.
	Progress func(Progress)
	// OnJob, when set, receives the result of every job the engine runs
	// (an operation such as Solve may run several).
	OnJob func(*job.Result)
	// OnSubmit, when set, sees every job's record once its tasks are
	// queued, before its workers start: its ID, program and size.
	OnSubmit func(*job.Record)
	// Fault, when its Fraction is positive, kills that fraction of every
	// job's workers at its time (job.Fault; goroutine and process
	// workers): the paper's failure experiment.
	Fault Fault
	// LoopPriorities schedules tasks by the loop formula (lower loop
	// values first) instead of by their longest path to the end of the
	// DAG: the order npw used before it ranked by critical path, kept to
	// compare the two.
	LoopPriorities bool
}

// ErrClosed is the error of every operation of a closed engine.
var ErrClosed = errors.New("the engine is closed")

// An Engine runs jobs on one set of services. It is safe for concurrent use.
type Engine struct {
	opts   Options
	tiles  *blockstore.Store
	state  *state.Store
	closed atomic.Bool

	mu     sync.Mutex
	stores map[string]*blockstore.Store // other stores that hold matrices, by URL
}

// Open checks the options and connects to the services.
func Open(ctx context.Context, opts Options) (*Engine, error) {
	if opts.Store == "" {
		opts.Store = "mem://"
	}
	if opts.Queue == "" {
		opts.Queue = "mem://"
	}
	if opts.State == "" {
		opts.State = "mem://"
	}
	if err := opts.check(); err != nil {
		return nil, err
	}
	tiles, err := blockstore.Open(ctx, opts.Store)
	if err != nil {
		return nil, err
	}
	st, err := state.Open(ctx, opts.State)
	if err != nil {
		tiles.Close()
		return nil, err
	}
	return &Engine{opts: opts, tiles: tiles, state: st, stores: map[string]*blockstore.Store{}}, nil
}

// Close releases the engine's connections; later operations fail with
// ErrClosed. Matrices still in the store stay there.
func (e *Engine) Close() error {
	if e.closed.Swap(true) {
		return nil
	}
	errs := []error{e.state.Close(), e.tiles.Close()}
	e.mu.Lock()
	for _, s := range e.stores {
		errs = append(errs, s.Close())
	}
	e.mu.Unlock()
	return errors.Join(errs...)
}

// Tiles returns the engine's tile store.
func (e *Engine) Tiles() *blockstore.Store { return e.tiles }

// A Matrix is a matrix stored as tiles: the engine's own (uploads and
// job outputs, deleted by Release), or a stored matrix at a URL
// (OpenMatrix, Save), which stays.
type Matrix struct {
	Rows, Cols int
	Block      int
	eng        *Engine
	store      *blockstore.Store // holds the tiles: the engine's, or the store of url
	tiles      *blockstore.BigMatrix
	fixed      []int32
	gaps       bool   // some tiles of the grid were never written (they are zeros)
	url        string // where the matrix is stored; "" for the engine's own
	// source is the stored grid of a matrix whose tiles are not npw's
	// Block×Block .npy tiles (a Zarr array): jobs copy it in.
	source   *blockstore.Grid
	derived  bool // shares another matrix's tiles (Reblock): Release deletes nothing
	released atomic.Bool
	// Job describes the job that computed the matrix (nil for uploads).
	Job *job.Result
}

// URL returns where the matrix is stored, or "" for a matrix of the
// engine's own.
func (m *Matrix) URL() string { return m.url }

// grid returns the matrix's tiles as a grid of its store.
func (m *Matrix) grid() *blockstore.Grid {
	if m.source != nil {
		return m.source
	}
	return &blockstore.Grid{Store: m.store, Matrix: m.tiles, Fixed: m.fixed, Rows: m.Rows, Cols: m.Cols}
}

// Upload stores a matrix as block×block tiles.
func (e *Engine) Upload(ctx context.Context, name string, a *mat.Dense, block int) (*Matrix, error) {
	if a == nil {
		return nil, fmt.Errorf("upload %s: the matrix is nil", name)
	}
	return e.upload(ctx, name, a.RawMatrix(), block)
}

// UploadNPY stores a .npy file as block×block tiles, streaming it tile by
// tile from the file: a 2-D array, or a 1-D one as a column.
func (e *Engine) UploadNPY(ctx context.Context, name, path string, block int) (*Matrix, error) {
	if err := e.newMatrix("upload", name, block); err != nil {
		return nil, err
	}
	r, err := blockstore.OpenNPY(path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	m := e.scratch(name, r.Rows, r.Cols, block)
	if !e.opts.AllowNonFinite {
		r.Check = func(t blas64.General, r0, c0 int) error {
			if i, j, x, ok := kernels.NonFinite(t); ok {
				return nonFiniteInput(x, r0+i, c0+j)
			}
			return nil
		}
	}
	if _, err := blockstore.ReadNPYTiles(ctx, r, m.grid(), parallelRequests); err != nil {
		e.tiles.DeletePrefix(context.WithoutCancel(ctx), m.tiles.Dir())
		return nil, fmt.Errorf("upload %s: %w", path, err)
	}
	return m, nil
}

// parallelRequests is the number of tiles moved at once between the
// client and a store.
const parallelRequests = 16

func (e *Engine) upload(ctx context.Context, name string, a blas64.General, block int) (*Matrix, error) {
	if err := e.newMatrix("upload", name, block); err != nil {
		return nil, err
	}
	if i, j, x, ok := kernels.NonFinite(a); ok && !e.opts.AllowNonFinite {
		return nil, fmt.Errorf("upload %s: %w", name, nonFiniteInput(x, i, j))
	}
	m := e.scratch(name, a.Rows, a.Cols, block)
	if _, _, err := blockstore.Upload(ctx, e.tiles, m.tiles, a, parallelRequests); err != nil {
		return nil, err
	}
	return m, nil
}

// newMatrix refuses to make a matrix of a closed engine, with a bad name
// or a bad block size.
func (e *Engine) newMatrix(op, name string, block int) error {
	if err := e.use(op + " " + name); err != nil {
		return err
	}
	if name == "" || strings.ContainsAny(name, "/ ") {
		return fmt.Errorf("%s: bad matrix name %q: want a name without slashes or spaces", op, name)
	}
	if block <= 0 {
		return fmt.Errorf("%s %s: the block size must be positive, got %d", op, name, block)
	}
	return nil
}

// scratch returns a new matrix of the engine's own, not yet written.
func (e *Engine) scratch(name string, rows, cols, block int) *Matrix {
	tiles := &blockstore.BigMatrix{Name: name, Prefix: "matrices/" + job.NewID(), Arity: 2, Block: block}
	return &Matrix{Rows: rows, Cols: cols, Block: block, eng: e, store: e.tiles, tiles: tiles}
}

// Dense assembles the matrix in memory.
func (m *Matrix) Dense(ctx context.Context) (*mat.Dense, error) {
	if m == nil {
		return nil, errors.New("dense: the matrix is nil")
	}
	if err := m.eng.use("dense", m); err != nil {
		return nil, err
	}
	g, err := m.grid().Dense(ctx, parallelRequests)
	if err != nil {
		return nil, err
	}
	var d mat.Dense
	d.SetRawMatrix(g)
	return &d, nil
}

// Release deletes the tiles of a matrix of the engine's own; a stored
// matrix (OpenMatrix, Save) stays where it is (Remove deletes it). The
// matrix can no longer be used. Releasing it again does nothing.
func (m *Matrix) Release(ctx context.Context) error {
	if m == nil || m.released.Swap(true) {
		return nil
	}
	if m.url != "" || m.derived {
		return nil
	}
	if m.eng.closed.Load() {
		return fmt.Errorf("release %s: %w", m.tiles.Name, ErrClosed)
	}
	return m.eng.tiles.DeletePrefix(ctx, m.tiles.Dir())
}

func (m *Matrix) input(name string) job.Input {
	in := job.Input{Name: name, Tiles: m.tiles, Fixed: m.fixed, Copy: m.gaps, Rows: m.Rows, Cols: m.Cols, Scratch: m.url == "" && !m.derived, Source: m.source}
	if m.store != m.eng.tiles {
		in.Store = m.store
	}
	return in
}

// use reports why an operation cannot run: the engine is closed, or a
// matrix is nil, another engine's or released.
func (e *Engine) use(op string, ms ...*Matrix) error {
	if e.closed.Load() {
		return fmt.Errorf("%s: %w", op, ErrClosed)
	}
	for i, m := range ms {
		switch {
		case m == nil && len(ms) == 1:
			return fmt.Errorf("%s: the matrix is nil", op)
		case m == nil:
			return fmt.Errorf("%s: matrix %d of %d is nil", op, i+1, len(ms))
		case m.eng != e:
			return fmt.Errorf("%s: matrix %s belongs to another engine", op, m.tiles.Name)
		case m.released.Load():
			return fmt.Errorf("%s: matrix %s was released", op, m.tiles.Name)
		}
	}
	return nil
}

func (e *Engine) env() job.Env {
	return job.Env{Tiles: e.tiles, QueueURL: e.opts.Queue, State: e.state}
}

func (e *Engine) jobOptions() job.Options {
	o := job.Options{Settings: e.opts.Settings, MaxWorkers: e.opts.MaxWorkers(), ScaleFactor: e.opts.ScaleFactor,
		ColdStart: e.opts.ColdStart, MaxTasks: e.opts.MaxTasks, Log: e.opts.Log, Progress: e.opts.Progress, OnSubmit: e.opts.OnSubmit, Fault: e.opts.Fault,
		LoopPriorities: e.opts.LoopPriorities}
	switch e.opts.Launch {
	case "process", "lambda":
		o.Launch = job.Launch{Kind: e.opts.Launch, Command: e.opts.WorkerCommand, Function: e.opts.Function}
		o.Pool, _ = o.Launch.Pool()
	}
	return o
}

// DefaultLambdaWorkers is the default cap on Lambda workers: AWS's
// default concurrency limit of an account in a region.
const DefaultLambdaWorkers = 1000

// MaxWorkers is the cap on running workers: Workers, or its default for
// the launcher.
func (o *Options) MaxWorkers() int {
	switch {
	case o.Workers > 0:
		return o.Workers
	case o.Launch == "lambda":
		return DefaultLambdaWorkers
	}
	return runtime.GOMAXPROCS(0)
}

// check refuses options no job can run with, before anything connects.
func (o *Options) check() error {
	switch {
	case o.Workers < 0:
		return fmt.Errorf("options: Workers must not be negative, got %d", o.Workers)
	case o.ScaleFactor < 0 || math.IsNaN(o.ScaleFactor) || math.IsInf(o.ScaleFactor, 0):
		return fmt.Errorf("options: ScaleFactor must not be negative, NaN or infinite, got %g", o.ScaleFactor)
	case o.MaxTasks < 0:
		return fmt.Errorf("options: MaxTasks must not be negative, got %d", o.MaxTasks)
	case o.ColdStart < 0:
		return fmt.Errorf("options: ColdStart must not be negative, got %v", o.ColdStart)
	}
	if err := o.Settings.Check(); err != nil {
		return fmt.Errorf("options: %w", err)
	}
	if err := queue.CheckURL(o.Queue); err != nil {
		return err
	}
	if err := o.checkLaunch(); err != nil {
		return err
	}
	if o.Detach && o.Launch != "process" && o.Launch != "lambda" {
		return errors.New("options: Detach needs workers in other processes (Launch process or lambda)")
	}
	if o.Launch == "process" || o.Launch == "lambda" {
		// Workers elsewhere reach the services by URL: refuse memory ones
		// now, before anything is uploaded.
		return executor.Remote{Job: "-", Store: o.Store, Queue: o.Queue, State: o.State, Settings: o.Settings}.Check()
	}
	return nil
}

// checkLaunch validates Options.Launch and finds the worker command.
func (o *Options) checkLaunch() error {
	switch o.Launch {
	case "", "goroutine":
		return nil
	case "process":
		if len(o.WorkerCommand) == 0 {
			path, err := exec.LookPath("npw")
			if err != nil {
				return fmt.Errorf("process workers: no npw in PATH; set Options.WorkerCommand")
			}
			o.WorkerCommand = []string{path, "worker"}
		}
		return nil
	case "lambda":
		if o.Function == "" {
			return fmt.Errorf("lambda workers: no Options.Function")
		}
		return nil
	}
	return fmt.Errorf("launch %q: want goroutine, process or lambda", o.Launch)
}

// nonFiniteInput refuses an input value that is not a number: the job
// would compute NaNs from it.
func nonFiniteInput(x float64, i, j int) error {
	return fmt.Errorf("%v at [%d, %d]: npw computes with finite values (Options.AllowNonFinite, --allow-nonfinite, lets it through)", x, i, j)
}

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
	"fmt"
	"log/slog"
	"maps"
	"math"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"

	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/mat"

	"github.com/npw-dev/npw/blockstore"
	"github.com/npw-dev/npw/executor"
	"github.com/npw-dev/npw/job"
	"github.com/npw-dev/npw/provisioner"
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

	Log *slog.Logger
	// Progress, when set, is called about once a second during a job.
	Progress func(state.Status)
	// OnJob, when set, receives the result of every job the engine runs
	// (an operation such as Solve may run several).
	OnJob func(*job.Result)
}

// An Engine runs jobs on one set of services. It is safe for concurrent use.
type Engine struct {
	opts  Options
	tiles *blockstore.Store
	state *state.Store
}

// Open connects to the services.
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
	if err := opts.checkLaunch(); err != nil {
		return nil, err
	}
	tiles, err := blockstore.Open(ctx, opts.Store)
	if err != nil {
		return nil, err
	}
	st, err := state.Open(ctx, opts.State)
	if err != nil {
		return nil, err
	}
	return &Engine{opts: opts, tiles: tiles, state: st}, nil
}

// Close releases the engine's connections.
func (e *Engine) Close() error {
	e.state.Close()
	return e.tiles.Close()
}

// Tiles returns the engine's tile store.
func (e *Engine) Tiles() *blockstore.Store { return e.tiles }

// A Matrix is a matrix stored as tiles.
type Matrix struct {
	Rows, Cols int
	Block      int
	eng        *Engine
	tiles      *blockstore.BigMatrix
	fixed      []int32
	gaps       bool // some tiles of the grid were never written (they are zeros)
	// Job describes the job that computed the matrix (nil for uploads).
	Job *job.Result
}

// Upload stores a matrix as block×block tiles.
func (e *Engine) Upload(ctx context.Context, name string, a *mat.Dense, block int) (*Matrix, error) {
	return e.upload(ctx, name, a.RawMatrix(), block)
}

// UploadNPY stores a 2-D .npy file as block×block tiles.
func (e *Engine) UploadNPY(ctx context.Context, name, path string, block int) (*Matrix, error) {
	arr, err := blockstore.ReadNPYFile(path)
	if err != nil {
		return nil, err
	}
	if len(arr.Shape) != 2 {
		return nil, fmt.Errorf("%s: a %d-dimensional array; a matrix needs 2", path, len(arr.Shape))
	}
	return e.upload(ctx, name, arr.Matrix(), block)
}

func (e *Engine) upload(ctx context.Context, name string, a blas64.General, block int) (*Matrix, error) {
	m := &blockstore.BigMatrix{Name: name, Prefix: "matrices/" + job.NewID(), Arity: 2, Block: block}
	if _, _, err := blockstore.Upload(ctx, e.tiles, m, a, 16); err != nil {
		return nil, err
	}
	return &Matrix{Rows: a.Rows, Cols: a.Cols, Block: block, eng: e, tiles: m}, nil
}

// Dense assembles the matrix.
func (m *Matrix) Dense(ctx context.Context) (*mat.Dense, error) {
	g, err := blockstore.Assemble(ctx, m.eng.tiles, m.tiles, m.fixed, 16)
	if err != nil {
		return nil, err
	}
	var d mat.Dense
	d.SetRawMatrix(g)
	return &d, nil
}

// Release deletes the matrix's tiles.
func (m *Matrix) Release(ctx context.Context) error {
	return m.eng.tiles.DeletePrefix(ctx, m.tiles.Dir())
}

func (m *Matrix) input(name string) job.Input {
	return job.Input{Name: name, Tiles: m.tiles, Fixed: m.fixed, Copy: m.gaps}
}

func tilesOf(n, block int) int { return (n + block - 1) / block }

// GemmChain is the chain length G the shipped gemm program is run with
// for an m×k by k×n tile product on at most workers workers: the longest
// chains of accumulating products that still give every worker two tiles
// of C to work on at once. Long chains write no partial products and need
// no tile sums (G = k writes exactly the m·n tiles of C); shorter chains,
// summed by a tree, are for a C too small to keep the workers busy.
func GemmChain(m, n, k, workers int) int {
	chains := min(max(k, 1), max(1, tilesOf(2*workers, max(m*n, 1))))
	return tilesOf(max(k, 1), chains)
}

// Cholesky factors a symmetric positive definite matrix: A = L Lᵀ with L
// lower triangular. Only the lower triangle of A is read.
func (e *Engine) Cholesky(ctx context.Context, a *Matrix) (*Matrix, error) {
	if a.Rows != a.Cols {
		return nil, fmt.Errorf("cholesky: the matrix must be square, got %d×%d", a.Rows, a.Cols)
	}
	res, err := e.Run(ctx, "cholesky", map[string]int{"N": tilesOf(a.Rows, a.Block)}, a.Block,
		map[string]*Matrix{"S": a}, "O")
	if err != nil {
		return nil, err
	}
	return e.output(ctx, res, "O", nil, a.Rows, a.Cols, a.Block)
}

// GEMM multiplies: C = A B. Both must use the same block size. Each tile
// of C is a chain of accumulating products, or a tree over several chains
// when C has too few tiles for the workers (GemmChain).
func (e *Engine) GEMM(ctx context.Context, a, b *Matrix) (*Matrix, error) {
	if a.Cols != b.Rows {
		return nil, fmt.Errorf("gemm: A is %d×%d and B is %d×%d; A's columns must match B's rows", a.Rows, a.Cols, b.Rows, b.Cols)
	}
	if a.Block != b.Block {
		return nil, fmt.Errorf("gemm: A has block %d and B block %d; they must match", a.Block, b.Block)
	}
	m, n, k := tilesOf(a.Rows, a.Block), tilesOf(b.Cols, a.Block), tilesOf(a.Cols, a.Block)
	args := map[string]int{"M": m, "N": n, "K": k, "G": GemmChain(m, n, k, e.opts.MaxWorkers())}
	res, err := e.Run(ctx, "gemm", args, a.Block, map[string]*Matrix{"A": a, "B": b}, "C")
	if err != nil {
		return nil, err
	}
	return e.output(ctx, res, "C", nil, a.Rows, b.Cols, a.Block)
}

// TSQR computes the R factor of a tall matrix, A = Q R, with a binary tree
// of QR factorisations over row blocks of Block rows. R is min(m,n)×n and
// upper triangular.
func (e *Engine) TSQR(ctx context.Context, a *Matrix) (*Matrix, error) {
	n := tilesOf(a.Rows, a.Block)
	levels := int32(math.Ceil(math.Log2(float64(n)) - 1e-9))
	res, err := e.Run(ctx, "tsqr", map[string]int{"N": n}, a.Block, map[string]*Matrix{"A": a}, "R")
	if err != nil {
		return nil, err
	}
	// Only R[0, levels] is the answer; the tree's other R tiles can go.
	keys, err := e.tiles.List(ctx, res.Matrices["R"].Dir())
	if err != nil {
		return nil, err
	}
	final := res.Matrices["R"].Key([]int32{0, levels})
	keys = slices.DeleteFunc(keys, func(k string) bool { return k == final })
	if err := e.tiles.Delete(ctx, keys...); err != nil {
		return nil, err
	}
	return e.output(ctx, res, "R", []int32{0, levels}, min(a.Rows, a.Cols), a.Cols, a.Block)
}

// output wraps a job's output matrix, noting whether its tile grid has gaps.
func (e *Engine) output(ctx context.Context, res *job.Result, name string, fixed []int32, rows, cols, block int) (*Matrix, error) {
	m := &Matrix{Rows: rows, Cols: cols, Block: block, eng: e, tiles: res.Matrices[name], fixed: fixed, Job: res}
	if fixed == nil {
		keys, err := e.tiles.List(ctx, m.tiles.Dir())
		if err != nil {
			return nil, err
		}
		m.gaps = len(keys) < tilesOf(rows, block)*tilesOf(cols, block)
	}
	return m, nil
}

// Run runs a program (a shipped program's name or a .lp path) with
// integer arguments and input matrices, keeping the named outputs in the
// store. The job's result names the output matrices' tiles.
func (e *Engine) Run(ctx context.Context, program string, args map[string]int, block int, inputs map[string]*Matrix, outputs ...string) (*job.Result, error) {
	var in []job.Input
	for _, name := range slices.Sorted(maps.Keys(inputs)) {
		m := inputs[name]
		if m.eng != e {
			return nil, fmt.Errorf("matrix %s belongs to another engine", name)
		}
		in = append(in, m.input(name))
	}
	return e.runJob(ctx, program, args, block, in, outputs...)
}

// Output returns an output matrix of a job run with Run; fixed selects a
// 2-D grid or a tile of a matrix with more than two indices (nil for the
// default).
func (e *Engine) Output(res *job.Result, name string, fixed []int32) (*Matrix, error) {
	m := res.Matrices[name]
	if m == nil || !contains(res.Outputs, name) {
		return nil, fmt.Errorf("job %s kept no matrix %s (outputs: %s)", res.ID, name, strings.Join(res.Outputs, ", "))
	}
	out := &Matrix{Block: m.Block, eng: e, tiles: m, fixed: fixed, Job: res, gaps: true}
	d, err := out.Dense(context.Background())
	if err != nil {
		return nil, err
	}
	out.Rows, out.Cols = d.Dims()
	return out, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (e *Engine) env() job.Env {
	return job.Env{Tiles: e.tiles, QueueURL: e.opts.Queue, State: e.state}
}

func (e *Engine) jobOptions() job.Options {
	o := job.Options{Settings: e.opts.Settings, MaxWorkers: e.opts.MaxWorkers(), ScaleFactor: e.opts.ScaleFactor,
		ColdStart: e.opts.ColdStart, Log: e.opts.Log, Progress: e.opts.Progress}
	switch e.opts.Launch {
	case "process":
		command := e.opts.WorkerCommand
		o.Pool = func(r executor.Remote) (provisioner.Pool, error) {
			return &provisioner.Processes{Command: command, Remote: r}, nil
		}
	case "lambda":
		o.Pool = provisioner.LambdaPool(e.opts.Function)
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

package main

import (
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	engine "github.com/npw-dev/npw"
	"github.com/npw-dev/npw/analysis"
	"github.com/npw-dev/npw/executor"
	"github.com/npw-dev/npw/job"
)

// engineFlags are the flags of every command that runs a job: the
// services, the tile size, the workers and the files of the job's
// timeline and trace.
type engineFlags struct {
	store, queue, state string
	block               int
	autoBlock           bool // --block auto: set block from the input (fitBlock)
	blockSet            bool // --block was given
	workers, pipeline   int
	sf                  float64
	maxTasks            int64
	allowNonFinite      bool
	coldStart, runtime  time.Duration
	verbose, quiet      bool
	cost                costFlags
	view                *progressView // made by engineOptions
	timeline, trace     string
	plot                string // --plot DIR
	dashboard           string // --dashboard's address; "" for none
	emulate             float64
	fault               engine.Fault
	launch, function    string
	detach              bool
	priorities          string            // path or loops
	targets             map[string]string // outputs a detached job saves, by the program's name for them
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func (e *engineFlags) register(f *pflag.FlagSet, defaultBlock int) {
	f.StringVar(&e.store, "store", envOr("NPW_STORE", "mem://"), "tile store `URL` (mem://, file:///dir, s3://bucket/prefix); default $NPW_STORE or mem://")
	f.StringVar(&e.queue, "queue", envOr("NPW_QUEUE", "mem://"), "task queue `URL` (mem://, sqs://); default $NPW_QUEUE or mem://")
	f.StringVar(&e.state, "state", envOr("NPW_STATE", "mem://"), "state store `URL` (mem://, redis://host:port/db); default $NPW_STATE or mem://")
	e.block = defaultBlock
	f.Var((*blockValue)(e), "block", "tile size `B` (tiles are B×B), or auto: chosen from the matrix size and --workers (see npw.AutoBlock)")
	f.IntVar(&e.workers, "workers", 0, fmt.Sprintf("most workers at once (default: the number of cores; with --launch lambda, %d, AWS's default concurrency limit)", engine.DefaultLambdaWorkers))
	f.IntVar(&e.pipeline, "pipeline", 2, "tasks in flight per worker (reads and writes overlap the computation)")
	f.Float64Var(&e.sf, "sf", 1, "scaling factor: workers per pending task")
	f.BoolVar(&e.allowNonFinite, "allow-nonfinite", false, "let inputs and results hold NaN and infinite values (by default the job fails at the first, saying where)")
	f.Int64Var(&e.maxTasks, "max-tasks", analysis.DefaultMaxTasks, "most tasks a job may have: a bigger one is refused before it starts")
	f.DurationVar(&e.coldStart, "cold-start", 0, "Lambda emulation: delay before each worker starts")
	f.DurationVar(&e.runtime, "runtime-limit", 0, "Lambda emulation: each worker's lifetime (0: unlimited)")
	f.StringVar(&e.launch, "launch", "goroutine", "where workers run: goroutine (in this process), process (npw worker processes) or lambda (invocations of --function); the last two need shared services")
	f.StringVar(&e.function, "function", envOr("NPW_FUNCTION", "npw"), "the Lambda function of --launch lambda (default $NPW_FUNCTION or npw)")
	f.BoolVarP(&e.verbose, "verbose", "v", false, "log workers' events to stderr")
	f.StringVar(&e.cost.prices, "prices", "", "price the jobs with the AWS price table in `FILE.json` (the form of cost/prices.json) instead of npw's own")
	f.IntVar(&e.cost.lambdaMemory, "lambda-memory", 3008, "price workers as Lambda functions of this many `MB`")
	f.BoolVar(&e.quiet, "quiet", false, "show no progress (by default a live bar on a terminal, otherwise a line every 5 s: tasks done, GFLOP/s, workers, elapsed, time left)")
	f.StringVar(&e.timeline, "timeline", "", "write workers and queued tasks over time to `FILE.csv`")
	f.StringVar(&e.trace, "trace", "", "write every task's span (worker; leased, read, computed, written, done) to `FILE.csv`")
	f.StringVar(&e.plot, "plot", "", "draw the job in PNGs in `DIR`: timeline of tasks and workers, flop rate over time, and each worker's tasks")
	f.StringVar(&e.dashboard, "dashboard", "", "serve a live page of the jobs (npw dashboard) on `HOST:PORT` while the command runs; --dashboard alone picks a port on 127.0.0.1")
	f.Lookup("dashboard").NoOptDefVal = defaultDashboard
	f.Float64Var(&e.emulate, "emulate-compute", 0, "emulate compute at `GFLOPS` per worker: kernels wait their flops' time instead of computing, so many more workers than cores fit (results are not computed: no -o, --out or --verify)")
	f.Float64Var(&e.fault.Fraction, "kill-fraction", 0, "fault injection: kill this `FRACTION` of the running workers at --kill-at (goroutine and process workers)")
	f.DurationVar(&e.fault.At, "kill-at", 0, "fault injection: when to kill workers, as a `DURATION` since the job started")
	f.StringVar(&e.priorities, "priorities", "path", "rank tasks by `ORDER`: path (longest path to the end of the DAG first) or loops (lower loop values first, npw's earlier order)")
	f.BoolVar(&e.detach, "detach", false, "submit the job, leave it to a provisioner of its own and return (a process; with --launch lambda, invocations of the function): follow it with npw status, wait and cancel")
}

// check refuses flags no job can run with, as usage errors.
func (e *engineFlags) check() error {
	switch {
	case e.block <= 0 && !e.autoBlock:
		return usagef("--block must be positive, got %d", e.block)
	case e.workers < 0:
		return usagef("--workers must not be negative, got %d", e.workers)
	case e.pipeline <= 0:
		return usagef("--pipeline must be positive, got %d", e.pipeline)
	case !(e.sf > 0) || math.IsInf(e.sf, 0):
		return usagef("--sf must be a positive number, got %g", e.sf)
	case e.maxTasks <= 0:
		return usagef("--max-tasks must be positive, got %d", e.maxTasks)
	case e.coldStart < 0:
		return usagef("--cold-start must not be negative, got %v", e.coldStart)
	case e.priorities != "path" && e.priorities != "loops":
		return usagef("--priorities must be path or loops, got %q", e.priorities)
	case e.runtime < 0:
		return usagef("--runtime-limit must not be negative, got %v", e.runtime)
	case e.launch != "goroutine" && e.launch != "process" && e.launch != "lambda":
		return usagef("--launch %q: want goroutine, process or lambda", e.launch)
	case e.detach && e.launch == "goroutine":
		return usagef("--detach needs workers that outlive this process: --launch process or lambda, on shared services")
	case e.detach && (e.timeline != "" || e.trace != "" || e.plot != ""):
		return usagef("--detach returns before the job has a timeline or a trace")
	case e.detach && e.dashboard != "":
		return usagef("--detach returns at once: follow the job with npw dashboard --state URL")
	case e.emulate < 0 || math.IsNaN(e.emulate) || math.IsInf(e.emulate, 0):
		return usagef("--emulate-compute must be a positive GFLOP/s, got %g", e.emulate)
	case e.fault.Fraction != 0 && !(e.fault.Fraction > 0 && e.fault.Fraction <= 1):
		return usagef("--kill-fraction must be in (0, 1], got %g", e.fault.Fraction)
	case e.fault.At < 0:
		return usagef("--kill-at must not be negative, got %v", e.fault.At)
	case e.fault.At > 0 && e.fault.Fraction == 0:
		return usagef("--kill-at needs --kill-fraction")
	case e.fault.Fraction > 0 && (e.launch == "lambda" || e.detach):
		return usagef("--kill-fraction kills goroutine or process workers of a job this command runs: not with --launch lambda or --detach")
	}
	if e.dashboard != "" {
		if _, _, err := net.SplitHostPort(e.dashboard); err != nil {
			return usagef("--dashboard %q: want HOST:PORT, such as 127.0.0.1:8080", e.dashboard)
		}
	}
	if err := checkPlotDir(e.plot); err != nil {
		return err
	}
	return e.cost.check()
}

// checkPlotDir makes --plot's directory now, if given, so that one npw
// cannot write fails before any work.
func checkPlotDir(dir string) error {
	if dir == "" {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("--plot %s: %w", dir, cause(err))
	}
	if err := canWrite(filepath.Join(dir, plotFiles[0])); err != nil {
		return fmt.Errorf("--plot %s: %w", dir, err)
	}
	return nil
}

// outputs are the files the flags name for writing.
func (e *engineFlags) outputs() []outputPath {
	return []outputPath{{"--timeline", e.timeline}, {"--trace", e.trace}}
}

// blockValue is the --block flag: a positive size or "auto".
type blockValue engineFlags

func (b *blockValue) String() string {
	if b.autoBlock {
		return "auto"
	}
	return strconv.Itoa(b.block)
}

func (b *blockValue) Set(s string) error {
	b.blockSet = true
	if s == "auto" {
		b.autoBlock, b.block = true, 0
		return nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("want a tile size or auto, got %q", s)
	}
	b.autoBlock, b.block = false, n
	return nil
}

func (b *blockValue) Type() string { return "B" }

// fitBlock resolves --block auto for algorithm alg on a rows×cols input.
func (e *engineFlags) fitBlock(alg string, rows, cols int) {
	if e.autoBlock {
		remote := e.launch != "goroutine"
		for _, u := range []string{e.store, e.queue, e.state} {
			remote = remote || !strings.HasPrefix(u, "mem://")
		}
		e.block = engine.AutoBlock(alg, rows, cols, e.maxWorkers(), remote)
	}
}

// maxWorkers is the cap on workers: --workers, or the engine's default
// for the launcher.
func (e *engineFlags) maxWorkers() int {
	opts := engine.Options{Workers: e.workers, Launch: e.launch}
	return opts.MaxWorkers()
}

// workerCommand is how this npw starts a worker process.
func workerCommand() []string {
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	return []string{exe, "worker"}
}

// engineOptions are the Go API's options of the flags; onJob sees every
// job the engine runs.
func (e *engineFlags) engineOptions(stderr io.Writer, onJob func(*job.Result)) engine.Options {
	if stderr == nil {
		stderr = io.Discard
	}
	view := newProgressView(progressMode(stderr, e.quiet), stderr)
	e.view = view
	jobDone := func(r *job.Result) {
		view.end() // before the next job's lines or the summary
		if onJob != nil {
			onJob(r)
		}
	}
	opts := engine.Options{Store: e.store, Queue: e.queue, State: e.state, Workers: e.workers, ScaleFactor: e.sf, MaxTasks: e.maxTasks, ColdStart: e.coldStart,
		Settings: executor.Settings{Pipeline: e.pipeline, RuntimeLimit: e.runtime, Trace: e.trace != "" || e.plot != "", AllowNonFinite: e.allowNonFinite, EmulateGFLOPS: e.emulate}, OnJob: jobDone, OnSubmit: onSubmit(view.log()),
		Detach: e.detach, Targets: e.targets, Progress: view.update, Fault: e.fault, LoopPriorities: e.priorities == "loops"}
	switch e.launch {
	case "process":
		opts.Launch, opts.WorkerCommand = "process", workerCommand()
	case "lambda":
		opts.Launch, opts.Function = "lambda", e.function
	}
	if e.verbose {
		opts.Log = slog.New(slog.NewTextHandler(view.log(), &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return opts
}

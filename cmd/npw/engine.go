package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	engine "github.com/npw-dev/npw"
	"github.com/npw-dev/npw/blockstore"
	"github.com/npw-dev/npw/executor"
	"github.com/npw-dev/npw/job"
	"github.com/npw-dev/npw/provisioner"
	"github.com/npw-dev/npw/state"
)

// engineFlags are the flags of every command that runs a job.
type engineFlags struct {
	store, queue, state string
	block               int
	autoBlock           bool // --block auto: set block from the input (fitBlock)
	workers, pipeline   int
	sf                  float64
	coldStart, runtime  time.Duration
	verbose             bool
	timeline, trace     string
	launch, function    string
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
	f.IntVar(&e.workers, "workers", 0, "most workers at once (default: the number of cores)")
	f.IntVar(&e.pipeline, "pipeline", 2, "tasks in flight per worker (reads and writes overlap the computation)")
	f.Float64Var(&e.sf, "sf", 1, "scaling factor: workers per pending task")
	f.DurationVar(&e.coldStart, "cold-start", 0, "Lambda emulation: delay before each worker starts")
	f.DurationVar(&e.runtime, "runtime-limit", 0, "Lambda emulation: each worker's lifetime (0: unlimited)")
	f.StringVar(&e.launch, "launch", "goroutine", "where workers run: goroutine (in this process), process (npw worker processes) or lambda (invocations of --function); the last two need shared services")
	f.StringVar(&e.function, "function", envOr("NPW_FUNCTION", "npw"), "the Lambda function of --launch lambda (default $NPW_FUNCTION or npw)")
	f.BoolVarP(&e.verbose, "verbose", "v", false, "log workers' events and progress to stderr")
	f.StringVar(&e.timeline, "timeline", "", "write workers and queued tasks over time to `FILE.csv`")
	f.StringVar(&e.trace, "trace", "", "write every task's span (worker; leased, read, computed, written, done) to `FILE.csv`")
}

// writeFiles writes the --timeline and --trace files of a command's jobs
// (one clock: seconds since the first job started) and notes them in
// lines.
func (e *engineFlags) writeFiles(results []*job.Result, lines *[]string) error {
	if e.timeline != "" {
		if err := writeTimeline(e.timeline, results); err != nil {
			return err
		}
		*lines = append(*lines, "timeline → "+e.timeline)
	}
	if e.trace != "" {
		if err := writeTrace(e.trace, results); err != nil {
			return err
		}
		*lines = append(*lines, "trace → "+e.trace)
	}
	return nil
}

// writeTimeline writes the provisioner's samples as CSV.
func writeTimeline(path string, results []*job.Result) error {
	var b strings.Builder
	b.WriteString("seconds,pending,in_flight,running,launched\n")
	for _, res := range results {
		at := res.Started.Sub(results[0].Started)
		for _, s := range res.Timeline {
			fmt.Fprintf(&b, "%.3f,%d,%d,%d,%d\n", (at + s.At).Seconds(), s.Pending, s.InFlight, s.Running, s.Launched)
		}
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// writeTrace writes the workers' task spans as CSV, one row per task in
// the order the tasks began, in seconds since the first job started.
func writeTrace(path string, results []*job.Result) error {
	type row struct {
		job int
		w   string
		s   executor.Span
	}
	var rows []row
	for i, res := range results {
		for _, w := range res.Workers {
			for _, s := range w.Spans {
				rows = append(rows, row{i, w.Worker, s})
			}
		}
	}
	slices.SortStableFunc(rows, func(a, b row) int { return a.s.Leased.Compare(b.s.Leased) })
	t0 := results[0].Started
	sec := func(t time.Time) string { return strconv.FormatFloat(t.Sub(t0).Seconds(), 'f', 4, 64) }
	var b strings.Builder
	b.WriteString("job,task,worker,leased,read,computed,written,done\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "%d,%q,%q,%s,%s,%s,%s,%s\n", r.job, r.s.Task, r.w, sec(r.s.Leased), sec(r.s.Read), sec(r.s.Computed), sec(r.s.Written), sec(r.s.Done))
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

func (e *engineFlags) check() error {
	switch {
	case e.block <= 0 && !e.autoBlock:
		return usagef("--block must be positive, got %d", e.block)
	case e.workers < 0:
		return usagef("--workers must not be negative, got %d", e.workers)
	case e.pipeline <= 0:
		return usagef("--pipeline must be positive, got %d", e.pipeline)
	case e.sf <= 0:
		return usagef("--sf must be positive, got %g", e.sf)
	case e.launch != "goroutine" && e.launch != "process" && e.launch != "lambda":
		return usagef("--launch %q: want goroutine, process or lambda", e.launch)
	}
	return nil
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
		workers := e.workers
		if workers <= 0 {
			workers = maxProcs()
		}
		remote := e.launch != "goroutine"
		for _, u := range []string{e.store, e.queue, e.state} {
			remote = remote || !strings.HasPrefix(u, "mem://")
		}
		e.block = engine.AutoBlock(alg, rows, cols, workers, remote)
	}
}

// workerCommand is how this npw starts a worker process.
func workerCommand() []string {
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	return []string{exe, "worker"}
}

// open connects to the services.
func (e *engineFlags) open(ctx context.Context) (job.Env, error) {
	tiles, err := blockstore.Open(ctx, e.store)
	if err != nil {
		return job.Env{}, err
	}
	st, err := state.Open(ctx, e.state)
	if err != nil {
		return job.Env{}, err
	}
	return job.Env{Tiles: tiles, QueueURL: e.queue, State: st}, nil
}

func (e *engineFlags) options(stderr io.Writer) job.Options {
	o := job.Options{MaxWorkers: e.workers, ScaleFactor: e.sf, ColdStart: e.coldStart,
		Settings: executor.Settings{Pipeline: e.pipeline, RuntimeLimit: e.runtime, Trace: e.trace != ""}}
	switch e.launch {
	case "process":
		o.Pool = func(r executor.Remote) (provisioner.Pool, error) {
			return &provisioner.Processes{Command: workerCommand(), Remote: r}, nil
		}
	case "lambda":
		o.Pool = provisioner.LambdaPool(e.function)
	}
	if e.verbose {
		o.Log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
		o.Progress = func(st state.Status) {
			fmt.Fprintf(stderr, "npw: %d of %d tasks done\n", st.Done, st.Tasks)
		}
	}
	return o
}

// printJobSummary prints the one-screen account of a job.
func printJobSummary(w io.Writer, title string, res *job.Result, outputs []string) {
	printSummary(w, title, []*job.Result{res}, 0, outputs)
}

// printSummary prints the one-screen account of one job or of a chain of
// jobs run one after the other; uploaded counts input bytes uploaded
// before the jobs.
func printSummary(w io.Writer, title string, results []*job.Result, uploaded int64, outputs []string) {
	var wall, workerSecs float64
	var tasks, done, launched int64
	continued := 0
	var m state.Metrics
	var peakScratch int64
	var requests executor.Requests
	peakWorkers := 0
	blas := map[string]int{}
	phase := state.Done
	var parts []string
	for _, r := range results {
		wall += r.Wall.Seconds()
		workerSecs += r.WorkerSeconds()
		tasks += r.Status.Tasks
		done += r.Status.Done
		launched += int64(len(r.Workers))
		m.Add(r.Status.Metrics)
		uploaded += r.Uploaded
		peakScratch = max(peakScratch, r.Status.PeakScratchBytes)
		requests.Add(r.Traffic.Requests)
		peakWorkers = max(peakWorkers, r.PeakWorkers())
		for _, w := range r.Workers {
			if w.BLAS != "" {
				blas[w.BLAS]++
			}
			continued += w.Continued
		}
		if r.Status.Phase != state.Done {
			phase = r.Status.Phase
		}
		var kernels []string
		for _, k := range r.TasksByKernel {
			kernels = append(kernels, fmt.Sprintf("%s %d", k.Kernel, k.Tasks))
		}
		part := strings.Join(kernels, ", ")
		if len(results) > 1 {
			part = fmt.Sprintf("%s (%d: %s)", r.Program, r.Status.Tasks, part)
		}
		parts = append(parts, part)
	}
	fmt.Fprintf(w, "%s: %s in %.2f s\n", title, phase, wall)
	row := func(name, format string, args ...any) {
		fmt.Fprintf(w, "  %-16s %s\n", name, fmt.Sprintf(format, args...))
	}
	sep := ": "
	if len(results) > 1 {
		sep = fmt.Sprintf(" in %d jobs: ", len(results))
	}
	row("tasks", "%d%s%s", tasks, sep, strings.Join(parts, "; "))
	row("throughput", "%.2f GFLOP/s (%.3g GFLOP in %.2f s)", m.Flops/wall/1e9, m.Flops/1e9, wall)
	tasksPer := 0.0
	if launched > 0 {
		tasksPer = float64(done) / float64(launched)
	}
	chained := ""
	if continued > 0 {
		chained = fmt.Sprintf(", %d tasks continued on the worker holding their inputs", continued)
	}
	row("workers", "peak %d, %d launched, %.1f worker-seconds, %.1f tasks per worker%s%s", peakWorkers, launched, workerSecs, tasksPer, blasText(blas), chained)
	row("time in tasks", "read %.2f s, compute %.2f s, write %.2f s (summed over tasks)", m.ReadSeconds, m.ComputeSeconds, m.WriteSeconds)
	cached := ""
	if m.CacheHits > 0 {
		cached = fmt.Sprintf(" (and %d tiles from the workers' caches)", m.CacheHits)
	}
	row("data", "read %s%s, written %s, inputs uploaded %s", bytesText(m.BytesRead), cached, bytesText(m.BytesWritten), bytesText(uploaded))
	row("scratch memory", "peak %s", bytesText(peakScratch))
	if done > 0 {
		per := func(n int64) float64 { return float64(n) / float64(done) }
		row("requests", "per task: tile store %.1f, queue %.1f, state store %.1f (%d, %d, %d in all)",
			per(requests.Tiles), per(requests.Queue), per(requests.State), requests.Tiles, requests.Queue, requests.State)
	}
	for _, o := range outputs {
		row("output", "%s", o)
	}
}

// blasText names the BLAS the workers' kernels ran on, with how many
// workers ran on each when they differ (workers from different builds).
func blasText(workers map[string]int) string {
	switch len(workers) {
	case 0:
		return ""
	case 1:
		for b := range workers {
			return ", kernels on " + b
		}
	}
	var parts []string
	for _, b := range slices.Sorted(maps.Keys(workers)) {
		parts = append(parts, fmt.Sprintf("%s (%d workers)", b, workers[b]))
	}
	return ", kernels on " + strings.Join(parts, " and ")
}

func bytesText(n int64) string {
	units := []string{"B", "KB", "MB", "GB", "TB"}
	f := float64(n)
	i := 0
	for f >= 1000 && i < len(units)-1 {
		f /= 1000
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%d B", n)
	}
	return fmt.Sprintf("%.1f %s", f, units[i])
}

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/npw-dev/npw/executor"
)

type workerOptions struct {
	remote  executor.Remote
	verbose bool
	profDir string // --memprofile
	cpuDir  string // --cpuprofile
}

func newWorkerCmd() *cobra.Command {
	var opts workerOptions
	cmd := &cobra.Command{
		Use:   "worker --job ID [--store URL --queue URL --state URL]",
		Short: "Run one worker of a job (what a process or a Lambda function runs)",
		Long: `Worker serves one job until it stops by itself: after --idle-timeout
without a task, at --runtime-limit, or when the job ends. It leases the
job's tasks from its queue, runs them and records them, exactly as the
workers inside npw do; several workers on several machines may serve one
job. The services must be shared ones (file:// or s3:// tiles, sqs://,
redis://); every URL defaults to $NPW_STORE, $NPW_QUEUE, $NPW_STATE and
the job to $NPW_JOB. On SIGTERM or SIGINT it stops at once; the leases of
its unfinished tasks lapse and other workers take them over. At the end it
prints its report as one line of JSON on stdout and keeps it in the state
store.`,
		Example: `  eval "$(scripts/local-cloud up)"
  npw worker --job 3f2a9c01d4e5 --pipeline 2`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runWorker(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), &opts)
		},
	}
	registerWorkerFlags(cmd.Flags(), &opts)
	return cmd
}

// registerWorkerFlags defines the worker's flags: every executor.Settings
// field has one, which provisioner.Args sets.
func registerWorkerFlags(f *pflag.FlagSet, opts *workerOptions) {
	r := &opts.remote
	f.StringVar(&r.Job, "job", os.Getenv("NPW_JOB"), "the job `ID` (default $NPW_JOB)")
	f.StringVar(&r.Store, "store", os.Getenv("NPW_STORE"), "tile store `URL` (default $NPW_STORE)")
	f.StringVar(&r.Queue, "queue", os.Getenv("NPW_QUEUE"), "task queue `URL` (default $NPW_QUEUE)")
	f.StringVar(&r.State, "state", os.Getenv("NPW_STATE"), "state store `URL` (default $NPW_STATE)")
	f.StringVar(&r.ID, "id", "", "the worker's name in reports (default host/pid)")
	f.IntVar(&r.Pipeline, "pipeline", executor.DefaultPipeline, "tasks in flight")
	f.DurationVar(&r.Lease, "lease", 0, fmt.Sprintf("lease of a task, renewed every third of it (default %v)", executor.DefaultLease))
	f.DurationVar(&r.Poll, "poll", 0, fmt.Sprintf("how long one receive waits for a task (default %v)", executor.DefaultPoll))
	f.DurationVar(&r.IdleTimeout, "idle-timeout", 0, fmt.Sprintf("stop after this long without a task (default %v)", executor.DefaultIdleTimeout))
	f.DurationVar(&r.RuntimeLimit, "runtime-limit", 0, "stop before this lifetime is up (0: unlimited)")
	f.IntVar(&r.MaxAttempts, "max-attempts", 0, fmt.Sprintf("failed attempts of one task that fail the job (default %d)", executor.DefaultMaxAttempts))
	f.IntVar(&r.MaxReceives, "max-receives", 0, fmt.Sprintf("deliveries of one task that fail the job (default %d)", executor.DefaultMaxReceives))
	f.Int64Var(&r.Memory, "memory", 0, "most `BYTES` of tiles the worker holds at once (default (pipeline×3+2) full tiles of the job)")
	f.BoolVar(&r.AllowNonFinite, "allow-nonfinite", false, "let kernels compute NaN and infinite values (by default the job fails at the first)")
	f.BoolVar(&r.Trace, "trace", false, "keep every task's span (leased, read, computed, written, done) in the report")
	f.Float64Var(&r.EmulateGFLOPS, "emulate-compute", 0, "emulate compute at `GFLOPS`: kernels wait their flops' time instead of computing")
	f.BoolVarP(&opts.verbose, "verbose", "v", false, "log the worker's events to stderr")
	f.StringVar(&opts.profDir, "memprofile", os.Getenv("NPW_WORKER_MEMPROFILE"), "write a pprof heap profile (peak-sized: all allocations) to `DIR`/worker-PID.heap at the end (default $NPW_WORKER_MEMPROFILE)")
	f.StringVar(&opts.cpuDir, "cpuprofile", os.Getenv("NPW_WORKER_CPUPROFILE"), "write a pprof CPU profile of the worker's life to `DIR`/worker-PID.cpu (default $NPW_WORKER_CPUPROFILE; go tool pprof takes several at once)")
}

func runWorker(ctx context.Context, stdout, stderr io.Writer, opts *workerOptions) error {
	r := opts.remote
	if err := r.Check(); err != nil {
		return usagef("%v", err)
	}
	tuneWorkerGC()
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, os.Interrupt)
	defer stop()
	log := slog.New(slog.DiscardHandler)
	if opts.verbose {
		log = slog.New(slog.NewTextHandler(stderr, nil))
	}
	if r.ID == "" {
		host, _ := os.Hostname()
		r.ID = host + "/" + itoa(os.Getpid())
	}
	cpuPath := ""
	if opts.cpuDir != "" {
		cpuPath = filepath.Join(opts.cpuDir, "worker-"+itoa(os.Getpid())+".cpu")
	}
	stopProfile, err := startCPUProfile(cpuPath)
	if err != nil {
		return err
	}
	rep, err := executor.Serve(ctx, r, log)
	// A profile that could not be written in full is an error too.
	if perr := stopProfile(); err == nil {
		err = perr
	}
	if err != nil {
		return err
	}
	if opts.profDir != "" {
		if err := writeHeapProfile(filepath.Join(opts.profDir, "worker-"+itoa(os.Getpid())+".heap")); err != nil {
			return err
		}
	}
	return json.NewEncoder(stdout).Encode(rep)
}

func itoa(n int) string { return strconv.Itoa(n) }

// writeHeapProfile writes the heap profile of this process to path.
func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		f.Close()
		return fmt.Errorf("worker: heap profile: %w", err)
	}
	return f.Close()
}

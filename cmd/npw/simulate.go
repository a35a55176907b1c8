package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/npw-dev/npw/executor"
	"github.com/npw-dev/npw/job"
	lp "github.com/npw-dev/npw/lambdapack"
	"github.com/npw-dev/npw/provisioner"
	"github.com/npw-dev/npw/sim"
	"github.com/npw-dev/npw/state"
)

type simulateOptions struct {
	n, block, workers, pipeline int
	sf                          float64
	runtimeLimit, coldStart     time.Duration
	killFraction                float64
	killAt                      time.Duration
	protocol                    string
	priorities                  string
	calibration                 string
	services                    string
	seed                        uint64
	packed                      bool
	asJSON                      bool
	plot                        string
	cost                        costFlags
	ins                         []string // --in NAME=ROWSxCOLS, for a program

	calibrate           bool
	output, name        string
	blocks              []int
	store, queue, state string
}

func newSimulateCmd() *cobra.Command {
	var o simulateOptions
	cmd := &cobra.Command{
		Use:   "simulate ALG|PROG [NAME=VALUE ...] --n N --block B --calibration NAME|FILE [--workers W --sf F --pipeline P ...]",
		Short: "Predict a job's time, workers and cost at any scale, on virtual time",
		Long: `Simulate runs an algorithm's job on virtual time: npw's own dependency
analysis (children, parents, priorities) and scaling policy, with the
queue (leases, visibility timeouts, redelivery), the state store
(idempotent completion) and the object store following an event model of
the real protocol (package sim documents it), kernels and tile transfers
taking the durations a calibration gives instead of computing and moving
bytes. Thousands of workers and millions of tasks run on one core.

ALG is a shipped algorithm (cholesky, gemm, qr) on n×n inputs, or
numpywren-qr: numpywren's own QR program with its dense kernels, as the
paper ran it (sim/programs/numpywren_qr.lp). PROG is
any LAmbdaPACK program, a .lp file or a shipped program's name, with its
scalar arguments as for npw run (N=64); its inputs (the matrices it reads
before writing) are n×n, or ROWS×COLS with --in NAME=ROWSxCOLS, tiled
block a side by their last two indices.

A calibration is a JSON file of figures, each with its source: kernel
speeds by kernel and block, the object store's latencies, bandwidth and
request rate, the queue's and state store's round trips and request
rates, and the workers' start-up distribution, runtime limit, failure
rate, memory and per-task overhead. --calibration takes a shipped one by
name or a FILE.json.

--protocol numpywren turns off what npw adds to the paper's protocol
(continuations, worker tile caches, batched sends and acks, npw's
priorities, one lease ahead), so the two can be compared on one problem.
--services memory models npw's embedded services (memory store, queue
and state store in one process: requests take no time, and workers
neither continue tasks nor cache tiles, as there); by default the
services are the calibration's.

It prints a real job's summary, labelled simulated, with the dollar cost
the run would have on AWS; --json prints one JSON object, --plot DIR the
same PNGs as a real job's --plot.`,
		Example: `  npw simulate cholesky --n 262144 --block 4096 --workers 180 --calibration paper-2018 --protocol numpywren
  npw simulate qr --n 16384 --block 2048 --workers 2 --calibration my-machine.json --plot plots/
  npw simulate tsqr N=64 --in A=262144x4096 --block 4096 --workers 64 --calibration paper-2018
  npw simulate --calibrate -o here.json --store s3://bucket/npw --queue sqs://... --state redis://127.0.0.1:6379/0`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.calibrate {
				if len(args) > 0 {
					return usagef("--calibrate measures this machine: it takes no algorithm")
				}
				return runCalibrate(cmd, o)
			}
			if len(args) == 0 {
				return usagef("simulate takes an algorithm (%s), or --calibrate", strings.Join(sim.Algorithms(), ", "))
			}
			return runSimulate(cmd.OutOrStdout(), args, o)
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.n, "n", 0, "order of the matrices")
	f.IntVar(&o.block, "block", 0, "tile size")
	f.IntVar(&o.workers, "workers", 1, "most workers at once")
	f.Float64Var(&o.sf, "sf", 1, "scaling factor: workers per pending task and pipeline slot")
	f.IntVar(&o.pipeline, "pipeline", executor.DefaultPipeline, "tasks a worker holds at once")
	f.DurationVar(&o.runtimeLimit, "runtime-limit", -1, "a worker's lifetime (default: the calibration's; 0 is unlimited)")
	f.DurationVar(&o.coldStart, "cold-start", -1, "a fixed start-up delay for every worker (default: the calibration's distribution)")
	f.Float64Var(&o.killFraction, "kill-fraction", 0, "kill this `FRACTION` of the running workers at --kill-at")
	f.DurationVar(&o.killAt, "kill-at", 0, "when to kill workers, as a `DURATION` since the job started")
	f.StringVar(&o.protocol, "protocol", "npw", "npw, or numpywren: the paper's protocol without npw's additions")
	f.StringVar(&o.priorities, "priorities", "path", "rank the npw protocol's tasks by `ORDER`: path (longest path to the end first) or loops (lower loop values first)")
	f.StringVar(&o.calibration, "calibration", "", "a shipped calibration's `NAME` or a FILE.json (required)")
	f.StringVar(&o.services, "services", "cloud", "cloud: the calibration's store, queue and state store; memory: npw's embedded ones")
	f.Uint64Var(&o.seed, "seed", 1, "seed of the start-up delays and failures")
	f.BoolVar(&o.packed, "packed", false, "pack the workers onto machines of the calibration's per_host workers sharing one link (the paper's emulated Lambda on EC2)")
	f.BoolVar(&o.asJSON, "json", false, "print one JSON object")
	f.StringArrayVar(&o.ins, "in", nil, "a program's input and its shape: `NAME=ROWSxCOLS` (repeatable; default n×n)")
	f.StringVar(&o.plot, "plot", "", "write the timeline, flop-rate and Gantt PNGs into `DIR`")
	f.StringVar(&o.cost.prices, "prices", "", "price the run with the AWS price table in `FILE.json` instead of npw's own")
	f.IntVar(&o.cost.lambdaMemory, "lambda-memory", 3008, "`MB` of the Lambda functions priced")
	f.BoolVar(&o.calibrate, "calibrate", false, "measure a calibration of this machine and the services of --store, --queue and --state")
	f.StringVarP(&o.output, "output", "o", "", "with --calibrate, write the calibration to `FILE.json` (default: stdout)")
	f.StringVar(&o.name, "name", "here", "with --calibrate, the calibration's name")
	f.IntSliceVar(&o.blocks, "blocks", []int{512, 1024, 2048, 4096}, "with --calibrate, the tile sizes to time the kernels at")
	f.StringVar(&o.store, "store", envOr("NPW_STORE", "mem://"), "with --calibrate, the tile store `URL` to measure")
	f.StringVar(&o.queue, "queue", envOr("NPW_QUEUE", "mem://"), "with --calibrate, the queue `URL` to measure")
	f.StringVar(&o.state, "state", envOr("NPW_STATE", "mem://"), "with --calibrate, the state store `URL` to measure")
	return cmd
}

// simulateReport is the --json output: a real job's figures, and the
// simulation's settings.
type simulateReport struct {
	Alg           string        `json:"alg"`
	N             int           `json:"n"`
	Block         int           `json:"block"`
	Calibration   string        `json:"calibration"`
	Protocol      string        `json:"protocol"`
	Priorities    string        `json:"priorities"` // path or loops (npw protocol)
	Workers       int           `json:"workers"`
	ScaleFactor   float64       `json:"sf"`
	Pipeline      int           `json:"pipeline"`
	Seconds       float64       `json:"seconds"`
	Tasks         int64         `json:"tasks"`
	Continued     int           `json:"continued"`
	GFLOPS        float64       `json:"gflops"`
	PeakWorkers   int           `json:"peak_workers"`
	Launched      int64         `json:"launched"`
	WorkerSeconds float64       `json:"worker_seconds"`
	Metrics       state.Metrics `json:"metrics"`
	Requests      any           `json:"requests"`
	Cost          *costEstimate `json:"cost,omitempty"`
	Kills         []killReport  `json:"kills,omitempty"`
	Plots         []string      `json:"plots,omitempty"`
	SimSeconds    float64       `json:"simulator_seconds"`
}

// A killReport is a kill and the job's recovery from it; -1 for never.
type killReport struct {
	At            float64 `json:"at_s"`
	Killed        int     `json:"killed"`
	WorkersBefore int     `json:"workers_before"`
	RateBefore    float64 `json:"tasks_per_s_before"`
	Replenished90 float64 `json:"replenished_90_s"`
	Replenished   float64 `json:"replenished_s"`
	Recovered     float64 `json:"recovered_s"`
	Short         float64 `json:"tasks_short"`
	Done          float64 `json:"tasks_done_minute_after"`
	Lost          float64 `json:"worker_seconds_lost"`
}

// runCalibrate measures a calibration and writes it.
func runCalibrate(cmd *cobra.Command, o simulateOptions) error {
	if err := checkOutputs(outputPath{"--output", o.output}); err != nil {
		return err
	}
	for _, b := range o.blocks {
		if b < 1 {
			return usagef("--blocks: %d is not a tile size", b)
		}
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	c, err := sim.Calibrate(cmd.Context(), sim.CalibrateOptions{Name: o.name, Blocks: o.blocks, Store: o.store, Queue: o.queue, State: o.state,
		Worker: []string{exe, "--help"}, Log: cmd.ErrOrStderr()})
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // URLs keep their &
	enc.SetIndent("", "  ")
	if err := enc.Encode(c); err != nil {
		return err
	}
	if o.output == "" {
		_, err = cmd.OutOrStdout().Write(buf.Bytes())
		return err
	}
	return os.WriteFile(o.output, buf.Bytes(), 0o644)
}

// simulatedProblem is the problem of simulate's arguments: a shipped
// algorithm on n×n inputs, or a program with its arguments and --in
// shapes.
func simulatedProblem(args []string, o simulateOptions) (*sim.Problem, string, error) {
	if len(args) == 1 && slices.Contains(sim.Algorithms(), args[0]) {
		if len(o.ins) > 0 {
			return nil, "", usagef("--in gives a program's input shapes: %s's inputs are n×n", args[0])
		}
		if o.n <= 0 {
			return nil, "", usagef("--n and --block must be positive, got %d and %d", o.n, o.block)
		}
		p, err := sim.NewProblem(args[0], o.n, o.block, o.workers)
		return p, args[0], err
	}
	ref, vals, err := programArgs(args, false)
	if err != nil {
		return nil, "", err
	}
	if len(vals) == 0 && !strings.HasSuffix(ref, ".lp") && !slices.Contains(lp.Shipped(), ref) {
		return nil, "", usagef("simulate knows no algorithm %q: want one of %s, or a program (PROG.lp) with its arguments", ref, strings.Join(sim.Algorithms(), ", "))
	}
	shapes := map[string][2]int{}
	for _, in := range o.ins {
		name, shape, ok := strings.Cut(in, "=")
		r, c, ok2 := strings.Cut(shape, "x")
		rows, err1 := strconv.Atoi(r)
		cols, err2 := strconv.Atoi(c)
		if !ok || !ok2 || err1 != nil || err2 != nil || name == "" {
			return nil, "", usagef("--in %q: want NAME=ROWSxCOLS, e.g. A=65536x4096", in)
		}
		shapes[name] = [2]int{rows, cols}
	}
	if o.n < 0 {
		return nil, "", usagef("--n %d: must be positive", o.n)
	}
	p, err := sim.NewProgramProblem(ref, vals, shapes, o.n, o.block)
	if err != nil {
		return nil, "", err
	}
	return p, p.Plan.Program().Name, nil
}

func runSimulate(w io.Writer, args []string, o simulateOptions) error {
	if o.calibration == "" {
		return usagef("--calibration is required: a file (FILE.json) or one of the shipped: %s", strings.Join(sim.Shipped(), ", "))
	}
	switch {
	case o.block <= 0:
		return usagef("--block must be positive, got %d", o.block)
	case o.workers < 1:
		return usagef("--workers %d: at least 1", o.workers)
	case o.pipeline < 1:
		return usagef("--pipeline %d: at least 1", o.pipeline)
	case o.sf <= 0:
		return usagef("--sf %g: must be positive", o.sf)
	case o.services != "cloud" && o.services != "memory":
		return usagef("--services %q: cloud or memory", o.services)
	case o.killFraction < 0 || o.killFraction > 1:
		return usagef("--kill-fraction %g: a fraction from 0 to 1", o.killFraction)
	case o.priorities != "path" && o.priorities != "loops":
		return usagef("--priorities must be path or loops, got %q", o.priorities)
	}
	if err := checkPlotDir(o.plot); err != nil {
		return err
	}
	protocol, err := sim.ParseProtocol(o.protocol)
	if err != nil {
		return usagef("--protocol: %v", err)
	}
	if err := o.cost.check(); err != nil {
		return err
	}
	cal, err := sim.LoadCalibration(o.calibration)
	if err != nil {
		return err
	}
	p, alg, err := simulatedProblem(args, o)
	if err != nil {
		return err
	}
	began := time.Now()
	res, err := sim.Run(sim.Config{Plan: p.Plan, InputShape: p.InputShape, Scaled: p.Scaled, Block: o.block, Cal: cal, Protocol: protocol,
		Policy:         provisioner.Policy{ScaleFactor: o.sf, Pipeline: o.pipeline, MaxWorkers: o.workers},
		MemoryServices: o.services == "memory", Packed: o.packed, RuntimeLimit: o.runtimeLimit, ColdStart: o.coldStart,
		KillFraction: o.killFraction, KillAt: o.killAt, Trace: o.plot != "" || o.killFraction > 0, Seed: o.seed,
		LoopPriorities: o.priorities == "loops"})
	if err != nil {
		return err
	}
	took := time.Since(began)
	results := []*job.Result{res}
	var plots []string
	if o.plot != "" {
		if plots, err = writePlots(o.plot, results); err != nil {
			return err
		}
	}
	est, costErr := o.cost.estimate(results, "", "simulated")
	if o.asJSON {
		t := sum(results, 0)
		rep := simulateReport{Alg: alg, N: o.n, Block: o.block, Calibration: cal.Name, Protocol: protocol.String(), Priorities: o.priorities, Workers: o.workers,
			ScaleFactor: o.sf, Pipeline: o.pipeline, Seconds: res.Wall.Seconds(), Tasks: t.done, Continued: t.continued,
			GFLOPS: t.metrics.Flops / t.wall / 1e9, PeakWorkers: t.peakWorkers, Launched: t.launched, WorkerSeconds: t.workerSecs,
			Metrics: t.metrics, Requests: t.requests, Plots: plots, SimSeconds: took.Seconds()}
		if costErr == nil {
			rep.Cost = &est
		}
		for _, k := range res.Kills {
			rec := res.Recovery(k)
			secs := func(d time.Duration) float64 {
				if d < 0 {
					return -1
				}
				return d.Seconds()
			}
			rep.Kills = append(rep.Kills, killReport{At: k.At.Seconds(), Killed: k.Killed, WorkersBefore: rec.WorkersBefore,
				RateBefore: rec.RateBefore, Replenished90: secs(rec.Replenished90), Replenished: secs(rec.Replenished), Recovered: secs(rec.Recovered), Short: rec.Short,
				Done: rec.Done, Lost: rec.WorkerSecondsLost})
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	costText := est.line()
	if costErr != nil {
		costText = costErr.Error()
	}
	lines := []summaryLine{
		{"simulated", fmt.Sprintf("on virtual time in %.1f s: calibration %s, protocol %s, sf %g, pipeline %d; a prediction, nothing was computed", took.Seconds(), cal.Name, protocol, o.sf, o.pipeline)},
	}
	for _, text := range faultTexts(res, o.killFraction) {
		lines = append(lines, summaryLine{"fault", text})
	}
	if len(plots) > 0 {
		lines = append(lines, summaryLine{"output", "plots → " + strings.Join(plots, ", ")})
	}
	lines = append(lines, summaryLine{"cost", costText})
	title := fmt.Sprintf("%s %d×%d, block %d (simulated)", alg, o.n, o.n, o.block)
	if len(args) > 1 || alg != args[0] {
		title = fmt.Sprintf("%s %s, block %d (simulated)", alg, strings.Join(args[1:], " "), o.block)
	}
	printSummary(w, title, results, 0, lines)
	return nil
}

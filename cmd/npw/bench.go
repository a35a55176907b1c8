package main

// npw bench: npw against a single-node reference on the same matrix, in
// the same process run, with the residual of both and the machine's DGEMM
// peak measured alongside.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/lapack/lapack64"

	engine "github.com/npw-dev/npw"
	"github.com/npw-dev/npw/internal/peers"
	"github.com/npw-dev/npw/job"
	"github.com/npw-dev/npw/kernels"
	"github.com/npw-dev/npw/state"
)

// A benchResult is what npw bench prints; with --json, as one object.
type benchResult struct {
	Alg       string `json:"alg"`
	N         int    `json:"n"`
	Block     int    `json:"block"`
	BLAS      string `json:"blas"`
	Cores     int    `json:"cores"`
	Workers   int    `json:"workers"`
	Pipeline  int    `json:"pipeline"`
	Launch    string `json:"launch"`
	Services  string `json:"services"`
	Reference string `json:"reference"` // the single-node routines

	NPWSeconds       float64 `json:"npw_seconds"`
	ReferenceSeconds float64 `json:"reference_seconds"`
	Ratio            float64 `json:"ratio"` // npw / reference
	Flops            float64 `json:"flops"` // the algorithm's standard count
	NPWGflops        float64 `json:"npw_gflops"`
	ReferenceGflops  float64 `json:"reference_gflops"`
	PeakGflops       float64 `json:"peak_gflops"` // DGEMM on all cores, this run
	PeakFraction     float64 `json:"peak_fraction"`

	Residual          float64 `json:"residual"`
	ReferenceResidual float64 `json:"reference_residual"`
	ResidualKind      string  `json:"residual_kind"` // what is measured
	ResidualEstimated bool    `json:"residual_estimated"`

	Tasks         int64   `json:"tasks"`
	Continued     int     `json:"continued"` // tasks run right after their parent, from its outputs in memory (S3, files)
	WorkerSeconds float64 `json:"worker_seconds"`
	PeakWorkers   int     `json:"peak_workers"`
	UploadSeconds float64 `json:"upload_seconds"`
	// Metrics sums the tasks' tile reads, kernels and tile writes over
	// all workers (worker-seconds and bytes).
	Metrics state.Metrics `json:"metrics"`
	// WorkerPeakRSS is the largest peak resident memory of a worker
	// process, in MiB (process and Lambda workers only), and RSSBound
	// the target it is held to: the worker's memory bound, (pipeline ×
	// 3 + 2) tiles, or what the bound counted at its peak if that was
	// more (WorkerPeakReserved: a task whose tiles are bigger than
	// block×block, as geqrf's stacked panels, runs past the bound), plus
	// 64 MiB for the runtime.
	WorkerPeakRSS      float64 `json:"worker_peak_rss_mib,omitempty"`
	WorkerPeakReserved float64 `json:"worker_peak_reserved_mib,omitempty"`
	RSSBound           float64 `json:"rss_bound_mib,omitempty"`

	// References are the --reference runs, gonum's included, and
	// Strongest the fastest of them, with npw's time over its.
	References     []peerResult `json:"references,omitempty"`
	Strongest      string       `json:"strongest,omitempty"`
	StrongestRatio float64      `json:"strongest_ratio,omitempty"`
}

// A peerResult is one reference's run of the algorithm.
type peerResult struct {
	Name       string  `json:"name"` // gonum, openblas, scalapack or dask
	What       string  `json:"what"`
	Seconds    float64 `json:"seconds"`
	CPUSeconds float64 `json:"cpu_seconds,omitempty"` // all its threads and ranks, over the call
	Gflops     float64 `json:"gflops"`
	Ratio      float64 `json:"ratio"` // npw / this reference
}

// A benchAlg is one algorithm npw bench knows.
type benchAlg struct {
	reference string
	flops     func(n float64) float64
	what      string // the residual
	inputs    func(rng *rand.Rand, n int) []blas64.General
	// ref computes the reference's result in place of copies of the
	// inputs and returns a residual function to call after timing.
	ref func(in []blas64.General) (run func() error, check func() residual)
	// npw runs npw on the uploaded inputs and returns a residual
	// function to call after timing.
	npw func(ctx context.Context, eng *engine.Engine, in []*engine.Matrix, a []blas64.General) (check func() (residual, error), err error)
}

var benchAlgs = map[string]benchAlg{
	"cholesky": {
		reference: "Potrf",
		flops:     func(n float64) float64 { return n * n * n / 3 },
		what:      "‖A − LLᵀ‖/(‖A‖·n·ε)",
		inputs:    func(rng *rand.Rand, n int) []blas64.General { return []blas64.General{randomSPD(rng, n)} },
		ref: func(in []blas64.General) (func() error, func() residual) {
			c := dup(in[0])
			return func() error {
					if _, ok := lapack64.Potrf(blas64.Symmetric{Uplo: blas.Lower, N: c.Rows, Stride: c.Stride, Data: c.Data}); !ok {
						return fmt.Errorf("the matrix is not positive definite")
					}
					return nil
				}, func() residual {
					zeroAbove(c, false)
					return choleskyResidual(in[0], c)
				}
		},
		npw: func(ctx context.Context, eng *engine.Engine, in []*engine.Matrix, a []blas64.General) (func() (residual, error), error) {
			l, err := eng.Cholesky(ctx, in[0])
			if err != nil {
				return nil, err
			}
			return func() (residual, error) {
				d, err := l.Dense(ctx)
				if err != nil {
					return residual{}, err
				}
				return choleskyResidual(a[0], d.RawMatrix()), nil
			}, nil
		},
	},
	"gemm": {
		reference: "Dgemm",
		flops:     func(n float64) float64 { return 2 * n * n * n },
		what:      "‖C − AB‖/(‖A‖·‖B‖·n·ε)",
		inputs: func(rng *rand.Rand, n int) []blas64.General {
			return []blas64.General{randomGaussian(rng, n, n), randomGaussian(rng, n, n)}
		},
		ref: func(in []blas64.General) (func() error, func() residual) {
			n := in[0].Rows
			c := blas64.General{Rows: n, Cols: n, Stride: n, Data: make([]float64, n*n)}
			return func() error {
					blas64.Gemm(blas.NoTrans, blas.NoTrans, 1, in[0], in[1], 0, c)
					return nil
				}, func() residual {
					return gemmResidual(in[0], in[1], c)
				}
		},
		npw: func(ctx context.Context, eng *engine.Engine, in []*engine.Matrix, a []blas64.General) (func() (residual, error), error) {
			c, err := eng.GEMM(ctx, in[0], in[1])
			if err != nil {
				return nil, err
			}
			return func() (residual, error) {
				d, err := c.Dense(ctx)
				if err != nil {
					return residual{}, err
				}
				return gemmResidual(a[0], a[1], d.RawMatrix()), nil
			}, nil
		},
	},
	"qr": {
		reference: "Geqrf",
		flops:     func(n float64) float64 { return 4 * n * n * n / 3 },
		what:      "‖RᵀR − AᵀA‖/(‖A‖²·n·ε)",
		inputs:    func(rng *rand.Rand, n int) []blas64.General { return []blas64.General{randomGaussian(rng, n, n)} },
		ref: func(in []blas64.General) (func() error, func() residual) {
			c := dup(in[0])
			tau := make([]float64, c.Cols)
			return func() error {
					work := workspace(func(w []float64) { lapack64.Geqrf(c, tau, w, -1) })
					lapack64.Geqrf(c, tau, work, len(work))
					return nil
				}, func() residual {
					zeroBelow(c)
					return gramResidual(in[0], c)
				}
		},
		npw: func(ctx context.Context, eng *engine.Engine, in []*engine.Matrix, a []blas64.General) (func() (residual, error), error) {
			f, err := eng.QR(ctx, in[0])
			if err != nil {
				return nil, err
			}
			return func() (residual, error) {
				r, err := f.R.Dense(ctx)
				if err != nil {
					return residual{}, err
				}
				return gramResidual(a[0], r.RawMatrix()), nil
			}, nil
		},
	},
	"lu": {
		reference: "Getrf",
		flops:     func(n float64) float64 { return 2 * n * n * n / 3 },
		what:      "‖A[P,:] − LU‖/(‖A‖·n·ε)",
		inputs:    func(rng *rand.Rand, n int) []blas64.General { return []blas64.General{randomGaussian(rng, n, n)} },
		ref: func(in []blas64.General) (func() error, func() residual) {
			c := dup(in[0])
			ipiv := make([]int, c.Rows)
			return func() error {
					if !lapack64.Getrf(c, ipiv) {
						return fmt.Errorf("the matrix is singular")
					}
					return nil
				}, func() residual {
					// ipiv swaps rows in order; replay them on 0..n-1.
					perm := make([]int, c.Rows)
					for i := range perm {
						perm[i] = i
					}
					for i, p := range ipiv {
						perm[i], perm[p] = perm[p], perm[i]
					}
					u := dup(c)
					zeroBelow(u)
					zeroAbove(c, true)
					return luResidual(in[0], perm, c, u)
				}
		},
		npw: func(ctx context.Context, eng *engine.Engine, in []*engine.Matrix, a []blas64.General) (func() (residual, error), error) {
			f, err := eng.LU(ctx, in[0])
			if err != nil {
				return nil, err
			}
			return func() (residual, error) {
				l, err := f.L.Dense(ctx)
				if err != nil {
					return residual{}, err
				}
				u, err := f.U.Dense(ctx)
				if err != nil {
					return residual{}, err
				}
				return luResidual(a[0], f.P, l.RawMatrix(), u.RawMatrix()), nil
			}, nil
		},
	},
}

// zeroAbove zeroes the strict upper triangle of a and, with unitDiag,
// puts ones on its diagonal.
func zeroAbove(a blas64.General, unitDiag bool) {
	for i := range a.Rows {
		row := a.Data[i*a.Stride : i*a.Stride+a.Cols]
		clear(row[min(i+1, a.Cols):])
		if unitDiag && i < a.Cols {
			row[i] = 1
		}
	}
}

// zeroBelow zeroes the strict lower triangle of a.
func zeroBelow(a blas64.General) {
	for i := range a.Rows {
		clear(a.Data[i*a.Stride : i*a.Stride+min(i, a.Cols)])
	}
}

// peakGflops measures DGEMM on all cores: the best of five n×n products.
func peakGflops(n int) float64 {
	defer kernels.SetThreads(kernels.SetThreads(maxProcs()))
	rng := rand.New(rand.NewPCG(3, 3))
	a, b := randomGaussian(rng, n, n), randomGaussian(rng, n, n)
	c := blas64.General{Rows: n, Cols: n, Stride: n, Data: make([]float64, n*n)}
	best := math.Inf(1)
	for range 5 {
		start := time.Now()
		blas64.Gemm(blas.NoTrans, blas.NoTrans, 1, a, b, 0, c)
		best = min(best, time.Since(start).Seconds())
	}
	return 2 * math.Pow(float64(n), 3) / best / 1e9
}

type benchOptions struct {
	alg     string
	engine  engineFlags
	n       int
	seed    uint64
	asJSON  bool
	peakN   int
	skipRef bool
	refs    string // --reference
	profile string
}

func newBenchCmd() *cobra.Command {
	var opts benchOptions
	names := slices.Sorted(maps.Keys(benchAlgs))
	cmd := &cobra.Command{
		Use:   "bench ALG --n N [--block B] [--workers K] [--pipeline W] [--json]",
		Short: "Time npw against single-node LAPACK on the same matrix, in one run",
		Long: `Bench generates an n×n input (seed --seed), measures the DGEMM peak of
this machine's BLAS on all cores, runs the single-node reference (gonum
LAPACK, or BLAS for gemm, on the same BLAS as npw's kernels, all cores),
then npw on the same input, and checks the residual of both. It prints
npw's time over the reference's and npw's share of the DGEMM peak; with
--json, one object with alg, n, block, blas, npw_seconds,
reference_seconds, ratio, npw_gflops, peak_gflops, residual, tasks,
worker_seconds and more. npw's time starts after the input is uploaded
(upload_seconds) and ends when the result is in the tile store.
Algorithms: ` + strings.Join(names, ", ") + `.`,
		Example: `  npw bench cholesky --n 8192 --block 1024
  npw bench gemm --n 4096 --block 1024 --json
  eval "$(scripts/local-cloud up)"; npw bench cholesky --n 8192 --launch process`,
		Args: exactly(1, "one algorithm ("+strings.Join(names, ", ")+")"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.alg = args[0]
			return runBench(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), &opts)
		},
	}
	opts.engine.register(cmd.Flags(), 1024)
	f := cmd.Flags()
	f.IntVar(&opts.n, "n", 0, "order of the generated matrices")
	f.Uint64Var(&opts.seed, "seed", 1, "seed of the generated input")
	f.BoolVar(&opts.asJSON, "json", false, "print one JSON object")
	f.IntVar(&opts.peakN, "peak-n", 2048, "order of the DGEMM that measures the peak (0: skip)")
	f.BoolVar(&opts.skipRef, "no-reference", false, "skip the single-node references")
	f.StringVar(&opts.refs, "reference", "gonum", "the single-node references to time, comma-separated: gonum (LAPACK in this process), openblas (SciPy on OpenBLAS's own LAPACK), scalapack (a rank per core), dask, or all; the peers outside this process are installed (Debian packages) when missing")
	f.StringVar(&opts.profile, "cpuprofile", "", "write a pprof CPU profile of npw's run (not the reference's) to `FILE`")
	return cmd
}

// check refuses an unknown algorithm and bad flags (usage errors) and
// output files that cannot be written.
func (opts *benchOptions) check() (benchAlg, error) {
	alg, ok := benchAlgs[opts.alg]
	if !ok {
		return alg, usagef("bench: unknown algorithm %q; want one of %s", opts.alg, strings.Join(slices.Sorted(maps.Keys(benchAlgs)), ", "))
	}
	if err := opts.engine.check(); err != nil {
		return alg, err
	}
	if opts.n <= 0 {
		return alg, usagef("bench: give the size with --n N")
	}
	if _, err := opts.references(); err != nil {
		return alg, err
	}
	return alg, checkOutputs(append(opts.engine.outputs(), outputPath{"--cpuprofile", opts.profile})...)
}

func runBench(ctx context.Context, stdout, stderr io.Writer, opts *benchOptions) error {
	alg, err := opts.check()
	if err != nil {
		return err
	}
	e := &opts.engine
	e.fitBlock(opts.alg, opts.n, opts.n)
	r := benchResult{Alg: opts.alg, N: opts.n, Block: e.block, BLAS: kernels.BLAS, Cores: maxProcs(),
		Workers: e.maxWorkers(), Pipeline: e.pipeline, Launch: e.launch, Reference: alg.reference,
		Services: e.store + " " + e.queue + " " + e.state, ResidualKind: alg.what, Flops: alg.flops(float64(opts.n))}
	in := alg.inputs(rand.New(rand.NewPCG(opts.seed, opts.seed)), opts.n)
	if opts.peakN > 0 {
		r.PeakGflops = peakGflops(opts.peakN)
	}
	refs, _ := opts.references()
	if slices.Contains(refs, "gonum") {
		if err := r.timeReference(alg, in); err != nil {
			return err
		}
		r.References = append(r.References, peerResult{Name: "gonum", What: "gonum LAPACK's " + alg.reference + " on " + kernels.BLAS + ", all cores", Seconds: r.ReferenceSeconds})
	}
	if err := r.timePeers(ctx, stderr, refs); err != nil {
		return err
	}
	s, err := e.session(ctx, stderr)
	if err != nil {
		return err
	}
	defer s.close()
	if err := r.timeNPW(s, alg, in, opts.profile); err != nil {
		return err
	}
	if err := printBench(stdout, r, opts.asJSON); err != nil {
		return err
	}
	if err := s.writeFiles(); err != nil {
		return err
	}
	if !opts.asJSON {
		for _, l := range s.lines {
			fmt.Fprintf(stdout, "  %s\n", l.text)
		}
	}
	if !(r.Residual <= 30) || (r.ReferenceSeconds > 0 && !(r.ReferenceResidual <= 30)) {
		return fmt.Errorf("bench: residual too large: npw %.3g, reference %.3g (bound 30)", r.Residual, r.ReferenceResidual)
	}
	return nil
}

// references are the --reference names, gonum first; none with
// --no-reference.
func (opts *benchOptions) references() ([]string, error) {
	if opts.skipRef {
		return nil, nil
	}
	known := append([]string{"gonum"}, peers.All...)
	var out []string
	for _, name := range strings.Split(opts.refs, ",") {
		name = strings.TrimSpace(name)
		switch {
		case name == "all":
			out = append(out, known...)
		case slices.Contains(known, name):
			out = append(out, name)
		default:
			return nil, usagef("bench: unknown --reference %q; want %s or all", name, strings.Join(known, ", "))
		}
	}
	slices.SortStableFunc(out, func(a, b string) int { return slices.Index(known, a) - slices.Index(known, b) })
	return slices.Compact(out), nil
}

// timePeers times the references outside this process (internal/peers)
// on an input of the same kind and size, one after the other; a peer
// without the algorithm is skipped with a line on stderr.
func (r *benchResult) timePeers(ctx context.Context, stderr io.Writer, refs []string) error {
	var names []string
	for _, name := range refs {
		if name == "gonum" {
			continue
		}
		if !peers.Has(name, r.Alg) {
			fmt.Fprintf(stderr, "npw: bench: %s has no %s of a square matrix; not timed\n", name, r.Alg)
			continue
		}
		names = append(names, name)
	}
	if len(names) == 0 {
		return nil
	}
	if err := peers.Install(names, stderr); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	dir, err := os.MkdirTemp("", "npw-peers-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	run, err := peers.New(dir, names)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return err
		}
		t, err := run.Time(name, r.Alg, r.N)
		if err != nil {
			return fmt.Errorf("bench: reference %w", err)
		}
		r.References = append(r.References, peerResult{Name: name, What: peers.Describe(name, r.Alg, run.NB, run.Chunk), Seconds: t.Seconds, CPUSeconds: t.CPUSeconds})
	}
	return nil
}

// timeReference runs the single-node reference on copies of the inputs.
func (r *benchResult) timeReference(alg benchAlg, in []blas64.General) error {
	run, check := alg.ref(in)
	secs, err := reference{alg.reference, run}.time()
	if err != nil {
		return err
	}
	r.ReferenceSeconds = secs
	r.ReferenceGflops = r.Flops / secs / 1e9
	r.ReferenceResidual = check().value
	runtime.GC()
	return nil
}

// timeNPW uploads the inputs and runs npw on them, with a CPU profile
// into profile if given, and sums up its jobs.
func (r *benchResult) timeNPW(s *session, alg benchAlg, in []blas64.General, profile string) error {
	start := time.Now()
	mats, err := s.uploadAll(in)
	if err != nil {
		return err
	}
	r.UploadSeconds = time.Since(start).Seconds()
	stopProfile, err := startCPUProfile(profile)
	if err != nil {
		return err
	}
	start = time.Now()
	check, err := alg.npw(s.ctx, s.eng, mats, in)
	r.NPWSeconds = time.Since(start).Seconds()
	if perr := stopProfile(); err == nil {
		err = perr
	}
	if err != nil {
		return err
	}
	res, err := check()
	if err != nil {
		return err
	}
	r.Residual, r.ResidualEstimated = res.value, res.estimated
	r.addJobs(s.results)
	return nil
}

// addJobs sums up npw's jobs and derives the rates.
func (r *benchResult) addJobs(results []*job.Result) {
	for _, res := range results {
		r.Tasks += res.Status.Done
		r.WorkerSeconds += res.WorkerSeconds()
		r.Metrics.Add(res.Status.Metrics)
		r.PeakWorkers = max(r.PeakWorkers, res.PeakWorkers())
		for _, w := range res.Workers {
			r.WorkerPeakRSS = max(r.WorkerPeakRSS, float64(w.PeakRSS)/(1<<20))
			r.WorkerPeakReserved = max(r.WorkerPeakReserved, float64(w.PeakReserved)/(1<<20))
			r.Continued += w.Continued
		}
	}
	if r.WorkerPeakRSS > 0 {
		tile := float64(8*r.Block*r.Block) / (1 << 20)
		r.RSSBound = max(float64(3*max(r.Pipeline, 1)+2)*tile, r.WorkerPeakReserved) + 64
	}
	r.NPWGflops = r.Flops / r.NPWSeconds / 1e9
	if r.ReferenceSeconds > 0 {
		r.Ratio = r.NPWSeconds / r.ReferenceSeconds
	}
	for i := range r.References {
		p := &r.References[i]
		p.Gflops, p.Ratio = r.Flops/p.Seconds/1e9, r.NPWSeconds/p.Seconds
		if r.Strongest == "" || p.Ratio > r.StrongestRatio {
			r.Strongest, r.StrongestRatio = p.Name, p.Ratio
		}
	}
	if r.PeakGflops > 0 {
		r.PeakFraction = r.NPWGflops / r.PeakGflops
	}
}

// startCPUProfile starts a pprof CPU profile into path (none if path is
// empty) and returns the function that stops it and closes the file.
func startCPUProfile(path string) (stop func() error, err error) {
	if path == "" {
		return func() error { return nil }, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile %s: %w", path, err)
	}
	return func() error {
		pprof.StopCPUProfile()
		return f.Close()
	}, nil
}

func printBench(w io.Writer, r benchResult, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		return enc.Encode(r)
	}
	est := "exact"
	if r.ResidualEstimated {
		est = fmt.Sprintf("estimated from %d probes", probes)
	}
	fmt.Fprintf(w, "%s n=%d block %d, %s BLAS, %d cores, %d workers (%s), pipeline %d\n", r.Alg, r.N, r.Block, r.BLAS, r.Cores, r.Workers, r.Launch, r.Pipeline)
	fmt.Fprintf(w, "  %-12s %8.2f s  %7.2f GFLOP/s  residual %.3g\n", "npw", r.NPWSeconds, r.NPWGflops, r.Residual)
	if r.ReferenceSeconds > 0 {
		fmt.Fprintf(w, "  %-12s %8.2f s  %7.2f GFLOP/s  residual %.3g  (gonum %s, all cores)\n", "reference", r.ReferenceSeconds, r.ReferenceGflops, r.ReferenceResidual, r.Reference)
		fmt.Fprintf(w, "  %-12s %8.2f\n", "npw/ref", r.Ratio)
	}
	for _, p := range r.References {
		if p.Name != "gonum" {
			fmt.Fprintf(w, "  %-12s %8.2f s  %7.2f GFLOP/s  npw/it %.2f  (%s)\n", p.Name, p.Seconds, p.Gflops, p.Ratio, p.What)
		}
	}
	if len(r.References) > 1 {
		fmt.Fprintf(w, "  %-12s %8.2f  npw over the strongest reference, %s\n", "npw/best", r.StrongestRatio, r.Strongest)
	}
	if r.PeakGflops > 0 {
		fmt.Fprintf(w, "  %-12s %8.2f GFLOP/s DGEMM on all cores; npw at %.0f%% of it\n", "peak", r.PeakGflops, 100*r.PeakFraction)
	}
	fmt.Fprintf(w, "  %-12s %d tasks (%d continued on the worker holding their inputs), %.1f worker-seconds, peak %d workers, upload %.2f s\n", "job", r.Tasks, r.Continued, r.WorkerSeconds, r.PeakWorkers, r.UploadSeconds)
	m := r.Metrics
	fmt.Fprintf(w, "  %-12s read %.1f, compute %.1f, write %.1f worker-seconds; %.2f GB read (and %d tiles from workers' caches), %.2f GB written\n",
		"tasks", m.ReadSeconds, m.ComputeSeconds, m.WriteSeconds, float64(m.BytesRead)/1e9, m.CacheHits, float64(m.BytesWritten)/1e9)
	if r.WorkerPeakRSS > 0 {
		fmt.Fprintf(w, "  %-12s %.0f MiB peak RSS of a worker process (target ≤ %.0f MiB: (pipeline×3+2) tiles, or the %.0f MiB of tiles its bound counted at its peak if more, + 64 MiB)\n",
			"memory", r.WorkerPeakRSS, r.RSSBound, r.WorkerPeakReserved)
	}
	fmt.Fprintf(w, "  %-12s %s (%s, bound 30)\n", "residual", r.ResidualKind, est)
	return nil
}

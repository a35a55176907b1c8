package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"runtime"

	"github.com/spf13/cobra"
	"gonum.org/v1/gonum/blas/blas64"

	engine "github.com/npw-dev/npw"
	"github.com/npw-dev/npw/analysis"
	"github.com/npw-dev/npw/blockstore"
	"github.com/npw-dev/npw/job"
	lp "github.com/npw-dev/npw/lambdapack"
)

// shortcut holds the flags of npw cholesky, gemm and tsqr.
type shortcut struct {
	engine  engineFlags
	out     string
	m, k, n int
	seed    uint64
	verify  bool
	compare bool
}

func (s *shortcut) register(cmd *cobra.Command, sizes string) {
	f := cmd.Flags()
	f.StringVarP(&s.out, "output", "o", "", "write the result to `FILE.npy`")
	f.Uint64Var(&s.seed, "seed", 1, "seed of generated inputs")
	f.BoolVar(&s.verify, "verify", false, "print the scaled residual of the result")
	for _, c := range sizes {
		switch c {
		case 'm':
			f.IntVar(&s.m, "m", 0, "rows of a generated input")
		case 'k':
			f.IntVar(&s.k, "k", 0, "inner dimension of generated inputs")
		case 'n':
			f.IntVar(&s.n, "n", 0, "columns (or the order) of a generated input")
		}
	}
	s.engine.register(f, 1024)
}

// registerCompare adds --compare, which times the LAPACK routines named
// on the same input after npw's run.
func (s *shortcut) registerCompare(cmd *cobra.Command, routines string) {
	cmd.Flags().BoolVar(&s.compare, "compare", false, "also time gonum's single-node lapack64."+routines+" on the same input and print npw's time over it")
}

func newCholeskyCmd() *cobra.Command {
	var s shortcut
	cmd := &cobra.Command{
		Use:   "cholesky [A.npy] [-o L.npy] [--n N] [--verify] [--compare]",
		Short: "Factor a symmetric positive definite matrix: A = L Lᵀ",
		Long: `Cholesky runs the shipped cholesky program on A, read from a .npy file
or generated (--n, --seed: a random symmetric matrix with a dominant
diagonal). Only A's lower triangle is read. --compare also factors the
same matrix with gonum's single-node lapack64.Potrf on all cores, in
this run, and prints the ratio of the times.`,
		Example: `  npw cholesky --n 4096 --block 512 --verify
  npw cholesky a.npy -o l.npy --workers 8`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := s.engine.check(); err != nil {
				return err
			}
			a, err := s.input(args, 0, func(rng *rand.Rand) (blas64.General, error) {
				if s.n <= 0 {
					return blas64.General{}, usagef("give A.npy or a size: --n N")
				}
				return randomSPD(rng, s.n), nil
			})
			if err != nil {
				return err
			}
			if a.Rows != a.Cols {
				return fmt.Errorf("cholesky needs a square matrix, got %d×%d", a.Rows, a.Cols)
			}
			return s.runCholesky(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), a)
		},
	}
	s.register(cmd, "n")
	s.registerCompare(cmd, "Potrf")
	return cmd
}

func newGemmCmd() *cobra.Command {
	var s shortcut
	cmd := &cobra.Command{
		Use:   "gemm [A.npy B.npy] [-o C.npy] [--m M --k K --n N] [--verify]",
		Short: "Multiply matrices: C = A B",
		Long: `Gemm runs the shipped gemm program on A and B, read from .npy files or
generated (--m, --k, --n, --seed: Gaussian). Each tile of C is summed over
k by chains of accumulating products (gemm_add), as long as two tiles of
C per worker keep the workers busy, and by a binary tree over shorter
chains when C has too few tiles (G = engine.GemmChain).`,
		Example: `  npw gemm --m 4096 --k 4096 --n 4096 --block 1024 --verify
  npw gemm a.npy b.npy -o c.npy`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 0 && len(args) != 2 {
				return usagef("give two files, A.npy and B.npy, or sizes --m --k --n")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := s.engine.check(); err != nil {
				return err
			}
			gen := func(rows, cols int) func(*rand.Rand) (blas64.General, error) {
				return func(rng *rand.Rand) (blas64.General, error) {
					if s.m <= 0 || s.k <= 0 || s.n <= 0 {
						return blas64.General{}, usagef("give A.npy and B.npy or sizes: --m M --k K --n N")
					}
					return randomGaussian(rng, rows, cols), nil
				}
			}
			a, err := s.input(args, 0, gen(s.m, s.k))
			if err != nil {
				return err
			}
			b, err := s.input(args, 1, gen(s.k, s.n))
			if err != nil {
				return err
			}
			if a.Cols != b.Rows {
				return fmt.Errorf("gemm: A is %d×%d and B is %d×%d; A's columns must match B's rows", a.Rows, a.Cols, b.Rows, b.Cols)
			}
			return s.runGemm(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), a, b)
		},
	}
	s.register(cmd, "mkn")
	return cmd
}

func newTsqrCmd() *cobra.Command {
	var s shortcut
	cmd := &cobra.Command{
		Use:   "tsqr [A.npy] [-o R.npy] [--m M --n N] [--verify]",
		Short: "R factor of a tall matrix: A = Q R",
		Long: `Tsqr runs the shipped tsqr program on A, read from a .npy file or
generated (--m, --n, --seed: Gaussian): a binary tree of QR
factorisations over row blocks of --block rows. R is upper triangular;
--verify compares RᵀR with AᵀA.`,
		Example: `  npw tsqr --m 100000 --n 100 --block 10000 --verify`,
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := s.engine.check(); err != nil {
				return err
			}
			a, err := s.input(args, 0, func(rng *rand.Rand) (blas64.General, error) {
				if s.m <= 0 || s.n <= 0 {
					return blas64.General{}, usagef("give A.npy or sizes: --m M --n N")
				}
				return randomGaussian(rng, s.m, s.n), nil
			})
			if err != nil {
				return err
			}
			return s.runTsqr(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), a)
		},
	}
	s.register(cmd, "mn")
	return cmd
}

// input reads argument i as a .npy matrix, or generates one.
func (s *shortcut) input(args []string, i int, generate func(*rand.Rand) (blas64.General, error)) (blas64.General, error) {
	if len(args) > i {
		arr, err := blockstore.ReadNPYFile(args[i])
		if err != nil {
			return blas64.General{}, err
		}
		if len(arr.Shape) != 2 {
			return blas64.General{}, fmt.Errorf("%s is a %d-dimensional array; a matrix needs 2", args[i], len(arr.Shape))
		}
		return arr.Matrix(), nil
	}
	return generate(rand.New(rand.NewPCG(s.seed, uint64(i))))
}

// randomSPD returns a random symmetric matrix with entries in [-1, 1) and
// n on the diagonal: diagonally dominant, so positive definite.
func randomSPD(rng *rand.Rand, n int) blas64.General {
	a := blas64.General{Rows: n, Cols: n, Stride: n, Data: make([]float64, n*n)}
	for i := range n {
		for j := range i {
			v := 2*rng.Float64() - 1
			a.Data[i*n+j], a.Data[j*n+i] = v, v
		}
		a.Data[i*n+i] = float64(n)
	}
	return a
}

func randomGaussian(rng *rand.Rand, r, c int) blas64.General {
	a := blas64.General{Rows: r, Cols: c, Stride: c, Data: make([]float64, r*c)}
	for i := range a.Data {
		a.Data[i] = rng.NormFloat64()
	}
	return a
}

func loadShipped(name string, args map[string]int64) (*analysis.Plan, error) {
	prog, err := lp.LoadProgram(name)
	if err != nil {
		return nil, err
	}
	values := map[string]lp.Value{}
	for k, v := range args {
		values[k] = lp.Int(v)
	}
	return analysis.NewPlan(prog, values)
}

func tileCount(n, b int) int64 { return int64((n + b - 1) / b) }

func (s *shortcut) runCholesky(ctx context.Context, stdout, stderr io.Writer, a blas64.General) error {
	s.engine.fitBlock("cholesky", a.Rows, a.Cols)
	plan, err := loadShipped("cholesky", map[string]int64{"N": tileCount(a.Rows, s.engine.block)})
	if err != nil {
		return err
	}
	spec := job.Spec{Plan: plan, Block: s.engine.block, Inputs: []job.Input{{Name: "S", Array: a}}, Outputs: []string{"O"}}
	res, lines, l, err := s.collect(ctx, stderr, spec, "O", nil)
	if err != nil {
		return err
	}
	printJobSummary(stdout, fmt.Sprintf("cholesky %d×%d, block %d", a.Rows, a.Cols, s.engine.block), res, lines)
	if s.verify {
		printResidual(stdout, "‖A − LLᵀ‖/(‖A‖·n·ε)", choleskyResidual(a, l))
	}
	if s.compare {
		if err := printCompare(stdout, potrfReference(a), res.Wall); err != nil {
			return err
		}
	}
	return nil
}

func (s *shortcut) runGemm(ctx context.Context, stdout, stderr io.Writer, a, b blas64.General) error {
	s.engine.fitBlock("gemm", max(a.Rows, a.Cols), max(b.Rows, b.Cols))
	blk := s.engine.block
	m, n, k := tileCount(a.Rows, blk), tileCount(b.Cols, blk), tileCount(a.Cols, blk)
	workers := s.engine.workers
	if workers <= 0 {
		workers = maxProcs()
	}
	g := engine.GemmChain(int(m), int(n), int(k), workers)
	plan, err := loadShipped("gemm", map[string]int64{"M": m, "N": n, "K": k, "G": int64(g)})
	if err != nil {
		return err
	}
	spec := job.Spec{Plan: plan, Block: blk, Inputs: []job.Input{{Name: "A", Array: a}, {Name: "B", Array: b}}, Outputs: []string{"C"}}
	res, lines, c, err := s.collect(ctx, stderr, spec, "C", nil)
	if err != nil {
		return err
	}
	printJobSummary(stdout, fmt.Sprintf("gemm %d×%d · %d×%d, block %d", a.Rows, a.Cols, b.Rows, b.Cols, blk), res, lines)
	if s.verify {
		printResidual(stdout, "‖C − AB‖/(‖A‖·‖B‖·k·ε)", gemmResidual(a, b, c))
	}
	return nil
}

func (s *shortcut) runTsqr(ctx context.Context, stdout, stderr io.Writer, a blas64.General) error {
	s.engine.fitBlock("tsqr", a.Rows, a.Cols)
	blk := s.engine.block
	n := tileCount(a.Rows, blk)
	plan, err := loadShipped("tsqr", map[string]int64{"N": n})
	if err != nil {
		return err
	}
	levels := int32(math.Ceil(math.Log2(float64(n)) - 1e-9))
	spec := job.Spec{Plan: plan, Block: blk, Inputs: []job.Input{{Name: "A", Array: a}}, Outputs: []string{"R"}}
	res, lines, r, err := s.collect(ctx, stderr, spec, "R", []int32{0, levels})
	if err != nil {
		return err
	}
	printJobSummary(stdout, fmt.Sprintf("tsqr %d×%d, row blocks of %d", a.Rows, a.Cols, blk), res, lines)
	if s.verify {
		printResidual(stdout, "‖RᵀR − AᵀA‖/(‖A‖²·m·ε)", tsqrResidual(a, r))
	}
	return nil
}

// collect runs the job, writes -o if given and returns the output matrix
// when it is needed for --verify.
func (s *shortcut) collect(ctx context.Context, stderr io.Writer, spec job.Spec, name string, fixed []int32) (*job.Result, []string, blas64.General, error) {
	env, err := s.engine.open(ctx)
	if err != nil {
		return nil, nil, blas64.General{}, err
	}
	defer env.Tiles.Close()
	defer env.State.Close()
	res, err := job.Run(ctx, env, spec, s.engine.options(stderr))
	if err != nil {
		return nil, nil, blas64.General{}, err
	}
	defer job.Cleanup(context.WithoutCancel(ctx), env.Tiles, res)
	var out blas64.General
	var lines []string
	if err := s.engine.writeFiles([]*job.Result{res}, &lines); err != nil {
		return nil, nil, out, err
	}
	if s.out != "" || s.verify {
		if out, err = blockstore.Assemble(ctx, env.Tiles, res.Matrices[name], fixed, 16); err != nil {
			return nil, nil, out, err
		}
	}
	if s.out != "" {
		if err := blockstore.WriteMatrixFile(s.out, out); err != nil {
			return nil, nil, out, err
		}
		lines = append(lines, fmt.Sprintf("%s → %s (%d×%d)", name, s.out, out.Rows, out.Cols))
	}
	return res, lines, out, nil
}

func printResidual(w io.Writer, what string, r residual) {
	how := "exact"
	if r.estimated {
		how = fmt.Sprintf("estimated from %d random probes", probes)
	}
	verdict := "ok"
	if r.value > 30 || math.IsNaN(r.value) {
		verdict = "TOO LARGE"
	}
	fmt.Fprintf(w, "  %-16s %s = %.3g (%s; %s, bound 30)\n", "residual", what, r.value, verdict, how)
}

func maxProcs() int { return runtime.GOMAXPROCS(0) }

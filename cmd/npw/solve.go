package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"github.com/spf13/cobra"
	"gonum.org/v1/gonum/blas/blas64"
)

type solveOptions struct {
	algFlags
	a, b string // A.npy and B.npy; empty to generate them
	spd  bool   // --spd: solve with Cholesky
	nrhs int    // columns of a generated B
}

func newSolveCmd() *cobra.Command {
	var opts solveOptions
	cmd := &cobra.Command{
		Use:   "solve [A.npy B.npy] -o X.npy [--spd] [--n N --nrhs K | --m M --n N] [--verify]",
		Short: "Solve A X = B (Cholesky for --spd, LU otherwise, least squares for tall A)",
		Long: `Solve solves A X = B. With --spd, A is symmetric positive definite and
one job factors it (Cholesky) and runs both triangular solves. Otherwise
a square A is factored by LU with tournament pivoting and X = U⁻¹L⁻¹B[P,:];
a tall A (more rows than columns) gets the least-squares solution through
QR: X = R⁻¹(QᵀB)[:n]. B may be a 1-D vector. Generated inputs: --n and
--nrhs (square), or --m > --n (least squares). --verify prints the
backward error ‖AX − B‖/(‖A‖·‖X‖·n·ε), or for least squares
‖Aᵀ(AX − B)‖/(‖A‖·(‖A‖·‖X‖ + ‖B‖)·n·ε).`,
		Example: `  npw solve a.npy b.npy -o x.npy
  npw solve a.npy b.npy -o x.npy --spd
  npw solve --n 2048 --nrhs 4 --block 256 --verify`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 0 && len(args) != 2 {
				return usagef("give two files, A.npy and B.npy, or sizes")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.a, opts.b = arg(args, 0), arg(args, 1)
			return runSolve(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), &opts)
		},
	}
	opts.register(cmd, "mn")
	cmd.Flags().BoolVar(&opts.spd, "spd", false, "A is symmetric positive definite: solve with Cholesky")
	cmd.Flags().IntVar(&opts.nrhs, "nrhs", 1, "columns of a generated B")
	opts.registerCompare(cmd, "Potrf+Potrs, Getrf+Getrs or Gels")
	return cmd
}

// inputs reads or generates A and B and checks that they make a system
// npw solves.
func (opts *solveOptions) inputs() (a, b blas64.General, err error) {
	rows := opts.m
	if rows == 0 {
		rows = opts.n
	}
	if opts.a == "" && (opts.n <= 0 || opts.nrhs <= 0) {
		return a, b, usagef("give A.npy and B.npy or sizes: --n N --nrhs K (and --m M for least squares)")
	}
	if a, err = opts.input(opts.a, 0, func(rng *rand.Rand) (blas64.General, error) {
		if opts.spd {
			return randomSPD(rng, opts.n), nil
		}
		return randomGaussian(rng, rows, opts.n), nil
	}); err != nil {
		return a, b, err
	}
	if opts.b != "" {
		b, err = readMatrix(opts.b, true)
	} else {
		b, err = opts.input("", 1, func(rng *rand.Rand) (blas64.General, error) { return randomGaussian(rng, rows, opts.nrhs), nil })
	}
	if err != nil {
		return a, b, err
	}
	switch {
	case b.Rows != a.Rows:
		return a, b, fmt.Errorf("solve: B has %d rows, A has %d", b.Rows, a.Rows)
	case a.Rows < a.Cols:
		return a, b, fmt.Errorf("solve: A is %d×%d, with more columns than rows; the system is underdetermined", a.Rows, a.Cols)
	case opts.spd && a.Rows != a.Cols:
		return a, b, fmt.Errorf("solve: --spd needs a square A, got %d×%d", a.Rows, a.Cols)
	}
	return a, b, nil
}

func runSolve(ctx context.Context, stdout, stderr io.Writer, opts *solveOptions) error {
	if err := opts.check(); err != nil {
		return err
	}
	a, b, err := opts.inputs()
	if err != nil {
		return err
	}
	opts.engine.fitBlock("solve", a.Rows, a.Cols)
	s, err := opts.engine.session(ctx, stderr)
	if err != nil {
		return err
	}
	defer s.close()
	A, err := s.upload("A", a)
	if err != nil {
		return err
	}
	B, err := s.upload("B", b)
	if err != nil {
		return err
	}
	start := time.Now()
	method, solve := "LU with tournament pivoting", s.eng.Solve
	switch {
	case opts.spd:
		method, solve = "Cholesky", s.eng.SolveSPD
	case a.Rows > a.Cols:
		method, solve = "least squares through QR", s.eng.LeastSquares
	}
	X, err := solve(ctx, A, B)
	if err != nil {
		return err
	}
	elapsed := time.Since(start)
	x, err := s.result(X, opts.out, "X", opts.verify)
	if err != nil {
		return err
	}
	if err := s.summary(stdout, fmt.Sprintf("solve %d×%d with %d right-hand sides, %s, block %d", a.Rows, a.Cols, b.Cols, method, opts.engine.block)); err != nil {
		return err
	}
	if opts.compare {
		if err := printCompare(stdout, solveReference(a, b, opts.spd), elapsed); err != nil {
			return err
		}
	}
	if opts.verify && a.Rows == a.Cols {
		printResidual(stdout, "‖AX − B‖/(‖A‖·‖X‖·n·ε)", solveResidual(a, b, x.RawMatrix()))
	} else if opts.verify {
		printResidual(stdout, "‖Aᵀ(AX − B)‖/(‖A‖(‖A‖‖X‖+‖B‖)nε)", leastSquaresResidual(a, b, x.RawMatrix()))
	}
	return nil
}

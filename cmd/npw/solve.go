package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	engine "github.com/npw-dev/npw"
)

type solveOptions struct {
	algFlags
	spd  bool // --spd: solve with Cholesky
	nrhs int  // columns of a generated B
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
		Args: noneOrTwo("give two files, A.npy and B.npy, or sizes"),
		RunE: runE(&opts, runSolve),
	}
	opts.register(cmd, "mn")
	cmd.Flags().BoolVar(&opts.spd, "spd", false, "A is symmetric positive definite: solve with Cholesky")
	cmd.Flags().IntVar(&opts.nrhs, "nrhs", 1, "columns of a generated B")
	opts.registerCompare(cmd, "Potrf+Potrs, Getrf+Getrs or Gels")
	return cmd
}

// inputs opens or generates A and B (a 1-D B is one column) and checks
// that they make a system npw solves.
func (opts *solveOptions) inputs(ctx context.Context) ([]*operand, error) {
	rows := opts.m
	if rows == 0 {
		rows = opts.n
	}
	if opts.a == "" && (opts.n <= 0 || opts.nrhs <= 0) {
		return nil, usagef("give A.npy and B.npy or sizes: --n N --nrhs K (and --m M for least squares)")
	}
	a, err := opts.input(ctx, opts.a, 0, func() (genSpec, error) {
		if opts.spd {
			return genSpec{engine.SPD, opts.n, opts.n}, nil
		}
		return genSpec{engine.Gaussian, rows, opts.n}, nil
	})
	if err != nil {
		return nil, err
	}
	b, err := opts.input(ctx, opts.b, 1, func() (genSpec, error) { return genSpec{engine.Gaussian, rows, opts.nrhs}, nil })
	if err != nil {
		return nil, err
	}
	switch {
	case b.rows != a.rows:
		return nil, fmt.Errorf("solve: B has %d rows, A has %d", b.rows, a.rows)
	case a.rows < a.cols:
		return nil, fmt.Errorf("solve: A is %d×%d, with more columns than rows; the system is underdetermined", a.rows, a.cols)
	case opts.spd && a.rows != a.cols:
		return nil, fmt.Errorf("solve: --spd needs a square A, got %d×%d", a.rows, a.cols)
	}
	return []*operand{a, b}, nil
}

func runSolve(ctx context.Context, stdout, stderr io.Writer, opts *solveOptions) error {
	return opts.run(ctx, stderr, "solve", opts.inputs, func(s *algSession) error {
		a, b := s.in[0].data, s.in[1].data
		method, solve := "LU with tournament pivoting", s.eng.Solve
		switch {
		case opts.spd:
			method, solve = "Cholesky", s.eng.SolveSPD
		case s.in[0].rows > s.in[0].cols:
			method, solve = "least squares through QR", s.eng.LeastSquares
		}
		x, err := s.computeAB("X", solve)
		if err != nil {
			return err
		}
		return s.finish(stdout, fmt.Sprintf("solve %d×%d with %d right-hand sides, %s, block %d", s.in[0].rows, s.in[0].cols, s.in[1].cols, method, opts.engine.block),
			s.compared(func() reference { return solveReference(a, b, opts.spd) }),
			s.verified(func(w io.Writer) error {
				if a.Rows == a.Cols {
					printResidual(w, "‖AX − B‖/(‖A‖·‖X‖·n·ε)", solveResidual(a, b, x.RawMatrix()))
				} else {
					printResidual(w, "‖Aᵀ(AX − B)‖/(‖A‖(‖A‖‖X‖+‖B‖)nε)", leastSquaresResidual(a, b, x.RawMatrix()))
				}
				return nil
			}))
	})
}

package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/lapack/lapack64"
)

type invOptions struct {
	algFlags
	spd bool // --spd: potri
}

func newInvCmd() *cobra.Command {
	var opts invOptions
	cmd := &cobra.Command{
		Use:   "inv [A.npy] -o X.npy [--spd] [--n N] [--verify] [--compare]",
		Short: "Invert a square matrix: X = A⁻¹ (potri for --spd, LU otherwise)",
		Long: `Inv inverts a square A, read from a .npy file or generated (--n, --seed).
With --spd, A is symmetric positive definite (only its lower triangle is
read) and one job runs the shipped potri program: A = L Lᵀ, W = L⁻¹ and
X = Wᵀ W, about n³ flops. Otherwise A X = I is solved as npw solve does:
LU with tournament pivoting, then the two triangular solves. A singular
matrix, or one that is not positive definite with --spd, fails with an
error. --verify prints ‖AX − I‖/(‖A‖·‖X‖·n·ε); --compare times gonum's
LAPACK (Potrf+Potri, or Getrf+Getri) on the same matrix.`,
		Example: `  npw inv a.npy -o x.npy --spd
  npw inv --n 4096 --block 512 --spd --verify --compare`,
		Args: atMost(1, "one file, A.npy"),
		RunE: runE(&opts, runInv),
	}
	opts.register(cmd, "n")
	cmd.Flags().BoolVar(&opts.spd, "spd", false, "A is symmetric positive definite: invert it with potri (Cholesky)")
	opts.registerCompare(cmd, "Potrf+Potri or Getrf+Getri")
	return cmd
}

func runInv(ctx context.Context, stdout, stderr io.Writer, opts *invOptions) error {
	generate := opts.gaussian("n", "n")
	if opts.spd {
		generate = opts.algFlags.spd()
	}
	load := opts.squareA(generate, "inv: the matrix must be square, got %d×%d")
	return opts.run(ctx, stderr, "inv", load, func(s *algSession) error {
		method, invert := "LU with tournament pivoting, A X = I", s.eng.Inverse
		if opts.spd {
			method, invert = "potri (Cholesky, L⁻¹, L⁻ᵀ L⁻¹)", s.eng.InverseSPD
		}
		x, err := s.compute("X", invert)
		if err != nil {
			return err
		}
		a := s.in[0].data
		return s.finish(stdout, fmt.Sprintf("inv %d×%d, %s, block %d", s.in[0].rows, s.in[0].cols, method, opts.engine.block),
			s.verifiedResidual("‖AX − I‖/(‖A‖·‖X‖·n·ε)", func() residual { return inverseResidual(a, x.RawMatrix()) }),
			s.compared(func() reference { return inverseReference(a, opts.spd) }))
	})
}

// inverseReference is Potrf+Potri for an SPD A, Getrf+Getri otherwise.
func inverseReference(a blas64.General, spd bool) reference {
	c := dup(a)
	if spd {
		return reference{"Potrf+Potri", func() error {
			if _, ok := lapack64.Potrf(blas64.Symmetric{Uplo: blas.Lower, N: c.Rows, Stride: c.Stride, Data: c.Data}); !ok {
				return fmt.Errorf("the matrix is not positive definite")
			}
			if _, ok := lapack64.Potri(blas64.Triangular{Uplo: blas.Lower, Diag: blas.NonUnit, N: c.Rows, Stride: c.Stride, Data: c.Data}); !ok {
				return fmt.Errorf("the matrix is singular")
			}
			return nil
		}}
	}
	ipiv := make([]int, c.Rows)
	return reference{"Getrf+Getri", func() error {
		if !lapack64.Getrf(c, ipiv) {
			return fmt.Errorf("the matrix is singular")
		}
		work := workspace(func(w []float64) { lapack64.Getri(c, ipiv, w, -1) })
		if !lapack64.Getri(c, ipiv, work, len(work)) {
			return fmt.Errorf("the matrix is singular")
		}
		return nil
	}}
}

package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"
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
X = Wᵀ W, about n³ flops. Otherwise A X = I is solved in jobs: LU with
tournament pivoting (A[P, :] = L U), the permutation matrix I[P, :] made
by the workers from the n row ids, and the two triangular solves. A singular
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

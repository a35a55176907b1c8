package main

import (
	"context"
	"io"

	"github.com/spf13/cobra"
)

func newCholeskyCmd() *cobra.Command {
	return newAlgCmd(&cobra.Command{
		Use:   "cholesky [A.npy] [-o L.npy] [--n N] [--verify] [--compare]",
		Short: "Factor a symmetric positive definite matrix: A = L Lᵀ",
		Long: `Cholesky runs the shipped cholesky program on A, read from a .npy file
or generated (--n, --seed: a random symmetric matrix with a dominant
diagonal). Only A's lower triangle is read. --compare also factors the
same matrix with gonum's single-node lapack64.Potrf on all cores, in
this run, and prints the ratio of the times.`,
		Example: `  npw cholesky --n 4096 --block 512 --verify
  npw cholesky a.npy -o l.npy --workers 8`,
	}, "n", "Potrf", runCholesky)
}

func runCholesky(ctx context.Context, stdout, stderr io.Writer, opts *algFlags) error {
	load := opts.squareA(opts.spd(), "cholesky needs a square matrix, got %d×%d")
	opts.detachAs = "O"
	return opts.run(ctx, stderr, "cholesky", load, func(s *algSession) error {
		l, err := s.compute("O", s.eng.Cholesky)
		if err != nil {
			return err
		}
		a := s.in[0].data
		return s.finish(stdout, s.title(),
			s.verifiedResidual("‖A − LLᵀ‖/(‖A‖·n·ε)", func() residual { return choleskyResidual(a, l.RawMatrix()) }),
			s.compared(func() reference { return potrfReference(a) }))
	})
}

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

type choleskyOptions struct {
	algFlags
	a string // A.npy; empty to generate A
}

func newCholeskyCmd() *cobra.Command {
	var opts choleskyOptions
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
		Args: atMost(1, "one file, A.npy"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.a = arg(args, 0)
			return runCholesky(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), &opts)
		},
	}
	opts.register(cmd, "n")
	opts.registerCompare(cmd, "Potrf")
	return cmd
}

func runCholesky(ctx context.Context, stdout, stderr io.Writer, opts *choleskyOptions) error {
	if err := opts.check(); err != nil {
		return err
	}
	a, err := opts.input(opts.a, 0, func(rng *rand.Rand) (blas64.General, error) {
		if opts.n <= 0 {
			return blas64.General{}, usagef("give A.npy or a size: --n N")
		}
		return randomSPD(rng, opts.n), nil
	})
	if err != nil {
		return err
	}
	if a.Rows != a.Cols {
		return fmt.Errorf("cholesky needs a square matrix, got %d×%d", a.Rows, a.Cols)
	}
	opts.engine.fitBlock("cholesky", a.Rows, a.Cols)
	s, err := opts.engine.session(ctx, stderr)
	if err != nil {
		return err
	}
	defer s.close()
	A, err := s.upload("A", a)
	if err != nil {
		return err
	}
	start := time.Now()
	L, err := s.eng.Cholesky(ctx, A)
	if err != nil {
		return err
	}
	elapsed := time.Since(start)
	l, err := s.result(L, opts.out, "O", opts.verify)
	if err != nil {
		return err
	}
	if err := s.summary(stdout, fmt.Sprintf("cholesky %d×%d, block %d", a.Rows, a.Cols, opts.engine.block)); err != nil {
		return err
	}
	if opts.verify {
		printResidual(stdout, "‖A − LLᵀ‖/(‖A‖·n·ε)", choleskyResidual(a, l.RawMatrix()))
	}
	if opts.compare {
		return printCompare(stdout, potrfReference(a), elapsed)
	}
	return nil
}

package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"gonum.org/v1/gonum/blas/blas64"
)

// gemmOptions are algFlags; A and B are generated m×k and k×n.
type gemmOptions struct{ algFlags }

func newGemmCmd() *cobra.Command {
	var opts gemmOptions
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
		Args: noneOrTwo("give two files, A.npy and B.npy, or sizes --m --k --n"),
		RunE: runE(&opts, runGemm),
	}
	opts.register(cmd, "mkn")
	return cmd
}

// inputs reads or generates A and B, which must be conformable.
func (opts *gemmOptions) inputs() ([]blas64.General, error) {
	if opts.a == "" && (opts.m <= 0 || opts.k <= 0 || opts.n <= 0) {
		return nil, usagef("give A.npy and B.npy or sizes: --m M --k K --n N")
	}
	a, err := opts.input(opts.a, 0, opts.gaussian("m", "k"))
	if err != nil {
		return nil, err
	}
	b, err := opts.input(opts.b, 1, opts.gaussian("k", "n"))
	if err == nil && a.Cols != b.Rows {
		err = fmt.Errorf("gemm: A is %d×%d and B is %d×%d; A's columns must match B's rows", a.Rows, a.Cols, b.Rows, b.Cols)
	}
	return []blas64.General{a, b}, err
}

func runGemm(ctx context.Context, stdout, stderr io.Writer, opts *gemmOptions) error {
	return opts.run(ctx, stderr, "gemm", opts.inputs, func(s *algSession) error {
		c, err := s.computeAB("C", s.eng.GEMM)
		if err != nil {
			return err
		}
		a, b := s.in[0], s.in[1]
		return s.finish(stdout, fmt.Sprintf("gemm %d×%d · %d×%d, block %d", a.Rows, a.Cols, b.Rows, b.Cols, opts.engine.block),
			s.verifiedResidual("‖C − AB‖/(‖A‖·‖B‖·k·ε)", func() residual { return gemmResidual(a, b, c.RawMatrix()) }))
	})
}

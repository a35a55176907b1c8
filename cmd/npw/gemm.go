package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"
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

// inputs opens or generates A and B, which must be conformable.
func (opts *gemmOptions) inputs(ctx context.Context) ([]*operand, error) {
	if opts.a == "" && (opts.m <= 0 || opts.k <= 0 || opts.n <= 0) {
		return nil, usagef("give A.npy and B.npy or sizes: --m M --k K --n N")
	}
	a, err := opts.input(ctx, opts.a, 0, opts.gaussian("m", "k"))
	if err != nil {
		return nil, err
	}
	b, err := opts.input(ctx, opts.b, 1, opts.gaussian("k", "n"))
	if err == nil && a.cols != b.rows {
		err = fmt.Errorf("gemm: A is %d×%d and B is %d×%d; A's columns must match B's rows", a.rows, a.cols, b.rows, b.cols)
	}
	return []*operand{a, b}, err
}

func runGemm(ctx context.Context, stdout, stderr io.Writer, opts *gemmOptions) error {
	opts.detachAs = "C"
	return opts.run(ctx, stderr, "gemm", opts.inputs, func(s *algSession) error {
		c, err := s.computeAB("C", s.eng.GEMM)
		if err != nil {
			return err
		}
		a, b := s.in[0].data, s.in[1].data
		return s.finish(stdout, fmt.Sprintf("gemm %d×%d · %d×%d, block %d", s.in[0].rows, s.in[0].cols, s.in[1].rows, s.in[1].cols, opts.engine.block),
			s.verifiedResidual("‖C − AB‖/(‖A‖·‖B‖·k·ε)", func() residual { return gemmResidual(a, b, c.RawMatrix()) }))
	})
}

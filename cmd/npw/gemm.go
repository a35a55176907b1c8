package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

type gemmOptions struct {
	algFlags
	a, b string // A.npy and B.npy; empty to generate them
}

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
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 0 && len(args) != 2 {
				return usagef("give two files, A.npy and B.npy, or sizes --m --k --n")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.a, opts.b = arg(args, 0), arg(args, 1)
			return runGemm(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), &opts)
		},
	}
	opts.register(cmd, "mkn")
	return cmd
}

func runGemm(ctx context.Context, stdout, stderr io.Writer, opts *gemmOptions) error {
	if err := opts.check(); err != nil {
		return err
	}
	if opts.a == "" && (opts.m <= 0 || opts.k <= 0 || opts.n <= 0) {
		return usagef("give A.npy and B.npy or sizes: --m M --k K --n N")
	}
	a, err := opts.input(opts.a, 0, opts.gaussian("m", "k"))
	if err != nil {
		return err
	}
	b, err := opts.input(opts.b, 1, opts.gaussian("k", "n"))
	if err != nil {
		return err
	}
	if a.Cols != b.Rows {
		return fmt.Errorf("gemm: A is %d×%d and B is %d×%d; A's columns must match B's rows", a.Rows, a.Cols, b.Rows, b.Cols)
	}
	opts.engine.fitBlock("gemm", max(a.Rows, a.Cols), max(b.Rows, b.Cols))
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
	C, err := s.eng.GEMM(ctx, A, B)
	if err != nil {
		return err
	}
	c, err := s.result(C, opts.out, "C", opts.verify)
	if err != nil {
		return err
	}
	if err := s.summary(stdout, fmt.Sprintf("gemm %d×%d · %d×%d, block %d", a.Rows, a.Cols, b.Rows, b.Cols, opts.engine.block)); err != nil {
		return err
	}
	if opts.verify {
		printResidual(stdout, "‖C − AB‖/(‖A‖·‖B‖·k·ε)", gemmResidual(a, b, c.RawMatrix()))
	}
	return nil
}

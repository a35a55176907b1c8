package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

func newTsqrCmd() *cobra.Command {
	return newAlgCmd(&cobra.Command{
		Use:   "tsqr [A.npy] [-o R.npy] [--m M --n N] [--verify]",
		Short: "R factor of a tall matrix: A = Q R",
		Long: `Tsqr runs the shipped tsqr program on A, read from a .npy file or
generated (--m, --n, --seed: Gaussian): a binary tree of QR
factorisations over row blocks of --block rows. R is upper triangular;
--verify compares RᵀR with AᵀA.`,
		Example: `  npw tsqr --m 100000 --n 100 --block 10000 --verify`,
	}, "mn", "", runTsqr)
}

func runTsqr(ctx context.Context, stdout, stderr io.Writer, opts *algFlags) error {
	return opts.run(ctx, stderr, "tsqr", opts.matrixA(opts.gaussian("m", "n")), func(s *algSession) error {
		r, err := s.compute("R", s.eng.TSQR)
		if err != nil {
			return err
		}
		a := s.in[0].data
		return s.finish(stdout, fmt.Sprintf("tsqr %d×%d, row blocks of %d", s.in[0].rows, s.in[0].cols, opts.engine.block),
			s.verifiedResidual("‖RᵀR − AᵀA‖/(‖A‖²·m·ε)", func() residual { return tsqrResidual(a, r.RawMatrix()) }))
	})
}

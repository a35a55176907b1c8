package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

type tsqrOptions struct {
	algFlags
	a string // A.npy; empty to generate A
}

func newTsqrCmd() *cobra.Command {
	var opts tsqrOptions
	cmd := &cobra.Command{
		Use:   "tsqr [A.npy] [-o R.npy] [--m M --n N] [--verify]",
		Short: "R factor of a tall matrix: A = Q R",
		Long: `Tsqr runs the shipped tsqr program on A, read from a .npy file or
generated (--m, --n, --seed: Gaussian): a binary tree of QR
factorisations over row blocks of --block rows. R is upper triangular;
--verify compares RᵀR with AᵀA.`,
		Example: `  npw tsqr --m 100000 --n 100 --block 10000 --verify`,
		Args:    atMost(1, "one file, A.npy"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.a = arg(args, 0)
			return runTsqr(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), &opts)
		},
	}
	opts.register(cmd, "mn")
	return cmd
}

func runTsqr(ctx context.Context, stdout, stderr io.Writer, opts *tsqrOptions) error {
	if err := opts.check(); err != nil {
		return err
	}
	a, err := opts.input(opts.a, 0, opts.gaussian("m", "n"))
	if err != nil {
		return err
	}
	opts.engine.fitBlock("tsqr", a.Rows, a.Cols)
	s, err := opts.engine.session(ctx, stderr)
	if err != nil {
		return err
	}
	defer s.close()
	A, err := s.upload("A", a)
	if err != nil {
		return err
	}
	R, err := s.eng.TSQR(ctx, A)
	if err != nil {
		return err
	}
	r, err := s.result(R, opts.out, "R", opts.verify)
	if err != nil {
		return err
	}
	if err := s.summary(stdout, fmt.Sprintf("tsqr %d×%d, row blocks of %d", a.Rows, a.Cols, opts.engine.block)); err != nil {
		return err
	}
	if opts.verify {
		printResidual(stdout, "‖RᵀR − AᵀA‖/(‖A‖²·m·ε)", tsqrResidual(a, r.RawMatrix()))
	}
	return nil
}

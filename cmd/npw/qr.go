package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	"gonum.org/v1/gonum/mat"
)

type qrOptions struct {
	algFlags
	a string // A.npy; empty to generate A
	q string // --q: where to write Q
}

func newQRCmd() *cobra.Command {
	var opts qrOptions
	cmd := &cobra.Command{
		Use:   "qr [A.npy] [-o R.npy] [--q Q.npy] [--m M --n N] [--verify]",
		Short: "QR factorisation A = Q R (communication-avoiding, binary trees)",
		Long: `Qr factors A, read from a .npy file or generated (--m, --n, --seed), with
the shipped qr program: tiled communication-avoiding QR with a binary
reduction tree over each panel. R (min(m,n)×n, upper triangular) is
written with -o; --q also forms the thin Q (m×min(m,n)) explicitly, with
a second job. --verify prints ‖A − QR‖/(‖A‖·n·ε) and ‖QᵀQ − I‖/(n·ε)
(it forms Q).`,
		Example: `  npw qr a.npy -o r.npy --q q.npy
  npw qr --m 4096 --n 4096 --block 512 --verify`,
		Args: atMost(1, "one file, A.npy"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.a = arg(args, 0)
			return runQR(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), &opts)
		},
	}
	opts.register(cmd, "mn")
	opts.registerCompare(cmd, "Geqrf (and Orgqr when Q is formed)")
	cmd.Flags().StringVar(&opts.q, "q", "", "also form the thin Q and write it to `FILE.npy`")
	return cmd
}

func runQR(ctx context.Context, stdout, stderr io.Writer, opts *qrOptions) error {
	if err := opts.check(outputPath{"--q", opts.q}); err != nil {
		return err
	}
	a, err := opts.input(opts.a, 0, opts.gaussian("m", "n"))
	if err != nil {
		return err
	}
	opts.engine.fitBlock("qr", a.Rows, a.Cols)
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
	f, err := s.eng.QR(ctx, A)
	if err != nil {
		return err
	}
	elapsed := time.Since(start)
	r, err := s.result(f.R, opts.out, "R", opts.verify)
	if err != nil {
		return err
	}
	var q *mat.Dense
	formQ := opts.q != "" || opts.verify
	if formQ {
		start := time.Now()
		Q, err := f.Q(ctx)
		if err != nil {
			return err
		}
		elapsed += time.Since(start)
		if q, err = s.result(Q, opts.q, "Q", true); err != nil {
			return err
		}
	}
	if err := s.summary(stdout, fmt.Sprintf("qr %d×%d, block %d", a.Rows, a.Cols, opts.engine.block)); err != nil {
		return err
	}
	if opts.compare {
		if err := printCompare(stdout, qrReference(a, formQ), elapsed); err != nil {
			return err
		}
	}
	if opts.verify {
		qr, orth := qrResiduals(a, q.RawMatrix(), r.RawMatrix())
		printResidual(stdout, "‖A − QR‖/(‖A‖·n·ε)", qr)
		printResidual(stdout, "‖QᵀQ − I‖/(n·ε)", orth)
	}
	return nil
}

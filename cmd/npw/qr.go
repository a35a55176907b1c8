package main

import (
	"context"
	"io"

	"github.com/spf13/cobra"
	"gonum.org/v1/gonum/mat"

	engine "github.com/npw-dev/npw"
)

type qrOptions struct {
	algFlags
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
		RunE: runE(&opts, runQR),
	}
	opts.register(cmd, "mn")
	opts.registerCompare(cmd, "Geqrf (and Orgqr when Q is formed)")
	opts.registerOutput(cmd, &opts.q, "q", "also form the thin Q and write it to `FILE.npy`")
	return cmd
}

func runQR(ctx context.Context, stdout, stderr io.Writer, opts *qrOptions) error {
	opts.detachAs = "R"
	return opts.run(ctx, stderr, "qr", opts.matrixA(opts.gaussian("m", "n")), func(s *algSession) error {
		f, err := timedA(s, s.eng.QR)
		if err != nil {
			return err
		}
		r, err := s.result(f.R, opts.out, "R", opts.verify)
		if err != nil {
			return err
		}
		formQ := opts.q != "" || opts.verify
		q, err := opts.formQ(s, f, formQ)
		if err != nil {
			return err
		}
		a := s.in[0].data
		return s.finish(stdout, s.title(),
			s.compared(func() reference { return qrReference(a, formQ) }),
			s.verified(func(w io.Writer) error {
				qr, orth := qrResiduals(a, q.RawMatrix(), r.RawMatrix())
				printResidual(w, "‖A − QR‖/(‖A‖·n·ε)", qr)
				printResidual(w, "‖QᵀQ − I‖/(n·ε)", orth)
				return nil
			}))
	})
}

// formQ forms the thin Q of f, timed, if form says so, and writes it to
// --q if given.
func (opts *qrOptions) formQ(s *algSession, f *engine.QRFactors, form bool) (*mat.Dense, error) {
	if !form {
		return nil, nil
	}
	Q, err := timed(s, f.Q)
	if err != nil {
		return nil, err
	}
	return s.result(Q, opts.q, "Q", true)
}

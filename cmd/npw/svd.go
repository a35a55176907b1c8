package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	"gonum.org/v1/gonum/blas/blas64"

	"github.com/npw-dev/npw/blockstore"
)

type svdOptions struct {
	algFlags
	a string // A.npy; empty to generate A
}

func newSVDCmd() *cobra.Command {
	var opts svdOptions
	cmd := &cobra.Command{
		Use:   "svd [A.npy] -o S.npy [--m M --n N] [--verify]",
		Short: "Singular values of A (values only)",
		Long: `Svd computes the singular values of A, read from a .npy file or generated
(--m, --n, --seed), largest first, and writes them as a 1-D .npy file.
The shipped bdfac program reduces A to banded form in parallel on the
workers (QR and LQ panels with binary trees); the band is then reduced to
bidiagonal form and its singular values computed in this client, in
O(n·b) memory. Singular vectors are not computed. --verify compares with
gonum's dense Dgesvd (up to n = 2048).`,
		Example: `  npw svd a.npy -o s.npy
  npw svd --m 2048 --n 2048 --block 256 --verify`,
		Args: atMost(1, "one file, A.npy"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.a = arg(args, 0)
			return runSVD(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), &opts)
		},
	}
	opts.register(cmd, "mn")
	opts.registerCompare(cmd, "Gesvd (values only)")
	return cmd
}

func runSVD(ctx context.Context, stdout, stderr io.Writer, opts *svdOptions) error {
	if err := opts.check(); err != nil {
		return err
	}
	a, err := opts.input(opts.a, 0, opts.gaussian("m", "n"))
	if err != nil {
		return err
	}
	opts.engine.fitBlock("svd", a.Rows, a.Cols)
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
	sv, err := s.eng.SVD(ctx, A)
	if err != nil {
		return err
	}
	total := time.Since(start)
	if opts.out != "" {
		if err := blockstore.WriteNPYFile(opts.out, []int{len(sv)}, sv); err != nil {
			return err
		}
		s.note("S → %s (%d values, largest first)", opts.out, len(sv))
	}
	if err := s.summary(stdout, fmt.Sprintf("svd %d×%d, block %d", a.Rows, a.Cols, opts.engine.block)); err != nil {
		return err
	}
	last := total
	for _, r := range s.results {
		last -= r.Wall
	}
	fmt.Fprintf(stdout, "  %-16s band → bidiagonal → values in this client: %.2f s (whole SVD %.2f s)\n", "last step", last.Seconds(), total.Seconds())
	if len(sv) > 0 {
		fmt.Fprintf(stdout, "  %-16s largest %.6g, smallest %.6g\n", "singular values", sv[0], sv[len(sv)-1])
	}
	if opts.compare {
		if err := printCompare(stdout, svdReference(a), total); err != nil {
			return err
		}
	}
	if opts.verify {
		return printSVDCheck(stdout, a, sv)
	}
	return nil
}

// printSVDCheck compares the values with gonum's dense SVD, up to
// exactLimit.
func printSVDCheck(w io.Writer, a blas64.General, sv []float64) error {
	if max(a.Rows, a.Cols) > exactLimit {
		fmt.Fprintf(w, "  %-16s skipped: a dense SVD above n = %d is the cost --verify avoids\n", "check", exactLimit)
		return nil
	}
	e, err := svdError(a, sv)
	if err != nil {
		return err
	}
	verdict := "ok"
	if !(e <= 1e-10) {
		verdict = "TOO LARGE"
	}
	fmt.Fprintf(w, "  %-16s max |σ − σ_Dgesvd| / σmax = %.3g (%s; bound 1e-10)\n", "check", e, verdict)
	return nil
}

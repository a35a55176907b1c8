package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"gonum.org/v1/gonum/blas/blas64"

	"github.com/npw-dev/npw/blockstore"
)

type eighOptions struct {
	algFlags
	values string // --values: where the eigenvalues go
}

func newEighCmd() *cobra.Command {
	var opts eighOptions
	cmd := &cobra.Command{
		Use:   "eigh [A.npy] --values W.npy [--n N] [--verify] [--compare]",
		Short: "Eigenvalues of a symmetric matrix (values only)",
		Long: `Eigh computes the eigenvalues of a symmetric A, read from a .npy file or
generated (--n, --seed: the symmetric matrix of a Gaussian one's lower
triangle), ascending, and writes them as a 1-D .npy file (--values, or
-o). Only A's lower triangle is read, as LAPACK's dsyev and SciPy's eigh
read it.

One job of the shipped sytrb program runs it on the workers, on tiles of
at most 256 (cut from A's by the workers): they reduce A to a symmetric
band by two-sided tile QR (A = Q B Qᵀ), gather the band a block row at a
time, and one of them chases it to tridiagonal form and computes its
eigenvalues (LAPACK's dsterf), in O(n·b) memory. Eigenvectors are not
computed yet. --verify compares with gonum's dense Dsyev (up to
n = 2048).`,
		Example: `  npw eigh a.npy --values w.npy
  npw eigh --n 4096 --block 256 --compare`,
		Args: atMost(1, "one file, A.npy"),
		RunE: runE(&opts, runEigh),
	}
	opts.register(cmd, "n")
	opts.registerOutput(cmd, &opts.values, "values", "write the eigenvalues to `W.npy` (1-D, ascending)")
	opts.registerCompare(cmd, "Syev (values only)")
	return cmd
}

func runEigh(ctx context.Context, stdout, stderr io.Writer, opts *eighOptions) error {
	if opts.values != "" && opts.out != "" {
		return usagef("eigh writes one file: give --values or -o, not both")
	}
	path := opts.values
	if path == "" {
		path = opts.out
	}
	load := opts.squareA(opts.gaussian("n", "n"), "eigh: the matrix must be square, got %d×%d")
	return opts.run(ctx, stderr, "eigh", load, func(s *algSession) error {
		w, err := timedA(s, s.eng.Eigvalsh)
		if err != nil {
			return err
		}
		if path != "" {
			if err := blockstore.WriteNPYFile(path, []int{len(w)}, w); err != nil {
				return err
			}
			s.note("W → %s (%d values, ascending)", path, len(w))
		}
		a := s.in[0].data
		return s.finish(stdout, s.title(),
			func(out io.Writer) error {
				if len(w) > 0 {
					fmt.Fprintf(out, "  %-16s smallest %.6g, largest %.6g\n", "eigenvalues", w[0], w[len(w)-1])
				}
				return nil
			},
			s.compared(func() reference { return eighReference(a) }),
			s.verified(func(out io.Writer) error { return printEighCheck(out, a, w) }))
	})
}

// printEighCheck compares the values with gonum's dense symmetric
// eigensolver, up to exactLimit.
func printEighCheck(w io.Writer, a blas64.General, values []float64) error {
	if a.Rows > exactLimit {
		fmt.Fprintf(w, "  %-16s skipped: a dense eigensolver above n = %d is the cost --verify avoids\n", "check", exactLimit)
		return nil
	}
	e, err := eighError(a, values)
	if err != nil {
		return err
	}
	verdict := "ok"
	if !(e <= 1e-12) {
		verdict = "TOO LARGE"
		fail(w, "the eigenvalues differ from Dsyev's by %.3g of ‖A‖, past the bound of 1e-12", e)
	}
	fmt.Fprintf(w, "  %-16s max |λ − λ_Dsyev| / ‖A‖ = %.3g (%s; bound 1e-12)\n", "check", e, verdict)
	return nil
}

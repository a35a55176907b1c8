package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"gonum.org/v1/gonum/blas/blas64"

	"github.com/npw-dev/npw/blockstore"
)

func newSVDCmd() *cobra.Command {
	return newAlgCmd(&cobra.Command{
		Use:   "svd [A.npy] -o S.npy [--m M --n N] [--verify]",
		Short: "Singular values of A (values only)",
		Long: `Svd computes the singular values of A, read from a .npy file or generated
(--m, --n, --seed), largest first, and writes them as a 1-D .npy file.
One job of the shipped bdfac program runs it on the workers, on tiles of
at most 256 (cut from A's by the workers): they reduce A to an upper band
matrix (QR and LQ panels with binary trees), gather the band a block row
at a time, and one of them chases it to bidiagonal form and computes its
singular values, in O(n·b) memory. A wide A is transposed by a job first.
Singular vectors are not computed. --verify compares with gonum's dense
Dgesvd (up to n = 2048).`,
		Example: `  npw svd a.npy -o s.npy
  npw svd --m 2048 --n 2048 --block 256 --verify`,
	}, "mn", "Gesvd (values only)", runSVD)
}

func runSVD(ctx context.Context, stdout, stderr io.Writer, opts *algFlags) error {
	return opts.run(ctx, stderr, "svd", opts.matrixA(opts.gaussian("m", "n")), func(s *algSession) error {
		sv, err := singularValues(s, opts.out)
		if err != nil {
			return err
		}
		a := s.in[0].data
		return s.finish(stdout, s.title(),
			func(w io.Writer) error { printValues(w, sv); return nil },
			s.compared(func() reference { return svdReference(a) }),
			s.verified(func(w io.Writer) error { return printSVDCheck(w, a, sv) }))
	})
}

// singularValues computes the singular values of A, timed, and writes
// them to path, if given, as a 1-D .npy file.
func singularValues(s *algSession, path string) ([]float64, error) {
	sv, err := timedA(s, s.eng.SVD)
	if err != nil || path == "" {
		return sv, err
	}
	if err := blockstore.WriteNPYFile(path, []int{len(sv)}, sv); err != nil {
		return nil, err
	}
	s.note("S → %s (%d values, largest first)", path, len(sv))
	return sv, nil
}

// printValues prints the largest and smallest singular values.
func printValues(w io.Writer, sv []float64) {
	if len(sv) > 0 {
		fmt.Fprintf(w, "  %-16s largest %.6g, smallest %.6g\n", "singular values", sv[0], sv[len(sv)-1])
	}
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
		fail(w, "the singular values differ from Dgesvd's by %.3g of σmax, past the bound of 1e-10", e)
	}
	fmt.Fprintf(w, "  %-16s max |σ − σ_Dgesvd| / σmax = %.3g (%s; bound 1e-10)\n", "check", e, verdict)
	return nil
}

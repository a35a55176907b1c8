package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/mat"

	engine "github.com/npw-dev/npw"
	"github.com/npw-dev/npw/blockstore"
)

type svdOptions struct {
	algFlags
	u, vt string // --u, --vt: where the singular vectors go
}

func newSVDCmd() *cobra.Command {
	var opts svdOptions
	cmd := &cobra.Command{
		Use:   "svd [A.npy] -o S.npy [--u U.npy --vt VT.npy] [--m M --n N] [--verify]",
		Short: "Singular values of A, and its singular vectors if asked for",
		Long: `Svd computes the singular values of A, read from a .npy file or generated
(--m, --n, --seed), largest first, and writes them as a 1-D .npy file.
With --u or --vt it computes the thin SVD A = U diag(S) Vᵀ (U m×k, Vᵀ
k×n, k = min(m, n)) and writes U and Vᵀ.

The workers do it all, on tiles of at most 192 (256 with vectors; cut
from A's by the workers); a wide A is transposed by a job first. The
shipped bdfac program reduces A to an upper band matrix (QR and LQ
panels, one block reflector each, as LAPACK's dgebrd) and gathers the band a block row at a time; for the values alone
one of them then chases it to bidiagonal form and computes its singular
values, in O(n·b) memory, and that is the one job. With vectors, svdv
chases the band keeping its Householder reflectors, a task per column
block computes its singular vectors of the bidiagonal (inverse iteration
on its Golub–Kahan matrix, clusters whole) and applies the reflectors to
them in blocks, and qr_apply_q applies the band reduction's Q and P.

--verify compares the values with gonum's dense Dgesvd (up to n = 2048)
and, with vectors, prints ‖A − UΣVᵀ‖/(‖A‖·n·ε), ‖UᵀU − I‖/(n·ε) and
‖VᵀV − I‖/(n·ε).`,
		Example: `  npw svd a.npy -o s.npy
  npw svd a.npy -o s.npy --u u.npy --vt vt.npy --verify
  npw svd --m 2048 --n 2048 --block 256 --verify`,
		Args: atMost(1, "one file, A.npy"),
		RunE: runE(&opts, runSVD),
	}
	opts.register(cmd, "mn")
	opts.registerOutput(cmd, &opts.u, "u", "also compute the singular vectors and write U (m×k) to `U.npy`")
	opts.registerOutput(cmd, &opts.vt, "vt", "also compute the singular vectors and write Vᵀ (k×n) to `VT.npy`")
	opts.registerCompare(cmd, "Gesvd (values only, or with the thin vectors)")
	return cmd
}

func runSVD(ctx context.Context, stdout, stderr io.Writer, opts *svdOptions) error {
	return opts.run(ctx, stderr, "svd", opts.matrixA(opts.gaussian("m", "n")), func(s *algSession) error {
		vectors := opts.u != "" || opts.vt != ""
		var sv []float64
		var u, vt *mat.Dense
		var err error
		if !vectors {
			sv, err = singularValues(s, opts.out)
		} else {
			var f *engine.SVDFactors
			if f, err = timedA(s, s.eng.SVDVectors); err != nil {
				return err
			}
			sv = f.S
			if err = writeValues(s, opts.out, sv); err == nil {
				if u, err = s.result(f.U, opts.u, "U", opts.verify); err == nil {
					vt, err = s.result(f.VT, opts.vt, "VT", opts.verify)
				}
			}
		}
		if err != nil {
			return err
		}
		a := s.in[0].data
		return s.finish(stdout, s.title(),
			func(w io.Writer) error { printValues(w, sv); return nil },
			s.compared(func() reference { return svdReference(a, vectors) }),
			s.verified(func(w io.Writer) error {
				if u != nil {
					res, ou, ov := svdResiduals(a, sv, u.RawMatrix(), vt.RawMatrix())
					printResidual(w, "‖A − UΣVᵀ‖/(‖A‖·n·ε)", res)
					printResidual(w, "‖UᵀU − I‖/(n·ε)", ou)
					printResidual(w, "‖VᵀV − I‖/(n·ε)", ov)
				}
				return printSVDCheck(w, a, sv)
			}))
	})
}

// singularValues computes the singular values of A, timed, and writes
// them to path, if given, as a 1-D .npy file.
func singularValues(s *algSession, path string) ([]float64, error) {
	sv, err := timedA(s, s.eng.SVD)
	if err != nil {
		return nil, err
	}
	return sv, writeValues(s, path, sv)
}

// writeValues writes the singular values to path, if given, as a 1-D
// .npy file.
func writeValues(s *algSession, path string, sv []float64) error {
	if path == "" {
		return nil
	}
	if err := blockstore.WriteNPYFile(path, []int{len(sv)}, sv); err != nil {
		return err
	}
	s.note("S → %s (%d values, largest first)", path, len(sv))
	return nil
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
	return printValuesCheck(w, max(a.Rows, a.Cols), "SVD", "singular values", "σ", "Dgesvd", "σmax", func() (float64, error) { return svdError(a, sv) })
}

// printValuesCheck prints how far computed values are from a dense
// LAPACK solver's (maxErr: the largest difference over scale), failing
// past 1e-12; above exactLimit (n) the check is skipped, named so.
func printValuesCheck(w io.Writer, n int, solver, values, sym, routine, scale string, maxErr func() (float64, error)) error {
	if n > exactLimit {
		fmt.Fprintf(w, "  %-16s skipped: a dense %s above n = %d is the cost --verify avoids\n", "check", solver, exactLimit)
		return nil
	}
	e, err := maxErr()
	if err != nil {
		return err
	}
	verdict := "ok"
	if !(e <= 1e-12) {
		verdict = "TOO LARGE"
		fail(w, "the %s differ from %s's by %.3g of %s, past the bound of 1e-12", values, routine, e, scale)
	}
	fmt.Fprintf(w, "  %-16s max |%s − %s_%s| / %s = %.3g (%s; bound 1e-12)\n", "check", sym, sym, routine, scale, e, verdict)
	return nil
}

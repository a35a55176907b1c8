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

type eighOptions struct {
	algFlags
	values  string // --values: where the eigenvalues go
	vectors string // --vectors: where the eigenvectors go
}

func newEighCmd() *cobra.Command {
	var opts eighOptions
	cmd := &cobra.Command{
		Use:   "eigh [A.npy] --values W.npy [--vectors V.npy] [--n N] [--verify] [--compare]",
		Short: "Eigenvalues and eigenvectors of a symmetric matrix",
		Long: `Eigh computes the eigenvalues of a symmetric A, read from a .npy file or
generated (--n, --seed: the symmetric matrix of a Gaussian one's lower
triangle), ascending, and writes them as a 1-D .npy file (--values, or
-o). Only A's lower triangle is read, as LAPACK's dsyev and SciPy's eigh
read it.

The workers do it all, on tiles of at most 192 (cut from A's by the
workers). The shipped sytrb program reduces A to a symmetric band
(A = Q B Qᵀ, a block reflector a panel applied to both sides at once, as
LAPACK's dsytrd_sy2sb) and gathers the band a block row at a time;
without --vectors one of them then chases it to tridiagonal form and
computes its eigenvalues (LAPACK's dsterf), in O(n·b) memory, and that
is the one job. With --vectors (V, n×n, A V = V diag(W)) two more
run: syevv chases the band keeping its Householder reflectors, then a
task per column block computes its eigenvectors of the tridiagonal by
inverse iteration (as LAPACK's dstein) and applies the reflectors to
them in blocks, and sytrb_q applies Q.

--verify compares the eigenvalues with gonum's dense Dsyev (up to
n = 2048) and, with --vectors, prints ‖AV − VΛ‖/(‖A‖·n·ε) and
‖VᵀV − I‖/(n·ε).`,
		Example: `  npw eigh a.npy --values w.npy --vectors v.npy
  npw eigh --n 4096 --compare`,
		Args: atMost(1, "one file, A.npy"),
		RunE: runE(&opts, runEigh),
	}
	opts.register(cmd, "n")
	opts.registerOutput(cmd, &opts.values, "values", "write the eigenvalues to `W.npy` (1-D, ascending)")
	opts.registerOutput(cmd, &opts.vectors, "vectors", "also compute the eigenvectors and write them to `V.npy` (n×n, a column per eigenvalue)")
	opts.registerCompare(cmd, "Syev (values only, or with vectors)")
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
		var w []float64
		var v *mat.Dense
		var err error
		if opts.vectors == "" {
			w, err = timedA(s, s.eng.Eigvalsh)
		} else {
			var vm *engine.Matrix
			w, vm, err = timed2(s, s.eng.Eigh)
			if err == nil {
				v, err = s.result(vm, opts.vectors, "V", opts.verify)
			}
		}
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
			s.compared(func() reference { return eighReference(a, opts.vectors != "") }),
			s.verified(func(out io.Writer) error {
				if v != nil {
					res, orth := eighResiduals(a, w, v.RawMatrix())
					printResidual(out, "‖AV − VΛ‖/(‖A‖·n·ε)", res)
					printResidual(out, "‖VᵀV − I‖/(n·ε)", orth)
				}
				return printEighCheck(out, a, w)
			}))
	})
}

// printEighCheck compares the values with gonum's dense symmetric
// eigensolver, up to exactLimit.
func printEighCheck(w io.Writer, a blas64.General, values []float64) error {
	return printValuesCheck(w, a.Rows, "eigensolver", "eigenvalues", "λ", "Dsyev", "‖A‖", func() (float64, error) { return eighError(a, values) })
}

package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"gonum.org/v1/gonum/mat"

	engine "github.com/npw-dev/npw"
	"github.com/npw-dev/npw/blockstore"
)

type luOptions struct {
	algFlags
	l, u, p string // where to write L, U and the permutation
}

func newLUCmd() *cobra.Command {
	var opts luOptions
	cmd := &cobra.Command{
		Use:   "lu [A.npy] --l L.npy --u U.npy --p P.npy [--n N] [--verify]",
		Short: "LU factorisation with tournament pivoting: A[P, :] = L U",
		Long: `Lu factors a square A, read from a .npy file or generated (--n, --seed),
with the shipped lu program: LU with tournament pivoting (CALU), stable in
practice like partial pivoting. L is unit lower triangular, U upper
triangular and P (a 1-D int64 .npy) the permutation with A[P, :] = L U.
A singular matrix fails with an error. --verify prints
‖A[P,:] − LU‖/(‖A‖·n·ε) and the growth factor max|U|/max|A|.`,
		Example: `  npw lu a.npy --l l.npy --u u.npy --p p.npy
  npw lu --n 2048 --block 256 --verify`,
		Args: atMost(1, "one file, A.npy"),
		RunE: runE(&opts, runLU),
	}
	opts.register(cmd, "n")
	opts.registerCompare(cmd, "Getrf")
	opts.registerOutput(cmd, &opts.l, "l", "write L to `FILE.npy`")
	opts.registerOutput(cmd, &opts.u, "u", "write U to `FILE.npy`")
	opts.registerOutput(cmd, &opts.p, "p", "write the permutation to `FILE.npy` (1-D int64)")
	return cmd
}

func runLU(ctx context.Context, stdout, stderr io.Writer, opts *luOptions) error {
	load := opts.squareA(opts.gaussian("n", "n"), "lu: the matrix must be square, got %d×%d")
	return opts.run(ctx, stderr, "lu", load, func(s *algSession) error {
		f, err := timedA(s, s.eng.LU)
		if err != nil {
			return err
		}
		l, u, err := opts.write(s, f)
		if err != nil {
			return err
		}
		a := s.in[0].data
		return s.finish(stdout, s.title(),
			s.compared(func() reference { return getrfReference(a) }),
			s.verified(func(w io.Writer) error {
				printResidual(w, "‖A[P,:] − LU‖/(‖A‖·n·ε)", luResidual(a, f.P, l.RawMatrix(), u.RawMatrix()))
				fmt.Fprintf(w, "  %-16s max|U| / max|A| = %.3g\n", "growth factor", growthFactor(a, u.RawMatrix()))
				return nil
			}))
	})
}

// write writes the factors to --l, --u and --p, those given, and returns
// L and U assembled when they are written or --verify checks them.
func (opts *luOptions) write(s *algSession, f *engine.LUFactors) (l, u *mat.Dense, err error) {
	if l, err = s.result(f.L, opts.l, "L", opts.verify); err != nil {
		return nil, nil, err
	}
	if u, err = s.result(f.U, opts.u, "U", opts.verify); err != nil {
		return nil, nil, err
	}
	return l, u, writePermutation(s.session, opts.p, f.P)
}

// writePermutation writes the row permutation perm to path, if given, as
// a 1-D int64 .npy file.
func writePermutation(s *session, path string, perm []int) error {
	if path == "" {
		return nil
	}
	p := make([]int64, len(perm))
	for i, x := range perm {
		p[i] = int64(x)
	}
	if err := blockstore.WriteIntsFile(path, p); err != nil {
		return err
	}
	s.note("P → %s (%d row indices)", path, len(p))
	return nil
}

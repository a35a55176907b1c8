package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/npw-dev/npw/blockstore"
)

type luOptions struct {
	algFlags
	a       string // A.npy; empty to generate A
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
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.a = arg(args, 0)
			return runLU(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), &opts)
		},
	}
	opts.register(cmd, "n")
	opts.registerCompare(cmd, "Getrf")
	f := cmd.Flags()
	f.StringVar(&opts.l, "l", "", "write L to `FILE.npy`")
	f.StringVar(&opts.u, "u", "", "write U to `FILE.npy`")
	f.StringVar(&opts.p, "p", "", "write the permutation to `FILE.npy` (1-D int64)")
	return cmd
}

func runLU(ctx context.Context, stdout, stderr io.Writer, opts *luOptions) error {
	if err := opts.check(outputPath{"--l", opts.l}, outputPath{"--u", opts.u}, outputPath{"--p", opts.p}); err != nil {
		return err
	}
	a, err := opts.input(opts.a, 0, opts.gaussian("n", "n"))
	if err != nil {
		return err
	}
	if a.Rows != a.Cols {
		return fmt.Errorf("lu: the matrix must be square, got %d×%d", a.Rows, a.Cols)
	}
	opts.engine.fitBlock("lu", a.Rows, a.Cols)
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
	f, err := s.eng.LU(ctx, A)
	if err != nil {
		return err
	}
	elapsed := time.Since(start)
	l, err := s.result(f.L, opts.l, "L", opts.verify)
	if err != nil {
		return err
	}
	u, err := s.result(f.U, opts.u, "U", opts.verify)
	if err != nil {
		return err
	}
	if opts.p != "" {
		p := make([]int64, len(f.P))
		for i, x := range f.P {
			p[i] = int64(x)
		}
		if err := blockstore.WriteIntsFile(opts.p, p); err != nil {
			return err
		}
		s.note("P → %s (%d row indices)", opts.p, len(p))
	}
	if err := s.summary(stdout, fmt.Sprintf("lu %d×%d, block %d", a.Rows, a.Cols, opts.engine.block)); err != nil {
		return err
	}
	if opts.compare {
		if err := printCompare(stdout, getrfReference(a), elapsed); err != nil {
			return err
		}
	}
	if opts.verify {
		printResidual(stdout, "‖A[P,:] − LU‖/(‖A‖·n·ε)", luResidual(a, f.P, l.RawMatrix(), u.RawMatrix()))
		fmt.Fprintf(stdout, "  %-16s max|U| / max|A| = %.3g\n", "growth factor", growthFactor(a, u.RawMatrix()))
	}
	return nil
}

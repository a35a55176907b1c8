package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"time"

	"github.com/spf13/cobra"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/mat"

	engine "github.com/npw-dev/npw"
	"github.com/npw-dev/npw/blockstore"
	"github.com/npw-dev/npw/executor"
	"github.com/npw-dev/npw/job"
	"github.com/npw-dev/npw/state"
)

// engine opens the Go API's engine on the flags' services; onJob sees
// every job it runs.
func (e *engineFlags) engine(ctx context.Context, stderr io.Writer, onJob func(*job.Result)) (*engine.Engine, error) {
	return engine.Open(ctx, e.engineOptions(stderr, onJob))
}

// engineOptions are the Go API's options of the flags.
func (e *engineFlags) engineOptions(stderr io.Writer, onJob func(*job.Result)) engine.Options {
	opts := engine.Options{Store: e.store, Queue: e.queue, State: e.state, Workers: e.workers, ScaleFactor: e.sf, ColdStart: e.coldStart,
		Settings: executor.Settings{Pipeline: e.pipeline, RuntimeLimit: e.runtime, Trace: e.trace != ""}, OnJob: onJob}
	switch e.launch {
	case "process":
		opts.Launch, opts.WorkerCommand = "process", workerCommand()
	case "lambda":
		opts.Launch, opts.Function = "lambda", e.function
	}
	if e.verbose {
		opts.Log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
		opts.Progress = func(st state.Status) { fmt.Fprintf(stderr, "npw: %d of %d tasks done\n", st.Done, st.Tasks) }
	}
	return opts
}

func toDense(g blas64.General) *mat.Dense {
	var d mat.Dense
	d.SetRawMatrix(g)
	return &d
}

// a command's uploaded matrices and job results, released at the end.
type session struct {
	eng      *engine.Engine
	ctx      context.Context
	matrices []*engine.Matrix
	results  []*job.Result
	uploaded int64
}

func (s *session) upload(name string, g blas64.General, block int) (*engine.Matrix, error) {
	m, err := s.eng.Upload(s.ctx, name, toDense(g), block)
	if err == nil {
		s.matrices = append(s.matrices, m)
		s.uploaded += int64(8 * g.Rows * g.Cols)
	}
	return m, err
}

// keep records a matrix to release at the end.
func (s *session) keep(m *engine.Matrix) *engine.Matrix {
	s.matrices = append(s.matrices, m)
	return m
}

func (s *session) close() {
	for _, m := range s.matrices {
		m.Release(context.WithoutCancel(s.ctx))
	}
	s.eng.Close()
}

func (s *shortcut) session(ctx context.Context, stderr io.Writer) (*session, error) {
	ss := &session{ctx: ctx}
	eng, err := s.engine.engine(ctx, stderr, func(r *job.Result) { ss.results = append(ss.results, r) })
	if err != nil {
		return nil, err
	}
	ss.eng = eng
	return ss, nil
}

func writeOut(path string, d *mat.Dense, lines *[]string, name string) error {
	if path == "" {
		return nil
	}
	if err := blockstore.WriteMatrixFile(path, d.RawMatrix()); err != nil {
		return err
	}
	r, c := d.Dims()
	*lines = append(*lines, fmt.Sprintf("%s → %s (%d×%d)", name, path, r, c))
	return nil
}

func newQRCmd() *cobra.Command {
	var s shortcut
	var qPath string
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
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := s.engine.check(); err != nil {
				return err
			}
			a, err := s.input(args, 0, generated(&s, "m", "n"))
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			ss, err := s.session(ctx, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer ss.close()
			s.engine.fitBlock("qr", a.Rows, a.Cols)
			A, err := ss.upload("A", a, s.engine.block)
			if err != nil {
				return err
			}
			start := time.Now()
			f, err := ss.eng.QR(ctx, A)
			if err != nil {
				return err
			}
			elapsed := time.Since(start)
			defer f.Release(context.WithoutCancel(ctx))
			var lines []string
			r, err := f.R.Dense(ctx)
			if err != nil {
				return err
			}
			if err := writeOut(s.out, r, &lines, "R"); err != nil {
				return err
			}
			var q *mat.Dense
			formQ := qPath != "" || s.verify
			if formQ {
				start := time.Now()
				Q, err := f.Q(ctx)
				if err != nil {
					return err
				}
				elapsed += time.Since(start)
				ss.keep(Q)
				if q, err = Q.Dense(ctx); err != nil {
					return err
				}
				if err := writeOut(qPath, q, &lines, "Q"); err != nil {
					return err
				}
			}
			if err := s.engine.writeFiles(ss.results, &lines); err != nil {
				return err
			}
			printSummary(cmd.OutOrStdout(), fmt.Sprintf("qr %d×%d, block %d", a.Rows, a.Cols, s.engine.block), ss.results, ss.uploaded, lines)
			if s.compare {
				if err := printCompare(cmd.OutOrStdout(), qrReference(a, formQ), elapsed); err != nil {
					return err
				}
			}
			if s.verify {
				var qr, qtq mat.Dense
				qr.Mul(q, r)
				qr.Sub(toDense(a), &qr)
				n := float64(a.Cols)
				printResidual(cmd.OutOrStdout(), "‖A − QR‖/(‖A‖·n·ε)", residual{mat.Norm(&qr, 2) / (mat.Norm(toDense(a), 2) * n * eps), false})
				qtq.Mul(q.T(), q)
				k, _ := qtq.Dims()
				for i := range k {
					qtq.Set(i, i, qtq.At(i, i)-1)
				}
				printResidual(cmd.OutOrStdout(), "‖QᵀQ − I‖/(n·ε)", residual{mat.Norm(&qtq, 2) / (n * eps), false})
			}
			return nil
		},
	}
	s.register(cmd, "mn")
	s.registerCompare(cmd, "Geqrf (and Orgqr when Q is formed)")
	cmd.Flags().StringVar(&qPath, "q", "", "also form the thin Q and write it to `FILE.npy`")
	return cmd
}

// generated returns a generator of a Gaussian matrix with the sizes given
// by the named flags.
func generated(s *shortcut, rows, cols string) func(*rand.Rand) (blas64.General, error) {
	size := func(name string) int {
		switch name {
		case "m":
			return s.m
		case "k":
			return s.k
		}
		return s.n
	}
	return func(rng *rand.Rand) (blas64.General, error) {
		r, c := size(rows), size(cols)
		if r <= 0 || c <= 0 {
			return blas64.General{}, usagef("give A.npy or sizes: --%s and --%s", rows, cols)
		}
		return randomGaussian(rng, r, c), nil
	}
}

func newSVDCmd() *cobra.Command {
	var s shortcut
	cmd := &cobra.Command{
		Use:   "svd [A.npy] -o S.npy [--m M --n N] [--verify]",
		Short: "Singular values of A (values only)",
		Long: `Svd computes the singular values of A, read from a .npy file or generated
(--m, --n, --seed), largest first, and writes them as a 1-D .npy file.
The shipped bdfac program reduces A to banded form in parallel (QR and
LQ panels with binary trees); the band is then reduced to bidiagonal form
and its singular values computed on one worker, in O(n·b) memory. Singular
vectors are not computed. --verify compares with gonum's dense Dgesvd
(up to n = 2048).`,
		Example: `  npw svd a.npy -o s.npy
  npw svd --m 2048 --n 2048 --block 256 --verify`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := s.engine.check(); err != nil {
				return err
			}
			a, err := s.input(args, 0, generated(&s, "m", "n"))
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			ss, err := s.session(ctx, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer ss.close()
			s.engine.fitBlock("svd", a.Rows, a.Cols)
			A, err := ss.upload("A", a, s.engine.block)
			if err != nil {
				return err
			}
			start := time.Now()
			sv, err := ss.eng.SVD(ctx, A)
			if err != nil {
				return err
			}
			total := time.Since(start)
			var lines []string
			if s.out != "" {
				if err := blockstore.WriteNPYFile(s.out, []int{len(sv)}, sv); err != nil {
					return err
				}
				lines = append(lines, fmt.Sprintf("S → %s (%d values, largest first)", s.out, len(sv)))
			}
			if err := s.engine.writeFiles(ss.results, &lines); err != nil {
				return err
			}
			printSummary(cmd.OutOrStdout(), fmt.Sprintf("svd %d×%d, block %d", a.Rows, a.Cols, s.engine.block), ss.results, ss.uploaded, lines)
			if len(ss.results) > 0 {
				fmt.Fprintf(cmd.OutOrStdout(), "  %-16s band → bidiagonal → values on one worker: %.2f s (whole SVD %.2f s)\n",
					"last step", (total - ss.results[0].Wall).Seconds(), total.Seconds())
			}
			if len(sv) > 0 {
				fmt.Fprintf(cmd.OutOrStdout(), "  %-16s largest %.6g, smallest %.6g\n", "singular values", sv[0], sv[len(sv)-1])
			}
			if s.compare {
				if err := printCompare(cmd.OutOrStdout(), svdReference(a), total); err != nil {
					return err
				}
			}
			if s.verify {
				if max(a.Rows, a.Cols) > exactLimit {
					fmt.Fprintf(cmd.OutOrStdout(), "  %-16s skipped: a dense SVD above n = %d is the cost --verify avoids\n", "check", exactLimit)
					return nil
				}
				var ref mat.SVD
				if !ref.Factorize(toDense(a), mat.SVDNone) {
					return fmt.Errorf("the reference SVD did not converge")
				}
				want := ref.Values(nil)
				worst := 0.0
				for i := range want {
					worst = max(worst, math.Abs(sv[i]-want[i]))
				}
				scale := max(want[0], math.SmallestNonzeroFloat64)
				verdict := "ok"
				if worst > 1e-10*scale {
					verdict = "TOO LARGE"
				}
				fmt.Fprintf(cmd.OutOrStdout(), "  %-16s max |σ − σ_Dgesvd| / σmax = %.3g (%s; bound 1e-10)\n", "check", worst/scale, verdict)
			}
			return nil
		},
	}
	s.register(cmd, "mn")
	s.registerCompare(cmd, "Gesvd (values only)")
	return cmd
}

func newSolveCmd() *cobra.Command {
	var s shortcut
	var spd bool
	var nrhs int
	cmd := &cobra.Command{
		Use:   "solve [A.npy B.npy] -o X.npy [--spd] [--n N --nrhs K | --m M --n N] [--verify]",
		Short: "Solve A X = B (Cholesky for --spd, LU otherwise, least squares for tall A)",
		Long: `Solve solves A X = B. With --spd, A is symmetric positive definite and
one job factors it (Cholesky) and runs both triangular solves. Otherwise
a square A is factored by LU with tournament pivoting and X = U⁻¹L⁻¹B[P,:];
a tall A (more rows than columns) gets the least-squares solution through
QR: X = R⁻¹(QᵀB)[:n]. B may be a 1-D vector. Generated inputs: --n and
--nrhs (square), or --m > --n (least squares). --verify prints the
backward error ‖AX − B‖/(‖A‖·‖X‖·n·ε), or for least squares
‖Aᵀ(AX − B)‖/(‖A‖·(‖A‖·‖X‖ + ‖B‖)·n·ε).`,
		Example: `  npw solve a.npy b.npy -o x.npy
  npw solve a.npy b.npy -o x.npy --spd
  npw solve --n 2048 --nrhs 4 --block 256 --verify`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 0 && len(args) != 2 {
				return usagef("give two files, A.npy and B.npy, or sizes")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := s.engine.check(); err != nil {
				return err
			}
			rows := s.m
			if rows == 0 {
				rows = s.n
			}
			a, err := s.input(args, 0, func(rng *rand.Rand) (blas64.General, error) {
				if s.n <= 0 || nrhs <= 0 {
					return blas64.General{}, usagef("give A.npy and B.npy or sizes: --n N --nrhs K (and --m M for least squares)")
				}
				if spd {
					return randomSPD(rng, s.n), nil
				}
				return randomGaussian(rng, rows, s.n), nil
			})
			if err != nil {
				return err
			}
			b, err := s.input(args, 1, func(rng *rand.Rand) (blas64.General, error) { return randomGaussian(rng, rows, nrhs), nil })
			if err != nil {
				return err
			}
			return s.runSolve(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), a, b, spd)
		},
	}
	s.register(cmd, "mn")
	cmd.Flags().BoolVar(&spd, "spd", false, "A is symmetric positive definite: solve with Cholesky")
	cmd.Flags().IntVar(&nrhs, "nrhs", 1, "columns of a generated B")
	s.registerCompare(cmd, "Potrf+Potrs, Getrf+Getrs or Gels")
	return cmd
}

func (s *shortcut) runSolve(ctx context.Context, stdout, stderr io.Writer, a, b blas64.General, spd bool) error {
	switch {
	case b.Rows != a.Rows:
		return fmt.Errorf("solve: B has %d rows, A has %d", b.Rows, a.Rows)
	case a.Rows < a.Cols:
		return fmt.Errorf("solve: A is %d×%d, with more columns than rows; the system is underdetermined", a.Rows, a.Cols)
	case spd && a.Rows != a.Cols:
		return fmt.Errorf("solve: --spd needs a square A, got %d×%d", a.Rows, a.Cols)
	}
	ss, err := s.session(ctx, stderr)
	if err != nil {
		return err
	}
	defer ss.close()
	s.engine.fitBlock("solve", a.Rows, a.Cols)
	A, err := ss.upload("A", a, s.engine.block)
	if err != nil {
		return err
	}
	B, err := ss.upload("B", b, s.engine.block)
	if err != nil {
		return err
	}
	var x *engine.Matrix
	start := time.Now()
	method := "LU with tournament pivoting"
	switch {
	case spd:
		method = "Cholesky"
		x, err = ss.eng.SolveSPD(ctx, A, B)
	case a.Rows > a.Cols:
		method = "least squares through QR"
		x, err = ss.eng.LeastSquares(ctx, A, B)
	default:
		x, err = ss.eng.Solve(ctx, A, B)
	}
	if err != nil {
		return err
	}
	elapsed := time.Since(start)
	ss.keep(x)
	X, err := x.Dense(ctx)
	if err != nil {
		return err
	}
	var lines []string
	if err := writeOut(s.out, X, &lines, "X"); err != nil {
		return err
	}
	if err := s.engine.writeFiles(ss.results, &lines); err != nil {
		return err
	}
	printSummary(stdout, fmt.Sprintf("solve %d×%d with %d right-hand sides, %s, block %d", a.Rows, a.Cols, b.Cols, method, s.engine.block), ss.results, ss.uploaded, lines)
	if s.compare {
		if err := printCompare(stdout, solveReference(a, b, spd), elapsed); err != nil {
			return err
		}
	}
	if s.verify {
		Ad, Bd := toDense(a), toDense(b)
		var r mat.Dense
		r.Mul(Ad, X)
		r.Sub(&r, Bd)
		n := float64(a.Cols)
		if a.Rows == a.Cols {
			printResidual(stdout, "‖AX − B‖/(‖A‖·‖X‖·n·ε)", residual{mat.Norm(&r, 2) / (mat.Norm(Ad, 2) * mat.Norm(X, 2) * n * eps), false})
		} else {
			var atr mat.Dense
			atr.Mul(Ad.T(), &r)
			na := mat.Norm(Ad, 2)
			printResidual(stdout, "‖Aᵀ(AX − B)‖/(‖A‖(‖A‖‖X‖+‖B‖)nε)", residual{mat.Norm(&atr, 2) / (na * (na*mat.Norm(X, 2) + mat.Norm(Bd, 2)) * n * eps), false})
		}
	}
	return nil
}

func newLUCmd() *cobra.Command {
	var s shortcut
	var lPath, uPath, pPath string
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
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := s.engine.check(); err != nil {
				return err
			}
			a, err := s.input(args, 0, generated(&s, "n", "n"))
			if err != nil {
				return err
			}
			if a.Rows != a.Cols {
				return fmt.Errorf("lu: the matrix must be square, got %d×%d", a.Rows, a.Cols)
			}
			ctx := cmd.Context()
			ss, err := s.session(ctx, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer ss.close()
			s.engine.fitBlock("lu", a.Rows, a.Cols)
			A, err := ss.upload("A", a, s.engine.block)
			if err != nil {
				return err
			}
			start := time.Now()
			f, err := ss.eng.LU(ctx, A)
			if err != nil {
				return err
			}
			elapsed := time.Since(start)
			ss.keep(f.L)
			ss.keep(f.U)
			l, err := f.L.Dense(ctx)
			if err != nil {
				return err
			}
			u, err := f.U.Dense(ctx)
			if err != nil {
				return err
			}
			var lines []string
			if err := writeOut(lPath, l, &lines, "L"); err != nil {
				return err
			}
			if err := writeOut(uPath, u, &lines, "U"); err != nil {
				return err
			}
			if pPath != "" {
				p := make([]int64, len(f.P))
				for i, x := range f.P {
					p[i] = int64(x)
				}
				if err := blockstore.WriteIntsFile(pPath, p); err != nil {
					return err
				}
				lines = append(lines, fmt.Sprintf("P → %s (%d row indices)", pPath, len(p)))
			}
			if err := s.engine.writeFiles(ss.results, &lines); err != nil {
				return err
			}
			printSummary(cmd.OutOrStdout(), fmt.Sprintf("lu %d×%d, block %d", a.Rows, a.Cols, s.engine.block), ss.results, ss.uploaded, lines)
			if s.compare {
				if err := printCompare(cmd.OutOrStdout(), getrfReference(a), elapsed); err != nil {
					return err
				}
			}
			if s.verify {
				printResidual(cmd.OutOrStdout(), "‖A[P,:] − LU‖/(‖A‖·n·ε)", luResidual(a, f.P, l.RawMatrix(), u.RawMatrix()))
				fmt.Fprintf(cmd.OutOrStdout(), "  %-16s max|U| / max|A| = %.3g\n", "growth factor", maxAbs(u)/maxAbs(toDense(a)))
			}
			return nil
		},
	}
	s.register(cmd, "n")
	s.registerCompare(cmd, "Getrf")
	f := cmd.Flags()
	f.StringVar(&lPath, "l", "", "write L to `FILE.npy`")
	f.StringVar(&uPath, "u", "", "write U to `FILE.npy`")
	f.StringVar(&pPath, "p", "", "write the permutation to `FILE.npy` (1-D int64)")
	return cmd
}

func maxAbs(m mat.Matrix) float64 {
	r, c := m.Dims()
	v := 0.0
	for i := range r {
		for j := range c {
			v = max(v, math.Abs(m.At(i, j)))
		}
	}
	return v
}

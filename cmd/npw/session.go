package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/mat"

	engine "github.com/npw-dev/npw"
	"github.com/npw-dev/npw/blockstore"
	"github.com/npw-dev/npw/job"
)

// A session is one command's engine, with the matrices the command
// uploaded, the jobs it ran and the lines its summary ends with; close
// releases the matrices and the jobs' outputs.
type session struct {
	ctx      context.Context
	eng      *engine.Engine
	flags    *engineFlags
	uploads  []*engine.Matrix
	results  []*job.Result
	uploaded int64 // bytes of the inputs
	lines    []summaryLine
	stderr   io.Writer
	stopDash func() // the --dashboard's server
}

// session opens the Go API's engine on the flags' services.
func (e *engineFlags) session(ctx context.Context, stderr io.Writer) (*session, error) {
	s := &session{ctx: ctx, flags: e, stderr: stderr}
	eng, err := engine.Open(ctx, e.engineOptions(stderr, func(r *job.Result) {
		finished(r.ID)
		s.results = append(s.results, r)
	}))
	if err != nil {
		return nil, err
	}
	s.eng = eng
	if s.stopDash, err = e.startDashboard(ctx, e.view.log()); err != nil {
		eng.Close()
		return nil, err
	}
	return s, nil
}

// An algSession is the session of an algorithm command, with the
// command's inputs, as opened and as in the store (A, B), and npw's time:
// the wall time of the Engine calls timed, which --compare sets against
// the reference's.
type algSession struct {
	*session
	flags   *algFlags
	alg     string
	in      []*operand
	up      []*engine.Matrix
	elapsed time.Duration
}

// run takes the steps every algorithm command, alg, takes around its
// own, body: it checks the flags and the files to write, opens or
// generates the inputs with load, fits the block to them (a stored
// input's own, unless --block says otherwise), opens a session, puts the
// inputs in the store as A, B, ..., reads their values when --verify or
// --compare needs them, runs body and closes the session.
func (f *algFlags) run(ctx context.Context, stderr io.Writer, alg string, load loadFunc, body func(s *algSession) error) error {
	if err := f.check(); err != nil {
		return err
	}
	in, err := load(ctx)
	if err != nil {
		return err
	}
	rows, cols := in[0].rows, in[0].cols
	if alg == "gemm" { // the tiles of A, B and C: fit all three sizes
		rows, cols = max(in[0].rows, in[0].cols), max(in[1].rows, in[1].cols)
	}
	f.engine.fitBlock(alg, rows, cols)
	if in[0].url != "" && !f.engine.blockSet {
		f.engine.block = in[0].block
	}
	s, err := f.engine.session(ctx, stderr)
	if err != nil {
		return err
	}
	defer s.close()
	as := &algSession{session: s, flags: f, alg: alg, in: in}
	if as.up, err = s.put(in); err != nil {
		return err
	}
	if f.verify || f.compare {
		if err := as.loadValues(); err != nil {
			return err
		}
	}
	return body(as)
}

// put puts an algorithm's inputs in the store as A, B, ...: files
// streamed, generated matrices uploaded, stored matrices opened where
// they are (and copied in tiles of the flags' block when theirs differs).
func (s *session) put(in []*operand) ([]*engine.Matrix, error) {
	up := make([]*engine.Matrix, len(in))
	for i, o := range in {
		name := string(rune('A' + i))
		var err error
		switch {
		case o.url != "":
			up[i], err = s.open(o.url)
		case o.path != "":
			up[i], err = s.uploadNPY(name, o.path)
		default:
			up[i], err = s.generate(name, o)
		}
		if err != nil {
			return nil, err
		}
	}
	return up, nil
}

// generate generates a matrix on the workers. The generating job is
// not the command's: it is noted, not summed up.
func (s *session) generate(name string, o *operand) (*engine.Matrix, error) {
	start, jobs := time.Now(), len(s.results)
	m, err := s.eng.Generate(s.ctx, name, o.gen.kind, o.rows, o.cols, s.flags.block, o.seed)
	s.results = s.results[:jobs]
	if err != nil {
		return nil, fmt.Errorf("input %s (%d×%d, generated on the workers): %w", name, o.rows, o.cols, err)
	}
	s.uploads = append(s.uploads, m)
	s.lines = append(s.lines, summaryLine{"input", fmt.Sprintf("%s: %d×%d generated on the workers in %.2f s", name, o.rows, o.cols, time.Since(start).Seconds())})
	return m, nil
}

// open opens a stored matrix, in tiles of the flags' block size: its
// jobs' workers cut those from its own when they differ (Reblock).
func (s *session) open(url string) (*engine.Matrix, error) {
	m, err := s.eng.OpenMatrix(s.ctx, url)
	if err != nil || m.Block == s.flags.block {
		return m, err
	}
	return m.Reblock(s.flags.block)
}

// loadValues reads the inputs' values into memory, for --verify and
// --compare: a file as it is, a stored matrix from the store.
func (s *algSession) loadValues() error {
	for i, o := range s.in {
		if o.loaded {
			continue
		}
		if o.gen != nil {
			o.data = engine.GenerateDense(o.gen.kind, o.rows, o.cols, o.seed).RawMatrix()
		} else if o.path != "" {
			arr, err := blockstore.ReadNPYFile(o.path)
			if err != nil {
				return err
			}
			o.data = arr.Matrix()
		} else {
			d, err := s.up[i].Dense(s.ctx)
			if err != nil {
				return err
			}
			o.data = d.RawMatrix()
		}
		o.loaded = true
	}
	return nil
}

// uploadAll uploads matrices as A, B, ....
func (s *session) uploadAll(in []blas64.General) ([]*engine.Matrix, error) {
	up := make([]*engine.Matrix, len(in))
	for i, a := range in {
		var err error
		if up[i], err = s.upload(string(rune('A'+i)), a); err != nil {
			return nil, err
		}
	}
	return up, nil
}

// timed runs call, an Engine call, and adds its wall time to npw's.
func timed[T any](s *algSession, call func(context.Context) (T, error)) (T, error) {
	start := time.Now()
	v, err := call(s.ctx)
	s.elapsed += time.Since(start)
	s.handOver(err)
	return v, err
}

// handOver notes that err is a detached job's: the inputs the session
// put in the store are the job's now, which deletes them when it ends.
func (s *session) handOver(err error) {
	var d *engine.Detached
	if errors.As(err, &d) {
		s.uploads = nil
	}
}

// timedA is timed for an Engine call on the first input, A.
func timedA[T any](s *algSession, call func(context.Context, *engine.Matrix) (T, error)) (T, error) {
	return timed(s, func(ctx context.Context) (T, error) { return call(ctx, s.up[0]) })
}

// timed2 is timedA for an Engine call with two results.
func timed2[T, U any](s *algSession, call func(context.Context, *engine.Matrix) (T, U, error)) (T, U, error) {
	var u U
	t, err := timedA(s, func(ctx context.Context, a *engine.Matrix) (T, error) {
		var t T
		var err error
		t, u, err = call(ctx, a)
		return t, err
	})
	return t, u, err
}

// compute runs call, an Engine call on A with one matrix as its result,
// timed, and assembles the result when -o names its file (noted as name)
// or --verify checks it.
func (s *algSession) compute(name string, call func(context.Context, *engine.Matrix) (*engine.Matrix, error)) (*mat.Dense, error) {
	m, err := timedA(s, call)
	if err != nil {
		return nil, err
	}
	return s.result(m, s.flags.out, name, s.flags.verify)
}

// computeAB is compute for an Engine call on A and B.
func (s *algSession) computeAB(name string, call func(ctx context.Context, a, b *engine.Matrix) (*engine.Matrix, error)) (*mat.Dense, error) {
	return s.compute(name, func(ctx context.Context, a *engine.Matrix) (*engine.Matrix, error) { return call(ctx, a, s.up[1]) })
}

// title is the usual title of the summary: the algorithm, A's size and
// the block.
func (s *algSession) title() string {
	return fmt.Sprintf("%s %d×%d, block %d", s.alg, s.in[0].rows, s.in[0].cols, s.flags.engine.block)
}

// finish writes the session's files and prints its summary under title,
// then the lines of each of after, in order; a nil one prints nothing.
// A check that --verify prints past its bound fails the command, after
// the summary.
func (s *session) finish(w io.Writer, title string, after ...func(io.Writer) error) error {
	if err := s.summary(w, title); err != nil {
		return err
	}
	cw := &checkWriter{Writer: w}
	for _, lines := range after {
		if lines == nil {
			continue
		}
		if err := lines(cw); err != nil {
			return err
		}
	}
	if len(cw.failed) > 0 {
		return fmt.Errorf("--verify: %s", strings.Join(cw.failed, "; "))
	}
	return nil
}

// A checkWriter is where the --verify lines are printed: it collects the
// checks past their bounds.
type checkWriter struct {
	io.Writer
	failed []string
}

// fail notes a check past its bound, if w collects them.
func fail(w io.Writer, format string, args ...any) {
	if cw, ok := w.(*checkWriter); ok {
		cw.failed = append(cw.failed, fmt.Sprintf(format, args...))
	}
}

// compared is the --compare line for finish: the reference ref makes,
// timed against npw's time; nil without --compare.
func (s *algSession) compared(ref func() reference) func(io.Writer) error {
	if !s.flags.compare {
		return nil
	}
	return func(w io.Writer) error { return printCompare(w, ref(), s.elapsed) }
}

// verified is the --verify lines for finish, printed by check; nil
// without --verify.
func (s *algSession) verified(check func(io.Writer) error) func(io.Writer) error {
	if !s.flags.verify {
		return nil
	}
	return check
}

// verifiedResidual is the --verify line for finish of one scaled
// residual, what, computed by r; nil without --verify.
func (s *algSession) verifiedResidual(what string, r func() residual) func(io.Writer) error {
	return s.verified(func(w io.Writer) error {
		printResidual(w, what, r())
		return nil
	})
}

// upload stores a matrix in tiles of the flags' block size.
func (s *session) upload(name string, g blas64.General) (*engine.Matrix, error) {
	var d mat.Dense
	d.SetRawMatrix(g)
	return s.track(s.eng.Upload(s.ctx, name, &d, s.flags.block))
}

// uploadNPY stores a 2-D .npy file in tiles of the flags' block size.
func (s *session) uploadNPY(name, path string) (*engine.Matrix, error) {
	return s.track(s.eng.UploadNPY(s.ctx, name, path, s.flags.block))
}

// track records an upload.
func (s *session) track(m *engine.Matrix, err error) (*engine.Matrix, error) {
	if err != nil {
		return nil, err
	}
	s.uploads = append(s.uploads, m)
	s.uploaded += int64(8 * m.Rows * m.Cols)
	return m, nil
}

// result writes m to out — a .npy file, streamed tile by tile, or a URL
// where it is stored — if out is given, noting it as name, and reads it
// into memory when check says it is to be checked.
func (s *session) result(m *engine.Matrix, out, name string, check bool) (*mat.Dense, error) {
	if err := s.write(m, out, name); err != nil || !check {
		return nil, err
	}
	return m.Dense(s.ctx)
}

// write writes m to out, if given, and notes it for the summary.
func (s *session) write(m *engine.Matrix, out, name string) error {
	switch {
	case out == "":
		return nil
	case isURL(out):
		if _, err := m.Save(s.ctx, out); err != nil {
			return err
		}
		s.note("%s → %s (%d×%d, block %d, stored)", name, out, m.Rows, m.Cols, m.Block)
		return nil
	}
	if err := m.WriteNPYFile(s.ctx, out); err != nil {
		return err
	}
	s.note("%s → %s (%d×%d)", name, out, m.Rows, m.Cols)
	return nil
}

// note adds a line to the end of the summary.
func (s *session) note(format string, args ...any) {
	s.lines = append(s.lines, summaryLine{"output", fmt.Sprintf(format, args...)})
}

// writeFiles writes the --timeline and --trace files of the session's
// jobs and notes them for the summary.
func (s *session) writeFiles() error {
	if path := s.flags.timeline; path != "" {
		if err := writeTimeline(path, s.results); err != nil {
			return err
		}
		s.note("timeline → %s", path)
	}
	if path := s.flags.trace; path != "" {
		if err := writeTrace(path, s.results); err != nil {
			return err
		}
		s.note("trace → %s", path)
	}
	if dir := s.flags.plot; dir != "" {
		paths, err := writePlots(dir, s.results)
		if err != nil {
			return fmt.Errorf("--plot: %w", err)
		}
		s.note("plots → %s", strings.Join(paths, ", "))
	}
	return nil
}

// summary writes the session's files and prints its summary.
func (s *session) summary(w io.Writer, title string) error {
	if err := s.writeFiles(); err != nil {
		return err
	}
	lines := s.lines
	if g := s.flags.emulate; g > 0 {
		lines = append(lines, summaryLine{"emulated", fmt.Sprintf("compute emulated at %g GFLOP/s per worker: kernels waited their flops' time, no result was computed or verified", g)})
	}
	for _, r := range s.results {
		for _, text := range faultTexts(r, s.flags.fault.Fraction) {
			lines = append(lines, summaryLine{"fault", fmt.Sprintf("job %s: %s", r.ID, text)})
		}
		if len(r.Kills) == 0 && s.flags.fault.Fraction > 0 {
			lines = append(lines, summaryLine{"fault", fmt.Sprintf("job %s ended in %.1f s, before --kill-at %v: no worker was killed", r.ID, r.Wall.Seconds(), s.flags.fault.At)})
		}
	}
	if len(s.results) > 0 {
		lines = append(lines, s.flags.cost.costLine(s.results, s.flags.store, s.flags.launch))
	}
	printSummary(w, title, s.results, s.uploaded, lines)
	return nil
}

// close deletes what the session made in the store and closes the
// engine; what cannot be deleted is reported, not fatal.
func (s *session) close() {
	defer s.stopDash()
	ctx := context.WithoutCancel(s.ctx)
	var errs []error
	for _, m := range s.uploads {
		errs = append(errs, m.Release(ctx))
	}
	for _, r := range s.results {
		errs = append(errs, s.eng.Release(ctx, r))
	}
	errs = append(errs, s.eng.Close())
	for _, err := range errs {
		if err != nil {
			fmt.Fprintf(s.stderr, "npw: cleaning up: %v\n", err)
		}
	}
}

// writeOutput writes the grid or tile of a job's output that o selects.
func (s *session) writeOutput(res *job.Result, o outSpec) error {
	m, err := s.eng.Output(s.ctx, res, o.name, o.fixed)
	if err != nil {
		return fmt.Errorf("--out %s: %w", o.name, err)
	}
	sel := o.name
	if o.fixed != nil {
		sel += fmt.Sprint(o.fixed)
	}
	if err := s.write(m, o.file, sel); err != nil {
		return fmt.Errorf("--out %s: %w", o.name, err)
	}
	return nil
}

// faultTexts describe the job's kills and its recovery from each.
func faultTexts(r *job.Result, fraction float64) []string {
	texts := make([]string, len(r.Kills))
	for i := range r.Kills {
		texts[i] = faultText(r, i, fraction)
	}
	return texts
}

// faultText describes the job's kill i and its recovery from it (by
// index: this package names no job type but Result, TestOneJobPath).
func faultText(r *job.Result, i int, fraction float64) string {
	k := r.Kills[i]
	rec := r.Recovery(k)
	text := fmt.Sprintf("%d of %d workers killed at %.1f s (--kill-fraction %g)", k.Killed, rec.WorkersBefore, k.At.Seconds(), fraction)
	switch {
	case rec.Replenished >= 0:
		text += fmt.Sprintf("; 90%% as many running again %.1f s later, as many %.1f s later", rec.Replenished90.Seconds(), rec.Replenished.Seconds())
	case rec.Replenished90 >= 0:
		text += fmt.Sprintf("; 90%% as many running again %.1f s later, never as many", rec.Replenished90.Seconds())
	default:
		text += "; never 90% as many running again"
	}
	switch {
	case rec.RateBefore > 0 && rec.Recovered >= 0:
		text += fmt.Sprintf(", tasks a second back to 90%% of before's %.1f %.1f s later", rec.RateBefore, rec.Recovered.Seconds())
	case rec.RateBefore > 0:
		text += fmt.Sprintf(", tasks a second never back to 90%% of before's %.1f", rec.RateBefore)
	}
	if rec.RateBefore > 0 {
		text += fmt.Sprintf("; %.0f tasks short of that rate in the minute after", rec.Short)
	}
	return text
}

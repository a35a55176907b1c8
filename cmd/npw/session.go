package main

import (
	"context"
	"fmt"
	"io"

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
	lines    []string
	stderr   io.Writer
}

// session opens the Go API's engine on the flags' services.
func (e *engineFlags) session(ctx context.Context, stderr io.Writer) (*session, error) {
	s := &session{ctx: ctx, flags: e, stderr: stderr}
	eng, err := engine.Open(ctx, e.engineOptions(stderr, func(r *job.Result) { s.results = append(s.results, r) }))
	if err != nil {
		return nil, err
	}
	s.eng = eng
	return s, nil
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

// result assembles m when it is to be written to path or checked, and
// writes it to path, if given.
func (s *session) result(m *engine.Matrix, path, name string, check bool) (*mat.Dense, error) {
	if path == "" && !check {
		return nil, nil
	}
	d, err := m.Dense(s.ctx)
	if err != nil {
		return nil, err
	}
	return d, s.write(path, name, d)
}

// write writes a result to path, if given, and notes it for the summary.
func (s *session) write(path, name string, d *mat.Dense) error {
	if path == "" {
		return nil
	}
	if err := blockstore.WriteMatrixFile(path, d.RawMatrix()); err != nil {
		return err
	}
	r, c := d.Dims()
	s.note("%s → %s (%d×%d)", name, path, r, c)
	return nil
}

// note adds a line to the end of the summary.
func (s *session) note(format string, args ...any) {
	s.lines = append(s.lines, fmt.Sprintf(format, args...))
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
	return nil
}

// summary writes the session's files and prints its summary.
func (s *session) summary(w io.Writer, title string) error {
	if err := s.writeFiles(); err != nil {
		return err
	}
	printSummary(w, title, s.results, s.uploaded, s.lines)
	return nil
}

// close deletes what the session made in the store and closes the
// engine; what cannot be deleted is reported, not fatal.
func (s *session) close() {
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
	d, err := m.Dense(s.ctx)
	if err != nil {
		return fmt.Errorf("--out %s: %w", o.name, err)
	}
	sel := o.name
	if o.fixed != nil {
		sel += fmt.Sprint(o.fixed)
	}
	return s.write(o.file, sel, d)
}

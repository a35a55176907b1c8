package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/spf13/cobra"
	"gonum.org/v1/gonum/blas/blas64"

	engine "github.com/npw-dev/npw"
	"github.com/npw-dev/npw/blockstore"
)

// algFlags are the flags and arguments of the commands that run one
// algorithm on matrices read from .npy files or generated: the input
// files, the files of the results, the sizes and seed of generated
// inputs, --verify, --compare, and the engine's flags.
type algFlags struct {
	engine  engineFlags
	a, b    string       // the file arguments, A.npy and B.npy; empty to generate
	out     string       // -o
	outputs []outputFlag // the command's further result files (registerOutput)
	m, k, n int
	seed    uint64
	verify  bool
	compare bool
	// detachAs is the name of the program's matrix that -o names, for
	// --detach; "" for commands that cannot detach.
	detachAs string
}

// An outputFlag is a flag that names a file the command writes.
type outputFlag struct {
	flag string
	path *string
}

// flags lets the commands' option types, which embed algFlags, share
// runE.
func (s *algFlags) flags() *algFlags { return s }

// register adds the flags, with the size flags named in sizes ("mkn").
func (s *algFlags) register(cmd *cobra.Command, sizes string) {
	f := cmd.Flags()
	f.StringVarP(&s.out, "output", "o", "", "write the result to `FILE.npy`, or store it at a URL (file:///dir/name, s3://bucket/prefix/name)")
	f.Uint64Var(&s.seed, "seed", 1, "seed of generated inputs")
	f.BoolVar(&s.verify, "verify", false, "print the scaled residual of the result")
	for _, c := range sizes {
		switch c {
		case 'm':
			f.IntVar(&s.m, "m", 0, "rows of a generated input")
		case 'k':
			f.IntVar(&s.k, "k", 0, "inner dimension of generated inputs")
		case 'n':
			f.IntVar(&s.n, "n", 0, "columns (or the order) of a generated input")
		}
	}
	s.engine.register(f, 1024)
}

// registerCompare adds --compare, which times the LAPACK routines named
// on the same input after npw's run.
func (s *algFlags) registerCompare(cmd *cobra.Command, routines string) {
	cmd.Flags().BoolVar(&s.compare, "compare", false, "also time gonum's single-node lapack64."+routines+" on the same input and print npw's time over it")
}

// registerOutput adds --name, a flag that names a further file the
// command writes into *path; check checks it with -o.
func (s *algFlags) registerOutput(cmd *cobra.Command, path *string, name, usage string) {
	cmd.Flags().StringVar(path, name, "", usage)
	s.outputs = append(s.outputs, outputFlag{"--" + name, path})
}

// check refuses bad engine flags (usage errors) and output files that
// cannot be written, before any work.
func (s *algFlags) check() error {
	if err := s.engine.check(); err != nil {
		return err
	}
	if err := s.checkDetach(); err != nil {
		return err
	}
	if s.engine.emulate > 0 {
		switch {
		case s.out != "":
			return usagef("--emulate-compute computes no numbers: it cannot write -o")
		case s.verify || s.compare:
			return usagef("--emulate-compute computes no numbers: nothing to --verify or --compare")
		}
		for _, o := range s.outputs {
			if *o.path != "" {
				return usagef("--emulate-compute computes no numbers: it cannot write %s", o.flag)
			}
		}
	}
	paths := []outputPath{{"-o", s.out}}
	for _, o := range s.outputs {
		paths = append(paths, outputPath{o.flag, *o.path})
	}
	return checkOutputs(append(paths, s.engine.outputs()...)...)
}

// An operand is an input of an algorithm command: a .npy file, streamed
// into the store tile by tile; a stored matrix's URL, used where it is;
// or a matrix generated on the workers. Its values are read into memory
// only for --verify and --compare (loadValues).
type operand struct {
	rows, cols int
	path, url  string
	block      int      // a stored matrix's block size
	gen        *genSpec // a generated matrix
	seed       uint64   // of a generated matrix
	data       blas64.General
	loaded     bool
}

// A genSpec is a matrix to generate: its kind (engine.Gaussian, SPD) and
// size.
type genSpec struct{ kind, rows, cols int }

// isURL says whether an argument names a stored matrix rather than a file.
func isURL(s string) bool { return strings.Contains(s, "://") }

// input opens the .npy file or stored matrix at path for its size, or
// generates the matrix when path is empty; i tells the generated inputs
// of one command apart.
func (s *algFlags) input(ctx context.Context, path string, i int, generate func() (genSpec, error)) (*operand, error) {
	switch {
	case path == "":
		g, err := generate()
		if err != nil {
			return nil, err
		}
		// Inputs i of one seed differ; so do seeds.
		return &operand{rows: g.rows, cols: g.cols, gen: &g, seed: rand.New(rand.NewPCG(s.seed, uint64(i))).Uint64()}, nil
	case isURL(path):
		meta, err := engine.Stat(ctx, path)
		if err != nil {
			return nil, err
		}
		return &operand{rows: meta.Shape[0], cols: meta.Shape[1], url: path, block: meta.Block}, nil
	}
	r, err := blockstore.OpenNPY(path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return &operand{rows: r.Rows, cols: r.Cols, path: path}, nil
}

// checkDetach refuses --detach where the command needs this process
// after the job, and names the target of -o for the detached job.
func (s *algFlags) checkDetach() error {
	if !s.engine.detach {
		return nil
	}
	switch {
	case s.detachAs == "":
		return usagef("--detach runs one job to its end without this process; this command runs several jobs or a step here (detach run, cholesky, gemm or qr)")
	case s.verify || s.compare:
		return usagef("--detach returns before the result exists; --verify and --compare need it")
	case s.out != "" && !isURL(s.out):
		return usagef("--detach leaves results in the store: give -o a URL (file:///dir/name, s3://bucket/prefix/name)")
	}
	for _, o := range s.outputs {
		if *o.path != "" {
			return usagef("--detach saves one result, -o URL; %s needs this process", o.flag)
		}
	}
	if s.out != "" {
		s.engine.targets = map[string]string{s.detachAs: s.out}
	}
	return nil
}

// matrixA returns a load of one input, A: read from its file or made by
// generate.
func (s *algFlags) matrixA(generate func() (genSpec, error)) loadFunc {
	return func(ctx context.Context) ([]*operand, error) {
		a, err := s.input(ctx, s.a, 0, generate)
		return []*operand{a}, err
	}
}

// A loadFunc opens or generates the inputs of an algorithm command and
// checks their sizes.
type loadFunc func(context.Context) ([]*operand, error)

// squareA is matrixA for a square A; notSquare formats the error for
// another shape from A's rows and columns.
func (s *algFlags) squareA(generate func() (genSpec, error), notSquare string) loadFunc {
	return func(ctx context.Context) ([]*operand, error) {
		a, err := s.input(ctx, s.a, 0, generate)
		if err == nil && a.rows != a.cols {
			err = fmt.Errorf(notSquare, a.rows, a.cols)
		}
		return []*operand{a}, err
	}
}

// gaussian returns a generator of a Gaussian rows×cols matrix whose
// sizes are given by the named flags.
func (s *algFlags) gaussian(rows, cols string) func() (genSpec, error) {
	size := map[string]int{"m": s.m, "k": s.k, "n": s.n}
	return func() (genSpec, error) {
		r, c := size[rows], size[cols]
		if r <= 0 || c <= 0 {
			return genSpec{}, usagef("give A.npy or sizes: --%s and --%s", rows, cols)
		}
		return genSpec{engine.Gaussian, r, c}, nil
	}
}

// spd returns a generator of a random symmetric positive definite matrix
// of the order --n.
func (s *algFlags) spd() func() (genSpec, error) {
	return func() (genSpec, error) {
		if s.n <= 0 {
			return genSpec{}, usagef("give A.npy or a size: --n N")
		}
		return genSpec{engine.SPD, s.n, s.n}, nil
	}
}

// arg returns argument i, or "" if there are fewer.
func arg(args []string, i int) string {
	if i < len(args) {
		return args[i]
	}
	return ""
}

// randomSPD returns a random symmetric matrix with entries in [-1, 1) and
// n on the diagonal: diagonally dominant, so positive definite.
func randomSPD(rng *rand.Rand, n int) blas64.General {
	a := blas64.General{Rows: n, Cols: n, Stride: n, Data: make([]float64, n*n)}
	for i := range n {
		for j := range i {
			v := 2*rng.Float64() - 1
			a.Data[i*n+j], a.Data[j*n+i] = v, v
		}
		a.Data[i*n+i] = float64(n)
	}
	return a
}

func randomGaussian(rng *rand.Rand, r, c int) blas64.General {
	a := blas64.General{Rows: r, Cols: c, Stride: c, Data: make([]float64, r*c)}
	for i := range a.Data {
		a.Data[i] = rng.NormFloat64()
	}
	return a
}

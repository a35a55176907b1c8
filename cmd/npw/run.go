package main

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	engine "github.com/npw-dev/npw"
	lp "github.com/npw-dev/npw/lambdapack"
)

type runOptions struct {
	prog   string
	args   map[string]lp.Value
	ins    []string // --in NAME=FILE.npy
	outs   []string // --out NAME[IDX,...]=FILE.npy
	engine engineFlags
}

func newRunCmd() *cobra.Command {
	var opts runOptions
	cmd := &cobra.Command{
		Use:   "run PROG NAME=VALUE ... --in NAME=FILE.npy ... --out NAME[IDX,...]=FILE.npy ... --block B",
		Short: "Run a LAmbdaPACK program on .npy files",
		Long: `Run runs a program as a job: its inputs are uploaded as tiles, workers
run its tasks, and the requested outputs are assembled into .npy files.
Its scalar parameters take int and float values (N=8 alpha=0.5).

--in NAME=FILE.npy binds a 2-D array to a matrix: tiled B×B for a matrix
with two indices, in row blocks of B rows for one index, and into the
tiles whose leading indices are 0 for more (so S[0, j, k] of the shipped
Cholesky is the input). The file is streamed into the store tile by
tile. --in NAME=URL binds a stored matrix (npw put, or another job's
--out NAME=URL): inside the --store, and in tiles of the program's
layout, it is read where it is; otherwise it is copied into the job.

--out NAME=FILE.npy writes the matrix's 2-D grid of tiles (with the
leading indices 0 for more than two indices) tile by tile into the file;
--out 'NAME[i,j]=FILE.npy' writes one tile; --out 'NAME[i]=FILE.npy' the
grid NAME[i, ·, ·]. Tiles that were never written are zeros. --out
NAME=URL stores the grid at the URL instead, without passing through
this process when the URL is inside the --store.

Services default to memory and goroutine workers in this process.`,
		Example: `  npw run cholesky N=4 --in S=a.npy --out O=l.npy --block 1024
  npw run tsqr N=8 --in A=tall.npy --out 'R[0,3]=r.npy' --block 512
  npw run my.lp N=16 alpha=0.5 --in A=a.npy --out B=b.npy --block 256 --workers 8`,
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if opts.prog, opts.args, err = programArgs(args, false); err != nil {
				return err
			}
			return runRun(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), &opts)
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&opts.ins, "in", nil, "bind a matrix to a .npy file or a stored matrix: `NAME=FILE.npy|URL` (repeatable)")
	f.StringArrayVar(&opts.outs, "out", nil, "write an output to a .npy file or store it at a URL: `NAME[IDX,...]=FILE.npy|URL` (repeatable)")
	opts.engine.register(f, 1024)
	return cmd
}

// An inSpec is one --in: a matrix and a file.
type inSpec struct{ name, file string }

// An outSpec is one --out: a matrix, an optional index prefix and a file.
type outSpec struct {
	name  string
	fixed []int32 // nil: the default grid
	file  string
}

var outRE = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*)(?:\[([^\]]*)\])?=(.+)$`)

func parseOut(s string) (outSpec, error) {
	m := outRE.FindStringSubmatch(s)
	if m == nil {
		return outSpec{}, usagef("bad --out %q: want NAME=FILE.npy or NAME[i,j]=FILE.npy", s)
	}
	o := outSpec{name: m[1], file: m[3]}
	if strings.Contains(s, "[") {
		o.fixed = []int32{}
		for _, part := range strings.Split(m[2], ",") {
			v, err := strconv.ParseInt(strings.TrimSpace(part), 10, 32)
			if err != nil {
				return outSpec{}, usagef("bad --out %q: indices must be integers", s)
			}
			o.fixed = append(o.fixed, int32(v))
		}
	}
	return o, nil
}

func parseIn(s string) (inSpec, error) {
	name, file, ok := strings.Cut(s, "=")
	if !ok || name == "" || file == "" {
		return inSpec{}, usagef("bad --in %q: want NAME=FILE.npy", s)
	}
	return inSpec{name, file}, nil
}

// parse parses --in and --out, checking the selectors against the
// program: a selector must leave one or two of its matrix's indices free.
func (opts *runOptions) parse(p *engine.Program) (ins []inSpec, outs []outSpec, err error) {
	for _, s := range opts.outs {
		o, err := parseOut(s)
		if err != nil {
			return nil, nil, err
		}
		if arity, ok := p.Indices(o.name); ok && o.fixed != nil {
			if free := arity - len(o.fixed); free < 0 || free > 2 {
				return nil, nil, usagef("--out %s: %s has %d indices; give %d to %d of them", s, o.name, arity, max(arity-2, 0), arity)
			}
		}
		outs = append(outs, o)
	}
	for _, s := range opts.ins {
		in, err := parseIn(s)
		if err != nil {
			return nil, nil, err
		}
		ins = append(ins, in)
	}
	return ins, outs, nil
}

func runRun(ctx context.Context, stdout, stderr io.Writer, opts *runOptions) error {
	if err := opts.engine.check(); err != nil {
		return err
	}
	if opts.engine.autoBlock {
		return usagef("--block auto needs a command that knows the algorithm (npw cholesky, qr, ...); npw run takes its tile counts from the program's parameters, so give --block B")
	}
	p, err := engine.Compile(opts.prog, opts.args)
	if err != nil {
		return err
	}
	ins, outs, err := opts.parse(p)
	if err != nil {
		return err
	}
	if len(outs) > 0 && opts.engine.emulate > 0 {
		return usagef("--emulate-compute computes no numbers: it cannot write --out")
	}
	files := opts.engine.outputs()
	var names []string // the matrices to keep
	for _, o := range outs {
		files = append(files, outputPath{"--out", o.file})
		if !slices.Contains(names, o.name) {
			names = append(names, o.name)
		}
	}
	if err := checkOutputs(files...); err != nil {
		return err
	}
	s, err := opts.engine.session(ctx, stderr)
	if err != nil {
		return err
	}
	defer s.close()
	inputs := map[string]*engine.Matrix{}
	for _, in := range ins {
		if isURL(in.file) {
			inputs[in.name], err = s.eng.OpenMatrix(ctx, in.file)
		} else {
			inputs[in.name], err = s.uploadNPY(in.name, in.file)
		}
		if err != nil {
			return err
		}
	}
	res, err := s.eng.RunProgram(ctx, p, opts.engine.block, inputs, names...)
	if err != nil {
		return err
	}
	for _, o := range outs {
		if err := s.writeOutput(res, o); err != nil {
			return err
		}
	}
	return s.summary(stdout, fmt.Sprintf("%s, block %d", p, opts.engine.block))
}

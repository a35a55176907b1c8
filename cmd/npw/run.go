package main

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/npw-dev/npw/analysis"
	"github.com/npw-dev/npw/blockstore"
	"github.com/npw-dev/npw/job"
	lp "github.com/npw-dev/npw/lambdapack"
)

type runOptions struct {
	prog   string
	args   map[string]lp.Value
	ins    []string
	outs   []string
	engine engineFlags
}

func newRunCmd() *cobra.Command {
	var opts runOptions
	cmd := &cobra.Command{
		Use:   "run PROG NAME=VALUE ... --in NAME=FILE.npy ... --out NAME[IDX,...]=FILE.npy ... --block B",
		Short: "Run a LAmbdaPACK program on .npy files",
		Long: `Run runs a program as a job: its inputs are uploaded as tiles, workers
run its tasks, and the requested outputs are assembled into .npy files.

--in NAME=FILE.npy binds a 2-D array to a matrix: tiled B×B for a matrix
with two indices, in row blocks of B rows for one index, and into the
tiles whose leading indices are 0 for more (so S[0, j, k] of the shipped
Cholesky is the input).

--out NAME=FILE.npy assembles the matrix's 2-D grid of tiles (with the
leading indices 0 for more than two indices); --out 'NAME[i,j]=FILE.npy'
writes one tile; --out 'NAME[i]=FILE.npy' the grid NAME[i, ·, ·]. Tiles
that were never written assemble as zeros.

Services default to memory and goroutine workers in this process.`,
		Example: `  npw run cholesky N=4 --in S=a.npy --out O=l.npy --block 1024
  npw run tsqr N=8 --in A=tall.npy --out 'R[0,3]=r.npy' --block 512
  npw run my.lp N=16 alpha=0.5 --in A=a.npy --out B=b.npy --block 256 --workers 8`,
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if opts.prog, opts.args, err = programArgs(args, false); err != nil {
				return err
			}
			if err := opts.engine.check(); err != nil {
				return err
			}
			return runRun(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), opts)
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&opts.ins, "in", nil, "bind a matrix to a .npy file: `NAME=FILE.npy` (repeatable)")
	f.StringArrayVar(&opts.outs, "out", nil, "write an output: `NAME[IDX,...]=FILE.npy` (repeatable)")
	opts.engine.register(f, 1024)
	return cmd
}

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

func parseIn(s string) (name, file string, err error) {
	name, file, ok := strings.Cut(s, "=")
	if !ok || name == "" || file == "" {
		return "", "", usagef("bad --in %q: want NAME=FILE.npy", s)
	}
	return name, file, nil
}

func runRun(ctx context.Context, stdout, stderr io.Writer, opts runOptions) error {
	if opts.engine.autoBlock {
		return usagef("--block auto needs a command that knows the algorithm (npw cholesky, qr, ...); npw run takes its tile counts from the program's parameters, so give --block B")
	}
	filename, src, err := lp.ReadSource(opts.prog)
	if err != nil {
		return err
	}
	plan, err := analysis.Compile(filename, src, opts.args)
	if err != nil {
		return err
	}
	prog := plan.Program()
	var outs []outSpec
	var names []string
	for _, s := range opts.outs {
		o, err := parseOut(s)
		if err != nil {
			return err
		}
		if m := prog.Matrix(o.name); m != nil && o.fixed != nil {
			if free := m.Arity - len(o.fixed); free < 0 || free > 2 {
				return usagef("--out %s: %s has %d indices; give %d to %d of them", s, o.name, m.Arity, max(m.Arity-2, 0), m.Arity)
			}
		}
		outs = append(outs, o)
		if !containsString(names, o.name) {
			names = append(names, o.name)
		}
	}
	spec := job.Spec{Plan: plan, Block: opts.engine.block, Outputs: names}
	for _, s := range opts.ins {
		name, file, err := parseIn(s)
		if err != nil {
			return err
		}
		arr, err := blockstore.ReadNPYFile(file)
		if err != nil {
			return err
		}
		if len(arr.Shape) != 2 {
			return fmt.Errorf("--in %s: %s is a %d-dimensional array; inputs are 2-D", s, file, len(arr.Shape))
		}
		spec.Inputs = append(spec.Inputs, job.Input{Name: name, Array: arr.Matrix()})
	}
	res, lines, err := runJob(ctx, stderr, opts.engine, spec, outs)
	if err != nil {
		return err
	}
	printJobSummary(stdout, fmt.Sprintf("%s %s, block %d", filename, argString(plan.Args()), spec.Block), res, lines)
	return nil
}

// runJob runs a job, writes its outputs, prints nothing, and removes the
// job's tiles. It returns a line per output for the summary.
func runJob(ctx context.Context, stderr io.Writer, ef engineFlags, spec job.Spec, outs []outSpec) (*job.Result, []string, error) {
	env, err := ef.open(ctx)
	if err != nil {
		return nil, nil, err
	}
	defer env.Tiles.Close()
	defer env.State.Close()
	res, err := job.Run(ctx, env, spec, ef.options(stderr))
	if err != nil {
		return nil, nil, err
	}
	defer job.Cleanup(context.WithoutCancel(ctx), env.Tiles, res)
	var lines []string
	if err := ef.writeFiles([]*job.Result{res}, &lines); err != nil {
		return nil, nil, err
	}
	for _, o := range outs {
		g, err := blockstore.Assemble(ctx, env.Tiles, res.Matrices[o.name], o.fixed, 16)
		if err != nil {
			return nil, nil, fmt.Errorf("--out %s: %w", o.name, err)
		}
		if err := blockstore.WriteMatrixFile(o.file, g); err != nil {
			return nil, nil, err
		}
		sel := o.name
		if o.fixed != nil {
			sel += fmt.Sprint(o.fixed)
		}
		lines = append(lines, fmt.Sprintf("%s → %s (%d×%d)", sel, o.file, g.Rows, g.Cols))
	}
	return res, lines, nil
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

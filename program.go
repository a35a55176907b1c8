package npw

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/npw-dev/npw/analysis"
	"github.com/npw-dev/npw/blockstore"
	"github.com/npw-dev/npw/job"
	lp "github.com/npw-dev/npw/lambdapack"
)

// A Program is a LAmbdaPACK program with its scalar parameters bound:
// what RunProgram runs.
type Program struct {
	file string
	plan *analysis.Plan
}

// Compile reads a program — a shipped program's name or a .lp file — and
// binds its scalar parameters to args (lp.Int and lp.Float values).
// Errors in the program are lp.ErrorList or *lp.Error, positioned in its
// file; bad arguments are *analysis.ArgsError.
func Compile(program string, args map[string]lp.Value) (*Program, error) {
	file, src, err := lp.ReadSource(program)
	if err != nil {
		return nil, err
	}
	plan, err := analysis.Compile(file, src, args)
	if err != nil {
		return nil, err
	}
	return &Program{file: file, plan: plan}, nil
}

// String returns the program's file and arguments, as "cholesky.lp N=4".
func (p *Program) String() string {
	var args []string
	for name, v := range p.plan.Args() {
		args = append(args, name+"="+v.String())
	}
	slices.Sort(args)
	return strings.TrimSpace(p.file + " " + strings.Join(args, " "))
}

// Indices returns the number of indices of the program's matrix name, and
// false if the program has no matrix of that name.
func (p *Program) Indices(matrix string) (int, bool) {
	m := p.plan.Program().Matrix(matrix)
	if m == nil {
		return 0, false
	}
	return m.Arity, true
}

// Run runs a program (a shipped program's name or a .lp path) with
// integer arguments and input matrices, keeping the named outputs in the
// store: Compile and RunProgram in one call.
func (e *Engine) Run(ctx context.Context, program string, args map[string]int, block int, inputs map[string]*Matrix, outputs ...string) (*job.Result, error) {
	p, err := compileInts(program, args)
	if err != nil {
		return nil, err
	}
	return e.RunProgram(ctx, p, block, inputs, outputs...)
}

// compileInts compiles a program with integer arguments.
func compileInts(program string, args map[string]int) (*Program, error) {
	values := make(map[string]lp.Value, len(args))
	for k, v := range args {
		values[k] = lp.Int(int64(v))
	}
	return Compile(program, values)
}

// RunProgram runs a compiled program as one job on block×block tiles,
// with inputs bound to the program's matrices by name, keeping the named
// outputs in the store. The job's result names the output matrices'
// tiles: Output wraps them as matrices and Release deletes them. A job
// that fails keeps nothing.
func (e *Engine) RunProgram(ctx context.Context, p *Program, block int, inputs map[string]*Matrix, outputs ...string) (*job.Result, error) {
	if p == nil {
		return nil, errors.New("run: the program is nil")
	}
	var in []job.Input
	for _, name := range slices.Sorted(maps.Keys(inputs)) {
		if err := e.use("run "+p.plan.Program().Name+": input "+name, inputs[name]); err != nil {
			return nil, err
		}
		in = append(in, inputs[name].input(name))
	}
	return e.runJob(ctx, p.plan, block, in, outputs...)
}

// runJob runs a job on inputs given as job inputs (tiles in the store or
// arrays).
// A detaching engine (Options.Detach) submits it and returns a *Detached
// error instead.
func (e *Engine) runJob(ctx context.Context, plan *analysis.Plan, block int, inputs []job.Input, outputs ...string) (*job.Result, error) {
	if e.opts.Detach {
		return nil, e.submit(ctx, plan, block, inputs, outputs)
	}
	return e.runAttached(ctx, plan, block, inputs, outputs...)
}

// runAttached runs a job in this process, as its client.
func (e *Engine) runAttached(ctx context.Context, plan *analysis.Plan, block int, inputs []job.Input, outputs ...string) (*job.Result, error) {
	return e.runAttachedSpec(ctx, job.Spec{Plan: plan, Block: block, Inputs: inputs, Outputs: outputs})
}

// runAttachedSpec is runAttached of a spec whose inputs may still need
// cutting.
func (e *Engine) runAttachedSpec(ctx context.Context, spec job.Spec) (*job.Result, error) {
	if err := e.use(spec.Plan.Program().Name); err != nil {
		return nil, err
	}
	inputs, done, err := e.cutInputs(ctx, spec.Plan, spec.Block, spec.Inputs)
	defer done()
	if err != nil {
		return nil, err
	}
	spec.Inputs, spec.Owned = inputs, owned(inputs)
	return e.runSpec(ctx, spec)
}

// runSpec runs a job of inputs that need no cutting in this process, as
// its client; a failed job's outputs are deleted.
func (e *Engine) runSpec(ctx context.Context, spec job.Spec) (*job.Result, error) {
	res, err := job.Run(ctx, e.env(), spec, e.jobOptions())
	if res != nil && e.opts.OnJob != nil {
		e.opts.OnJob(res)
	}
	if err != nil && res != nil {
		if cerr := job.Cleanup(context.WithoutCancel(ctx), e.tiles, res); cerr != nil {
			err = fmt.Errorf("%w (and deleting its outputs failed: %v)", err, cerr)
		}
	}
	return res, err
}

// cutInputs has the workers cut, in a job of their own (retile.lp), the
// inputs that a program writes into (a matrix of one or two indices)
// from stored arrays of another tiling in the engine's store: the job
// that writes into them needs them as its own tiles, and would otherwise
// copy them in through this process. done deletes the tiles cut.
func (e *Engine) cutInputs(ctx context.Context, plan *analysis.Plan, block int, inputs []job.Input) ([]job.Input, func(), error) {
	var cut []*job.Result
	done := func() {
		for _, res := range cut {
			job.Cleanup(context.WithoutCancel(ctx), e.tiles, res)
		}
	}
	out := slices.Clone(inputs)
	for i, in := range inputs {
		m := plan.Program().Matrix(in.Name)
		if in.Source == nil || in.Source.Store != e.tiles || m == nil || !m.Written || m.Arity != 2 || in.Rows <= 0 {
			continue
		}
		p, err := compileInts("retile", map[string]int{"MT": tilesOf(in.Rows, block), "NT": tilesOf(in.Cols, block)})
		if err != nil {
			return nil, done, err
		}
		a := in
		a.Name = "A"
		res, err := e.runAttached(ctx, p.plan, block, []job.Input{a}, "B")
		if err != nil {
			return nil, done, fmt.Errorf("cutting %s into tiles of %d: %w", in.Name, block, err)
		}
		cut = append(cut, res)
		out[i] = job.Input{Name: in.Name, Tiles: res.Matrices["B"], Rows: in.Rows, Cols: in.Cols, Scratch: true}
	}
	return out, done, nil
}

// runShipped runs a shipped program with integer arguments.
func (e *Engine) runShipped(ctx context.Context, program string, args map[string]int, block int, inputs []job.Input, outputs ...string) (*job.Result, error) {
	p, err := compileInts(program, args)
	if err != nil {
		return nil, err
	}
	return e.runJob(ctx, p.plan, block, inputs, outputs...)
}

// Release deletes the tiles a job kept (its outputs, and so the matrices
// Output made of them).
func (e *Engine) Release(ctx context.Context, res *job.Result) error {
	if res == nil {
		return nil
	}
	if err := e.use("release job " + res.ID); err != nil {
		return err
	}
	return job.Cleanup(ctx, e.tiles, res)
}

// Output returns an output matrix of a job run with Run; fixed selects a
// 2-D grid or a tile of a matrix with more than two indices (nil for the
// default). Its size comes from the names of its tiles and the shapes of
// the last ones; nothing else is read.
func (e *Engine) Output(ctx context.Context, res *job.Result, name string, fixed []int32) (*Matrix, error) {
	if err := e.use("output " + name); err != nil {
		return nil, err
	}
	if res == nil {
		return nil, fmt.Errorf("output %s: the job result is nil", name)
	}
	m := res.Matrices[name]
	if m == nil || !slices.Contains(res.Outputs, name) {
		return nil, fmt.Errorf("job %s kept no matrix %s (outputs: %s)", res.ID, name, strings.Join(res.Outputs, ", "))
	}
	out := &Matrix{Block: m.Block, eng: e, store: e.tiles, tiles: m, fixed: fixed, Job: res}
	var err error
	if out.Rows, out.Cols, out.gaps, err = e.extent(ctx, m, fixed); err != nil {
		return nil, fmt.Errorf("output %s: %w", name, err)
	}
	return out, nil
}

// output wraps a job's output matrix of known size, noting whether its
// tile grid has gaps.
func (e *Engine) output(ctx context.Context, res *job.Result, name string, fixed []int32, rows, cols, block int) (*Matrix, error) {
	m := &Matrix{Rows: rows, Cols: cols, Block: block, eng: e, store: e.tiles, tiles: res.Matrices[name], fixed: fixed, Job: res}
	if fixed == nil {
		keys, err := e.tiles.List(ctx, m.tiles.Dir())
		if err != nil {
			return nil, err
		}
		m.gaps = len(keys) < tilesOf(rows, block)*tilesOf(cols, block)
	}
	return m, nil
}

// extent returns the size of the array the tiles of m's grid fixed form
// and whether tiles are missing (blockstore.Extent).
func (e *Engine) extent(ctx context.Context, m *blockstore.BigMatrix, fixed []int32) (rows, cols int, gaps bool, err error) {
	return blockstore.Extent(ctx, e.tiles, m, fixed)
}

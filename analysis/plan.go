package analysis

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync/atomic"

	lp "github.com/npw-dev/npw/lambdapack"
)

// A Plan is a checked program with concrete scalar arguments, compiled to
// answer DAG queries. Its size does not depend on the argument values.
// A Plan is safe for concurrent use.
type Plan struct {
	prog    *lp.Program
	src     string
	args    map[string]lp.Value
	stmts   []*stmtPlan
	readers [][]*access // by matrix: every access that reads it
	writers [][]*access // by matrix: every access that writes it

	fallbacks atomic.Int64
	levels    atomic.Pointer[Levels] // when set, Priority ranks by critical path
}

// stmtPlan is one kernel call compiled against the arguments.
type stmtPlan struct {
	id      int
	call    *lp.Call
	depth   int
	all     varMask // every loop slot
	loops   []loopPlan
	guards  []guardPlan
	base    []constraint // loops and guards in the order execution meets them
	reads   []*access
	writes  []*access
	scalars []*expr
	prior   [][][]childPair // by written tile and reader: see linkPriors
	self    *access         // the statement's own constraints, for Contains
}

type loopPlan struct {
	name              string
	start, stop, step *expr
	pos               lp.Position
}

type guardPlan struct {
	cond  *expr
	want  bool
	depth int
}

type consKind uint8

const (
	consLoop  consKind = iota // slot i lies in its range
	consGuard                 // guard i has its wanted truth value
	consIndex                 // index i of the access equals the target
)

// A constraint is one condition a statement instance must meet; it can be
// checked once the slots in mask are known.
type constraint struct {
	kind consKind
	i    int
	mask varMask
}

// maxConstraints bounds the constraints of one access, so that a set of
// them fits in a uint64.
const maxConstraints = 64

// An access is one tile reference of a statement: a read or a write.
type access struct {
	stmt   *stmtPlan
	matrix int
	write  bool
	pos    int // among the statement's reads or writes
	ref    *lp.TileRef
	idx    []*expr
	inv    []varMask    // by index: the slots it can be solved for
	eqVars varMask      // slots that some index mentions
	cons   []constraint // stmt.base followed by one consIndex per index
	// bySlot[v] lists the constraints that mention slot v: the only ones
	// that assigning v can make decidable. bySlot[MaxLoopDepth] lists the
	// constant ones.
	bySlot [lp.MaxLoopDepth + 1][]uint8
	// direct, when not nil, solves every slot in turn from an affine index
	// equation, with no search: see planDirect.
	direct     []directStep
	directUsed uint64 // the constraints those equations are
}

// A directStep computes slot v from index equation k.
type directStep struct{ v, k int }

// planDirect finds, when there is one, the order in which the general
// search would determine every slot from an affine equation (outermost
// solvable slot first) and records it, so that solve can follow it
// without searching. Accesses with a free slot or a nonlinear index keep
// using the search.
func (a *access) planDirect(depth, base int) {
	var known varMask
	var steps []directStep
	var used uint64
	for len(steps) < depth {
		v, k := a.nextDirect(depth, known)
		if v < 0 {
			return
		}
		steps = append(steps, directStep{v: v, k: k})
		known |= bit(v)
		used |= uint64(1) << (base + k)
	}
	a.direct, a.directUsed = steps, used
}

func (a *access) nextDirect(depth int, known varMask) (v, k int) {
	for v := range depth {
		if known&bit(v) != 0 {
			continue
		}
		for k, e := range a.idx {
			if e.op == opAffine && e.aff.coef[v] != 0 && e.mask&^known == bit(v) {
				return v, k
			}
		}
	}
	return -1, -1
}

// NewPlan binds the scalar parameters of prog and compiles it. Every int
// and float parameter needs a value; BigMatrix parameters take none.
func NewPlan(prog *lp.Program, args map[string]lp.Value) (*Plan, error) {
	bound, err := bindArgs(prog, args)
	if err != nil {
		return nil, err
	}
	p := &Plan{prog: prog, args: bound}
	c := newCompiler(prog, bound)
	p.readers = make([][]*access, len(prog.Matrices))
	p.writers = make([][]*access, len(prog.Matrices))
	for _, call := range prog.Calls {
		st, err := c.stmt(call)
		if err != nil {
			return nil, err
		}
		p.stmts = append(p.stmts, st)
		for _, a := range st.reads {
			p.readers[a.matrix] = append(p.readers[a.matrix], a)
		}
		for _, a := range st.writes {
			p.writers[a.matrix] = append(p.writers[a.matrix], a)
		}
	}
	p.linkPriors()
	return p, nil
}

// Compile parses, checks and binds a program in one step.
func Compile(filename, src string, args map[string]lp.Value) (*Plan, error) {
	prog, err := lp.Load(filename, src)
	if err != nil {
		return nil, err
	}
	p, err := NewPlan(prog, args)
	if err != nil {
		return nil, err
	}
	p.src = src
	return p, nil
}

func bindArgs(prog *lp.Program, args map[string]lp.Value) (map[string]lp.Value, error) {
	bound := make(map[string]lp.Value)
	var problems []string
	for _, param := range prog.Params {
		name := param.Name.Name
		v, ok := args[name]
		switch {
		case param.Type == lp.BigMatrixType:
			if ok {
				problems = append(problems, fmt.Sprintf("%s is a BigMatrix and takes no scalar value", name))
			}
		case !ok:
			problems = append(problems, fmt.Sprintf("missing value for parameter %s (give %s=%s)", name, name, param.Type))
		case param.Type == lp.IntType && v.Kind != lp.IntKind:
			problems = append(problems, fmt.Sprintf("parameter %s is an int, got %s", name, v))
		case param.Type == lp.FloatType && v.Kind == lp.IntKind:
			bound[name] = lp.Float(float64(v.I))
		default:
			bound[name] = v
		}
	}
	for name := range args {
		if !hasParam(prog, name) {
			problems = append(problems, fmt.Sprintf("%s has no parameter %s (parameters: %s)", prog.Name, name, paramList(prog)))
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return nil, &ArgsError{File: prog.File.Path, Problems: problems}
	}
	return bound, nil
}

// An ArgsError reports scalar arguments that do not fit the program's
// parameters.
type ArgsError struct {
	File     string
	Problems []string
}

func (e *ArgsError) Error() string { return e.File + ": " + strings.Join(e.Problems, "; ") }

func hasParam(prog *lp.Program, name string) bool {
	for _, p := range prog.Params {
		if p.Name.Name == name {
			return true
		}
	}
	return false
}

func paramList(prog *lp.Program) string {
	var names []string
	for _, p := range prog.Params {
		names = append(names, p.Name.Name+": "+p.Type.String())
	}
	return strings.Join(names, ", ")
}

// Program returns the checked program.
func (p *Plan) Program() *lp.Program { return p.prog }

// Args returns the scalar arguments.
func (p *Plan) Args() map[string]lp.Value { return p.args }

// NumStmts returns the number of kernel call statements.
func (p *Plan) NumStmts() int { return len(p.stmts) }

// Stats reports solver statistics since the plan was made.
type Stats struct {
	// FallbackEnumerations counts the times the solver had to enumerate a
	// loop variable that appears in an index equation it could not solve.
	// For the shipped programs it is zero.
	FallbackEnumerations int64
}

// Stats returns the solver statistics.
func (p *Plan) Stats() Stats { return Stats{FallbackEnumerations: p.fallbacks.Load()} }

// planFormat tags serialised plans so that an incompatible reader fails
// clearly.
const planFormat = "npw-plan/1"

type planJSON struct {
	Format string                     `json:"format"`
	File   string                     `json:"file"`
	Source string                     `json:"source"`
	Args   map[string]json.RawMessage `json:"args"`
}

// MarshalBinary serialises the plan: the program source and the scalar
// arguments, a few hundred bytes whatever the sizes.
func (p *Plan) MarshalBinary() ([]byte, error) {
	src := lp.StripComments(p.src) // positions stay those of the file
	if src == "" {
		src = lp.Format(p.prog.File)
	}
	out := planJSON{Format: planFormat, File: p.prog.File.Path, Source: src, Args: map[string]json.RawMessage{}}
	for name, v := range p.args {
		out.Args[name] = json.RawMessage(v.String())
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// UnmarshalPlan rebuilds a plan serialised by MarshalBinary.
func UnmarshalPlan(data []byte) (*Plan, error) {
	var in planJSON
	if err := json.Unmarshal(data, &in); err != nil {
		return nil, fmt.Errorf("decode plan: %w", err)
	}
	if in.Format != planFormat {
		return nil, fmt.Errorf("decode plan: format %q, want %q", in.Format, planFormat)
	}
	args := make(map[string]lp.Value, len(in.Args))
	for name, raw := range in.Args {
		v, err := lp.ParseValue(string(raw))
		if err != nil {
			return nil, fmt.Errorf("decode plan: argument %s: %w", name, err)
		}
		args[name] = v
	}
	return Compile(in.File, in.Source, args)
}

// compiler lowers the expressions of one program against its arguments.
type compiler struct {
	prog    *lp.Program
	args    map[string]lp.Value
	depth   map[*lp.ForStmt]int // loop -> slot
	assigns map[*lp.AssignStmt]*expr
}

func newCompiler(prog *lp.Program, args map[string]lp.Value) *compiler {
	c := &compiler{prog: prog, args: args, depth: make(map[*lp.ForStmt]int), assigns: make(map[*lp.AssignStmt]*expr)}
	for _, call := range prog.Calls {
		for i, loop := range call.Loops {
			c.depth[loop] = i
		}
	}
	return c
}

// lower compiles a scalar expression. A loop variable becomes its slot,
// which is its nesting depth and so the same in every statement inside
// the loop; scalars are inlined.
func (c *compiler) lower(x lp.Expr) *expr {
	switch x := x.(type) {
	case *lp.IntLit:
		return constExpr(lp.Int(x.Value))
	case *lp.FloatLit:
		return constExpr(lp.Float(x.Value))
	case *lp.ParenExpr:
		return c.lower(x.X)
	case *lp.Ident:
		b := c.prog.Uses[x]
		switch b.Kind {
		case lp.LoopBinding:
			return varExpr(c.depth[b.Loop])
		case lp.ScalarBinding:
			e, ok := c.assigns[b.Assign]
			if !ok {
				e = c.lower(b.Assign.Value)
				c.assigns[b.Assign] = e
			}
			return e
		}
		return constExpr(c.args[b.Name])
	case *lp.UnaryExpr:
		return unaryExpr(x.Op, c.lower(x.X), x.OpPos)
	case *lp.BinaryExpr:
		return binaryExpr(x.Op, c.lower(x.X), c.lower(x.Y), x.OpPos)
	case *lp.CallExpr:
		args := make([]*expr, len(x.Args))
		for i, a := range x.Args {
			args[i] = c.lower(a)
		}
		return callExpr(x.Fn.Name, args, x.Fn.Pos)
	}
	panic(fmt.Sprintf("analysis: unexpected expression %T in a checked program", x))
}

func (c *compiler) stmt(call *lp.Call) (*stmtPlan, error) {
	st := &stmtPlan{id: call.ID, call: call, depth: len(call.Loops)}
	st.all = varMask(1)<<st.depth - 1
	for _, loop := range call.Loops {
		l := loopPlan{name: loop.Var.Name, pos: loop.For, start: constExpr(lp.Int(0)), step: constExpr(lp.Int(1))}
		switch len(loop.Args) {
		case 1:
			l.stop = c.lower(loop.Args[0])
		default:
			l.start, l.stop = c.lower(loop.Args[0]), c.lower(loop.Args[1])
			if len(loop.Args) == 3 {
				l.step = c.lower(loop.Args[2])
			}
		}
		st.loops = append(st.loops, l)
	}
	for _, g := range call.Guards {
		st.guards = append(st.guards, guardPlan{cond: c.lower(g.Cond), want: g.Want, depth: g.Depth})
	}
	// Execution meets guards at depth k before loop k starts.
	for k := 0; k <= st.depth; k++ {
		for i, g := range st.guards {
			if g.depth == k {
				st.base = append(st.base, constraint{kind: consGuard, i: i, mask: g.cond.mask})
			}
		}
		if k < st.depth {
			l := st.loops[k]
			st.base = append(st.base, constraint{kind: consLoop, i: k, mask: bit(k) | l.start.mask | l.stop.mask | l.step.mask})
		}
	}
	st.self = &access{stmt: st, cons: st.base}
	st.self.indexConstraints()
	for i, ref := range call.Stmt.Outputs {
		st.writes = append(st.writes, c.access(st, ref, true, i))
	}
	for i, ref := range call.Inputs {
		st.reads = append(st.reads, c.access(st, ref, false, i))
	}
	for _, x := range call.Scalars {
		st.scalars = append(st.scalars, c.lower(x))
	}
	for _, a := range append(st.reads, st.writes...) {
		if len(a.cons) > maxConstraints {
			return nil, &lp.Error{Pos: lp.Start(call.Stmt), Msg: fmt.Sprintf("too many conditions and indices around this call (%d, at most %d)", len(a.cons), maxConstraints)}
		}
	}
	return st, nil
}

func (c *compiler) access(st *stmtPlan, ref *lp.TileRef, write bool, pos int) *access {
	a := &access{stmt: st, write: write, pos: pos, ref: ref, matrix: c.matrixIndex(ref.Name.Name)}
	a.cons = append(a.cons, st.base...)
	for i, x := range ref.Indices {
		e := c.lower(x)
		a.idx = append(a.idx, e)
		var inv varMask
		for v := range st.depth {
			if e.invertible(v) {
				inv |= bit(v)
			}
		}
		a.inv = append(a.inv, inv)
		a.eqVars |= e.mask
		a.cons = append(a.cons, constraint{kind: consIndex, i: i, mask: e.mask})
	}
	a.indexConstraints()
	a.planDirect(st.depth, len(st.base))
	return a
}

func (a *access) indexConstraints() {
	for i, c := range a.cons {
		if c.mask == 0 {
			a.bySlot[lp.MaxLoopDepth] = append(a.bySlot[lp.MaxLoopDepth], uint8(i))
		}
		for v := range lp.MaxLoopDepth {
			if c.mask&bit(v) != 0 {
				a.bySlot[v] = append(a.bySlot[v], uint8(i))
			}
		}
	}
}

func (c *compiler) matrixIndex(name string) int {
	for i, m := range c.prog.Matrices {
		if m.Name == name {
			return i
		}
	}
	panic("analysis: unknown matrix " + name)
}

// eval evaluates the bounds of loop l; they must be integers with a
// nonzero step.
func (l *loopPlan) eval(vs *vals) (start, stop, step int64, err error) {
	if start, err = l.bound(l.start, vs, "start"); err != nil {
		return
	}
	if stop, err = l.bound(l.stop, vs, "stop"); err != nil {
		return
	}
	if step, err = l.bound(l.step, vs, "step"); err == nil && step == 0 {
		err = &lp.Error{Pos: l.pos, Msg: fmt.Sprintf("range step of loop %s is zero", l.name)}
	}
	return
}

func (l *loopPlan) bound(e *expr, vs *vals, what string) (int64, error) {
	switch {
	case e.op == opAffine:
		return e.aff.eval(vs), nil
	case e.op == opConst && e.err == nil && e.val.Kind == lp.IntKind:
		return e.val.I, nil
	}
	x, err := e.eval(vs)
	if err != nil {
		return 0, err
	}
	n, ok := x.ExactInt() // a float bound counts when it is exactly an integer
	if !ok {
		return 0, &lp.Error{Pos: l.pos, Msg: fmt.Sprintf("range %s of loop %s is %s, not an integer", what, l.name, x)}
	}
	return n, nil
}

// contains reports whether loop l takes the value x.
func (l *loopPlan) contains(x int64, vs *vals) (bool, error) {
	start, stop, step, err := l.eval(vs)
	if err != nil {
		return false, err
	}
	if step > 0 {
		return start <= x && x < stop && (x-start)%step == 0, nil
	}
	return stop < x && x <= start && (start-x)%(-step) == 0, nil
}

// progression returns the values of loop l in ascending order as
// first, first+step, ..., last (empty when first > last).
func (l *loopPlan) progression(vs *vals) (first, last, step int64, err error) {
	start, stop, st, err := l.eval(vs)
	if err != nil {
		return 0, 0, 0, err
	}
	if st > 0 {
		if start >= stop {
			return 1, 0, 1, nil
		}
		first, last, step = start, start+(stop-1-start)/st*st, st
	} else {
		if start <= stop {
			return 1, 0, 1, nil
		}
		first, last, step = start+(start-stop-1)/(-st)*st, start, -st
	}
	if first < math.MinInt32 || last > math.MaxInt32 {
		return 0, 0, 0, &lp.Error{Pos: l.pos, Msg: fmt.Sprintf("loop %s runs from %d to %d, beyond the supported range of loop values", l.name, first, last)}
	}
	return first, last, step, nil
}

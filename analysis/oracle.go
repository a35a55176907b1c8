package analysis

import (
	"fmt"
	"math"
	"slices"

	lp "github.com/npw-dev/npw/lambdapack"
)

// An Oracle is the explicit DAG of a plan, built by running the program
// sequentially, as Python would, and indexing every tile it reads and
// writes. It shares no solving code with the Plan's queries: it walks the
// syntax tree with its own interpreter. It is the truth the solver is
// tested against, and it finds what only a full enumeration can: tiles
// written twice, and tiles read before they are written.
type Oracle struct {
	plan    *Plan
	Nodes   []Node // every task, in execution order
	index   map[Node]int32
	writeAt []int32 // writes of task i: writes[writeAt[i]:writeAt[i+1]]
	writes  []Tile
	readAt  []int32
	reads   []Tile
	writer  map[Tile]int32
	readers map[Tile][]int32

	// Problems lists write-once violations, at most maxProblems of them;
	// ProblemCount counts all.
	Problems     []*lp.Error
	ProblemCount int
}

const maxProblems = 20

// DefaultOracleLimit bounds the tasks an oracle will enumerate, so that a
// typo in a size cannot exhaust memory.
const DefaultOracleLimit = 50_000_000

// BuildOracle runs the program of p and indexes every task. It fails if
// the program has more than limit tasks (0 means DefaultOracleLimit) or if
// evaluating it fails (division by zero, a float index...).
func BuildOracle(p *Plan, limit int) (*Oracle, error) {
	if limit <= 0 {
		limit = DefaultOracleLimit
	}
	o := &Oracle{plan: p, index: make(map[Node]int32), writer: make(map[Tile]int32), readers: make(map[Tile][]int32)}
	in := &interp{prog: p.prog, o: o, env: make(map[*lp.Binding]lp.Value), limit: limit,
		unwritten: make(map[Tile]int32), calls: make(map[*lp.CallStmt]*lp.Call)}
	for _, c := range p.prog.Calls {
		in.calls[c.Stmt] = c
	}
	for param, b := range p.prog.Scalars {
		in.env[b] = p.args[param.Name.Name]
	}
	o.writeAt = append(o.writeAt, 0)
	o.readAt = append(o.readAt, 0)
	if err := in.block(p.prog.File.Def.Body); err != nil {
		return nil, err
	}
	return o, nil
}

type interp struct {
	prog      *lp.Program
	o         *Oracle
	env       map[*lp.Binding]lp.Value
	loopVals  []int64
	calls     map[*lp.CallStmt]*lp.Call
	unwritten map[Tile]int32 // tiles of written matrices read before any write, and their first reader
	limit     int
}

func (in *interp) lookup(b *lp.Binding) (lp.Value, bool) {
	v, ok := in.env[b]
	return v, ok
}

func (in *interp) block(body []lp.Stmt) error {
	for _, s := range body {
		var err error
		switch s := s.(type) {
		case *lp.ForStmt:
			err = in.forStmt(s)
		case *lp.IfStmt:
			err = in.ifStmt(s)
		case *lp.AssignStmt:
			var v lp.Value
			v, err = in.prog.Eval(s.Value, in.lookup)
			in.env[in.prog.Assigns[s]] = v
		case *lp.CallStmt:
			err = in.call(in.calls[s])
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (in *interp) forStmt(s *lp.ForStmt) error {
	bounds := []int64{0, 0, 1}
	names := []string{"start", "stop", "step"}
	args := s.Args
	if len(args) == 1 {
		args = []lp.Expr{nil, args[0]}
	}
	for i, a := range args {
		if a == nil {
			continue
		}
		n, err := in.prog.EvalBound(a, in.lookup, "range "+names[i]+" of loop "+s.Var.Name)
		if err != nil {
			return err
		}
		bounds[i] = n
	}
	start, stop, step := bounds[0], bounds[1], bounds[2]
	if step == 0 {
		return &lp.Error{Pos: s.For, Msg: "range step of loop " + s.Var.Name + " is zero"}
	}
	b := in.prog.Loops[s]
	for x := start; step > 0 && x < stop || step < 0 && x > stop; x += step {
		in.env[b] = lp.Int(x)
		in.loopVals = append(in.loopVals, x)
		err := in.block(s.Body)
		in.loopVals = in.loopVals[:len(in.loopVals)-1]
		if err != nil {
			return err
		}
	}
	delete(in.env, b)
	return nil
}

func (in *interp) ifStmt(s *lp.IfStmt) error {
	for _, c := range s.Clauses {
		v, err := in.prog.Eval(c.Cond, in.lookup)
		if err != nil {
			return err
		}
		if v.Truth() {
			return in.block(c.Body)
		}
	}
	return in.block(s.Else)
}

func (in *interp) tile(ref *lp.TileRef) (Tile, error) {
	m := in.prog.Matrix(ref.Name.Name)
	t := Tile{N: uint8(len(ref.Indices))}
	for i, m2 := range in.prog.Matrices {
		if m2 == m {
			t.Matrix = uint8(i)
		}
	}
	for i, x := range ref.Indices {
		n, err := in.prog.EvalInt(x, in.lookup, fmt.Sprintf("index %d of %s", i, ref.Name.Name))
		if err != nil {
			return t, err
		}
		if n < math.MinInt32 || n > math.MaxInt32 {
			return t, &lp.Error{Pos: lp.Start(x), Msg: fmt.Sprintf("index %d of %s is %d, out of the supported index range", i, ref.Name.Name, n)}
		}
		t.Idx[i] = int32(n)
	}
	return t, nil
}

func (in *interp) call(c *lp.Call) error {
	o := in.o
	if len(o.Nodes) >= in.limit {
		return fmt.Errorf("%s has more than %d tasks; the oracle enumerates every task and stops there", in.prog.Name, in.limit)
	}
	n := Node{Stmt: uint16(c.ID), Depth: uint8(len(in.loopVals))}
	for i, x := range in.loopVals {
		n.Vals[i] = int32(x)
	}
	id := int32(len(o.Nodes))
	o.Nodes = append(o.Nodes, n)
	o.index[n] = id
	start := len(o.reads)
	for _, ref := range c.Inputs {
		t, err := in.tile(ref)
		if err != nil {
			return o.plan.inTask(n, err)
		}
		o.reads = append(o.reads, t)
		o.readers[t] = append(o.readers[t], id)
		if _, written := o.writer[t]; !written && in.prog.Matrices[t.Matrix].Written {
			if _, seen := in.unwritten[t]; !seen {
				in.unwritten[t] = id
			}
		}
	}
	o.readAt = append(o.readAt, int32(len(o.reads)))
	for _, ref := range c.Stmt.Outputs {
		t, err := in.tile(ref)
		if err != nil {
			return o.plan.inTask(n, err)
		}
		o.writes = append(o.writes, t)
		in.checkWrite(n, id, t, ref, o.reads[start:])
	}
	o.writeAt = append(o.writeAt, int32(len(o.writes)))
	return nil
}

// checkWrite records a write and any write-once violation it causes.
func (in *interp) checkWrite(n Node, id int32, t Tile, ref *lp.TileRef, ownReads []Tile) {
	o := in.o
	p := o.plan
	pos := lp.Start(ref)
	if prev, dup := o.writer[t]; dup {
		o.problem(pos, "tile %s is written twice: by %s (at %s) and by %s", p.TileString(t),
			p.Describe(o.Nodes[prev]), p.Position(o.Nodes[prev]), p.Describe(n))
		return
	}
	o.writer[t] = id
	if slices.Contains(ownReads, t) {
		o.problem(pos, "%s reads tile %s, which it writes itself", p.Describe(n), p.TileString(t))
	}
	if reader, early := in.unwritten[t]; early && reader != id {
		o.problem(pos, "tile %s is read by %s (at %s) before %s writes it", p.TileString(t),
			p.Describe(o.Nodes[reader]), p.Position(o.Nodes[reader]), p.Describe(n))
	}
}

func (o *Oracle) problem(pos lp.Position, format string, args ...any) {
	o.ProblemCount++
	if len(o.Problems) < maxProblems {
		o.Problems = append(o.Problems, &lp.Error{Pos: pos, Msg: fmt.Sprintf(format, args...)})
	}
}

// Len returns the number of tasks.
func (o *Oracle) Len() int { return len(o.Nodes) }

// Has reports whether n is a task.
func (o *Oracle) Has(n Node) bool {
	_, ok := o.index[n]
	return ok
}

// Children returns the distinct readers of the tiles n writes, sorted.
func (o *Oracle) Children(n Node) []Node {
	id, ok := o.index[n]
	if !ok {
		return nil
	}
	var out []Node
	for _, t := range o.writes[o.writeAt[id]:o.writeAt[id+1]] {
		for _, r := range o.readers[t] {
			out = append(out, o.Nodes[r])
		}
	}
	return sortUnique(out)
}

// Parents returns the distinct writers of the tiles n reads, sorted.
func (o *Oracle) Parents(n Node) []Node {
	id, ok := o.index[n]
	if !ok {
		return nil
	}
	var out []Node
	for _, t := range o.reads[o.readAt[id]:o.readAt[id+1]] {
		if w, ok := o.writer[t]; ok {
			out = append(out, o.Nodes[w])
		}
	}
	return sortUnique(out)
}

// Starters returns the tasks without parents, in execution order.
func (o *Oracle) Starters() []Node {
	var out []Node
	for _, n := range o.Nodes {
		if len(o.Parents(n)) == 0 {
			out = append(out, n)
		}
	}
	return out
}

// Edges counts the distinct parent-child pairs.
func (o *Oracle) Edges() int64 {
	var e int64
	for _, n := range o.Nodes {
		e += int64(len(o.Children(n)))
	}
	return e
}

func sortUnique(nodes []Node) []Node {
	slices.SortFunc(nodes, Node.Compare)
	return slices.Compact(nodes)
}

package analysis

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	lp "github.com/npw-dev/npw/lambdapack"
)

// instance returns the statement and loop values of n.
func (p *Plan) instance(n Node) (*stmtPlan, vals, error) {
	var vs vals
	if int(n.Stmt) >= len(p.stmts) || int(n.Depth) != p.stmts[n.Stmt].depth {
		return nil, vs, fmt.Errorf("task %s is not a task of %s", n.Key(), p.prog.Name)
	}
	for i := range int(n.Depth) {
		vs[i] = int64(n.Vals[i])
	}
	return p.stmts[n.Stmt], vs, nil
}

// tileOf evaluates the tile an access refers to.
func (p *Plan) tileOf(a *access, vs *vals) (Tile, error) {
	t := Tile{Matrix: uint8(a.matrix), N: uint8(len(a.idx))}
	for i, e := range a.idx {
		n, isInt, err := e.evalInt(vs)
		if err != nil {
			return t, err
		}
		if !isInt || n < math.MinInt32 || n > math.MaxInt32 {
			x, _ := e.eval(vs)
			what := "not an integer"
			if isInt {
				what = "out of the supported index range"
			}
			return t, &lp.Error{Pos: lp.Start(a.ref.Indices[i]), Msg: fmt.Sprintf("index %d of %s is %s, %s", i, a.ref.Name.Name, x, what)}
		}
		t.Idx[i] = int32(n)
	}
	return t, nil
}

// inTask adds the task to an error about evaluating it.
func (p *Plan) inTask(n Node, err error) error {
	if e, ok := err.(*lp.Error); ok {
		return &lp.Error{Pos: e.Pos, Msg: e.Msg + " (in " + p.Describe(n) + ")"}
	}
	return fmt.Errorf("%s: %w", p.Describe(n), err)
}

// Tiles returns the tiles task n reads and writes, in argument order.
func (p *Plan) Tiles(n Node) (reads, writes []Tile, err error) {
	st, vs, err := p.instance(n)
	if err != nil {
		return nil, nil, err
	}
	for _, a := range st.reads {
		t, err := p.tileOf(a, &vs)
		if err != nil {
			return nil, nil, p.inTask(n, err)
		}
		reads = append(reads, t)
	}
	for _, a := range st.writes {
		t, err := p.tileOf(a, &vs)
		if err != nil {
			return nil, nil, p.inTask(n, err)
		}
		writes = append(writes, t)
	}
	return reads, writes, nil
}

// Kernel returns the name of the kernel task n calls.
func (p *Plan) Kernel(n Node) string { return p.stmts[n.Stmt].call.Stmt.Kernel.Name }

// Dropped is how many of its kernel's leading outputs task n's call does
// not assign (2 for R = qr_factor(A)): the kernel computes them, and the
// task drops them.
func (p *Plan) Dropped(n Node) int {
	c := p.stmts[n.Stmt].call
	return len(c.Kernel.Outputs) - len(c.Stmt.Outputs)
}

// ScalarArgs evaluates the scalar arguments of task n's kernel call, in
// order (for example the alpha of scale(A[i], alpha)).
func (p *Plan) ScalarArgs(n Node) ([]lp.Value, error) {
	st, vs, err := p.instance(n)
	if err != nil {
		return nil, err
	}
	out := make([]lp.Value, len(st.scalars))
	for i, e := range st.scalars {
		if out[i], err = e.eval(&vs); err != nil {
			return nil, p.inTask(n, err)
		}
	}
	return out, nil
}

// Children appends to out the tasks that read a tile that n writes, each
// once, and returns the extended slice.
func (p *Plan) Children(n Node, out []Node) ([]Node, error) {
	st, vs, err := p.instance(n)
	if err != nil {
		return out, err
	}
	var buf [4]Tile
	tiles := buf[:0]
	for _, a := range st.writes {
		t, err := p.tileOf(a, &vs)
		if err != nil {
			return out, p.inTask(n, err)
		}
		tiles = append(tiles, t)
	}
	for w, a := range st.writes {
		for ri, r := range p.readers[a.matrix] {
			start := len(out)
			out, _, err = p.solve(r, &tiles[w], 0, out)
			if err != nil {
				return out, err
			}
			out = p.dropSeenChildren(out, start, st, tiles, w, ri)
		}
	}
	return out, nil
}

// dropSeenChildren removes from out[start:] the children that an earlier
// (written tile, reader) pair of the same statement already produced. A
// solution x of pair (w, r) was produced by an earlier pair (w', r') iff r'
// applied to x gives tile w', so one index evaluation per earlier pair
// replaces a search through the list.
func (p *Plan) dropSeenChildren(out []Node, start int, st *stmtPlan, tiles []Tile, w, ri int) []Node {
	prior := st.prior[w][ri]
	if len(prior) == 0 || start == len(out) {
		return out
	}
	keep := out[:start]
	for _, x := range out[start:] {
		if !p.producedBy(x, prior, tiles) {
			keep = append(keep, x)
		}
	}
	return keep
}

func (p *Plan) producedBy(x Node, prior []childPair, tiles []Tile) bool {
	var vs vals
	for i := range int(x.Depth) {
		vs[i] = int64(x.Vals[i])
	}
	for _, pp := range prior {
		t, err := p.tileOf(pp.reader, &vs)
		if err == nil && t == tiles[pp.write] {
			return true
		}
	}
	return false
}

// A childPair is a written tile of a statement (by position) and an access
// that may read it.
type childPair struct {
	write  int
	reader *access
}

// linkPriors records, for every (written tile, reader) pair of every
// statement, the earlier pairs whose reader is in the same statement:
// the only places a child can have been found before.
func (p *Plan) linkPriors() {
	for _, st := range p.stmts {
		var seen []childPair
		st.prior = make([][][]childPair, len(st.writes))
		for w, a := range st.writes {
			st.prior[w] = make([][]childPair, len(p.readers[a.matrix]))
			for ri, r := range p.readers[a.matrix] {
				for _, e := range seen {
					if e.reader.stmt == r.stmt {
						st.prior[w][ri] = append(st.prior[w][ri], e)
					}
				}
				seen = append(seen, childPair{write: w, reader: r})
			}
		}
	}
}

// Parents appends to out the task that writes each tile n reads, each once.
// A tile with two writers violates write-once and is an error.
func (p *Plan) Parents(n Node, out []Node) ([]Node, error) {
	st, vs, err := p.instance(n)
	if err != nil {
		return out, err
	}
	first := len(out)
	for _, a := range st.reads {
		t, err := p.tileOf(a, &vs)
		if err != nil {
			return out, p.inTask(n, err)
		}
		start, found := len(out), 0
		for _, w := range p.writers[a.matrix] {
			var f int
			out, f, err = p.solve(w, &t, 2, out)
			if err != nil {
				return out, err
			}
			found += f
		}
		if found > 1 {
			return out[:first], &lp.Error{Pos: lp.Start(a.ref), Msg: fmt.Sprintf("tile %s is written twice: by %s and by %s (read by %s)",
				p.TileString(t), p.Describe(out[start]), p.Describe(out[start+1]), p.Describe(n))}
		}
		if found == 0 {
			continue
		}
		x := out[start]
		if x == n {
			return out[:first], &lp.Error{Pos: lp.Start(a.ref), Msg: fmt.Sprintf("%s reads tile %s, which it writes itself", p.Describe(n), p.TileString(t))}
		}
		for _, y := range out[first:start] {
			if y == x {
				out = out[:start]
				break
			}
		}
	}
	return out, nil
}

// Indegree returns the number of distinct parents of n.
func (p *Plan) Indegree(n Node) (int, error) {
	var buf [8]Node
	parents, err := p.Parents(n, buf[:0])
	return len(parents), err
}

// hasParents reports whether some tile that n reads is written by a task.
// hint[stmt] is the read that last had a writer for that statement; it is
// tried first, since tasks of one statement tend to agree (a syrk's S tile
// is often an input, its O tiles never are).
func (p *Plan) hasParents(n Node, hint []int, scratch []Node) (bool, error) {
	st, vs, err := p.instance(n)
	if err != nil {
		return false, err
	}
	first := hint[n.Stmt]
	for k := range st.reads {
		r := (first + k) % len(st.reads)
		a := st.reads[r]
		t, err := p.tileOf(a, &vs)
		if err != nil {
			return false, p.inTask(n, err)
		}
		for _, w := range p.writers[a.matrix] {
			_, f, err := p.solve(w, &t, 1, scratch[:0])
			if err != nil {
				return false, err
			}
			if f > 0 {
				hint[n.Stmt] = r
				return true, nil
			}
		}
	}
	return false, nil
}

// Walk calls fn for every task, statement by statement; a loop's values
// are visited in ascending order. It stops at the first error.
func (p *Plan) Walk(fn func(Node) error) error {
	for _, st := range p.stmts {
		var vs vals
		if err := p.walkStmt(st, 0, 0, &vs, fn); err != nil {
			return err
		}
	}
	return nil
}

// walkStmt enumerates slot k of st after the guards met at depth k.
func (p *Plan) walkStmt(st *stmtPlan, k, ci int, vs *vals, fn func(Node) error) error {
	for ; ci < len(st.base) && st.base[ci].kind == consGuard; ci++ {
		g := &st.guards[st.base[ci].i]
		x, err := g.cond.eval(vs)
		if err != nil {
			return err
		}
		if x.Truth() != g.want {
			return nil
		}
	}
	if k == st.depth {
		n := Node{Stmt: uint16(st.id), Depth: uint8(st.depth)}
		for i := range st.depth {
			n.Vals[i] = int32(vs[i])
		}
		return fn(n)
	}
	first, last, step, err := st.loops[k].progression(vs)
	if err != nil {
		return err
	}
	for x := first; x <= last; x += step {
		vs[k] = x
		if err := p.walkStmt(st, k+1, ci+1, vs, fn); err != nil {
			return err
		}
	}
	return nil
}

// Count returns the number of tasks.
func (p *Plan) Count() (int64, error) {
	var n int64
	err := p.Walk(func(Node) error { n++; return nil })
	return n, err
}

// Starters returns the tasks without parents, in Walk order.
func (p *Plan) Starters() ([]Node, error) {
	var starters []Node
	scratch := make([]Node, 0, 8)
	hint := make([]int, len(p.stmts))
	err := p.Walk(func(n Node) error {
		has, err := p.hasParents(n, hint, scratch)
		if err == nil && !has {
			starters = append(starters, n)
		}
		return err
	})
	return starters, err
}

// Contains reports whether n is a task of the plan: its loop values lie in
// their ranges and its guards hold.
func (p *Plan) Contains(n Node) (bool, error) {
	st, vs, err := p.instance(n)
	if err != nil {
		return false, nil
	}
	s := search{st: st, acc: st.self, vals: vs}
	for i := range st.base {
		ok, err := s.holds(&st.base[i])
		if err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

// ParseKey parses a task key and checks that it names a task of the plan.
func (p *Plan) ParseKey(key string) (Node, error) {
	n, err := parseNodeKey(key)
	if err != nil {
		return n, err
	}
	ok, err := p.Contains(n)
	if err != nil {
		return n, err
	}
	if !ok {
		return n, fmt.Errorf("task key %q names no task of %s", key, p.prog.Name)
	}
	return n, nil
}

// Describe names a task for people: kernel(loop=value, ...).
func (p *Plan) Describe(n Node) string {
	if int(n.Stmt) >= len(p.stmts) {
		return "task " + n.Key()
	}
	st := p.stmts[n.Stmt]
	var b strings.Builder
	b.WriteString(st.call.Stmt.Kernel.Name)
	b.WriteByte('(')
	for i := range min(int(n.Depth), st.depth) {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(st.loops[i].name)
		b.WriteByte('=')
		b.WriteString(strconv.Itoa(int(n.Vals[i])))
	}
	b.WriteByte(')')
	return b.String()
}

// Position returns the source position of n's statement.
func (p *Plan) Position(n Node) lp.Position {
	return lp.Start(p.stmts[n.Stmt].call.Stmt)
}

// TileString names a tile as in the program: S[1,2,3].
func (p *Plan) TileString(t Tile) string {
	var b strings.Builder
	b.WriteString(p.prog.Matrices[t.Matrix].Name)
	b.WriteByte('[')
	for i, x := range t.Indices() {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(int(x)))
	}
	b.WriteByte(']')
	return b.String()
}

// Readers appends to out the distinct tasks that read tile t.
func (p *Plan) Readers(t Tile, out []Node) ([]Node, error) {
	start := len(out)
	var err error
	for _, r := range p.readers[t.Matrix] {
		if out, _, err = p.solve(r, &t, 0, out); err != nil {
			return out, err
		}
	}
	found := out[start:]
	if len(p.readers[t.Matrix]) > 1 && len(found) > 1 {
		slices.SortFunc(found, Node.Compare)
		out = append(out[:start], slices.Compact(found)...)
	}
	return out, nil
}

// HasWriter reports whether some task writes tile t; a tile without one
// is input data.
func (p *Plan) HasWriter(t Tile) (bool, error) {
	var buf [2]Node
	for _, w := range p.writers[t.Matrix] {
		_, f, err := p.solve(w, &t, 1, buf[:0])
		if err != nil || f > 0 {
			return f > 0, err
		}
	}
	return false, nil
}

// Writers appends to out the tasks that write tile t, stopping at two: a
// program writes each tile once, so a second writer is a violation that
// the caller reports (a run refuses such a program before any task starts).
func (p *Plan) Writers(t Tile, out []Node) ([]Node, error) {
	start := len(out)
	for _, w := range p.writers[t.Matrix] {
		var err error
		if out, _, err = p.solve(w, &t, 2-(len(out)-start), out); err != nil || len(out)-start >= 2 {
			return out, err
		}
	}
	return out, nil
}

// Priority ranks a task for scheduling, higher first. With levels set
// (SetLevels), a task's level, the length of its longest path to the end
// of the DAG, ranks it, and the loop formula below breaks ties; without,
// the loop formula alone does.
func (p *Plan) Priority(n Node) int {
	lp := p.loopPriority(n)
	l := p.levels.Load()
	if l == nil {
		return lp
	}
	return l.Of(n)*l.span + lp - l.loopLo
}

// loopPriority is a closed form any worker can compute from the task
// alone: tasks whose loop values sum lower come first, and on ties
// earlier statements. Loop values track how deep a task sits in the DAG,
// so this runs the next panel early (in Cholesky chol(i+1) and trsm(i+1,
// ·) overtake most of iteration i's trailing updates).
func (p *Plan) loopPriority(n Node) int {
	sum := 0
	for i := range int(n.Depth) {
		sum += int(n.Vals[i])
	}
	return -(sum*len(p.stmts) + int(n.Stmt))
}

// SetLevels makes Priority rank tasks by the levels, which must be the
// plan's own (ComputeLevels, or their serialised form); nil goes back to
// the loop formula.
func (p *Plan) SetLevels(l *Levels) error {
	if l != nil {
		if len(l.boxes) != len(p.stmts) {
			return fmt.Errorf("levels of %d statements for a plan of %d", len(l.boxes), len(p.stmts))
		}
		for i, b := range l.boxes {
			if b.v != nil && b.depth != p.stmts[i].depth {
				return fmt.Errorf("levels of statement %d have depth %d, not %d", i, b.depth, p.stmts[i].depth)
			}
		}
	}
	p.levels.Store(l)
	return nil
}

// Ranked returns the plan a job schedules by. By path, that is p with
// its levels (computed on first use and kept), unless the DAG needs more
// than maxCells of them: then p ranks by the loop formula, and ranked is
// false. By loops, it is p, or a copy without levels if p has them (a
// plan may serve several jobs).
func (p *Plan) Ranked(byPath bool, maxCells int64) (plan *Plan, ranked bool, err error) {
	switch {
	case !byPath && p.Levels() == nil:
		return p, false, nil
	case !byPath:
		q, err := NewPlan(p.prog, p.args)
		return q, false, err
	case p.Levels() != nil:
		return p, true, nil
	}
	l, err := p.ComputeLevels(maxCells)
	if errors.Is(err, ErrTooManyLevels) {
		return p, false, nil
	}
	if err == nil {
		err = p.SetLevels(l)
	}
	return p, err == nil, err
}

// Levels returns the levels Priority ranks by, or nil.
func (p *Plan) Levels() *Levels { return p.levels.Load() }

// MatrixIndex returns the index of the named BigMatrix parameter, the
// Matrix field of its tiles, or -1.
func (p *Plan) MatrixIndex(name string) int {
	for i, m := range p.prog.Matrices {
		if m.Name == name {
			return i
		}
	}
	return -1
}

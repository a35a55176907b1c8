package analysis

import (
	"math"
	"math/bits"

	lp "github.com/npw-dev/npw/lambdapack"
)

// A search finds every instance of one statement whose access acc refers
// to the tile target: the loop values v with acc.idx(v) == target that
// satisfy the statement's loop ranges, steps and guards.
//
// It assigns loop slots one at a time. At each step it looks, outermost
// slot first, for an index equation with a single unknown slot that can
// be inverted, and tries the values the inversion allows. When there is
// none, it enumerates the outermost unknown slot over its range: a free
// slot (one no index mentions, like j for the readers of O[i, i] in
// Cholesky) has as many solutions as values, but enumerating a slot that an
// index does mention is a fallback and is counted. Every constraint is
// checked as soon as the slots it depends on are known, so dead branches
// are cut early; a constraint whose evaluation fails is retried when the
// assignment is complete, in execution order, and only then reported.
type search struct {
	st        *stmtPlan
	acc       *access
	target    [lp.MaxIndexArity]int64
	vals      vals
	out       []Node
	limit     int // stop after this many solutions; 0 finds all
	found     int
	fallbacks int64
	err       error
}

// solve appends to out the instances of acc's statement that access t and
// returns how many it found (at most limit, if limit > 0).
func (p *Plan) solve(acc *access, t *Tile, limit int, out []Node) ([]Node, int, error) {
	if acc.direct != nil {
		return solveDirect(acc, t, out)
	}
	s := search{st: acc.stmt, acc: acc, out: out, limit: limit}
	for i := range int(t.N) {
		s.target[i] = int64(t.Idx[i])
	}
	if checked, ok := s.check(lp.MaxLoopDepth, 0, 0); ok {
		s.step(0, checked)
	}
	if s.fallbacks > 0 {
		p.fallbacks.Add(s.fallbacks)
	}
	return s.out, s.found, s.err
}

// step extends the assignment of the slots in known; it reports true to
// stop the search (limit reached or error).
func (s *search) step(known varMask, checked uint64) bool {
	unknown := s.st.all &^ known
	if unknown == 0 {
		return s.finish(checked)
	}
	if v, k, lo, hi, ok := s.solvable(known); ok {
		// Inversion returns the exact preimage, so equation k holds for
		// every value tried and need not be evaluated again.
		checked |= uint64(1) << (len(s.st.base) + k)
		return s.tryInterval(v, lo, hi, known, checked)
	}
	v := bits.TrailingZeros16(uint16(unknown))
	if s.acc.eqVars&bit(v) != 0 {
		s.fallbacks++
	}
	first, last, stp, err := s.st.loops[v].progression(&s.vals)
	if err != nil {
		s.err = err
		return true
	}
	return s.enumerate(v, first, last, stp, known, checked)
}

// solvable finds the outermost unknown slot v that some index equation k
// determines on its own, and the interval of values it allows.
func (s *search) solvable(known varMask) (v, k int, lo, hi int64, ok bool) {
	unknown := s.st.all &^ known
	for v := range s.st.depth {
		b := bit(v)
		if unknown&b == 0 {
			continue
		}
		for k, e := range s.acc.idx {
			if e.mask&unknown != b || s.acc.inv[k]&b == 0 {
				continue
			}
			lo, hi, ok := e.invert(v, s.target[k], s.target[k], &s.vals)
			if !ok || lo < hi && !s.boundsKnown(v, known) {
				continue // an interval is only walked inside the loop's range
			}
			return v, k, lo, hi, true
		}
	}
	return 0, 0, 0, 0, false
}

func (s *search) boundsKnown(v int, known varMask) bool {
	l := &s.st.loops[v]
	return (l.start.mask|l.stop.mask|l.step.mask)&^known == 0
}

// tryInterval tries the values in [lo, hi] for slot v, restricted to the
// loop's progression when its bounds are known.
func (s *search) tryInterval(v int, lo, hi int64, known varMask, checked uint64) bool {
	if lo > hi {
		return false
	}
	if lo == hi {
		return s.try(v, lo, known, checked)
	}
	first, last, stp, err := s.st.loops[v].progression(&s.vals)
	if err != nil {
		s.err = err
		return true
	}
	if lo > first {
		first += ceilDiv(lo-first, stp) * stp
	}
	if hi < last {
		if hi < first {
			return false
		}
		last = first + (hi-first)/stp*stp
	}
	return s.enumerate(v, first, last, stp, known, checked)
}

func (s *search) enumerate(v int, first, last, stp int64, known varMask, checked uint64) bool {
	for x := first; x <= last; x += stp {
		if s.try(v, x, known, checked) {
			return true
		}
	}
	return false
}

func (s *search) try(v int, x int64, known varMask, checked uint64) bool {
	s.vals[v] = x
	known |= bit(v)
	c, ok := s.check(v, known, checked)
	if !ok {
		return false
	}
	return s.step(known, c)
}

// check evaluates the unchecked constraints that slot v (just assigned)
// appears in and that the known slots decide. It reports false if one
// fails; one whose evaluation errs stays unchecked.
func (s *search) check(v int, known varMask, checked uint64) (uint64, bool) {
	for _, i := range s.acc.bySlot[v] {
		b := uint64(1) << i
		c := &s.acc.cons[i]
		if checked&b != 0 || c.mask&^known != 0 {
			continue
		}
		ok, err := s.holds(c)
		if err != nil {
			continue
		}
		if !ok {
			return checked, false
		}
		checked |= b
	}
	return checked, true
}

func (s *search) holds(c *constraint) (bool, error) {
	return holds(s.acc, c, &s.vals, &s.target)
}

// holds evaluates constraint c of acc at the loop values vs.
func holds(acc *access, c *constraint, vs *vals, target *[lp.MaxIndexArity]int64) (bool, error) {
	switch c.kind {
	case consLoop:
		return acc.stmt.loops[c.i].contains(vs[c.i], vs)
	case consGuard:
		g := &acc.stmt.guards[c.i]
		x, err := g.cond.eval(vs)
		return err == nil && x.Truth() == g.want, err
	}
	n, isInt, err := acc.idx[c.i].evalInt(vs)
	return isInt && n == target[c.i], err
}

// finish completes a full assignment: the constraints left unchecked are
// evaluated in execution order, so an error is reported only if nothing
// before it rules the instance out.
func (s *search) finish(checked uint64) bool {
	for i := range s.acc.cons {
		if checked&(uint64(1)<<i) != 0 {
			continue
		}
		ok, err := s.holds(&s.acc.cons[i])
		if err != nil {
			s.err = err
			return true
		}
		if !ok {
			return false
		}
	}
	n := Node{Stmt: uint16(s.st.id), Depth: uint8(s.st.depth)}
	for i := range s.st.depth {
		x := s.vals[i]
		if x < math.MinInt32 || x > math.MaxInt32 {
			s.err = &lp.Error{Pos: s.st.loops[i].pos, Msg: "loop variable " + s.st.loops[i].name + " leaves the supported range of loop values"}
			return true
		}
		n.Vals[i] = int32(x)
	}
	s.out = append(s.out, n)
	s.found++
	return s.limit > 0 && s.found >= s.limit
}

// solveDirect solves an access whose every slot follows from an affine
// equation in a fixed order (see planDirect): there is at most one
// solution. Constraints are then checked as finish does: any that is
// plainly false rules the instance out; otherwise the first error in
// execution order is reported.
func solveDirect(acc *access, t *Tile, out []Node) ([]Node, int, error) {
	var vs vals
	var target [lp.MaxIndexArity]int64
	for i := range int(t.N) {
		target[i] = int64(t.Idx[i])
	}
	for _, d := range acc.direct {
		e := &acc.idx[d.k].aff
		num := target[d.k] - e.eval(&vs) // slot d.v is still 0 in vs
		switch c := e.coef[d.v]; {
		case c == 1:
			vs[d.v] = num
		case c == -1:
			vs[d.v] = -num
		case num%c != 0:
			return out, 0, nil
		default:
			vs[d.v] = num / c
		}
	}
	var firstErr error
	for i := range acc.cons {
		if acc.directUsed&(uint64(1)<<i) != 0 {
			continue
		}
		ok, err := holds(acc, &acc.cons[i], &vs, &target)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		if !ok {
			return out, 0, nil
		}
	}
	if firstErr != nil {
		return out, 0, firstErr
	}
	st := acc.stmt
	n := Node{Stmt: uint16(st.id), Depth: uint8(st.depth)}
	for i := range st.depth {
		if vs[i] < math.MinInt32 || vs[i] > math.MaxInt32 {
			return out, 0, &lp.Error{Pos: st.loops[i].pos, Msg: "loop variable " + st.loops[i].name + " leaves the supported range of loop values"}
		}
		n.Vals[i] = int32(vs[i])
	}
	return append(out, n), 1, nil
}

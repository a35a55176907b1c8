package analysis

// Compiled scalar expressions. Lowering replaces scalar parameters by
// their values, inlines scalar assignments, refers to loop variables by
// slot (their nesting depth) and folds constants; linear combinations of
// loop variables with integer coefficients become one affine node, which
// evaluates and inverts in a few instructions.

import (
	"math"

	lp "github.com/npw-dev/npw/lambdapack"
)

type exprOp uint8

const (
	opConst  exprOp = iota // val, or err if evaluating it fails
	opAffine               // aff
	opUnary                // tok args[0]
	opBinary               // args[0] tok args[1]
	opCall                 // fn(args...)
)

// A varMask is a set of loop slots.
type varMask uint16

func bit(slot int) varMask { return 1 << slot }

type expr struct {
	op   exprOp
	tok  lp.Token
	fn   string
	val  lp.Value
	err  error
	aff  affine
	args []*expr
	mask varMask // loop slots the value depends on
	pos  lp.Position
}

// vals holds the loop values of one statement instance, by slot.
type vals = [lp.MaxLoopDepth]int64

// affine is sum(coef[i] * v[i]) + c. Slots from n on have coefficient 0.
type affine struct {
	coef [lp.MaxLoopDepth]int64
	c    int64
	n    int
}

// Bounds that keep affine evaluation free of overflow for loop values
// within int32: 8 * 2^24 * 2^31 + 2^61 < 2^63.
const (
	maxCoef  = 1 << 24
	maxConst = 1 << 61
)

func (a *affine) eval(v *vals) int64 {
	r := a.c
	for i := range a.n {
		r += a.coef[i] * v[i]
	}
	return r
}

// trim sets n past the last nonzero coefficient.
func (a *affine) trim() {
	a.n = 0
	for i, c := range a.coef {
		if c != 0 {
			a.n = i + 1
		}
	}
}

func (a *affine) mask() varMask {
	var m varMask
	for i, c := range a.coef {
		if c != 0 {
			m |= bit(i)
		}
	}
	return m
}

func (a *affine) fits() bool {
	for _, c := range a.coef {
		if c > maxCoef || c < -maxCoef {
			return false
		}
	}
	return a.c <= maxConst && a.c >= -maxConst
}

func constExpr(v lp.Value) *expr { return &expr{op: opConst, val: v} }

func errExpr(pos lp.Position, err error) *expr {
	return &expr{op: opConst, err: positioned(pos, err)}
}

func positioned(pos lp.Position, err error) error {
	if _, ok := err.(*lp.Error); ok {
		return err
	}
	return &lp.Error{Pos: pos, Msg: err.Error()}
}

func varExpr(slot int) *expr {
	var a affine
	a.coef[slot] = 1
	return affineExpr(a)
}

func affineExpr(a affine) *expr {
	if m := a.mask(); m != 0 {
		a.trim()
		return &expr{op: opAffine, aff: a, mask: m}
	}
	return constExpr(lp.Int(a.c))
}

// asAffine views e as an affine form if it is one.
func (e *expr) asAffine() (affine, bool) {
	switch {
	case e.op == opAffine:
		return e.aff, true
	case e.op == opConst && e.err == nil && e.val.Kind == lp.IntKind:
		return affine{c: e.val.I}, true
	}
	return affine{}, false
}

func (e *expr) isConst() bool { return e.op == opConst }

// eval evaluates e for the loop values v.
func (e *expr) eval(v *vals) (lp.Value, error) {
	switch e.op {
	case opConst:
		return e.val, e.err
	case opAffine:
		return lp.Int(e.aff.eval(v)), nil
	case opUnary:
		x, err := e.args[0].eval(v)
		if err != nil {
			return lp.Value{}, err
		}
		r, err := lp.Unary(e.tok, x)
		if err != nil {
			return lp.Value{}, positioned(e.pos, err)
		}
		return r, nil
	case opBinary:
		x, err := e.args[0].eval(v)
		if err != nil {
			return lp.Value{}, err
		}
		switch {
		case e.tok == lp.AND && !x.Truth():
			return lp.Bool(false), nil
		case e.tok == lp.OR && x.Truth():
			return lp.Bool(true), nil
		}
		y, err := e.args[1].eval(v)
		if err != nil {
			return lp.Value{}, err
		}
		r, err := lp.Binary(e.tok, x, y)
		if err != nil {
			return lp.Value{}, positioned(e.pos, err)
		}
		return r, nil
	}
	var buf [4]lp.Value
	args := buf[:0]
	for _, a := range e.args {
		x, err := a.eval(v)
		if err != nil {
			return lp.Value{}, err
		}
		args = append(args, x)
	}
	r, err := lp.CallBuiltin(e.fn, args)
	if err != nil {
		return lp.Value{}, positioned(e.pos, err)
	}
	return r, nil
}

// evalInt evaluates an expression that should give an integer; ok is
// false when it gives a float or a condition instead.
func (e *expr) evalInt(v *vals) (n int64, ok bool, err error) {
	if e.op == opAffine {
		return e.aff.eval(v), true, nil
	}
	x, err := e.eval(v)
	if err != nil {
		return 0, false, err
	}
	return x.I, x.Kind == lp.IntKind, nil
}

// unary builds -x, +x or not x, folding constants and affine forms.
func unaryExpr(op lp.Token, x *expr, pos lp.Position) *expr {
	if x.isConst() {
		if x.err != nil {
			return x
		}
		r, err := lp.Unary(op, x.val)
		if err != nil {
			return errExpr(pos, err)
		}
		return constExpr(r)
	}
	if op == lp.PLUS && x.op == opAffine {
		return x
	}
	if a, ok := x.asAffine(); ok && op == lp.MINUS {
		if n, ok := scaleAffine(a, -1); ok {
			return affineExpr(n)
		}
	}
	return &expr{op: opUnary, tok: op, args: []*expr{x}, mask: x.mask, pos: pos}
}

// binaryExpr builds x op y, folding constants and affine forms.
func binaryExpr(op lp.Token, x, y *expr, pos lp.Position) *expr {
	if x.isConst() && x.err != nil {
		return x // the left operand is always evaluated first
	}
	if x.isConst() && (op == lp.AND && !x.val.Truth() || op == lp.OR && x.val.Truth()) {
		return constExpr(lp.Bool(op == lp.OR))
	}
	if x.isConst() && y.isConst() && y.err == nil {
		r, err := lp.Binary(op, x.val, y.val)
		if err != nil {
			return errExpr(pos, err)
		}
		return constExpr(r)
	}
	ax, okx := x.asAffine()
	ay, oky := y.asAffine()
	if okx && oky {
		var r affine
		ok := false
		switch op {
		case lp.PLUS:
			r, ok = addAffine(ax, ay, 1)
		case lp.MINUS:
			r, ok = addAffine(ax, ay, -1)
		case lp.STAR:
			switch {
			case x.isConst():
				r, ok = scaleAffine(ay, ax.c)
			case y.isConst():
				r, ok = scaleAffine(ax, ay.c)
			}
		}
		if ok {
			return affineExpr(r)
		}
	}
	return &expr{op: opBinary, tok: op, args: []*expr{x, y}, mask: x.mask | y.mask, pos: pos}
}

func callExpr(fn string, args []*expr, pos lp.Position) *expr {
	e := &expr{op: opCall, fn: fn, args: args, pos: pos}
	allConst := true
	for _, a := range args {
		if a.isConst() && a.err != nil {
			return a
		}
		allConst = allConst && a.isConst()
		e.mask |= a.mask
	}
	if allConst {
		v, err := e.eval(&vals{})
		if err != nil {
			return &expr{op: opConst, err: err}
		}
		return constExpr(v)
	}
	return e
}

func addAffine(a, b affine, sign int64) (affine, bool) {
	var r affine
	for i := range r.coef {
		r.coef[i] = a.coef[i] + sign*b.coef[i]
	}
	r.c = a.c + sign*b.c
	return r, r.fits()
}

func scaleAffine(a affine, k int64) (affine, bool) {
	if k > maxCoef || k < -maxCoef {
		return affine{}, false
	}
	var r affine
	for i := range r.coef {
		r.coef[i] = a.coef[i] * k
	}
	c, ok := lp.MulInt(a.c, k)
	r.c = c
	return r, ok && r.fits()
}

// invertible reports whether e can be solved for slot v once every other
// variable it mentions is known: v appears once, on a path of operators
// that can be undone (+, -, * and // by a known integer, a known base or
// exponent of **), or e is affine with a nonzero coefficient of v.
func (e *expr) invertible(v int) bool {
	if e.mask&bit(v) == 0 {
		return false
	}
	switch e.op {
	case opAffine:
		return e.aff.coef[v] != 0
	case opUnary:
		return e.tok != lp.NOT && e.args[0].invertible(v)
	case opBinary:
		x, y := e.args[0], e.args[1]
		if x.mask&bit(v) != 0 && y.mask&bit(v) != 0 {
			return false
		}
		switch e.tok {
		case lp.PLUS, lp.MINUS, lp.STAR, lp.STARSTAR:
			return x.invertible(v) || y.invertible(v)
		case lp.SLASHSLASH:
			return x.invertible(v)
		}
	}
	return false
}

// invert narrows slot v: given that e lies in [lo, hi] and every other
// slot in e's mask is known, it returns the interval of values of v
// (empty when lo > hi) that can satisfy it. It never loses a solution;
// the caller checks candidates against the full system. ok is false when
// the values met at run time (a float operand, a zero factor) prevent the
// inversion.
func (e *expr) invert(v int, lo, hi int64, vs *vals) (rlo, rhi int64, ok bool) {
	switch e.op {
	case opAffine:
		a := e.aff.coef[v]
		rest := e.aff.eval(vs) - a*vs[v]
		return divInterval(lo-rest, hi-rest, a)
	case opUnary:
		if e.tok == lp.MINUS {
			lo, hi = -hi, -lo
		}
		return e.args[0].invert(v, lo, hi, vs)
	case opBinary:
		return e.invertBinary(v, lo, hi, vs)
	}
	return 0, 0, false
}

func (e *expr) invertBinary(v int, lo, hi int64, vs *vals) (int64, int64, bool) {
	inLeft := e.args[0].mask&bit(v) != 0
	sub, other := e.args[0], e.args[1]
	if !inLeft {
		sub, other = other, sub
	}
	o, isInt, err := other.evalInt(vs)
	if err != nil || !isInt || o > maxConst || o < -maxConst {
		return 0, 0, false
	}
	switch e.tok {
	case lp.PLUS:
		return sub.invert(v, lo-o, hi-o, vs)
	case lp.MINUS:
		if inLeft {
			return sub.invert(v, lo+o, hi+o, vs)
		}
		return sub.invert(v, o-hi, o-lo, vs)
	case lp.STAR:
		if o == 0 {
			if lo <= 0 && 0 <= hi {
				return 0, 0, false // every value works: not solvable here
			}
			return 1, 0, true
		}
		l, h, ok := divInterval(lo, hi, o)
		if !ok || l > h {
			return l, h, ok
		}
		return sub.invert(v, l, h, vs)
	case lp.SLASHSLASH:
		if !inLeft || o == 0 {
			return 0, 0, false
		}
		l, h, ok := floorDivPreimage(lo, hi, o)
		if !ok {
			return 0, 0, false
		}
		return sub.invert(v, l, h, vs)
	case lp.STARSTAR:
		if inLeft {
			return invertPowBase(sub, v, lo, hi, o, vs)
		}
		return invertPowExponent(sub, v, lo, hi, o, vs)
	}
	return 0, 0, false
}

// divInterval returns the integers x with a*x in [lo, hi].
func divInterval(lo, hi, a int64) (int64, int64, bool) {
	if a == 0 {
		return 0, 0, false
	}
	if a < 0 {
		lo, hi, a = -hi, -lo, -a
	}
	return ceilDiv(lo, a), lp.FloorDiv(hi, a), true
}

func ceilDiv(a, b int64) int64 { return -lp.FloorDiv(-a, b) }

// floorDivPreimage returns the x with x // c in [lo, hi].
func floorDivPreimage(lo, hi, c int64) (int64, int64, bool) {
	if lo > hi {
		return lo, hi, true
	}
	if c > 0 {
		l, ok1 := lp.MulInt(lo, c)
		h, ok2 := lp.MulInt(hi, c)
		return l, h + c - 1, ok1 && ok2 && h <= maxConst
	}
	// x // c == q  <=>  (q+1)*c < x <= q*c  for c < 0
	l, ok1 := lp.MulInt(hi+1, c)
	h, ok2 := lp.MulInt(lo, c)
	return l + 1, h, ok1 && ok2 && l >= -maxConst
}

// invertPowExponent solves base**x in [lo, hi] for the exponent.
func invertPowExponent(sub *expr, v int, lo, hi, base int64, vs *vals) (int64, int64, bool) {
	if base < 2 {
		return 0, 0, false
	}
	if hi < 1 {
		return 1, 0, true // base**x >= 1 for every integer result
	}
	l := ilogCeil(base, max(lo, 1))
	h := ilogFloor(base, hi)
	if l > h {
		return 1, 0, true
	}
	return sub.invert(v, l, h, vs)
}

// invertPowBase solves x**exp in [lo, hi] for the base, where x**exp is
// monotone: odd positive exponents.
func invertPowBase(sub *expr, v int, lo, hi, exp int64, vs *vals) (int64, int64, bool) {
	if exp == 1 {
		return sub.invert(v, lo, hi, vs)
	}
	if exp < 1 || exp%2 == 0 || exp > 63 {
		return 0, 0, false
	}
	l, h := iroot(lo, exp, true), iroot(hi, exp, false)
	if l > h {
		return 1, 0, true
	}
	return sub.invert(v, l, h, vs)
}

// ilogFloor is the largest k with b**k <= x, for x >= 1 and b >= 2.
func ilogFloor(b, x int64) int64 {
	k, p := int64(0), int64(1)
	for {
		next, ok := lp.MulInt(p, b)
		if !ok || next > x {
			return k
		}
		p, k = next, k+1
	}
}

// ilogCeil is the smallest k with b**k >= x, for x >= 1 and b >= 2.
func ilogCeil(b, x int64) int64 {
	k, p := int64(0), int64(1)
	for p < x {
		next, ok := lp.MulInt(p, b)
		if !ok {
			return k + 1
		}
		p, k = next, k+1
	}
	return k
}

// iroot returns, for odd exp, the smallest r with r**exp >= x (up) or
// the largest r with r**exp <= x (!up).
func iroot(x, exp int64, up bool) int64 {
	r := int64(math.Round(math.Pow(math.Abs(float64(x)), 1/float64(exp))))
	if x < 0 {
		r = -r
	}
	cmp := func(r int64) int { // sign of r**exp - x; overflow has the sign of r
		p, ok := lp.PowInt(r, exp)
		switch {
		case !ok && r > 0, ok && p > x:
			return 1
		case !ok, p < x:
			return -1
		}
		return 0
	}
	// The float estimate is off by at most a little; step to the exact root.
	if up {
		for cmp(r) < 0 {
			r++
		}
		for cmp(r-1) >= 0 {
			r--
		}
		return r
	}
	for cmp(r) > 0 {
		r--
	}
	for cmp(r+1) <= 0 {
		r++
	}
	return r
}

package lambdapack

import (
	"errors"
	"fmt"
	"math"
	"strconv"
)

// A Kind is the run-time type of a scalar value.
type Kind uint8

const (
	IntKind Kind = iota + 1
	FloatKind
	BoolKind
)

// A Value is a scalar: an int, a float or the result of a condition.
// Arithmetic follows Python 3: / always gives a float, // and % floor
// towards negative infinity, int ** negative int gives a float.
type Value struct {
	Kind Kind
	I    int64 // IntKind; BoolKind as 0 or 1
	F    float64
}

// Int returns an int value.
func Int(i int64) Value { return Value{Kind: IntKind, I: i} }

// Float returns a float value.
func Float(f float64) Value { return Value{Kind: FloatKind, F: f} }

// Bool returns a condition value.
func Bool(b bool) Value {
	if b {
		return Value{Kind: BoolKind, I: 1}
	}
	return Value{Kind: BoolKind}
}

func (v Value) String() string {
	switch v.Kind {
	case IntKind:
		return strconv.FormatInt(v.I, 10)
	case FloatKind:
		return formatFloat(v.F)
	case BoolKind:
		if v.I != 0 {
			return "True"
		}
		return "False"
	}
	return "<invalid>"
}

// Truth reports the value as a condition, as Python's bool() does.
// ExactInt is v as an integer: an int, or a float whose value is exactly
// an integer (log2(8) is 3.0); ok is false for any other value.
func (v Value) ExactInt() (n int64, ok bool) {
	switch v.Kind {
	case IntKind:
		return v.I, true
	case FloatKind:
		if v.F == math.Trunc(v.F) && math.Abs(v.F) <= 1<<62 {
			return int64(v.F), true
		}
	}
	return 0, false
}

func (v Value) Truth() bool {
	if v.Kind == FloatKind {
		return v.F != 0
	}
	return v.I != 0
}

func (v Value) float() float64 {
	if v.Kind == FloatKind {
		return v.F
	}
	return float64(v.I)
}

// Errors of scalar arithmetic. Callers add the position.
var (
	ErrDivisionByZero = errors.New("division by zero")
	ErrOverflow       = errors.New("integer overflow")
)

// Binary applies a binary operator. `and` and `or` take both operands
// already evaluated; evaluators short-circuit before calling it.
func Binary(op Token, x, y Value) (Value, error) {
	switch op {
	case AND:
		return Bool(x.Truth() && y.Truth()), nil
	case OR:
		return Bool(x.Truth() || y.Truth()), nil
	case EQL, NEQ, LT, GT, LE, GE:
		return compare(op, x, y), nil
	}
	if x.Kind == BoolKind || y.Kind == BoolKind {
		return Value{}, fmt.Errorf("operator %s needs numbers, not a condition", op)
	}
	if x.Kind == IntKind && y.Kind == IntKind {
		return intBinary(op, x.I, y.I)
	}
	return floatBinary(op, x.float(), y.float())
}

func compare(op Token, x, y Value) Value {
	var c int
	if x.Kind != FloatKind && y.Kind != FloatKind {
		c = cmpInt(x.I, y.I)
	} else {
		a, b := x.float(), y.float()
		switch {
		case a < b:
			c = -1
		case a > b:
			c = 1
		case a != b: // NaN is unordered: only != holds
			return Bool(op == NEQ)
		}
	}
	switch op {
	case EQL:
		return Bool(c == 0)
	case NEQ:
		return Bool(c != 0)
	case LT:
		return Bool(c < 0)
	case GT:
		return Bool(c > 0)
	case LE:
		return Bool(c <= 0)
	}
	return Bool(c >= 0)
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func intBinary(op Token, a, b int64) (Value, error) {
	switch op {
	case PLUS:
		r := a + b
		if (r > a) != (b > 0) {
			return Value{}, ErrOverflow
		}
		return Int(r), nil
	case MINUS:
		r := a - b
		if (r < a) != (b > 0) {
			return Value{}, ErrOverflow
		}
		return Int(r), nil
	case STAR:
		r, ok := MulInt(a, b)
		if !ok {
			return Value{}, ErrOverflow
		}
		return Int(r), nil
	case SLASH:
		if b == 0 {
			return Value{}, ErrDivisionByZero
		}
		return Float(float64(a) / float64(b)), nil
	case SLASHSLASH:
		if b == 0 {
			return Value{}, ErrDivisionByZero
		}
		if a == math.MinInt64 && b == -1 {
			return Value{}, ErrOverflow
		}
		return Int(FloorDiv(a, b)), nil
	case PERCENT:
		if b == 0 {
			return Value{}, ErrDivisionByZero
		}
		if b == -1 {
			return Int(0), nil
		}
		return Int(FloorMod(a, b)), nil
	case STARSTAR:
		if b < 0 {
			if a == 0 {
				return Value{}, errors.New("0 cannot be raised to a negative power")
			}
			return Float(math.Pow(float64(a), float64(b))), nil
		}
		r, ok := PowInt(a, b)
		if !ok {
			return Value{}, ErrOverflow
		}
		return Int(r), nil
	}
	return Value{}, fmt.Errorf("unknown operator %s", op)
}

func floatBinary(op Token, a, b float64) (Value, error) {
	switch op {
	case PLUS:
		return Float(a + b), nil
	case MINUS:
		return Float(a - b), nil
	case STAR:
		return Float(a * b), nil
	case SLASH:
		if b == 0 {
			return Value{}, ErrDivisionByZero
		}
		return Float(a / b), nil
	case SLASHSLASH:
		if b == 0 {
			return Value{}, ErrDivisionByZero
		}
		return Float(math.Floor(a / b)), nil
	case PERCENT:
		if b == 0 {
			return Value{}, ErrDivisionByZero
		}
		r := math.Mod(a, b)
		if r != 0 && (r < 0) != (b < 0) {
			r += b
		}
		return Float(r), nil
	case STARSTAR:
		if a == 0 && b < 0 {
			return Value{}, errors.New("0 cannot be raised to a negative power")
		}
		if a < 0 && b != math.Trunc(b) {
			return Value{}, errors.New("a negative number raised to a fractional power is not real")
		}
		return Float(math.Pow(a, b)), nil
	}
	return Value{}, fmt.Errorf("unknown operator %s", op)
}

// Unary applies -, + or not.
func Unary(op Token, x Value) (Value, error) {
	if op == NOT {
		return Bool(!x.Truth()), nil
	}
	if x.Kind == BoolKind {
		return Value{}, fmt.Errorf("operator %s needs a number, not a condition", op)
	}
	if op == PLUS {
		return x, nil
	}
	if x.Kind == FloatKind {
		return Float(-x.F), nil
	}
	if x.I == math.MinInt64 {
		return Value{}, ErrOverflow
	}
	return Int(-x.I), nil
}

// Builtins lists the scalar functions with their argument counts
// (max -1: any number from min).
var Builtins = map[string]struct{ Min, Max int }{
	"ceiling": {1, 1},
	"floor":   {1, 1},
	"log":     {1, 1},
	"log2":    {1, 1},
	"min":     {2, -1},
	"max":     {2, -1},
}

// snapTolerance is how close to an integer a float must be to count as
// that integer in ceiling and floor, so that ceiling(log(8)/log(2)) == 3.
const snapTolerance = 1e-9

// CallBuiltin applies a built-in scalar function.
func CallBuiltin(name string, args []Value) (Value, error) {
	for _, a := range args {
		if a.Kind == BoolKind {
			return Value{}, fmt.Errorf("%s needs numbers, not a condition", name)
		}
	}
	switch name {
	case "ceiling", "floor":
		x := args[0]
		if x.Kind == IntKind {
			return x, nil
		}
		f := x.F
		if r := math.Round(f); math.Abs(f-r) <= snapTolerance {
			f = r
		} else if name == "ceiling" {
			f = math.Ceil(f)
		} else {
			f = math.Floor(f)
		}
		if math.IsNaN(f) || math.Abs(f) > 1<<62 {
			return Value{}, fmt.Errorf("%s(%s) is not a representable integer", name, x)
		}
		return Int(int64(f)), nil
	case "log", "log2":
		x := args[0].float()
		if x <= 0 || math.IsNaN(x) {
			return Value{}, fmt.Errorf("%s of %s: the argument must be positive", name, args[0])
		}
		if name == "log" {
			return Float(math.Log(x)), nil
		}
		return Float(math.Log2(x)), nil
	case "min", "max":
		best := args[0]
		for _, a := range args[1:] {
			better := LT
			if name == "max" {
				better = GT
			}
			if compare(better, a, best).I != 0 {
				best = a
			}
		}
		return best, nil
	}
	return Value{}, fmt.Errorf("unknown function %s", name)
}

// FloorDiv is Python's a // b for b != 0.
func FloorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// FloorMod is Python's a % b for b != 0.
func FloorMod(a, b int64) int64 {
	r := a % b
	if r != 0 && (r < 0) != (b < 0) {
		r += b
	}
	return r
}

// MulInt multiplies, reporting false on overflow.
func MulInt(a, b int64) (int64, bool) {
	if a == 0 || b == 0 {
		return 0, true
	}
	r := a * b
	if r/b != a || (a == -1 && b == math.MinInt64) || (b == -1 && a == math.MinInt64) {
		return 0, false
	}
	return r, true
}

// PowInt computes a**b for b >= 0, reporting false on overflow.
func PowInt(a, b int64) (int64, bool) {
	r := int64(1)
	for b > 0 {
		if b&1 == 1 {
			var ok bool
			if r, ok = MulInt(r, a); !ok {
				return 0, false
			}
		}
		b >>= 1
		if b > 0 { // a is used again, so its square must fit
			var ok bool
			if a, ok = MulInt(a, a); !ok {
				return 0, false
			}
		}
	}
	return r, true
}

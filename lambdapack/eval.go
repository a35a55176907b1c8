package lambdapack

import "fmt"

// An Env supplies the values of loop variables, scalar parameters and
// scalars during evaluation.
type Env func(b *Binding) (Value, bool)

// Eval evaluates a scalar expression of the program. Errors carry the
// position of the failing operation.
func (p *Program) Eval(x Expr, env Env) (Value, error) {
	switch x := x.(type) {
	case *IntLit:
		return Int(x.Value), nil
	case *FloatLit:
		return Float(x.Value), nil
	case *ParenExpr:
		return p.Eval(x.X, env)
	case *Ident:
		b := p.Uses[x]
		if b == nil {
			return Value{}, &Error{x.Pos, "undefined name " + x.Name}
		}
		v, ok := env(b)
		if !ok {
			return Value{}, &Error{x.Pos, "no value for " + x.Name}
		}
		return v, nil
	case *UnaryExpr:
		v, err := p.Eval(x.X, env)
		if err != nil {
			return Value{}, err
		}
		return wrap(x.OpPos)(Unary(x.Op, v))
	case *BinaryExpr:
		return p.evalBinary(x, env)
	case *CallExpr:
		args := make([]Value, len(x.Args))
		for i, a := range x.Args {
			v, err := p.Eval(a, env)
			if err != nil {
				return Value{}, err
			}
			args[i] = v
		}
		return wrap(x.Fn.Pos)(CallBuiltin(x.Fn.Name, args))
	}
	return Value{}, &Error{Start(x), "not a scalar expression"}
}

func (p *Program) evalBinary(x *BinaryExpr, env Env) (Value, error) {
	l, err := p.Eval(x.X, env)
	if err != nil {
		return Value{}, err
	}
	switch { // and/or short-circuit, as in Python
	case x.Op == AND && !l.Truth():
		return Bool(false), nil
	case x.Op == OR && l.Truth():
		return Bool(true), nil
	}
	r, err := p.Eval(x.Y, env)
	if err != nil {
		return Value{}, err
	}
	return wrap(x.OpPos)(Binary(x.Op, l, r))
}

func wrap(pos Position) func(Value, error) (Value, error) {
	return func(v Value, err error) (Value, error) {
		if err != nil {
			return Value{}, &Error{pos, err.Error()}
		}
		return v, nil
	}
}

// EvalBound evaluates a range bound: an int, or a float with an exact
// integer value (range(0, log2(N)) with N a power of two); what names it
// in the error.
func (p *Program) EvalBound(x Expr, env Env, what string) (int64, error) {
	v, err := p.Eval(x, env)
	if err != nil {
		return 0, err
	}
	n, ok := v.ExactInt()
	if !ok {
		return 0, &Error{Start(x), fmt.Sprintf("%s is %s, not an integer", what, v)}
	}
	return n, nil
}

// EvalInt evaluates an expression that must give an integer, such as a
// tile index or a range bound; what names it in the error.
func (p *Program) EvalInt(x Expr, env Env, what string) (int64, error) {
	v, err := p.Eval(x, env)
	if err != nil {
		return 0, err
	}
	if v.Kind != IntKind {
		return 0, &Error{Start(x), fmt.Sprintf("%s is %s, not an integer", what, v)}
	}
	return v.I, nil
}

package lambdapack

import (
	"strconv"
	"strings"
)

// Format returns the canonical source of f: four-space indentation, one
// space around binary operators except **, parentheses where the source
// had them or precedence needs them. Comments are not kept. Parsing the
// result gives the same tree as f.
func Format(f *File) string {
	var pr printer
	pr.funcDef(f.Def)
	return pr.String()
}

// FormatExpr returns the canonical source of one expression.
func FormatExpr(x Expr) string {
	var pr printer
	pr.expr(x, precLowest)
	return pr.String()
}

type printer struct {
	strings.Builder
	indent int
}

func (pr *printer) line(parts ...string) {
	for range pr.indent {
		pr.WriteString("    ")
	}
	for _, s := range parts {
		pr.WriteString(s)
	}
	pr.WriteByte('\n')
}

func (pr *printer) funcDef(d *FuncDef) {
	params := make([]string, len(d.Params))
	for i, p := range d.Params {
		params[i] = p.Name.Name + ": " + p.Type.String()
	}
	pr.line("def ", d.Name.Name, "(", strings.Join(params, ", "), "):")
	pr.block(d.Body)
}

func (pr *printer) block(body []Stmt) {
	pr.indent++
	for _, s := range body {
		pr.stmt(s)
	}
	pr.indent--
}

func (pr *printer) stmt(s Stmt) {
	switch s := s.(type) {
	case *ForStmt:
		pr.line("for ", s.Var.Name, " in range(", exprList(s.Args), "):")
		pr.block(s.Body)
	case *IfStmt:
		for i, c := range s.Clauses {
			kw := "if "
			if i > 0 {
				kw = "elif "
			}
			pr.line(kw, FormatExpr(c.Cond), ":")
			pr.block(c.Body)
		}
		if s.Else != nil {
			pr.line("else:")
			pr.block(s.Else)
		}
	case *AssignStmt:
		pr.line(s.Name.Name, " = ", FormatExpr(s.Value))
	case *CallStmt:
		outs := make([]string, len(s.Outputs))
		for i, o := range s.Outputs {
			outs[i] = FormatExpr(o)
		}
		pr.line(strings.Join(outs, ", "), " = ", s.Kernel.Name, "(", exprList(s.Args), ")")
	}
}

func exprList(list []Expr) string {
	parts := make([]string, len(list))
	for i, x := range list {
		parts[i] = FormatExpr(x)
	}
	return strings.Join(parts, ", ")
}

// Operator precedence, loosest first.
const (
	precLowest = iota
	precOr
	precAnd
	precNot
	precCompare
	precArith
	precTerm
	precUnary
	precPower
	precPrimary
)

func precedence(x Expr) int {
	switch x := x.(type) {
	case *BinaryExpr:
		return binaryPrec(x.Op)
	case *UnaryExpr:
		if x.Op == NOT {
			return precNot
		}
		return precUnary
	}
	return precPrimary
}

func binaryPrec(op Token) int {
	switch op {
	case OR:
		return precOr
	case AND:
		return precAnd
	case PLUS, MINUS:
		return precArith
	case STAR, SLASH, SLASHSLASH, PERCENT:
		return precTerm
	case STARSTAR:
		return precPower
	}
	return precCompare
}

// expr prints x, parenthesised if it binds looser than min.
func (pr *printer) expr(x Expr, min int) {
	if precedence(x) < min {
		pr.WriteByte('(')
		defer pr.WriteByte(')')
	}
	switch x := x.(type) {
	case *Ident:
		pr.WriteString(x.Name)
	case *IntLit:
		pr.WriteString(strconv.FormatInt(x.Value, 10))
	case *FloatLit:
		pr.WriteString(formatFloat(x.Value))
	case *ParenExpr:
		pr.WriteByte('(')
		pr.expr(x.X, precLowest)
		pr.WriteByte(')')
	case *UnaryExpr:
		if x.Op == NOT {
			pr.WriteString("not ")
			pr.expr(x.X, precNot)
		} else {
			pr.WriteString(x.Op.String())
			pr.expr(x.X, precUnary)
		}
	case *BinaryExpr:
		pr.binary(x)
	case *CallExpr:
		pr.WriteString(x.Fn.Name)
		pr.WriteByte('(')
		pr.WriteString(exprList(x.Args))
		pr.WriteByte(')')
	case *TileRef:
		pr.WriteString(x.Name.Name)
		pr.WriteByte('[')
		pr.WriteString(exprList(x.Indices))
		pr.WriteByte(']')
	}
}

func (pr *printer) binary(x *BinaryExpr) {
	prec := binaryPrec(x.Op)
	switch {
	case x.Op == STARSTAR: // right associative; its left operand is a primary
		pr.expr(x.X, precPrimary)
		pr.WriteString("**")
		pr.expr(x.Y, precUnary)
	case prec == precCompare: // not associative
		pr.expr(x.X, precArith)
		pr.WriteString(" " + x.Op.String() + " ")
		pr.expr(x.Y, precArith)
	default: // left associative
		pr.expr(x.X, prec)
		pr.WriteString(" " + x.Op.String() + " ")
		pr.expr(x.Y, prec+1)
	}
}

// formatFloat prints the shortest text that parses back to v as a float.
func formatFloat(v float64) string {
	s := strconv.FormatFloat(v, 'g', -1, 64)
	if !strings.ContainsAny(s, ".eEn") { // n: NaN and Inf cannot come from the parser
		s += ".0"
	}
	return s
}

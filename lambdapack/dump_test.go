package lambdapack

import (
	"fmt"
	"strings"
)

// dump renders a tree as an s-expression without positions, so that two
// trees compare equal exactly when they have the same structure.
func dump(n Node) string {
	var b strings.Builder
	dumpTo(&b, n)
	return b.String()
}

func dumpTo(b *strings.Builder, n Node) {
	switch n := n.(type) {
	case *File:
		dumpTo(b, n.Def)
	case *FuncDef:
		fmt.Fprintf(b, "(def %s (", n.Name.Name)
		for i, p := range n.Params {
			if i > 0 {
				b.WriteByte(' ')
			}
			fmt.Fprintf(b, "%s:%s", p.Name.Name, p.Type)
		}
		b.WriteString(")")
		dumpStmts(b, n.Body)
		b.WriteString(")")
	case *ForStmt:
		fmt.Fprintf(b, "(for %s (range", n.Var.Name)
		for _, a := range n.Args {
			b.WriteByte(' ')
			dumpTo(b, a)
		}
		b.WriteString(")")
		dumpStmts(b, n.Body)
		b.WriteString(")")
	case *IfStmt:
		b.WriteString("(if")
		for _, c := range n.Clauses {
			kw := "if"
			if c.Elif {
				kw = "elif"
			}
			fmt.Fprintf(b, " (%s ", kw)
			dumpTo(b, c.Cond)
			dumpStmts(b, c.Body)
			b.WriteString(")")
		}
		if n.Else != nil {
			b.WriteString(" (else")
			dumpStmts(b, n.Else)
			b.WriteString(")")
		}
		b.WriteString(")")
	case *AssignStmt:
		fmt.Fprintf(b, "(= %s ", n.Name.Name)
		dumpTo(b, n.Value)
		b.WriteString(")")
	case *CallStmt:
		b.WriteString("(call (")
		for i, o := range n.Outputs {
			if i > 0 {
				b.WriteByte(' ')
			}
			dumpTo(b, o)
		}
		fmt.Fprintf(b, ") %s", n.Kernel.Name)
		for _, a := range n.Args {
			b.WriteByte(' ')
			dumpTo(b, a)
		}
		b.WriteString(")")
	case *Ident:
		b.WriteString(n.Name)
	case *IntLit:
		fmt.Fprintf(b, "%d", n.Value)
	case *FloatLit:
		fmt.Fprintf(b, "%gf", n.Value)
	case *ParenExpr:
		b.WriteString("(paren ")
		dumpTo(b, n.X)
		b.WriteString(")")
	case *UnaryExpr:
		fmt.Fprintf(b, "(%s ", n.Op)
		dumpTo(b, n.X)
		b.WriteString(")")
	case *BinaryExpr:
		fmt.Fprintf(b, "(%s ", n.Op)
		dumpTo(b, n.X)
		b.WriteByte(' ')
		dumpTo(b, n.Y)
		b.WriteString(")")
	case *CallExpr:
		fmt.Fprintf(b, "(%s", n.Fn.Name)
		for _, a := range n.Args {
			b.WriteByte(' ')
			dumpTo(b, a)
		}
		b.WriteString(")")
	case *TileRef:
		fmt.Fprintf(b, "%s[", n.Name.Name)
		for i, x := range n.Indices {
			if i > 0 {
				b.WriteByte(' ')
			}
			dumpTo(b, x)
		}
		b.WriteString("]")
	default:
		fmt.Fprintf(b, "<%T>", n)
	}
}

func dumpStmts(b *strings.Builder, list []Stmt) {
	for _, s := range list {
		b.WriteByte(' ')
		dumpTo(b, s)
	}
}

package lambdapack

// Walk traverses the tree rooted at n in depth-first order. It calls f(n)
// first; if f returns false, the children of n are skipped.
func Walk(n Node, f func(Node) bool) {
	if n == nil || !f(n) {
		return
	}
	switch n := n.(type) {
	case *File:
		Walk(n.Def, f)
	case *FuncDef:
		Walk(n.Name, f)
		for _, p := range n.Params {
			Walk(p, f)
		}
		walkStmts(n.Body, f)
	case *Param:
		Walk(n.Name, f)
	case *ForStmt:
		Walk(n.Var, f)
		walkExprs(n.Args, f)
		walkStmts(n.Body, f)
	case *IfStmt:
		for _, c := range n.Clauses {
			Walk(c.Cond, f)
			walkStmts(c.Body, f)
		}
		walkStmts(n.Else, f)
	case *AssignStmt:
		Walk(n.Name, f)
		Walk(n.Value, f)
	case *CallStmt:
		for _, o := range n.Outputs {
			Walk(o, f)
		}
		Walk(n.Kernel, f)
		walkExprs(n.Args, f)
	case *ParenExpr:
		Walk(n.X, f)
	case *UnaryExpr:
		Walk(n.X, f)
	case *BinaryExpr:
		Walk(n.X, f)
		Walk(n.Y, f)
	case *CallExpr:
		Walk(n.Fn, f)
		walkExprs(n.Args, f)
	case *TileRef:
		Walk(n.Name, f)
		walkExprs(n.Indices, f)
	}
}

func walkStmts(list []Stmt, f func(Node) bool) {
	for _, s := range list {
		Walk(s, f)
	}
}

func walkExprs(list []Expr, f func(Node) bool) {
	for _, x := range list {
		Walk(x, f)
	}
}

package lambdapack

// A Node is a node of the syntax tree.
type Node interface {
	// Span returns the start and end of the node's source text.
	Span() (start, end Position)
}

// A Stmt is a statement: *ForStmt, *IfStmt, *AssignStmt or *CallStmt.
type Stmt interface {
	Node
	stmt()
}

// An Expr is a scalar expression or a tile reference.
type Expr interface {
	Node
	expr()
}

// A File is one parsed program: a single function definition.
type File struct {
	Path string
	Def  *FuncDef
}

// Span implements Node.
func (f *File) Span() (start, end Position) { return f.Def.Span() }

// A FuncDef is `def Name(params): body`.
type FuncDef struct {
	Def    Position
	Name   *Ident
	Params []*Param
	Body   []Stmt
}

// Span implements Node.
func (d *FuncDef) Span() (start, end Position) {
	end = d.Name.End
	if len(d.Body) > 0 {
		_, end = d.Body[len(d.Body)-1].Span()
	}
	return d.Def, end
}

// ParamType is the declared type of a parameter.
type ParamType int8

const (
	BigMatrixType ParamType = iota
	IntType
	FloatType
)

var paramTypeNames = [...]string{BigMatrixType: "BigMatrix", IntType: "int", FloatType: "float"}

func (t ParamType) String() string { return paramTypeNames[t] }

// A Param is `Name: Type`.
type Param struct {
	Name    *Ident
	Type    ParamType
	TypePos Position
	TypeEnd Position
}

// Span implements Node.
func (p *Param) Span() (start, end Position) { return p.Name.Pos, p.TypeEnd }

// A ForStmt is `for Var in range(Args): Body` with 1 to 3 range arguments.
type ForStmt struct {
	For  Position
	Var  *Ident
	Args []Expr
	Body []Stmt
}

// An IfClause is one `if` or `elif` arm.
type IfClause struct {
	Pos  Position // of the if or elif keyword
	Elif bool
	Cond Expr
	Body []Stmt
}

// An IfStmt is `if c: ... elif c: ... else: ...`.
type IfStmt struct {
	Clauses []*IfClause
	ElsePos Position // zero when there is no else
	Else    []Stmt
}

// An AssignStmt binds a scalar: `Name = Value`.
type AssignStmt struct {
	Name  *Ident
	Value Expr
}

// A CallStmt is a kernel call: `Outputs = Kernel(Args)`. Tile arguments
// come first, then scalar arguments.
type CallStmt struct {
	Outputs []*TileRef
	Kernel  *Ident
	Lparen  Position
	Args    []Expr
	Rparen  Position
}

func (*ForStmt) stmt()    {}
func (*IfStmt) stmt()     {}
func (*AssignStmt) stmt() {}
func (*CallStmt) stmt()   {}

// Span implements Node.
func (s *ForStmt) Span() (start, end Position) { return s.For, lastEnd(s.Body) }

// Span implements Node.
func (s *IfStmt) Span() (start, end Position) {
	end = lastEnd(s.Clauses[len(s.Clauses)-1].Body)
	if s.Else != nil {
		end = lastEnd(s.Else)
	}
	return s.Clauses[0].Pos, end
}

// Span implements Node.
func (s *AssignStmt) Span() (start, end Position) {
	_, end = s.Value.Span()
	return s.Name.Pos, end
}

// Span implements Node.
func (s *CallStmt) Span() (start, end Position) {
	return s.Outputs[0].Name.Pos, s.Rparen
}

func lastEnd(body []Stmt) Position {
	if len(body) == 0 {
		return Position{}
	}
	_, end := body[len(body)-1].Span()
	return end
}

// An Ident is a name.
type Ident struct {
	Pos  Position
	End  Position
	Name string
}

// An IntLit is an integer literal.
type IntLit struct {
	Pos   Position
	End   Position
	Raw   string
	Value int64
}

// A FloatLit is a floating-point literal.
type FloatLit struct {
	Pos   Position
	End   Position
	Raw   string
	Value float64
}

// A ParenExpr is `(X)`; it is kept so that printing preserves the source.
type ParenExpr struct {
	Lparen Position
	X      Expr
	Rparen Position
}

// A UnaryExpr is `-X` or `not X`.
type UnaryExpr struct {
	OpPos Position
	Op    Token // MINUS, PLUS or NOT
	X     Expr
}

// A BinaryExpr is `X Op Y`, including comparisons and `and`/`or`.
type BinaryExpr struct {
	X     Expr
	OpPos Position
	Op    Token
	Y     Expr
}

// A CallExpr calls a built-in scalar function: ceiling, floor, log, log2,
// min or max.
type CallExpr struct {
	Fn     *Ident
	Args   []Expr
	Rparen Position
}

// A TileRef names one tile: `Matrix[Indices]`.
type TileRef struct {
	Name    *Ident
	Indices []Expr
	Rbrack  Position
}

func (*Ident) expr()      {}
func (*IntLit) expr()     {}
func (*FloatLit) expr()   {}
func (*ParenExpr) expr()  {}
func (*UnaryExpr) expr()  {}
func (*BinaryExpr) expr() {}
func (*CallExpr) expr()   {}
func (*TileRef) expr()    {}

// Span implements Node.
func (x *Ident) Span() (start, end Position) { return x.Pos, x.End }

// Span implements Node.
func (x *IntLit) Span() (start, end Position) { return x.Pos, x.End }

// Span implements Node.
func (x *FloatLit) Span() (start, end Position) { return x.Pos, x.End }

// Span implements Node.
func (x *ParenExpr) Span() (start, end Position) { return x.Lparen, x.Rparen }

// Span implements Node.
func (x *UnaryExpr) Span() (start, end Position) {
	_, end = x.X.Span()
	return x.OpPos, end
}

// Span implements Node.
func (x *BinaryExpr) Span() (start, end Position) {
	start, _ = x.X.Span()
	_, end = x.Y.Span()
	return start, end
}

// Span implements Node.
func (x *CallExpr) Span() (start, end Position) { return x.Fn.Pos, x.Rparen }

// Span implements Node.
func (x *TileRef) Span() (start, end Position) { return x.Name.Pos, x.Rbrack }

// Start returns the start position of n.
func Start(n Node) Position {
	start, _ := n.Span()
	return start
}

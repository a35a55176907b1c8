package lambdapack

// The checker resolves every name, checks kernel calls against the kernel
// table and infers a static type for every scalar expression, so that the
// mistakes that need no sizes are reported before anything runs. Results
// go into side tables of the Program; the syntax tree is not modified.
//
// Scoping: parameters are visible everywhere; a loop variable in its
// loop's body; a scalar from its assignment to the end of the enclosing
// block. Names are never rebound: a loop variable or scalar may not reuse
// a name that is visible, and a scalar is assigned once.

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// Limits of the language, chosen so that a task key and a tile key fit in
// small fixed-size values.
const (
	MaxLoopDepth  = 8 // nested loops around a kernel call
	MaxIndexArity = 8 // indices of one matrix
)

// A Type is the static type of a scalar expression.
type Type int8

const (
	TypeInt   Type = iota + 1
	TypeFloat      // certainly a float
	TypeNum        // int or float, known only when evaluated
	TypeBool
)

var typeNames = [...]string{TypeInt: "int", TypeFloat: "float", TypeNum: "number", TypeBool: "condition"}

func (t Type) String() string { return typeNames[t] }

// A BindingKind says what a name denotes.
type BindingKind int8

const (
	ParamBinding  BindingKind = iota + 1 // a parameter (matrix or scalar)
	LoopBinding                          // a loop variable
	ScalarBinding                        // a scalar assignment
)

// A Binding is the declaration a name refers to.
type Binding struct {
	Kind   BindingKind
	Name   string
	Pos    Position
	Param  *Param      // ParamBinding
	Loop   *ForStmt    // LoopBinding
	Assign *AssignStmt // ScalarBinding
	Type   Type        // zero for a matrix
}

// IsMatrix reports whether the binding is a BigMatrix parameter.
func (b *Binding) IsMatrix() bool { return b.Kind == ParamBinding && b.Param.Type == BigMatrixType }

// A Matrix is a BigMatrix parameter and how the program uses it.
type Matrix struct {
	Name    string
	Param   *Param
	Arity   int  // number of indices; 0 if never indexed
	Read    bool // some kernel reads one of its tiles
	Written bool // some kernel writes one of its tiles
}

// A Guard is an enclosing if condition of a kernel call.
type Guard struct {
	Cond  Expr
	Want  bool // whether the condition must be true (false for an earlier if/elif arm)
	Depth int  // number of loops around the if statement
}

// A Call is a kernel call statement with its context. Its ID is its index
// in program order; a task is a Call plus values of its Loops' variables.
type Call struct {
	ID      int
	Stmt    *CallStmt
	Kernel  Signature
	Loops   []*ForStmt // enclosing loops, outermost first
	Guards  []Guard    // enclosing conditions, in evaluation order
	Inputs  []*TileRef // tile arguments
	Scalars []Expr     // scalar arguments
}

// A Program is a checked LAmbdaPACK program.
type Program struct {
	File     *File
	Name     string
	Params   []*Param
	Calls    []*Call
	Matrices []*Matrix             // BigMatrix parameters in declaration order
	Uses     map[*Ident]*Binding   // every name use in an expression or tile
	Scalars  map[*Param]*Binding   // scalar parameters
	Loops    map[*ForStmt]*Binding // loop variables
	Assigns  map[*AssignStmt]*Binding
}

// Matrix returns the named matrix or nil.
func (p *Program) Matrix(name string) *Matrix {
	for _, m := range p.Matrices {
		if m.Name == name {
			return m
		}
	}
	return nil
}

// Check checks a parsed program. The error, if any, is an ErrorList.
func Check(f *File) (*Program, error) {
	c := &checker{
		prog: &Program{
			File:    f,
			Name:    f.Def.Name.Name,
			Params:  f.Def.Params,
			Uses:    make(map[*Ident]*Binding),
			Scalars: make(map[*Param]*Binding),
			Loops:   make(map[*ForStmt]*Binding),
			Assigns: make(map[*AssignStmt]*Binding),
		},
		arityAt: make(map[*Matrix]Position),
	}
	c.checkParams()
	c.block(f.Def.Body)
	if len(c.prog.Calls) == 0 && len(c.errs) == 0 {
		c.errorf(f.Def.Name.Pos, "program %s calls no kernel, so it has no tasks", c.prog.Name)
	}
	if err := c.errs.Err(); err != nil {
		return nil, err
	}
	return c.prog, nil
}

// Load parses and checks a program.
func Load(filename, src string) (*Program, error) {
	f, err := Parse(filename, src)
	if err != nil {
		return nil, err
	}
	return Check(f)
}

type scope struct {
	parent *scope
	names  map[string]*Binding
}

func (s *scope) lookup(name string) *Binding {
	for ; s != nil; s = s.parent {
		if b, ok := s.names[name]; ok {
			return b
		}
	}
	return nil
}

type checker struct {
	prog    *Program
	errs    ErrorList
	scope   *scope
	loops   []*ForStmt
	guards  []Guard
	arityAt map[*Matrix]Position // where a matrix's index arity was fixed
}

func (c *checker) errorf(pos Position, format string, args ...any) {
	c.errs.Add(pos, fmt.Sprintf(format, args...))
}

func (c *checker) push() { c.scope = &scope{parent: c.scope, names: make(map[string]*Binding)} }
func (c *checker) pop()  { c.scope = c.scope.parent }

func (c *checker) checkParams() {
	c.push()
	for _, p := range c.prog.Params {
		if prev := c.scope.names[p.Name.Name]; prev != nil {
			c.errorf(p.Name.Pos, "duplicate parameter %s (first at %s)", p.Name.Name, prev.Pos)
			continue
		}
		b := &Binding{Kind: ParamBinding, Name: p.Name.Name, Pos: p.Name.Pos, Param: p}
		switch p.Type {
		case IntType:
			b.Type = TypeInt
			c.prog.Scalars[p] = b
		case FloatType:
			b.Type = TypeFloat
			c.prog.Scalars[p] = b
		default:
			c.prog.Matrices = append(c.prog.Matrices, &Matrix{Name: p.Name.Name, Param: p})
		}
		c.scope.names[p.Name.Name] = b
	}
}

// block checks statements in a new scope.
func (c *checker) block(body []Stmt) {
	c.push()
	defer c.pop()
	for _, s := range body {
		c.stmt(s)
	}
}

func (c *checker) stmt(s Stmt) {
	switch s := s.(type) {
	case *ForStmt:
		c.forStmt(s)
	case *IfStmt:
		c.ifStmt(s)
	case *AssignStmt:
		c.assign(s)
	case *CallStmt:
		c.call(s)
	}
}

func (c *checker) forStmt(s *ForStmt) {
	for i, a := range s.Args {
		// A float bound is checked when the loop runs: it must be
		// exactly an integer (range(0, log2(N)), as the paper prints it).
		if t := c.scalar(a); t == TypeBool {
			c.errorf(Start(a), "range %s must be an integer, not a %s", rangeArgName(len(s.Args), i), t)
		} else if f, ok := a.(*FloatLit); ok && f.Value != math.Trunc(f.Value) {
			c.errorf(Start(a), "range %s is %s, not an integer", rangeArgName(len(s.Args), i), f.Raw)
		}
		if i == 2 && isZeroLiteral(a) {
			c.errorf(Start(a), "range step must not be zero")
		}
	}
	if len(c.loops) == MaxLoopDepth {
		c.errorf(s.For, "loops nest deeper than %d", MaxLoopDepth)
	}
	b := &Binding{Kind: LoopBinding, Name: s.Var.Name, Pos: s.Var.Pos, Loop: s, Type: TypeInt}
	c.prog.Loops[s] = b
	c.loops = append(c.loops, s)
	c.push()
	c.declare(s.Var, b, "loop variable")
	c.block(s.Body)
	c.pop()
	c.loops = c.loops[:len(c.loops)-1]
}

func rangeArgName(n, i int) string {
	if n == 1 {
		return "stop"
	}
	return [...]string{"start", "stop", "step"}[i]
}

func (c *checker) ifStmt(s *IfStmt) {
	saved := len(c.guards)
	for _, cl := range s.Clauses {
		c.scalar(cl.Cond)
		c.guards = append(c.guards, Guard{Cond: cl.Cond, Want: true, Depth: len(c.loops)})
		c.block(cl.Body)
		c.guards[len(c.guards)-1].Want = false // later arms run only if this one did not
	}
	if s.Else != nil {
		c.block(s.Else)
	}
	c.guards = c.guards[:saved]
}

func (c *checker) assign(s *AssignStmt) {
	t := c.scalar(s.Value)
	b := &Binding{Kind: ScalarBinding, Name: s.Name.Name, Pos: s.Name.Pos, Assign: s, Type: t}
	c.prog.Assigns[s] = b
	c.declare(s.Name, b, "scalar")
}

// declare binds a new name in the current scope; names are never rebound.
func (c *checker) declare(id *Ident, b *Binding, what string) {
	prev := c.scope.lookup(id.Name)
	switch {
	case prev == nil:
		c.scope.names[id.Name] = b
	case prev.Kind == ParamBinding && b.Kind == ScalarBinding:
		c.errorf(id.Pos, "cannot assign to parameter %s", id.Name)
	case prev.Kind == LoopBinding && b.Kind == ScalarBinding:
		c.errorf(id.Pos, "cannot assign to loop variable %s (its loop is at %s)", id.Name, prev.Pos)
	case prev.Kind == ParamBinding:
		c.errorf(id.Pos, "loop variable %s reuses the name of a parameter", id.Name)
	case prev.Kind == LoopBinding:
		c.errorf(id.Pos, "loop variable %s is already the variable of the loop at %s", id.Name, prev.Pos)
	case c.scope.names[id.Name] == prev && b.Kind == ScalarBinding:
		c.errorf(id.Pos, "scalar %s is assigned twice in one scope (first at %s)", id.Name, prev.Pos)
	default:
		c.errorf(id.Pos, "%s %s reuses the name of the scalar assigned at %s", what, id.Name, prev.Pos)
	}
}

func (c *checker) call(s *CallStmt) {
	sig, ok := LookupKernel(s.Kernel.Name)
	if !ok {
		if _, builtin := Builtins[s.Kernel.Name]; builtin {
			c.errorf(s.Kernel.Pos, "%s is a scalar function, not a kernel", s.Kernel.Name)
		} else {
			c.errorf(s.Kernel.Pos, "unknown kernel %s%s", s.Kernel.Name, suggest(s.Kernel.Name, KernelNames()))
		}
	}
	call := &Call{ID: len(c.prog.Calls), Stmt: s, Kernel: sig,
		Loops: append([]*ForStmt(nil), c.loops...), Guards: append([]Guard(nil), c.guards...)}
	for _, o := range s.Outputs {
		if m := c.tile(o); m != nil {
			m.Written = true
		}
	}
	for i, o := range s.Outputs {
		for _, prev := range s.Outputs[:i] {
			if prev.Name.Name == o.Name.Name && FormatExpr(prev) == FormatExpr(o) {
				c.errorf(Start(o), "tile %s is written twice by one call", FormatExpr(o))
			}
		}
	}
	errsBefore := len(c.errs)
	for _, a := range s.Args {
		t, isTile := a.(*TileRef)
		if id, ok := a.(*Ident); ok {
			if b := c.scope.lookup(id.Name); b != nil && b.IsMatrix() {
				c.prog.Uses[id] = b
				c.errorf(id.Pos, "matrix %s passed without an index; pass a tile such as %s[i]", id.Name, id.Name)
				continue
			}
		}
		if !isTile {
			c.scalar(a)
			call.Scalars = append(call.Scalars, a)
			continue
		}
		if len(call.Scalars) > 0 {
			c.errorf(Start(a), "tile arguments must come before scalar arguments")
		}
		if m := c.tile(t); m != nil {
			m.Read = true
		}
		for _, o := range s.Outputs {
			if o.Name.Name == t.Name.Name && FormatExpr(o) == FormatExpr(t) {
				c.errorf(Start(t), "tile %s is both read and written by this call", FormatExpr(t))
			}
		}
		call.Inputs = append(call.Inputs, t)
	}
	if ok && len(c.errs) == errsBefore { // bad arguments would make the counts misleading
		c.checkArity(s, sig, len(call.Inputs), len(call.Scalars))
	}
	c.prog.Calls = append(c.prog.Calls, call)
}

func (c *checker) checkArity(s *CallStmt, sig Signature, inputs, scalars int) {
	if n := len(s.Outputs); !sig.AcceptsOutputs(n) {
		returns := count(len(sig.Outputs), "tile")
		if sig.MinOutputs < len(sig.Outputs) {
			returns += fmt.Sprintf(" (a call may assign the last %d to %d)", sig.MinOutputs, len(sig.Outputs))
		}
		c.errorf(Start(s.Outputs[0]), "%s returns %s, but the call assigns %s (usage: %s)",
			sig.Name, returns, count(n, "tile"), sig.Usage())
	}
	if !sig.AcceptsInputs(inputs) {
		want := count(sig.MinInputs, "tile input")
		switch {
		case sig.Variadic:
			want = "at least " + want
		case sig.MinInputs < len(sig.Inputs):
			want = fmt.Sprintf("%d to %s", sig.MinInputs, count(len(sig.Inputs), "tile input"))
		}
		c.errorf(s.Lparen, "%s takes %s, got %d (usage: %s)", sig.Name, want, inputs, sig.Usage())
	}
	if !sig.AcceptsScalars(scalars) {
		c.errorf(s.Lparen, "%s takes %s, got %d (usage: %s)", sig.Name, count(len(sig.Scalars), "scalar argument"), scalars, sig.Usage())
	}
}

func count(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// tile checks a tile reference and returns its matrix, or nil.
func (c *checker) tile(t *TileRef) *Matrix {
	for _, x := range t.Indices {
		switch ty := c.scalar(x); ty {
		case TypeFloat:
			c.errorf(Start(x), "index of %s is a float expression; use //, floor or ceiling to get an integer", t.Name.Name)
		case TypeBool:
			c.errorf(Start(x), "index of %s is a condition, not an integer", t.Name.Name)
		}
	}
	b := c.resolve(t.Name)
	if b == nil {
		return nil
	}
	if !b.IsMatrix() {
		c.errorf(t.Name.Pos, "%s is a scalar and cannot be indexed", t.Name.Name)
		return nil
	}
	m := c.prog.Matrix(t.Name.Name)
	n := len(t.Indices)
	switch {
	case n > MaxIndexArity:
		c.errorf(t.Name.Pos, "%s has %d indices; at most %d are supported", t.Name.Name, n, MaxIndexArity)
	case m.Arity == 0:
		m.Arity = n
		c.arityAt[m] = t.Name.Pos
	case m.Arity != n:
		c.errorf(t.Name.Pos, "%s is indexed with %s here but with %d at %s",
			t.Name.Name, count(n, "index"), m.Arity, c.arityAt[m])
	}
	return m
}

func (c *checker) resolve(id *Ident) *Binding {
	b := c.scope.lookup(id.Name)
	if b == nil {
		c.errorf(id.Pos, "undefined name %s%s", id.Name, suggest(id.Name, c.visibleNames()))
		return nil
	}
	c.prog.Uses[id] = b
	return b
}

func (c *checker) visibleNames() []string {
	var names []string
	for s := c.scope; s != nil; s = s.parent {
		for name := range s.names {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}

// scalar checks a scalar expression and returns its static type (0 after
// an error that leaves the type unknown).
func (c *checker) scalar(x Expr) Type {
	switch x := x.(type) {
	case *IntLit:
		return TypeInt
	case *FloatLit:
		return TypeFloat
	case *ParenExpr:
		return c.scalar(x.X)
	case *Ident:
		b := c.resolve(x)
		if b == nil {
			return 0
		}
		if b.IsMatrix() {
			c.errorf(x.Pos, "matrix %s used as a scalar; index it as %s[...]", x.Name, x.Name)
			return 0
		}
		return b.Type
	case *TileRef:
		c.tile(x)
		c.errorf(x.Name.Pos, "tile %s cannot be used in a scalar expression", FormatExpr(x))
		return 0
	case *UnaryExpr:
		t := c.scalar(x.X)
		if x.Op == NOT {
			return TypeBool
		}
		if t == TypeBool {
			c.errorf(x.OpPos, "operator %s needs a number, not a condition", x.Op)
			return 0
		}
		return t
	case *BinaryExpr:
		return c.binary(x)
	case *CallExpr:
		return c.callExpr(x)
	}
	return 0
}

func (c *checker) binary(x *BinaryExpr) Type {
	tx, ty := c.scalar(x.X), c.scalar(x.Y)
	switch x.Op {
	case AND, OR, EQL, NEQ, LT, GT, LE, GE:
		return TypeBool
	}
	if tx == TypeBool || ty == TypeBool {
		c.errorf(x.OpPos, "operator %s needs numbers, not a condition", x.Op)
		return 0
	}
	if (x.Op == SLASH || x.Op == SLASHSLASH || x.Op == PERCENT) && isZeroLiteral(x.Y) {
		c.errorf(Start(x.Y), "division by zero")
	}
	if tx == 0 || ty == 0 {
		return 0
	}
	switch {
	case x.Op == SLASH:
		return TypeFloat
	case tx == TypeFloat || ty == TypeFloat:
		return TypeFloat
	case x.Op == STARSTAR:
		if tx == TypeInt && ty == TypeInt && isNonNegativeIntLiteral(x.Y) {
			return TypeInt
		}
		return TypeNum
	case tx == TypeInt && ty == TypeInt:
		return TypeInt
	}
	return TypeNum
}

func (c *checker) callExpr(x *CallExpr) Type {
	arity, ok := Builtins[x.Fn.Name]
	if !ok {
		if _, isKernel := LookupKernel(x.Fn.Name); isKernel {
			c.errorf(x.Fn.Pos, "kernel %s cannot be called inside an expression; assign its result to tiles", x.Fn.Name)
		} else {
			names := make([]string, 0, len(Builtins))
			for name := range Builtins {
				names = append(names, name)
			}
			sort.Strings(names)
			c.errorf(x.Fn.Pos, "unknown function %s%s (functions: %s)", x.Fn.Name, suggest(x.Fn.Name, names), strings.Join(names, ", "))
		}
		return 0
	}
	var types []Type
	for _, a := range x.Args {
		types = append(types, c.scalar(a))
	}
	if n := len(x.Args); n < arity.Min || arity.Max >= 0 && n > arity.Max {
		if arity.Max < 0 {
			c.errorf(x.Fn.Pos, "%s takes at least %d arguments, got %d", x.Fn.Name, arity.Min, n)
		} else {
			c.errorf(x.Fn.Pos, "%s takes %s, got %d", x.Fn.Name, count(arity.Min, "argument"), n)
		}
		return 0
	}
	for i, t := range types {
		if t == TypeBool {
			c.errorf(Start(x.Args[i]), "%s needs numbers, not a condition", x.Fn.Name)
			return 0
		}
	}
	switch x.Fn.Name {
	case "ceiling", "floor":
		return TypeInt
	case "log", "log2":
		return TypeFloat
	}
	result := Type(0)
	for _, t := range types {
		switch {
		case t == 0:
			return 0
		case result == 0:
			result = t
		case result != t:
			result = TypeNum
		}
	}
	return result
}

func isZeroLiteral(x Expr) bool {
	switch x := x.(type) {
	case *IntLit:
		return x.Value == 0
	case *FloatLit:
		return x.Value == 0
	case *ParenExpr:
		return isZeroLiteral(x.X)
	}
	return false
}

func isNonNegativeIntLiteral(x Expr) bool {
	switch x := x.(type) {
	case *IntLit:
		return true
	case *ParenExpr:
		return isNonNegativeIntLiteral(x.X)
	}
	return false
}

// suggest returns ` (did you mean X?)` for the closest candidate within a
// small edit distance, or "".
func suggest(name string, candidates []string) string {
	maxDist := 1
	if len(name) >= 6 {
		maxDist = 2
	}
	best, bestDist := "", maxDist+1
	for _, cand := range candidates {
		if abs(len(cand)-len(name)) > maxDist {
			continue // the distance is at least the difference in length
		}
		if d := editDistance(name, cand); d < bestDist {
			best, bestDist = cand, d
		}
	}
	if best == "" || best == name {
		return ""
	}
	return fmt.Sprintf(" (did you mean %s?)", best)
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// editDistance is the optimal-string-alignment distance: insertions,
// deletions, substitutions and swaps of neighbours each cost one.
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

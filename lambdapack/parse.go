package lambdapack

// The parser is recursive descent with one token of lookahead; each parse
// method implements one production, quoted in its comment. A syntax error
// abandons the current statement, skips to the end of its line (and parses
// any block that follows, for more errors) and continues, so one run
// reports every independent mistake.

import (
	"fmt"
	"os"
)

// Parse parses the source of one LAmbdaPACK program. The file name is used
// in positions. The error, if any, is an ErrorList.
func Parse(filename, src string) (*File, error) {
	p := &parser{}
	p.sc = newScanner(filename, src, &p.errs)
	p.next()
	f := p.parseFile(filename)
	if err := p.errs.Err(); err != nil {
		return nil, err
	}
	return f, nil
}

// ParseFile reads and parses a program file.
func ParseFile(path string) (*File, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, string(src))
}

type parser struct {
	sc   *scanner
	tok  Token
	val  tokenValue
	errs ErrorList
}

// bailout unwinds the parse of one statement after a syntax error.
type bailout struct{}

func (p *parser) next() { p.tok = p.sc.nextToken(&p.val) }

// fail records a syntax error and abandons the current statement. An
// error at a position the scanner already complained about is dropped.
func (p *parser) fail(pos Position, format string, args ...any) {
	if n := len(p.errs); n == 0 || p.errs[n-1].Pos != pos {
		p.errs.Add(pos, fmt.Sprintf(format, args...))
	}
	panic(bailout{})
}

// found describes the current token for "expected X, found Y" messages.
func (p *parser) found() string {
	switch p.tok {
	case NAME:
		return fmt.Sprintf("name %s", p.val.raw)
	case INT, FLOAT:
		return fmt.Sprintf("%s %s", p.tok, p.val.raw)
	case NEWLINE, EOF, INDENT, OUTDENT:
		return p.tok.String()
	}
	return fmt.Sprintf("%q", p.tok.String())
}

func (p *parser) expect(tok Token, context string) Position {
	if p.tok != tok {
		p.fail(p.val.pos, "expected %q %s, found %s", tok.String(), context, p.found())
	}
	pos := p.val.pos
	p.next()
	return pos
}

// file = { NEWLINE } funcdef { NEWLINE } EOF
func (p *parser) parseFile(filename string) *File {
	f := &File{Path: filename}
	func() {
		defer func() {
			if r := recover(); r != nil {
				if _, ok := r.(bailout); !ok {
					panic(r)
				}
				p.skipLine() // still check the body for errors
			}
		}()
		if p.tok != DEF {
			p.fail(p.val.pos, "expected a program of the form def name(params): ..., found %s", p.found())
		}
		f.Def = p.parseFuncDef()
	}()
	for p.tok != EOF {
		if p.tok == DEF {
			p.errs.Add(p.val.pos, "a program holds exactly one def")
		} else if len(p.errs) == 0 {
			p.errs.Add(p.val.pos, fmt.Sprintf("unexpected %s after the end of the def", p.found()))
		}
		p.skipToEOF()
	}
	if f.Def == nil && len(p.errs) == 0 {
		p.errs.Add(p.val.pos, "empty program: expected def name(params): ...")
	}
	return f
}

func (p *parser) skipToEOF() {
	for p.tok != EOF {
		p.next()
	}
}

// funcdef = "def" NAME "(" param { "," param } [","] ")" ":" suite
func (p *parser) parseFuncDef() *FuncDef {
	d := &FuncDef{Def: p.expect(DEF, "")}
	d.Name = p.parseIdent("after def")
	p.expect(LPAREN, "after the function name")
	for p.tok != RPAREN {
		d.Params = append(d.Params, p.parseParam())
		if p.tok != COMMA {
			break
		}
		p.next()
	}
	p.expect(RPAREN, "after the parameters")
	if len(d.Params) == 0 {
		p.errs.Add(d.Name.Pos, "a program needs at least one parameter")
	}
	p.expect(COLON, "after the def header")
	d.Body = p.parseSuite()
	return d
}

// param = NAME ":" ( "BigMatrix" | "int" | "float" )
func (p *parser) parseParam() *Param {
	name := p.parseIdent("as a parameter name")
	if p.tok != COLON {
		p.fail(p.val.pos, "parameter %s needs a type: %s: BigMatrix, %s: int or %s: float", name.Name, name.Name, name.Name, name.Name)
	}
	p.next()
	typ := p.parseIdent("as the parameter type")
	param := &Param{Name: name, TypePos: typ.Pos, TypeEnd: typ.End}
	switch typ.Name {
	case "BigMatrix":
		param.Type = BigMatrixType
	case "int", "Int":
		param.Type = IntType
	case "float", "Float":
		param.Type = FloatType
	default:
		p.errs.Add(typ.Pos, fmt.Sprintf("unknown parameter type %s (want BigMatrix, int or float)", typ.Name))
	}
	return param
}

// suite = NEWLINE INDENT stmt { stmt } OUTDENT
func (p *parser) parseSuite() []Stmt {
	if p.tok != NEWLINE {
		p.fail(p.val.pos, "expected a newline and an indented block after ':', found %s", p.found())
	}
	p.next()
	if p.tok != INDENT {
		p.fail(p.val.pos, "expected an indented block, found %s", p.found())
	}
	p.next()
	body := p.parseStmts()
	if p.tok == OUTDENT {
		p.next()
	}
	return body
}

// parseStmts parses statements up to the end of the enclosing block.
func (p *parser) parseStmts() []Stmt {
	var list []Stmt
	for p.tok != OUTDENT && p.tok != EOF {
		before := p.sc.off
		if s := p.parseStmtRecovering(); s != nil {
			list = append(list, s)
		}
		if p.sc.off == before && p.tok != OUTDENT && p.tok != EOF {
			p.next() // never loop without progress
		}
	}
	return list
}

func (p *parser) parseStmtRecovering() (s Stmt) {
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(bailout); !ok {
				panic(r)
			}
			p.skipLine()
			s = nil
		}
	}()
	return p.parseStmt()
}

// skipLine skips the rest of a bad logical line; a block that follows it
// is parsed for its own errors and dropped, and so are elif and else arms
// that follow, since they belong to the bad statement.
func (p *parser) skipLine() {
	for {
		for p.tok != NEWLINE && p.tok != EOF && p.tok != OUTDENT && p.tok != INDENT {
			p.next()
		}
		if p.tok == NEWLINE {
			p.next()
		}
		if p.tok == INDENT {
			p.next()
			p.parseStmts()
			if p.tok == OUTDENT {
				p.next()
			}
		}
		if p.tok != ELIF && p.tok != ELSE {
			return
		}
	}
}

// stmt = for_stmt | if_stmt | assign | kernel_call
func (p *parser) parseStmt() Stmt {
	switch p.tok {
	case FOR:
		return p.parseFor()
	case IF:
		return p.parseIf()
	case NAME:
		return p.parseSimpleStmt()
	case INDENT:
		p.errs.Add(p.val.pos, "unexpected indent")
		p.next()
		p.parseStmts()
		if p.tok == OUTDENT {
			p.next()
		}
		return nil
	case NEWLINE:
		p.next()
		return nil
	case ELIF, ELSE:
		p.fail(p.val.pos, "%s without a matching if", p.tok)
	case DEF:
		p.fail(p.val.pos, "a program holds exactly one def; nested defs are not allowed")
	}
	if p.tok == ILLEGAL {
		p.fail(p.val.pos, "unexpected %s", p.val.raw) // the scanner has said why
	}
	p.fail(p.val.pos, "expected a statement (for, if, an assignment or a kernel call), found %s", p.found())
	return nil
}

// for_stmt = "for" NAME "in" "range" "(" expr [ "," expr [ "," expr ] ] ")" ":" suite
func (p *parser) parseFor() *ForStmt {
	s := &ForStmt{For: p.expect(FOR, "")}
	s.Var = p.parseIdent("after for")
	p.expect(IN, "after the loop variable")
	if p.tok != NAME || p.val.raw != "range" {
		p.fail(p.val.pos, "expected range(...) after 'in', found %s", p.found())
	}
	rangePos := p.val.pos
	p.next()
	p.expect(LPAREN, "after range")
	s.Args = p.parseExprList(RPAREN)
	p.expect(RPAREN, "to close range(")
	if n := len(s.Args); n < 1 || n > 3 {
		p.fail(rangePos, "range takes 1 to 3 arguments (start, stop, step), got %d", n)
	}
	p.expect(COLON, "after range(...)")
	s.Body = p.parseSuite()
	return s
}

// if_stmt = "if" expr ":" suite { "elif" expr ":" suite } [ "else" ":" suite ]
func (p *parser) parseIf() *IfStmt {
	s := &IfStmt{}
	for first := true; first || p.tok == ELIF; first = false {
		c := &IfClause{Pos: p.val.pos, Elif: p.tok == ELIF}
		p.next()
		c.Cond = p.parseExpr()
		p.expect(COLON, "after the condition")
		c.Body = p.parseSuite()
		s.Clauses = append(s.Clauses, c)
	}
	if p.tok == ELSE {
		s.ElsePos = p.val.pos
		p.next()
		p.expect(COLON, "after else")
		s.Else = p.parseSuite()
	}
	return s
}

// assign      = NAME "=" expr NEWLINE
// kernel_call = tile { "," tile } "=" NAME "(" [ arg { "," arg } ] ")" NEWLINE
func (p *parser) parseSimpleStmt() Stmt {
	first := p.parsePrimary()
	if id, ok := first.(*Ident); ok && p.tok == EQ {
		p.next()
		s := &AssignStmt{Name: id, Value: p.parseExpr()}
		p.expectNewline()
		return s
	}
	var outputs []*TileRef
	for {
		t, ok := first.(*TileRef)
		if !ok {
			start := Start(first)
			if p.tok == EQ || p.tok == COMMA {
				p.fail(start, "kernel outputs must be tiles such as X[i]; a scalar can only be assigned alone")
			}
			if _, isCall := first.(*CallExpr); isCall {
				p.fail(start, "the result of a kernel call must be assigned to tiles, as in X[i] = kernel(...)")
			}
			p.fail(p.val.pos, "expected \"=\" after %s, found %s", describe(first), p.found())
		}
		outputs = append(outputs, t)
		if p.tok != COMMA {
			break
		}
		p.next()
		first = p.parsePrimary()
	}
	p.expect(EQ, "after the output tiles")
	if p.tok != NAME {
		p.fail(p.val.pos, "expected a kernel call after \"=\", found %s", p.found())
	}
	kernel := p.parseIdent("")
	if p.tok != LPAREN {
		if p.tok == LBRACK {
			p.fail(kernel.Pos, "a tile cannot be assigned directly; copy it with identity(%s[...])", kernel.Name)
		}
		p.fail(p.val.pos, "expected \"(\" after kernel name %s, found %s", kernel.Name, p.found())
	}
	s := &CallStmt{Outputs: outputs, Kernel: kernel, Lparen: p.val.pos}
	p.next()
	s.Args = p.parseExprList(RPAREN)
	s.Rparen = p.expect(RPAREN, "to close the kernel call")
	p.expectNewline()
	return s
}

func (p *parser) expectNewline() {
	if p.tok != NEWLINE && p.tok != EOF {
		p.fail(p.val.pos, "expected a newline after the statement, found %s", p.found())
	}
	if p.tok == NEWLINE {
		p.next()
	}
}

// parseExprList parses a possibly empty comma-separated list up to end,
// allowing a trailing comma.
func (p *parser) parseExprList(end Token) []Expr {
	var list []Expr
	for p.tok != end {
		list = append(list, p.parseExpr())
		if p.tok != COMMA {
			break
		}
		p.next()
	}
	return list
}

// expr = or_expr
func (p *parser) parseExpr() Expr { return p.parseOr() }

// or_expr = and_expr { "or" and_expr }
func (p *parser) parseOr() Expr {
	x := p.parseAnd()
	for p.tok == OR {
		pos := p.val.pos
		p.next()
		x = &BinaryExpr{X: x, OpPos: pos, Op: OR, Y: p.parseAnd()}
	}
	return x
}

// and_expr = not_expr { "and" not_expr }
func (p *parser) parseAnd() Expr {
	x := p.parseNot()
	for p.tok == AND {
		pos := p.val.pos
		p.next()
		x = &BinaryExpr{X: x, OpPos: pos, Op: AND, Y: p.parseNot()}
	}
	return x
}

// not_expr = "not" not_expr | comparison
func (p *parser) parseNot() Expr {
	if p.tok == NOT {
		pos := p.val.pos
		p.next()
		return &UnaryExpr{OpPos: pos, Op: NOT, X: p.parseNot()}
	}
	return p.parseComparison()
}

func isComparison(tok Token) bool {
	return tok == EQL || tok == NEQ || tok == LT || tok == GT || tok == LE || tok == GE
}

// comparison = arith [ ( "==" | "!=" | "<" | ">" | "<=" | ">=" ) arith ]
func (p *parser) parseComparison() Expr {
	x := p.parseArith()
	if !isComparison(p.tok) {
		return x
	}
	op, pos := p.tok, p.val.pos
	p.next()
	x = &BinaryExpr{X: x, OpPos: pos, Op: op, Y: p.parseArith()}
	if isComparison(p.tok) {
		p.fail(p.val.pos, "chained comparisons are not supported; combine them with 'and'")
	}
	return x
}

// arith = term { ( "+" | "-" ) term }
func (p *parser) parseArith() Expr {
	x := p.parseTerm()
	for p.tok == PLUS || p.tok == MINUS {
		op, pos := p.tok, p.val.pos
		p.next()
		x = &BinaryExpr{X: x, OpPos: pos, Op: op, Y: p.parseTerm()}
	}
	return x
}

// term = unary { ( "*" | "/" | "//" | "%" ) unary }
func (p *parser) parseTerm() Expr {
	x := p.parseUnary()
	for p.tok == STAR || p.tok == SLASH || p.tok == SLASHSLASH || p.tok == PERCENT {
		op, pos := p.tok, p.val.pos
		p.next()
		x = &BinaryExpr{X: x, OpPos: pos, Op: op, Y: p.parseUnary()}
	}
	return x
}

// unary = ( "-" | "+" ) unary | power
func (p *parser) parseUnary() Expr {
	if p.tok == MINUS || p.tok == PLUS {
		op, pos := p.tok, p.val.pos
		p.next()
		return &UnaryExpr{OpPos: pos, Op: op, X: p.parseUnary()}
	}
	return p.parsePower()
}

// power = primary [ "**" unary ]      (right associative, as in Python)
func (p *parser) parsePower() Expr {
	x := p.parsePrimary()
	if p.tok == STARSTAR {
		pos := p.val.pos
		p.next()
		x = &BinaryExpr{X: x, OpPos: pos, Op: STARSTAR, Y: p.parseUnary()}
	}
	return x
}

// primary = NAME [ "[" expr { "," expr } "]" | "(" [ expr { "," expr } ] ")" ]
//
//	| INT | FLOAT | "(" expr ")"
func (p *parser) parsePrimary() Expr {
	switch p.tok {
	case NAME:
		id := p.parseIdent("")
		switch p.tok {
		case LBRACK:
			p.next()
			t := &TileRef{Name: id, Indices: p.parseExprList(RBRACK)}
			if len(t.Indices) == 0 {
				p.fail(p.val.pos, "tile %s[] needs at least one index", id.Name)
			}
			t.Rbrack = p.expect(RBRACK, "to close the tile index")
			return t
		case LPAREN:
			p.next()
			c := &CallExpr{Fn: id, Args: p.parseExprList(RPAREN)}
			c.Rparen = p.expect(RPAREN, "to close the call")
			return c
		}
		return id
	case INT:
		x := &IntLit{Pos: p.val.pos, End: p.val.end, Raw: p.val.raw, Value: p.val.int}
		p.next()
		return x
	case FLOAT:
		x := &FloatLit{Pos: p.val.pos, End: p.val.end, Raw: p.val.raw, Value: p.val.float}
		p.next()
		return x
	case LPAREN:
		x := &ParenExpr{Lparen: p.val.pos}
		p.next()
		x.X = p.parseExpr()
		if p.tok == COMMA {
			p.fail(p.val.pos, "tuples are not part of LAmbdaPACK")
		}
		x.Rparen = p.expect(RPAREN, "to close the parenthesis")
		return x
	}
	p.fail(p.val.pos, "expected an expression, found %s", p.found())
	return nil
}

func (p *parser) parseIdent(context string) *Ident {
	if p.tok != NAME {
		if context != "" {
			context = " " + context
		}
		p.fail(p.val.pos, "expected a name%s, found %s", context, p.found())
	}
	id := &Ident{Pos: p.val.pos, End: p.val.end, Name: p.val.raw}
	p.next()
	return id
}

// describe names an expression in messages.
func describe(x Expr) string {
	switch x := x.(type) {
	case *Ident:
		return x.Name
	case *TileRef:
		return x.Name.Name + "[...]"
	case *CallExpr:
		return x.Fn.Name + "(...)"
	}
	return "the expression"
}

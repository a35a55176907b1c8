package lambdapack

import "fmt"

// A Token is a lexical token of LAmbdaPACK.
type Token int8

const (
	ILLEGAL Token = iota
	EOF

	NEWLINE
	INDENT
	OUTDENT

	// Tokens with values.
	NAME  // x
	INT   // 123
	FLOAT // 1.5, 1e9

	// Punctuation and operators.
	PLUS       // +
	MINUS      // -
	STAR       // *
	STARSTAR   // **
	SLASH      // /
	SLASHSLASH // //
	PERCENT    // %
	EQ         // =
	EQL        // ==
	NEQ        // !=
	LT         // <
	GT         // >
	LE         // <=
	GE         // >=
	LPAREN     // (
	RPAREN     // )
	LBRACK     // [
	RBRACK     // ]
	COMMA      // ,
	COLON      // :

	// Keywords.
	AND
	DEF
	ELIF
	ELSE
	FOR
	IF
	IN
	NOT
	OR

	maxToken
)

var tokenNames = [...]string{
	ILLEGAL:    "illegal token",
	EOF:        "end of file",
	NEWLINE:    "newline",
	INDENT:     "indent",
	OUTDENT:    "outdent",
	NAME:       "name",
	INT:        "int literal",
	FLOAT:      "float literal",
	PLUS:       "+",
	MINUS:      "-",
	STAR:       "*",
	STARSTAR:   "**",
	SLASH:      "/",
	SLASHSLASH: "//",
	PERCENT:    "%",
	EQ:         "=",
	EQL:        "==",
	NEQ:        "!=",
	LT:         "<",
	GT:         ">",
	LE:         "<=",
	GE:         ">=",
	LPAREN:     "(",
	RPAREN:     ")",
	LBRACK:     "[",
	RBRACK:     "]",
	COMMA:      ",",
	COLON:      ":",
	AND:        "and",
	DEF:        "def",
	ELIF:       "elif",
	ELSE:       "else",
	FOR:        "for",
	IF:         "if",
	IN:         "in",
	NOT:        "not",
	OR:         "or",
}

func (tok Token) String() string {
	if tok < 0 || tok >= maxToken {
		return fmt.Sprintf("token(%d)", int(tok))
	}
	return tokenNames[tok]
}

// GoString makes %#v print tokens by name in test failures.
func (tok Token) GoString() string { return tok.String() }

var keywords = map[string]Token{
	"and":  AND,
	"def":  DEF,
	"elif": ELIF,
	"else": ELSE,
	"for":  FOR,
	"if":   IF,
	"in":   IN,
	"not":  NOT,
	"or":   OR,
}

// reserved are Python keywords that LAmbdaPACK does not support; using one
// as a name gets a clear message instead of a confusing parse error.
var reserved = map[string]bool{
	"as": true, "assert": true, "async": true, "await": true, "break": true,
	"class": true, "continue": true, "del": true, "except": true, "finally": true,
	"from": true, "global": true, "import": true, "is": true, "lambda": true,
	"nonlocal": true, "pass": true, "raise": true, "return": true, "try": true,
	"while": true, "with": true, "yield": true, "True": true, "False": true, "None": true,
}

// A Position is a location in a source file. Line and Col are 1-based;
// Col counts runes. The zero Position is unknown.
type Position struct {
	File string
	Line int32
	Col  int32
}

// IsValid reports whether the position is known.
func (p Position) IsValid() bool { return p.Line > 0 }

// String formats the position as file:line:col.
func (p Position) String() string {
	file := p.File
	if file == "" {
		file = "<input>"
	}
	if !p.IsValid() {
		return file
	}
	return fmt.Sprintf("%s:%d:%d", file, p.Line, p.Col)
}

// Before reports whether p comes before q in the same file.
func (p Position) Before(q Position) bool {
	return p.Line < q.Line || p.Line == q.Line && p.Col < q.Col
}

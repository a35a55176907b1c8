package lambdapack

// The scanner turns source text into tokens. Indentation follows Python:
// at the start of each logical line outside brackets the column of the
// first token is compared with a stack of open indentation levels, and the
// difference becomes pending INDENT or OUTDENT tokens. Blank and
// comment-only lines, and line breaks inside brackets, produce nothing.

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// A tokenValue carries the text and position of one token.
type tokenValue struct {
	raw   string
	int   int64
	float float64
	pos   Position
	end   Position // just past the token
}

type scanner struct {
	file string
	src  string
	off  int // byte offset of the next rune
	line int32
	col  int32

	indents   []int32 // open indentation columns, indents[0] == 1
	dents     int     // pending INDENTs (>0) or OUTDENTs (<0)
	depth     int     // bracket nesting
	lineStart bool    // at the start of a logical line
	sawTokens bool    // the current logical line has produced a token

	errs *ErrorList
}

func newScanner(file, src string, errs *ErrorList) *scanner {
	return &scanner{
		file:      file,
		src:       src,
		line:      1,
		col:       1,
		indents:   []int32{1},
		lineStart: true,
		errs:      errs,
	}
}

func (sc *scanner) pos() Position { return Position{File: sc.file, Line: sc.line, Col: sc.col} }

func (sc *scanner) errorf(pos Position, format string, args ...any) {
	sc.errs.Add(pos, fmt.Sprintf(format, args...))
}

// peek returns the next rune without consuming it, or -1 at the end.
func (sc *scanner) peek() rune {
	if sc.off >= len(sc.src) {
		return -1
	}
	r, _ := utf8.DecodeRuneInString(sc.src[sc.off:])
	return r
}

func (sc *scanner) peekAt(n int) byte {
	if sc.off+n >= len(sc.src) {
		return 0
	}
	return sc.src[sc.off+n]
}

// next consumes one rune, keeping line and column up to date.
func (sc *scanner) next() rune {
	r, size := utf8.DecodeRuneInString(sc.src[sc.off:])
	sc.off += size
	if r == '\n' {
		sc.line++
		sc.col = 1
	} else {
		sc.col++
	}
	return r
}

// nextToken scans the next token into val.
func (sc *scanner) nextToken(val *tokenValue) Token {
	for {
		if tok, ok := sc.pendingDent(val); ok {
			return tok
		}
		if sc.lineStart && sc.depth == 0 {
			sc.lineStart = false
			if !sc.scanIndent() {
				continue // blank line
			}
			if tok, ok := sc.pendingDent(val); ok {
				return tok
			}
		}
		tok, ok := sc.scanOne(val)
		if ok {
			return tok
		}
	}
}

// pendingDent emits one pending INDENT or OUTDENT.
func (sc *scanner) pendingDent(val *tokenValue) (Token, bool) {
	*val = tokenValue{pos: sc.pos(), end: sc.pos()}
	switch {
	case sc.dents > 0:
		sc.dents--
		return INDENT, true
	case sc.dents < 0:
		sc.dents++
		return OUTDENT, true
	}
	return 0, false
}

// scanIndent measures the indentation of a new logical line and records
// the pending dents. It reports false for a blank or comment-only line,
// which it consumes.
func (sc *scanner) scanIndent() bool {
	var tab Position // first tab in the indentation; reported only if the line is not blank
loop:
	for {
		r := sc.peek()
		switch r {
		case ' ':
			sc.next()
			continue
		case '\t':
			if !tab.IsValid() {
				tab = sc.pos()
			}
			sc.next()
			continue
		case '\r', '\f':
			sc.next()
			continue
		case '#':
			sc.skipComment()
			continue
		case '\n':
			sc.next()
			sc.lineStart = true
			return false
		case -1:
			return true // EOF closes the open indentation levels
		}
		break loop
	}
	if tab.IsValid() {
		sc.errorf(tab, "tab in indentation; indent with spaces")
	}
	if sc.peek() == '\\' && sc.peekAt(1) == '\n' {
		return true // a continuation line starting with a backslash is odd but legal
	}
	col := sc.col
	top := sc.indents[len(sc.indents)-1]
	switch {
	case col > top:
		sc.indents = append(sc.indents, col)
		sc.dents = 1
	case col < top:
		for len(sc.indents) > 1 && col < sc.indents[len(sc.indents)-1] {
			sc.indents = sc.indents[:len(sc.indents)-1]
			sc.dents--
		}
		if col != sc.indents[len(sc.indents)-1] {
			sc.errorf(sc.pos(), "unindent does not match any outer indentation level")
			// Recover as if the line were at the nearest outer level.
		}
	}
	return true
}

func (sc *scanner) skipComment() {
	for r := sc.peek(); r != '\n' && r != -1; r = sc.peek() {
		sc.next()
	}
}

// scanOne scans one token; it reports false when it consumed only
// whitespace, a comment or a line break that ends no logical line.
func (sc *scanner) scanOne(val *tokenValue) (Token, bool) {
	r := sc.peek()
	switch {
	case r == -1:
		return sc.scanEOF(val), true
	case r == ' ' || r == '\t' || r == '\r' || r == '\f':
		sc.next()
		return 0, false
	case r == '#':
		sc.skipComment()
		return 0, false
	case r == '\\':
		pos := sc.pos()
		sc.next()
		if sc.peek() == '\n' {
			sc.next()
			return 0, false
		}
		if sc.peek() == '\r' && sc.peekAt(1) == '\n' {
			sc.next()
			sc.next()
			return 0, false
		}
		sc.errorf(pos, "unexpected backslash; a line continuation must end the line")
		return 0, false
	case r == '\n':
		pos := sc.pos()
		sc.next()
		if sc.depth > 0 {
			return 0, false
		}
		sc.lineStart = true
		if !sc.sawTokens {
			return 0, false
		}
		sc.sawTokens = false
		*val = tokenValue{pos: pos, end: pos}
		return NEWLINE, true
	}
	sc.sawTokens = true
	start := sc.pos()
	startOff := sc.off
	var tok Token
	switch {
	case isIdentStart(r):
		tok = sc.scanName()
	case isDigit(r) || r == '.' && isDigit(rune(sc.peekAt(1))):
		tok = sc.scanNumber(val, start)
	default:
		tok = sc.scanOperator(start)
	}
	val.raw = sc.src[startOff:sc.off]
	val.pos = start
	val.end = sc.pos()
	if tok == NAME {
		if kw, ok := keywords[val.raw]; ok {
			tok = kw
		} else if reserved[val.raw] {
			sc.errorf(start, "%q is not part of LAmbdaPACK", val.raw)
			tok = ILLEGAL
		}
	}
	return tok, true
}

// scanEOF ends the last logical line and closes open indentation.
func (sc *scanner) scanEOF(val *tokenValue) Token {
	*val = tokenValue{pos: sc.pos(), end: sc.pos()}
	if sc.depth > 0 {
		sc.errorf(sc.pos(), "unexpected end of file inside brackets")
		sc.depth = 0
	}
	if sc.sawTokens {
		sc.sawTokens = false
		return NEWLINE
	}
	if len(sc.indents) > 1 {
		sc.indents = sc.indents[:len(sc.indents)-1]
		return OUTDENT
	}
	return EOF
}

func (sc *scanner) scanName() Token {
	for isIdentPart(sc.peek()) {
		sc.next()
	}
	return NAME
}

// scanNumber scans an int or float literal in Python syntax (with
// underscores between digits).
func (sc *scanner) scanNumber(val *tokenValue, start Position) Token {
	startOff := sc.off
	isFloat := false
	sc.digits()
	if sc.peek() == '.' {
		isFloat = true
		sc.next()
		sc.digits()
	}
	if r := sc.peek(); r == 'e' || r == 'E' {
		save, line, col := sc.off, sc.line, sc.col
		sc.next()
		if r := sc.peek(); r == '+' || r == '-' {
			sc.next()
		}
		if isDigit(sc.peek()) {
			isFloat = true
			sc.digits()
		} else {
			sc.off, sc.line, sc.col = save, line, col
		}
	}
	if isIdentPart(sc.peek()) {
		for isIdentPart(sc.peek()) {
			sc.next()
		}
		sc.errorf(start, "invalid number literal %q", sc.src[startOff:sc.off])
		return INT
	}
	text := strings.ReplaceAll(sc.src[startOff:sc.off], "_", "")
	if isFloat {
		f, err := strconv.ParseFloat(text, 64)
		if err != nil || math.IsInf(f, 0) {
			sc.errorf(start, "float literal %s out of range", sc.src[startOff:sc.off])
		}
		val.float = f
		return FLOAT
	}
	if len(text) > 1 && text[0] == '0' && strings.Trim(text, "0") != "" {
		sc.errorf(start, "leading zeros are not allowed in an integer literal: %s", text)
	}
	n, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		sc.errorf(start, "integer literal %s out of range", sc.src[startOff:sc.off])
	}
	val.int = n
	return INT
}

// digits consumes decimal digits with single underscores between them.
func (sc *scanner) digits() {
	for {
		r := sc.peek()
		if isDigit(r) {
			sc.next()
			continue
		}
		if r == '_' && isDigit(rune(sc.peekAt(1))) {
			sc.next()
			continue
		}
		return
	}
}

func (sc *scanner) scanOperator(start Position) Token {
	r := sc.next()
	two := func(second rune, ifTwo, ifOne Token) Token {
		if sc.peek() == second {
			sc.next()
			return ifTwo
		}
		return ifOne
	}
	switch r {
	case '+':
		return PLUS
	case '-':
		return MINUS
	case '*':
		return two('*', STARSTAR, STAR)
	case '/':
		return two('/', SLASHSLASH, SLASH)
	case '%':
		return PERCENT
	case '=':
		return two('=', EQL, EQ)
	case '<':
		return two('=', LE, LT)
	case '>':
		return two('=', GE, GT)
	case '!':
		if sc.peek() == '=' {
			sc.next()
			return NEQ
		}
	case '(', '[':
		sc.depth++
		if r == '(' {
			return LPAREN
		}
		return LBRACK
	case ')', ']':
		if sc.depth > 0 {
			sc.depth--
		}
		if r == ')' {
			return RPAREN
		}
		return RBRACK
	case ',':
		return COMMA
	case ':':
		return COLON
	case '"', '\'':
		sc.errorf(start, "strings are not part of LAmbdaPACK")
		for q := sc.peek(); q != rune(r) && q != '\n' && q != -1; q = sc.peek() {
			sc.next()
		}
		if sc.peek() == rune(r) {
			sc.next()
		}
		return ILLEGAL
	}
	if r == utf8.RuneError {
		sc.errorf(start, "invalid UTF-8 in source")
	} else {
		sc.errorf(start, "unexpected character %q", r)
	}
	return ILLEGAL
}

func isDigit(r rune) bool { return '0' <= r && r <= '9' }

func isIdentStart(r rune) bool {
	return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || r == '_' ||
		r >= utf8.RuneSelf && unicode.IsLetter(r)
}

func isIdentPart(r rune) bool {
	return isIdentStart(r) || isDigit(r) || r >= utf8.RuneSelf && unicode.IsDigit(r)
}

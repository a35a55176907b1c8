// Package lambdapack implements LAmbdaPACK, the language in which npw's
// algorithms are written: a scanner, a parser, a syntax tree with
// positions, a printer, a checker, scalar evaluation with Python 3
// semantics, the kernel signature table and the shipped programs.
//
// A program is one Python-like function of loops and kernel calls on
// matrix tiles; it computes tile indices and never touches matrix values:
//
//	def cholesky(O: BigMatrix, S: BigMatrix, N: int):
//	    for i in range(0, N):
//	        O[i, i] = chol(S[i, i, i])
//	        for j in range(i + 1, N):
//	            O[j, i] = trsm(O[i, i], S[i, j, i])
//	            for k in range(i + 1, j + 1):
//	                S[i + 1, j, k] = syrk(S[i, j, k], O[j, i], O[k, i])
//
// Grammar (indentation is significant; # starts a comment; tabs may not
// indent):
//
//	file        = { NEWLINE } funcdef { NEWLINE }
//	funcdef     = "def" NAME "(" param { "," param } ")" ":" suite
//	param       = NAME ":" ( "BigMatrix" | "int" | "float" )
//	suite       = NEWLINE INDENT stmt { stmt } OUTDENT
//	stmt        = for_stmt | if_stmt | assign | kernel_call
//	for_stmt    = "for" NAME "in" "range" "(" expr [ "," expr [ "," expr ] ] ")" ":" suite
//	if_stmt     = "if" expr ":" suite { "elif" expr ":" suite } [ "else" ":" suite ]
//	assign      = NAME "=" expr NEWLINE
//	kernel_call = tile { "," tile } "=" NAME "(" [ arg { "," arg } ] ")" NEWLINE
//	tile        = NAME "[" expr { "," expr } "]"
//	arg         = tile | expr          (tiles first, then scalars)
//
// Expressions have Python's precedence: or, and, not, comparisons (not
// chained), + -, * / // %, unary -, ** (right associative), and the
// functions ceiling, floor, log, log2, min and max. / always gives a
// float; // and % floor; ceiling and floor first snap a float within 1e-9
// of an integer to it, so ceiling(log(8)/log(2)) is 3.
//
// Names are never rebound: a scalar is assigned once, and is visible from
// its assignment to the end of its block; loop variables and parameters
// cannot be assigned. Tile indices must be integers, which the checker
// verifies where the static type is known and the evaluator everywhere
// else. A range bound must be an integer too, or a float whose value is
// exactly one: range(0, log2(N)), as the paper prints it, runs for N a
// power of two and fails naming the value otherwise. A call assigns all
// its kernel's outputs, or, where the kernel table marks the leading ones
// optional, the last ones alone: R = qr_factor(A) keeps R and drops V and
// T. Every tile is written by at most one task (write once); npw check
// verifies this by enumeration for given sizes.
//
// Errors are positioned and reported together, one per line, as
// file:line:col: message.
package lambdapack

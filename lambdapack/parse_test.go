package lambdapack

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func TestParseExpressions(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"1 + 2 * 3", "(+ 1 (* 2 3))"},
		{"(1 + 2) * 3", "(* (paren (+ 1 2)) 3)"},
		{"a - b - c", "(- (- a b) c)"},
		{"2 ** 3 ** 2", "(** 2 (** 3 2))"},
		{"-2 ** 2", "(- (** 2 2))"},
		{"2 ** -1", "(** 2 (- 1))"},
		{"a // b % c * d / e", "(/ (* (% (// a b) c) d) e)"},
		{"i + 2**(level + 1)", "(+ i (** 2 (paren (+ level 1))))"},
		{"not a == b", "(not (== a b))"},
		{"a < b and c >= d or not e", "(or (and (< a b) (>= c d)) (not e))"},
		{"ceiling(log(x) / log(2))", "(ceiling (/ (log x) (log 2)))"},
		{"min(a, b, c) + max(1, 2.5)", "(+ (min a b c) (max 1 2.5f))"},
		{"floor(log2(N))", "(floor (log2 N))"},
		{"--x", "(- (- x))"},
		{"+x", "(+ x)"},
	} {
		f, err := Parse("t.lp", "def f(A: BigMatrix):\n    x = "+tc.src+"\n")
		if err != nil {
			t.Errorf("%s: %v", tc.src, err)
			continue
		}
		got := dump(f.Def.Body[0].(*AssignStmt).Value)
		if got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.src, got, tc.want)
		}
	}
}

func TestParseStatements(t *testing.T) {
	src := `
def f(A: BigMatrix, B: BigMatrix, N: int, alpha: float):
    for i in range(N):
        for j in range(i, N, 2):
            if i == j:
                B[i, j] = identity(A[i, j])
            elif i < j:
                B[i, j] = scale(A[i, j], alpha)
            else:
                x = i + 1
                B[i, j] = add(A[i, j], A[x, j])
    for k in range(N - 1, -1, -1):
        V[k], T[k], R[k] = qr_factor(A[k, 0], A[k, 1])
`
	f, err := Parse("t.lp", src)
	if err != nil {
		t.Fatal(err)
	}
	want := "(def f (A:BigMatrix B:BigMatrix N:int alpha:float)" +
		" (for i (range N) (for j (range i N 2) (if (if (== i j) (call (B[i j]) identity A[i j]))" +
		" (elif (< i j) (call (B[i j]) scale A[i j] alpha))" +
		" (else (= x (+ i 1)) (call (B[i j]) add A[i j] A[x j])))))" +
		" (for k (range (- N 1) (- 1) (- 1)) (call (V[k] T[k] R[k]) qr_factor A[k 0] A[k 1])))"
	if got := dump(f); got != want {
		t.Errorf("\n got %s\nwant %s", got, want)
	}
}

func TestParsePositions(t *testing.T) {
	f, err := Parse("p.lp", "def f(A: BigMatrix, N: int):\n    for i in range(N):\n        A[i] = chol(A[i + 1])\n")
	if err != nil {
		t.Fatal(err)
	}
	loop := f.Def.Body[0].(*ForStmt)
	call := loop.Body[0].(*CallStmt)
	for _, tc := range []struct {
		n    Node
		want string
	}{
		{f.Def, "p.lp:1:1"},
		{loop, "p.lp:2:5"},
		{loop.Var, "p.lp:2:9"},
		{call, "p.lp:3:9"},
		{call.Kernel, "p.lp:3:16"},
		{call.Args[0], "p.lp:3:21"},
		{call.Args[0].(*TileRef).Indices[0], "p.lp:3:23"},
	} {
		if got := Start(tc.n).String(); got != tc.want {
			t.Errorf("%T at %s, want %s", tc.n, got, tc.want)
		}
	}
	_, end := call.Span()
	if end.String() != "p.lp:3:29" {
		t.Errorf("call ends at %s, want p.lp:3:29", end)
	}
}

// roundTrip checks that printing a program and parsing it again gives the
// same tree, and that the printed form is a fixed point.
func roundTrip(t *testing.T, name, src string) {
	t.Helper()
	f1, err := Parse(name, src)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	out1 := Format(f1)
	f2, err := Parse(name, out1)
	if err != nil {
		t.Fatalf("%s: printed form does not parse: %v\n%s", name, err, out1)
	}
	if d1, d2 := dump(f1), dump(f2); d1 != d2 {
		t.Fatalf("%s: round trip changed the tree\nbefore %s\nafter  %s", name, d1, d2)
	}
	if out2 := Format(f2); out2 != out1 {
		t.Fatalf("%s: printing is not idempotent\nfirst\n%s\nsecond\n%s", name, out1, out2)
	}
}

func TestRoundTripShipped(t *testing.T) {
	for _, name := range Shipped() {
		src, _ := ShippedSource(name)
		roundTrip(t, name, src)
	}
}

// TestRoundTripTestdata round-trips the good programs of testdata (every
// file but errors.lp, programs separated by --- lines).
func TestRoundTripTestdata(t *testing.T) {
	files, err := filepath.Glob("testdata/*.lp")
	if err != nil {
		t.Fatal(err)
	}
	programs := 0
	for _, file := range files {
		if strings.HasSuffix(file, "errors.lp") {
			continue
		}
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for i, chunk := range chunks(string(src)) {
			roundTrip(t, file+"#"+strconv.Itoa(i), chunk)
			programs++
		}
	}
	if programs < 10 {
		t.Fatalf("round-tripped %d programs from testdata; programs.lp holds more", programs)
	}
}

// TestPrintParenthesises checks that the printer adds the parentheses a
// hand-built tree needs to keep its meaning.
func TestPrintParenthesises(t *testing.T) {
	id := func(s string) *Ident { return &Ident{Name: s} }
	x := &BinaryExpr{Op: STAR, X: &BinaryExpr{Op: PLUS, X: id("a"), Y: id("b")}, Y: &BinaryExpr{Op: MINUS, X: id("c"), Y: id("d")}}
	if got := FormatExpr(x); got != "(a + b) * (c - d)" {
		t.Errorf("got %s", got)
	}
	y := &BinaryExpr{Op: STARSTAR, X: &BinaryExpr{Op: STARSTAR, X: id("a"), Y: id("b")}, Y: &UnaryExpr{Op: MINUS, X: id("c")}}
	if got := FormatExpr(y); got != "(a**b)**-c" {
		t.Errorf("got %s", got)
	}
	if got := FormatExpr(&FloatLit{Value: 2}); got != "2.0" {
		t.Errorf("float 2 prints as %s", got)
	}
}

// chunks splits a testdata file into programs separated by "---" lines,
// keeping line numbers: each chunk is padded with blank lines.
func chunks(src string) []string {
	var out []string
	lines := strings.Split(src, "\n")
	start := 0
	for i := 0; i <= len(lines); i++ {
		if i == len(lines) || strings.TrimSpace(lines[i]) == "---" {
			chunk := strings.Repeat("\n", start) + strings.Join(lines[start:i], "\n")
			if strings.TrimSpace(chunk) != "" {
				out = append(out, chunk)
			}
			start = i + 1
		}
	}
	return out
}

var wantErrorRE = regexp.MustCompile(`"((?:[^"\\]|\\.)*)"`)

// TestErrors runs testdata/errors.lp: every chunk is a bad program and
// every line marked with ### followed by quoted regexps must get one error
// matching each regexp at that line; no other errors may appear. Parse errors and check errors
// are both covered.
func TestErrors(t *testing.T) {
	src, err := os.ReadFile("testdata/errors.lp")
	if err != nil {
		t.Fatal(err)
	}
	for _, chunk := range chunks(string(src)) {
		want := map[int][]*regexp.Regexp{}
		for i, line := range strings.Split(chunk, "\n") {
			_, marks, ok := strings.Cut(line, "###")
			if !ok {
				continue
			}
			for _, m := range wantErrorRE.FindAllStringSubmatch(marks, -1) {
				want[i+1] = append(want[i+1], regexp.MustCompile(m[1]))
			}
		}
		_, err := Load("errors.lp", chunk)
		errs := Errors(err)
		if len(want) == 0 {
			t.Errorf("chunk without expectations:\n%s", chunk)
		}
		if err != nil && len(errs) == 0 {
			t.Errorf("error without position: %v", err)
		}
		for _, e := range errs {
			if e.Pos.File != "errors.lp" || e.Pos.Line < 1 || e.Pos.Col < 1 {
				t.Errorf("bad position in %v", e)
			}
			line := int(e.Pos.Line)
			matched := false
			for i, re := range want[line] {
				if re.MatchString(e.Msg) {
					want[line] = append(want[line][:i], want[line][i+1:]...)
					matched = true
					break
				}
			}
			if !matched {
				t.Errorf("unexpected error: %v", e)
			}
		}
		for line, res := range want {
			for _, re := range res {
				t.Errorf("errors.lp:%d: no error matching %q", line, re)
			}
		}
	}
}

func TestWalk(t *testing.T) {
	src, _ := ShippedSource("tsqr")
	f, err := Parse("tsqr.lp", src)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	Walk(f, func(n Node) bool {
		switch n := n.(type) {
		case *CallStmt:
			counts["call"]++
		case *TileRef:
			counts["tile "+n.Name.Name]++
		case *IfStmt:
			counts["if"]++
			return false // skip the arms
		}
		return true
	})
	want := map[string]int{"call": 1, "if": 1, "tile V": 1, "tile T": 1, "tile R": 1, "tile A": 1}
	for k, v := range want {
		if counts[k] != v {
			t.Errorf("%s visited %d times, want %d (all: %v)", k, counts[k], v, counts)
		}
	}
}

// TestStripComments checks that stripping comments keeps every token where
// it was: the trees and all their positions are equal.
func TestStripComments(t *testing.T) {
	for _, name := range Shipped() {
		src, _ := ShippedSource(name)
		stripped := StripComments(src)
		if strings.Contains(stripped, "#") || len(stripped) >= len(src) && strings.Contains(src, "#") {
			t.Errorf("%s: comments left", name)
		}
		a, err1 := Parse(name, src)
		b, err2 := Parse(name, stripped)
		if err1 != nil || err2 != nil {
			t.Fatalf("%s: %v %v", name, err1, err2)
		}
		var pa, pb []string
		Walk(a, func(n Node) bool { pa = append(pa, fmt.Sprintf("%T@%s", n, Start(n))); return true })
		Walk(b, func(n Node) bool { pb = append(pb, fmt.Sprintf("%T@%s", n, Start(n))); return true })
		if dump(a) != dump(b) || strings.Join(pa, " ") != strings.Join(pb, " ") {
			t.Errorf("%s: stripping comments moved something", name)
		}
	}
}

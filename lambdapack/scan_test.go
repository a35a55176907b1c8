package lambdapack

import (
	"strings"
	"testing"
)

// scanAll renders the token stream of src, one word per token; names and
// numbers appear as their text.
func scanAll(src string) (string, ErrorList) {
	var errs ErrorList
	sc := newScanner("t.lp", src, &errs)
	var words []string
	for i := 0; i < 1000; i++ {
		var val tokenValue
		tok := sc.nextToken(&val)
		switch tok {
		case NAME, INT, FLOAT:
			words = append(words, val.raw)
		default:
			words = append(words, tok.String())
		}
		if tok == EOF {
			break
		}
	}
	return strings.Join(words, " "), errs
}

func TestScanTokens(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"", "end of file"},
		{"x", "x newline end of file"},
		{"a = 1 + 2.5e-3\n", "a = 1 + 2.5e-3 newline end of file"},
		{"x ** -y // 3 % 2 / 1", "x ** - y // 3 % 2 / 1 newline end of file"},
		{"a==b!=c<=d>=e<f>g", "a == b != c <= d >= e < f > g newline end of file"},
		{"def f(A: BigMatrix):\n    x = 1\n", "def f ( A : BigMatrix ) : newline indent x = 1 newline outdent end of file"},
		// Nested blocks close with one outdent per level, also at EOF without a newline.
		{"for i in range(N):\n  for j in range(i):\n    x = 1", "for i in range ( N ) : newline indent for j in range ( i ) : newline indent x = 1 newline outdent outdent end of file"},
		// Blank lines and comments produce nothing, whatever their indentation.
		{"a = 1\n\n   # c\n\t\n# d\nb = 2 # e\n", "a = 1 newline b = 2 newline end of file"},
		// Line breaks inside brackets and after a backslash join lines.
		{"A[i,\n      j] = f(\n B[i])\n", "A [ i , j ] = f ( B [ i ] ) newline end of file"},
		{"x = 1 + \\\n   2\n", "x = 1 + 2 newline end of file"},
		{"x = 1_000 + .5 + 3. + 1E3", "x = 1_000 + .5 + 3. + 1E3 newline end of file"},
		{"if a and not b or c:", "if a and not b or c : newline end of file"},
		{"elif else in", "elif else in newline end of file"},
		// Dedent to an outer level closes several blocks at once.
		{"a\n  b\n    c\nd\n", "a newline indent b newline indent c newline outdent outdent d newline end of file"},
		{"a\r\n  b\r\n", "a newline indent b newline outdent end of file"},
	} {
		got, errs := scanAll(tc.src)
		if len(errs) > 0 {
			t.Errorf("scan %q: unexpected errors: %v", tc.src, errs)
		}
		if got != tc.want {
			t.Errorf("scan %q:\n got %s\nwant %s", tc.src, got, tc.want)
		}
	}
}

func TestScanNumbers(t *testing.T) {
	var errs ErrorList
	sc := newScanner("t.lp", "42 0 1_024 2.5 1e-3 .25", &errs)
	wantInts := []int64{42, 0, 1024}
	wantFloats := []float64{2.5, 1e-3, 0.25}
	for _, w := range wantInts {
		var v tokenValue
		if tok := sc.nextToken(&v); tok != INT || v.int != w {
			t.Errorf("got %s %q (%d), want int %d", tok, v.raw, v.int, w)
		}
	}
	for _, w := range wantFloats {
		var v tokenValue
		if tok := sc.nextToken(&v); tok != FLOAT || v.float != w {
			t.Errorf("got %s %q (%g), want float %g", tok, v.raw, v.float, w)
		}
	}
	if len(errs) > 0 {
		t.Fatal(errs)
	}
}

func TestScanPositions(t *testing.T) {
	var errs ErrorList
	sc := newScanner("p.lp", "def f(A: BigMatrix):\n    B[i] = g(A[i])\n", &errs)
	want := map[string]string{"def": "p.lp:1:1", "f": "p.lp:1:5", "BigMatrix": "p.lp:1:10", "B": "p.lp:2:5", "g": "p.lp:2:12"}
	for {
		var v tokenValue
		tok := sc.nextToken(&v)
		if tok == EOF {
			break
		}
		if w, ok := want[v.raw]; ok {
			if got := v.pos.String(); got != w {
				t.Errorf("%s at %s, want %s", v.raw, got, w)
			}
			delete(want, v.raw)
		}
	}
	if len(want) > 0 {
		t.Errorf("tokens not seen: %v", want)
	}
}

func TestScanErrors(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"def f(A: BigMatrix):\n\tx = 1\n", "t.lp:2:1: tab in indentation; indent with spaces"},
		{"a\n    b\n  c\n", "t.lp:3:3: unindent does not match any outer indentation level"},
		{"x = 'a'", "t.lp:1:5: strings are not part of LAmbdaPACK"},
		{"x = 1 $ 2", "t.lp:1:7: unexpected character '$'"},
		{"x = 012", "t.lp:1:5: leading zeros are not allowed in an integer literal: 012"},
		{"x = 99999999999999999999", "t.lp:1:5: integer literal 99999999999999999999 out of range"},
		{"x = 3abc", "t.lp:1:5: invalid number literal \"3abc\""},
		{"return x", "t.lp:1:1: \"return\" is not part of LAmbdaPACK"},
		{"x = (1 +\n", "t.lp:2:1: unexpected end of file inside brackets"},
		{"x = 1 \\ 2", "t.lp:1:7: unexpected backslash; a line continuation must end the line"},
	} {
		_, errs := scanAll(tc.src)
		if len(errs) == 0 || errs[0].Error() != tc.want {
			t.Errorf("scan %q: got errors %v, want %q", tc.src, errs, tc.want)
		}
	}
}

package lambdapack

import (
	"strings"
	"testing"
)

// evalSrc evaluates a constant scalar expression through the parser,
// checker and interpreter.
func evalSrc(t *testing.T, src string) (Value, error) {
	t.Helper()
	prog, err := Load("v.lp", "def f(A: BigMatrix, N: int):\n    x = "+src+"\n    A[0] = chol(A[1])\n")
	if err != nil {
		t.Fatalf("%s: %v", src, err)
	}
	assign := prog.File.Def.Body[0].(*AssignStmt)
	env := func(b *Binding) (Value, bool) {
		if b.Name == "N" {
			return Int(8), true
		}
		return Value{}, false
	}
	return prog.Eval(assign.Value, env)
}

// TestPythonSemantics compares with values printed by Python 3.
func TestPythonSemantics(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"7 // 2", "3"}, {"-7 // 2", "-4"}, {"7 // -2", "-4"}, {"-7 // -2", "3"},
		{"7 % 3", "1"}, {"-7 % 3", "2"}, {"7 % -3", "-2"}, {"-7 % -3", "-1"},
		{"7.5 // 2", "3.0"}, {"-7.5 // 2", "-4.0"}, {"7.5 % 2", "1.5"}, {"-7.5 % 2", "0.5"}, {"7.5 % -2", "-0.5"},
		{"2 ** 10", "1024"}, {"2 ** -1", "0.5"}, {"(-2) ** 3", "-8"}, {"2 ** 3 ** 2", "512"}, {"-2 ** 2", "-4"},
		{"7 / 2", "3.5"}, {"6 / 2", "3.0"},
		{"ceiling(log(8) / log(2))", "3"}, {"floor(log(1000) / log(10))", "3"}, {"ceiling(log(1000) / log(10))", "3"},
		{"ceiling(log2(N))", "3"}, {"ceiling(log2(9))", "4"}, {"floor(log2(9))", "3"}, {"ceiling(2.5)", "3"}, {"floor(-2.5)", "-3"},
		{"ceiling(7)", "7"}, {"log2(N)", "3.0"},
		{"min(1, 2.0)", "1"}, {"max(1, 1.0)", "1"}, {"max(2, 1.5)", "2"}, {"min(N, 3, 5)", "3"},
		{"1 < 2 and 2 < 3", "True"}, {"not N == 8", "False"}, {"N > 9 or N == 8", "True"},
		{"1 == 1.0", "True"}, {"N != 8", "False"}, {"3 >= 3.5", "False"},
		{"N > 0 and N // (N - 8) == 1", ""}, // error: and evaluates its right operand here
		{"N < 0 and N // (N - 8) == 1", "False"},
		{"N > 0 or N // (N - 8) == 1", "True"},
	} {
		v, err := evalSrc(t, tc.src)
		if tc.want == "" {
			if err == nil {
				t.Errorf("%s = %s, want an error", tc.src, v)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.src, err)
			continue
		}
		if got := v.String(); got != tc.want {
			t.Errorf("%s = %s, want %s", tc.src, got, tc.want)
		}
	}
}

func TestEvalErrors(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"N // (N - 8)", "v.lp:2:11: division by zero"},
		{"N % (N - 8)", "v.lp:2:11: division by zero"},
		{"N / (N - 8)", "v.lp:2:11: division by zero"},
		{"log(N - 8)", "v.lp:2:9: log of 0: the argument must be positive"},
		{"log2(-N)", "v.lp:2:9: log2 of -8: the argument must be positive"},
		{"2 ** (N * 100)", "v.lp:2:11: integer overflow"},
		{"N * 4611686018427387904", "v.lp:2:11: integer overflow"},
		{"(N - 8) ** -1", "v.lp:2:17: 0 cannot be raised to a negative power"},
	} {
		_, err := evalSrc(t, tc.src)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%s: got %v, want %s", tc.src, err, tc.want)
		}
	}
}

func TestEvalInt(t *testing.T) {
	_, err := Load("v.lp", "def f(A: BigMatrix, N: int):\n    A[N / 2] = chol(A[1])\n")
	if err == nil || !strings.Contains(err.Error(), "v.lp:2:7: index of A is a float expression") {
		t.Fatalf("static float index not reported: %v", err)
	}
	prog, err := Load("v.lp", "def f(A: BigMatrix, N: int):\n    A[2**(N-9)] = chol(A[1])\n")
	if err != nil {
		t.Fatal(err)
	}
	idx := prog.Calls[0].Stmt.Outputs[0].Indices[0]
	env := func(b *Binding) (Value, bool) { return Int(8), true }
	if _, err := prog.EvalInt(idx, env, "index of A"); err == nil || err.Error() != "v.lp:2:7: index of A is 0.5, not an integer" {
		t.Errorf("got %v", err)
	}
}

func TestPowInt(t *testing.T) {
	for _, tc := range []struct {
		a, b, want int64
		ok         bool
	}{
		{2, 62, 1 << 62, true}, {2, 63, 0, false}, {3, 39, 4052555153018976267, true}, {3, 40, 0, false},
		{-2, 63, -1 << 63, true}, {1, 1 << 40, 1, true}, {-1, 1<<40 + 1, -1, true}, {0, 0, 1, true}, {10, 18, 1e18, true},
	} {
		got, ok := PowInt(tc.a, tc.b)
		if ok != tc.ok || ok && got != tc.want {
			t.Errorf("PowInt(%d, %d) = %d, %v; want %d, %v", tc.a, tc.b, got, ok, tc.want, tc.ok)
		}
	}
}

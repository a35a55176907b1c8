package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// npw runs the command line in-process and returns its exit status and
// output streams.
func npw(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func writeProgram(t *testing.T, src string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "prog.lp")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCheckShipped(t *testing.T) {
	for _, args := range [][]string{
		{"check", "cholesky"},
		{"check", "cholesky.lp", "N=9"},
		{"check", "tsqr", "N=13"},
		{"check", "gemm", "M=2", "N=3", "K=5", "G=2"},
	} {
		code, out, errOut := npw(t, args...)
		if code != 0 || !strings.Contains(out, ": ok: ") || errOut != "" {
			t.Errorf("npw %v: exit %d\n%s%s", args, code, out, errOut)
		}
	}
}

func TestDagJSON(t *testing.T) {
	code, out, errOut := npw(t, "dag", "cholesky", "N=8", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var r map[string]any
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("not one JSON object: %v\n%s", err, out)
	}
	// Cholesky on an 8x8 tile grid: 8 chol, 28 trsm, 84 syrk; the edges
	// are those the brute-force oracle finds (checked in analysis).
	for key, want := range map[string]float64{
		"nodes": 120, "edges": 252, "starters": 1, "terminators": 1, "fallback_enumerations": 0, "critical_path": 22,
	} {
		if got, ok := r[key].(float64); !ok || got != want {
			t.Errorf("%s = %v, want %v", key, r[key], want)
		}
	}
	if ns, ok := r["solve_ns_per_node"].(float64); !ok || ns <= 0 {
		t.Errorf("solve_ns_per_node = %v", r["solve_ns_per_node"])
	}
}

func TestDagText(t *testing.T) {
	code, out, errOut := npw(t, "dag", "tsqr", "N=5", "--oracle")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"tsqr.lp N=5: 11 tasks, 10 edges", "starters               5", "critical path          4 tasks", "agrees"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestDagDot(t *testing.T) {
	path := filepath.Join(t.TempDir(), "g.dot")
	code, _, errOut := npw(t, "dag", "cholesky", "N=3", "--dot", path)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dot := string(data)
	for _, want := range []string{`digraph "cholesky"`, `"0:0" [label="chol(i=0)"]`, `"0:0" -> "1:0,1"`, `"2:0,1,1" -> "0:1"`} {
		if !strings.Contains(dot, want) {
			t.Errorf("dot output lacks %s:\n%s", want, dot)
		}
	}
	if got := strings.Count(dot, "->"); got != 12 { // counted by hand for N=3
		t.Errorf("%d edges in the dot file, want 12", got)
	}
}

var positioned = regexp.MustCompile(`^\S+\.lp:\d+:\d+: \S`)

// TestBadInput checks the contract for bad input: one clear line per
// error, positioned as file:line:col where there is a program position,
// a non-zero exit, and never a panic or stack trace.
func TestBadInput(t *testing.T) {
	for _, tc := range []struct {
		name   string
		src    string // program text; empty for a shipped program
		args   []string
		code   int
		stderr string // regexp every stderr line must match, in order
		// unpositioned: an error of the program's sizes, not of a place in it
		unpositioned bool
	}{
		{name: "syntax", src: "def f(A: BigMatrix, N: int):\n    for i in range(N)\n        A[i] = chol(A[i])\n",
			args: []string{"check"}, code: 1, stderr: `prog.lp:2:22: expected ":" after range\(\.\.\.\), found newline`},
		{name: "indent", src: "def f(A: BigMatrix, B: BigMatrix):\n    B[0] = chol(A[0])\n      B[1] = chol(A[1])\n",
			args: []string{"check"}, code: 1, stderr: `prog.lp:3:7: unexpected indent`},
		{name: "tab", src: "def f(A: BigMatrix, B: BigMatrix):\n\tB[0] = chol(A[0])\n",
			args: []string{"check"}, code: 1, stderr: `prog.lp:2:1: tab in indentation`},
		{name: "unknown kernel", src: "def f(A: BigMatrix, B: BigMatrix):\n    B[0] = cholesky(A[0])\n",
			args: []string{"check"}, code: 1, stderr: `prog.lp:2:12: unknown kernel cholesky`},
		{name: "arity", src: "def f(A: BigMatrix, B: BigMatrix):\n    B[0] = trsm(A[0])\n",
			args: []string{"check"}, code: 1, stderr: `prog.lp:2:16: trsm takes 2 tile inputs, got 1`},
		{name: "undefined", src: "def f(A: BigMatrix, B: BigMatrix):\n    B[0] = chol(A[k])\n",
			args: []string{"check"}, code: 1, stderr: `prog.lp:2:19: undefined name k`},
		{name: "float index", src: "def f(A: BigMatrix, B: BigMatrix, N: int):\n    for i in range(N):\n        B[i] = chol(A[i / 2])\n",
			args: []string{"check"}, code: 1, stderr: `prog.lp:3:23: index of A is a float expression`},
		{name: "several errors", src: "def f(A: BigMatrix, B: BigMatrix):\n    B[0] = chol(A[x])\n    B[1] = frob(A[1])\n",
			args: []string{"check"}, code: 1, stderr: `prog.lp:2:19: undefined name x\nprog.lp:3:12: unknown kernel frob`},
		{name: "write twice", src: "def f(A: BigMatrix, B: BigMatrix, N: int):\n    for i in range(N):\n        for j in range(N):\n            B[i] = add(A[i], A[j])\n",
			args: []string{"check", "N=3"}, code: 1, stderr: `prog.lp:4:13: tile B\[0\] is written twice: by add\(i=0, j=0\) \(at \S+prog.lp:4:13\) and by add\(i=0, j=1\)`},
		{name: "write twice in dag", src: "def f(A: BigMatrix, B: BigMatrix, C: BigMatrix, N: int):\n    for i in range(N):\n        for j in range(N):\n            B[i] = add(A[i], A[j])\n    C[0] = identity(B[0])\n",
			args: []string{"dag", "N=3"}, code: 1, stderr: `prog.lp:5:21: tile B\[0\] is written twice: by add\(i=0, j=0\) and by add\(i=0, j=1\) \(read by identity\(\)\)`},
		{name: "runtime float index", src: "def f(A: BigMatrix, B: BigMatrix, N: int):\n    for i in range(N):\n        B[i] = chol(A[2 ** (i - 2)])\n",
			args: []string{"check", "N=3"}, code: 1, stderr: `prog.lp:3:23: index 0 of A is 0.25, not an integer \(in chol\(i=0\)\)`},
		{name: "runtime division by zero", src: "def f(A: BigMatrix, B: BigMatrix, N: int):\n    for i in range(N):\n        B[i] = chol(A[i // (N - 4)])\n",
			args: []string{"dag", "N=4"}, code: 1, stderr: `prog.lp:3:25: division by zero`},
		{name: "zero step at run time", src: "def f(A: BigMatrix, B: BigMatrix, N: int):\n    for i in range(0, N, N - 2):\n        B[i] = chol(A[i])\n",
			args: []string{"check", "N=2"}, code: 1, stderr: `prog.lp:2:5: range step of loop i is zero`},
		{name: "block auto in run", args: []string{"run", "cholesky", "N=2", "--block", "auto"}, code: 2, stderr: `npw: --block auto needs a command that knows the algorithm`},
		{name: "bad block", args: []string{"cholesky", "--n", "8", "--block", "big"}, code: 2, stderr: `npw: invalid argument "big" for "--block" flag: want a tile size or auto, got "big"`},
		{name: "missing sizes", args: []string{"dag", "cholesky"}, code: 2, stderr: `npw: missing sizes: give the program's int parameters, e.g. N=8\nRun 'npw dag --help' for usage.`},
		{name: "missing parameter", args: []string{"dag", "gemm", "M=2", "N=2"}, code: 2, stderr: `npw: gemm.lp: missing value for parameter G \(give G=int\); missing value for parameter K \(give K=int\)\nRun 'npw dag --help' for usage.`},
		{name: "unknown parameter", args: []string{"dag", "cholesky", "N=2", "Q=3"}, code: 2, stderr: `npw: cholesky.lp: cholesky has no parameter Q \(parameters: O: BigMatrix, S: BigMatrix, N: int\)\n`},
		{name: "bad value", args: []string{"dag", "cholesky", "N=eight"}, code: 2, stderr: `npw: bad argument N=eight: "eight" is not a number\n`},
		{name: "float for int", args: []string{"dag", "cholesky", "N=2.5"}, code: 2, stderr: `npw: cholesky.lp: parameter N is an int, got 2.5\n`},
		{name: "no such program", args: []string{"dag", "nosuch", "N=2"}, code: 1, stderr: `npw: nosuch: no such file or shipped program \(shipped: .*cholesky.*tsqr.*\)`},
		{name: "unknown flag", args: []string{"dag", "cholesky", "N=2", "--jsn"}, code: 2, stderr: `npw: unknown flag: --jsn\nRun 'npw dag --help' for usage.`},
		{name: "unknown command", args: []string{"frobnicate"}, code: 2, stderr: `npw: unknown command "frobnicate" for "npw"\nRun 'npw help' for usage.`},
		{name: "check too big", args: []string{"check", "cholesky", "N=2000"}, code: 1, stderr: `^npw: cholesky N=2000 has 1.3e9 tasks \(limit 1e8, --max-tasks\)$`},
		{name: "check too big for memory", args: []string{"check", "cholesky", "N=2000", "--max-tasks", "1e10"}, code: 2, stderr: `invalid argument "1e10"`},
		{name: "dag too big", args: []string{"dag", "cholesky", "N=100000"}, code: 1, stderr: `^npw: cholesky N=100000 has about 1.7e14 tasks \(limit 1e8, --max-tasks\)$`},
		{name: "run too big", args: []string{"run", "cholesky", "N=1000000"}, code: 1, stderr: `^npw: cholesky N=1000000 has about 1.7e17 tasks \(limit 1e8, --max-tasks\)$`},
		{name: "no tasks", args: []string{"run", "cholesky", "N=-3"}, code: 1, stderr: `^npw: cholesky N=-3 has no tasks: its sizes leave every kernel call out \(are they positive\?\)$`},
		{name: "huge range", src: "def f(A: BigMatrix, B: BigMatrix, N: int):\n    for i in range(0, N * 10**12):\n        B[i] = chol(A[i])\n",
			args: []string{"check", "N=1"}, code: 1, stderr: `prog.lp:2:5: loop i runs from 0 to 999999999999, beyond the supported range of loop values`},
		{name: "huge nest", src: "def f(A: BigMatrix, B: BigMatrix, N: int):\n    for i in range(0, N):\n        for j in range(0, N):\n            if i == N:\n                B[i, j] = chol(A[i, j])\n",
			args: []string{"check", "N=100000"}, code: 1, unpositioned: true,
			stderr: `^npw: f N=100000 has about 0 tasks, but its loops run about 1e10 iterations to find them \(limit 1e9, --max-tasks\)$`},
		{name: "bad lambda memory", args: []string{"cholesky", "--n", "8", "--lambda-memory", "64"}, code: 2, stderr: `^npw: --lambda-memory 64: Lambda allows 128 to 10240 MB$`},
		{name: "missing price table", args: []string{"cholesky", "--n", "8", "--prices", "/nonexistent/p.json"}, code: 1, stderr: `^npw: --prices: open /nonexistent/p.json: no such file or directory$`},
		{name: "negative emulation", args: []string{"cholesky", "--n", "8", "--emulate-compute", "-1"}, code: 2, stderr: `^npw: --emulate-compute must be a positive GFLOP/s, got -1$`},
		{name: "emulation writes nothing", args: []string{"cholesky", "--n", "8", "--emulate-compute", "5", "-o", "l.npy"}, code: 2, stderr: `^npw: --emulate-compute computes no numbers: it cannot write -o$`},
		{name: "emulation verifies nothing", args: []string{"qr", "--m", "8", "--n", "8", "--emulate-compute", "5", "--verify"}, code: 2, stderr: `^npw: --emulate-compute computes no numbers: nothing to --verify or --compare$`},
		{name: "emulation and --out", args: []string{"run", "cholesky", "N=2", "--emulate-compute", "5", "--out", "O=o.npy"}, code: 2, stderr: `^npw: --emulate-compute computes no numbers: it cannot write --out$`},
		{name: "kill fraction", args: []string{"cholesky", "--n", "8", "--kill-fraction", "1.5"}, code: 2, stderr: `^npw: --kill-fraction must be in \(0, 1\], got 1.5$`},
		{name: "plot dir is a file", args: []string{"cholesky", "--n", "8", "--plot", "/dev/null"}, code: 1, stderr: `^npw: --plot /dev/null: not a directory$`},
		{name: "dashboard address", args: []string{"cholesky", "--n", "8", "--dashboard=localhost"}, code: 2, stderr: `^npw: --dashboard "localhost": want HOST:PORT, such as 127.0.0.1:8080$`},
		{name: "dashboard command address", args: []string{"dashboard", "--addr", "nowhere"}, code: 2, stderr: `^npw: --addr "nowhere": want HOST:PORT, such as 127.0.0.1:8080$`},
		{name: "kill at alone", args: []string{"cholesky", "--n", "8", "--kill-at", "2s"}, code: 2, stderr: `^npw: --kill-at needs --kill-fraction$`},
		{name: "kill lambda", args: []string{"cholesky", "--n", "8", "--kill-fraction", "0.5", "--launch", "lambda"}, code: 2, stderr: `^npw: --kill-fraction kills goroutine or process workers of a job this command runs: not with --launch lambda or --detach$`},
		{name: "too big for dot", args: []string{"dag", "cholesky", "N=100", "--dot", "/dev/null"}, code: 1, stderr: `npw: --dot: the DAG has 171700 tasks; only DAGs of up to 100000 tasks are drawn`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := tc.args
			if tc.src != "" {
				path := writeProgram(t, tc.src)
				args = append([]string{args[0], path}, args[1:]...)
			}
			code, _, errOut := npw(t, args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, tc.code, errOut)
			}
			if strings.Contains(errOut, "goroutine 1 [") || strings.Contains(errOut, "panic") {
				t.Fatalf("stack trace on stderr:\n%s", errOut)
			}
			lines := strings.Split(strings.TrimSuffix(errOut, "\n"), "\n")
			wantLines := strings.Split(strings.TrimSuffix(tc.stderr, `\n`), `\n`)
			if len(lines) < len(wantLines) {
				t.Fatalf("stderr has %d lines, want %d:\n%s", len(lines), len(wantLines), errOut)
			}
			for i, w := range wantLines {
				if !regexp.MustCompile(w).MatchString(lines[i]) {
					t.Errorf("stderr line %d = %q, want match for %q", i+1, lines[i], w)
				}
				if tc.src != "" && !tc.unpositioned && !positioned.MatchString(lines[i]) {
					t.Errorf("stderr line %d has no file:line:col: %q", i+1, lines[i])
				}
			}
		})
	}
}

func TestPrograms(t *testing.T) {
	code, out, _ := npw(t, "programs")
	if code != 0 || !strings.Contains(out, "def cholesky(O: BigMatrix, S: BigMatrix, N: int)") {
		t.Errorf("exit %d:\n%s", code, out)
	}
	code, out, _ = npw(t, "programs", "tsqr")
	if code != 0 || !strings.Contains(out, "qr_factor(R[i, level], R[i + 2**level, level])") {
		t.Errorf("exit %d:\n%s", code, out)
	}
}

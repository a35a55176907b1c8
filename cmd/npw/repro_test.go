package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"gonum.org/v1/gonum/blas/blas64"

	"github.com/npw-dev/npw/internal/machine"
)

// hostileNPY writes a .npy of version 1.0 whose header claims shape and
// descr, followed by data bytes (too few for any such shape).
func hostileNPY(t *testing.T, dir, name, descr, shape string, data int) string {
	t.Helper()
	h := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr, shape)
	h += strings.Repeat(" ", (64-(10+len(h)+1)%64)%64) + "\n"
	b := append([]byte("\x93NUMPY\x01\x00"), byte(len(h)), byte(len(h)>>8))
	b = append(append(b, h...), make([]byte, data)...)
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

var startedLine = regexp.MustCompile(`^npw: job [0-9a-f]{12} started: `)

// Each reproduction of the probe that found npw's open edges, as it was
// typed: every one now ends within seconds in one line (no trace) and a
// non-zero exit. Before the fixes they spun forever, panicked, died out
// of memory, or exited 0 with NaN.
func TestProbeReproductions(t *testing.T) {
	defer machine.SetForTest(24<<30, 100<<30)() // the probe's machine, whatever this one is
	dir := t.TempDir()
	huge := hostileNPY(t, dir, "o.npy", "<f8", "(4294967296, 4294967296)", 64)
	if st, _ := os.Stat(huge); st.Size() != 192 {
		t.Fatalf("the hostile file is %d bytes, want the probe's 192", st.Size())
	}
	f4 := hostileNPY(t, dir, "f4.npy", "<f4", "(2147483648, 2147483648)", 64)
	wide := hostileNPY(t, dir, "w.npy", "<f8", "(4294967296, 1073741824)", 64)
	tall := hostileNPY(t, dir, "t.npy", "<f8", "(4611686018427387904, 4)", 64)
	rng := rand.New(rand.NewPCG(70, 70))
	a := randomSPD(rng, 24)
	a.Data[7*a.Stride+3] = math.NaN()
	nan := writeNPY(t, dir, "nan.npy", a)
	b := randomSPD(rng, 24)
	b.Data[5*b.Stride+2] = math.Inf(1)
	inf := writeNPY(t, dir, "inf.npy", b)
	ok := writeNPY(t, dir, "ok.npy", randomSPD(rng, 24))
	rhs := writeNPY(t, dir, "b.npy", blas64.General{Rows: 24, Cols: 1, Stride: 1, Data: make([]float64, 24)})
	far := writeProgram(t, "def f(A: BigMatrix, O: BigMatrix):\n    O[2**31-1, 2**31-1] = chol(A[0, 0])\n")
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string // regexp of the one line on stderr
	}{
		{"192-byte file, cholesky", []string{"cholesky", huge, "--block", "4096"}, 1, `o.npy: not a .npy array: data is truncated: shape \(4294967296, 4294967296\) needs over`},
		{"2**31 squared as <f4, gemm", []string{"gemm", f4, f4}, 1, `f4.npy`},
		{"2**32 × 2**30, gemm", []string{"gemm", wide, wide}, 1, `w.npy`},
		{"2**62 × 4", []string{"qr", tall}, 1, `t.npy`},
		{"--n 10000000", []string{"cholesky", "--n", "10000000"}, 1, `needs about .* TiB in the store`},
		{"--n 100000", []string{"cholesky", "--n", "100000"}, 1, `needs about 75 GiB in the store .*this machine has`},
		{"tsqr --m 1e11", []string{"tsqr", "--m", "100000000000", "--n", "4"}, 1, `needs about 2.9 TiB in the store`},
		{"svd of NaN", []string{"svd", nan}, 1, `nan.npy: NaN at \[7, 3\]`},
		{"lu of NaN", []string{"lu", nan}, 1, `nan.npy: NaN at \[7, 3\]`},
		{"qr of Inf", []string{"qr", inf}, 1, `inf.npy: \+Inf at \[5, 2\]`},
		{"gemm of NaN", []string{"gemm", nan, ok}, 1, `nan.npy: NaN at \[7, 3\]`},
		{"solve of NaN", []string{"solve", nan, rhs}, 1, `nan.npy: NaN at \[7, 3\]`},
		{"cholesky of NaN", []string{"cholesky", nan}, 1, `nan.npy: NaN at \[7, 3\]`},
		{"cholesky of NaN let through", []string{"cholesky", nan, "--block", "8", "--allow-nonfinite"}, 1, `kernel chol: its input tile S\[0,0,0\] holds NaN at \(7, 3\)`},
		{"--verify of NaN", []string{"gemm", nan, ok, "--block", "8", "--allow-nonfinite", "--verify"}, 1, `^npw: --verify: the residual .* is NaN, past its bound`},
		{"run N=-3", []string{"run", "cholesky", "N=-3"}, 1, `has no tasks`},
		{"--sf NaN", []string{"cholesky", "--n", "64", "--sf", "NaN"}, 2, `--sf`},
		{"--sf Inf", []string{"cholesky", "--n", "64", "--sf", "Inf"}, 2, `--sf`},
		{"O[2**31-1, 2**31-1]", []string{"run", far, "--in", "A=" + ok, "--out", "O=" + filepath.Join(dir, "o-out.npy")}, 1, `^npw: --out O: \S+o-out.npy: cannot write a 2199023254552×2199023254552 array$`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			code, _, stderr := npw(t, tc.args...)
			took := time.Since(start)
			var lines []string
			for _, l := range strings.Split(strings.TrimSuffix(stderr, "\n"), "\n") {
				if !startedLine.MatchString(l) { // the job's id, for status and cancel
					lines = append(lines, l)
				}
			}
			if tc.code == 2 && len(lines) == 2 && strings.HasPrefix(lines[1], "Run 'npw ") {
				lines = lines[:1] // a usage error names its help
			}
			if code != tc.code || len(lines) != 1 || !regexp.MustCompile(tc.want).MatchString(lines[0]) {
				t.Fatalf("exit %d, stderr:\n%s\nwant exit %d and one line matching %q", code, stderr, tc.code, tc.want)
			}
			if took > 30*time.Second {
				t.Errorf("took %v", took)
			}
			t.Logf("%v: %s", took.Round(time.Millisecond), lines[0])
		})
	}
}

package main

import (
	"encoding/csv"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"gonum.org/v1/gonum/blas/blas64"

	"github.com/npw-dev/npw/blockstore"
)

func writeNPY(t *testing.T, dir, name string, g blas64.General) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := blockstore.WriteMatrixFile(path, g); err != nil {
		t.Fatal(err)
	}
	return path
}

func readNPY(t *testing.T, path string) blas64.General {
	t.Helper()
	a, err := blockstore.ReadNPYFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return a.Matrix()
}

// TestRunFigure4 runs the paper's Figure 4 program verbatim on a .npy file.
func TestRunFigure4(t *testing.T) {
	dir := t.TempDir()
	a := randomSPD(rand.New(rand.NewPCG(1, 1)), 23)
	in := writeNPY(t, dir, "a.npy", a)
	out := filepath.Join(dir, "l.npy")
	code, stdout, stderr := npw(t, "run", "cholesky", "N=3", "--in", "S="+in, "--out", "O="+out, "--block", "8", "--workers", "2")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"cholesky.lp N=3, block 8: done in", "tasks            10: chol 3, trsm 3, syrk 4", "GFLOP/s", "worker-seconds", "scratch memory   peak", "O → " + out + " (23×23)"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, stdout)
		}
	}
	if r := choleskyResidual(a, readNPY(t, out)); r.value > 30 || r.estimated {
		t.Errorf("residual %+v", r)
	}
}

// TestRunSelectors writes one tile and a slice of a three-index matrix.
func TestRunSelectors(t *testing.T) {
	dir := t.TempDir()
	a := randomSPD(rand.New(rand.NewPCG(2, 2)), 16)
	in := writeNPY(t, dir, "a.npy", a)
	one, grid := filepath.Join(dir, "o11.npy"), filepath.Join(dir, "s1.npy")
	code, _, stderr := npw(t, "run", "cholesky", "N=2", "--in", "S="+in, "--block", "8",
		"--out", "O[1,1]="+one, "--out", "S[1]="+grid)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if g := readNPY(t, one); g.Rows != 8 || g.Cols != 8 {
		t.Errorf("O[1,1] is %d×%d", g.Rows, g.Cols)
	}
	// S[1,·,·] holds only the updated trailing tile S[1,1,1]; the rest of
	// the 2×2 grid was never written and assembles as zeros.
	g := readNPY(t, grid)
	if g.Rows != 16 || g.Cols != 16 || g.Data[0] != 0 || g.Data[15*16+15] == 0 {
		t.Errorf("S[1] is %d×%d, corner %v and %v", g.Rows, g.Cols, g.Data[0], g.Data[len(g.Data)-1])
	}
}

func TestShortcuts(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"cholesky", "--n", "50", "--block", "16", "--verify", "--compare"},
			[]string{"cholesky 50×50, block 16: done", "residual         ‖A − LLᵀ‖/(‖A‖·n·ε) =", "(ok; exact, bound 30)", "npw/reference ="}},
		{[]string{"gemm", "--m", "30", "--k", "17", "--n", "9", "--block", "8", "--verify", "-o", filepath.Join(dir, "c.npy")},
			[]string{"gemm 30×17 · 17×9, block 8: done", "C → " + filepath.Join(dir, "c.npy") + " (30×9)", "(ok; exact"}},
		{[]string{"cholesky", "--n", "600", "--block", "auto", "--verify"},
			[]string{"cholesky 600×600, block 256: done", "(ok; exact, bound 30)"}},
		{[]string{"lu", "--n", "300", "--block", "auto", "--verify"},
			[]string{"lu 300×300, block 256", "(ok; exact"}},
		{[]string{"tsqr", "--m", "100", "--n", "6", "--block", "16", "--verify"},
			[]string{"tsqr 100×6, row blocks of 16: done", "qr_factor", "‖RᵀR − AᵀA‖", "(ok; exact"}},
	} {
		code, stdout, stderr := npw(t, tc.args...)
		if code != 0 {
			t.Errorf("npw %v: exit %d: %s", tc.args, code, stderr)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(stdout, w) {
				t.Errorf("npw %v: output lacks %q:\n%s", tc.args, w, stdout)
			}
		}
	}
	// Inputs from files: the product of two saved matrices.
	rng := rand.New(rand.NewPCG(3, 3))
	a, b := writeNPY(t, dir, "a.npy", randomGaussian(rng, 12, 7)), writeNPY(t, dir, "b.npy", randomGaussian(rng, 7, 5))
	if code, stdout, stderr := npw(t, "gemm", a, b, "--block", "4", "--verify"); code != 0 || !strings.Contains(stdout, "(ok; exact") {
		t.Errorf("gemm on files: exit %d\n%s%s", code, stdout, stderr)
	}
}

func TestRunErrors(t *testing.T) {
	dir := t.TempDir()
	spd := writeNPY(t, dir, "spd.npy", randomSPD(rand.New(rand.NewPCG(4, 4)), 16))
	bad := randomSPD(rand.New(rand.NewPCG(4, 4)), 16)
	bad.Data[12*16+12] = -100
	notSPD := writeNPY(t, dir, "bad.npy", bad)
	a34 := writeNPY(t, dir, "a34.npy", randomGaussian(rand.New(rand.NewPCG(5, 5)), 3, 4))
	b52 := writeNPY(t, dir, "b52.npy", randomGaussian(rand.New(rand.NewPCG(5, 6)), 5, 2))
	garbage := filepath.Join(dir, "garbage.npy")
	os.WriteFile(garbage, []byte("not numpy"), 0o644)
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string // regexp for the first stderr line
	}{
		{"not SPD", []string{"run", "cholesky", "N=2", "--in", "S=" + notSPD, "--out", "O=" + filepath.Join(dir, "l.npy"), "--block", "8"}, 1,
			`^npw: job \w+ failed: task chol\(i=1\) \(cholesky.lp:\d+:\d+\) failed: kernel chol on tile S\[1,1,1\] \(8×8\): the tile is not positive definite$`},
		{"wrong shapes", []string{"run", "gemm", "M=1", "N=1", "K=1", "G=1", "--in", "A=" + a34, "--in", "B=" + b52, "--out", "C=/dev/null", "--block", "8"}, 1,
			`kernel gemm on tile A\[0,0\] \(3×4\), tile B\[0,0\] \(5×2\): gemm: A B needs A's columns to match B's rows`},
		{"missing input tiles", []string{"run", "cholesky", "N=3", "--in", "S=" + spd, "--out", "O=/dev/null", "--block", "8"}, 1,
			`reads input tile S\[0,2,\d\], which does not exist`},
		{"unknown output", []string{"run", "cholesky", "N=2", "--in", "S=" + spd, "--out", "L=/dev/null", "--block", "8"}, 1,
			`^npw: unknown output L: cholesky has no matrix of that name \(written matrices: O, S\)$`},
		{"unbound input", []string{"run", "gemm", "M=1", "N=1", "K=1", "G=1", "--in", "A=" + a34, "--out", "C=/dev/null"}, 1,
			`^npw: matrix B is an input of gemm: bind it to data \(--in B=FILE.npy\)$`},
		{"missing file", []string{"run", "cholesky", "N=2", "--in", "S=" + filepath.Join(dir, "nope.npy")}, 1, `no such file or directory`},
		{"not npy", []string{"run", "cholesky", "N=2", "--in", "S=" + garbage}, 1, `garbage.npy: not a .npy array: missing the \\x93NUMPY magic`},
		{"bad --in", []string{"run", "cholesky", "N=2", "--in", "S"}, 2, `^npw: bad --in "S": want NAME=FILE.npy$`},
		{"bad --out", []string{"run", "cholesky", "N=2", "--in", "S=" + spd, "--out", "O[x]=f.npy"}, 2, `^npw: bad --out "O\[x\]=f.npy": indices must be integers$`},
		{"bad selector", []string{"run", "cholesky", "N=2", "--in", "S=" + spd, "--out", "S[1,1,1,1]=f.npy"}, 2, `S has 3 indices; give 1 to 3 of them`},
		{"bad store URL", []string{"run", "cholesky", "N=2", "--in", "S=" + spd, "--store", "s4://x"}, 1, `unknown scheme "s4" \(supported: file://, mem://, s3://\)`},
		{"bad queue URL", []string{"run", "cholesky", "N=2", "--in", "S=" + spd, "--queue", "sqs2://x"}, 1, `queue URL "sqs2://x": unknown scheme "sqs2"`},
		{"bad state URL", []string{"run", "cholesky", "N=2", "--in", "S=" + spd, "--state", "nope"}, 1, `state store URL "nope"`},
		{"bad block", []string{"run", "cholesky", "N=2", "--in", "S=" + spd, "--block", "0"}, 2, `^npw: --block must be positive, got 0$`},
		{"no size", []string{"cholesky"}, 2, `^npw: give A.npy or a size: --n N$`},
		{"not square", []string{"cholesky", a34}, 1, `^npw: cholesky needs a square matrix, got 3×4$`},
		{"gemm mismatch", []string{"gemm", a34, b52}, 1, `A is 3×4 and B is 5×2; A's columns must match B's rows`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := npw(t, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, tc.code, stderr)
			}
			first := errorLine(stderr)
			if !regexp.MustCompile(tc.want).MatchString(first) {
				t.Errorf("stderr %q does not match %q", first, tc.want)
			}
			if strings.Contains(stderr, "goroutine ") {
				t.Errorf("stack trace:\n%s", stderr)
			}
		})
	}
}

// --timeline and --trace write CSV files on one clock: the trace has a
// row per task, each passing its phases in order; a command that runs
// several jobs (qr --q: the factorisation, then Q) traces them all.
func TestTimelineAndTrace(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		jobs int
	}{
		{[]string{"cholesky", "--n", "40", "--block", "10"}, 1},
		{[]string{"qr", "--m", "40", "--n", "20", "--block", "10", "--q", filepath.Join(dir, "q.npy")}, 3}, // the factorisation, the identity Q is formed from (generated on the workers), forming Q
		{[]string{"bench", "gemm", "--n", "40", "--block", "20", "--no-reference", "--peak-n", "0"}, 1},
	} {
		timeline, trace := filepath.Join(dir, "timeline.csv"), filepath.Join(dir, "trace.csv")
		code, stdout, stderr := npw(t, append(tc.args, "--timeline", timeline, "--trace", trace)...)
		if code != 0 {
			t.Fatalf("npw %v: exit %d: %s", tc.args, code, stderr)
		}
		if !strings.Contains(stdout, "trace → "+trace) || !strings.Contains(stdout, "timeline → "+timeline) {
			t.Errorf("npw %v does not name its files:\n%s", tc.args, stdout)
		}
		tl, err := os.ReadFile(timeline)
		if err != nil {
			t.Fatal(err)
		}
		if lines := strings.Split(strings.TrimSpace(string(tl)), "\n"); lines[0] != "seconds,pending,in_flight,running,launched" || len(lines) < 2 {
			t.Errorf("npw %v: timeline %q", tc.args, tl)
		}
		f, err := os.Open(trace)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := csv.NewReader(f).ReadAll()
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) < 2 || strings.Join(rows[0], ",") != "job,task,worker,leased,read,computed,written,done" {
			t.Fatalf("npw %v: trace header %v", tc.args, rows[0])
		}
		jobs := map[string]bool{}
		for _, r := range rows[1:] {
			jobs[r[0]] = true
			prev := -1.0
			for _, v := range r[3:] {
				x, err := strconv.ParseFloat(v, 64)
				if err != nil || x < prev || x < 0 {
					t.Fatalf("npw %v: trace row %v out of order", tc.args, r)
				}
				prev = x
			}
		}
		if len(jobs) != tc.jobs {
			t.Errorf("npw %v: trace of %d jobs, want %d", tc.args, len(jobs), tc.jobs)
		}
	}
}

// npw run takes float scalars, and a command leaves nothing in the store:
// neither its uploads nor its jobs' outputs.
func TestRunFloatScalarLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	prog := writeProgram(t, "def scaled(A: BigMatrix, B: BigMatrix, N: int, alpha: float):\n"+
		"    for i in range(N):\n        for j in range(N):\n            B[i, j] = scale(A[i, j], alpha)\n")
	a := randomGaussian(rand.New(rand.NewPCG(6, 6)), 10, 10)
	in, out := writeNPY(t, dir, "a.npy", a), filepath.Join(dir, "b.npy")
	storeDir := t.TempDir()
	store := "file://" + storeDir
	code, stdout, stderr := npw(t, "run", prog, "N=3", "alpha=-0.5", "--in", "A="+in, "--out", "B="+out, "--block", "4", "--store", store)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "prog.lp N=3 alpha=-0.5, block 4: done") || !strings.Contains(stdout, "B → "+out+" (10×10)") {
		t.Errorf("summary:\n%s", stdout)
	}
	b := readNPY(t, out)
	for i, x := range a.Data {
		if b.Data[i] != -0.5*x {
			t.Fatalf("B[%d] = %v, want %v", i, b.Data[i], -0.5*x)
		}
	}
	for _, args := range [][]string{nil, {"cholesky", "--n", "20", "--block", "8", "-o", filepath.Join(dir, "l.npy")}, {"qr", "--m", "20", "--n", "12", "--block", "8", "--verify"}} {
		if args != nil {
			if code, _, stderr := npw(t, append(args, "--store", store)...); code != 0 {
				t.Fatalf("npw %v: exit %d: %s", args, code, stderr)
			}
		}
		var left []string
		filepath.WalkDir(storeDir, func(path string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				left = append(left, path)
			}
			return nil
		})
		if len(left) != 0 {
			t.Errorf("npw %v left %d files in the store: %v", args, len(left), left)
		}
	}
}

// announceRE matches the line a job prints as it starts.
var announceRE = regexp.MustCompile(`^npw: job [0-9a-f]{12} started: `)

// errorLine returns the first line of stderr that is not a job's
// announcement: a failed command's error.
func errorLine(stderr string) string {
	for _, l := range strings.Split(stderr, "\n") {
		if !announceRE.MatchString(l) {
			return l
		}
	}
	return ""
}

// onlyAnnouncements says whether stderr holds nothing but jobs'
// announcements.
func onlyAnnouncements(stderr string) bool { return errorLine(stderr) == "" }

// TestRunPaperFigures runs the paper's Figures 4 and 5 as printed
// (testdata/figure4.lp and figure5.lp: the line numbers out and the
// colons the listings lack put back) on .npy files, ragged tiles and one
// tile, and verifies the results; Figure 5's log2(N) bound must be an
// exact integer.
func TestRunPaperFigures(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(4, 4))
	for _, n := range []int{23, 8} { // ragged 8-tiles; one tile
		a := randomSPD(rng, n)
		in, out := writeNPY(t, dir, "spd.npy", a), filepath.Join(dir, "l.npy")
		tiles := (n + 7) / 8
		code, _, stderr := npw(t, "run", filepath.Join("testdata", "figure4.lp"), "N="+strconv.Itoa(tiles), "--in", "S="+in, "--out", "O="+out, "--block", "8", "--workers", "2")
		if code != 0 {
			t.Fatalf("figure 4, n=%d: exit %d: %s", n, code, stderr)
		}
		if r := choleskyResidual(a, readNPY(t, out)); r.value > 30 || r.estimated {
			t.Errorf("figure 4, n=%d: ‖A − LLᵀ‖ scaled residual %+v", n, r)
		}
	}
	for _, tc := range []struct{ rows, tiles int }{{120, 8}, {60, 4}, {10, 1}} { // 8 row blocks of 16, the last of 8
		a := randomGaussian(rng, tc.rows, 6)
		in, out := writeNPY(t, dir, "tall.npy", a), filepath.Join(dir, "r.npy")
		level := 0
		for 1<<level < tc.tiles {
			level++
		}
		code, stdout, stderr := npw(t, "run", filepath.Join("testdata", "figure5.lp"), "N="+strconv.Itoa(tc.tiles), "--in", "A="+in,
			"--out", "R[0,"+strconv.Itoa(level)+"]="+out, "--block", "16", "--workers", "2")
		if code != 0 {
			t.Fatalf("figure 5, %d rows: exit %d: %s", tc.rows, code, stderr)
		}
		if !strings.Contains(stdout, "qr_factor "+strconv.Itoa(2*tc.tiles-1)) {
			t.Errorf("figure 5, %d rows: want %d qr_factor tasks:\n%s", tc.rows, 2*tc.tiles-1, stdout)
		}
		if r := tsqrResidual(a, readNPY(t, out)); r.value > 30 {
			t.Errorf("figure 5, %d rows: ‖RᵀR − AᵀA‖ scaled residual %+v", tc.rows, r)
		}
	}
	// N = 6 is not a power of two: log2(6) is no loop bound, and the job
	// says so before it starts.
	a := writeNPY(t, dir, "tall6.npy", randomGaussian(rng, 96, 6))
	code, _, stderr := npw(t, "run", filepath.Join("testdata", "figure5.lp"), "N=6", "--in", "A="+a, "--out", "R[0,3]="+filepath.Join(dir, "r6.npy"), "--block", "16")
	if code == 0 || !regexp.MustCompile(`figure5\.lp:\d+:\d+: range stop of loop level is 2\.58496\d*, not an integer`).MatchString(stderr) {
		t.Errorf("N=6: exit %d, stderr %q", code, stderr)
	}
}

// TestRunPotri inverts SPD matrices with the shipped potri program:
// ragged tiles, one tile, and a matrix that is not positive definite.
func TestRunPotri(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(5, 5))
	for _, n := range []int{29, 32, 6} { // ragged 8-tiles, whole ones, one tile
		a := randomSPD(rng, n)
		in, out := writeNPY(t, dir, "spd.npy", a), filepath.Join(dir, "x.npy")
		tiles := (n + 7) / 8
		code, stdout, stderr := npw(t, "run", "potri", "N="+strconv.Itoa(tiles), "--in", "S="+in, "--out", "X="+out, "--block", "8", "--workers", "2")
		if code != 0 {
			t.Fatalf("n=%d: exit %d: %s", n, code, stderr)
		}
		x := readNPY(t, out)
		if r := inverseResidual(a, x); r.value > 30 || r.estimated {
			t.Errorf("n=%d: ‖AX − I‖ scaled residual %+v\n%s", n, r, stdout)
		}
		for i := range n { // both triangles written: X is symmetric
			for j := range i {
				if x.Data[i*x.Stride+j] != x.Data[j*x.Stride+i] {
					t.Fatalf("n=%d: X(%d,%d) = %g, X(%d,%d) = %g", n, i, j, x.Data[i*x.Stride+j], j, i, x.Data[j*x.Stride+i])
				}
			}
		}
	}
	notSPD := randomGaussian(rng, 16, 16)
	in := writeNPY(t, dir, "gauss.npy", notSPD)
	code, _, stderr := npw(t, "run", "potri", "N=2", "--in", "S="+in, "--out", "X="+filepath.Join(dir, "bad.npy"), "--block", "8")
	if code == 0 || !strings.Contains(stderr, "not positive definite") {
		t.Errorf("a Gaussian matrix: exit %d, stderr %q", code, stderr)
	}
}

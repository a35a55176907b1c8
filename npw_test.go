package npw

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"gonum.org/v1/gonum/mat"

	"github.com/npw-dev/npw/blockstore"
	"github.com/npw-dev/npw/executor"
	"github.com/npw-dev/npw/job"
	lp "github.com/npw-dev/npw/lambdapack"
)

func randDense(rng *rand.Rand, r, c int) *mat.Dense {
	d := mat.NewDense(r, c, nil)
	for i := range r {
		for j := range c {
			d.Set(i, j, rng.NormFloat64())
		}
	}
	return d
}

const eps = 0x1p-52

// TestChainedJobs feeds one job's output to the next: C = A B, then the R
// of C's TSQR (re-tiled from B×B tiles into row blocks), and L of A Aᵀ + nI
// multiplied back with GEMM (read in place).
func TestChainedJobs(t *testing.T) {
	ctx := context.Background()
	eng, err := Open(ctx, Options{Store: "mem://api-test", Queue: "mem://api-test", State: "mem://api-test", Workers: 3})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	a, b := randDense(rng, 37, 20), randDense(rng, 20, 9)
	A, _ := eng.Upload(ctx, "A", a, 8)
	B, _ := eng.Upload(ctx, "B", b, 8)
	C, err := eng.GEMM(ctx, A, B)
	if err != nil {
		t.Fatal(err)
	}
	R, err := eng.TSQR(ctx, C)
	if err != nil {
		t.Fatal(err)
	}
	var ab, rtr, ctc, diff mat.Dense
	ab.Mul(a, b)
	c, _ := C.Dense(ctx)
	diff.Sub(c, &ab)
	if r := mat.Norm(&diff, 2) / (mat.Norm(a, 2) * mat.Norm(b, 2) * 20 * eps); r > 30 {
		t.Errorf("‖C − AB‖ scaled residual %.3g", r)
	}
	r, err := R.Dense(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rtr.Mul(r.T(), r)
	ctc.Mul(c.T(), c)
	diff.Reset()
	diff.Sub(&rtr, &ctc)
	if res := mat.Norm(&diff, 2) / (mat.Norm(c, 2) * mat.Norm(c, 2) * 37 * eps); res > 30 {
		t.Errorf("‖RᵀR − CᵀC‖ scaled residual %.3g", res)
	}
	// SPD = X Xᵀ + n I; its Cholesky factor times its transpose gives it back.
	x := randDense(rng, 30, 30)
	var spd mat.Dense
	spd.Mul(x, x.T())
	for i := range 30 {
		spd.Set(i, i, spd.At(i, i)+30)
	}
	S, _ := eng.Upload(ctx, "S", &spd, 8)
	L, err := eng.Cholesky(ctx, S)
	if err != nil {
		t.Fatal(err)
	}
	l, _ := L.Dense(ctx)
	LT, _ := eng.Upload(ctx, "LT", mat.DenseCopyOf(l.T()), 8)
	LLT, err := eng.GEMM(ctx, L, LT)
	if err != nil {
		t.Fatal(err)
	}
	llt, _ := LLT.Dense(ctx)
	diff.Reset()
	diff.Sub(&spd, llt)
	if res := mat.Norm(&diff, 2) / (mat.Norm(&spd, 2) * 30 * eps); res > 30 {
		t.Errorf("‖A − GEMM(L, Lᵀ)‖ scaled residual %.3g", res)
	}
	for _, m := range []*Matrix{A, B, C, R, S, L, LT, LLT} {
		if err := m.Release(ctx); err != nil {
			t.Fatal(err)
		}
	}
	keys, _ := eng.Tiles().List(ctx, "")
	if len(keys) != 0 {
		t.Errorf("tiles left after releasing every matrix: %v", keys)
	}
}

func TestAPIErrors(t *testing.T) {
	ctx := context.Background()
	eng, err := Open(ctx, Options{Store: "mem://api-err"})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	A, _ := eng.Upload(ctx, "A", randDense(rng, 6, 4), 4)
	B, _ := eng.Upload(ctx, "B", randDense(rng, 5, 4), 4)
	B2, _ := eng.Upload(ctx, "B2", randDense(rng, 4, 4), 2)
	for _, tc := range []struct {
		err  error
		want string
	}{
		{second(eng.Cholesky(ctx, A)), "cholesky: the matrix must be square, got 6×4"},
		{second(eng.GEMM(ctx, A, B)), "gemm: A is 6×4 and B is 5×4; A's columns must match B's rows"},
		{second(eng.GEMM(ctx, A, B2)), "gemm: A has block 4 and B block 2"},
		{second(Open(ctx, Options{Store: "s3x://b"})), `unknown scheme "s3x"`},
		{second(Open(ctx, Options{State: "mem://a/b"})), "mem:// or mem://name"},
	} {
		if tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) {
			t.Errorf("got %v, want %q", tc.err, tc.want)
		}
	}
	// A 1-D array is one column.
	if col, err := eng.UploadNPY(ctx, "X", "blockstore/testdata/i4_1d.npy", 4); err != nil || col.Cols != 1 {
		t.Errorf("1-D upload: %v", err)
	}
	if _, err := blockstore.ReadNPYFile("no/such.npy"); err == nil {
		t.Error("reading a missing file succeeded")
	}
}

func second[T any](_ T, err error) error { return err }

// GemmChain picks the longest chains that leave two tiles of C per worker.
func TestGemmChain(t *testing.T) {
	for _, tc := range []struct{ m, n, k, workers, want int }{
		{4, 4, 4, 2, 4},     // 16 tiles of C for 2 workers: one chain each
		{1, 1, 16, 8, 1},    // one tile of C: the pure tree
		{1, 1, 16, 2, 4},    // 4 chains of 4
		{2, 2, 10, 4, 5},    // 2 chains per tile: 8 tasks at once
		{3, 3, 7, 100, 1},   // more workers than products
		{1, 1, 1, 4, 1},     // one tile
		{64, 64, 64, 8, 64}, // plenty of tiles of C
	} {
		if got := GemmChain(tc.m, tc.n, tc.k, tc.workers); got != tc.want {
			t.Errorf("GemmChain(%d, %d, %d, %d) = %d, want %d", tc.m, tc.n, tc.k, tc.workers, got, tc.want)
		}
	}
}

func TestAutoBlock(t *testing.T) {
	for _, tc := range []struct {
		alg           string
		rows, cols, w int
		want          int
	}{
		{"cholesky", 8192, 8192, 2, 704}, // 12 tiles
		{"cholesky", 16384, 16384, 2, 1408},
		{"cholesky", 4096, 4096, 2, 384},
		{"cholesky", 100, 100, 2, 100},   // one tile
		{"cholesky", 1000, 1000, 2, 256}, // not below 256
		{"cholesky", 262144, 262144, 2, 4096},
		{"cholesky", 65536, 65536, 300, 1152}, // 60 tiles for 300 workers
		{"lu", 8192, 8192, 2, 1024},
		{"gemm", 8192, 8192, 2, 4096},
		{"gemm", 4096, 4096, 2, 2048},
		{"gemm", 8192, 8192, 32, 1024}, // 8 tiles a side for 32 workers
		{"qr", 8192, 4096, 2, 512},     // 16 tiles: narrow panels
		{"qr", 4096, 4096, 2, 256},
		{"tsqr", 100000, 64, 2, 4096}, // capped
	} {
		got := AutoBlock(tc.alg, tc.rows, tc.cols, tc.w, false)
		if got != tc.want {
			t.Errorf("AutoBlock(%s, %d, %d, %d) = %d, want %d", tc.alg, tc.rows, tc.cols, tc.w, got, tc.want)
		}
	}
	// Shared services: tiles of at least 1024 (unless the matrix is
	// smaller), half the tiles' parallelism of memory services.
	for _, tc := range []struct{ n, w, want int }{{4096, 2, 1024}, {8192, 2, 2048}, {16384, 2, 4096}, {700, 2, 700}, {65536, 300, 1536}} {
		if got := AutoBlock("cholesky", tc.n, tc.n, tc.w, true); got != tc.want {
			t.Errorf("AutoBlock(cholesky, %d, %d workers, remote) = %d, want %d", tc.n, tc.w, got, tc.want)
		}
	}
	for _, tc := range []struct{ n, w, want int }{{4096, 2, 2048}, {8192, 2, 4096}, {8192, 8, 2048}} {
		if got := AutoBlock("gemm", tc.n, tc.n, tc.w, true); got != tc.want {
			t.Errorf("AutoBlock(gemm, %d, %d workers, remote) = %d, want %d", tc.n, tc.w, got, tc.want)
		}
	}
}

// Misusing the API gives an error that says what is wrong, never a panic.
func TestAPIMisuse(t *testing.T) {
	ctx := context.Background()
	eng, err := Open(ctx, Options{Store: "mem://api-misuse", Queue: "mem://api-misuse", State: "mem://api-misuse", Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	A, err := eng.Upload(ctx, "A", randDense(rng, 8, 8), 4)
	if err != nil {
		t.Fatal(err)
	}
	other, err := Open(ctx, Options{Store: "mem://api-misuse-2"})
	if err != nil {
		t.Fatal(err)
	}
	O, err := other.Upload(ctx, "O", randDense(rng, 8, 8), 4)
	if err != nil {
		t.Fatal(err)
	}
	gone, err := eng.Upload(ctx, "Gone", randDense(rng, 8, 8), 4)
	if err != nil {
		t.Fatal(err)
	}
	if err := gone.Release(ctx); err != nil {
		t.Fatal(err)
	}
	var qrNil *QRFactors
	for _, tc := range []struct {
		err  error
		want string
	}{
		{second(eng.Upload(ctx, "X", nil, 4)), "upload X: the matrix is nil"},
		{second(eng.Upload(ctx, "a/b", randDense(rng, 2, 2), 4)), `bad matrix name "a/b"`},
		{second(eng.Cholesky(ctx, nil)), "cholesky: the matrix is nil"},
		{second(eng.GEMM(ctx, A, nil)), "gemm: matrix 2 of 2 is nil"},
		{second(eng.TSQR(ctx, nil)), "tsqr: the matrix is nil"},
		{second(eng.QR(ctx, nil)), "qr: the matrix is nil"},
		{second(eng.LU(ctx, nil)), "lu: the matrix is nil"},
		{second(eng.SVD(ctx, nil)), "svd: the matrix is nil"},
		{second(eng.Solve(ctx, nil, A)), "solve: matrix 1 of 2 is nil"},
		{second(eng.SolveSPD(ctx, A, nil)), "solve: matrix 2 of 2 is nil"},
		{second(eng.LeastSquares(ctx, nil, A)), "least squares: matrix 1 of 2 is nil"},
		{second(qrNil.Q(ctx)), "form Q: the QR factors are nil"},
		{second((*Matrix)(nil).Dense(ctx)), "dense: the matrix is nil"},
		{second(eng.Cholesky(ctx, O)), "cholesky: matrix O belongs to another engine"},
		{second(eng.Cholesky(ctx, gone)), "cholesky: matrix Gone was released"},
		{second(eng.GEMM(ctx, A, gone)), "gemm: matrix Gone was released"},
		{second(gone.Dense(ctx)), "dense: matrix Gone was released"},
		{second(eng.Run(ctx, "cholesky", map[string]int{"N": 2}, 4, map[string]*Matrix{"S": gone}, "O")), "input S: matrix Gone was released"},
		{second(eng.RunProgram(ctx, nil, 4, nil)), "run: the program is nil"},
		{second(eng.Output(ctx, nil, "O", nil)), "output O: the job result is nil"},
	} {
		if tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) {
			t.Errorf("got %v, want %q", tc.err, tc.want)
		}
	}
	f, err := eng.QR(ctx, A)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Q(ctx); err == nil || !strings.Contains(err.Error(), "form Q: the QR factors were released") {
		t.Errorf("Q of released factors: %v", err)
	}
	if _, err := f.R.Dense(ctx); err == nil || !strings.Contains(err.Error(), "was released") {
		t.Errorf("R of released factors: %v", err)
	}

	// A closed engine runs nothing, and says so.
	if err := eng.Close(); err != nil {
		t.Fatal(err)
	}
	if err := eng.Close(); err != nil {
		t.Errorf("a second Close: %v", err)
	}
	for _, err := range []error{
		second(eng.Cholesky(ctx, A)),
		second(eng.Run(ctx, "cholesky", map[string]int{"N": 2}, 4, map[string]*Matrix{"S": A}, "O")),
		second(eng.Upload(ctx, "B", randDense(rng, 2, 2), 2)),
		second(A.Dense(ctx)),
	} {
		if !errors.Is(err, ErrClosed) || !strings.Contains(err.Error(), "the engine is closed") {
			t.Errorf("on a closed engine: %v", err)
		}
	}
}

// Open refuses options no job can run with before it connects to
// anything, and accepts every registered queue scheme.
func TestOpenChecks(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		opts Options
		want string
	}{
		{Options{Workers: -3}, "Workers must not be negative, got -3"},
		{Options{ScaleFactor: -1}, "ScaleFactor must not be negative"},
		{Options{Settings: executor.Settings{Pipeline: -1}}, "pipeline must not be negative"},
		{Options{Settings: executor.Settings{RuntimeLimit: time.Millisecond}}, "runtime limit 1ms is too short"},
		{Options{Queue: "sqs2://x"}, `queue URL "sqs2://x": unknown scheme "sqs2"`},
		{Options{Queue: "no-scheme"}, `queue URL "no-scheme"`},
		{Options{Launch: "ssh"}, `launch "ssh": want goroutine, process or lambda`},
	} {
		if _, err := Open(ctx, tc.opts); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open(%+v): %v, want %q", tc.opts, err, tc.want)
		}
	}
	// The queue's scheme is only looked up: sqs:// opens without a
	// reachable SQS (the first job would be the first request).
	for _, q := range []string{"mem://", "mem://named", "sqs://prefix?endpoint=http://127.0.0.1:1"} {
		eng, err := Open(ctx, Options{Queue: q})
		if err != nil {
			t.Errorf("Open with queue %s: %v", q, err)
			continue
		}
		eng.Close()
	}
}

// RunProgram runs any program with int and float scalars; Output learns
// an output's size and gaps from its tiles' names and the shapes of its
// last tiles, without reading the others, and Release deletes it.
func TestRunProgramAndOutput(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	src := "def scaled(A: BigMatrix, B: BigMatrix, N: int, M: int, alpha: float):\n" +
		"    for i in range(N):\n        for j in range(M):\n            B[i, j] = scale(A[i, j], alpha)\n"
	path := filepath.Join(dir, "scaled.lp")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	eng, err := Open(ctx, Options{Store: "mem://api-run", Queue: "mem://api-run", State: "mem://api-run", Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	rng := rand.New(rand.NewPCG(7, 8))
	a := randDense(rng, 23, 10) // 6×3 tiles of 4, ragged at both edges
	A, _ := eng.Upload(ctx, "A", a, 4)
	p, err := Compile(path, map[string]lp.Value{"N": lp.Int(6), "M": lp.Int(3), "alpha": lp.Float(0.5)})
	if err != nil {
		t.Fatal(err)
	}
	if got := p.String(); !strings.HasSuffix(got, "scaled.lp M=3 N=6 alpha=0.5") {
		t.Errorf("String() = %q", got)
	}
	if n, ok := p.Indices("B"); n != 2 || !ok {
		t.Errorf("Indices(B) = %d, %v", n, ok)
	}
	if _, ok := p.Indices("Z"); ok {
		t.Error("Indices(Z) found a matrix")
	}
	res, err := eng.RunProgram(ctx, p, 4, map[string]*Matrix{"A": A}, "B")
	if err != nil {
		t.Fatal(err)
	}
	gets := eng.Tiles().Stats().Gets.Load()
	B, err := eng.Output(ctx, res, "B", nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := eng.Tiles().Stats().Gets.Load() - gets; n > 1 {
		t.Errorf("Output read %d tiles of 18 to learn the size; the corner tile tells it", n)
	}
	if B.Rows != 23 || B.Cols != 10 || B.gaps {
		t.Errorf("B is %d×%d (gaps %v), want 23×10 without gaps", B.Rows, B.Cols, B.gaps)
	}
	b := dense(t, B)
	var want mat.Dense
	want.Scale(0.5, a)
	if !mat.Equal(b, &want) {
		t.Error("B ≠ 0.5 A")
	}
	if err := eng.Release(ctx, res); err != nil {
		t.Fatal(err)
	}
	if keys, _ := eng.Tiles().List(ctx, res.Matrices["B"].Dir()); len(keys) != 0 {
		t.Errorf("tiles left after Release: %v", keys)
	}
	if _, err := Compile("cholesky", map[string]lp.Value{"N": lp.Float(2.5)}); err == nil || !strings.Contains(err.Error(), "parameter N is an int, got 2.5") {
		t.Errorf("a float for an int: %v", err)
	}
}

// Output of a grid with gaps and of one tile of a three-index matrix.
func TestOutputSelectors(t *testing.T) {
	ctx := context.Background()
	eng := testEngine(t)
	rng := rand.New(rand.NewPCG(9, 9))
	x := randDense(rng, 10, 10)
	var spd mat.Dense
	spd.Mul(x, x.T())
	for i := range 10 {
		spd.Set(i, i, spd.At(i, i)+10)
	}
	S := upload(t, eng, "S", &spd, 4)
	res, err := eng.Run(ctx, "cholesky", map[string]int{"N": 3}, 4, map[string]*Matrix{"S": S}, "O", "S")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name       string
		fixed      []int32
		rows, cols int
		gaps       bool
	}{
		{"O", nil, 10, 10, true},             // the lower triangle of tiles
		{"S", []int32{1}, 10, 10, true},      // S[1,·,·]: the trailing 2×2 tiles' lower triangle
		{"S", []int32{2, 2, 2}, 2, 2, false}, // one ragged tile
	} {
		m, err := eng.Output(ctx, res, tc.name, tc.fixed)
		if err != nil {
			t.Fatalf("%s%v: %v", tc.name, tc.fixed, err)
		}
		d := dense(t, m)
		r, c := d.Dims()
		if m.Rows != tc.rows || m.Cols != tc.cols || r != tc.rows || c != tc.cols || m.gaps != tc.gaps {
			t.Errorf("%s%v: Output says %d×%d (gaps %v), Dense %d×%d; want %d×%d (gaps %v)", tc.name, tc.fixed, m.Rows, m.Cols, m.gaps, r, c, tc.rows, tc.cols, tc.gaps)
		}
	}
	if _, err := eng.Output(ctx, res, "S", []int32{1, 1, 1, 1}); err == nil || !strings.Contains(err.Error(), "S has 3 indices") {
		t.Errorf("a selector of too many indices: %v", err)
	}
	if _, err := eng.Output(ctx, res, "L", nil); err == nil || !strings.Contains(err.Error(), "kept no matrix L") {
		t.Errorf("an unknown output: %v", err)
	}
}

// A job that fails keeps nothing in the store.
func TestFailedJobKeepsNothing(t *testing.T) {
	ctx := context.Background()
	eng := testEngine(t)
	bad := mat.NewDense(8, 8, nil)
	for i := range 8 {
		bad.Set(i, i, 1)
	}
	bad.Set(6, 6, -1) // not positive definite, in the second tile
	A := upload(t, eng, "A", bad, 4)
	if _, err := eng.Cholesky(ctx, A); err == nil || !strings.Contains(err.Error(), "not positive definite") {
		t.Fatalf("Cholesky of a matrix that is not positive definite: %v", err)
	}
	if keys, _ := eng.Tiles().List(ctx, "jobs/"); len(keys) != 0 {
		t.Errorf("the failed job left tiles: %v", keys)
	}
}

// A matrix one tile wide goes to TSQR as row blocks copied in the store;
// with several tile columns the workers cut the row blocks from its tiles
// (a view): nothing is uploaded again. Both give R with RᵀR = AᵀA, and
// leave nothing behind.
func TestTSQRRowBlocks(t *testing.T) {
	ctx := context.Background()
	eng, err := Open(ctx, Options{Store: "mem://tsqr-rows", Queue: "mem://tsqr-rows", State: "mem://tsqr-rows", Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	rng := rand.New(rand.NewPCG(5, 9))
	for _, tc := range []struct {
		rows, cols, block int
	}{{61, 7, 8}, {64, 8, 8}, {40, 13, 8}, {5, 3, 8}} {
		a := randDense(rng, tc.rows, tc.cols)
		A, err := eng.Upload(ctx, "A", a, tc.block)
		if err != nil {
			t.Fatal(err)
		}
		R, err := eng.TSQR(ctx, A)
		if err != nil {
			t.Fatal(err)
		}
		if R.Job.Uploaded != 0 {
			t.Errorf("%d×%d, block %d: the job uploaded %d bytes", tc.rows, tc.cols, tc.block, R.Job.Uploaded)
		}
		r, err := R.Dense(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var rtr, ata, diff mat.Dense
		rtr.Mul(r.T(), r)
		ata.Mul(a.T(), a)
		diff.Sub(&rtr, &ata)
		if res := mat.Norm(&diff, 2) / (mat.Norm(a, 2) * mat.Norm(a, 2) * float64(tc.rows) * eps); res > 30 {
			t.Errorf("%d×%d: ‖RᵀR − AᵀA‖ scaled residual %.3g", tc.rows, tc.cols, res)
		}
		A.Release(ctx)
		R.Release(ctx)
		if keys, _ := eng.Tiles().List(ctx, ""); len(keys) != 0 {
			t.Fatalf("%d×%d: left %v", tc.rows, tc.cols, keys)
		}
	}
}

// TestEmulatedCompute runs the factorizations and GEMM on ragged tiles
// twice, computing and with emulated compute: the emulated job runs the
// same tasks with the same flops (some kernels count by the structure of
// their inputs) and writes tiles of the same shapes, not the results.
func TestEmulatedCompute(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(3, 4))
	a := randDense(rng, 23, 23)
	var spd mat.SymDense
	spd.SymOuterK(1, a)
	for i := range 23 {
		spd.SetSym(i, i, spd.At(i, i)+23)
	}
	type run struct {
		tasks  int64
		flops  float64
		shapes []string
		outs   []*mat.Dense
	}
	runAll := func(settings executor.Settings) run {
		var r run
		eng, err := Open(ctx, Options{Workers: 3, Settings: settings, OnJob: func(res *job.Result) {
			for _, w := range res.Workers {
				r.flops += w.Metrics.Flops
				r.tasks += int64(w.Tasks)
			}
		}})
		if err != nil {
			t.Fatal(err)
		}
		defer eng.Close()
		note := func(m *Matrix) {
			d := dense(t, m)
			r.shapes = append(r.shapes, fmt.Sprintf("%d×%d", m.Rows, m.Cols))
			r.outs = append(r.outs, d)
		}
		S, _ := eng.Upload(ctx, "S", mat.DenseCopyOf(&spd), 4)
		A, _ := eng.Upload(ctx, "A", a, 4)
		L, err := eng.Cholesky(ctx, S)
		if err != nil {
			t.Fatal(err)
		}
		note(L)
		C, err := eng.GEMM(ctx, A, A)
		if err != nil {
			t.Fatal(err)
		}
		note(C)
		qr, err := eng.QR(ctx, A)
		if err != nil {
			t.Fatal(err)
		}
		note(qr.R)
		lu, err := eng.LU(ctx, A)
		if err != nil {
			t.Fatal(err)
		}
		note(lu.U)
		return r
	}
	real := runAll(executor.Settings{})
	emulated := runAll(executor.Settings{EmulateGFLOPS: 1e4})
	for i, d := range emulated.outs {
		if mat.EqualApprox(d, real.outs[i], 1e-3) {
			t.Errorf("emulated output %d is the computed one", i)
		}
	}
	if emulated.tasks != real.tasks || math.Abs(emulated.flops-real.flops) > 1e-9*real.flops || !slices.Equal(emulated.shapes, real.shapes) {
		t.Errorf("emulated jobs ran %d tasks of %g flops making %v; computed ones %d of %g making %v",
			emulated.tasks, emulated.flops, emulated.shapes, real.tasks, real.flops, real.shapes)
	}
}

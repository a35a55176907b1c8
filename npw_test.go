package npw

import (
	"context"
	"math/rand/v2"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/npw-dev/npw/blockstore"
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
	_, err = eng.UploadNPY(ctx, "X", "blockstore/testdata/i4_1d.npy", 4)
	if err == nil || !strings.Contains(err.Error(), "a 1-dimensional array; a matrix needs 2") {
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
		{"cholesky", 8192, 8192, 2, 1024},
		{"cholesky", 16384, 16384, 2, 2048},
		{"cholesky", 4096, 4096, 2, 512},
		{"cholesky", 100, 100, 2, 100},   // one tile
		{"cholesky", 1000, 1000, 2, 256}, // not below 256
		{"cholesky", 262144, 262144, 2, 4096},
		{"cholesky", 65536, 65536, 300, 1152}, // 60 tiles for 300 workers
		{"gemm", 8192, 8192, 2, 4096},
		{"gemm", 4096, 4096, 2, 2048},
		{"gemm", 8192, 8192, 32, 1024}, // 8 tiles a side for 32 workers
		{"qr", 8192, 4096, 2, 1024},
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

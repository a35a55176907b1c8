package job

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
	"time"

	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/mat"

	"github.com/npw-dev/npw/analysis"
	"github.com/npw-dev/npw/blockstore"
	"github.com/npw-dev/npw/executor"
	lp "github.com/npw-dev/npw/lambdapack"
	"github.com/npw-dev/npw/state"
)

const eps = 0x1p-52

// testEnv returns fresh in-memory services.
func testEnv(t *testing.T) (Env, *blockstore.MemDriver, *state.MemDriver) {
	return memEnv("mem://" + strings.ReplaceAll(t.Name(), "/", "-"))
}

func memEnv(queueURL string) (Env, *blockstore.MemDriver, *state.MemDriver) {
	tiles, st := blockstore.NewMemDriver(), state.NewMemDriver()
	return Env{Tiles: blockstore.NewStore(tiles, "mem://"), QueueURL: queueURL, State: state.New(st, "mem://")}, tiles, st
}

func randomDense(rng *rand.Rand, r, c int) blas64.General {
	g := blas64.General{Rows: r, Cols: c, Stride: c, Data: make([]float64, r*c)}
	for i := range g.Data {
		g.Data[i] = 2*rng.Float64() - 1
	}
	return g
}

func spd(rng *rand.Rand, n int) blas64.General {
	m := dense(randomDense(rng, n, n))
	var a mat.Dense
	a.Mul(m, m.T())
	for i := range n {
		a.Set(i, i, a.At(i, i)+float64(n))
	}
	return a.RawMatrix()
}

func dense(g blas64.General) *mat.Dense {
	var d mat.Dense
	d.SetRawMatrix(g)
	return &d
}

func plan(t testing.TB, name string, args string) *analysis.Plan {
	t.Helper()
	prog, err := lp.LoadProgram(name)
	if err != nil {
		t.Fatal(err)
	}
	a, err := lp.ParseArgs(strings.Fields(args))
	if err != nil {
		t.Fatal(err)
	}
	p, err := analysis.NewPlan(prog, a)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func tiles(n, b int) int { return (n + b - 1) / b }

// fast options for small jobs in tests.
func fast() Options {
	return Options{MaxWorkers: 4, Interval: 5 * time.Millisecond,
		Settings: executor.Settings{Pipeline: 2, Poll: 20 * time.Millisecond, IdleTimeout: time.Second, Lease: time.Second}}
}

func runJob(t *testing.T, env Env, spec Spec, opts Options) *Result {
	t.Helper()
	res, err := Run(context.Background(), env, spec, opts)
	if err != nil {
		t.Fatalf("job failed: %v", err)
	}
	if res.Status.Phase != state.Done || res.Status.Done != res.Status.Tasks {
		t.Fatalf("job ended %s with %d of %d tasks", res.Status.Phase, res.Status.Done, res.Status.Tasks)
	}
	return res
}

func assemble(t *testing.T, env Env, res *Result, name string, fixed []int32) blas64.General {
	t.Helper()
	g, err := blockstore.Assemble(context.Background(), env.Tiles, res.Matrices[name], fixed, 8)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func check(t *testing.T, what string, r float64) {
	t.Helper()
	if r > 30 || math.IsNaN(r) {
		t.Errorf("%s: scaled residual %.3g > 30", what, r)
	}
}

// choleskyResidual is ‖A − LLᵀ‖/(‖A‖·n·ε), with L lower triangular.
func choleskyResidual(t *testing.T, a, l blas64.General) float64 {
	t.Helper()
	if l.Rows != a.Rows || l.Cols != a.Cols {
		t.Fatalf("L is %d×%d, A %d×%d", l.Rows, l.Cols, a.Rows, a.Cols)
	}
	for i := range l.Rows {
		for j := i + 1; j < l.Cols; j++ {
			if l.Data[i*l.Stride+j] != 0 {
				t.Fatalf("L is not lower triangular at (%d,%d)", i, j)
			}
		}
	}
	L := dense(l)
	var llt, diff mat.Dense
	llt.Mul(L, L.T())
	diff.Sub(dense(a), &llt)
	return mat.Norm(&diff, 2) / (mat.Norm(dense(a), 2) * float64(a.Rows) * eps)
}

func TestCholesky(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, tc := range []struct{ n, block int }{
		{1, 4}, {7, 8}, {8, 8}, {16, 8}, {33, 8}, {64, 16}, {100, 32}, {45, 7},
	} {
		t.Run(fmt.Sprintf("n=%d,block=%d", tc.n, tc.block), func(t *testing.T) {
			env, tilesMem, stateMem := testEnv(t)
			a := spd(rng, tc.n)
			spec := Spec{Plan: plan(t, "cholesky", fmt.Sprintf("N=%d", tiles(tc.n, tc.block))), Block: tc.block,
				Inputs: []Input{{Name: "S", Array: a}}, Outputs: []string{"O"}}
			res := runJob(t, env, spec, fast())
			check(t, "‖A − LLᵀ‖", choleskyResidual(t, a, assemble(t, env, res, "O", nil)))
			// Cleanup left only the output's tiles, and no job state.
			keys, _ := env.Tiles.List(context.Background(), "jobs/")
			for _, k := range keys {
				if !strings.HasPrefix(k, res.Matrices["O"].Dir()) {
					t.Errorf("tile %s survived the job", k)
				}
			}
			if held(stateMem) != 0 {
				t.Error("job state survived the job")
			}
			if err := Cleanup(context.Background(), env.Tiles, res); err != nil {
				t.Fatal(err)
			}
			if now, _ := tilesMem.Bytes(); now != 0 {
				t.Errorf("%d bytes left in the store after Cleanup", now)
			}
		})
	}
}

func TestGEMM(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	// G: chain lengths from the pure tree (1) to one chain per tile of C.
	for _, tc := range []struct{ m, k, n, block, g int }{
		{5, 5, 5, 8, 1}, {20, 9, 13, 8, 2}, {16, 33, 7, 8, 1}, {16, 33, 7, 8, 2}, {16, 33, 7, 8, 5},
		{40, 40, 40, 16, 3}, {3, 50, 2, 8, 7}, {3, 50, 2, 8, 3}, {17, 1, 17, 4, 1},
	} {
		t.Run(fmt.Sprintf("%dx%dx%d,block=%d,G=%d", tc.m, tc.k, tc.n, tc.block, tc.g), func(t *testing.T) {
			env, _, _ := testEnv(t)
			a, b := randomDense(rng, tc.m, tc.k), randomDense(rng, tc.k, tc.n)
			args := fmt.Sprintf("M=%d N=%d K=%d G=%d", tiles(tc.m, tc.block), tiles(tc.n, tc.block), tiles(tc.k, tc.block), tc.g)
			spec := Spec{Plan: plan(t, "gemm", args), Block: tc.block,
				Inputs: []Input{{Name: "A", Array: a}, {Name: "B", Array: b}}, Outputs: []string{"C"}}
			res := runJob(t, env, spec, fast())
			c := assemble(t, env, res, "C", nil)
			var ab, diff mat.Dense
			ab.Mul(dense(a), dense(b))
			if c.Rows != tc.m || c.Cols != tc.n {
				t.Fatalf("C is %d×%d", c.Rows, c.Cols)
			}
			diff.Sub(dense(c), &ab)
			check(t, "‖C − AB‖", mat.Norm(&diff, 2)/(mat.Norm(dense(a), 2)*mat.Norm(dense(b), 2)*float64(tc.k)*eps))
		})
	}
}

func TestTSQR(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	for _, tc := range []struct{ m, n, block int }{
		{10, 4, 16}, {100, 10, 16}, {64, 8, 8}, {200, 20, 24}, {30, 10, 4}, {257, 5, 16},
	} {
		t.Run(fmt.Sprintf("%dx%d,block=%d", tc.m, tc.n, tc.block), func(t *testing.T) {
			env, _, _ := testEnv(t)
			a := randomDense(rng, tc.m, tc.n)
			nb := tiles(tc.m, tc.block)
			levels := int32(math.Ceil(math.Log2(float64(nb)) - 1e-9))
			spec := Spec{Plan: plan(t, "tsqr", fmt.Sprintf("N=%d", nb)), Block: tc.block,
				Inputs: []Input{{Name: "A", Array: a}}, Outputs: []string{"R"}}
			res := runJob(t, env, spec, fast())
			r := assemble(t, env, res, "R", []int32{0, levels})
			if r.Cols != tc.n || r.Rows != min(tc.m, tc.n) {
				t.Fatalf("R is %d×%d", r.Rows, r.Cols)
			}
			for i := range r.Rows {
				for j := range min(i, r.Cols) {
					if r.Data[i*r.Stride+j] != 0 {
						t.Fatalf("R is not upper triangular at (%d,%d)", i, j)
					}
				}
			}
			var rtr, ata, diff mat.Dense
			rtr.Mul(dense(r).T(), dense(r))
			ata.Mul(dense(a).T(), dense(a))
			diff.Sub(&rtr, &ata)
			na := mat.Norm(dense(a), 2)
			check(t, "‖RᵀR − AᵀA‖", mat.Norm(&diff, 2)/(na*na*float64(tc.m)*eps))
		})
	}
}

// A tile that is not positive definite fails the job with one clear
// message, at the first failure on every store: a kernel fails the same
// way on the same tiles, so trying the task again (as for a read or a
// write) would only fail again.
func TestNotPositiveDefiniteFailsClearly(t *testing.T) {
	files, err := blockstore.Open(context.Background(), "file://"+t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		store  *blockstore.Store
		failed string
	}{{nil, "failed: kernel chol"}, {files, "failed: kernel chol"}} {
		env, _, stateMem := testEnv(t)
		if tc.store != nil {
			env.Tiles = tc.store
		}
		rng := rand.New(rand.NewPCG(4, 4))
		a := spd(rng, 24)
		a.Data[20*a.Stride+20] = -1e6 // the fourth diagonal tile is indefinite
		spec := Spec{Plan: plan(t, "cholesky", "N=4"), Block: 6, Inputs: []Input{{Name: "S", Array: a}}, Outputs: []string{"O"}}
		start := time.Now()
		_, err := Run(context.Background(), env, spec, fast())
		var jerr *Error
		if !errors.As(err, &jerr) {
			t.Fatalf("%s: got %v, want a job error", env.Tiles.URL(), err)
		}
		for _, want := range []string{"task chol(i=3)", tc.failed, "kernel chol on tile S[3,3,3] (6×6)", "not positive definite"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: error %q does not say %q", env.Tiles.URL(), err, want)
			}
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%s: failing took %v", env.Tiles.URL(), d)
		}
		if held(stateMem) != 0 {
			t.Errorf("%s: a failed job left its state behind", env.Tiles.URL())
		}
	}
}

func TestBadSpecs(t *testing.T) {
	env, _, _ := testEnv(t)
	a := blas64.General{Rows: 4, Cols: 4, Stride: 4, Data: make([]float64, 16)}
	for _, tc := range []struct {
		spec Spec
		want string
	}{
		{Spec{Plan: plan(t, "gemm", "M=1 N=1 K=1 G=1"), Block: 4, Inputs: []Input{{Name: "A", Array: a}}, Outputs: []string{"C"}},
			"matrix B is an input of gemm: bind it to data (--in B=FILE.npy)"},
		{Spec{Plan: plan(t, "cholesky", "N=1"), Block: 4, Inputs: []Input{{Name: "S", Array: a}}, Outputs: []string{"L"}},
			"unknown output L: cholesky has no matrix of that name (written matrices: O, S)"},
		{Spec{Plan: plan(t, "gemm", "M=1 N=1 K=1 G=1"), Block: 4, Inputs: []Input{{Name: "A", Array: a}, {Name: "B", Array: a}}, Outputs: []string{"A"}},
			"A is not an output: no task of gemm writes it"},
		{Spec{Plan: plan(t, "cholesky", "N=1"), Block: 4, Inputs: []Input{{Name: "X", Array: a}}},
			"cholesky has no matrix X to bind (matrices: O, S)"},
		{Spec{Plan: plan(t, "cholesky", "N=1"), Block: 0, Inputs: []Input{{Name: "S", Array: a}}},
			"the block size must be positive"},
	} {
		if _, err := Run(context.Background(), env, tc.spec, fast()); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("got %v, want %q", err, tc.want)
		}
	}
}

// TestMissingInputTile runs a Cholesky whose N asks for more tiles than
// the input has.
func TestMissingInputTile(t *testing.T) {
	env, _, _ := testEnv(t)
	a := spd(rand.New(rand.NewPCG(5, 5)), 8)
	spec := Spec{Plan: plan(t, "cholesky", "N=3"), Block: 4, Inputs: []Input{{Name: "S", Array: a}}, Outputs: []string{"O"}}
	_, err := Run(context.Background(), env, spec, fast())
	if err == nil || !strings.Contains(err.Error(), "reads input tile S[0,2,0], which does not exist") &&
		!strings.Contains(err.Error(), "reads input tile S[0,2,1], which does not exist") &&
		!strings.Contains(err.Error(), "reads input tile S[0,2,2], which does not exist") {
		t.Fatalf("got %v", err)
	}
}

// Tiles already in the store that a program reads from a grid of a matrix
// it writes elsewhere (Cholesky's S[0, j, k]) are read in place: no
// copies, and the input is untouched.
func TestInputGridReadInPlace(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct{ n, block int }{{8, 8}, {45, 7}, {64, 16}} {
		t.Run(fmt.Sprintf("n=%d,block=%d", tc.n, tc.block), func(t *testing.T) {
			env, _, _ := testEnv(t)
			a := spd(rand.New(rand.NewPCG(7, uint64(tc.n))), tc.n)
			in := &blockstore.BigMatrix{Name: "A", Prefix: "data", Arity: 2, Block: tc.block}
			if _, _, err := blockstore.Upload(ctx, env.Tiles, in, a, 4); err != nil {
				t.Fatal(err)
			}
			before := snapshotTiles(t, env, in.Dir())
			copies := env.Tiles.Stats().Copies.Load()
			spec := Spec{Plan: plan(t, "cholesky", fmt.Sprintf("N=%d", tiles(tc.n, tc.block))), Block: tc.block,
				Inputs: []Input{{Name: "S", Tiles: in}}, Outputs: []string{"O"}}
			res := runJob(t, env, spec, fast())
			check(t, "‖A − LLᵀ‖", choleskyResidual(t, a, assemble(t, env, res, "O", nil)))
			if n := env.Tiles.Stats().Copies.Load() - copies; n != 0 {
				t.Errorf("the job copied %d tiles of its input", n)
			}
			if res.Uploaded != 0 {
				t.Errorf("the job uploaded %d bytes", res.Uploaded)
			}
			if after := snapshotTiles(t, env, in.Dir()); !maps.EqualFunc(before, after, bytes.Equal) {
				t.Error("the job changed its input's tiles")
			}
		})
	}
}

// A program that writes into the grid its input is bound to (here over
// the input's tiles S[0, j, 1]) gets a copy of the input: its writes never
// reach the input's tiles.
func TestInputGridWrittenIsCopied(t *testing.T) {
	ctx := context.Background()
	env, _, _ := testEnv(t)
	const src = `
def grow(S: BigMatrix, O: BigMatrix, N: int):
    for j in range(0, N):
        S[0, j, 1] = scale(S[0, j, 0], 2.0)
        O[j, 0] = add(S[0, j, 1], S[0, j, 0])
`
	args, err := lp.ParseArgs([]string{"N=2"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := analysis.Compile("grow.lp", src, args)
	if err != nil {
		t.Fatal(err)
	}
	a := randomDense(rand.New(rand.NewPCG(8, 8)), 8, 8)
	in := &blockstore.BigMatrix{Name: "A", Prefix: "data", Arity: 2, Block: 4}
	if _, _, err := blockstore.Upload(ctx, env.Tiles, in, a, 4); err != nil {
		t.Fatal(err)
	}
	before := snapshotTiles(t, env, in.Dir())
	res := runJob(t, env, Spec{Plan: p, Block: 4, Inputs: []Input{{Name: "S", Tiles: in, Rows: 8, Cols: 8}}, Outputs: []string{"O"}}, fast())
	if after := snapshotTiles(t, env, in.Dir()); !maps.EqualFunc(before, after, bytes.Equal) {
		t.Errorf("the job wrote into its input's tiles: %d before, %d after", len(before), len(after))
	}
	o := assemble(t, env, res, "O", nil)
	for i := range 8 {
		for j := range 4 {
			if got, want := o.Data[i*o.Stride+j], 3*a.Data[i*a.Stride+j]; got != want {
				t.Fatalf("O[%d,%d] = %g, want %g", i, j, got, want)
			}
		}
	}
}

// snapshotTiles returns the objects under dir.
func snapshotTiles(t *testing.T, env Env, dir string) map[string][]byte {
	t.Helper()
	keys, err := env.Tiles.List(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string][]byte{}
	for _, k := range keys {
		if m[k], err = env.Tiles.Get(context.Background(), k); err != nil {
			t.Fatal(err)
		}
	}
	return m
}

// Workers with a memory bound on a store whose reads are their own (files
// here, S3 in the cloud) keep tiles for their later tasks: the results
// are bit for bit those of workers without the cache (memory services),
// and some reads come from the cache — including tiles a task updates in
// place (Cholesky's and QR's trailing updates).
func TestWorkerTileCache(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 12))
	a := randomDense(rng, 70, 45)
	for _, tc := range []struct {
		name string
		spec Spec
		out  string
	}{
		{"cholesky 70, block 16", choleskyJob(t, spd(rng, 70), 16), "O"},
		{"cholesky 32, one tile", choleskyJob(t, spd(rng, 32), 32), "O"}, // one task: nothing to reuse
		{"gemm 3×3×3 tiles", Spec{Plan: plan(t, "gemm", "M=3 N=3 K=3 G=3"), Block: 16,
			Inputs: []Input{{Name: "A", Array: randomDense(rng, 40, 45)}, {Name: "B", Array: randomDense(rng, 45, 33)}}, Outputs: []string{"C"}}, "C"},
		{"qr 5×3 tiles", Spec{Plan: plan(t, "qr", "MT=5 NT=3"), Block: 16, Inputs: []Input{{Name: "A", Array: a}}, Outputs: []string{"R"}}, "R"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := cleanRunOf(t, tc.spec, tc.out)
			tiles, err := blockstore.Open(context.Background(), "file://"+t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			env, _, _ := testEnv(t)
			env.Tiles = tiles
			opts := fast()
			opts.MaxWorkers = 2
			opts.Worker = func(c *executor.Config) { c.Memory = 12 * c.Job.TileBytes() }
			res := runJob(t, env, tc.spec, opts)
			if got := assemble(t, env, res, tc.out, nil); !sameBits(got, want) {
				t.Fatal("the result with tile caches differs from the one without")
			}
			if res.Status.Metrics.CacheHits == 0 && res.Status.Tasks > 1 {
				t.Fatal("no read was served by a worker's cache")
			}
			t.Logf("%d of the reads from the cache, %d bytes from the store", res.Status.Metrics.CacheHits, res.Status.Metrics.BytesRead)
		})
	}
}

func cleanRunOf(t *testing.T, spec Spec, out string) blas64.General {
	env, _, _ := testEnv(t)
	res := runJob(t, env, spec, fast())
	return assemble(t, env, res, out, nil)
}

// held counts what a memory state store holds of jobs: task state and
// records.
func held(d *state.MemDriver) int {
	ids, _ := d.Jobs(context.Background())
	return d.Tracked() + len(ids)
}

// A stored input tile that is not a tile of its matrix fails the job at
// its first read, naming the tile: a header whose sizes overflow is
// refused by the decoder (reading it again reads the same bytes), a tile
// of the wrong shape by the kernel (kernel failures are deterministic).
func TestCorruptInputTile(t *testing.T) {
	ctx := context.Background()
	hostile := []byte("\x93NUMPY\x01\x00v\x00{'descr': '<f8', 'fortran_order': False, 'shape': (2305843009213693953, 1), }")
	hostile = append(hostile, bytes.Repeat([]byte(" "), 127-len(hostile))...)
	hostile = append(append(hostile, '\n'), make([]byte, 64)...)
	for name, tc := range map[string]struct {
		tile       []byte
		name, want string
	}{
		"overflowing shape": {hostile, "data/A/1_1.npy", "shape [2305843009213693953 1] is too large"},
		"larger than block": {blockstore.EncodeTile(randomDense(rand.New(rand.NewPCG(1, 1)), 8, 8)), "tile S[0,1,1] (8×8)", "needs S m×p"},
	} {
		t.Run(name, func(t *testing.T) {
			env, _, _ := testEnv(t)
			a := spd(rand.New(rand.NewPCG(7, 7)), 8)
			in := &blockstore.BigMatrix{Name: "A", Prefix: "data", Arity: 2, Block: 4}
			if _, _, err := blockstore.Upload(ctx, env.Tiles, in, a, 4); err != nil {
				t.Fatal(err)
			}
			if err := env.Tiles.Put(ctx, "data/A/1_1.npy", tc.tile); err != nil {
				t.Fatal(err)
			}
			spec := Spec{Plan: plan(t, "cholesky", "N=2"), Block: 4, Inputs: []Input{{Name: "S", Tiles: in}}, Outputs: []string{"O"}}
			res, err := Run(ctx, env, spec, fast())
			if err == nil || !strings.Contains(err.Error(), tc.name) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error naming %s: %s", err, tc.name, tc.want)
			}
			failures := 0
			for _, r := range res.Workers {
				failures += r.Failures
			}
			if failures != 1 {
				t.Errorf("%d failed attempts; a bad tile fails the job at the first", failures)
			}
		})
	}
}

// A NaN or an infinity fails the job at the first task that meets it,
// saying where it is (kernel failures are deterministic: no retries);
// Settings.AllowNonFinite lets it through.
func TestNonFiniteFailsTheJob(t *testing.T) {
	ctx := context.Background()
	a := spd(rand.New(rand.NewPCG(3, 3)), 12)
	a.Data[5*12+2] = math.NaN()
	b := randomDense(rand.New(rand.NewPCG(4, 4)), 12, 12)
	big := randomDense(rand.New(rand.NewPCG(4, 4)), 12, 12)
	big.Data[0] = math.MaxFloat64
	for _, tc := range []struct {
		name, args string
		in         []Input
		out, want  string
	}{
		{"cholesky", "N=3", []Input{{Name: "S", Array: a}}, "O", "kernel trsm: its input tile S[0,1,0] holds NaN at (1, 2)"},
		{"gemm", "M=3 N=3 K=3 G=1", []Input{{Name: "A", Array: a}, {Name: "B", Array: b}}, "C", "its input tile A[1,0] holds NaN at (1, 2)"},
		{"gemm", "M=3 N=3 K=3 G=1", []Input{{Name: "A", Array: big}, {Name: "B", Array: big}}, "C", "computed +Inf at (0, 0) of output 1 (4×4)"},
	} {
		for _, allow := range []bool{false, true} {
			env, _, st := testEnv(t)
			opts := fast()
			opts.AllowNonFinite = allow
			spec := Spec{Plan: plan(t, tc.name, tc.args), Block: 4, Inputs: tc.in, Outputs: []string{tc.out}}
			res, err := Run(ctx, env, spec, opts)
			if allow {
				// Let through, a NaN reaches the Cholesky, which fails,
				// saying the NaN is why.
				if err != nil && !regexp.MustCompile(`kernel chol: its input tile S\[\d,\d,\d\] holds NaN`).MatchString(err.Error()) {
					t.Errorf("%s, allowed: %v", tc.name, err)
				}
				continue
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
				continue
			}
			failures := 0
			for _, r := range res.Workers {
				failures += r.Failures
			}
			// Tasks in flight on other workers may fail too, but none is
			// tried again.
			if failures < 1 || failures > opts.Pipeline*len(res.Workers) || held(st) != 0 {
				t.Errorf("%s: %d failed attempts by %d workers, %d state keys left", tc.name, failures, len(res.Workers), held(st))
			}
		}
	}
}

package job

import (
	"context"
	"math"
	"strings"
	"testing"

	"gonum.org/v1/gonum/blas/blas64"

	"github.com/npw-dev/npw/blockstore"
	"github.com/npw-dev/npw/internal/machine"
)

// Jobs too big for their limits are refused before anything is uploaded
// or enumerated, with one line that says why.
func TestSizeRefusedBeforeWork(t *testing.T) {
	ctx := context.Background()
	a := blas64.General{Rows: 4, Cols: 4, Stride: 4, Data: make([]float64, 16)}
	wide := blas64.General{Rows: 1024, Cols: 1024, Stride: 1024, Data: make([]float64, 1024*1024)}
	defer machine.SetForTest(24<<30, 10<<30)()
	dir := t.TempDir()
	for _, tc := range []struct {
		name, args string
		block      int
		opts       Options
		file       bool
		want       string
	}{
		{"cholesky", "N=1000000", 4, fast(), false, "cholesky N=1000000 has about 1.7e17 tasks (limit 1e8, --max-tasks)"},
		{"cholesky", "N=20", 4, Options{MaxTasks: 1000}, false, "cholesky N=20 has 1540 tasks (limit 1000, --max-tasks)"},
		{"gemm", "M=100 N=100 K=1 G=1", 1024, fast(), false,
			"gemm G=1 K=1 M=100 N=100 needs about 78 GiB in the store (mem:// keeps it in this process's memory) and 64 MiB per worker (2 workers in this process); this machine has 24 GiB of memory"},
		{"gemm", "M=1 N=1 K=1 G=1", 32768, fast(), false, "and 64 GiB per worker (2 workers in this process); this machine has 24 GiB of memory"},
		{"gemm", "M=40 N=40 K=1 G=1", 1024, fast(), true, "gemm G=1 K=1 M=40 N=40 needs about 13 GiB in the store; file://" + dir + " has 10 GiB free"},
	} {
		env, _, st := testEnv(t)
		if tc.file {
			env.Tiles = blockstore.NewStore(blockstore.NewFileDriver(dir), "file://"+dir)
		}
		tc.opts.MaxWorkers = 2
		in := []Input{{Name: "S", Array: a}}
		out := []string{"O"}
		if tc.name == "gemm" {
			// Tiles as large as a block: the estimate counts output
			// tiles as large as the inputs' tiles can be.
			in, out = []Input{{Name: "A", Array: wide}, {Name: "B", Array: wide}}, []string{"C"}
		}
		_, err := Run(ctx, env, Spec{Plan: plan(t, tc.name, tc.args), Block: tc.block, Inputs: in, Outputs: out}, tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %s: %v\nwant %s", tc.name, tc.args, err, tc.want)
		}
		if env.Tiles.Stats().Puts.Load() != 0 || held(st) != 0 {
			t.Errorf("%s %s: the refused job wrote to the store or the state", tc.name, tc.args)
		}
	}
}

// A scale factor that is not a number would launch no worker: refused.
func TestBadScaleFactor(t *testing.T) {
	a := blas64.General{Rows: 4, Cols: 4, Stride: 4, Data: make([]float64, 16)}
	for _, sf := range []float64{math.NaN(), math.Inf(1), -1} {
		env, _, _ := testEnv(t)
		opts := fast()
		opts.ScaleFactor = sf
		_, err := Run(context.Background(), env, Spec{Plan: plan(t, "cholesky", "N=1"), Block: 4, Inputs: []Input{{Name: "S", Array: a}}, Outputs: []string{"O"}}, opts)
		if err == nil || !strings.Contains(err.Error(), "the scale factor must be a positive number") {
			t.Errorf("sf %v: %v", sf, err)
		}
	}
}

// Outputs of known shape count as their bytes, not as full tiles: a
// generated 1e9×4 matrix needs 30 GiB in the store, not the 7.5 TiB of
// 976563 tiles of 1024×1024.
func TestSizeOfKnownShapes(t *testing.T) {
	defer machine.SetForTest(24<<30, 10<<30)()
	dir := t.TempDir()
	env, _, st := testEnv(t)
	env.Tiles = blockstore.NewStore(blockstore.NewFileDriver(dir), "file://"+dir)
	p := plan(t, "generate", "MT=976563 NT=1 KIND=0 SEED=1 ROWS=1000000000 COLS=4 B=1024")
	_, err := Run(context.Background(), env, Spec{Plan: p, Block: 1024, Outputs: []string{"A"},
		Shapes: map[string][2]int{"A": {1_000_000_000, 4}}}, fast())
	want := "needs about 30 GiB in the store; file://" + dir + " has 10 GiB free"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("got %v, want %q", err, want)
	}
	if env.Tiles.Stats().Puts.Load() != 0 || held(st) != 0 {
		t.Error("the refused job wrote to the store or the state")
	}
}

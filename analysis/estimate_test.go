package analysis

import (
	"math"
	"strings"
	"testing"
	"time"

	lp "github.com/npw-dev/npw/lambdapack"
)

// Estimate counts exactly what the brute-force oracle enumerates, tasks
// and tiles written per matrix, on every shipped and test program at
// every tested size.
func TestEstimateExact(t *testing.T) {
	for _, tc := range allCases(t) {
		p, err := NewPlan(tc.prog, tc.args)
		if err != nil {
			continue // sizes the program refuses: covered elsewhere
		}
		s, err := p.Estimate()
		if err != nil {
			t.Errorf("%v: %v", tc, err)
			continue
		}
		o, err := BuildOracle(p, 0)
		if err != nil {
			t.Fatalf("%v: %v", tc, err)
		}
		writes := make([]float64, len(s.Writes))
		for _, n := range o.Nodes {
			_, ws, err := p.Tiles(n)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range ws {
				writes[w.Matrix]++
			}
		}
		if !s.Exact || s.Tasks != float64(o.Len()) || !equalFloats(s.Writes, writes) || s.Iterations < s.Tasks {
			t.Errorf("%v: estimate %+v; the oracle has %d tasks, writes %v", tc, s, o.Len(), writes)
		}
	}
}

func equalFloats(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Past its budget, Estimate samples: within 5% of the exact count on
// the shipped programs, and fast on sizes no walk could finish.
func TestEstimateSampled(t *testing.T) {
	for _, tc := range []struct{ name, args string }{
		{"cholesky", "N=300"}, {"qr", "MT=120 NT=90"}, {"lu", "N=60"}, {"gemm", "M=40 N=50 K=60 G=4"}, {"bdfac", "MT=100 NT=80 BS=4 MR=400 NC=320 VEC=0"},
	} {
		p := mustPlan(t, tc.name, tc.args)
		exact, err := p.Estimate()
		if err != nil || !exact.Exact {
			t.Fatalf("%s %s: %+v, %v", tc.name, tc.args, exact, err)
		}
		defer func(b int) { estimateBudget = b }(estimateBudget)
		estimateBudget = 1000
		s, err := p.Estimate()
		estimateBudget = 4_000_000
		if err != nil || s.Exact || math.Abs(s.Tasks-exact.Tasks) > 0.05*exact.Tasks {
			t.Errorf("%s %s: sampled %.4g tasks, exact %.0f (ratio %.3f), %v", tc.name, tc.args, s.Tasks, exact.Tasks, s.Tasks/exact.Tasks, err)
		}
	}
	start := time.Now()
	p := mustPlan(t, "cholesky", "N=1000000")
	_, err := p.CheckSize(DefaultMaxTasks)
	if err == nil || !strings.Contains(err.Error(), "cholesky N=1000000 has about 1.7e17 tasks (limit 1e8, --max-tasks)") {
		t.Errorf("CheckSize: %v", err)
	}
	if d := time.Since(start); d > 10*time.Second { // a bound on a hang, not a timing
		t.Errorf("CheckSize took %v", d)
	}
}

// FuzzCheckSizes runs the checker with sizes on arbitrary programs and
// sizes: Estimate must end without a panic, and where it counted
// exactly a program small enough to walk, agree with the walk.
//
//	go test -fuzz=FuzzCheckSizes ./analysis
func FuzzCheckSizes(f *testing.F) {
	for _, name := range lp.Shipped() {
		src, _ := lp.ShippedSource(name)
		f.Add(src, int64(3))
	}
	f.Add("def f(A: BigMatrix, B: BigMatrix, N: int):\n    for i in range(0, N * 10**12):\n        B[i] = chol(A[i])\n", int64(1))
	f.Add("def f(A: BigMatrix, B: BigMatrix, N: int):\n    for i in range(N, -N, -3):\n        for j in range(i, N):\n            if (i + j) % 2 == 0:\n                B[i, j] = chol(A[i, j])\n", int64(40))
	// Budgets a hundredth of the real ones keep each input fast under the
	// fuzzer's instrumentation; the paths are the same.
	b, v := estimateBudget, sampleVisits
	f.Cleanup(func() { estimateBudget, sampleVisits = b, v })
	estimateBudget, sampleVisits = 40_000, 10_000
	f.Fuzz(func(t *testing.T, src string, n int64) {
		prog, err := lp.Load("fuzz.lp", src)
		if err != nil {
			return
		}
		args := map[string]lp.Value{}
		for _, p := range prog.Params {
			if p.Type != lp.BigMatrixType {
				args[p.Name.Name] = lp.Int(n)
			}
		}
		p, err := NewPlan(prog, args)
		if err != nil {
			return
		}
		s, err := p.Estimate()
		if err != nil || !s.Exact || s.Iterations > 1e6 {
			return
		}
		count, err := p.Count()
		if err == nil && float64(count) != s.Tasks {
			t.Fatalf("Estimate %v tasks, Count %d", s.Tasks, count)
		}
	})
}

package job

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/mat"
)

// singularValues runs bdfac.lp on a (m >= n): the workers reduce it to a
// band, gather the band and compute its singular values.
func singularValues(t *testing.T, env Env, a blas64.General, block int) []float64 {
	t.Helper()
	mt, nt := tiles(a.Rows, block), tiles(a.Cols, block)
	spec := Spec{Plan: plan(t, "bdfac", fmt.Sprintf("MT=%d NT=%d BS=%d MR=%d NC=%d VEC=0", mt, nt, block, a.Rows, a.Cols)), Block: block,
		Inputs: []Input{{Name: "A", Array: a}}, Outputs: []string{"SV"}}
	res := runJob(t, env, spec, fast())
	g, _, err := env.Tiles.GetTile(context.Background(), res.Matrices["SV"].Key([]int32{0}))
	if err != nil {
		t.Fatal(err)
	}
	if g.Rows != 1 || g.Cols != a.Cols {
		t.Fatalf("SV[0] is %d×%d, want 1×%d", g.Rows, g.Cols, a.Cols)
	}
	return g.Data[:g.Cols]
}

func TestSVD(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 15))
	for _, tc := range []struct {
		m, n, block int
		kind        string
	}{
		{8, 8, 8, "random"}, {5, 3, 8, "random"}, {20, 20, 8, "random"}, {40, 12, 8, "random"},
		{37, 30, 8, "random"}, {64, 64, 16, "random"}, {48, 48, 8, "rank-deficient"},
		{30, 30, 4, "rank-deficient"}, {40, 40, 8, "graded"}, {33, 17, 4, "graded"},
	} {
		t.Run(fmt.Sprintf("%s/%dx%d,block=%d", tc.kind, tc.m, tc.n, tc.block), func(t *testing.T) {
			env, _, _ := testEnv(t)
			a := randomDense(rng, tc.m, tc.n)
			switch tc.kind {
			case "rank-deficient": // rank n/3: the rest are zero singular values
				r := tc.n / 3
				var p mat.Dense
				p.Mul(dense(randomDense(rng, tc.m, r)), dense(randomDense(rng, r, tc.n)))
				a = p.RawMatrix()
			case "graded": // columns scaled from 1 down to 1e-12
				for i := range tc.m {
					for j := range tc.n {
						a.Data[i*a.Stride+j] *= math.Pow(10, -12*float64(j)/float64(tc.n))
					}
				}
			}
			var svd mat.SVD
			if !svd.Factorize(dense(a), mat.SVDNone) {
				t.Fatal("reference SVD failed")
			}
			want := svd.Values(nil)
			got := singularValues(t, env, a, tc.block)
			if len(got) != len(want) {
				t.Fatalf("%d singular values, want %d", len(got), len(want))
			}
			for i := range want {
				if d := math.Abs(got[i] - want[i]); d > 1e-10*want[0] {
					t.Errorf("σ[%d] = %.17g, Dgesvd %.17g: differs by %.3g of σmax", i, got[i], want[i], d/want[0])
				}
				if i > 0 && got[i] > got[i-1] {
					t.Errorf("not descending at %d", i)
				}
			}
		})
	}
}

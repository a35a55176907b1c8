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

// eigenvalues runs sytrb.lp on the symmetric a: the workers reduce it to
// a band, gather the band and compute its eigenvalues.
func eigenvalues(t *testing.T, env Env, a blas64.General, block int) []float64 {
	t.Helper()
	spec := Spec{Plan: plan(t, "sytrb", fmt.Sprintf("N=%d BS=%d NR=%d VEC=0", tiles(a.Rows, block), block, a.Rows)), Block: block,
		Inputs: []Input{{Name: "A", Array: a}}, Outputs: []string{"W"}}
	res := runJob(t, env, spec, fast())
	g, _, err := env.Tiles.GetTile(context.Background(), res.Matrices["W"].Key([]int32{0}))
	if err != nil {
		t.Fatal(err)
	}
	if g.Rows != 1 || g.Cols != a.Cols {
		t.Fatalf("W[0] is %d×%d, want 1×%d", g.Rows, g.Cols, a.Cols)
	}
	return g.Data[:g.Cols]
}

func TestEigenvalues(t *testing.T) {
	rng := rand.New(rand.NewPCG(16, 16))
	for _, tc := range []struct {
		n, block int
		kind     string
	}{
		{8, 8, "random"}, {5, 8, "random"}, {20, 8, "random"}, {37, 8, "random"}, {64, 16, "random"},
		{45, 4, "random"}, {48, 8, "rank-deficient"}, {40, 8, "graded"}, {33, 8, "clustered"}, {30, 4, "indefinite"},
	} {
		t.Run(fmt.Sprintf("%s/n=%d,block=%d", tc.kind, tc.n, tc.block), func(t *testing.T) {
			env, _, _ := testEnv(t)
			n := tc.n
			m := randomDense(rng, n, n)
			var a mat.Dense
			switch tc.kind {
			case "rank-deficient": // M Mᵀ of rank n/3
				r := randomDense(rng, n, n/3)
				a.Mul(dense(r), dense(r).T())
			case "graded", "clustered", "indefinite": // Q diag(λ) Qᵀ
				var qr mat.QR
				qr.Factorize(dense(m))
				var q mat.Dense
				qr.QTo(&q)
				lam := mat.NewDiagDense(n, nil)
				for i := range n {
					switch tc.kind {
					case "graded":
						lam.SetDiag(i, math.Pow(10, -12*float64(i)/float64(n)))
					case "clustered": // three clusters of width 1e-10
						lam.SetDiag(i, float64(i%3)+1e-10*rng.Float64())
					default:
						lam.SetDiag(i, rng.NormFloat64()*10)
					}
				}
				var ql mat.Dense
				ql.Mul(&q, lam)
				a.Mul(&ql, q.T())
			default:
				a.Add(dense(m), dense(m).T())
			}
			for i := range n { // exactly symmetric
				for j := range i {
					a.Set(j, i, a.At(i, j))
				}
			}
			var eig mat.EigenSym
			if !eig.Factorize(mat.NewSymDense(n, a.RawMatrix().Data), false) {
				t.Fatal("reference eigensolver failed")
			}
			want := eig.Values(nil)
			// the upper triangle is not read: fill it with garbage
			in := mat.DenseCopyOf(&a)
			for i := range n {
				for j := i + 1; j < n; j++ {
					in.Set(i, j, 1e6*rng.NormFloat64())
				}
			}
			got := eigenvalues(t, env, in.RawMatrix(), tc.block)
			norm := mat.Norm(&a, 2)
			for i := range want {
				if d := math.Abs(got[i] - want[i]); d > 1e-12*norm {
					t.Errorf("λ[%d] = %.17g, Dsyev %.17g: differs by %.3g of ‖A‖", i, got[i], want[i], d/norm)
				}
				if i > 0 && got[i] < got[i-1] {
					t.Errorf("not ascending at %d", i)
				}
			}
		})
	}
}

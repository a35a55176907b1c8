package band

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// svdResiduals returns ‖AV − UΣ‖/(‖A‖nε), ‖UᵀU − I‖/(nε) and
// ‖VᵀV − I‖/(nε).
func svdResiduals(a *mat.Dense, u, v *mat.Dense, s []float64) (res, ou, ov float64) {
	const eps = 0x1p-53
	n, _ := a.Dims()
	var r mat.Dense
	r.Mul(a, v)
	for j := range n {
		for i := range n {
			r.Set(i, j, r.At(i, j)-s[j]*u.At(i, j))
		}
	}
	orth := func(q *mat.Dense) float64 {
		var g mat.Dense
		g.Mul(q.T(), q)
		for i := range n {
			g.Set(i, i, g.At(i, i)-1)
		}
		return mat.Norm(&g, 1) / (float64(n) * eps)
	}
	norm := mat.Norm(a, 1)
	if norm == 0 {
		norm = 1
	}
	return mat.Norm(&r, 1) / (norm * float64(n) * eps), orth(u), orth(v)
}

// TestBandSingularVectors reduces random bands (graded, rank-deficient,
// with clustered and with zero singular values) to bidiagonal form with
// their reflectors, computes the bidiagonal's vectors in three ranges as
// tasks would, applies the reflectors to them and checks the band's
// residuals.
func TestBandSingularVectors(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 8))
	for _, tc := range []struct {
		n, b int
		kind string
	}{
		{1, 0, "random"}, {2, 1, "random"}, {7, 3, "random"}, {40, 5, "random"}, {97, 13, "random"},
		{40, 5, "graded"}, {60, 8, "rank-deficient"}, {45, 4, "clustered"}, {30, 29, "zero"},
	} {
		t.Run(fmt.Sprintf("%s/n=%d,b=%d", tc.kind, tc.n, tc.b), func(t *testing.T) {
			n := tc.n
			u := NewUpper(n, tc.b)
			a := mat.NewDense(n, n, nil)
			for i := range n {
				for j := i; j <= min(n-1, i+tc.b); j++ {
					v := rng.NormFloat64()
					switch tc.kind {
					case "graded":
						v *= math.Pow(10, -12*float64(j)/float64(n))
					case "rank-deficient":
						if i%3 == 1 {
							v = 0
						}
					case "clustered": // near 2 I: singular values cluster at 2
						v *= 1e-10
						if i == j {
							v += 2
						}
					case "zero":
						v = 0
					}
					u.Set(i, j, v)
					a.Set(i, j, v)
				}
			}
			d, e, left, right := u.BidiagonalizeReflectors()
			s := append([]float64(nil), d...)
			work := make([]float64, 4*n)
			if n > 0 && impl.Dlasq1(n, s, append([]float64(nil), e...), work) != 0 {
				t.Fatal("dlasq1 failed")
			}
			um, vm := mat.NewDense(n, n, nil), mat.NewDense(n, n, nil)
			cuts := []int{0, n / 3, 2 * n / 3, n}
			for c := range 3 {
				lo, hi := cuts[c], cuts[c+1]
				pu, pv, err := BidiagonalVectors(d, e, s, lo, hi)
				if err != nil {
					t.Fatal(err)
				}
				if err := ApplyReflectors(left, pu, hi-lo); err != nil {
					t.Fatal(err)
				}
				if err := ApplyReflectors(right, pv, hi-lo); err != nil {
					t.Fatal(err)
				}
				for i := range n {
					for j := lo; j < hi; j++ {
						um.Set(i, j, pu[i*(hi-lo)+j-lo])
						vm.Set(i, j, pv[i*(hi-lo)+j-lo])
					}
				}
			}
			res, ou, ov := svdResiduals(a, um, vm, s)
			if res > 30 || ou > 30 || ov > 30 || math.IsNaN(res+ou+ov) {
				t.Errorf("‖AV − UΣ‖/(‖A‖nε) = %.3g, ‖UᵀU − I‖/(nε) = %.3g, ‖VᵀV − I‖/(nε) = %.3g; bound 30", res, ou, ov)
			}
		})
	}
}

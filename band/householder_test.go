package band

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// explicitQ returns the product of a chase's reflectors as a dense
// matrix: ApplyReflectors of the identity.
func explicitQ(t *testing.T, r Reflectors, n int) *mat.Dense {
	t.Helper()
	q := mat.NewDense(max(n, 1), max(n, 1), nil)
	for i := range n {
		q.Set(i, i, 1)
	}
	if n == 0 {
		return mat.NewDense(1, 1, nil)
	}
	if err := ApplyReflectors(r, q.RawMatrix().Data, n); err != nil {
		t.Fatal(err)
	}
	return q
}

// orthoError returns ‖QᵀQ − I‖_max.
func orthoError(q *mat.Dense) float64 {
	n, _ := q.Dims()
	var g mat.Dense
	g.Mul(q.T(), q)
	worst := 0.0
	for i := range n {
		for j := range n {
			want := 0.0
			if i == j {
				want = 1
			}
			worst = max(worst, math.Abs(g.At(i, j)-want))
		}
	}
	return worst
}

// TestReflectorChases reduces random bands of many widths, ragged against
// their order, by the Householder chases, and checks the products of the
// recorded reflectors: orthogonal, and taking the tridiagonal (bidiagonal)
// back to the band: ‖A − Q T Qᵀ‖ and ‖A − U B Vᵀ‖ within 30·n·ε of ‖A‖.
func TestReflectorChases(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for _, n := range []int{1, 2, 3, 5, 17, 64, 100} {
		for _, b := range []int{1, 2, 3, 8, 16, 33, 130} {
			u := NewUpper(n, b)
			a := mat.NewDense(max(n, 1), max(n, 1), nil)
			for i := range n {
				for j := i; j <= min(n-1, i+b); j++ {
					v := rng.NormFloat64()
					u.Set(i, j, v)
					a.Set(i, j, v)
				}
			}
			tol := 30 * float64(max(n, 1)) * 0x1p-52 * max(mat.Norm(a, 1), 1e-300)
			// symmetric: A's upper triangle mirrored
			sym := mat.NewDense(max(n, 1), max(n, 1), nil)
			for i := range n {
				for j := i; j < n; j++ {
					sym.Set(i, j, a.At(i, j))
					sym.Set(j, i, a.At(i, j))
				}
			}
			d, e, r := (&Upper{N: n, B: b, data: append([]float64(nil), u.data...)}).tridiagonalize(true)
			q := explicitQ(t, r, n)
			tri := mat.NewDense(max(n, 1), max(n, 1), nil)
			for i := range n {
				tri.Set(i, i, d[i])
				if i+1 < n {
					tri.Set(i, i+1, e[i])
					tri.Set(i+1, i, e[i])
				}
			}
			var back mat.Dense
			back.Product(q, tri, q.T())
			back.Sub(&back, sym)
			if o, res := orthoError(q), mat.Norm(&back, 1); o > 30*float64(max(n, 1))*0x1p-52 || res > tol {
				t.Errorf("tridiagonal n=%d b=%d: ‖QᵀQ − I‖ %.3g, ‖A − Q T Qᵀ‖ %.3g (bound %.3g)", n, b, o, res, tol)
			}
			d, e, left, right := (&Upper{N: n, B: b, data: append([]float64(nil), u.data...)}).bidiagonalize(true)
			ul, vr := explicitQ(t, left, n), explicitQ(t, right, n)
			bd := mat.NewDense(max(n, 1), max(n, 1), nil)
			for i := range n {
				bd.Set(i, i, d[i])
				if i+1 < n {
					bd.Set(i, i+1, e[i])
				}
			}
			back.Reset()
			back.Product(ul, bd, vr.T())
			back.Sub(&back, a)
			if ou, ov, res := orthoError(ul), orthoError(vr), mat.Norm(&back, 1); max(ou, ov) > 30*float64(max(n, 1))*0x1p-52 || res > tol {
				t.Errorf("bidiagonal n=%d b=%d: ‖UᵀU − I‖ %.3g, ‖VᵀV − I‖ %.3g, ‖A − U B Vᵀ‖ %.3g (bound %.3g)", n, b, ou, ov, res, tol)
			}
		}
	}
}

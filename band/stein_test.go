package band

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/lapack/gonum"
	"gonum.org/v1/gonum/mat"
)

// tridiagonal returns test matrices: random, with clusters of equal and
// nearly equal eigenvalues, graded, with zero off-diagonals (so
// eigenvalues repeat across blocks), and Wilkinson's W⁺ (pairs of
// eigenvalues that agree to many digits).
func tridiagonal(rng *rand.Rand, n int, kind string) (d, e []float64) {
	d, e = make([]float64, n), make([]float64, max(n-1, 0))
	for i := range n {
		d[i] = rng.NormFloat64()
		if i < n-1 {
			e[i] = rng.NormFloat64()
		}
		switch kind {
		case "clustered": // blocks of 1 1 … joined by tiny couplings
			d[i] = float64(i % 3)
			if i < n-1 {
				e[i] = 1e-12 * rng.Float64()
			}
		case "graded":
			d[i] *= math.Pow(10, -12*float64(i)/float64(n))
			if i < n-1 {
				e[i] *= math.Pow(10, -12*float64(i)/float64(n))
			}
		case "split":
			if i < n-1 && i%4 == 3 {
				e[i] = 0
			}
			d[i] = float64(i % 4)
			if i < n-1 && i%4 != 3 {
				e[i] = 1
			}
		case "wilkinson":
			d[i] = math.Abs(float64(i - n/2))
			if i < n-1 {
				e[i] = 1
			}
		}
	}
	return d, e
}

func TestTridiagonalVectors(t *testing.T) {
	const eps = 0x1p-53
	rng := rand.New(rand.NewPCG(6, 6))
	for _, n := range []int{1, 2, 3, 10, 21, 64, 150} {
		for _, kind := range []string{"random", "clustered", "graded", "split", "wilkinson"} {
			d, e := tridiagonal(rng, n, kind)
			w := append([]float64(nil), d...)
			ew := append([]float64(nil), e...)
			if !(gonum.Implementation{}).Dsterf(n, w, ew) {
				t.Fatal("dsterf failed")
			}
			// the vectors in three ranges, as tasks compute them
			cuts := []int{0, n / 3, 2 * n / 3, n}
			z := mat.NewDense(n, n, nil)
			for c := range 3 {
				lo, hi := cuts[c], cuts[c+1]
				part, err := TridiagonalVectors(d, e, w, lo, hi)
				if err != nil {
					t.Fatal(err)
				}
				for i := range n {
					for j := lo; j < hi; j++ {
						z.Set(i, j, part[i*(hi-lo)+j-lo])
					}
				}
			}
			tm := mat.NewDense(n, n, nil)
			norm := 0.0
			for i := range n {
				tm.Set(i, i, d[i])
				if i < n-1 {
					tm.Set(i, i+1, e[i])
					tm.Set(i+1, i, e[i])
				}
			}
			norm = mat.Norm(tm, 1)
			if norm == 0 {
				norm = 1
			}
			var r mat.Dense
			r.Mul(tm, z)
			for j := range n {
				for i := range n {
					r.Set(i, j, r.At(i, j)-w[j]*z.At(i, j))
				}
			}
			var ztz mat.Dense
			ztz.Mul(z.T(), z)
			for i := range n {
				ztz.Set(i, i, ztz.At(i, i)-1)
			}
			res := mat.Norm(&r, 1) / (norm * float64(n) * eps)
			orth := mat.Norm(&ztz, 1) / (float64(n) * eps)
			if res > 30 || orth > 30 || math.IsNaN(res+orth) {
				t.Errorf("n=%d %s: ‖TZ − ZΛ‖/(‖T‖nε) = %.3g, ‖ZᵀZ − I‖/(nε) = %.3g; bound 30", n, kind, res, orth)
			}
		}
	}
}

// TestReflectorsGiveBandVectors checks that Q times the tridiagonal's
// eigenvectors are the band matrix's: ‖AV − VΛ‖ and ‖VᵀV − I‖.
func TestReflectorsGiveBandVectors(t *testing.T) {
	const eps = 0x1p-53
	rng := rand.New(rand.NewPCG(7, 7))
	for _, tc := range []struct{ n, b int }{{1, 0}, {6, 2}, {40, 5}, {97, 13}, {64, 63}} {
		u := NewUpper(tc.n, tc.b)
		a := mat.NewDense(tc.n, tc.n, nil)
		for i := range tc.n {
			for j := i; j <= min(tc.n-1, i+tc.b); j++ {
				v := rng.NormFloat64()
				u.Set(i, j, v)
				a.Set(i, j, v)
				a.Set(j, i, v)
			}
		}
		d, e, refl := u.TridiagonalizeReflectors()
		w := append([]float64(nil), d...)
		ew := append([]float64(nil), e...)
		if !(gonum.Implementation{}).Dsterf(tc.n, w, ew) {
			t.Fatal("dsterf failed")
		}
		z, err := TridiagonalVectors(d, e, w, 0, tc.n)
		if err != nil {
			t.Fatal(err)
		}
		if err := ApplyReflectors(refl, z, tc.n); err != nil {
			t.Fatal(err)
		}
		v := mat.NewDense(tc.n, tc.n, z)
		var r mat.Dense
		r.Mul(a, v)
		for j := range tc.n {
			for i := range tc.n {
				r.Set(i, j, r.At(i, j)-w[j]*v.At(i, j))
			}
		}
		var vtv mat.Dense
		vtv.Mul(v.T(), v)
		for i := range tc.n {
			vtv.Set(i, i, vtv.At(i, i)-1)
		}
		n := float64(tc.n)
		res := mat.Norm(&r, 1) / (mat.Norm(a, 1) * n * eps)
		orth := mat.Norm(&vtv, 1) / (n * eps)
		if res > 30 || orth > 30 {
			t.Errorf("n=%d b=%d: ‖AV − VΛ‖/(‖A‖nε) = %.3g, ‖VᵀV − I‖/(nε) = %.3g", tc.n, tc.b, res, orth)
		}
	}
}

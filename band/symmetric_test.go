package band

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// TestEigenvaluesMatchDsyev compares the eigenvalues of symmetric band
// matrices (random, graded, with clusters and zero rows) with gonum's
// dense symmetric eigensolver, to 1e-12 of the largest magnitude.
func TestEigenvaluesMatchDsyev(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	for _, n := range []int{1, 2, 3, 5, 17, 64, 100} {
		for _, b := range []int{0, 1, 2, 3, 8, 16, 130} {
			for _, kind := range []string{"random", "graded", "clustered", "zero rows"} {
				u := NewUpper(n, b)
				sym := mat.NewSymDense(n, nil)
				for i := range n {
					for j := i; j <= min(n-1, i+b); j++ {
						v := rng.NormFloat64()
						switch kind {
						case "graded":
							v *= math.Pow(10, -float64(12*(i+j))/float64(2*max(n, 1)))
						case "clustered":
							v *= 1e-9
							if i == j {
								v += float64(i % 2) // two clusters, at 0 and 1
							}
						case "zero rows":
							if i%3 == 1 {
								v = 0
							}
						}
						u.Set(i, j, v)
						sym.SetSym(i, j, v)
					}
				}
				var eig mat.EigenSym
				if !eig.Factorize(sym, false) {
					t.Fatal("reference eigensolver failed")
				}
				want := eig.Values(nil)
				got, err := Eigenvalues(u)
				if err != nil {
					t.Fatal(err)
				}
				scale := math.SmallestNonzeroFloat64
				for _, w := range want {
					scale = max(scale, math.Abs(w))
				}
				for i := range want {
					if d := math.Abs(got[i] - want[i]); d > 1e-12*scale {
						t.Fatalf("n=%d b=%d %s: λ[%d] = %.17g, Dsyev %.17g (difference %.3g of ‖A‖)", n, b, kind, i, got[i], want[i], d/scale)
					}
				}
			}
		}
	}
}

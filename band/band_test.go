package band

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// reference returns the singular values of the dense form of u, by
// gonum's Dgesvd.
func reference(u *Upper) []float64 {
	a := mat.NewDense(u.N, u.N, nil)
	for i := range u.N {
		for j := i; j <= min(u.N-1, i+u.B); j++ {
			a.Set(i, j, u.At(i, j))
		}
	}
	var svd mat.SVD
	if !svd.Factorize(a, mat.SVDNone) {
		panic("reference SVD failed")
	}
	return svd.Values(nil)
}

func TestSingularValuesMatchDgesvd(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, n := range []int{1, 2, 3, 5, 17, 64, 100} {
		for _, b := range []int{0, 1, 2, 3, 8, 16, 130} {
			for _, kind := range []string{"random", "graded", "rank-deficient"} {
				u := NewUpper(n, b)
				for i := range n {
					for j := i; j <= min(n-1, i+b); j++ {
						v := rng.NormFloat64()
						switch kind {
						case "graded":
							v *= math.Pow(10, -float64(12*i)/float64(max(n, 1)))
						case "rank-deficient":
							if i%3 == 1 {
								v = 0 // every third row is zero
							}
						}
						u.Set(i, j, v)
					}
				}
				want := reference(u)
				got, err := SingularValues(u)
				if err != nil {
					t.Fatal(err)
				}
				scale := max(want[0], math.SmallestNonzeroFloat64)
				for i := range want {
					if d := math.Abs(got[i] - want[i]); d > 1e-12*scale {
						t.Fatalf("n=%d b=%d %s: σ[%d] = %.17g, Dgesvd %.17g (difference %.3g of σmax)", n, b, kind, i, got[i], want[i], d/scale)
					}
				}
			}
		}
	}
}

package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/lapack/lapack64"
)

// TestGetrf2 checks the recursive LU against its definition and against
// gonum's Dgetrf: P A = L U to rounding, every multiplier at most 1 in
// magnitude (partial pivoting), and the same exchanges as Dgetrf, on
// tall, wide, square, single row and column, rank-deficient and zero
// matrices.
func TestGetrf2(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for _, c := range []struct {
		m, n int
		kind string
	}{
		{1, 1, "random"}, {1, 7, "random"}, {9, 1, "random"}, {5, 5, "random"}, {64, 64, "random"},
		{100, 37, "random"}, {37, 100, "random"}, {300, 200, "random"}, {2048, 64, "random"},
		{40, 40, "rank 5"}, {30, 20, "zero"}, {33, 33, "zero column"},
	} {
		t.Run(fmt.Sprintf("%dx%d %s", c.m, c.n, c.kind), func(t *testing.T) {
			a := randTile(rng, c.m, c.n)
			switch c.kind {
			case "rank 5":
				x, y := randTile(rng, c.m, 5), randTile(rng, 5, c.n)
				blas64.Gemm(blas.NoTrans, blas.NoTrans, 1, x, y, 0, a)
			case "zero":
				a = NewTile(c.m, c.n)
			case "zero column":
				for i := range c.m {
					a.Data[i*a.Stride+3] = 0
				}
			}
			k := min(c.m, c.n)
			f, ipiv := Clone(a), make([]int, k)
			getrf2(f, ipiv)
			g, gpiv := Clone(a), make([]int, k)
			lapack64.Getrf(g, gpiv)
			if c.kind == "random" {
				for i := range k {
					if ipiv[i] != gpiv[i] {
						t.Fatalf("exchange %d: row %d, Dgetrf's %d", i, ipiv[i], gpiv[i])
					}
				}
			}
			// P A, by the exchanges in order.
			pa := Clone(a)
			swapRows(pa, ipiv, 0)
			l, u := NewTile(c.m, k), NewTile(k, c.n)
			for i := range c.m {
				for j := range c.n {
					x := f.Data[i*f.Stride+j]
					switch {
					case j < i && j < k:
						l.Data[i*l.Stride+j] = x
						if math.Abs(x) > 1 {
							t.Fatalf("multiplier L[%d,%d] = %g, above 1", i, j, x)
						}
					case i < k && j >= i:
						u.Data[i*u.Stride+j] = x
					}
				}
				if i < k {
					l.Data[i*l.Stride+i] = 1
				}
			}
			blas64.Gemm(blas.NoTrans, blas.NoTrans, -1, l, u, 1, pa)
			norm, res := 0.0, 0.0
			for i := range c.m {
				for j := range c.n {
					norm = max(norm, math.Abs(a.Data[i*a.Stride+j]))
					res = max(res, math.Abs(pa.Data[i*pa.Stride+j]))
				}
			}
			if bound := 30 * float64(max(c.m, c.n)) * 0x1p-53 * math.Max(norm, 1e-300); res > bound && norm > 0 {
				t.Fatalf("‖PA − LU‖ = %g, bound %g", res, bound)
			}
		})
	}
}

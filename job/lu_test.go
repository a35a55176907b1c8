package job

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/mat"
)

// rowIDs returns the column 0, 1, ..., n−1.
func rowIDs(n int) blas64.General {
	g := blas64.General{Rows: n, Cols: 1, Stride: 1, Data: make([]float64, n)}
	for i := range n {
		g.Data[i] = float64(i)
	}
	return g
}

func luSpec(t *testing.T, a blas64.General, block int) Spec {
	return Spec{Plan: plan(t, "lu", fmt.Sprintf("N=%d", tiles(a.Rows, block))), Block: block,
		Inputs: []Input{{Name: "A", Array: a}, {Name: "ROWS", Array: rowIDs(a.Rows)}}, Outputs: []string{"L", "U", "PIV"}}
}

// maxAbs is the largest magnitude of an entry.
func maxAbs(g blas64.General) float64 {
	m := 0.0
	for i := range g.Rows {
		for j := range g.Cols {
			m = max(m, math.Abs(g.Data[i*g.Stride+j]))
		}
	}
	return m
}

// gepGrowth is max|U|/max|A| of LAPACK's partial pivoting, for comparison.
func gepGrowth(a blas64.General) float64 {
	var lu mat.LU
	lu.Factorize(dense(a))
	var u mat.TriDense
	lu.UTo(&u)
	return maxAbsMat(&u) / maxAbs(a)
}

func maxAbsMat(m mat.Matrix) float64 {
	r, c := m.Dims()
	v := 0.0
	for i := range r {
		for j := range c {
			v = max(v, math.Abs(m.At(i, j)))
		}
	}
	return v
}

func TestLU(t *testing.T) {
	rng := rand.New(rand.NewPCG(16, 16))
	for _, tc := range []struct {
		n, block int
		kind     string
	}{
		{8, 8, "random"}, {5, 8, "random"}, {20, 8, "random"}, {33, 8, "random"}, {64, 16, "random"},
		{48, 8, "zero leading diagonal"}, {30, 4, "tiny leading pivots"}, {40, 8, "permutation-like"},
	} {
		t.Run(fmt.Sprintf("%s/n=%d,block=%d", tc.kind, tc.n, tc.block), func(t *testing.T) {
			env, _, _ := testEnv(t)
			a := randomDense(rng, tc.n, tc.n)
			switch tc.kind {
			case "zero leading diagonal": // no-pivot LU fails at the first step of every tile
				for i := range tc.n {
					a.Data[i*tc.n+i] = 0
				}
			case "tiny leading pivots": // no-pivot LU would divide by 1e-14
				for i := range tc.n {
					a.Data[i*tc.n+i] = 1e-14
				}
			case "permutation-like": // a scrambled identity plus noise
				for i := range a.Data {
					a.Data[i] *= 1e-3
				}
				for i := range tc.n {
					a.Data[i*tc.n+(i*7+3)%tc.n] += 1
				}
			}
			res := runJob(t, env, luSpec(t, a, tc.block), fast())
			l := assemble(t, env, res, "L", nil)
			u := assemble(t, env, res, "U", nil)
			pcol := assemble(t, env, res, "PIV", nil)
			if l.Rows != tc.n || u.Rows != tc.n || pcol.Rows != tc.n || pcol.Cols != 1 {
				t.Fatalf("L %d×%d, U %d×%d, P %d×%d", l.Rows, l.Cols, u.Rows, u.Cols, pcol.Rows, pcol.Cols)
			}
			seen := make([]bool, tc.n)
			pa := mat.NewDense(tc.n, tc.n, nil)
			for i := range tc.n {
				p := int(pcol.Data[i])
				if p < 0 || p >= tc.n || seen[p] || float64(p) != pcol.Data[i] {
					t.Fatalf("P is not a permutation: %v", pcol.Data)
				}
				seen[p] = true
				pa.SetRow(i, a.Data[p*tc.n:(p+1)*tc.n])
			}
			for i := range tc.n {
				if l.Data[i*tc.n+i] != 1 {
					t.Fatalf("L[%d,%d] = %v, want 1", i, i, l.Data[i*tc.n+i])
				}
				for j := i + 1; j < tc.n; j++ {
					if l.Data[i*tc.n+j] != 0 || u.Data[j*tc.n+i] != 0 {
						t.Fatalf("L or U not triangular at (%d,%d)", i, j)
					}
				}
			}
			var lu mat.Dense
			lu.Mul(dense(l), dense(u))
			lu.Sub(pa, &lu)
			check(t, "‖A[P,:] − LU‖/(‖A‖·n·ε)", mat.Norm(&lu, 2)/(mat.Norm(dense(a), 2)*float64(tc.n)*eps))
			growth, ref := maxAbs(u)/maxAbs(a), gepGrowth(a)
			if growth > 10*ref+1 {
				t.Errorf("growth factor %.3g; partial pivoting's is %.3g", growth, ref)
			}
			if m := maxAbs(l); m > 20 {
				t.Errorf("|L| reaches %.3g", m)
			}
		})
	}
}

func TestLUSingular(t *testing.T) {
	env, _, _ := testEnv(t)
	a := randomDense(rand.New(rand.NewPCG(17, 17)), 16, 16)
	for i := range 16 { // column 5 is twice column 2
		a.Data[i*16+5] = 2 * a.Data[i*16+2]
	}
	_, err := Run(context.Background(), env, luSpec(t, a, 8), fast())
	var jerr *Error
	if !errors.As(err, &jerr) || !strings.Contains(err.Error(), "singular") {
		t.Fatalf("got %v, want a job error saying the matrix is singular", err)
	}
}

package job

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/mat"
)

// backwardError is ‖A X − B‖/(‖A‖·‖X‖·n·ε).
func backwardError(a, x, b blas64.General) float64 {
	var ax mat.Dense
	ax.Mul(dense(a), dense(x))
	ax.Sub(&ax, dense(b))
	return mat.Norm(&ax, 2) / (mat.Norm(dense(a), 2) * mat.Norm(dense(x), 2) * float64(a.Rows) * eps)
}

// lowerTriangular returns a random well-conditioned lower triangle.
func lowerTriangular(rng *rand.Rand, n int) blas64.General {
	l := randomDense(rng, n, n)
	for i := range n {
		for j := i + 1; j < n; j++ {
			l.Data[i*n+j] = 0
		}
		l.Data[i*n+i] = float64(n) / 2
	}
	return l
}

func transpose(g blas64.General) blas64.General {
	var t mat.Dense
	t.CloneFrom(dense(g).T())
	return t.RawMatrix()
}

func TestTriangularSolves(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 11))
	for _, tc := range []struct{ n, nrhs, block int }{{5, 1, 8}, {17, 3, 8}, {32, 32, 8}, {30, 7, 4}} {
		for op, name := range []string{"L X = B", "Lᵀ X = B", "U X = B"} {
			t.Run(fmt.Sprintf("%s/n=%d,nrhs=%d,block=%d", name, tc.n, tc.nrhs, tc.block), func(t *testing.T) {
				env, _, _ := testEnv(t)
				l := lowerTriangular(rng, tc.n)
				tri, sys := l, l // the tiles given, and the matrix of the system
				switch op {
				case 1:
					sys = transpose(l)
				case 2:
					tri = transpose(l)
					sys = tri
				}
				b := randomDense(rng, tc.n, tc.nrhs)
				args := fmt.Sprintf("N=%d NRHS=%d OP=%d", tiles(tc.n, tc.block), tiles(tc.nrhs, tc.block), op)
				spec := Spec{Plan: plan(t, "trsolve", args), Block: tc.block,
					Inputs: []Input{{Name: "T", Array: tri}, {Name: "B", Array: b}}, Outputs: []string{"X"}}
				res := runJob(t, env, spec, fast())
				check(t, "‖TX − B‖", backwardError(sys, assemble(t, env, res, "X", nil), b))
			})
		}
	}
}

func TestPOSV(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 12))
	for _, tc := range []struct{ n, nrhs, block int }{{1, 1, 4}, {9, 2, 8}, {33, 5, 8}, {64, 64, 16}, {50, 1, 7}} {
		t.Run(fmt.Sprintf("n=%d,nrhs=%d,block=%d", tc.n, tc.nrhs, tc.block), func(t *testing.T) {
			env, _, _ := testEnv(t)
			a, b := spd(rng, tc.n), randomDense(rng, tc.n, tc.nrhs)
			args := fmt.Sprintf("N=%d NRHS=%d", tiles(tc.n, tc.block), tiles(tc.nrhs, tc.block))
			spec := Spec{Plan: plan(t, "posv", args), Block: tc.block,
				Inputs: []Input{{Name: "S", Array: a}, {Name: "B", Array: b}}, Outputs: []string{"X"}}
			res := runJob(t, env, spec, fast())
			check(t, "‖AX − B‖", backwardError(a, assemble(t, env, res, "X", nil), b))
		})
	}
}

package job

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/mat"
)

// identityColumns returns the first k columns of the m×m identity.
func identityColumns(m, k int) blas64.General {
	e := blas64.General{Rows: m, Cols: k, Stride: k, Data: make([]float64, m*k)}
	for i := range min(m, k) {
		e.Data[i*k+i] = 1
	}
	return e
}

// qrJobs factors a, then forms thin Q; it returns R, Q and the QR result.
func qrJobs(t *testing.T, env Env, a blas64.General, block int) (r, q blas64.General, res *Result) {
	t.Helper()
	mt, nt := tiles(a.Rows, block), tiles(a.Cols, block)
	kt := min(mt, nt)
	factors := []string{"Vl", "Tl", "Vt", "Tt"}
	spec := Spec{Plan: plan(t, "qr", fmt.Sprintf("MT=%d NT=%d", mt, nt)), Block: block,
		Inputs: []Input{{Name: "A", Array: a}}, Outputs: append([]string{"R"}, factors...)}
	res = runJob(t, env, spec, fast())
	r = assemble(t, env, res, "R", nil)
	k := min(a.Rows, a.Cols)
	apply := Spec{Plan: plan(t, "qr_apply_q", fmt.Sprintf("MT=%d KT=%d NB=%d OFF=0", mt, kt, tiles(k, block))), Block: block,
		Inputs: []Input{{Name: "E", Array: identityColumns(a.Rows, k)}}, Outputs: []string{"Q"}}
	for _, f := range factors {
		apply.Inputs = append(apply.Inputs, Input{Name: f, Tiles: res.Matrices[f]})
	}
	qres := runJob(t, env, apply, fast())
	q = assemble(t, env, qres, "Q", nil)
	return r, q, res
}

func TestQR(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 13))
	for _, tc := range []struct{ m, n, block int }{
		{8, 8, 8},   // one tile
		{5, 3, 8},   // one ragged tile
		{20, 20, 8}, // square, ragged
		{40, 12, 8}, // tall
		{37, 10, 8}, // tall, ragged, a last panel narrower than its tiles
		{64, 64, 16},
		{100, 30, 8}, // many tiles: 13 x 4
		{24, 40, 8},  // wide
	} {
		t.Run(fmt.Sprintf("%dx%d,block=%d", tc.m, tc.n, tc.block), func(t *testing.T) {
			env, _, _ := testEnv(t)
			a := randomDense(rng, tc.m, tc.n)
			r, q, _ := qrJobs(t, env, a, tc.block)
			k := min(tc.m, tc.n)
			if r.Rows != k || r.Cols != tc.n || q.Rows != tc.m || q.Cols != k {
				t.Fatalf("R is %d×%d and Q %d×%d", r.Rows, r.Cols, q.Rows, q.Cols)
			}
			for i := range r.Rows {
				for j := range min(i, r.Cols) {
					if r.Data[i*r.Stride+j] != 0 {
						t.Fatalf("R is not upper triangular at (%d,%d)", i, j)
					}
				}
			}
			var qr, qtq mat.Dense
			qr.Mul(dense(q), dense(r))
			qr.Sub(dense(a), &qr)
			check(t, "‖A − QR‖/(‖A‖·n·ε)", mat.Norm(&qr, 2)/(mat.Norm(dense(a), 2)*float64(tc.n)*eps))
			qtq.Mul(dense(q).T(), dense(q))
			qtq.Sub(&qtq, dense(identityColumns(k, k)))
			check(t, "‖QᵀQ − I‖/(n·ε)", mat.Norm(&qtq, 2)/(float64(tc.n)*eps))
		})
	}
}

// TestLeastSquares solves min ‖Ax − b‖ for tall A with the chain QR,
// x = R⁻¹ (Qᵀ b)[:n], and compares with gonum's dense solution.
func TestLeastSquares(t *testing.T) {
	rng := rand.New(rand.NewPCG(14, 14))
	for _, tc := range []struct{ m, n, nrhs, block int }{{30, 10, 1, 8}, {64, 16, 3, 8}, {50, 50, 2, 16}} {
		t.Run(fmt.Sprintf("%dx%d,nrhs=%d", tc.m, tc.n, tc.nrhs), func(t *testing.T) {
			env, _, _ := testEnv(t)
			a, b := randomDense(rng, tc.m, tc.n), randomDense(rng, tc.m, tc.nrhs)
			mt, nt := tiles(tc.m, tc.block), tiles(tc.n, tc.block)
			factors := []string{"Vl", "Tl", "Vt", "Tt"}
			qrRes := runJob(t, env, Spec{Plan: plan(t, "qr", fmt.Sprintf("MT=%d NT=%d", mt, nt)), Block: tc.block,
				Inputs: []Input{{Name: "A", Array: a}}, Outputs: append([]string{"R"}, factors...)}, fast())
			apply := Spec{Plan: plan(t, "qr_apply_qt", fmt.Sprintf("MT=%d KT=%d NB=%d", mt, nt, tiles(tc.nrhs, tc.block))), Block: tc.block,
				Inputs: []Input{{Name: "B", Array: b}}, Outputs: []string{"C"}}
			for _, f := range factors {
				apply.Inputs = append(apply.Inputs, Input{Name: f, Tiles: qrRes.Matrices[f]})
			}
			cRes := runJob(t, env, apply, fast())
			// C's tiles are whole row tiles of Qᵀb; the system is its first n rows.
			c := assemble(t, env, cRes, "C", nil)
			c.Rows = tc.n
			solve := Spec{Plan: plan(t, "trsolve", fmt.Sprintf("N=%d NRHS=%d OP=2", nt, tiles(tc.nrhs, tc.block))), Block: tc.block,
				Inputs: []Input{{Name: "T", Tiles: qrRes.Matrices["R"]}, {Name: "B", Array: c}}, Outputs: []string{"X"}}
			xRes := runJob(t, env, solve, fast())
			x := assemble(t, env, xRes, "X", nil)
			var want mat.Dense
			var qr mat.QR
			qr.Factorize(dense(a))
			if err := qr.SolveTo(&want, false, dense(b)); err != nil {
				t.Fatal(err)
			}
			var diff mat.Dense
			diff.Sub(dense(x), &want)
			if rel := mat.Norm(&diff, 2) / mat.Norm(&want, 2); rel > 1e-12 {
				t.Errorf("‖x − x_gonum‖/‖x_gonum‖ = %.3g", rel)
			}
		})
	}
}

package kernels

// The kernels of an SPD inverse in LAPACK's potri order: the Cholesky
// factor L is inverted (trtri on the diagonal tiles, neg_solve_lower and
// products below them), and A⁻¹ = L⁻ᵀ L⁻¹ is formed from products of
// transposed tiles (gemm_tn, gemm_add_tn), its upper tiles as transposes
// of its lower ones.

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/lapack/lapack64"

	lp "github.com/npw-dev/npw/lambdapack"
)

func init() {
	register(updating(&Kernel{Name: "trtri", Flops: func(in []blas64.General) float64 {
		n := float64(in[0].Rows)
		return n * n * n / 3
	}}, trtri))
	register(updating(&Kernel{Name: "neg_solve_lower", Updates: []int{1}, Flops: func(in []blas64.General) float64 {
		n := float64(in[0].Rows)
		return n * n * float64(in[1].Cols)
	}}, negSolveLower))
	register(&Kernel{Name: "gemm_tn", Run: func(in []blas64.General, _ []lp.Value) ([]blas64.General, error) {
		a, b := in[0], in[1]
		if a.Rows != b.Rows {
			return nil, shapeErr("gemm_tn", "Aᵀ B needs A k×m and B k×n, got A %s, B %s", Shape(a), Shape(b))
		}
		c := NewTile(a.Cols, b.Cols)
		if a.Rows > 0 && c.Rows > 0 && c.Cols > 0 {
			blas64.Gemm(blas.Trans, blas.NoTrans, 1, a, b, 0, c)
		}
		return []blas64.General{c}, nil
	}, Flops: func(in []blas64.General) float64 {
		return 2 * float64(in[0].Cols) * float64(in[0].Rows) * float64(in[1].Cols)
	}})
	register(updating(&Kernel{Name: "gemm_add_tn", Flops: func(in []blas64.General) float64 {
		return 2 * float64(in[1].Cols) * float64(in[1].Rows) * float64(in[2].Cols)
	}}, gemmAddTN))
	register(&Kernel{Name: "unit_lower_tn", Run: unitLowerTN, Flops: func(in []blas64.General) float64 {
		return unitLowerFlops(in[0], in[1].Cols)
	}})
	register(updating(&Kernel{Name: "unit_lower_sub", Flops: func(in []blas64.General) float64 {
		return unitLowerFlops(in[1], in[0].Cols)
	}}, unitLowerSub))
	upperFlops := func(in []blas64.General) float64 {
		n := float64(in[0].Rows)
		return n * n * float64(in[1].Cols)
	}
	register(updating(&Kernel{Name: "upper_tn", Updates: []int{1}, Flops: upperFlops}, upperMul("upper_tn", blas.Trans)))
	register(updating(&Kernel{Name: "upper_nn", Updates: []int{1}, Flops: upperFlops}, upperMul("upper_nn", blas.NoTrans)))
	register(&Kernel{Name: "transpose", Run: func(in []blas64.General, _ []lp.Value) ([]blas64.General, error) {
		return []blas64.General{Transpose(in[0])}, nil
	}, Flops: func([]blas64.General) float64 { return 0 }})
}

// trtri inverts a lower triangular tile (LAPACK dtrtri); its upper
// triangle is neither read nor kept: the inverse's is zero.
func trtri(in []blas64.General, _ []lp.Value, inPlace bool) ([]blas64.General, error) {
	a := in[0]
	if a.Rows != a.Cols {
		return nil, shapeErr("trtri", "needs a square tile, got %s", Shape(a))
	}
	if err := checkDiagonal(a); err != nil {
		return nil, err
	}
	w := own(a, inPlace)
	n := w.Rows
	for i := range n {
		clear(w.Data[i*w.Stride+i+1 : i*w.Stride+n])
	}
	if n > 0 && !lapack64.Trtri(triangular(w, blas.Lower)) {
		return nil, ErrSingular
	}
	return []blas64.General{w}, nil
}

// negSolveLower is −L⁻¹ B.
func negSolveLower(in []blas64.General, _ []lp.Value, inPlace bool) ([]blas64.General, error) {
	x, err := solveTriangular("neg_solve_lower", blas.Lower, blas.NoTrans, in[0], in[1], inPlace)
	if err != nil {
		return nil, err
	}
	for i := range x.Rows {
		row := x.Data[i*x.Stride : i*x.Stride+x.Cols]
		for j := range row {
			row[j] = -row[j]
		}
	}
	return []blas64.General{x}, nil
}

// gemmAddTN is C + Aᵀ B.
func gemmAddTN(in []blas64.General, _ []lp.Value, inPlace bool) ([]blas64.General, error) {
	c0, a, b := in[0], in[1], in[2]
	if a.Rows != b.Rows || c0.Rows != a.Cols || c0.Cols != b.Cols {
		return nil, shapeErr("gemm_add_tn", "C + Aᵀ B needs C m×n, A k×m and B k×n, got C %s, A %s, B %s", Shape(c0), Shape(a), Shape(b))
	}
	c := own(c0, inPlace)
	if a.Rows > 0 && c.Rows > 0 && c.Cols > 0 {
		blas64.Gemm(blas.Trans, blas.NoTrans, 1, a, b, 1, c)
	}
	return []blas64.General{c}, nil
}

// A panel's block reflector has V unit lower trapezoidal: its top tile
// (geqrf.lp's VC[k, k]) is a unit lower triangle over a dense block, as
// LAPACK's dlarfb has it. unit_lower_tn and unit_lower_sub take that
// tile's products with a triangular multiply for the triangle (half
// gemm's flops) and a gemm for the block below it; V's diagonal is
// taken as ones and its upper triangle as zeros, neither read.

// unitLowerTN computes Vᵀ C for V m×w unit lower trapezoidal.
func unitLowerTN(in []blas64.General, _ []lp.Value) ([]blas64.General, error) {
	v, c := in[0], in[1]
	if v.Rows != c.Rows {
		return nil, shapeErr("unit_lower_tn", "Vᵀ C needs V m×w and C m×n, got V %s, C %s", Shape(v), Shape(c))
	}
	x := NewTile(v.Cols, c.Cols)
	r := min(v.Rows, v.Cols) // the triangle's side; V's columns past it are zero
	if r == 0 || c.Cols == 0 {
		return []blas64.General{x}, nil
	}
	top := view(x, 0, 0, r, c.Cols)
	copyInto(top, view(c, 0, 0, r, c.Cols))
	blas64.Trmm(blas.Left, blas.Trans, 1, lowerTri(view(v, 0, 0, r, r), blas.Unit), top)
	if v.Rows > r {
		blas64.Gemm(blas.Trans, blas.NoTrans, 1, view(v, r, 0, v.Rows-r, r), view(c, r, 0, c.Rows-r, c.Cols), 1, top)
	}
	return []blas64.General{x}, nil
}

// unitLowerSub computes C − V Z for V m×w unit lower trapezoidal, in C's
// memory when inPlace.
func unitLowerSub(in []blas64.General, _ []lp.Value, inPlace bool) ([]blas64.General, error) {
	c0, v, z := in[0], in[1], in[2]
	if v.Rows != c0.Rows || z.Rows != v.Cols || z.Cols != c0.Cols {
		return nil, shapeErr("unit_lower_sub", "C − V Z needs C m×n, V m×w and Z w×n, got C %s, V %s, Z %s", Shape(c0), Shape(v), Shape(z))
	}
	c := own(c0, inPlace)
	r := min(v.Rows, v.Cols)
	if r == 0 || c.Cols == 0 {
		return []blas64.General{c}, nil
	}
	w := NewTile(r, c.Cols) // V's triangle times Z's first rows
	copyInto(w, view(z, 0, 0, r, z.Cols))
	blas64.Trmm(blas.Left, blas.NoTrans, 1, lowerTri(view(v, 0, 0, r, r), blas.Unit), w)
	subInto(view(c, 0, 0, r, c.Cols), w)
	if v.Rows > r {
		blas64.Gemm(blas.NoTrans, blas.NoTrans, -1, view(v, r, 0, v.Rows-r, r), view(z, 0, 0, r, z.Cols), 1, view(c, r, 0, c.Rows-r, c.Cols))
	}
	return []blas64.General{c}, nil
}

// unitLowerFlops counts a product with V m×w unit lower trapezoidal
// and n columns: the triangle's multiply and the gemm below it.
func unitLowerFlops(v blas64.General, n int) float64 {
	r := float64(min(v.Rows, v.Cols))
	return r*r*float64(n) + 2*float64(v.Rows-int(r))*r*float64(n)
}

// upperMul returns the kernel of Tᵀ X (upper_tn, trans) or T X
// (upper_nn) for T upper triangular, a block reflector's T: geqrf.lp's
// and wy_apply_qt.lp's Z = Tᵀ X, wy_apply_q.lp's Z = T X. A triangular
// multiply, in X's memory when inPlace; T's lower triangle is not read.
func upperMul(name string, trans blas.Transpose) func([]blas64.General, []lp.Value, bool) ([]blas64.General, error) {
	what := "T X"
	if trans == blas.Trans {
		what = "Tᵀ X"
	}
	return func(in []blas64.General, _ []lp.Value, inPlace bool) ([]blas64.General, error) {
		t, x0 := in[0], in[1]
		if t.Rows != t.Cols || x0.Rows != t.Rows {
			return nil, shapeErr(name, "%s needs T k×k and X k×n, got T %s, X %s", what, Shape(t), Shape(x0))
		}
		x := own(x0, inPlace)
		if t.Rows > 0 && x.Cols > 0 {
			blas64.Trmm(blas.Left, trans, 1, upperTri(t, blas.NonUnit), x)
		}
		return []blas64.General{x}, nil
	}
}

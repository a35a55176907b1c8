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

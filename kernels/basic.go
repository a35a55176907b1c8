package kernels

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/lapack/lapack64"

	lp "github.com/npw-dev/npw/lambdapack"
)

func init() {
	register(updating(&Kernel{Name: "chol", Flops: func(in []blas64.General) float64 {
		n := float64(in[0].Rows)
		return n * n * n / 3
	}}, chol))
	register(updating(&Kernel{Name: "trsm", Updates: []int{1}, Flops: func(in []blas64.General) float64 {
		n := float64(in[0].Rows)
		return float64(in[1].Rows) * n * n
	}}, trsm))
	register(&Kernel{Name: "syrk", Run: runSyrk, Update: updateSyrk, Flops: func(in []blas64.General) float64 {
		m, p, k := float64(in[1].Rows), float64(in[2].Rows), float64(in[1].Cols)
		if sameTile(in[1], in[2]) {
			return m * (m + 1) * k
		}
		return 2 * m * p * k
	}})
	register(&Kernel{Name: "gemm", Run: runGemm, Flops: func(in []blas64.General) float64 {
		return 2 * float64(in[0].Rows) * float64(in[0].Cols) * float64(in[1].Cols)
	}})
	register(&Kernel{Name: "gemm_add", Run: runGemmAdd, Update: func(in []blas64.General, _ []lp.Value) ([]blas64.General, error) {
		return gemmUpdate("gemm_add", "C + A B", 1, in, true)
	}, Flops: func(in []blas64.General) float64 {
		return 2 * float64(in[1].Rows) * float64(in[1].Cols) * float64(in[2].Cols)
	}})
	register(&Kernel{Name: "gemm_sub", Run: runGemmSub, Update: func(in []blas64.General, _ []lp.Value) ([]blas64.General, error) {
		return gemmUpdate("gemm_sub", "C − A B", -1, in, true)
	}, Flops: func(in []blas64.General) float64 {
		return 2 * float64(in[1].Rows) * float64(in[1].Cols) * float64(in[2].Cols)
	}})
	register(updating(&Kernel{Name: "gemm_sub_tn", Flops: func(in []blas64.General) float64 {
		return 2 * float64(in[1].Cols) * float64(in[1].Rows) * float64(in[2].Cols)
	}}, gemmSubTN))
	register(updating(&Kernel{Name: "add", Flops: func(in []blas64.General) float64 {
		return float64(len(in)-1) * float64(in[0].Rows) * float64(in[0].Cols)
	}}, add))
	register(updating(&Kernel{Name: "identity", Flops: func([]blas64.General) float64 { return 0 }, ByValue: true},
		func(in []blas64.General, _ []lp.Value, inPlace bool) ([]blas64.General, error) {
			return []blas64.General{own(in[0], inPlace)}, nil
		}))
	register(updating(&Kernel{Name: "scale", Flops: func(in []blas64.General) float64 {
		return float64(in[0].Rows) * float64(in[0].Cols)
	}}, scale))
	for _, s := range []struct {
		name  string
		uplo  blas.Uplo
		trans blas.Transpose
	}{{"solve_lower", blas.Lower, blas.NoTrans}, {"solve_lower_t", blas.Lower, blas.Trans}, {"solve_upper", blas.Upper, blas.NoTrans}} {
		register(updating(&Kernel{Name: s.name, Updates: []int{1}, Flops: func(in []blas64.General) float64 {
			n := float64(in[0].Rows)
			return n * n * float64(in[1].Cols)
		}}, func(in []blas64.General, _ []lp.Value, inPlace bool) ([]blas64.General, error) {
			return one(solveTriangular(s.name, s.uplo, s.trans, in[0], in[1], inPlace))
		}))
	}
}

// chol computes the lower Cholesky factor L of an SPD tile, A = L Lᵀ
// (LAPACK dpotrf); only the lower triangle of A is read.
func chol(in []blas64.General, _ []lp.Value, inPlace bool) ([]blas64.General, error) {
	a := in[0]
	if a.Rows != a.Cols {
		return nil, shapeErr("chol", "needs a square tile, got %s", Shape(a))
	}
	l := own(a, inPlace)
	n := l.Rows
	if n > 0 {
		if _, ok := lapack64.Potrf(blas64.Symmetric{Uplo: blas.Lower, N: n, Stride: l.Stride, Data: l.Data}); !ok {
			return nil, ErrNotPositiveDefinite
		}
	}
	for i := range n {
		clear(l.Data[i*l.Stride+i+1 : i*l.Stride+n])
	}
	return []blas64.General{l}, nil
}

// trsm solves X Lᵀ = B for X, with L lower triangular: the Cholesky
// panel update X = B L⁻ᵀ (BLAS dtrsm, right side, transposed).
func trsm(in []blas64.General, _ []lp.Value, inPlace bool) ([]blas64.General, error) {
	l, b := in[0], in[1]
	if l.Rows != l.Cols || b.Cols != l.Rows {
		return nil, shapeErr("trsm", "needs a square L and B with as many columns as L, got L %s and B %s", Shape(l), Shape(b))
	}
	if err := checkDiagonal(l); err != nil {
		return nil, err
	}
	x := own(b, inPlace)
	blas64.Trsm(blas.Right, blas.Trans, 1, triangular(l, blas.Lower), x)
	return []blas64.General{x}, nil
}

// runSyrk computes S − X Yᵀ, the Cholesky trailing update. When X and Y
// are the same tile (a diagonal block), the lower triangle comes from
// dsyrk at half the cost of dgemm and the upper triangle is completed
// from it, so the result is the full S − X Xᵀ even for a non-symmetric S.
func runSyrk(in []blas64.General, _ []lp.Value) ([]blas64.General, error) {
	return syrk(in, false)
}

// updateSyrk is runSyrk computing in S's memory.
func updateSyrk(in []blas64.General, _ []lp.Value) ([]blas64.General, error) {
	return syrk(in, true)
}

// syrk computes S − X Yᵀ, in S's memory if inPlace.
func syrk(in []blas64.General, inPlace bool) ([]blas64.General, error) {
	s, x, y := in[0], in[1], in[2]
	if x.Cols != y.Cols || s.Rows != x.Rows || s.Cols != y.Rows {
		return nil, shapeErr("syrk", "S − X Yᵀ needs S m×p, X m×k and Y p×k, got S %s, X %s, Y %s", Shape(s), Shape(x), Shape(y))
	}
	c := s
	if !inPlace {
		c = Clone(s)
	}
	if !sameTile(x, y) || c.Rows == 0 {
		blas64.Gemm(blas.NoTrans, blas.Trans, -1, x, y, 1, c)
		return []blas64.General{c}, nil
	}
	// X Xᵀ = P is symmetric and dsyrk computes only C's lower triangle,
	// so the upper one comes from it: for i < j, S[i][j] − P[i][j] =
	// (S[i][j] − S[j][i]) + (S[j][i] − P[j][i]). Keeping S[i][j] − S[j][i]
	// (zero for a symmetric S) in the upper triangle while dsyrk
	// overwrites the lower one makes that work in C's own memory.
	n := c.Rows
	addTransposed(c, -1)
	blas64.Syrk(blas.NoTrans, -1, x, 1, blas64.Symmetric{Uplo: blas.Lower, N: n, Stride: c.Stride, Data: c.Data})
	addTransposed(c, 1)
	return []blas64.General{c}, nil
}

// addTransposed adds sign times the strict lower triangle of the square
// tile c, transposed, to its strict upper one: c[i][j] += sign·c[j][i]
// for i < j. It goes by 64×64 blocks, so that the column-wise reads of
// the lower triangle stay in cache: row by row over a 2048 tile it took
// 38 ms, 3% of a Cholesky's compute at n = 16384 (pprof).
func addTransposed(c blas64.General, sign float64) {
	const bs = 64
	n := c.Rows
	for bi := 0; bi < n; bi += bs {
		for bj := bi; bj < n; bj += bs {
			for i := bi; i < min(bi+bs, n); i++ {
				row := c.Data[i*c.Stride:]
				for j := max(bj, i+1); j < min(bj+bs, n); j++ {
					row[j] += sign * c.Data[j*c.Stride+i]
				}
			}
		}
	}
}

// runGemm computes A B.
func runGemm(in []blas64.General, _ []lp.Value) ([]blas64.General, error) {
	a, b := in[0], in[1]
	if a.Cols != b.Rows {
		return nil, shapeErr("gemm", "A B needs A's columns to match B's rows, got A %s and B %s", Shape(a), Shape(b))
	}
	c := NewTile(a.Rows, b.Cols)
	if a.Cols > 0 && c.Rows > 0 && c.Cols > 0 {
		blas64.Gemm(blas.NoTrans, blas.NoTrans, 1, a, b, 0, c)
	}
	return []blas64.General{c}, nil
}

// runGemmAdd computes C + A B.
func runGemmAdd(in []blas64.General, _ []lp.Value) ([]blas64.General, error) {
	return gemmUpdate("gemm_add", "C + A B", 1, in, false)
}

// runGemmSub computes C − A B.
func runGemmSub(in []blas64.General, _ []lp.Value) ([]blas64.General, error) {
	return gemmUpdate("gemm_sub", "C − A B", -1, in, false)
}

// gemmUpdate computes C + alpha A B into a new tile, or in C's memory if
// inPlace.
func gemmUpdate(name, what string, alpha float64, in []blas64.General, inPlace bool) ([]blas64.General, error) {
	c0, a, b := in[0], in[1], in[2]
	if a.Cols != b.Rows || c0.Rows != a.Rows || c0.Cols != b.Cols {
		return nil, shapeErr(name, "%s needs C m×n, A m×k and B k×n, got C %s, A %s, B %s", what, Shape(c0), Shape(a), Shape(b))
	}
	c := c0
	if !inPlace {
		c = Clone(c0)
	}
	if a.Cols > 0 && c.Rows > 0 && c.Cols > 0 {
		blas64.Gemm(blas.NoTrans, blas.NoTrans, alpha, a, b, 1, c)
	}
	return []blas64.General{c}, nil
}

// gemmSubTN computes C − Aᵀ B.
func gemmSubTN(in []blas64.General, _ []lp.Value, inPlace bool) ([]blas64.General, error) {
	c0, a, b := in[0], in[1], in[2]
	if a.Rows != b.Rows || c0.Rows != a.Cols || c0.Cols != b.Cols {
		return nil, shapeErr("gemm_sub_tn", "C − Aᵀ B needs C m×n, A k×m and B k×n, got C %s, A %s, B %s", Shape(c0), Shape(a), Shape(b))
	}
	c := own(c0, inPlace)
	if a.Rows > 0 && c.Rows > 0 && c.Cols > 0 {
		blas64.Gemm(blas.Trans, blas.NoTrans, -1, a, b, 1, c)
	}
	return []blas64.General{c}, nil
}

// add sums two or more tiles of one shape, left to right.
func add(in []blas64.General, _ []lp.Value, inPlace bool) ([]blas64.General, error) {
	for _, t := range in[1:] {
		if t.Rows != in[0].Rows || t.Cols != in[0].Cols {
			return nil, shapeErr("add", "needs tiles of one shape, got %s and %s", Shape(in[0]), Shape(t))
		}
	}
	s := own(in[0], inPlace)
	for _, t := range in[1:] {
		for i := range s.Rows {
			row := s.Data[i*s.Stride : i*s.Stride+s.Cols]
			blas64.Implementation().Daxpy(s.Cols, 1, t.Data[i*t.Stride:], 1, row, 1)
		}
	}
	return []blas64.General{s}, nil
}

// scale computes alpha A.
func scale(in []blas64.General, scalars []lp.Value, inPlace bool) ([]blas64.General, error) {
	alpha := scalarFloat(scalars[0])
	s := own(in[0], inPlace)
	for i := range s.Rows {
		blas64.Implementation().Dscal(s.Cols, alpha, s.Data[i*s.Stride:], 1)
	}
	return []blas64.General{s}, nil
}

// solveTriangular computes op(T)⁻¹ B for a square triangular T, in B's
// memory if inPlace.
func solveTriangular(name string, uplo blas.Uplo, trans blas.Transpose, t, b blas64.General, inPlace bool) (blas64.General, error) {
	if t.Rows != t.Cols || b.Rows != t.Rows {
		return blas64.General{}, shapeErr(name, "needs a square triangle and B with as many rows, got %s and B %s", Shape(t), Shape(b))
	}
	if err := checkDiagonal(t); err != nil {
		return blas64.General{}, err
	}
	x := own(b, inPlace)
	if x.Rows > 0 && x.Cols > 0 {
		blas64.Trsm(blas.Left, trans, 1, triangular(t, uplo), x)
	}
	return x, nil
}

func triangular(t blas64.General, uplo blas.Uplo) blas64.Triangular {
	return blas64.Triangular{Uplo: uplo, Diag: blas.NonUnit, N: t.Rows, Stride: t.Stride, Data: t.Data}
}

func checkDiagonal(t blas64.General) error {
	for i := range t.Rows {
		if t.Data[i*t.Stride+i] == 0 {
			return ErrSingular
		}
	}
	return nil
}

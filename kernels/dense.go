package kernels

// numpywren's Householder updates. numpywren applies Qᵀ = I − V Tᵀ Vᵀ
// with three dense NumPy products, using none of the structure that
// qr_leaf and qr_trailing_update exploit (V unit lower triangular, T
// upper triangular, the lower part of a stacked factor's V triangular):
// a leaf costs 6b³ flops on b×b tiles where qr_leaf's costs 3b³, and a
// tree update 6b³ where qr_trailing_update's costs 3b³. npw's programs do
// not call these kernels. They exist so that numpywren's own QR program
// runs, is timed by npw simulate --calibrate and is simulated with the
// kernels the paper ran.

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"

	lp "github.com/npw-dev/npw/lambdapack"
)

func init() {
	register(&Kernel{Name: "qr_leaf_dense", Run: runLeafDense, Flops: leafDenseFlops, Workspace: 2})
	register(&Kernel{Name: "qr_trailing_update_dense", Run: runTrailingDense, Flops: trailingDenseFlops, Workspace: 2})
}

// runLeafDense computes S − (V Tᵀ)(Vᵀ S), numpywren's qr_leaf, in
// NumPy's order of evaluation.
func runLeafDense(in []blas64.General, _ []lp.Value) ([]blas64.General, error) {
	v, t, s := in[0], in[1], in[2]
	if t.Rows != v.Cols || t.Cols != v.Cols || s.Rows != v.Rows {
		return nil, shapeErr("qr_leaf_dense", "needs V m×k, T k×k and S with m rows, got V %s, T %s, S %s", Shape(v), Shape(t), Shape(s))
	}
	out := Clone(s)
	if v.Rows == 0 || v.Cols == 0 || s.Cols == 0 {
		return []blas64.General{out}, nil
	}
	y := NewTile(v.Cols, s.Cols) // Vᵀ S
	blas64.Gemm(blas.Trans, blas.NoTrans, 1, v, s, 0, y)
	x := NewTile(v.Rows, v.Cols) // V Tᵀ
	blas64.Gemm(blas.NoTrans, blas.Trans, 1, v, t, 0, x)
	blas64.Gemm(blas.NoTrans, blas.NoTrans, -1, x, y, 1, out)
	return []blas64.General{out}, nil
}

func leafDenseFlops(in []blas64.General) float64 {
	m, k, c := float64(in[0].Rows), float64(in[0].Cols), float64(in[2].Cols)
	return 2*m*k*c + 2*m*k*k + 2*m*k*c
}

// topIsIdentity says whether the first k0 rows of V are the k×k identity,
// as they are for the factorisation of two stacked triangles: numpywren's
// qr_trailing_update assumes so and multiplies by the lower part alone.
func topIsIdentity(v blas64.General, k0 int) bool {
	return k0 == v.Cols && shapeOfV(v).ident
}

// runTrailingDense applies Qᵀ of a stacked factorisation to [S0; S1] as
// numpywren's qr_trailing_update does: W = Tᵀ (S0 + V₂ᵀ S1), S0 − W,
// S1 − V₂ W, all dense. Where V's top is not the identity (numpywren's
// kernel would be wrong there), V₁ is applied densely too.
func runTrailingDense(in []blas64.General, _ []lp.Value) ([]blas64.General, error) {
	k0, k1, err := trailingParts("qr_trailing_update_dense", in)
	if err != nil {
		return nil, err
	}
	v, t := in[0], in[1]
	s0, s1 := Clone(in[2]), Clone(in[3])
	k, c := v.Cols, s0.Cols
	if k == 0 || c == 0 {
		return []blas64.General{s0, s1}, nil
	}
	v1, v2 := view(v, 0, 0, k0, k), view(v, k0, 0, k1, k)
	top, bot := view(s0, 0, 0, k0, c), view(s1, 0, 0, k1, c)
	ident := topIsIdentity(v, k0)
	y := NewTile(k, c) // V₁ᵀ S0 + V₂ᵀ S1
	if ident {
		for i := range k {
			copy(y.Data[i*y.Stride:i*y.Stride+c], top.Data[i*top.Stride:])
		}
	} else {
		blas64.Gemm(blas.Trans, blas.NoTrans, 1, v1, top, 0, y)
	}
	if k1 > 0 {
		blas64.Gemm(blas.Trans, blas.NoTrans, 1, v2, bot, 1, y)
	}
	w := NewTile(k, c) // Tᵀ y
	blas64.Gemm(blas.Trans, blas.NoTrans, 1, t, y, 0, w)
	if ident {
		subInto(top, w)
	} else {
		blas64.Gemm(blas.NoTrans, blas.NoTrans, -1, v1, w, 1, top)
	}
	if k1 > 0 {
		blas64.Gemm(blas.NoTrans, blas.NoTrans, -1, v2, w, 1, bot)
	}
	return []blas64.General{s0, s1}, nil
}

func trailingDenseFlops(in []blas64.General) float64 {
	k0, k1, err := trailingParts("qr_trailing_update_dense", in)
	if err != nil {
		return 0
	}
	k, c := float64(in[0].Cols), float64(in[2].Cols)
	f := 2*float64(k1)*k*c + 2*k*k*c + 2*float64(k1)*k*c
	if !topIsIdentity(in[0], k0) {
		f += 4 * float64(k0) * k * c
	}
	return f
}

package kernels

// Applying a compact-WY block reflector I − V T Vᵀ, exploiting the
// structure V has in a tiled QR. V (m×k, m ≥ k) splits into V1, its top
// k×k block, and V2, the m−k rows below:
//
//   - V1 is unit lower triangular when V came from qr_factor, so products
//     with it are triangular (dtrmm) rather than general, as in LAPACK's
//     dlarfb;
//   - when qr_factor stacked two upper triangular R factors (every node
//     of a reduction tree above the leaves), V1 is the identity and V2 is
//     upper triangular, so the update costs 3k²c instead of 9k²c flops —
//     the structure LAPACK's dtpmqrt exploits.
//
// The structure is read off V itself (O(m·k) comparisons against the
// O(m·k·c) update), so a V of any other form, for example one a user
// program built, is applied densely and the result is always exactly
// the reflector V describes.

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
)

// wyShape is the structure found in V.
type wyShape struct {
	unit  bool // V1 has ones on its diagonal and zeros above it
	ident bool // unit, and zeros below the diagonal too: V1 = I
	tri   bool // unit, and V2 is zero below its diagonal
}

func shapeOfV(v blas64.General) wyShape {
	k := v.Cols
	var s wyShape
	if v.Rows < k {
		return s
	}
	s.unit, s.ident = true, true
	for i := range k {
		row := v.Data[i*v.Stride : i*v.Stride+k]
		if row[i] != 1 {
			return wyShape{}
		}
		for j := i + 1; j < k; j++ {
			if row[j] != 0 {
				return wyShape{}
			}
		}
		for j := range i {
			if row[j] != 0 {
				s.ident = false
			}
		}
	}
	s.tri = true
	for i := k; i < v.Rows && s.tri; i++ {
		row := v.Data[i*v.Stride : i*v.Stride+k]
		for j := range min(i-k, k) {
			if row[j] != 0 {
				s.tri = false
				break
			}
		}
	}
	return s
}

// view returns rows [i, i+r) and columns [j, j+c) of g without copying.
func view(g blas64.General, i, j, r, c int) blas64.General {
	if r == 0 || c == 0 {
		return blas64.General{Rows: r, Cols: c, Stride: max(g.Stride, 1)}
	}
	return blas64.General{Rows: r, Cols: c, Stride: g.Stride, Data: g.Data[i*g.Stride+j:]}
}

func upperTri(g blas64.General, diag blas.Diag) blas64.Triangular {
	return blas64.Triangular{Uplo: blas.Upper, Diag: diag, N: g.Rows, Stride: g.Stride, Data: g.Data}
}

func lowerTri(g blas64.General, diag blas.Diag) blas64.Triangular {
	return blas64.Triangular{Uplo: blas.Lower, Diag: diag, N: g.Rows, Stride: g.Stride, Data: g.Data}
}

// subInto sets dst −= src (same shape).
func subInto(dst, src blas64.General) {
	for i := range dst.Rows {
		d := dst.Data[i*dst.Stride : i*dst.Stride+dst.Cols]
		s := src.Data[i*src.Stride : i*src.Stride+dst.Cols]
		for j, x := range s {
			d[j] -= x
		}
	}
}

// addInto sets dst += src (same shape).
func addInto(dst, src blas64.General) {
	for i := range dst.Rows {
		d := dst.Data[i*dst.Stride : i*dst.Stride+dst.Cols]
		s := src.Data[i*src.Stride : i*src.Stride+dst.Cols]
		for j, x := range s {
			d[j] += x
		}
	}
}

// wyApplyLeft overwrites S (m×c) with (I − V op(T) Vᵀ) S, op(T) = Tᵀ for
// blas.Trans (Qᵀ S) and T for blas.NoTrans (Q S).
func wyApplyLeft(trans blas.Transpose, v, t, s blas64.General) {
	p := min(v.Cols, s.Rows)
	wyApplyLeftParts(trans, v, t, view(s, 0, 0, p, s.Cols), view(s, p, 0, s.Rows-p, s.Cols))
}

// wyApplyLeftParts is wyApplyLeft on S = [S1; S2] held as two blocks of
// rows, anywhere in memory (two tiles a tree node's reflectors act on),
// each overwritten in place: V's first S1.Rows rows act on S1, the others
// on S2.
func wyApplyLeftParts(trans blas.Transpose, v, t, s1, s2 blas64.General) {
	m, k, c := v.Rows, v.Cols, s1.Cols
	if k == 0 || c == 0 || m == 0 {
		return
	}
	p := s1.Rows
	sh := shapeOfV(v)
	if !sh.unit || p != k {
		// W = Vᵀ S, W = op(T) W, S −= V W, with V split like S.
		vt, vb := view(v, 0, 0, p, k), view(v, p, 0, m-p, k)
		w := NewTile(k, c)
		beta := 0.0
		if p > 0 {
			blas64.Gemm(blas.Trans, blas.NoTrans, 1, vt, s1, 0, w)
			beta = 1
		}
		if m > p {
			blas64.Gemm(blas.Trans, blas.NoTrans, 1, vb, s2, beta, w)
		}
		blas64.Trmm(blas.Left, trans, 1, upperTri(t, blas.NonUnit), w)
		if p > 0 {
			blas64.Gemm(blas.NoTrans, blas.NoTrans, -1, vt, w, 1, s1)
		}
		if m > p {
			blas64.Gemm(blas.NoTrans, blas.NoTrans, -1, vb, w, 1, s2)
		}
		return
	}
	v1 := view(v, 0, 0, k, k)
	m2 := m - k
	if sh.ident && sh.tri && m2 >= k {
		// A reduction-tree node, V = [I; U] with U k×k upper triangular
		// (rows of V below it are zero): one k×c workspace.
		u, s2 := upperTri(view(v, k, 0, k, k), blas.NonUnit), view(s2, 0, 0, k, c)
		w := Clone(s2)
		blas64.Trmm(blas.Left, blas.Trans, 1, u, w) // W = Uᵀ S2
		addInto(w, s1)                              // W = S1 + Uᵀ S2
		blas64.Trmm(blas.Left, trans, 1, upperTri(t, blas.NonUnit), w)
		subInto(s1, w)                                // S1 −= W
		blas64.Trmm(blas.Left, blas.NoTrans, 1, u, w) // W = U W
		subInto(s2, w)                                // S2 −= U W
		return
	}
	// W = V1ᵀ S1 + V2ᵀ S2.
	w := Clone(s1)
	if !sh.ident {
		blas64.Trmm(blas.Left, blas.Trans, 1, lowerTri(v1, blas.Unit), w)
	}
	r := m2 // rows of V2 (and S2) that take part
	if sh.tri {
		r = min(m2, k)
	}
	v2, s2 := view(v, k, 0, r, k), view(s2, 0, 0, r, c)
	var x blas64.General // r×c scratch of the triangular products
	if r > 0 {
		if sh.tri {
			// V2 = [V2a V2b], V2a r×r upper triangular.
			v2a, v2b := view(v2, 0, 0, r, r), view(v2, 0, r, r, k-r)
			x = Clone(s2)
			blas64.Trmm(blas.Left, blas.Trans, 1, upperTri(v2a, blas.NonUnit), x)
			addInto(view(w, 0, 0, r, c), x)
			if k > r {
				blas64.Gemm(blas.Trans, blas.NoTrans, 1, v2b, s2, 1, view(w, r, 0, k-r, c))
			}
		} else {
			blas64.Gemm(blas.Trans, blas.NoTrans, 1, v2, s2, 1, w)
		}
	}
	// W = op(T) W.
	blas64.Trmm(blas.Left, trans, 1, upperTri(t, blas.NonUnit), w)
	// S2 −= V2 W.
	if r > 0 {
		if sh.tri {
			v2a, v2b := view(v2, 0, 0, r, r), view(v2, 0, r, r, k-r)
			copyInto(x, view(w, 0, 0, r, c))
			blas64.Trmm(blas.Left, blas.NoTrans, 1, upperTri(v2a, blas.NonUnit), x)
			subInto(s2, x)
			if k > r {
				blas64.Gemm(blas.NoTrans, blas.NoTrans, -1, v2b, view(w, r, 0, k-r, c), 1, s2)
			}
		} else {
			blas64.Gemm(blas.NoTrans, blas.NoTrans, -1, v2, w, 1, s2)
		}
	}
	// S1 −= V1 W.
	if !sh.ident {
		blas64.Trmm(blas.Left, blas.NoTrans, 1, lowerTri(v1, blas.Unit), w)
	}
	subInto(s1, w)
}

// copyInto sets dst = src (same shape).
func copyInto(dst, src blas64.General) {
	for i := range dst.Rows {
		copy(dst.Data[i*dst.Stride:i*dst.Stride+dst.Cols], src.Data[i*src.Stride:i*src.Stride+dst.Cols])
	}
}

// wyApplyRight overwrites S (c×m) with S (I − V T Vᵀ).
func wyApplyRight(v, t, s blas64.General) {
	m, k, c := v.Rows, v.Cols, s.Rows
	if k == 0 || c == 0 || m == 0 {
		return
	}
	sh := shapeOfV(v)
	if !sh.unit {
		w := NewTile(c, k)
		blas64.Gemm(blas.NoTrans, blas.NoTrans, 1, s, v, 0, w)
		blas64.Trmm(blas.Right, blas.NoTrans, 1, upperTri(t, blas.NonUnit), w)
		blas64.Gemm(blas.NoTrans, blas.Trans, -1, w, v, 1, s)
		return
	}
	v1, s1 := view(v, 0, 0, k, k), view(s, 0, 0, c, k)
	m2 := m - k
	// W = S1 V1 + S2 V2.
	w := Clone(s1)
	if !sh.ident {
		blas64.Trmm(blas.Right, blas.NoTrans, 1, lowerTri(v1, blas.Unit), w)
	}
	r := m2
	if sh.tri {
		r = min(m2, k)
	}
	v2, s2 := view(v, k, 0, r, k), view(s, 0, k, c, r)
	if r > 0 {
		if sh.tri {
			v2a, v2b := view(v2, 0, 0, r, r), view(v2, 0, r, r, k-r)
			x := Clone(s2)
			blas64.Trmm(blas.Right, blas.NoTrans, 1, upperTri(v2a, blas.NonUnit), x)
			addInto(view(w, 0, 0, c, r), x)
			if k > r {
				blas64.Gemm(blas.NoTrans, blas.NoTrans, 1, s2, v2b, 1, view(w, 0, r, c, k-r))
			}
		} else {
			blas64.Gemm(blas.NoTrans, blas.NoTrans, 1, s2, v2, 1, w)
		}
	}
	// W = W T.
	blas64.Trmm(blas.Right, blas.NoTrans, 1, upperTri(t, blas.NonUnit), w)
	// S2 −= W V2ᵀ.
	if r > 0 {
		if sh.tri {
			v2a, v2b := view(v2, 0, 0, r, r), view(v2, 0, r, r, k-r)
			x := Clone(view(w, 0, 0, c, r))
			blas64.Trmm(blas.Right, blas.Trans, 1, upperTri(v2a, blas.NonUnit), x)
			subInto(s2, x)
			if k > r {
				blas64.Gemm(blas.NoTrans, blas.Trans, -1, view(w, 0, r, c, k-r), v2b, 1, s2)
			}
		} else {
			blas64.Gemm(blas.NoTrans, blas.Trans, -1, w, v2, 1, s2)
		}
	}
	// S1 −= W V1ᵀ.
	if !sh.ident {
		blas64.Trmm(blas.Right, blas.Trans, 1, lowerTri(v1, blas.Unit), w)
	}
	subInto(s1, w)
}

// wyFlops counts applying I − V T Vᵀ to c vectors (columns on the left,
// rows on the right), as wyApplyLeft and wyApplyRight do it for this V.
func wyFlops(v blas64.General, c int) float64 {
	m, k, fc := float64(v.Rows), float64(v.Cols), float64(c)
	sh := shapeOfV(v)
	if !sh.unit {
		return 4*m*k*fc + k*k*fc
	}
	f := k * k * fc // op(T) W
	if !sh.ident {
		f += 2 * k * k * fc
	}
	m2 := m - k
	if sh.tri {
		r := min(m2, k)
		f += 2 * (r*r*fc + 2*r*(k-r)*fc)
	} else {
		f += 4 * m2 * k * fc
	}
	return f
}

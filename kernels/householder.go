package kernels

// Householder QR and LQ in compact WY form. qr_factor returns V (m×k,
// unit lower trapezoidal, the reflectors as columns), T (k×k upper
// triangular) and R (k×n upper trapezoidal) with k = min(m, n), such that
//
//	A = Q R,  Q = I − V T Vᵀ  (m×m, orthogonal).
//
// LQ is the transpose of QR of the transpose: lq_factor(A) returns V and T
// of the QR of Aᵀ and L = Rᵀ, so A = L Qₗ with Qₗᵀ = I − V T Vᵀ.

import (
	"fmt"
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/lapack/gonum"

	"github.com/npw-dev/npw/internal/tilebuf"
	lp "github.com/npw-dev/npw/lambdapack"
)

var lapackImpl gonum.Implementation

func init() {
	register(&Kernel{Name: "qr_factor", Run: runQRFactor, Flops: func(in []blas64.General) float64 {
		m := 0
		for _, t := range in {
			m += t.Rows
		}
		return qrFlops(m, in[0].Cols)
	}, Update: func(in []blas64.General, s []lp.Value) ([]blas64.General, error) {
		// A panel the caller owns is factored in its own memory: V
		// takes its place, where Run copies it first.
		if len(in) == 1 && in[0].Stride == in[0].Cols {
			v, t, r := qr(in[0])
			return []blas64.General{v, t, r}, nil
		}
		return runQRFactor(in, s)
	}, Workspace: 1}) // V of two stacked tiles is two tiles tall
	register(updating(&Kernel{Name: "append_rows", Flops: func([]blas64.General) float64 { return 0 }}, appendRows))
	register(&Kernel{Name: "qr_leaf", Run: func(in []blas64.General, _ []lp.Value) ([]blas64.General, error) {
		return one(applyQ("qr_leaf", blas.Trans, in[0], in[1], in[2], false))
	}, Update: func(in []blas64.General, _ []lp.Value) ([]blas64.General, error) {
		return one(applyQ("qr_leaf", blas.Trans, in[0], in[1], in[2], true))
	}, Updates: []int{2}, Flops: leafFlops, Workspace: 2})
	register(&Kernel{Name: "qr_trailing_update", Run: func(in []blas64.General, _ []lp.Value) ([]blas64.General, error) {
		return qrTrailing("qr_trailing_update", blas.Trans, in, false)
	}, Update: func(in []blas64.General, _ []lp.Value) ([]blas64.General, error) {
		return qrTrailing("qr_trailing_update", blas.Trans, in, true)
	}, Updates: []int{2, 3}, Flops: leafFlops, Workspace: 2})
	register(&Kernel{Name: "qr_leaf_q", Run: func(in []blas64.General, _ []lp.Value) ([]blas64.General, error) {
		return one(applyQ("qr_leaf_q", blas.NoTrans, in[0], in[1], in[2], false))
	}, Update: func(in []blas64.General, _ []lp.Value) ([]blas64.General, error) {
		return one(applyQ("qr_leaf_q", blas.NoTrans, in[0], in[1], in[2], true))
	}, Updates: []int{2}, Flops: leafFlops, Workspace: 2})
	register(&Kernel{Name: "qr_trailing_update_q", Run: func(in []blas64.General, _ []lp.Value) ([]blas64.General, error) {
		return qrTrailing("qr_trailing_update_q", blas.NoTrans, in, false)
	}, Update: func(in []blas64.General, _ []lp.Value) ([]blas64.General, error) {
		return qrTrailing("qr_trailing_update_q", blas.NoTrans, in, true)
	}, Updates: []int{2, 3}, Flops: leafFlops, Workspace: 2})
	register(&Kernel{Name: "qr_leaf_t", Run: func(in []blas64.General, _ []lp.Value) ([]blas64.General, error) {
		return one(applyQ("qr_leaf_t", blas.Trans, in[0], in[1], Transpose(in[2]), true))
	}, Flops: lqFlops, Workspace: 2}) // Sᵀ has S's rows as columns
	register(&Kernel{Name: "lq_factor", Run: runLQFactor, Flops: func(in []blas64.General) float64 {
		n := 0
		for _, t := range in {
			n += t.Cols
		}
		return qrFlops(n, in[0].Rows)
	}, Workspace: 3}) // the transposed inputs, side by side; V two tiles tall
	register(&Kernel{Name: "lq_leaf", Run: func(in []blas64.General, _ []lp.Value) ([]blas64.General, error) {
		return one(applyQRight("lq_leaf", in[0], in[1], in[2], false))
	}, Flops: lqFlops, Workspace: 2})
	register(&Kernel{Name: "lq_trailing_update", Run: runLQTrailing, Flops: lqFlops, Workspace: 4}) // [S0 S1], W and X
}

// qrFlops counts dgeqrf on m×n plus forming T.
func qrFlops(m, n int) float64 {
	fm, fn := float64(m), float64(n)
	k := float64(min(m, n))
	var f float64
	if m >= n {
		f = 2 * fn * fn * (fm - fn/3)
	} else {
		f = 2 * fm * fm * (fn - fm/3)
	}
	return f + fm*k*k
}

// leafFlops counts applying V, T (in[0], in[1]) to the columns of in[2].
func leafFlops(in []blas64.General) float64 { return wyFlops(in[0], in[2].Cols) }

// lqFlops counts applying V, T (in[0], in[1]) to the rows of in[2].
func lqFlops(in []blas64.General) float64 { return wyFlops(in[0], in[2].Rows) }

// stackRows returns [A; B]; B may be absent.
func stackRows(kernel string, in []blas64.General) (blas64.General, error) {
	if len(in) == 1 {
		return Clone(in[0]), nil
	}
	a, b := in[0], in[1]
	if a.Cols != b.Cols {
		return blas64.General{}, shapeErr(kernel, "stacked tiles need the same number of columns, got %s and %s", Shape(a), Shape(b))
	}
	m := NewTile(a.Rows+b.Rows, a.Cols)
	for i := range a.Rows {
		copy(m.Data[i*m.Stride:i*m.Stride+a.Cols], a.Data[i*a.Stride:])
	}
	for i := range b.Rows {
		copy(m.Data[(a.Rows+i)*m.Stride:(a.Rows+i)*m.Stride+b.Cols], b.Data[i*b.Stride:])
	}
	return m, nil
}

// appendRows returns P with B's rows below them: geqrf.lp's panel, built
// a tile at a time from the top. rows is the panel's final height: a
// panel allocated with room for it grows in its own memory when the
// caller owns it (inPlace), so building a panel of p tiles copies p
// tiles, not p²/2 as stacking each step anew would.
func appendRows(in []blas64.General, s []lp.Value, inPlace bool) ([]blas64.General, error) {
	sc, err := intScalars("append_rows", s)
	if err != nil {
		return nil, err
	}
	p, b, rows := in[0], in[1], sc[0]
	if rows < 0 {
		return nil, fmt.Errorf("append_rows: the panel's height must not be negative, got %d", rows)
	}
	if p.Cols != b.Cols {
		return nil, shapeErr("append_rows", "the rows appended need the panel's number of columns, got P %s and B %s", Shape(p), Shape(b))
	}
	n := p.Rows + b.Rows
	out, grown := blas64.General{}, false
	if inPlace {
		out, grown = tilebuf.Grow(p, n)
	}
	if !grown {
		out = tilebuf.NewRoom(n, p.Cols, rows)
		copyInto(view(out, 0, 0, p.Rows, p.Cols), p)
	}
	copyInto(view(out, p.Rows, 0, b.Rows, b.Cols), b)
	return []blas64.General{out}, nil
}

// qr factors m (overwritten; V when it is at least as tall as wide)
// and returns V, T and R. The first k = min(rows, cols) columns are
// factored by geqrt3 on their transpose, all level-3 BLAS on contiguous
// rows; a wide tile's other columns then take Qᵀ.
func qr(m blas64.General) (v, t, r blas64.General) {
	rows, cols := m.Rows, m.Cols
	k := min(rows, cols)
	t, r = NewTile(k, k), NewTile(k, cols)
	if k == cols {
		v = m // V takes m's place: one tile less in memory
	} else {
		v = NewTile(rows, k)
	}
	if k == 0 {
		return v, t, r
	}
	x := Transpose(view(m, 0, 0, rows, k)) // k×rows: m's columns as rows
	geqrt3(x, t)
	const bs = 64 // by blocks, so that x's columns read stay in cache
	for bi := 0; bi < rows; bi += bs {
		for bj := 0; bj < k; bj += bs {
			for i := bi; i < min(bi+bs, rows); i++ {
				for j := bj; j < min(bj+bs, k); j++ {
					y := x.Data[j*x.Stride+i]
					if j >= i {
						r.Data[i*r.Stride+j] = y
						v.Data[i*v.Stride+j] = 0 // R's place in m, when v is m
					} else {
						v.Data[i*v.Stride+j] = y
					}
				}
			}
		}
	}
	for i := range k {
		v.Data[i*v.Stride+i] = 1
	}
	if cols > k { // a wide tile: R's other columns are Qᵀ times m's
		rest := Clone(view(m, 0, k, rows, cols-k))
		wyApplyLeft(blas.Trans, v, t, rest)
		for i := range rows {
			copy(r.Data[i*r.Stride+k:i*r.Stride+cols], rest.Data[i*rest.Stride:i*rest.Stride+rest.Cols])
		}
	}
	return v, t, r
}

// geqrt3 factors A (m×n, m ≥ n) by Householder QR, recursively as
// LAPACK's dgeqrt3 (Elmroth and Gustavson), given x = Aᵀ (n×m): A's
// columns are x's rows, contiguous, as in the column-major storage
// dgeqrt3 was written for, so that the narrow steps deep in the
// recursion read rows rather than one entry per cache line. On return x
// holds Rᵀ in its lower triangle and the reflectors' vectors right of
// its diagonal (their leading 1 implicit), and T (n×n upper triangular)
// gives Q = I − V T Vᵀ. The left half is factored, its Qᵀ applied to the
// right half, the right half's lower part factored, and T's off-diagonal
// block is −T₁ (V₁ᵀ V₂) T₂: everything but the one-column leaves is dgemm
// and dtrmm.
func geqrt3(x, t blas64.General) {
	n, m := x.Rows, x.Cols
	if n == 1 {
		beta, tau := lapackImpl.Dlarfg(m, x.Data[0], x.Data[1:m], 1)
		x.Data[0] = beta
		t.Data[0] = tau
		return
	}
	n1 := n / 2
	n2 := n - n1
	geqrt3(view(x, 0, 0, n1, m), view(t, 0, 0, n1, n1))
	// A₂ = Q₁ᵀ A₂ = A₂ − V₁ T₁ᵀ V₁ᵀ A₂, with T's upper right block as the
	// workspace W for V₁ᵀ A₂ (n1×n2). V₁'s top block is x's top left,
	// transposed: unit upper triangular here.
	w := view(t, 0, n1, n1, n2)
	for i := range n1 {
		for j := range n2 {
			w.Data[i*w.Stride+j] = x.Data[(n1+j)*x.Stride+i]
		}
	}
	v1 := upperTri(view(x, 0, 0, n1, n1), blas.Unit)
	blas64.Trmm(blas.Left, blas.NoTrans, 1, v1, w)
	if m > n1 {
		blas64.Gemm(blas.NoTrans, blas.Trans, 1, view(x, 0, n1, n1, m-n1), view(x, n1, n1, n2, m-n1), 1, w)
	}
	blas64.Trmm(blas.Left, blas.Trans, 1, upperTri(view(t, 0, 0, n1, n1), blas.NonUnit), w)
	if m > n1 {
		blas64.Gemm(blas.Trans, blas.NoTrans, -1, w, view(x, 0, n1, n1, m-n1), 1, view(x, n1, n1, n2, m-n1))
	}
	blas64.Trmm(blas.Left, blas.Trans, 1, v1, w)
	for i := range n1 {
		for j := range n2 {
			x.Data[(n1+j)*x.Stride+i] -= w.Data[i*w.Stride+j]
		}
	}
	geqrt3(view(x, n1, n1, n2, m-n1), view(t, n1, n1, n2, n2))
	// T₁₂ = −T₁ (V₁ᵀ V₂) T₂; V₂'s entries start at column n1 of x's rows
	// n1.., unit upper triangular in its left n2×n2 block.
	copyInto(w, view(x, 0, n1, n1, n2))
	blas64.Trmm(blas.Right, blas.Trans, 1, upperTri(view(x, n1, n1, n2, n2), blas.Unit), w)
	if m > n {
		blas64.Gemm(blas.NoTrans, blas.Trans, 1, view(x, 0, n, n1, m-n), view(x, n1, n, n2, m-n), 1, w)
	}
	blas64.Trmm(blas.Left, blas.NoTrans, -1, upperTri(view(t, 0, 0, n1, n1), blas.NonUnit), w)
	blas64.Trmm(blas.Right, blas.NoTrans, 1, upperTri(view(t, n1, n1, n2, n2), blas.NonUnit), w)
}

func runQRFactor(in []blas64.General, _ []lp.Value) ([]blas64.General, error) {
	m, err := stackRows("qr_factor", in)
	if err != nil {
		return nil, err
	}
	v, t, r := qr(m)
	return []blas64.General{v, t, r}, nil
}

// applyQ computes Qᵀ S = S − V Tᵀ (Vᵀ S) (trans) or Q S = S − V T (Vᵀ S),
// in S's memory when inPlace (the caller owns it), else in a copy.
func applyQ(kernel string, trans blas.Transpose, v, t, s blas64.General, inPlace bool) (blas64.General, error) {
	if t.Rows != v.Cols || t.Cols != v.Cols || s.Rows != v.Rows {
		return blas64.General{}, shapeErr(kernel, "needs V m×k, T k×k and S with m rows, got V %s, T %s, S %s", Shape(v), Shape(t), Shape(s))
	}
	if !inPlace {
		s = Clone(s)
	}
	wyApplyLeft(trans, v, t, s)
	return s, nil
}

// qrTrailing applies Qᵀ (trans) or Q of a stacked factorisation to [S0; S1],
// in place of S0 and S1 when inPlace (the caller owns them), else on
// copies.
//
// The factorisation stacked two R factors. When V has as many rows as S0
// and S1 together, Q acts on all of them. When it has fewer, the R
// factors were shorter than the tiles (a panel narrower than the tiles
// are tall, as the last panel of a matrix can be): each R sits in the
// first rows of its tile, so Q acts on the first k0 rows of S0 and k1 of
// S1 and the other rows stay. A top tile holds at least as many rows as
// the panel is wide, so k0 = min(rows of S0, columns of V).
func qrTrailing(kernel string, trans blas.Transpose, in []blas64.General, inPlace bool) ([]blas64.General, error) {
	k0, k1, err := trailingParts(kernel, in)
	if err != nil {
		return nil, err
	}
	v, t, s0, s1 := in[0], in[1], in[2], in[3]
	if !inPlace {
		s0, s1 = Clone(s0), Clone(s1)
	}
	wyApplyLeftParts(trans, v, t, view(s0, 0, 0, k0, s0.Cols), view(s1, 0, 0, k1, s1.Cols))
	return []blas64.General{s0, s1}, nil
}

// trailingParts splits V of a stacked factorisation (in: V, T, S0, S1)
// into the rows acting on S0 (k0) and on S1 (k1), as the comment on
// qrTrailing says, and checks the shapes.
func trailingParts(kernel string, in []blas64.General) (k0, k1 int, err error) {
	v, t, s0, s1 := in[0], in[1], in[2], in[3]
	k0 = s0.Rows
	if s0.Rows+s1.Rows != v.Rows {
		k0 = min(s0.Rows, v.Cols)
	}
	k1 = v.Rows - k0
	if k1 < 0 || k1 > s1.Rows || s0.Cols != s1.Cols {
		return 0, 0, shapeErr(kernel, "V with %d rows does not fit S0 %s and S1 %s", v.Rows, Shape(s0), Shape(s1))
	}
	if t.Rows != v.Cols || t.Cols != v.Cols {
		return 0, 0, shapeErr(kernel, "needs V m×k and T k×k, got V %s, T %s", Shape(v), Shape(t))
	}
	return k0, k1, nil
}

// runLQFactor factors A, or [A B] side by side, as L Q.
func runLQFactor(in []blas64.General, _ []lp.Value) ([]blas64.General, error) {
	if len(in) == 2 && in[0].Rows != in[1].Rows {
		return nil, shapeErr("lq_factor", "side-by-side tiles need the same number of rows, got %s and %s", Shape(in[0]), Shape(in[1]))
	}
	tin := make([]blas64.General, len(in))
	for i, a := range in {
		tin[i] = Transpose(a)
	}
	m, err := stackRows("lq_factor", tin)
	if err != nil {
		return nil, err
	}
	v, t, r := qr(m)
	return []blas64.General{v, t, Transpose(r)}, nil
}

// applyQRight computes S Qₗᵀ = S (I − V T Vᵀ) = S − (S V) T Vᵀ, in S's
// memory when inPlace, else in a copy.
func applyQRight(kernel string, v, t, s blas64.General, inPlace bool) (blas64.General, error) {
	if t.Rows != v.Cols || t.Cols != v.Cols || s.Cols != v.Rows {
		return blas64.General{}, shapeErr(kernel, "needs V n×k, T k×k and S with n columns, got V %s, T %s, S %s", Shape(v), Shape(t), Shape(s))
	}
	if !inPlace {
		s = Clone(s)
	}
	wyApplyRight(v, t, s)
	return s, nil
}

// runLQTrailing applies Qₗᵀ of a side-by-side factorisation to [S0 S1].
func runLQTrailing(in []blas64.General, _ []lp.Value) ([]blas64.General, error) {
	v, t, s0, s1 := in[0], in[1], in[2], in[3]
	if s0.Rows != s1.Rows || s0.Cols+s1.Cols != v.Rows {
		return nil, shapeErr("lq_trailing_update", "S0 and S1 must sit side by side with V's %d columns, got S0 %s and S1 %s", v.Rows, Shape(s0), Shape(s1))
	}
	s := NewTile(s0.Rows, s0.Cols+s1.Cols)
	for i := range s.Rows {
		row := s.Data[i*s.Stride : (i+1)*s.Stride]
		copy(row, s0.Data[i*s0.Stride:i*s0.Stride+s0.Cols])
		copy(row[s0.Cols:], s1.Data[i*s1.Stride:i*s1.Stride+s1.Cols])
	}
	out, err := applyQRight("lq_trailing_update", v, t, s, true) // s is this call's
	if err != nil {
		return nil, err
	}
	left := Clone(blas64.General{Rows: out.Rows, Cols: s0.Cols, Stride: out.Stride, Data: out.Data})
	right := Clone(blas64.General{Rows: out.Rows, Cols: s1.Cols, Stride: out.Stride, Data: out.Data[min(s0.Cols, len(out.Data)):]})
	return []blas64.General{left, right}, nil
}

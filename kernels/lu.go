package kernels

// Kernels of LU with tournament pivoting (CALU). Rows carry identities:
// an id tile is a column of original row numbers (stored as float64, exact
// below 2⁵³), so pivots are named by id and a permutation is never stored
// as positions that later swaps would invalidate.

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"

	lp "github.com/npw-dev/npw/lambdapack"
)

// ErrSingularMatrix is returned by lu_nopiv for a pivot that is zero, or
// no larger than n·ε times the panel's largest entry: the matrix is
// singular to working precision.
var ErrSingularMatrix = errors.New("the matrix is singular to working precision (a pivot vanished)")

func init() {
	register(&Kernel{Name: "lu_pivots", Run: runLUPivots, Flops: func(in []blas64.General) float64 {
		m, c := in[0].Rows, float64(in[0].Cols)
		if len(in) == 4 {
			m += in[2].Rows
		}
		fm := float64(m)
		return fm*c*c - c*c*c/3
	}, ByValue: true})
	register(&Kernel{Name: "lu_swap", Run: runLUSwap, Flops: func([]blas64.General) float64 { return 0 }, ByValue: true})
	register(&Kernel{Name: "lu_arrange", Run: runLUArrange, Flops: func([]blas64.General) float64 { return 0 }, ByValue: true})
	register(updating(&Kernel{Name: "lu_exchange", Updates: []int{0, 1}, Flops: func([]blas64.General) float64 { return 0 }, ByValue: true}, luExchange))
	register(updating(&Kernel{Name: "lu_nopiv", Flops: func(in []blas64.General) float64 {
		n := float64(in[0].Rows)
		return 2 * n * n * n / 3
	}}, luNoPivot))
	register(updating(&Kernel{Name: "trsm_upper", Updates: []int{1}, Flops: func(in []blas64.General) float64 {
		n := float64(in[0].Rows)
		return float64(in[1].Rows) * n * n
	}}, trsmUpper))
	register(updating(&Kernel{Name: "solve_lower_unit", Updates: []int{1}, Flops: func(in []blas64.General) float64 {
		n := float64(in[0].Rows)
		return n * n * float64(in[1].Cols)
	}}, solveLowerUnit))
}

// ids reads an id tile (a column) as integers.
func ids(kernel string, g blas64.General) ([]int64, error) {
	if g.Cols != 1 {
		return nil, shapeErr(kernel, "an id tile is a column, got %s", Shape(g))
	}
	out := make([]int64, g.Rows)
	for i := range g.Rows {
		out[i] = int64(g.Data[i*g.Stride])
	}
	return out, nil
}

func idTile(v []int64) blas64.General {
	g := NewTile(len(v), 1)
	for i, x := range v {
		g.Data[i] = float64(x)
	}
	return g
}

// rowsOf copies the given rows of g, in order.
func rowsOf(g blas64.General, rows []int) blas64.General {
	out := NewTile(len(rows), g.Cols)
	for i, r := range rows {
		copy(out.Data[i*out.Stride:i*out.Stride+g.Cols], g.Data[r*g.Stride:])
	}
	return out
}

// stacked returns [A; B] and their ids, or A alone when in has two tiles.
func stacked(kernel string, in []blas64.General) (blas64.General, []int64, error) {
	m, id := in[0], in[1]
	if len(in) == 4 {
		var err error
		if m, err = stackRows(kernel, []blas64.General{in[0], in[2]}); err != nil {
			return m, nil, err
		}
		if id, err = stackRows(kernel, []blas64.General{in[1], in[3]}); err != nil {
			return m, nil, err
		}
	}
	v, err := ids(kernel, id)
	if err != nil {
		return m, nil, err
	}
	if len(v) != m.Rows {
		return m, nil, shapeErr(kernel, "%d ids for %d rows", len(v), m.Rows)
	}
	return m, v, nil
}

// runLUPivots is a tournament match: Gaussian elimination with partial
// pivoting (dgetrf) on A, or on [A; B], chooses min(rows, cols) pivot
// rows; it returns their original values, in pivot order, and their ids.
func runLUPivots(in []blas64.General, _ []lp.Value) ([]blas64.General, error) {
	m, id, err := stacked("lu_pivots", in)
	if err != nil {
		return nil, err
	}
	k := min(m.Rows, m.Cols)
	order := make([]int, m.Rows)
	for i := range order {
		order[i] = i
	}
	if k > 0 {
		f := m // [A; B] is a copy already: factor it in place
		if len(in) == 2 {
			f = Clone(m)
		}
		ipiv := make([]int, k)
		getrf2(f, ipiv) // a zero pivot still yields a full order
		for i, p := range ipiv {
			order[i], order[p] = order[p], order[i]
		}
	}
	sel := make([]int64, k)
	for i := range k {
		sel[i] = id[order[i]]
	}
	if len(in) == 2 {
		return []blas64.General{rowsOf(m, order[:k]), idTile(sel)}, nil
	}
	// The winners' original values, from A and B.
	out := NewTile(k, m.Cols)
	for i, r := range order[:k] {
		src := in[0]
		if r >= src.Rows {
			src, r = in[2], r-src.Rows
		}
		copy(out.Data[i*out.Stride:i*out.Stride+m.Cols], src.Data[r*src.Stride:r*src.Stride+m.Cols])
	}
	return []blas64.General{out, idTile(sel)}, nil
}

// getrf2 overwrites the m×n matrix a with its LU factors by Gaussian
// elimination with partial pivoting, recursively as LAPACK's dgetrf2
// does: factor the left half of the columns, apply its row exchanges to
// the right half, solve for the top right block, update the bottom right
// one by a product and factor it. All but the leaves (getf2, at most
// getrfLeaf columns) run in level-3 BLAS, where gonum's Dgetrf factors
// its 64-column panels by rank-1 updates down the columns of row-major
// tiles (twice as slow on a tournament's leaves and matches). ipiv[i] is
// the row exchanged with row i (0-based), for i < min(m, n). A zero pivot
// leaves its column unscaled and the elimination goes on.
func getrf2(a blas64.General, ipiv []int) {
	m, n := a.Rows, a.Cols
	k := min(m, n)
	if k == 0 {
		return
	}
	if m == 1 {
		ipiv[0] = 0
		return
	}
	if n <= getrfLeaf {
		getf2(a, ipiv)
		return
	}
	n1 := k / 2
	if n1 == 0 {
		n1 = 1
	}
	n2 := n - n1
	left := blas64.General{Rows: m, Cols: n1, Stride: a.Stride, Data: a.Data}
	right := blas64.General{Rows: m, Cols: n2, Stride: a.Stride, Data: a.Data[n1:]}
	getrf2(left, ipiv[:n1])
	swapRows(right, ipiv[:n1], 0)
	a12 := blas64.General{Rows: n1, Cols: n2, Stride: a.Stride, Data: a.Data[n1:]}
	a21 := blas64.General{Rows: m - n1, Cols: n1, Stride: a.Stride, Data: a.Data[n1*a.Stride:]}
	a22 := blas64.General{Rows: m - n1, Cols: n2, Stride: a.Stride, Data: a.Data[n1*a.Stride+n1:]}
	blas64.Trsm(blas.Left, blas.NoTrans, 1, blas64.Triangular{Uplo: blas.Lower, Diag: blas.Unit, N: n1, Stride: a.Stride, Data: a.Data}, a12)
	blas64.Gemm(blas.NoTrans, blas.NoTrans, -1, a21, a12, 1, a22)
	getrf2(a22, ipiv[n1:k])
	for i := n1; i < k; i++ {
		ipiv[i] += n1
	}
	swapRows(left, ipiv[n1:k], n1)
}

// getrfLeaf is the widest panel getrf2 factors column by column: its rows
// are a few cache lines, so the strided walks down a column stay in cache.
const getrfLeaf = 16

// getf2 is Gaussian elimination with partial pivoting, a column at a
// time, on a narrow panel. It works on the panel's transpose, so that the
// pivot search, the scaling and every update run down contiguous columns,
// and each row exchange moves one entry per column.
func getf2(a blas64.General, ipiv []int) {
	m, n := a.Rows, a.Cols
	t := make([]float64, n*m) // column c of a is t[c*m : (c+1)*m]
	for i := range m {
		for c, x := range a.Data[i*a.Stride : i*a.Stride+n] {
			t[c*m+i] = x
		}
	}
	for j := range min(m, n) {
		col := t[j*m : (j+1)*m]
		p, big := j, math.Abs(col[j])
		for i := j + 1; i < m; i++ {
			if v := math.Abs(col[i]); v > big {
				p, big = i, v
			}
		}
		ipiv[j] = p
		if big == 0 {
			continue
		}
		if p != j {
			for c := range n {
				t[c*m+j], t[c*m+p] = t[c*m+p], t[c*m+j]
			}
		}
		piv := col[j]
		below := col[j+1:]
		if math.Abs(piv) >= 0x1p-1022 {
			rec := 1 / piv
			for i := range below {
				below[i] *= rec
			}
		} else {
			for i := range below {
				below[i] /= piv
			}
		}
		for c := j + 1; c < n; c++ {
			dst := t[c*m+j+1 : (c+1)*m]
			if u := t[c*m+j]; u != 0 {
				for i, l := range below {
					dst[i] -= l * u
				}
			}
		}
	}
	for i := range m {
		row := a.Data[i*a.Stride : i*a.Stride+n]
		for c := range row {
			row[c] = t[c*m+i]
		}
	}
}

// swapRows exchanges row from+i of g with row ipiv[i], in order.
func swapRows(g blas64.General, ipiv []int, from int) {
	for i, p := range ipiv {
		if r := from + i; p != r {
			x, y := g.Data[r*g.Stride:r*g.Stride+g.Cols], g.Data[p*g.Stride:p*g.Stride+g.Cols]
			for j := range x {
				x[j], y[j] = y[j], x[j]
			}
		}
	}
}

// runLUSwap applies panel k's row exchange to a tile of a lower block row.
// Inputs: the tile A with its ids IA, the same column's tile of block
// row k with its ids IK, and the pivot ids PIV. Block row k receives the
// pivots; the rows of block k that are not pivots (displaced, in order)
// go to the places the pivots held outside block k (holes, in pivot
// order), the a-th displaced row to the a-th hole. A row of A that is a
// hole is replaced; every other row stays.
func runLUSwap(in []blas64.General, _ []lp.Value) ([]blas64.General, error) {
	a, k := in[0], in[2]
	ia, err := ids("lu_swap", in[1])
	if err != nil {
		return nil, err
	}
	ik, err := ids("lu_swap", in[3])
	if err != nil {
		return nil, err
	}
	piv, err := ids("lu_swap", in[4])
	if err != nil {
		return nil, err
	}
	if len(ia) != a.Rows || len(ik) != k.Rows || a.Cols != k.Cols {
		return nil, shapeErr("lu_swap", "tiles and ids do not match: A %s with %d ids, K %s with %d ids", Shape(a), len(ia), Shape(k), len(ik))
	}
	isPivot := make(map[int64]bool, len(piv))
	for _, p := range piv {
		isPivot[p] = true
	}
	inK := make(map[int64]bool, len(ik))
	for _, x := range ik {
		inK[x] = true
	}
	var displaced []int // rows of K, in order
	for r, x := range ik {
		if !isPivot[x] {
			displaced = append(displaced, r)
		}
	}
	hole := make(map[int64]int) // pivot id outside block k -> its rank among holes
	for _, p := range piv {
		if !inK[p] {
			hole[p] = len(hole)
		}
	}
	if len(hole) != len(displaced) {
		return nil, fmt.Errorf("lu_swap: %d pivots from outside block k for %d displaced rows", len(hole), len(displaced))
	}
	out := Clone(a)
	for r, x := range ia {
		if h, ok := hole[x]; ok {
			src := displaced[h]
			copy(out.Data[r*out.Stride:r*out.Stride+out.Cols], k.Data[src*k.Stride:src*k.Stride+k.Cols])
		}
	}
	return []blas64.General{out}, nil
}

// runLUArrange starts panel k's row exchange in one column: it puts the
// tile K of block row k, whose rows carry the ids IK, in the order of the
// pivots PIV (one per row of K). Row r gets the pivot PIV[r] when K holds
// it; otherwise PIV[r] lies in a lower tile, and row r gets the row of K
// that goes to its place there: the rows of K that are not pivots
// (displaced, in order) go to the places of the pivots from outside K
// (holes, in pivot order), the a-th to the a-th, as lu_swap has it. A
// chain of lu_exchange down the column then swaps each hole's row with
// its pivot.
func runLUArrange(in []blas64.General, _ []lp.Value) ([]blas64.General, error) {
	k := in[0]
	ik, err := ids("lu_arrange", in[1])
	if err != nil {
		return nil, err
	}
	piv, err := ids("lu_arrange", in[2])
	if err != nil {
		return nil, err
	}
	if len(ik) != k.Rows || len(piv) != k.Rows {
		return nil, shapeErr("lu_arrange", "block k's tile %s needs as many ids and pivots as rows, got %d and %d", Shape(k), len(ik), len(piv))
	}
	row := make(map[int64]int, len(ik))
	for r, x := range ik {
		row[x] = r
	}
	isPivot := make(map[int64]bool, len(piv))
	for _, p := range piv {
		isPivot[p] = true
	}
	var displaced []int
	for r, x := range ik {
		if !isPivot[x] {
			displaced = append(displaced, r)
		}
	}
	out := NewTile(k.Rows, k.Cols)
	next := 0
	for r, p := range piv {
		src, ok := row[p]
		if !ok {
			if next == len(displaced) {
				return nil, fmt.Errorf("lu_arrange: more pivots from outside block k than displaced rows")
			}
			src, next = displaced[next], next+1
		}
		copy(out.Data[r*out.Stride:r*out.Stride+k.Cols], k.Data[src*k.Stride:src*k.Stride+k.Cols])
	}
	if next != len(displaced) {
		return nil, fmt.Errorf("lu_arrange: %d displaced rows for %d pivots from outside block k", len(displaced), next)
	}
	return []blas64.General{out}, nil
}

// luExchange is one link of panel k's row exchange down a column: X is
// block row k's tile as lu_arrange and the links above left it, T a lower
// tile whose rows carry the ids IT. Every pivot PIV[r] that T holds
// trades places with row r of X, which is the displaced row of block k
// that goes there. It returns X and T so exchanged, in their own memory
// if inPlace.
func luExchange(in []blas64.General, _ []lp.Value, inPlace bool) ([]blas64.General, error) {
	x, t := in[0], in[1]
	it, err := ids("lu_exchange", in[2])
	if err != nil {
		return nil, err
	}
	piv, err := ids("lu_exchange", in[3])
	if err != nil {
		return nil, err
	}
	if len(it) != t.Rows || len(piv) != x.Rows || x.Cols != t.Cols {
		return nil, shapeErr("lu_exchange", "tiles and ids do not match: X %s with %d pivots, T %s with %d ids", Shape(x), len(piv), Shape(t), len(it))
	}
	at := make(map[int64]int, len(it))
	for q, id := range it {
		at[id] = q
	}
	x, t = own(x, inPlace), own(t, inPlace)
	for r, p := range piv {
		if q, ok := at[p]; ok {
			a, b := x.Data[r*x.Stride:r*x.Stride+x.Cols], t.Data[q*t.Stride:q*t.Stride+t.Cols]
			for c := range a {
				a[c], b[c] = b[c], a[c]
			}
		}
	}
	return []blas64.General{x, t}, nil
}

// luNoPivot factors a square tile without pivoting, A = L U, L unit lower
// and U upper triangular; the tournament has put the pivots on the
// diagonal. It factors in A's memory if inPlace.
func luNoPivot(in []blas64.General, _ []lp.Value, inPlace bool) ([]blas64.General, error) {
	a := in[0]
	if a.Rows != a.Cols {
		return nil, shapeErr("lu_nopiv", "needs a square tile, got %s", Shape(a))
	}
	f := own(a, inPlace)
	scale := 0.0
	for i := range f.Rows {
		for j := range f.Cols {
			scale = max(scale, math.Abs(f.Data[i*f.Stride+j]))
		}
	}
	if err := luNoPiv(f, float64(max(f.Rows, 1))*unitRoundoff*scale); err != nil {
		return nil, err
	}
	n := f.Rows
	l, u := NewTile(n, n), NewTile(n, n)
	for i := range n {
		for j := range n {
			x := f.Data[i*f.Stride+j]
			switch {
			case j < i:
				l.Data[i*l.Stride+j] = x
			default:
				u.Data[i*u.Stride+j] = x
			}
		}
		l.Data[i*l.Stride+i] = 1
	}
	return []blas64.General{l, u}, nil
}

// unitRoundoff is the unit roundoff of float64.
const unitRoundoff = 0x1p-53

// luNoPiv overwrites a with its L and U factors, recursively: factor the
// left half, solve for the top right and bottom left blocks, update the
// bottom right block, factor it. A pivot of magnitude tol or less fails.
func luNoPiv(a blas64.General, tol float64) error {
	n := a.Rows
	if n <= 16 {
		for k := range n {
			p := a.Data[k*a.Stride+k]
			if math.Abs(p) <= tol {
				return ErrSingularMatrix
			}
			for i := k + 1; i < n; i++ {
				l := a.Data[i*a.Stride+k] / p
				a.Data[i*a.Stride+k] = l
				for j := k + 1; j < n; j++ {
					a.Data[i*a.Stride+j] -= l * a.Data[k*a.Stride+j]
				}
			}
		}
		return nil
	}
	h := n / 2
	a11 := blas64.General{Rows: h, Cols: h, Stride: a.Stride, Data: a.Data}
	a12 := blas64.General{Rows: h, Cols: n - h, Stride: a.Stride, Data: a.Data[h:]}
	a21 := blas64.General{Rows: n - h, Cols: h, Stride: a.Stride, Data: a.Data[h*a.Stride:]}
	a22 := blas64.General{Rows: n - h, Cols: n - h, Stride: a.Stride, Data: a.Data[h*a.Stride+h:]}
	if err := luNoPiv(a11, tol); err != nil {
		return err
	}
	blas64.Trsm(blas.Left, blas.NoTrans, 1, blas64.Triangular{Uplo: blas.Lower, Diag: blas.Unit, N: h, Stride: a.Stride, Data: a.Data}, a12)
	blas64.Trsm(blas.Right, blas.NoTrans, 1, blas64.Triangular{Uplo: blas.Upper, Diag: blas.NonUnit, N: h, Stride: a.Stride, Data: a.Data}, a21)
	blas64.Gemm(blas.NoTrans, blas.NoTrans, -1, a21, a12, 1, a22)
	return luNoPiv(a22, tol)
}

// trsmUpper solves X U = B: X = B U⁻¹ (an L panel of LU).
func trsmUpper(in []blas64.General, _ []lp.Value, inPlace bool) ([]blas64.General, error) {
	u, b := in[0], in[1]
	if u.Rows != u.Cols || b.Cols != u.Rows {
		return nil, shapeErr("trsm_upper", "needs a square U and B with as many columns, got U %s and B %s", Shape(u), Shape(b))
	}
	if err := checkDiagonal(u); err != nil {
		return nil, ErrSingularMatrix
	}
	x := own(b, inPlace)
	if x.Rows > 0 && x.Cols > 0 {
		blas64.Trsm(blas.Right, blas.NoTrans, 1, triangular(u, blas.Upper), x)
	}
	return []blas64.General{x}, nil
}

// solveLowerUnit computes L⁻¹ B for a unit lower triangular L.
func solveLowerUnit(in []blas64.General, _ []lp.Value, inPlace bool) ([]blas64.General, error) {
	l, b := in[0], in[1]
	if l.Rows != l.Cols || b.Rows != l.Rows {
		return nil, shapeErr("solve_lower_unit", "needs a square L and B with as many rows, got L %s and B %s", Shape(l), Shape(b))
	}
	x := own(b, inPlace)
	if x.Rows > 0 && x.Cols > 0 {
		blas64.Trsm(blas.Left, blas.NoTrans, 1, blas64.Triangular{Uplo: blas.Lower, Diag: blas.Unit, N: l.Rows, Stride: l.Stride, Data: l.Data}, x)
	}
	return []blas64.General{x}, nil
}

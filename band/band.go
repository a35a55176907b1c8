// Package band finishes npw's SVD and symmetric eigensolver on one
// worker: an upper band matrix (the output of the band reductions,
// bdfac.lp and sytrb.lp) is chased down to bidiagonal (tridiagonal) form
// with Householder reflectors (Lang's bulge chasing, as LAPACK's dsb2st
// and PLASMA's gbbrd), in memory proportional to n·b and time
// proportional to n²·b, and its singular values (eigenvalues) computed
// with LAPACK's dqds (dsterf), to high relative accuracy. No n×n matrix
// is formed. With the reflectors kept, the vectors are computed a range
// of columns at a time by inverse iteration (TridiagonalVectors,
// BidiagonalVectors) and the reflectors applied back to them in blocks
// (ApplyReflectors), so that tasks can share the work.
package band

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/lapack/gonum"
)

// An Upper is an n×n upper band matrix with upper bandwidth B: entries
// (i, j) with 0 <= j − i <= B.
type Upper struct {
	N, B int
	data []float64 // row i holds offsets 0 .. B at data[i*(B+1):]
}

// NewUpper returns a zero n×n upper band matrix of bandwidth b.
func NewUpper(n, b int) *Upper {
	if n < 0 || b < 0 {
		panic("band: negative size")
	}
	return &Upper{N: n, B: b, data: make([]float64, n*(b+1))}
}

func (u *Upper) slot(i, j int) (int, bool) {
	d := j - i
	if i < 0 || i >= u.N || j < 0 || j >= u.N || d < 0 || d > u.B {
		return 0, false
	}
	return i*(u.B+1) + d, true
}

// At returns entry (i, j), zero outside the stored band.
func (u *Upper) At(i, j int) float64 {
	if k, ok := u.slot(i, j); ok {
		return u.data[k]
	}
	return 0
}

// Set sets entry (i, j), which must lie in the band (0 <= j − i <= B).
func (u *Upper) Set(i, j int, v float64) {
	if d := j - i; d < 0 || d > u.B {
		panic(fmt.Sprintf("band: (%d,%d) is outside an upper band of width %d", i, j, u.B))
	}
	k, ok := u.slot(i, j)
	if !ok {
		panic(fmt.Sprintf("band: (%d,%d) is outside the %d×%d matrix", i, j, u.N, u.N))
	}
	u.data[k] = v
}

var impl gonum.Implementation

// Bidiagonalize reduces u to upper bidiagonal form by the Householder
// chase (bidiagonalize) and returns the diagonal d and superdiagonal e;
// u is left as it was.
func (u *Upper) Bidiagonalize() (d, e []float64) {
	d, e, _, _ = u.bidiagonalize(false)
	return d, e
}

// SingularValues returns the singular values of u, largest first.
func SingularValues(u *Upper) ([]float64, error) {
	d, e := u.Bidiagonalize()
	if len(d) == 0 {
		return d, nil
	}
	work := make([]float64, 4*len(d))
	if info := impl.Dlasq1(len(d), d, e, work); info != 0 {
		return nil, fmt.Errorf("band: the bidiagonal singular value iteration did not converge (info %d)", info)
	}
	for _, s := range d {
		if math.IsNaN(s) {
			return nil, fmt.Errorf("band: the matrix holds NaN or Inf")
		}
	}
	return d, nil
}

// A Block is one tile of a block bidiagonal matrix, at block row Row and
// block column Col of a grid of Size×Size blocks.
type Block struct {
	Row, Col int
	Rows     int
	Cols     int
	Stride   int
	Data     []float64
}

// FromBlocks assembles the n×n upper band matrix of bandwidth size whose
// diagonal blocks (upper triangular) and superdiagonal blocks (lower
// triangular) are given, as bdfac.lp's D and E tiles are. Entries outside
// the band must be zero.
func FromBlocks(n, size int, blocks []Block) (*Upper, error) {
	u := NewUpper(n, size)
	for _, b := range blocks {
		r0, c0 := b.Row*size, b.Col*size
		for i := range b.Rows {
			for j := range b.Cols {
				v := b.Data[i*b.Stride+j]
				if v == 0 {
					continue
				}
				gi, gj := r0+i, c0+j
				if d := gj - gi; gi >= n || gj >= n || d < 0 || d > size {
					return nil, fmt.Errorf("band: block (%d,%d) has a nonzero at (%d,%d), outside the %d×%d band of width %d", b.Row, b.Col, gi, gj, n, n, size)
				}
				u.Set(gi, gj, v)
			}
		}
	}
	return u, nil
}

// FromRows returns the n×n upper band matrix of bandwidth b whose row i
// is rows[i*stride : i*stride+b+1]: entries (i, i) .. (i, i+b), those
// past column n−1 zero.
func FromRows(n, b int, rows []float64, stride int) (*Upper, error) {
	if n < 0 || b < 0 || stride < b+1 || n > 0 && len(rows) < (n-1)*stride+b+1 {
		return nil, fmt.Errorf("band: %d values with stride %d do not hold %d rows of %d", len(rows), stride, n, b+1)
	}
	u := NewUpper(n, b)
	for i := range n {
		for d := range b + 1 {
			v := rows[i*stride+d]
			if v == 0 {
				continue
			}
			if i+d >= n {
				return nil, fmt.Errorf("band: row %d has a nonzero in column %d, past the last (%d)", i, i+d, n-1)
			}
			u.Set(i, i+d, v)
		}
	}
	return u, nil
}

// Package band finishes npw's SVD and symmetric eigensolver on one
// worker: an upper band matrix (the output of the band reductions,
// bdfac.lp and sytrb.lp) is chased down to bidiagonal (tridiagonal) form
// with Givens rotations (Schwarz's bulge chasing), in memory proportional
// to n·b and time proportional to n²·b, and its singular values
// (eigenvalues) computed with LAPACK's dqds (dsterf), to high relative
// accuracy. No n×n matrix is formed. With the rotations kept, the vectors
// are computed a range of columns at a time by inverse iteration
// (TridiagonalVectors, BidiagonalVectors) and rotated back
// (ApplyRotationsT), so that tasks can share the work.
package band

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/lapack/gonum"
)

// An Upper is an n×n upper band matrix with upper bandwidth B: entries
// (i, j) with 0 <= j − i <= B. Storage holds one more diagonal on each
// side for the bulges of the reduction.
type Upper struct {
	N, B int
	data []float64  // row i holds offsets −1 .. B+1 at data[i*w : (i+1)*w]
	rec  *Rotations // where rotateSym and rotateColumns record rotations, if set
	recL *Rotations // where rotateRows records its rotations, if set
}

// width is the stored diagonals per row.
func (u *Upper) width() int { return u.B + 3 }

// NewUpper returns a zero n×n upper band matrix of bandwidth b.
func NewUpper(n, b int) *Upper {
	if n < 0 || b < 0 {
		panic("band: negative size")
	}
	return &Upper{N: n, B: b, data: make([]float64, n*(b+3))}
}

func (u *Upper) slot(i, j int) (int, bool) {
	d := j - i
	if i < 0 || i >= u.N || j < 0 || j >= u.N || d < -1 || d > u.B+1 {
		return 0, false
	}
	return i*u.width() + d + 1, true
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

// put stores a value computed by a rotation; outside the storage it must
// be zero, or the reduction has a bug.
func (u *Upper) put(i, j int, v float64) {
	if k, ok := u.slot(i, j); ok {
		u.data[k] = v
	} else if v != 0 {
		panic(fmt.Sprintf("band: fill-in at (%d,%d) outside the storage", i, j))
	}
}

var impl gonum.Implementation

// rotateColumns applies a rotation to columns c−1 and c, so that row z's
// entry in column c becomes zero. In the diagonal storage a column is a
// vector of stride width−1, so the rows where both columns are stored go
// through one BLAS drot; the two edge rows take the checked path.
func (u *Upper) rotateColumns(c, z int) {
	cs, sn, r := impl.Dlartg(u.At(z, c-1), u.At(z, c))
	u.rec.add(c, cs, sn)
	lo, hi := max(0, c-1-u.B), min(u.N-1, c)
	if lo <= hi {
		w := u.width()
		x := u.data[lo*w+(c-1-lo)+1:]
		y := u.data[lo*w+(c-lo)+1:]
		blas64.Implementation().Drot(hi-lo+1, x, w-1, y, w-1, cs, sn)
	}
	for _, row := range []int{lo - 1, hi + 1} {
		if row < 0 || row >= u.N {
			continue
		}
		x, y := u.At(row, c-1), u.At(row, c)
		u.put(row, c-1, cs*x+sn*y)
		u.put(row, c, -sn*x+cs*y)
	}
	u.put(z, c-1, r)
	u.put(z, c, 0)
}

// rotateRows applies a rotation to rows r−1 and r, so that row r's entry
// in column z becomes zero. The columns both rows store are contiguous and
// go through one drot; the two edge columns take the checked path.
func (u *Upper) rotateRows(r, z int) {
	cs, sn, rr := impl.Dlartg(u.At(r-1, z), u.At(r, z))
	u.recL.add(r, cs, sn)
	lo, hi := max(0, r-1), min(u.N-1, r+u.B)
	if lo <= hi {
		w := u.width()
		x := u.data[(r-1)*w+(lo-(r-1))+1:]
		y := u.data[r*w+(lo-r)+1:]
		blas64.Implementation().Drot(hi-lo+1, x, 1, y, 1, cs, sn)
	}
	for _, col := range []int{lo - 1, hi + 1} {
		if col < 0 || col >= u.N {
			continue
		}
		x, y := u.At(r-1, col), u.At(r, col)
		u.put(r-1, col, cs*x+sn*y)
		u.put(r, col, -sn*x+cs*y)
	}
	u.put(r-1, z, rr)
	u.put(r, z, 0)
}

// Bidiagonalize reduces u in place to upper bidiagonal form and returns
// the diagonal d and superdiagonal e. Each entry beyond the superdiagonal
// is annihilated by a rotation of two columns; the bulge this creates
// below the diagonal is chased down the band by alternating row and
// column rotations, b rows at a time, until it falls off the end.
func (u *Upper) Bidiagonalize() (d, e []float64) {
	n, b := u.N, u.B
	for i := 0; i < n-1; i++ {
		for off := min(b, n-1-i); off >= 2; off-- {
			j := i + off
			if u.At(i, j) == 0 {
				continue
			}
			u.rotateColumns(j, i) // bulge at (j, j−1)
			for r := j; ; {
				u.rotateRows(r, r-1) // bulge at (r−1, r+b)
				c := r - 1 + b + 1
				if c >= n || u.At(r-1, c) == 0 {
					break
				}
				u.rotateColumns(c, r-1) // bulge at (c, c−1)
				r = c
			}
		}
	}
	return u.diagonals()
}

// diagonals returns u's diagonal and first superdiagonal.
func (u *Upper) diagonals() (d, e []float64) {
	d = make([]float64, u.N)
	e = make([]float64, max(u.N-1, 0))
	for i := range u.N {
		d[i] = u.At(i, i)
		if i+1 < u.N {
			e[i] = u.At(i, i+1)
		}
	}
	return d, e
}

// SingularValues returns the singular values of u, largest first. u is
// overwritten.
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

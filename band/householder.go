package band

import (
	"fmt"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/lapack"
)

// The chase by Householder reflectors (Lang's bulge chasing, as LAPACK's
// dsb2st and PLASMA's gbbrd do it): sweep i zeroes row i of the band past
// its first superdiagonal with one reflector over columns i+1 .. i+B, and
// chases the bulge this makes down the band a B×B block at a time, each
// step a reflector of length B applied to dense blocks. Every step is a
// handful of level-2 BLAS calls on blocks that stay in cache, where a
// Givens chase rotates entries one pair at a time across the whole band's
// memory; and the reflectors, unlike rotations, can be applied back to
// the vectors in blocks (ApplyReflectors), at level 3.

// Reflectors are the Householder reflectors of a chase of an n×n band of
// width B: step k of sweep i (i < Sweeps(), k < Steps(i)) acts on indices
// c .. c+m−1, c = i+1+k·B, m = min(B, N−c), as H = I − τ v vᵀ with v[0] = 1.
// Data holds a row of B numbers per reflector, sweep by sweep: τ, then
// v[1 .. m−1] (the rest of the row zero).
type Reflectors struct {
	N, B int
	Data []float64
}

// Sweeps is how many sweeps a chase of an n×n band of width b makes: one
// per row with entries past its superdiagonal, none if b < 2.
func Sweeps(n, b int) int {
	if b < 2 {
		return 0
	}
	return max(n-2, 0)
}

// Steps is how many reflectors sweep i makes: one per block of b indices
// from i+1 to n−1.
func Steps(n, b, i int) int { return (n-2-i)/b + 1 }

// ReflectorCount is how many reflectors a chase of an n×n band of width b
// makes.
func ReflectorCount(n, b int) int {
	c := 0
	for i := range Sweeps(n, b) {
		c += Steps(n, b, i)
	}
	return c
}

// chase is the working storage of a Householder chase: entries (i, j)
// with lo ≤ j − i ≤ hi, at a[i·ld + j + off] (ld = hi − lo, off = −lo),
// so that any block of them is a row-major matrix of stride ld.
type chase struct {
	n, b, ld, off int
	a             []float64
	refl          []float64 // reflectors recorded, B numbers each
	keep          bool      // whether to record them
}

// newChase copies u into the storage of a chase whose entries lie
// between diagonals lo and hi, given in units of the chase's bandwidth:
// u.B, or n−1 if that is narrower (a wider band of an n×n matrix is all
// of it).
func newChase(u *Upper, lo, hi int, keep bool) *chase {
	n, b := u.N, max(min(u.B, u.N-1), 0)
	lo, hi = lo*max(b, 1), hi*max(b, 1) // the superdiagonal is read even if b = 0
	c := &chase{n: n, b: b, ld: hi - lo, off: -lo, keep: keep}
	c.a = make([]float64, n*(hi-lo+1)+1)
	for i := range n {
		for j := i; j <= min(n-1, i+b); j++ {
			c.a[c.at(i, j)] = u.At(i, j)
		}
	}
	if keep {
		c.refl = make([]float64, 0, ReflectorCount(n, b)*b)
	}
	return c
}

// reflectors returns the reflectors recorded.
func (c *chase) reflectors() Reflectors { return Reflectors{N: c.n, B: c.b, Data: c.refl} }

// diagonals returns the diagonal and first superdiagonal.
func (c *chase) diagonals() (d, e []float64) {
	d = make([]float64, c.n)
	e = make([]float64, max(c.n-1, 0))
	for i := range c.n {
		d[i] = c.a[c.at(i, i)]
		if i+1 < c.n {
			e[i] = c.a[c.at(i, i+1)]
		}
	}
	return d, e
}

// at is the index of entry (i, j).
func (c *chase) at(i, j int) int { return i*c.ld + j + c.off }

// block returns the r×q block of entries from (i, j), a row-major matrix.
func (c *chase) block(i, j, r, q int) blas64.General {
	return blas64.General{Rows: r, Cols: q, Stride: c.ld, Data: c.a[c.at(i, j):]}
}

// reflect makes the reflector that zeroes x[inc], .., x[(m−1)·inc] into
// x[0], records it and returns v (in v, length m) and τ.
func (c *chase) reflect(m int, x []float64, inc int, v []float64) float64 {
	beta, tau := impl.Dlarfg(m, x[0], x[min(inc, len(x)):], inc)
	x[0] = beta
	v[0] = 1
	for t := 1; t < m; t++ {
		v[t] = x[t*inc]
		x[t*inc] = 0
	}
	if c.keep {
		row := make([]float64, c.b)
		row[0] = tau
		copy(row[1:], v[1:m])
		c.refl = append(c.refl, row...)
	}
	return tau
}

// applyLeft sets x to (I − τ v vᵀ) x; w is workspace of x.Cols.
func applyLeft(x blas64.General, v []float64, tau float64, w []float64) {
	if tau == 0 || x.Rows == 0 || x.Cols == 0 {
		return
	}
	bl := blas64.Implementation()
	bl.Dgemv(blas.Trans, x.Rows, x.Cols, 1, x.Data, x.Stride, v, 1, 0, w, 1)
	bl.Dger(x.Rows, x.Cols, -tau, v, 1, w, 1, x.Data, x.Stride)
}

// applyRight sets x to x (I − τ v vᵀ); w is workspace of x.Rows.
func applyRight(x blas64.General, v []float64, tau float64, w []float64) {
	if tau == 0 || x.Rows == 0 || x.Cols == 0 {
		return
	}
	bl := blas64.Implementation()
	bl.Dgemv(blas.NoTrans, x.Rows, x.Cols, 1, x.Data, x.Stride, v, 1, 0, w, 1)
	bl.Dger(x.Rows, x.Cols, -tau, w, 1, v, 1, x.Data, x.Stride)
}

// applySym sets the symmetric block whose upper triangle s holds to
// H s H, H = I − τ v vᵀ (LAPACK's dlarfy); w is workspace of s.Rows.
func applySym(s blas64.General, v []float64, tau float64, w []float64) {
	m := s.Rows
	if tau == 0 || m == 0 {
		return
	}
	bl := blas64.Implementation()
	bl.Dsymv(blas.Upper, m, tau, s.Data, s.Stride, v, 1, 0, w, 1)
	alpha := -0.5 * tau * bl.Ddot(m, w, 1, v, 1)
	bl.Daxpy(m, alpha, v, 1, w, 1)
	bl.Dsyr2(blas.Upper, m, -1, v, 1, w, 1, s.Data, s.Stride)
}

// tridiagonalize reduces the symmetric band whose upper triangle u holds
// to tridiagonal form, recording the reflectors if keep. Step 0 of sweep
// i zeroes row i past column i+1 and applies its reflector to the
// diagonal block of indices i+1 .. i+B on both sides; each later step
// applies the last reflector to the block right of that diagonal block
// (which fills it), zeroes the block's first row past its first entry
// with a new reflector, applies that from the right to the block's other
// rows and to the next diagonal block on both sides. Entries reach
// 2B−1 diagonals above the main one.
func (u *Upper) tridiagonalize(keep bool) (d, e []float64, r Reflectors) {
	c := newChase(u, 0, 2, keep)
	n, b := c.n, c.b
	v, vp := make([]float64, b), make([]float64, b)
	w := make([]float64, b)
	for i := range Sweeps(n, b) {
		s := i + 1
		m := min(b, n-s)
		tau := c.reflect(m, c.a[c.at(i, s):], 1, v)
		applySym(c.block(s, s, m, m), v, tau, w)
		for k := 1; k < Steps(n, b, i); k++ {
			ps, pm, ptau := s, m, tau
			v, vp = vp, v
			s += b
			m = min(b, n-s)
			x := c.block(ps, s, pm, m)
			applyLeft(x, vp, ptau, w)
			tau = c.reflect(m, x.Data, 1, v)
			x.Rows--
			x.Data = x.Data[x.Stride:]
			applyRight(x, v, tau, w)
			applySym(c.block(s, s, m, m), v, tau, w)
		}
	}
	d, e = c.diagonals()
	return d, e, c.reflectors()
}

// bidiagonalize reduces the upper band u to upper bidiagonal form,
// recording the left and right reflectors if keep. Step k of sweep i
// acts on the block of indices c .. c+B−1, c = i+1+k·B: a right
// reflector over those columns zeroes the row above the block (row i,
// then the first row of the last block) past its first entry, and is
// applied to the rows below it down to the block's last, which fills the
// block below its diagonal; a left reflector over the block's rows then
// zeroes its first column below the diagonal and is applied across the
// rows, which fills the first row past the band: the next step's bulge.
// Entries lie between B−1 diagonals below the main one and 2B−1 above.
func (u *Upper) bidiagonalize(keep bool) (d, e []float64, left, right Reflectors) {
	c := newChase(u, -1, 2, keep)
	n, b := c.n, c.b
	lc := &chase{n: n, b: b, keep: keep} // where the left reflectors go
	if keep {
		lc.refl = make([]float64, 0, cap(c.refl))
	}
	v, w := make([]float64, b), make([]float64, 3*b)
	for i := range Sweeps(n, b) {
		for k := range Steps(n, b, i) {
			s := i + 1 + k*b
			m := min(b, n-s)
			r := i
			if k > 0 {
				r = s - b
			}
			tau := c.reflect(m, c.a[c.at(r, s):], 1, v)
			applyRight(c.block(r+1, s, s+m-r-1, m), v, tau, w)
			tau = lc.reflect(m, c.a[c.at(s, s):], c.ld, v)
			applyLeft(c.block(s, s+1, m, min(n, s+m+b)-s-1), v, tau, w)
		}
	}
	d, e = c.diagonals()
	return d, e, lc.reflectors(), c.reflectors()
}

// TridiagonalizeReflectors is Tridiagonalize, also returning its
// reflectors: with Q their product, the band is Q T Qᵀ, so its
// eigenvectors are Q times T's (ApplyReflectors).
func (u *Upper) TridiagonalizeReflectors() (d, e []float64, r Reflectors) {
	return u.tridiagonalize(true)
}

// BidiagonalizeReflectors is Bidiagonalize, also returning its left and
// right reflectors: with U and V their products, the band is U B Vᵀ, so
// its singular vectors are U and V times B's (ApplyReflectors of each).
func (u *Upper) BidiagonalizeReflectors() (d, e []float64, left, right Reflectors) {
	return u.bidiagonalize(true)
}

// ApplyReflectors sets Z to Q Z, Q the product of the chase's reflectors
// in the order it made them (so that the band is Q T Qᵀ, T the result),
// Z row-major n×cols. The reflectors of nb consecutive sweeps at the same
// step act on overlapping windows of indices, one index apart, and
// commute with those of other steps but the neighbouring ones; applied a
// group of sweeps at a time, last group first, and in a group step by
// step from the first, they are one block reflector each (LAPACK's
// dlarft and dlarfb): level-3 BLAS, about 2·n²·cols·(1 + nb/B) flops.
func ApplyReflectors(r Reflectors, z []float64, cols int) error {
	n, b := r.N, r.B
	if n < 0 || b < 0 || cols < 0 || len(z) != n*cols {
		return fmt.Errorf("band: %d values are not %d rows of %d", len(z), n, cols)
	}
	want := ReflectorCount(n, b)
	if len(r.Data) != want*b {
		return fmt.Errorf("band: %d reflector values for a %d×%d band of width %d, which makes %d reflectors of %d", len(r.Data), n, n, b, want, b)
	}
	sweeps := Sweeps(n, b)
	if sweeps == 0 || cols == 0 {
		return nil
	}
	first := make([]int, sweeps+1) // index of each sweep's first reflector
	for i := range sweeps {
		first[i+1] = first[i] + Steps(n, b, i)
	}
	nb := min(b, 32)
	rows := b + nb - 1
	vt := make([]float64, rows*nb)
	t := make([]float64, nb*nb)
	tau := make([]float64, nb)
	work := make([]float64, cols*nb)
	for g := (sweeps - 1) / nb; g >= 0; g-- {
		i0, i1 := g*nb, min(sweeps, g*nb+nb)
		for k := range Steps(n, b, i0) {
			s0 := i0 + 1 + k*b
			last := min(i1, n-1-k*b) // sweeps i0 .. last−1 reach step k
			nk := last - i0
			m := min(n, last+k*b+b) - s0
			clear(vt[:m*nb])
			for j := range nk {
				row := r.Data[(first[i0+j]+k)*b:][:b]
				tau[j] = row[0]
				vt[j*nb+j] = 1
				for q := 1; q < min(b, n-s0-j); q++ {
					vt[(j+q)*nb+j] = row[q]
				}
			}
			impl.Dlarft(lapack.Forward, lapack.ColumnWise, m, nk, vt, nb, tau, t, nb)
			impl.Dlarfb(blas.Left, blas.NoTrans, lapack.Forward, lapack.ColumnWise, m, cols, nk, vt, nb, t, nb, z[s0*cols:], cols, work, nb)
		}
	}
	return nil
}

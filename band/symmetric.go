package band

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/blas/blas64"
)

// The symmetric case: an Upper holds the upper triangle of a symmetric
// band matrix (the output of npw's two-sided reduction, sytrb.lp), which
// similarity rotations reduce to tridiagonal form (Schwarz's algorithm,
// as LAPACK's dsbtrd), whose eigenvalues LAPACK's dsterf computes.

// rotateSym applies the similarity rotation of rows and columns q−1 and
// q that zeroes entry (x, q) of the upper triangle, x < q−1, into entry
// (x, q−1). Row q−1 gains entry (q−1, q+B): the bulge the next rotation
// chases.
func (u *Upper) rotateSym(q, x int) {
	p := q - 1
	cs, sn, r := impl.Dlartg(u.At(x, p), u.At(x, q))
	u.rec.add(q, cs, sn)
	w := u.width()
	// columns p and q above row p: entries (y, p) and (y, q), one row apart
	// in the storage of each row y
	lo := max(0, q-u.B-1)
	if hi := p - 1; lo <= hi {
		xs := u.data[lo*w+(p-lo)+1:]
		ys := u.data[lo*w+(q-lo)+1:]
		blas64.Implementation().Drot(hi-lo+1, xs, w-1, ys, w-1, cs, sn)
	}
	u.put(x, p, r)
	u.put(x, q, 0)
	// rows p and q right of column q: (p, y) and (q, y), y = q+1 .. q+B
	if hi := min(u.N-1, q+u.B); q+1 <= hi {
		xs := u.data[p*w+(q+1-p)+1:]
		ys := u.data[q*w+1+1:]
		blas64.Implementation().Drot(hi-q, xs, 1, ys, 1, cs, sn)
	}
	// the 2×2 block on the diagonal: G [a e; e d] Gᵀ
	a, e, d := u.At(p, p), u.At(p, q), u.At(q, q)
	u.put(p, p, cs*cs*a+2*cs*sn*e+sn*sn*d)
	u.put(q, q, sn*sn*a-2*cs*sn*e+cs*cs*d)
	u.put(p, q, cs*sn*(d-a)+(cs*cs-sn*sn)*e)
}

// Tridiagonalize reduces the symmetric band matrix whose upper triangle u
// holds, in place, to tridiagonal form by similarity rotations, and
// returns its diagonal d and off-diagonal e. Each entry beyond the first
// off-diagonal is zeroed by a rotation of two rows and columns; the bulge
// it creates one place outside the band is chased down by rotations B
// rows apart until it falls off the end.
func (u *Upper) Tridiagonalize() (d, e []float64) {
	n, b := u.N, u.B
	for i := 0; i < n-2; i++ {
		for off := min(b, n-1-i); off >= 2; off-- {
			j := i + off
			if u.At(i, j) == 0 {
				continue
			}
			u.rotateSym(j, i) // bulge at (j−1, j+b)
			for r := j; ; {
				col := r + b
				if col >= n || u.At(r-1, col) == 0 {
					break
				}
				u.rotateSym(col, r-1) // bulge at (col−1, col+b)
				r = col
			}
		}
	}
	return u.diagonals()
}

// Eigenvalues returns the eigenvalues, ascending, of the symmetric band
// matrix whose upper triangle u holds. u is overwritten.
func Eigenvalues(u *Upper) ([]float64, error) {
	d, e := u.Tridiagonalize()
	if len(d) == 0 {
		return d, nil
	}
	if !impl.Dsterf(len(d), d, e) {
		return nil, fmt.Errorf("band: the tridiagonal eigenvalue iteration did not converge")
	}
	for _, x := range d {
		if math.IsNaN(x) {
			return nil, fmt.Errorf("band: the matrix holds NaN or Inf")
		}
	}
	return d, nil
}

package band

import (
	"fmt"
	"math"
)

// The symmetric case: an Upper holds the upper triangle of a symmetric
// band matrix (the output of npw's two-sided reduction, sytrb.lp), which
// similarity transformations by reflectors reduce to tridiagonal form (as
// LAPACK's dsb2st), whose eigenvalues LAPACK's dsterf computes.

// Tridiagonalize reduces the symmetric band matrix whose upper triangle u
// holds to tridiagonal form by the Householder chase (tridiagonalize) and
// returns its diagonal d and off-diagonal e; u is left as it was.
func (u *Upper) Tridiagonalize() (d, e []float64) {
	d, e, _ = u.tridiagonalize(false)
	return d, e
}

// Eigenvalues returns the eigenvalues, ascending, of the symmetric band
// matrix whose upper triangle u holds.
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

package band

import (
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/lapack"
	"gonum.org/v1/gonum/lapack/lapack64"
)

// Singular vectors of an upper bidiagonal matrix, a range of them at a
// time, from the eigenvectors of its Golub–Kahan matrix, and those of the
// band it came from through the rotations of the chase.

// BidiagonalizeRotations is Bidiagonalize, also returning its rotations:
// the row rotations (left) and the column rotations (right). With L and R
// their products
// (the last applied leftmost in L, rightmost in R), Bd = L A R, so A's
// singular vectors are Lᵀ and R times the bidiagonal's: ApplyRotationsT
// of each list.
func (u *Upper) BidiagonalizeRotations() (d, e []float64, left, right Rotations) {
	u.recL, u.rec = &left, &right
	defer func() { u.recL, u.rec = nil, nil }()
	d, e = u.Bidiagonalize()
	return d, e, left, right
}

// BidiagonalVectors returns the left and right singular vectors of the
// n×n upper bidiagonal matrix with diagonal d and superdiagonal e for its
// singular values s[lo:hi] (s holds all n, largest first, as dlasq1
// returns them), as two n×(hi−lo) row-major matrices U and V of
// orthonormal columns with B V = U diag(s[lo:hi]) to working accuracy.
//
// The singular values are grouped into clusters as TridiagonalVectors
// groups eigenvalues (clusterGap). For each cluster the
// eigenvectors of the Golub–Kahan matrix [0 Bᵀ; B 0] (a tridiagonal with
// a zero diagonal, rows interleaved) for its +σ are found by inverse
// iteration, and for a cluster that reaches down to 0 those for its −σ
// too, so that the ± pairs that cannot be told apart are computed as one
// invariant subspace. Their V parts and U parts span the cluster's right
// and left singular subspaces; orthonormal bases of each (an SVD of the
// parts) are then rotated by the SVD of the small matrix Uᵀ B V, which
// pairs them. A cluster that reaches into [lo, hi) is computed whole, so
// the ranges of a partition of 0..n−1 give one orthonormal basis each.
func BidiagonalVectors(d, e, s []float64, lo, hi int) (uOut, vOut []float64, err error) {
	n := len(d)
	if len(e) != max(n-1, 0) || len(s) != n || lo < 0 || hi > n || lo > hi {
		return nil, nil, fmt.Errorf("band: %d singular values [%d, %d) of a %d×%d bidiagonal with %d superdiagonal entries", len(s), lo, hi, n, n, len(e))
	}
	w := hi - lo
	uOut, vOut = make([]float64, n*w), make([]float64, n*w)
	if w == 0 {
		return uOut, vOut, nil
	}
	// the Golub–Kahan tridiagonal: x = (v₀, u₀, v₁, u₁, …)
	gk := make([]float64, 2*n-1)
	for i := range n {
		gk[2*i] = d[i]
		if i < n-1 {
			gk[2*i+1] = e[i]
		}
	}
	zero := make([]float64, 2*n)
	norm := 0.0
	for i := range 2 * n {
		t := 0.0
		if i > 0 {
			t += math.Abs(gk[i-1])
		}
		if i < 2*n-1 {
			t += math.Abs(gk[i])
		}
		norm = max(norm, t)
	}
	if norm == 0 {
		norm = 1
	}
	ortol := clusterGap(norm, n)
	first := lo
	for first > 0 && s[first-1]-s[first] <= ortol {
		first--
	}
	last := hi
	for last < n && s[last-1]-s[last] <= ortol {
		last++
	}
	var lu tridiagLU
	for c0 := first; c0 < last; {
		c1 := c0 + 1
		for c1 < n && s[c1-1]-s[c1] <= ortol {
			c1++
		}
		k := c1 - c0
		var shifts []float64
		for j := c1 - 1; j >= c0; j-- {
			shifts = append(shifts, s[j])
		}
		if s[c1-1] <= ortol { // reaches 0: its −σ too
			for j := c0; j < c1; j++ {
				shifts = append(shifts, -s[j])
			}
		}
		slices.Sort(shifts)
		z, err := clusterVectors(&lu, zero, gk, shifts, uint64(c0), norm)
		if err != nil {
			return nil, nil, err
		}
		if k == 1 && len(z) == 1 { // a lone +σ: its halves, normalised, paired by sign
			if err := splitPair(z[0], d, e, c0, lo, hi, w, uOut, vOut); err != nil {
				return nil, nil, err
			}
			c0 = c1
			continue
		}
		m := len(z)
		zv, zu := blas64.General{Rows: n, Cols: m, Stride: m, Data: make([]float64, n*m)}, blas64.General{Rows: n, Cols: m, Stride: m, Data: make([]float64, n*m)}
		for c, x := range z {
			for i := range n {
				zv.Data[i*m+c] = x[2*i]
				zu.Data[i*m+c] = x[2*i+1]
			}
		}
		vc, err := leadingBasis(zv, k)
		if err != nil {
			return nil, nil, err
		}
		uc, err := leadingBasis(zu, k)
		if err != nil {
			return nil, nil, err
		}
		// M = Ucᵀ B Vc, k×k, and its SVD P Σ Qᵀ: B (Vc Q) = (Uc P) Σ
		bv := blas64.General{Rows: n, Cols: k, Stride: k, Data: make([]float64, n*k)}
		for i := range n {
			for c := range k {
				x := d[i] * vc.Data[i*k+c]
				if i < n-1 {
					x += e[i] * vc.Data[(i+1)*k+c]
				}
				bv.Data[i*k+c] = x
			}
		}
		mm := blas64.General{Rows: k, Cols: k, Stride: k, Data: make([]float64, k*k)}
		blas64.Gemm(blas.Trans, blas.NoTrans, 1, uc, bv, 0, mm)
		p := blas64.General{Rows: k, Cols: k, Stride: k, Data: make([]float64, k*k)}
		qt := blas64.General{Rows: k, Cols: k, Stride: k, Data: make([]float64, k*k)}
		sig := make([]float64, k)
		if !gesvd(lapack.SVDAll, lapack.SVDAll, mm, p, qt, sig) {
			return nil, nil, fmt.Errorf("band: the SVD of a %d×%d cluster did not converge", k, k)
		}
		ucp := blas64.General{Rows: n, Cols: k, Stride: k, Data: make([]float64, n*k)}
		vcq := blas64.General{Rows: n, Cols: k, Stride: k, Data: make([]float64, n*k)}
		blas64.Gemm(blas.NoTrans, blas.NoTrans, 1, uc, p, 0, ucp)
		blas64.Gemm(blas.NoTrans, blas.Trans, 1, vc, qt, 0, vcq)
		for c := range k {
			j := c0 + c
			if j < lo || j >= hi {
				continue
			}
			for i := range n {
				uOut[i*w+j-lo] = ucp.Data[i*k+c]
				vOut[i*w+j-lo] = vcq.Data[i*k+c]
			}
		}
		c0 = c1
	}
	for _, x := range uOut {
		if math.IsNaN(x) {
			return nil, nil, fmt.Errorf("band: the singular vectors are not finite")
		}
	}
	return uOut, vOut, nil
}

// splitPair stores the halves of the Golub–Kahan eigenvector z (v, u
// interleaved) of a lone singular value j, each normalised, u's sign
// chosen so that uᵀ B v > 0, as columns j − lo of U and V if j is in
// [lo, hi).
func splitPair(z, d, e []float64, j, lo, hi, w int, uOut, vOut []float64) error {
	if j < lo || j >= hi {
		return nil
	}
	n := len(d)
	nu, nv, ubv := 0.0, 0.0, 0.0
	for i := range n {
		v, u := z[2*i], z[2*i+1]
		nv += v * v
		nu += u * u
		bv := d[i] * v
		if i < n-1 {
			bv += e[i] * z[2*i+2]
		}
		ubv += u * bv
	}
	if nu == 0 || nv == 0 {
		return fmt.Errorf("band: the Golub–Kahan vector of singular value %d has an empty half", j)
	}
	su, sv := 1/math.Sqrt(nu), 1/math.Sqrt(nv)
	if ubv < 0 {
		su = -su
	}
	for i := range n {
		uOut[i*w+j-lo] = z[2*i+1] * su
		vOut[i*w+j-lo] = z[2*i] * sv
	}
	return nil
}

// leadingBasis returns an orthonormal basis (n×k) of the span of a's k
// leading left singular vectors.
func leadingBasis(a blas64.General, k int) (blas64.General, error) {
	n, m := a.Rows, a.Cols
	r := min(n, m)
	u := blas64.General{Rows: n, Cols: r, Stride: r, Data: make([]float64, n*r)}
	sv := make([]float64, r)
	if !gesvd(lapack.SVDStore, lapack.SVDNone, a, u, blas64.General{Stride: 1}, sv) {
		return blas64.General{}, fmt.Errorf("band: the SVD of a %d×%d basis did not converge", n, m)
	}
	out := blas64.General{Rows: n, Cols: k, Stride: k, Data: make([]float64, n*k)}
	for i := range n {
		copy(out.Data[i*k:(i+1)*k], u.Data[i*r:i*r+k])
	}
	return out, nil
}

// gesvd is lapack64.Gesvd with its workspace.
func gesvd(jobU, jobVT lapack.SVDJob, a, u, vt blas64.General, s []float64) bool {
	work := []float64{0}
	lapack64.Gesvd(jobU, jobVT, a, u, vt, s, work, -1)
	work = make([]float64, int(work[0]))
	return lapack64.Gesvd(jobU, jobVT, a, u, vt, s, work, len(work))
}

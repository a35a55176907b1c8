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
// band it came from through the reflectors of the chase.

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
	norm := tridiagNorm(zero, gk)
	ortol := clusterGap(norm, n)
	var lu tridiagLU
	err = eachCluster(n, lo, hi, ortol, func(j int) float64 { return s[j-1] - s[j] }, func(c0, c1 int) error {
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
			return err
		}
		var uc, vc blas64.General
		if len(z) == 1 { // a lone +σ
			uc, vc, err = splitPair(z[0], d, e)
		} else {
			uc, vc, err = pairCluster(z, d, e, c1-c0)
		}
		if err != nil {
			return err
		}
		storeColumns(uOut, w, lo, hi, c0, uc)
		storeColumns(vOut, w, lo, hi, c0, vc)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	for _, x := range uOut {
		if math.IsNaN(x) {
			return nil, nil, fmt.Errorf("band: the singular vectors are not finite")
		}
	}
	return uOut, vOut, nil
}

// storeColumns stores the columns of c, those of indices c0, c0+1, …, as
// columns j − lo of out (n×w, row-major) for the j in [lo, hi).
func storeColumns(out []float64, w, lo, hi, c0 int, c blas64.General) {
	for k := range c.Cols {
		if j := c0 + k; j >= lo && j < hi {
			for i := range c.Rows {
				out[i*w+j-lo] = c.Data[i*c.Stride+k]
			}
		}
	}
}

// splitPair returns the halves of the Golub–Kahan eigenvector z (v, u
// interleaved) of a lone singular value, each normalised, u's sign chosen
// so that uᵀ B v > 0, as n×1 columns U and V.
func splitPair(z, d, e []float64) (u, v blas64.General, err error) {
	n := len(d)
	nu, nv, ubv := 0.0, 0.0, 0.0
	for i := range n {
		vi, ui := z[2*i], z[2*i+1]
		nv += vi * vi
		nu += ui * ui
		bv := d[i] * vi
		if i < n-1 {
			bv += e[i] * z[2*i+2]
		}
		ubv += ui * bv
	}
	if nu == 0 || nv == 0 {
		return u, v, fmt.Errorf("band: a Golub–Kahan vector has an empty half")
	}
	su, sv := 1/math.Sqrt(nu), 1/math.Sqrt(nv)
	if ubv < 0 {
		su = -su
	}
	u = blas64.General{Rows: n, Cols: 1, Stride: 1, Data: make([]float64, n)}
	v = blas64.General{Rows: n, Cols: 1, Stride: 1, Data: make([]float64, n)}
	for i := range n {
		u.Data[i] = z[2*i+1] * su
		v.Data[i] = z[2*i] * sv
	}
	return u, v, nil
}

// pairCluster returns the left and right singular vectors (n×k each) of
// a cluster of k singular values from the Golub–Kahan vectors z that span
// its subspaces: orthonormal bases Uc, Vc of their U and V halves, turned
// by the SVD P Σ Qᵀ of the k×k matrix Ucᵀ B Vc, so that
// B (Vc Q) = (Uc P) Σ.
func pairCluster(z [][]float64, d, e []float64, k int) (u, v blas64.General, err error) {
	n, m := len(d), len(z)
	zv := blas64.General{Rows: n, Cols: m, Stride: m, Data: make([]float64, n*m)}
	zu := blas64.General{Rows: n, Cols: m, Stride: m, Data: make([]float64, n*m)}
	for c, x := range z {
		for i := range n {
			zv.Data[i*m+c] = x[2*i]
			zu.Data[i*m+c] = x[2*i+1]
		}
	}
	vc, err := leadingBasis(zv, k)
	if err != nil {
		return u, v, err
	}
	uc, err := leadingBasis(zu, k)
	if err != nil {
		return u, v, err
	}
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
	if !gesvd(lapack.SVDAll, lapack.SVDAll, mm, p, qt, make([]float64, k)) {
		return u, v, fmt.Errorf("band: the SVD of a %d×%d cluster did not converge", k, k)
	}
	u = blas64.General{Rows: n, Cols: k, Stride: k, Data: make([]float64, n*k)}
	v = blas64.General{Rows: n, Cols: k, Stride: k, Data: make([]float64, n*k)}
	blas64.Gemm(blas.NoTrans, blas.NoTrans, 1, uc, p, 0, u)
	blas64.Gemm(blas.NoTrans, blas.Trans, 1, vc, qt, 0, v)
	return u, v, nil
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

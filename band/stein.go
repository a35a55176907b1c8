package band

import (
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
)

// Eigenvectors of a symmetric tridiagonal matrix by inverse iteration, as
// LAPACK's dstein computes them: a range of them at a time, so that tasks
// can compute the columns of the eigenvector matrix in parallel.

// TridiagonalVectors returns the eigenvectors of the symmetric
// tridiagonal matrix with diagonal d and off-diagonal e for its
// eigenvalues w[lo:hi] (w holds all n, ascending, as dsterf returns
// them), as an n×(hi−lo) row-major matrix of orthonormal columns.
//
// Each is found by inverse iteration with T − λI factored once (Gaussian
// elimination with partial pivoting, tiny pivots perturbed), from a
// random start, scaled as dstein scales it, until its growth shows it has
// converged. Eigenvalues closer than clusterGap form a cluster, whose
// vectors are kept orthogonal to each other by Gram–Schmidt at every
// iteration; equal eigenvalues are moved apart by a few ulps of
// ‖T‖. A cluster that reaches into [lo, hi) is computed whole, and each
// vector's start depends only on its index, so the ranges of a partition
// of 0..n−1 give the vectors of one orthonormal basis.
func TridiagonalVectors(d, e, w []float64, lo, hi int) ([]float64, error) {
	n := len(d)
	if len(e) != max(n-1, 0) || len(w) != n || lo < 0 || hi > n || lo > hi {
		return nil, fmt.Errorf("band: %d eigenvalues [%d, %d) of a %d×%d tridiagonal with %d off-diagonal entries", len(w), lo, hi, n, n, len(e))
	}
	out := make([]float64, n*(hi-lo))
	if lo == hi {
		return out, nil
	}
	norm := tridiagNorm(d, e)
	var lu tridiagLU
	err := eachCluster(n, lo, hi, clusterGap(norm, n), func(j int) float64 { return w[j] - w[j-1] }, func(c0, c1 int) error {
		z, err := clusterVectors(&lu, d, e, w[c0:c1], uint64(c0), norm)
		if err != nil {
			return err
		}
		c := blas64.General{Rows: n, Cols: len(z), Stride: len(z), Data: make([]float64, n*len(z))}
		for k, x := range z {
			for i := range n {
				c.Data[i*c.Stride+k] = x[i]
			}
		}
		storeColumns(out, hi-lo, lo, hi, c0, c)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// tridiagNorm is the 1-norm of the symmetric tridiagonal (d, e), or 1 for
// the zero matrix (whose eigenvectors are any orthonormal basis).
func tridiagNorm(d, e []float64) float64 {
	norm := 0.0
	for i := range d {
		s := math.Abs(d[i])
		if i > 0 {
			s += math.Abs(e[i-1])
		}
		if i < len(d)-1 {
			s += math.Abs(e[i])
		}
		norm = max(norm, s)
	}
	if norm == 0 {
		return 1
	}
	return norm
}

// eachCluster calls f(c0, c1) for each cluster [c0, c1) of n sorted
// values that reaches into [lo, hi), in order: runs whose gaps (gap(j),
// between values j−1 and j) are at most ortol.
func eachCluster(n, lo, hi int, ortol float64, gap func(j int) float64, f func(c0, c1 int) error) error {
	first := lo
	for first > 0 && gap(first) <= ortol {
		first--
	}
	last := hi
	for last < n && gap(last) <= ortol {
		last++
	}
	for c0 := first; c0 < last; {
		c1 := c0 + 1
		for c1 < n && gap(c1) <= ortol {
			c1++
		}
		if err := f(c0, c1); err != nil {
			return err
		}
		c0 = c1
	}
	return nil
}

// clusterVectors returns the eigenvectors of the symmetric tridiagonal
// (d, e) for the ascending eigenvalues shifts, one cluster: each by
// inverse iteration, orthogonalised against the ones before it at every
// step; equal shifts are moved apart by a few ulps of norm (‖T‖₁). Vector
// c starts from a random vector seeded by seed + c.
func clusterVectors(lu *tridiagLU, d, e, shifts []float64, seed uint64, norm float64) ([][]float64, error) {
	const eps = 0x1p-53
	n := len(d)
	pertol := 10 * eps * norm
	crit := math.Sqrt(0.1 / float64(n))
	var cluster [][]float64
	// the cluster's vectors so far, a row each, for the projections
	basis := make([]float64, 0, n*min(len(shifts), 64))
	coef := make([]float64, len(shifts))
	x := make([]float64, n)
	shift := 0.0
	for c, w := range shifts {
		if c == 0 {
			shift = w
		} else {
			shift = max(w, shift+pertol)
		}
		lu.factor(d, e, shift, eps*norm)
		rng := rand.New(rand.NewPCG(seed+uint64(c), uint64(n)))
		for i := range x {
			x[i] = 2*rng.Float64() - 1
		}
		checks := 0
		for its := 0; its < 8; its++ {
			s := 0.0
			for _, v := range x {
				s += math.Abs(v)
			}
			if s == 0 {
				x[(int(seed)+c)%n] = 1
				s = 1
			}
			scale := float64(n) * norm * max(eps, math.Abs(lu.u1[n-1])) / s
			for i := range x {
				x[i] *= scale
			}
			lu.solve(x)
			orthogonalize(basis, len(cluster), x, coef)
			big := 0.0
			for _, v := range x {
				big = max(big, math.Abs(v))
			}
			if big < crit {
				continue
			}
			if checks++; checks >= 3 {
				break
			}
		}
		s, jmax := 0.0, 0
		for i, v := range x {
			s += v * v
			if math.Abs(v) > math.Abs(x[jmax]) {
				jmax = i
			}
		}
		s = 1 / math.Sqrt(s)
		if x[jmax] < 0 {
			s = -s
		}
		z := make([]float64, n)
		for i := range x {
			z[i] = x[i] * s
			if math.IsNaN(z[i]) {
				return nil, fmt.Errorf("band: the eigenvector for %v is not finite", w)
			}
		}
		cluster = append(cluster, z)
		basis = append(basis, z...)
	}
	return cluster, nil
}

// orthogonalize removes from x its components along the k orthonormal
// rows of basis: classical Gram–Schmidt twice (x −= Zᵀ (Z x), two
// matrix–vector products a pass), which keeps x as orthogonal to them as
// modified Gram–Schmidt would, at the speed of BLAS rather than of one
// dot product per row.
func orthogonalize(basis []float64, k int, x, coef []float64) {
	if k == 0 {
		return
	}
	n := len(x)
	z := blas64.General{Rows: k, Cols: n, Stride: n, Data: basis[:k*n]}
	xv := blas64.Vector{N: n, Inc: 1, Data: x}
	cv := blas64.Vector{N: k, Inc: 1, Data: coef[:k]}
	for range 2 {
		blas64.Gemv(blas.NoTrans, 1, z, xv, 0, cv)
		blas64.Gemv(blas.Trans, -1, z, cv, 1, xv)
	}
}

// clusterGap is the largest gap between eigenvalues (singular values) of
// a matrix of order n and 1-norm norm that puts them in one cluster.
// Vectors inverse iteration finds apart are orthogonal to about
// ε·norm/gap, within the 30·n·ε the solvers promise once the gap is
// above norm/(10·n); LAPACK's dstein clusters below 10⁻³·norm, which for
// n in the thousands makes one cluster of a whole random spectrum (its
// vectors then cost O(n³) on every task that touches it).
func clusterGap(norm float64, n int) float64 {
	return norm * min(1e-3, 0.1/float64(max(n, 1)))
}

// tridiagLU is T − λI = P L U for a tridiagonal T (LAPACK's dgttrf): U
// has diagonal u1 and two superdiagonals u2, u3; l holds the multipliers
// and swap whether rows i and i+1 were exchanged at step i.
type tridiagLU struct {
	u1, u2, u3, l []float64
	swap          []bool
}

// factor factors T − λI; pivots smaller than tol in magnitude become
// ±tol, as dlagtf's perturbation does, so that solves never divide by 0.
func (f *tridiagLU) factor(d, e []float64, lambda, tol float64) {
	n := len(d)
	if cap(f.u1) < n {
		f.u1, f.u2, f.u3, f.l, f.swap = make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n), make([]bool, n)
	}
	f.u1, f.u2, f.u3, f.l, f.swap = f.u1[:n], f.u2[:n], f.u3[:n], f.l[:n], f.swap[:n]
	for i := range n {
		f.u1[i] = d[i] - lambda
		f.u2[i], f.u3[i], f.l[i], f.swap[i] = 0, 0, 0, false
		if i < n-1 {
			f.u2[i] = e[i]
		}
	}
	// row i of the active part: (u1[i], u2[i], u3[i]) in columns i..i+2;
	// row i+1 below it: (e[i], d[i+1] − λ, e[i+1])
	for i := 0; i < n-1; i++ {
		sub := e[i]
		if math.Abs(f.u1[i]) >= math.Abs(sub) {
			if f.u1[i] == 0 {
				f.u1[i] = tol
			}
			m := sub / f.u1[i]
			f.l[i] = m
			f.u1[i+1] -= m * f.u2[i]
			// u2[i+1] (the next row's superdiagonal) and u3[i] stay
		} else {
			// exchange rows i and i+1
			m := f.u1[i] / sub
			f.l[i] = m
			f.swap[i] = true
			a, b := f.u2[i], f.u1[i+1]
			f.u1[i] = sub
			f.u2[i] = b
			f.u1[i+1] = a - m*b
			if i < n-2 {
				f.u3[i] = f.u2[i+1]
				f.u2[i+1] = -m * f.u3[i]
			}
		}
	}
	for i := range n {
		if math.Abs(f.u1[i]) < tol {
			f.u1[i] = math.Copysign(tol, f.u1[i])
		}
	}
}

// solve overwrites x with (T − λI)⁻¹ x.
func (f *tridiagLU) solve(x []float64) {
	n := len(x)
	for i := 0; i < n-1; i++ {
		if f.swap[i] {
			x[i], x[i+1] = x[i+1], x[i]-f.l[i]*x[i+1]
		} else {
			x[i+1] -= f.l[i] * x[i]
		}
	}
	x[n-1] /= f.u1[n-1]
	if n > 1 {
		x[n-2] = (x[n-2] - f.u2[n-2]*x[n-1]) / f.u1[n-2]
	}
	for i := n - 3; i >= 0; i-- {
		x[i] = (x[i] - f.u2[i]*x[i+1] - f.u3[i]*x[i+2]) / f.u1[i]
	}
}

package main

// The residuals of --verify and npw bench: every check of a result
// against its input, scaled by the input's norm, the size and ε.

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/mat"
)

const eps = 0x1p-52

// exactLimit is the largest dimension for which residuals are computed
// exactly; above it an exact check costs about as much as the job, so the
// norm of the error matrix is estimated from random probes instead.
const exactLimit = 2048

// probes is the number of random vectors of an estimated residual. For E
// and Gaussian X (n×k), E‖EX‖²_F = k‖E‖²_F.
const probes = 8

func asDense(g blas64.General) *mat.Dense {
	var d mat.Dense
	d.SetRawMatrix(g)
	return &d
}

func gaussian(rng *rand.Rand, r, c int) *mat.Dense {
	d := mat.NewDense(r, c, nil)
	raw := d.RawMatrix()
	for i := range raw.Data {
		raw.Data[i] = rng.NormFloat64()
	}
	return d
}

// A residual is a scaled residual and whether it was estimated.
type residual struct {
	value     float64
	estimated bool
}

// probeNorm estimates ‖E‖_F from E X for a Gaussian n×probes matrix X.
func probeNorm(n int, apply func(x *mat.Dense) *mat.Dense) float64 {
	x := gaussian(rand.New(rand.NewPCG(7, 7)), n, probes)
	return mat.Norm(apply(x), 2) / math.Sqrt(probes)
}

// choleskyResidual is ‖A − LLᵀ‖_F/(‖A‖_F·n·ε).
func choleskyResidual(a, l blas64.General) residual {
	A, L := asDense(a), asDense(l)
	n := a.Rows
	var e float64
	if n <= exactLimit {
		var llt mat.Dense
		llt.Mul(L, L.T())
		llt.Sub(A, &llt)
		e = mat.Norm(&llt, 2)
	} else {
		e = probeNorm(n, func(x *mat.Dense) *mat.Dense {
			var ax, ltx, lltx mat.Dense
			ax.Mul(A, x)
			ltx.Mul(L.T(), x)
			lltx.Mul(L, &ltx)
			ax.Sub(&ax, &lltx)
			return &ax
		})
	}
	return residual{e / (mat.Norm(A, 2) * float64(n) * eps), n > exactLimit}
}

// inverseResidual is ‖AX − I‖_F/(‖A‖_F·‖X‖_F·n·ε).
func inverseResidual(a, x blas64.General) residual {
	A, X := asDense(a), asDense(x)
	n := a.Rows
	var e float64
	if n <= exactLimit {
		var ax mat.Dense
		ax.Mul(A, X)
		for i := range n {
			ax.Set(i, i, ax.At(i, i)-1)
		}
		e = mat.Norm(&ax, 2)
	} else {
		e = probeNorm(n, func(v *mat.Dense) *mat.Dense {
			var xv, axv mat.Dense
			xv.Mul(X, v)
			axv.Mul(A, &xv)
			axv.Sub(&axv, v)
			return &axv
		})
	}
	return residual{e / (mat.Norm(A, 2) * mat.Norm(X, 2) * float64(n) * eps), n > exactLimit}
}

// gemmResidual is ‖C − AB‖_F/(‖A‖_F·‖B‖_F·k·ε).
func gemmResidual(a, b, c blas64.General) residual {
	A, B, C := asDense(a), asDense(b), asDense(c)
	exact := max(a.Rows, a.Cols, b.Cols) <= exactLimit
	var e float64
	if exact {
		var ab mat.Dense
		ab.Mul(A, B)
		ab.Sub(C, &ab)
		e = mat.Norm(&ab, 2)
	} else {
		e = probeNorm(b.Cols, func(x *mat.Dense) *mat.Dense {
			var cx, bx, abx mat.Dense
			cx.Mul(C, x)
			bx.Mul(B, x)
			abx.Mul(A, &bx)
			cx.Sub(&cx, &abx)
			return &cx
		})
	}
	return residual{e / (mat.Norm(A, 2) * mat.Norm(B, 2) * float64(max(a.Cols, 1)) * eps), !exact}
}

// tsqrResidual is ‖RᵀR − AᵀA‖_F/(‖A‖²_F·m·ε), exact (AᵀA is n×n).
func tsqrResidual(a, r blas64.General) residual {
	A, R := asDense(a), asDense(r)
	var rtr, ata mat.Dense
	rtr.Mul(R.T(), R)
	ata.Mul(A.T(), A)
	rtr.Sub(&rtr, &ata)
	na := mat.Norm(A, 2)
	return residual{mat.Norm(&rtr, 2) / (na * na * float64(a.Rows) * eps), false}
}

// gramResidual is ‖RᵀR − AᵀA‖_F/(‖A‖²_F·m·ε): R's Gram matrix equals A's
// whatever the signs of R's rows.
func gramResidual(a, r blas64.General) residual {
	if a.Cols <= exactLimit {
		return tsqrResidual(a, r)
	}
	A, R := asDense(a), asDense(r)
	e := probeNorm(a.Cols, func(x *mat.Dense) *mat.Dense {
		var ax, atax, rx, rtrx mat.Dense
		ax.Mul(A, x)
		atax.Mul(A.T(), &ax)
		rx.Mul(R, x)
		rtrx.Mul(R.T(), &rx)
		atax.Sub(&atax, &rtrx)
		return &atax
	})
	na := mat.Norm(A, 2)
	return residual{e / (na * na * float64(a.Rows) * eps), true}
}

// luResidual is ‖A[P,:] − LU‖_F/(‖A‖_F·n·ε).
func luResidual(a blas64.General, perm []int, l, u blas64.General) residual {
	n := a.Rows
	A := asDense(a)
	pa := mat.NewDense(n, a.Cols, nil)
	for i, p := range perm {
		pa.SetRow(i, A.RawRowView(p))
	}
	L, U := asDense(l), asDense(u)
	var e float64
	if n <= exactLimit {
		var lu mat.Dense
		lu.Mul(L, U)
		lu.Sub(pa, &lu)
		e = mat.Norm(&lu, 2)
	} else {
		e = probeNorm(a.Cols, func(x *mat.Dense) *mat.Dense {
			var pax, ux, lux mat.Dense
			pax.Mul(pa, x)
			ux.Mul(U, x)
			lux.Mul(L, &ux)
			pax.Sub(&pax, &lux)
			return &pax
		})
	}
	return residual{e / (mat.Norm(A, 2) * float64(n) * eps), n > exactLimit}
}

// qrResiduals are ‖A − QR‖_F/(‖A‖_F·n·ε) and ‖QᵀQ − I‖_F/(n·ε), exact.
func qrResiduals(a, q, r blas64.General) (factors, orthogonality residual) {
	A, Q, R := asDense(a), asDense(q), asDense(r)
	n := float64(a.Cols)
	var qr, qtq mat.Dense
	qr.Mul(Q, R)
	qr.Sub(A, &qr)
	qtq.Mul(Q.T(), Q)
	k, _ := qtq.Dims()
	for i := range k {
		qtq.Set(i, i, qtq.At(i, i)-1)
	}
	return residual{mat.Norm(&qr, 2) / (mat.Norm(A, 2) * n * eps), false}, residual{mat.Norm(&qtq, 2) / (n * eps), false}
}

// solveResidual is the backward error ‖AX − B‖_F/(‖A‖_F·‖X‖_F·n·ε), exact.
func solveResidual(a, b, x blas64.General) residual {
	A, X := asDense(a), asDense(x)
	var r mat.Dense
	r.Mul(A, X)
	r.Sub(&r, asDense(b))
	return residual{mat.Norm(&r, 2) / (mat.Norm(A, 2) * mat.Norm(X, 2) * float64(a.Cols) * eps), false}
}

// leastSquaresResidual is ‖Aᵀ(AX − B)‖_F/(‖A‖_F·(‖A‖_F·‖X‖_F + ‖B‖_F)·n·ε),
// exact: the normal equations' residual of a least-squares solution.
func leastSquaresResidual(a, b, x blas64.General) residual {
	A, B, X := asDense(a), asDense(b), asDense(x)
	var r, atr mat.Dense
	r.Mul(A, X)
	r.Sub(&r, B)
	atr.Mul(A.T(), &r)
	na := mat.Norm(A, 2)
	return residual{mat.Norm(&atr, 2) / (na * (na*mat.Norm(X, 2) + mat.Norm(B, 2)) * float64(a.Cols) * eps), false}
}

// svdError is max|σ − σ_Dgesvd| / σmax against gonum's dense SVD.
func svdError(a blas64.General, sv []float64) (float64, error) {
	var ref mat.SVD
	if !ref.Factorize(asDense(a), mat.SVDNone) {
		return 0, errors.New("the reference SVD did not converge")
	}
	want := ref.Values(nil)
	if len(sv) != len(want) {
		return 0, fmt.Errorf("%d singular values, the reference has %d", len(sv), len(want))
	}
	worst := 0.0
	for i := range want {
		worst = max(worst, math.Abs(sv[i]-want[i]))
	}
	return worst / max(want[0], math.SmallestNonzeroFloat64), nil
}

// growthFactor is max|U| / max|A| of an LU factorisation.
func growthFactor(a, u blas64.General) float64 {
	return maxAbs(u) / maxAbs(a)
}

func maxAbs(g blas64.General) float64 {
	v := 0.0
	for i := range g.Rows {
		for _, x := range g.Data[i*g.Stride : i*g.Stride+g.Cols] {
			v = max(v, math.Abs(x))
		}
	}
	return v
}

// eighError is max|λ − λ_Dsyev| / ‖A‖₂ against gonum's dense symmetric
// eigensolver on A's lower triangle.
func eighError(a blas64.General, w []float64) (float64, error) {
	sym := lowerSym(a)
	var ref mat.EigenSym
	if !ref.Factorize(sym, false) {
		return 0, errors.New("the reference eigensolver did not converge")
	}
	want := ref.Values(nil)
	if len(w) != len(want) {
		return 0, fmt.Errorf("%d eigenvalues, the reference has %d", len(w), len(want))
	}
	worst, norm := 0.0, math.SmallestNonzeroFloat64
	for i := range want {
		worst = max(worst, math.Abs(w[i]-want[i]))
		norm = max(norm, math.Abs(want[i]))
	}
	return worst / norm, nil
}

// lowerSym is the symmetric matrix of a's lower triangle, which eigh
// reads.
func lowerSym(a blas64.General) *mat.SymDense {
	sym := mat.NewSymDense(a.Rows, nil)
	for i := range a.Rows {
		for j := 0; j <= i; j++ {
			sym.SetSym(i, j, a.Data[i*a.Stride+j])
		}
	}
	return sym
}

// eighResiduals are ‖AV − VΛ‖_F/(‖A‖_F·n·ε) and ‖VᵀV − I‖_F/(n·ε),
// exact, for the symmetric matrix of a's lower triangle.
func eighResiduals(a blas64.General, w []float64, v blas64.General) (res, orthogonality residual) {
	n := a.Rows
	sym := lowerSym(a)
	V := asDense(v)
	var r, vtv mat.Dense
	r.Mul(sym, V)
	for j := range n {
		for i := range n {
			r.Set(i, j, r.At(i, j)-w[j]*V.At(i, j))
		}
	}
	vtv.Mul(V.T(), V)
	for i := range n {
		vtv.Set(i, i, vtv.At(i, i)-1)
	}
	fn := float64(n)
	return residual{mat.Norm(&r, 2) / (mat.Norm(sym, 2) * fn * eps), false}, residual{mat.Norm(&vtv, 2) / (fn * eps), false}
}

// svdResiduals are ‖A − UΣVᵀ‖_F/(‖A‖_F·max(m,n)·ε), ‖UᵀU − I‖_F/(k·ε)
// and ‖VᵀV − I‖_F/(k·ε), exact, for a thin SVD (U m×k, Vᵀ k×n).
func svdResiduals(a blas64.General, s []float64, u, vt blas64.General) (res, ou, ov residual) {
	A, U, VT := asDense(a), asDense(u), asDense(vt)
	k := len(s)
	var us, r mat.Dense
	us.Mul(U, mat.NewDiagDense(k, s))
	r.Mul(&us, VT)
	r.Sub(A, &r)
	orth := func(q mat.Matrix) residual {
		var g mat.Dense
		g.Mul(q.T(), q)
		for i := range k {
			g.Set(i, i, g.At(i, i)-1)
		}
		return residual{mat.Norm(&g, 2) / (float64(k) * eps), false}
	}
	return residual{mat.Norm(&r, 2) / (mat.Norm(A, 2) * float64(max(a.Rows, a.Cols)) * eps), false}, orth(U), orth(VT.T())
}

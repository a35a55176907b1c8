package main

// --compare: the same computation by gonum's single-node LAPACK, on all
// cores of this machine, in the same run, reported as a ratio of times.

import (
	"fmt"
	"io"
	"runtime"
	"time"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/lapack"
	"gonum.org/v1/gonum/lapack/lapack64"

	"github.com/npw-dev/npw/kernels"
)

// A reference is a single-node computation to time against npw's.
type reference struct {
	name string // the LAPACK routines, for the summary line
	run  func() error
}

// printCompare runs ref and prints its time and npw's over it.
func printCompare(w io.Writer, ref reference, npw time.Duration) error {
	secs, err := ref.time()
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "  %-16s gonum lapack64.%s on the same input (%s BLAS, %d cores): %.2f s; npw/reference = %.2f\n",
		"reference", ref.name, kernels.BLAS, maxProcs(), secs, npw.Seconds()/secs)
	return nil
}

// maxProcs is the cores a reference runs on.
func maxProcs() int { return runtime.GOMAXPROCS(0) }

// time runs the reference on all cores and returns its wall time.
func (ref reference) time() (float64, error) {
	defer kernels.SetThreads(kernels.SetThreads(maxProcs()))
	start := time.Now()
	if err := ref.run(); err != nil {
		return 0, fmt.Errorf("reference %s: %w", ref.name, err)
	}
	return time.Since(start).Seconds(), nil
}

// dup returns a compact copy of a, made before the timing starts.
func dup(a blas64.General) blas64.General {
	c := blas64.General{Rows: a.Rows, Cols: a.Cols, Stride: max(a.Cols, 1), Data: make([]float64, a.Rows*max(a.Cols, 1))}
	for i := range a.Rows {
		copy(c.Data[i*c.Stride:i*c.Stride+a.Cols], a.Data[i*a.Stride:])
	}
	return c
}

func workspace(query func(work []float64)) []float64 {
	w := make([]float64, 1)
	query(w)
	return make([]float64, max(int(w[0]), 1))
}

func potrfReference(a blas64.General) reference {
	c := dup(a)
	return reference{"Potrf", func() error {
		if _, ok := lapack64.Potrf(blas64.Symmetric{Uplo: blas.Lower, N: c.Rows, Stride: c.Stride, Data: c.Data}); !ok {
			return fmt.Errorf("the matrix is not positive definite")
		}
		return nil
	}}
}

// qrReference is Geqrf, and Orgqr for the thin Q when npw formed it too.
func qrReference(a blas64.General, formQ bool) reference {
	c := dup(a)
	k := min(c.Rows, c.Cols)
	tau := make([]float64, k)
	name := "Geqrf"
	if formQ {
		name = "Geqrf+Orgqr"
	}
	return reference{name, func() error {
		work := workspace(func(w []float64) { lapack64.Geqrf(c, tau, w, -1) })
		lapack64.Geqrf(c, tau, work, len(work))
		if formQ {
			q := blas64.General{Rows: c.Rows, Cols: k, Stride: c.Stride, Data: c.Data}
			work := workspace(func(w []float64) { lapack64.Orgqr(q, tau, w, -1) })
			lapack64.Orgqr(q, tau, work, len(work))
		}
		return nil
	}}
}

func getrfReference(a blas64.General) reference {
	c := dup(a)
	ipiv := make([]int, min(c.Rows, c.Cols))
	return reference{"Getrf", func() error {
		if !lapack64.Getrf(c, ipiv) {
			return fmt.Errorf("the matrix is singular")
		}
		return nil
	}}
}

// svdReference is Gesvd computing singular values only, or with the thin
// singular vectors, as npw does.
func svdReference(a blas64.General, vectors bool) reference {
	c := dup(a)
	k := min(c.Rows, c.Cols)
	s := make([]float64, k)
	u, vt := blas64.General{Stride: 1}, blas64.General{Stride: 1}
	job, name := lapack.SVDNone, "Gesvd (values only)"
	if vectors {
		u = blas64.General{Rows: c.Rows, Cols: k, Stride: k, Data: make([]float64, c.Rows*k)}
		vt = blas64.General{Rows: k, Cols: c.Cols, Stride: c.Cols, Data: make([]float64, k*c.Cols)}
		job, name = lapack.SVDStore, "Gesvd (thin vectors)"
	}
	return reference{name, func() error {
		work := workspace(func(w []float64) { lapack64.Gesvd(job, job, c, u, vt, s, w, -1) })
		if !lapack64.Gesvd(job, job, c, u, vt, s, work, len(work)) {
			return fmt.Errorf("the SVD did not converge")
		}
		return nil
	}}
}

// solveReference solves as npw does: Potrf+Potrs (spd), Gels (tall A) or
// Getrf+Getrs.
func solveReference(a, b blas64.General, spd bool) reference {
	c, x := dup(a), dup(b)
	switch {
	case spd:
		return reference{"Potrf+Potrs", func() error {
			t := blas64.Triangular{Uplo: blas.Lower, Diag: blas.NonUnit, N: c.Rows, Stride: c.Stride, Data: c.Data}
			if _, ok := lapack64.Potrf(blas64.Symmetric{Uplo: blas.Lower, N: c.Rows, Stride: c.Stride, Data: c.Data}); !ok {
				return fmt.Errorf("the matrix is not positive definite")
			}
			lapack64.Potrs(t, x)
			return nil
		}}
	case c.Rows > c.Cols:
		return reference{"Gels", func() error {
			work := workspace(func(w []float64) { lapack64.Gels(blas.NoTrans, c, x, w, -1) })
			if !lapack64.Gels(blas.NoTrans, c, x, work, len(work)) {
				return fmt.Errorf("the matrix does not have full column rank")
			}
			return nil
		}}
	}
	ipiv := make([]int, c.Rows)
	return reference{"Getrf+Getrs", func() error {
		if !lapack64.Getrf(c, ipiv) {
			return fmt.Errorf("the matrix is singular")
		}
		lapack64.Getrs(blas.NoTrans, c, x, ipiv)
		return nil
	}}
}

// inverseReference is Potrf+Potri for an SPD A, Getrf+Getri otherwise.
func inverseReference(a blas64.General, spd bool) reference {
	c := dup(a)
	if spd {
		return reference{"Potrf+Potri", func() error {
			if _, ok := lapack64.Potrf(blas64.Symmetric{Uplo: blas.Lower, N: c.Rows, Stride: c.Stride, Data: c.Data}); !ok {
				return fmt.Errorf("the matrix is not positive definite")
			}
			if _, ok := lapack64.Potri(blas64.Triangular{Uplo: blas.Lower, Diag: blas.NonUnit, N: c.Rows, Stride: c.Stride, Data: c.Data}); !ok {
				return fmt.Errorf("the matrix is singular")
			}
			return nil
		}}
	}
	ipiv := make([]int, c.Rows)
	return reference{"Getrf+Getri", func() error {
		if !lapack64.Getrf(c, ipiv) {
			return fmt.Errorf("the matrix is singular")
		}
		work := workspace(func(w []float64) { lapack64.Getri(c, ipiv, w, -1) })
		if !lapack64.Getri(c, ipiv, work, len(work)) {
			return fmt.Errorf("the matrix is singular")
		}
		return nil
	}}
}

// eighReference is Syev computing eigenvalues only, or with the
// eigenvectors, as npw does.
func eighReference(a blas64.General, vectors bool) reference {
	c := dup(a)
	w := make([]float64, c.Rows)
	sym := blas64.Symmetric{Uplo: blas.Lower, N: c.Rows, Data: c.Data, Stride: c.Stride}
	job, name := lapack.EVNone, "Syev (values only)"
	if vectors {
		job, name = lapack.EVCompute, "Syev (with vectors)"
	}
	return reference{name, func() error {
		work := workspace(func(wk []float64) { lapack64.Syev(job, sym, w, wk, -1) })
		if !lapack64.Syev(job, sym, w, work, len(work)) {
			return fmt.Errorf("the eigensolver did not converge")
		}
		return nil
	}}
}

package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/lapack"
)

// reflectorOf returns V and T of the requested structure: "dense" (no
// structure), "leaf" (V1 unit lower triangular, V2 dense: qr_factor of one
// tile) or "tree" (V1 = I, V2 upper trapezoidal: qr_factor of two stacked
// triangles, as every reduction-tree node does).
func reflectorOf(t *testing.T, rng *rand.Rand, kind string, m1, m2, n int) (v, tt blas64.General) {
	t.Helper()
	switch kind {
	case "dense":
		v, tt = randTile(rng, m1+m2, min(m1+m2, n)), randTile(rng, min(m1+m2, n), min(m1+m2, n))
		for i := range tt.Rows {
			for j := range i {
				tt.Data[i*tt.Stride+j] = 0
			}
		}
		return v, tt
	case "leaf":
		out, err := run(t, "qr_factor", []blas64.General{randTile(rng, m1+m2, n)})
		if err != nil {
			t.Fatal(err)
		}
		return out[0], out[1]
	default:
		r1, err := run(t, "qr_factor", []blas64.General{randTile(rng, m1, n)})
		if err != nil {
			t.Fatal(err)
		}
		r2, err := run(t, "qr_factor", []blas64.General{randTile(rng, m2, n)})
		if err != nil {
			t.Fatal(err)
		}
		out, err := run(t, "qr_factor", []blas64.General{r1[2], r2[2]})
		if err != nil {
			t.Fatal(err)
		}
		return out[0], out[1]
	}
}

// TestStructuredReflector checks the structured applications against the
// explicit m×m reflector I − V op(T) Vᵀ, and that the structure detected
// is the one expected (a tree node whose top R is shorter than the panel
// is wide has no identity block).
func TestStructuredReflector(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	for _, kind := range []string{"dense", "leaf", "tree"} {
		for _, tc := range [][3]int{{1, 1, 1}, {8, 8, 8}, {33, 33, 33}, {20, 7, 20}, {40, 40, 25}, {12, 3, 30}, {30, 30, 12}} {
			m1, m2, n := tc[0], tc[1], tc[2]
			v, tt := reflectorOf(t, rng, kind, m1, m2, n)
			sh := shapeOfV(v)
			switch {
			case kind == "dense" && sh.unit,
				kind == "leaf" && (!sh.unit || (v.Cols > 1 && sh.ident)),
				kind == "tree" && m1 >= n && (!sh.ident || !sh.tri):
				t.Fatalf("%s %v: detected %+v", kind, tc, sh)
			}
			m, c := v.Rows, 11
			for _, trans := range []blas.Transpose{blas.Trans, blas.NoTrans} {
				op := tt
				if trans == blas.Trans {
					op = Transpose(tt)
				}
				q := sub(identity(m), mul(mul(v, op), Transpose(v)))
				s := randTile(rng, m, c)
				got := Clone(s)
				wyApplyLeft(trans, v, tt, got)
				check(t, kind+" left", scaled(sub(got, mul(q, s)), norm(s)*float64(m), m))
			}
			q := sub(identity(m), mul(mul(v, tt), Transpose(v)))
			s := randTile(rng, c, m)
			got := Clone(s)
			wyApplyRight(v, tt, got)
			check(t, kind+" right", scaled(sub(got, mul(s, q)), norm(s)*float64(m), m))
			if kind != "dense" && wyFlops(v, c) >= 4*float64(m*v.Cols*c)+float64(v.Cols*v.Cols*c) && m > 1 {
				t.Errorf("%s %v: structured flops %g not below dense", kind, tc, wyFlops(v, c))
			}
		}
	}
}

// TestGeqrt3 checks the recursive QR's T against gonum's dlarft on the
// same reflectors, and A = (I − V T Vᵀ) [R; 0], for tall, square and
// one-column tiles and tiles with a zero column (a zero τ).
func TestGeqrt3(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	for _, tc := range [][3]int{{1, 1, -1}, {2, 2, -1}, {7, 7, -1}, {33, 1, -1}, {64, 64, -1}, {100, 40, -1}, {30, 20, 5}, {20, 20, 0}} {
		m, n, zero := tc[0], tc[1], tc[2]
		a := randTile(rng, m, n)
		if zero >= 0 {
			for i := range m {
				a.Data[i*a.Stride+zero] = 0
			}
		}
		tt := NewTile(n, n)
		ft := Transpose(a)
		geqrt3(ft, tt)
		f := Transpose(ft)
		v, r := NewTile(m, n), NewTile(m, n)
		tau := make([]float64, n)
		for i := range m {
			for j := range n {
				switch {
				case j > i:
					r.Data[i*r.Stride+j] = f.Data[i*f.Stride+j]
				case j == i:
					r.Data[i*r.Stride+j] = f.Data[i*f.Stride+j]
					v.Data[i*v.Stride+j] = 1
				default:
					v.Data[i*v.Stride+j] = f.Data[i*f.Stride+j]
				}
			}
		}
		for i := range n {
			tau[i] = tt.Data[i*tt.Stride+i]
		}
		want := NewTile(n, n)
		lapackImpl.Dlarft(lapack.Forward, lapack.ColumnWise, m, n, v.Data, v.Stride, tau, want.Data, want.Stride)
		if d := norm(sub(tt, want)) / (norm(want) * float64(n) * eps); d > residualLimit {
			t.Errorf("%v: T differs from dlarft's by %.3g (scaled)", tc, d)
		}
		qr := Clone(r)
		wyApplyLeft(blas.NoTrans, v, tt, qr)
		check(t, fmt.Sprintf("%v ‖A − QR‖", tc), scaled(sub(a, qr), norm(a), m))
	}
}

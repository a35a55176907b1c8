package npw

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"
)

func testEngine(t *testing.T) *Engine {
	t.Helper()
	name := "mem://" + strings.ReplaceAll(t.Name(), "/", "-")
	eng, err := Open(context.Background(), Options{Store: name, Queue: name, State: name, Workers: 3})
	if err != nil {
		t.Fatal(err)
	}
	return eng
}

// storeEmpty fails the test if the engine's store holds any tile: after
// the caller has released every matrix, nothing may be left behind.
func storeEmpty(t *testing.T, eng *Engine, what string) {
	t.Helper()
	keys, err := eng.Tiles().List(context.Background(), "")
	if err != nil || len(keys) != 0 {
		t.Errorf("%s: %d tiles left behind (%v): %.5v", what, len(keys), err, keys)
	}
}

func upload(t *testing.T, eng *Engine, name string, d *mat.Dense, block int) *Matrix {
	t.Helper()
	m, err := eng.Upload(context.Background(), name, d, block)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func dense(t *testing.T, m *Matrix) *mat.Dense {
	t.Helper()
	d, err := m.Dense(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func bound(t *testing.T, what string, r float64) {
	t.Helper()
	if r > 30 || math.IsNaN(r) {
		t.Errorf("%s: scaled residual %.3g > 30", what, r)
	}
}

// TestAPIQRAndLeastSquares checks A = QR, QᵀQ = I and R's triangle
// (scaled residuals ≤ 30) and least squares against gonum, for shapes
// that take the blocked program (square, wide, tall, ragged tiles: at
// least 2 column tiles for each of the 3 workers) and the tree program
// (taller, narrower, one tile).
func TestAPIQRAndLeastSquares(t *testing.T) {
	ctx := context.Background()
	eng := testEngine(t)
	rng := rand.New(rand.NewPCG(21, 21))
	for _, tc := range []struct {
		m, n    int
		blocked bool
	}{{64, 48, true}, {50, 50, true}, {48, 60, true}, {45, 13, false}, {37, 37, false}, {5, 3, false}, {100, 13, false}} {
		what := fmt.Sprintf("%d×%d", tc.m, tc.n)
		a := randDense(rng, tc.m, tc.n)
		A := upload(t, eng, "A", a, 8)
		f, err := eng.QR(ctx, A)
		if err != nil {
			t.Fatal(err)
		}
		if f.blocked != tc.blocked {
			t.Errorf("%s: blocked = %v, want %v", what, f.blocked, tc.blocked)
		}
		Q, err := f.Q(ctx)
		if err != nil {
			t.Fatal(err)
		}
		q, r := dense(t, Q), dense(t, f.R)
		k := min(tc.m, tc.n)
		for i := range k {
			for j := range i {
				if r.At(i, j) != 0 {
					t.Fatalf("%s: R(%d,%d) = %g below the diagonal", what, i, j, r.At(i, j))
				}
			}
		}
		var qr mat.Dense
		qr.Mul(q, r)
		qr.Sub(a, &qr)
		bound(t, what+" ‖A − QR‖", mat.Norm(&qr, 2)/(mat.Norm(a, 2)*float64(max(tc.m, tc.n))*eps))
		var qtq mat.Dense
		qtq.Mul(q.T(), q)
		for i := range k {
			qtq.Set(i, i, qtq.At(i, i)-1)
		}
		bound(t, what+" ‖QᵀQ − I‖", mat.Norm(&qtq, 2)/(float64(max(tc.m, tc.n))*eps))
		if tc.m >= tc.n {
			b := randDense(rng, tc.m, 2)
			B := upload(t, eng, "b", b, 8)
			X, err := eng.LeastSquares(ctx, A, B)
			if err != nil {
				t.Fatal(err)
			}
			var want mat.Dense
			var ref mat.QR
			ref.Factorize(a)
			ref.SolveTo(&want, false, b)
			var diff mat.Dense
			diff.Sub(dense(t, X), &want)
			if rel := mat.Norm(&diff, 2) / mat.Norm(&want, 2); rel > 1e-10 {
				t.Errorf("%s: least squares differs from gonum by %.3g", what, rel)
			}
			X.Release(ctx)
			B.Release(ctx)
		}
		Q.Release(ctx)
		f.Release(ctx)
		A.Release(ctx)
		storeEmpty(t, eng, "qr "+what)
	}
}

func TestAPISolvesAndLU(t *testing.T) {
	ctx := context.Background()
	eng := testEngine(t)
	rng := rand.New(rand.NewPCG(22, 22))
	n := 37
	a := randDense(rng, n, n)
	var spd mat.Dense
	spd.Mul(a, a.T())
	for i := range n {
		spd.Set(i, i, spd.At(i, i)+float64(n))
	}
	b := randDense(rng, n, 3)
	B := upload(t, eng, "B", b, 8)
	backward := func(a, x, b *mat.Dense) float64 {
		var r mat.Dense
		r.Mul(a, x)
		r.Sub(&r, b)
		return mat.Norm(&r, 2) / (mat.Norm(a, 2) * mat.Norm(x, 2) * float64(n) * eps)
	}
	X, err := eng.SolveSPD(ctx, upload(t, eng, "S", &spd, 8), B)
	if err != nil {
		t.Fatal(err)
	}
	bound(t, "posv ‖AX − B‖", backward(&spd, dense(t, X), b))
	for i := range n { // zero diagonal: LU without pivoting would fail
		a.Set(i, i, 0)
	}
	A := upload(t, eng, "A", a, 8)
	X, err = eng.Solve(ctx, A, B)
	if err != nil {
		t.Fatal(err)
	}
	bound(t, "LU solve ‖AX − B‖", backward(a, dense(t, X), b))
	f, err := eng.LU(ctx, A)
	if err != nil {
		t.Fatal(err)
	}
	pa := mat.NewDense(n, n, nil)
	for i, p := range f.P {
		pa.SetRow(i, a.RawRowView(p))
	}
	var lu mat.Dense
	lu.Mul(dense(t, f.L), dense(t, f.U))
	lu.Sub(pa, &lu)
	bound(t, "‖A[P,:] − LU‖", mat.Norm(&lu, 2)/(mat.Norm(a, 2)*float64(n)*eps))
}

func TestAPISVD(t *testing.T) {
	ctx := context.Background()
	eng := testEngine(t)
	rng := rand.New(rand.NewPCG(23, 23))
	// The last two have tiles wider than the band the SVD reduces to: the
	// workers cut them to tiles of svdBand (a ragged one), through its
	// transpose for the wide one.
	for _, shape := range [][3]int{{30, 17, 8}, {17, 30, 8}, {24, 24, 8}, {300, 270, 512}, {200, 290, 512}} {
		a := randDense(rng, shape[0], shape[1])
		am := upload(t, eng, "A", a, shape[2])
		s, err := eng.SVD(ctx, am)
		if err != nil {
			t.Fatal(err)
		}
		am.Release(ctx)
		storeEmpty(t, eng, fmt.Sprintf("svd %v", shape))
		var svd mat.SVD
		svd.Factorize(a, mat.SVDNone)
		want := svd.Values(nil)
		if len(s) != len(want) {
			t.Fatalf("%v: %d values, want %d", shape, len(s), len(want))
		}
		for i := range want {
			if math.Abs(s[i]-want[i]) > 1e-10*want[0] {
				t.Errorf("%v: σ[%d] = %v, want %v", shape, i, s[i], want[i])
			}
		}
	}
}

func TestAPIEigvalsh(t *testing.T) {
	ctx := context.Background()
	eng := testEngine(t)
	rng := rand.New(rand.NewPCG(25, 25))
	// The last has tiles wider than the band: the workers cut them to
	// tiles of eighBand (a ragged one).
	for _, tc := range [][2]int{{30, 8}, {24, 8}, {5, 8}, {300, 512}} {
		n := tc[0]
		a := randDense(rng, n, n)
		sym := mat.NewSymDense(n, nil)
		for i := range n {
			for j := 0; j <= i; j++ {
				sym.SetSym(i, j, a.At(i, j))
			}
		}
		am := upload(t, eng, "A", a, tc[1])
		w, err := eng.Eigvalsh(ctx, am)
		if err != nil {
			t.Fatal(err)
		}
		am.Release(ctx)
		storeEmpty(t, eng, fmt.Sprintf("eigvalsh n=%d", n))
		var eig mat.EigenSym
		if !eig.Factorize(sym, false) {
			t.Fatal("reference eigensolver failed")
		}
		want := eig.Values(nil)
		norm := math.Max(-want[0], want[n-1])
		for i := range want {
			if math.Abs(w[i]-want[i]) > 1e-12*norm {
				t.Errorf("n=%d: λ[%d] = %v, want %v", n, i, w[i], want[i])
			}
		}
	}
	if _, err := eng.Eigvalsh(ctx, upload(t, eng, "W", randDense(rng, 6, 9), 4)); err == nil || err.Error() != "eigvalsh: the matrix must be square, got 6×9" {
		t.Errorf("a 6×9 matrix: %v", err)
	}
}

func TestAPIAlgorithmErrors(t *testing.T) {
	ctx := context.Background()
	eng := testEngine(t)
	rng := rand.New(rand.NewPCG(24, 24))
	wide := upload(t, eng, "W", randDense(rng, 6, 9), 4)
	sq := upload(t, eng, "Q", randDense(rng, 6, 6), 4)
	b5 := upload(t, eng, "b5", randDense(rng, 5, 1), 4)
	singular := randDense(rng, 12, 12)
	for i := range 12 {
		singular.Set(i, 7, 3*singular.At(i, 1))
	}
	for _, tc := range []struct {
		err  error
		want string
	}{
		{second(eng.LU(ctx, wide)), "lu: the matrix must be square, got 6×9"},
		{second(eng.Solve(ctx, wide, b5)), "solve: A is 6×9; it must be square"},
		{second(eng.Solve(ctx, sq, b5)), "solve: B has 5 rows, A has 6"},
		{second(eng.SolveSPD(ctx, sq, b5)), "solve: B has 5 rows, A has 6"},
		{second(eng.LeastSquares(ctx, wide, b5)), "least squares: A is 6×9; it needs at least as many rows as columns"},
		{second(eng.LeastSquares(ctx, sq, b5)), "least squares: B has 5 rows, A has 6"},
		{second(eng.LU(ctx, upload(t, eng, "S", singular, 4))), "singular to working precision"},
	} {
		if tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) {
			t.Errorf("got %v, want %q", tc.err, tc.want)
		}
	}
}

// TestAPIEigh checks A V = V Λ and Vᵀ V = I (scaled residuals ≤ 30) and
// the eigenvalues against LAPACK's, on random, clustered and indefinite
// matrices, one tile, ragged tiles and tiles wider than the band.
func TestAPIEigh(t *testing.T) {
	ctx := context.Background()
	eng := testEngine(t)
	rng := rand.New(rand.NewPCG(26, 26))
	for _, tc := range []struct {
		n, block int
		kind     string
	}{{30, 8, "random"}, {24, 8, "clustered"}, {5, 8, "random"}, {37, 8, "indefinite"}, {400, 512, "random"}} {
		n := tc.n
		a := randDense(rng, n, n)
		if tc.kind != "random" {
			var qr mat.QR
			qr.Factorize(a)
			var q mat.Dense
			qr.QTo(&q)
			lam := mat.NewDiagDense(n, nil)
			for i := range n {
				if tc.kind == "clustered" {
					lam.SetDiag(i, float64(i%3)+1e-10*rng.Float64())
				} else {
					lam.SetDiag(i, 10*rng.NormFloat64())
				}
			}
			var ql mat.Dense
			ql.Mul(&q, lam)
			a.Mul(&ql, q.T())
		}
		sym := mat.NewSymDense(n, nil)
		for i := range n {
			for j := 0; j <= i; j++ {
				sym.SetSym(i, j, a.At(i, j))
			}
		}
		am := upload(t, eng, "A", a, tc.block)
		w, vm, err := eng.Eigh(ctx, am)
		if err != nil {
			t.Fatal(err)
		}
		v := dense(t, vm)
		if err := errors.Join(vm.Release(ctx), am.Release(ctx)); err != nil {
			t.Fatal(err)
		}
		storeEmpty(t, eng, fmt.Sprintf("eigh %s n=%d", tc.kind, n))
		var eig mat.EigenSym
		if !eig.Factorize(sym, false) {
			t.Fatal("reference eigensolver failed")
		}
		want := eig.Values(nil)
		norm := math.Max(-want[0], want[n-1])
		for i := range want {
			if math.Abs(w[i]-want[i]) > 1e-12*norm {
				t.Errorf("%s n=%d: λ[%d] = %v, want %v", tc.kind, n, i, w[i], want[i])
			}
		}
		var r mat.Dense
		r.Mul(sym, v)
		for j := range n {
			for i := range n {
				r.Set(i, j, r.At(i, j)-w[j]*v.At(i, j))
			}
		}
		var vtv mat.Dense
		vtv.Mul(v.T(), v)
		for i := range n {
			vtv.Set(i, i, vtv.At(i, i)-1)
		}
		bound(t, fmt.Sprintf("%s n=%d ‖AV − VΛ‖", tc.kind, n), mat.Norm(&r, 2)/(mat.Norm(sym, 2)*float64(n)*eps))
		bound(t, fmt.Sprintf("%s n=%d ‖VᵀV − I‖", tc.kind, n), mat.Norm(&vtv, 2)/(float64(n)*eps))
	}
}

// TestAPIInverse checks ‖AX − I‖/(‖A‖‖X‖nε) ≤ 30 for the LU path, whose
// permutation matrix the workers make: ragged tiles, whole ones, one.
func TestAPIInverse(t *testing.T) {
	ctx := context.Background()
	eng := testEngine(t)
	rng := rand.New(rand.NewPCG(27, 27))
	for _, tc := range [][2]int{{37, 8}, {32, 8}, {6, 8}} {
		n := tc[0]
		a := randDense(rng, n, n)
		am := upload(t, eng, "A", a, tc[1])
		xm, err := eng.Inverse(ctx, am)
		if err != nil {
			t.Fatal(err)
		}
		x := dense(t, xm)
		if err := errors.Join(xm.Release(ctx), am.Release(ctx)); err != nil {
			t.Fatal(err)
		}
		storeEmpty(t, eng, fmt.Sprintf("inverse n=%d", n))
		var r mat.Dense
		r.Mul(a, x)
		for i := range n {
			r.Set(i, i, r.At(i, i)-1)
		}
		bound(t, fmt.Sprintf("n=%d ‖AX − I‖", n), mat.Norm(&r, 2)/(mat.Norm(a, 2)*mat.Norm(x, 2)*float64(n)*eps))
	}
}

// TestAPISVDVectors checks the thin SVD's residuals ‖A − UΣVᵀ‖,
// ‖UᵀU − I‖ and ‖VᵀV − I‖ (scaled, ≤ 30) and its values against LAPACK's
// (1e-12·σmax): random, graded, rank-deficient and clustered inputs,
// tall, wide and square, ragged tiles, one tile and tiles wider than the
// band.
func TestAPISVDVectors(t *testing.T) {
	ctx := context.Background()
	eng := testEngine(t)
	rng := rand.New(rand.NewPCG(28, 28))
	for _, tc := range []struct {
		m, n, block int
		kind        string
	}{
		{50, 20, 8, "random"}, {20, 50, 8, "random"}, {24, 24, 8, "random"}, {5, 3, 8, "random"},
		{40, 40, 8, "graded"}, {36, 30, 8, "rank-deficient"}, {33, 33, 8, "clustered"}, {420, 400, 512, "random"},
	} {
		m, n := tc.m, tc.n
		a := randDense(rng, m, n)
		switch tc.kind {
		case "graded": // columns scaled from 1 down to 1e-12
			for j := range n {
				for i := range m {
					a.Set(i, j, a.At(i, j)*math.Pow(10, -12*float64(j)/float64(n)))
				}
			}
		case "rank-deficient": // rank n/3
			var p mat.Dense
			p.Mul(randDense(rng, m, n/3), randDense(rng, n/3, n))
			a = &p
		case "clustered": // Q (2 I + 1e-10 noise)
			var qr mat.QR
			qr.Factorize(a)
			var q mat.Dense
			qr.QTo(&q)
			b := randDense(rng, n, n)
			b.Scale(1e-10, b)
			for i := range n {
				b.Set(i, i, b.At(i, i)+2)
			}
			a.Mul(&q, b)
		}
		am := upload(t, eng, "A", a, tc.block)
		f, err := eng.SVDVectors(ctx, am)
		if err != nil {
			t.Fatal(err)
		}
		k := min(m, n)
		u, vt := dense(t, f.U), dense(t, f.VT)
		if err := errors.Join(f.Release(ctx), am.Release(ctx)); err != nil {
			t.Fatal(err)
		}
		storeEmpty(t, eng, fmt.Sprintf("svd %s %d×%d", tc.kind, m, n))
		if r, c := u.Dims(); r != m || c != k {
			t.Fatalf("%s %d×%d: U is %d×%d", tc.kind, m, n, r, c)
		}
		if r, c := vt.Dims(); r != k || c != n {
			t.Fatalf("%s %d×%d: Vᵀ is %d×%d", tc.kind, m, n, r, c)
		}
		var ref mat.SVD
		if !ref.Factorize(a, mat.SVDNone) {
			t.Fatal("reference SVD failed")
		}
		want := ref.Values(nil)
		for i := range want {
			if math.Abs(f.S[i]-want[i]) > 1e-12*want[0] {
				t.Errorf("%s %d×%d: σ[%d] = %v, want %v", tc.kind, m, n, i, f.S[i], want[i])
			}
		}
		var us, r mat.Dense
		us.Mul(u, mat.NewDiagDense(k, f.S))
		r.Mul(&us, vt)
		r.Sub(a, &r)
		orth := func(q mat.Matrix) float64 {
			var g mat.Dense
			g.Mul(q.T(), q)
			for i := range k {
				g.Set(i, i, g.At(i, i)-1)
			}
			return mat.Norm(&g, 2) / (float64(k) * eps)
		}
		what := fmt.Sprintf("%s %d×%d", tc.kind, m, n)
		bound(t, what+" ‖A − UΣVᵀ‖", mat.Norm(&r, 2)/(mat.Norm(a, 2)*float64(max(m, n))*eps))
		bound(t, what+" ‖UᵀU − I‖", orth(u))
		bound(t, what+" ‖VᵀV − I‖", orth(vt.T()))
	}
}

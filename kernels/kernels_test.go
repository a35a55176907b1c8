package kernels

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/lapack"
	"gonum.org/v1/gonum/lapack/lapack64"

	lp "github.com/npw-dev/npw/lambdapack"
)

const eps = 0x1p-52

// residualLimit is the bound on every scaled residual, ‖error‖/(‖data‖·n·ε).
const residualLimit = 30

func randTile(rng *rand.Rand, r, c int) blas64.General {
	g := NewTile(r, c)
	for i := range g.Data {
		g.Data[i] = 2*rng.Float64() - 1
	}
	return g
}

// spd returns M Mᵀ + n I, symmetric positive definite and well conditioned.
func spd(rng *rand.Rand, n int) blas64.General {
	m := randTile(rng, n, n)
	a := mul(m, Transpose(m))
	for i := range n {
		a.Data[i*a.Stride+i] += float64(n)
	}
	return a
}

func mul(a, b blas64.General) blas64.General {
	c := NewTile(a.Rows, b.Cols)
	for i := range a.Rows {
		for k := range a.Cols {
			x := a.Data[i*a.Stride+k]
			for j := range b.Cols {
				c.Data[i*c.Stride+j] += x * b.Data[k*b.Stride+j]
			}
		}
	}
	return c
}

func sub(a, b blas64.General) blas64.General {
	c := Clone(a)
	for i := range a.Rows {
		for j := range a.Cols {
			c.Data[i*c.Stride+j] -= b.Data[i*b.Stride+j]
		}
	}
	return c
}

func identity(n int) blas64.General {
	g := NewTile(n, n)
	for i := range n {
		g.Data[i*g.Stride+i] = 1
	}
	return g
}

func norm(g blas64.General) float64 {
	var s float64
	for i := range g.Rows {
		for j := range g.Cols {
			s += g.Data[i*g.Stride+j] * g.Data[i*g.Stride+j]
		}
	}
	return math.Sqrt(s)
}

// scaled returns ‖e‖/(scale·n·ε), or 0 when e is exactly zero.
func scaled(e blas64.General, scale float64, n int) float64 {
	ne := norm(e)
	if ne == 0 {
		return 0
	}
	return ne / (scale * float64(max(n, 1)) * eps)
}

// run calls a kernel and checks that its inputs are unchanged.
func run(t *testing.T, name string, in []blas64.General, scalars ...lp.Value) ([]blas64.General, error) {
	t.Helper()
	k, ok := Lookup(name)
	if !ok {
		t.Fatalf("no kernel %s", name)
	}
	before := make([][]float64, len(in))
	for i, g := range in {
		before[i] = slices.Clone(g.Data)
	}
	out, err := k.Run(in, scalars)
	for i, g := range in {
		if !slices.Equal(g.Data, before[i]) {
			t.Fatalf("%s modified its input %d", name, i)
		}
	}
	if err == nil {
		if f := k.Flops(in); f < 0 || math.IsNaN(f) {
			t.Fatalf("%s reports %v flops", name, f)
		}
	}
	return out, err
}

func check(t *testing.T, what string, r float64) {
	t.Helper()
	if r > residualLimit || math.IsNaN(r) {
		t.Errorf("%s: scaled residual %.3g > %d", what, r, residualLimit)
	}
}

// sizes straddle the block boundaries a tile size of 32 would have, and
// include the empty and the one-element tile.
var sizes = []int{0, 1, 2, 3, 5, 16, 31, 32, 33, 64, 100}

func TestSignaturesHaveKernels(t *testing.T) {
	for _, name := range lp.KernelNames() {
		if _, ok := Lookup(name); !ok {
			t.Errorf("kernel %s of the language has no implementation", name)
		}
	}
	for name := range table {
		if _, ok := lp.LookupKernel(name); !ok {
			t.Errorf("kernel %s is not in the language's kernel table", name)
		}
	}
}

func TestChol(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, n := range sizes {
		a := spd(rng, n)
		out, err := run(t, "chol", []blas64.General{a})
		if err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
		l := out[0]
		for i := range n {
			for j := i + 1; j < n; j++ {
				if l.Data[i*l.Stride+j] != 0 {
					t.Fatalf("n=%d: L is not lower triangular at (%d,%d)", n, i, j)
				}
			}
		}
		check(t, fmt.Sprintf("chol n=%d ‖A − LLᵀ‖", n), scaled(sub(a, mul(l, Transpose(l))), norm(a), n))
	}
	notSPD := blas64.General{Rows: 2, Cols: 2, Stride: 2, Data: []float64{1, 2, 2, 1}}
	if _, err := run(t, "chol", []blas64.General{notSPD}); !errors.Is(err, ErrNotPositiveDefinite) {
		t.Errorf("chol of an indefinite tile: %v", err)
	}
	var se *ShapeError
	if _, err := run(t, "chol", []blas64.General{NewTile(3, 2)}); !errors.As(err, &se) {
		t.Errorf("chol of a 3×2 tile: %v", err)
	}
}

func TestTrsm(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	for _, n := range sizes {
		for _, m := range []int{0, 1, 7, n, 2*n + 1} {
			l := cholOf(t, spd(rng, n))
			b := randTile(rng, m, n)
			out, err := run(t, "trsm", []blas64.General{l, b})
			if err != nil {
				t.Fatal(err)
			}
			x := out[0]
			check(t, fmt.Sprintf("trsm %d×%d ‖X Lᵀ − B‖", m, n), scaled(sub(mul(x, Transpose(l)), b), norm(l)*norm(x), n))
		}
	}
	if _, err := run(t, "trsm", []blas64.General{identity(3), NewTile(3, 2)}); err == nil {
		t.Error("trsm accepted B with the wrong number of columns")
	}
}

func cholOf(t *testing.T, a blas64.General) blas64.General {
	t.Helper()
	out, err := run(t, "chol", []blas64.General{a})
	if err != nil {
		t.Fatal(err)
	}
	return out[0]
}

// Transpose, by blocks, moves every entry, on tiles of every shape around
// the block and with a stride wider than their rows.
func TestTranspose(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 6))
	for _, sh := range [][2]int{{0, 0}, {0, 5}, {1, 1}, {1, 200}, {200, 1}, {64, 64}, {65, 63}, {130, 257}} {
		for _, pad := range []int{0, 2} {
			g := blas64.General{Rows: sh[0], Cols: sh[1], Stride: sh[1] + pad, Data: make([]float64, sh[0]*(sh[1]+pad))}
			for i := range g.Data {
				g.Data[i] = rng.NormFloat64()
			}
			tr := Transpose(g)
			if tr.Rows != g.Cols || tr.Cols != g.Rows {
				t.Fatalf("%v: transpose is %s", sh, Shape(tr))
			}
			for i := range g.Rows {
				for j := range g.Cols {
					if tr.Data[j*tr.Stride+i] != g.Data[i*g.Stride+j] {
						t.Fatalf("%v, stride %d: (%d, %d) not moved", sh, g.Stride, i, j)
					}
				}
			}
		}
	}
}

// addTransposed, by blocks, does what the plain loop does, on tiles with
// a stride wider than their rows too.
func TestAddTransposed(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	for _, n := range []int{0, 1, 63, 64, 65, 129, 300} {
		for _, pad := range []int{0, 3} {
			c := blas64.General{Rows: n, Cols: n, Stride: n + pad, Data: make([]float64, n*(n+pad))}
			for i := range c.Data {
				c.Data[i] = rng.NormFloat64()
			}
			want := Clone(c)
			for i := range n {
				for j := i + 1; j < n; j++ {
					want.Data[i*want.Stride+j] -= want.Data[j*want.Stride+i]
				}
			}
			addTransposed(c, -1)
			for i := range n {
				for j := range n {
					if got, w := c.Data[i*c.Stride+j], want.Data[i*want.Stride+j]; got != w {
						t.Fatalf("n %d, stride %d: (%d, %d) is %v, want %v", n, c.Stride, i, j, got, w)
					}
				}
			}
		}
	}
}

func TestSyrk(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	for _, tc := range [][3]int{{0, 0, 0}, {1, 1, 1}, {5, 3, 4}, {32, 32, 32}, {33, 31, 17}, {64, 64, 100}, {7, 12, 0}} {
		m, p, k := tc[0], tc[1], tc[2]
		s, x, y := randTile(rng, m, p), randTile(rng, m, k), randTile(rng, p, k)
		out, err := run(t, "syrk", []blas64.General{s, x, y})
		if err != nil {
			t.Fatal(err)
		}
		// Rebuild S from the result: S' + X Yᵀ.
		rebuilt := mul(x, Transpose(y))
		check(t, fmt.Sprintf("syrk %v ‖S' + XYᵀ − S‖", tc), scaled(sub(sub(s, out[0]), rebuilt), norm(s)+norm(x)*norm(y), max(k, 1)))
	}
	// One tile read twice (a diagonal block) takes the dsyrk path, and
	// still gives the full S − X Xᵀ, also for a non-symmetric S.
	for _, n := range []int{1, 2, 31, 64, 65, 130, 200} {
		s, x := randTile(rng, n, n), randTile(rng, n, 40)
		out, err := run(t, "syrk", []blas64.General{s, x, x})
		if err != nil {
			t.Fatal(err)
		}
		full := sub(s, mul(x, Transpose(x)))
		check(t, fmt.Sprintf("syrk same tile n=%d", n), scaled(sub(out[0], full), norm(s)+norm(x)*norm(x), 40))
	}
	if _, err := run(t, "syrk", []blas64.General{NewTile(2, 2), NewTile(2, 3), NewTile(2, 2)}); err == nil {
		t.Error("syrk accepted mismatched shapes")
	}
}

func TestGemm(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	for _, tc := range [][3]int{{0, 0, 0}, {1, 1, 1}, {3, 5, 7}, {32, 33, 31}, {64, 1, 64}, {5, 0, 4}} {
		m, k, n := tc[0], tc[1], tc[2]
		a, b, c := randTile(rng, m, k), randTile(rng, k, n), randTile(rng, m, n)
		out, err := run(t, "gemm", []blas64.General{a, b})
		if err != nil {
			t.Fatal(err)
		}
		check(t, fmt.Sprintf("gemm %v", tc), scaled(sub(out[0], mul(a, b)), norm(a)*norm(b), k))
		out, err = run(t, "gemm_sub", []blas64.General{c, a, b})
		if err != nil {
			t.Fatal(err)
		}
		check(t, fmt.Sprintf("gemm_sub %v", tc), scaled(sub(out[0], sub(c, mul(a, b))), norm(c)+norm(a)*norm(b), k))
		out, err = run(t, "gemm_add", []blas64.General{c, a, b})
		if err != nil {
			t.Fatal(err)
		}
		check(t, fmt.Sprintf("gemm_add %v", tc), scaled(sub(sub(out[0], c), mul(a, b)), norm(c)+norm(a)*norm(b), k))
		at := Transpose(a)
		out, err = run(t, "gemm_sub_tn", []blas64.General{c, at, b})
		if err != nil {
			t.Fatal(err)
		}
		check(t, fmt.Sprintf("gemm_sub_tn %v", tc), scaled(sub(out[0], sub(c, mul(a, b))), norm(c)+norm(a)*norm(b), k))
	}
	if _, err := run(t, "gemm", []blas64.General{NewTile(2, 3), NewTile(2, 3)}); err == nil {
		t.Error("gemm accepted mismatched shapes")
	}
	if _, err := run(t, "gemm_add", []blas64.General{NewTile(2, 2), NewTile(2, 3), NewTile(3, 3)}); err == nil {
		t.Error("gemm_add accepted mismatched shapes")
	}
}

func TestElementwise(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	a, b, c := randTile(rng, 7, 5), randTile(rng, 7, 5), randTile(rng, 7, 5)
	out, err := run(t, "add", []blas64.General{a, b, c})
	if err != nil {
		t.Fatal(err)
	}
	for i := range a.Data {
		if want := a.Data[i] + b.Data[i] + c.Data[i]; out[0].Data[i] != want {
			t.Fatalf("add[%d] = %v, want %v", i, out[0].Data[i], want)
		}
	}
	out, _ = run(t, "identity", []blas64.General{a})
	if !slices.Equal(out[0].Data, a.Data) || &out[0].Data[0] == &a.Data[0] {
		t.Error("identity must return an equal copy")
	}
	out, _ = run(t, "scale", []blas64.General{a}, lp.Int(3))
	for i := range a.Data {
		if out[0].Data[i] != 3*a.Data[i] {
			t.Fatalf("scale[%d] = %v", i, out[0].Data[i])
		}
	}
	if _, err := run(t, "add", []blas64.General{a, NewTile(5, 7)}); err == nil {
		t.Error("add accepted tiles of different shapes")
	}
}

// qOf forms Q = I − V T Vᵀ explicitly.
func qOf(v, tt blas64.General) blas64.General {
	return sub(identity(v.Rows), mul(mul(v, tt), Transpose(v)))
}

func upperTriangular(t *testing.T, what string, r blas64.General) {
	t.Helper()
	for i := range r.Rows {
		for j := 0; j < min(i, r.Cols); j++ {
			if r.Data[i*r.Stride+j] != 0 {
				t.Fatalf("%s: not upper triangular at (%d,%d)", what, i, j)
			}
		}
	}
}

func TestQRFactor(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 6))
	for _, tc := range [][3]int{{1, 0, 1}, {5, 0, 3}, {3, 0, 5}, {32, 0, 32}, {100, 0, 40}, {40, 0, 100}, {16, 16, 16}, {16, 5, 16}, {33, 31, 32}, {3, 2, 7}} {
		m1, m2, n := tc[0], tc[1], tc[2]
		in := []blas64.General{randTile(rng, m1, n)}
		if m2 > 0 {
			in = append(in, randTile(rng, m2, n))
		}
		out, err := run(t, "qr_factor", in)
		if err != nil {
			t.Fatal(err)
		}
		v, tt, r := out[0], out[1], out[2]
		a := in[0]
		if m2 > 0 {
			a, _ = stackRows("test", in)
		}
		m, k := a.Rows, min(a.Rows, n)
		if v.Rows != m || v.Cols != k || tt.Rows != k || tt.Cols != k || r.Rows != k || r.Cols != n {
			t.Fatalf("%v: shapes V %s T %s R %s", tc, Shape(v), Shape(tt), Shape(r))
		}
		upperTriangular(t, "R", r)
		upperTriangular(t, "T", tt)
		q := qOf(v, tt)
		// R padded to m rows, so that A = Q [R; 0].
		rr := NewTile(m, n)
		for i := range k {
			copy(rr.Data[i*rr.Stride:i*rr.Stride+n], r.Data[i*r.Stride:])
		}
		check(t, fmt.Sprintf("qr_factor %v ‖A − QR‖", tc), scaled(sub(a, mul(q, rr)), norm(a), m))
		check(t, fmt.Sprintf("qr_factor %v ‖QᵀQ − I‖", tc), scaled(sub(mul(Transpose(q), q), identity(m)), 1, m))
		// Applying Qᵀ with the kernels agrees with the explicit Q.
		s := randTile(rng, m, 9)
		leaf, err := run(t, "qr_leaf", []blas64.General{v, tt, s})
		if err != nil {
			t.Fatal(err)
		}
		check(t, fmt.Sprintf("qr_leaf %v", tc), scaled(sub(leaf[0], mul(Transpose(q), s)), norm(s), m))
		leafQ, err := run(t, "qr_leaf_q", []blas64.General{v, tt, s})
		if err != nil {
			t.Fatal(err)
		}
		check(t, fmt.Sprintf("qr_leaf_q %v", tc), scaled(sub(leafQ[0], mul(q, s)), norm(s), m))
		dense, err := run(t, "qr_leaf_dense", []blas64.General{v, tt, s})
		if err != nil {
			t.Fatal(err)
		}
		check(t, fmt.Sprintf("qr_leaf_dense %v", tc), scaled(sub(dense[0], mul(Transpose(q), s)), norm(s), m))
		if m2 > 0 {
			s0, s1 := splitRows(s, m1)
			upd, err := run(t, "qr_trailing_update", []blas64.General{v, tt, s0, s1})
			if err != nil {
				t.Fatal(err)
			}
			both, _ := stackRows("test", upd)
			check(t, fmt.Sprintf("qr_trailing_update %v", tc), scaled(sub(both, leaf[0]), norm(s), m))
			dense, err := run(t, "qr_trailing_update_dense", []blas64.General{v, tt, s0, s1})
			if err != nil {
				t.Fatal(err)
			}
			both, _ = stackRows("test", dense)
			check(t, fmt.Sprintf("qr_trailing_update_dense %v", tc), scaled(sub(both, leaf[0]), norm(s), m))
			updQ, err := run(t, "qr_trailing_update_q", []blas64.General{v, tt, s0, s1})
			if err != nil {
				t.Fatal(err)
			}
			bothQ, _ := stackRows("test", updQ)
			check(t, fmt.Sprintf("qr_trailing_update_q %v", tc), scaled(sub(bothQ, leafQ[0]), norm(s), m))
		}
	}
	// A panel narrower than its tiles: the leaves of two 8×3 tiles give
	// 3×3 R factors, whose stacked Q acts on the first 3 rows of two 8-row
	// tiles and leaves the other 5 rows of each alone.
	a0, a1 := randTile(rng, 8, 3), randTile(rng, 8, 3)
	l0, _ := run(t, "qr_factor", []blas64.General{a0})
	l1, _ := run(t, "qr_factor", []blas64.General{a1})
	tree, err := run(t, "qr_factor", []blas64.General{l0[2], l1[2]})
	if err != nil {
		t.Fatal(err)
	}
	s0, s1 := randTile(rng, 8, 4), randTile(rng, 8, 4)
	upd, err := run(t, "qr_trailing_update", []blas64.General{tree[0], tree[1], s0, s1})
	if err != nil {
		t.Fatal(err)
	}
	q := qOf(tree[0], tree[1]) // 6×6
	tops, _ := stackRows("test", []blas64.General{Clone(blas64.General{Rows: 3, Cols: 4, Stride: 4, Data: s0.Data}), Clone(blas64.General{Rows: 3, Cols: 4, Stride: 4, Data: s1.Data})})
	want := mul(Transpose(q), tops)
	for i := range 8 {
		for j := range 4 {
			w0, w1 := s0.Data[i*4+j], s1.Data[i*4+j]
			if i < 3 {
				w0, w1 = want.Data[i*4+j], want.Data[(i+3)*4+j]
			}
			if math.Abs(upd[0].Data[i*4+j]-w0) > 1e-12 || math.Abs(upd[1].Data[i*4+j]-w1) > 1e-12 {
				t.Fatalf("narrow-panel trailing update differs at (%d,%d)", i, j)
			}
		}
	}
	denseUpd, err := run(t, "qr_trailing_update_dense", []blas64.General{tree[0], tree[1], s0, s1})
	if err != nil {
		t.Fatal(err)
	}
	for i := range upd {
		check(t, fmt.Sprintf("narrow-panel qr_trailing_update_dense, tile %d", i), scaled(sub(denseUpd[i], upd[i]), norm(s0), 8))
	}
	if _, err := run(t, "qr_factor", []blas64.General{NewTile(3, 2), NewTile(3, 3)}); err == nil {
		t.Error("qr_factor stacked tiles of different widths")
	}
}

func TestLQFactor(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for _, tc := range [][3]int{{1, 1, 0}, {3, 5, 0}, {5, 3, 0}, {32, 32, 0}, {16, 16, 16}, {20, 7, 9}} {
		m, n1, n2 := tc[0], tc[1], tc[2]
		in := []blas64.General{randTile(rng, m, n1)}
		if n2 > 0 {
			in = append(in, randTile(rng, m, n2))
		}
		out, err := run(t, "lq_factor", in)
		if err != nil {
			t.Fatal(err)
		}
		v, tt, l := out[0], out[1], out[2]
		a := in[0]
		if n2 > 0 {
			a = Transpose(mustStack(t, []blas64.General{Transpose(in[0]), Transpose(in[1])}))
		}
		n, k := a.Cols, min(m, a.Cols)
		if l.Rows != m || l.Cols != k {
			t.Fatalf("%v: L is %s", tc, Shape(l))
		}
		upperTriangular(t, "Lᵀ", Transpose(l))
		ql := Transpose(qOf(v, tt)) // Qₗ, with A = L Qₗ[:k, :]
		lpad := NewTile(m, n)
		for i := range m {
			copy(lpad.Data[i*lpad.Stride:i*lpad.Stride+k], l.Data[i*l.Stride:])
		}
		check(t, fmt.Sprintf("lq_factor %v ‖A − LQ‖", tc), scaled(sub(a, mul(lpad, ql)), norm(a), n))
		s := randTile(rng, 6, n)
		leaf, err := run(t, "lq_leaf", []blas64.General{v, tt, s})
		if err != nil {
			t.Fatal(err)
		}
		check(t, fmt.Sprintf("lq_leaf %v", tc), scaled(sub(leaf[0], mul(s, Transpose(ql))), norm(s), n))
		if n2 > 0 {
			s0 := Clone(blas64.General{Rows: 6, Cols: n1, Stride: s.Stride, Data: s.Data})
			s1 := Clone(blas64.General{Rows: 6, Cols: n2, Stride: s.Stride, Data: s.Data[n1:]})
			upd, err := run(t, "lq_trailing_update", []blas64.General{v, tt, s0, s1})
			if err != nil {
				t.Fatal(err)
			}
			both := Transpose(mustStack(t, []blas64.General{Transpose(upd[0]), Transpose(upd[1])}))
			check(t, fmt.Sprintf("lq_trailing_update %v", tc), scaled(sub(both, leaf[0]), norm(s), n))
		}
	}
}

func mustStack(t *testing.T, in []blas64.General) blas64.General {
	t.Helper()
	m, err := stackRows("test", in)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestTriangularSolves(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 8))
	for _, n := range sizes {
		l := cholOf(t, spd(rng, n))
		u := Transpose(l)
		b := randTile(rng, n, 11)
		for _, tc := range []struct {
			kernel string
			tri    blas64.General
			op     blas64.General // the matrix the solve inverts
		}{{"solve_lower", l, l}, {"solve_lower_t", l, u}, {"solve_upper", u, u}} {
			out, err := run(t, tc.kernel, []blas64.General{tc.tri, b})
			if err != nil {
				t.Fatal(err)
			}
			check(t, fmt.Sprintf("%s n=%d ‖T X − B‖", tc.kernel, n), scaled(sub(mul(tc.op, out[0]), b), norm(tc.op)*norm(out[0]), n))
		}
	}
	singular := identity(3)
	singular.Data[4] = 0
	if _, err := run(t, "solve_upper", []blas64.General{singular, NewTile(3, 1)}); !errors.Is(err, ErrSingular) {
		t.Errorf("singular solve: %v", err)
	}
}

func TestLUKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	// lu_pivots on one tile picks the rows dgetrf pivots on, in order.
	a := randTile(rng, 10, 4)
	id := NewTile(10, 1)
	for i := range 10 {
		id.Data[i] = float64(100 + i)
	}
	out, err := run(t, "lu_pivots", []blas64.General{a, id})
	if err != nil {
		t.Fatal(err)
	}
	c, ic := out[0], out[1]
	if c.Rows != 4 || ic.Rows != 4 {
		t.Fatalf("%s candidates, %s ids", Shape(c), Shape(ic))
	}
	// The first pivot of partial pivoting is the largest entry of column 0.
	best := 0
	for i := range 10 {
		if math.Abs(a.Data[i*4]) > math.Abs(a.Data[best*4]) {
			best = i
		}
	}
	if ic.Data[0] != float64(100+best) || c.Data[0] != a.Data[best*4] {
		t.Errorf("first pivot is row %v, want %d", ic.Data[0], 100+best)
	}
	// LU without pivoting of the chosen rows has no zero pivot and
	// multipliers at most 1 in magnitude (they are dgetrf's pivots).
	f, err := run(t, "lu_nopiv", []blas64.General{Clone(blas64.General{Rows: 4, Cols: 4, Stride: 4, Data: c.Data})})
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range f[0].Data {
		if math.Abs(x) > 1+1e-12 {
			t.Errorf("multiplier %v exceeds 1", x)
		}
	}
	// lu_nopiv reconstructs its input.
	for _, n := range []int{1, 5, 16, 17, 40, 100} {
		m := randTile(rng, n, n)
		for i := range n {
			m.Data[i*n+i] += float64(n) // diagonally dominant: no pivoting needed
		}
		lu, err := run(t, "lu_nopiv", []blas64.General{m})
		if err != nil {
			t.Fatal(err)
		}
		check(t, fmt.Sprintf("lu_nopiv n=%d ‖A − LU‖", n), scaled(sub(m, mul(lu[0], lu[1])), norm(m), n))
	}
	if _, err := run(t, "lu_nopiv", []blas64.General{NewTile(3, 3)}); !errors.Is(err, ErrSingularMatrix) {
		t.Errorf("zero pivot: %v", err)
	}
	// lu_swap: block k holds ids 0..3, pivots are 2, 9, 0, 6; ids 1 and 3
	// are displaced, to the holes of 9 and 6, in that order.
	k := idTile([]int64{0, 1, 2, 3})
	tile := idTile([]int64{8, 9, 6, 5})
	sw, err := run(t, "lu_swap", []blas64.General{tile, tile, k, k, idTile([]int64{2, 9, 0, 6})})
	if err != nil {
		t.Fatal(err)
	}
	if got := sw[0].Data; got[0] != 8 || got[1] != 1 || got[2] != 3 || got[3] != 5 {
		t.Errorf("lu_swap gave %v, want [8 1 3 5]", got)
	}
	// lu_arrange and lu_exchange do the same exchange as a chain: block k
	// in pivot order with 1 and 3 where 9 and 6 go, then the lower tile
	// trades them for its pivots, in copies and in place.
	x, err := run(t, "lu_arrange", []blas64.General{k, k, idTile([]int64{2, 9, 0, 6})})
	if err != nil || !slices.Equal(x[0].Data, []float64{2, 1, 0, 3}) {
		t.Fatalf("lu_arrange gave %v, %v; want [2 1 0 3]", x, err)
	}
	ex, _ := Lookup("lu_exchange")
	for _, f := range []func([]blas64.General, []lp.Value) ([]blas64.General, error){ex.Run, ex.Update} {
		lower := idTile([]int64{8, 9, 6, 5})
		xt, err := f([]blas64.General{Clone(x[0]), lower, lower, idTile([]int64{2, 9, 0, 6})}, nil)
		if err != nil || !slices.Equal(xt[0].Data, []float64{2, 9, 0, 6}) || !slices.Equal(xt[1].Data, []float64{8, 1, 3, 5}) {
			t.Errorf("lu_exchange gave %v, %v; want [2 9 0 6] and lu_swap's [8 1 3 5]", xt, err)
		}
	}
	if _, err := run(t, "lu_arrange", []blas64.General{k, k, idTile([]int64{2, 9, 0})}); err == nil {
		t.Errorf("lu_arrange took 3 pivots for 4 rows")
	}
	// trsm_upper and solve_lower_unit invert what they should.
	u := Transpose(cholOf(t, spd(rng, 6)))
	b := randTile(rng, 3, 6)
	x, _ = run(t, "trsm_upper", []blas64.General{u, b})
	check(t, "trsm_upper ‖XU − B‖", scaled(sub(mul(x[0], u), b), norm(x[0])*norm(u), 6))
	lo := cholOf(t, spd(rng, 6))
	for i := range 6 {
		lo.Data[i*6+i] = 1
	}
	b2 := randTile(rng, 6, 2)
	y, _ := run(t, "solve_lower_unit", []blas64.General{lo, b2})
	check(t, "solve_lower_unit ‖LX − B‖", scaled(sub(mul(lo, y[0]), b2), norm(lo)*norm(y[0]), 6))
}

// Update gives Run's result bit for bit, in the memory of the inputs it
// says it updates where it can, and leaves the other inputs alone.
func TestUpdateInPlace(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	x := randTile(rng, 40, 30)
	// A reduction-tree node (V = [I; upper triangle]) and a stacked
	// factorisation of two full tiles (V unit lower trapezoidal).
	l0, _ := run(t, "qr_factor", []blas64.General{randTile(rng, 20, 20)})
	l1, _ := run(t, "qr_factor", []blas64.General{randTile(rng, 20, 20)})
	tree, _ := run(t, "qr_factor", []blas64.General{l0[2], l1[2]})
	full, _ := run(t, "qr_factor", []blas64.General{randTile(rng, 20, 20), randTile(rng, 20, 20)})
	lower := cholOf(t, spd(rng, 30))
	unit := Clone(lower)
	for i := range 30 {
		unit.Data[i*unit.Stride+i] = 1
	}
	upper := Transpose(lower)
	for _, tc := range []struct {
		name    string
		in      []blas64.General
		inPlace bool
		scalars []lp.Value
	}{
		{"chol", []blas64.General{spd(rng, 30)}, true, nil},
		{"trsm", []blas64.General{lower, randTile(rng, 20, 30)}, true, nil},
		{"solve_lower", []blas64.General{lower, randTile(rng, 30, 7)}, true, nil},
		{"solve_lower_t", []blas64.General{lower, randTile(rng, 30, 7)}, true, nil},
		{"solve_upper", []blas64.General{upper, randTile(rng, 30, 7)}, true, nil},
		{"trsm_upper", []blas64.General{upper, randTile(rng, 20, 30)}, true, nil},
		{"solve_lower_unit", []blas64.General{unit, randTile(rng, 30, 7)}, true, nil},
		{"lu_nopiv", []blas64.General{spd(rng, 30)}, false, nil}, // L and U are new; A is the workspace
		{"identity", []blas64.General{x}, true, nil},
		{"scale", []blas64.General{x}, true, []lp.Value{lp.Float(-2.5)}},
		{"add", []blas64.General{randTile(rng, 40, 30), x, x}, true, nil},
		{"gemm_sub_tn", []blas64.General{randTile(rng, 30, 50), x, randTile(rng, 40, 50)}, true, nil},
		{"gemm_add_tn", []blas64.General{randTile(rng, 30, 50), x, randTile(rng, 40, 50)}, true, nil},
		{"trtri", []blas64.General{lower}, true, nil},
		{"neg_solve_lower", []blas64.General{lower, randTile(rng, 30, 7)}, true, nil},
		{"gemm_add", []blas64.General{randTile(rng, 40, 50), x, randTile(rng, 30, 50)}, true, nil},
		{"gemm_sub", []blas64.General{randTile(rng, 40, 50), x, randTile(rng, 30, 50)}, true, nil},
		{"syrk", []blas64.General{randTile(rng, 40, 20), x, randTile(rng, 20, 30)}, true, nil},
		{"syrk", []blas64.General{randTile(rng, 40, 40), x, x}, true, nil}, // a diagonal block, S not symmetric
		{"syr2k", []blas64.General{randTile(rng, 40, 20), x, randTile(rng, 20, 30), randTile(rng, 40, 5), randTile(rng, 20, 5)}, true, nil},
		{"qr_trailing_update", []blas64.General{tree[0], tree[1], randTile(rng, 20, 15), randTile(rng, 20, 15)}, true, nil},
		{"qr_trailing_update_q", []blas64.General{tree[0], tree[1], randTile(rng, 20, 15), randTile(rng, 20, 15)}, true, nil},
		{"qr_trailing_update", []blas64.General{full[0], full[1], randTile(rng, 20, 15), randTile(rng, 20, 15)}, true, nil},
		{"qr_leaf", []blas64.General{l0[0], l0[1], randTile(rng, 20, 15)}, true, nil},
		{"qr_leaf_q", []blas64.General{l1[0], l1[1], randTile(rng, 20, 15)}, true, nil},
		{"upper_tn", []blas64.General{upper, randTile(rng, 30, 9)}, true, nil},
		{"upper_nn", []blas64.General{upper, randTile(rng, 30, 9)}, true, nil},
		{"unit_lower_sub", []blas64.General{randTile(rng, 40, 30), randTile(rng, 40, 20), randTile(rng, 20, 30)}, true, nil},
		{"qr_factor", []blas64.General{randTile(rng, 50, 20)}, true, nil},                                              // V takes the panel's place
		{"append_rows", []blas64.General{randTile(rng, 30, 20), randTile(rng, 10, 20)}, false, []lp.Value{lp.Int(60)}}, // no room to grow in
	} {
		k, _ := Lookup(tc.name)
		if k.Update == nil {
			t.Fatalf("%s has no Update", tc.name)
		}
		want, err := run(t, tc.name, tc.in, tc.scalars...)
		if err != nil {
			t.Fatal(err)
		}
		in := slices.Clone(tc.in)
		updated := k.Updated()
		before := make([][]float64, len(in))
		for i := range in {
			if slices.Contains(updated, i) {
				in[i] = Clone(in[i])
			} else {
				before[i] = slices.Clone(in[i].Data)
			}
		}
		got, err := k.Update(in, tc.scalars)
		if err != nil {
			t.Fatal(err)
		}
		for o := range want {
			if !slices.Equal(got[o].Data, want[o].Data) {
				t.Errorf("%s: Update's output %d differs from Run's", tc.name, o)
			}
			if o < len(updated) {
				if shared := &got[o].Data[0] == &in[updated[o]].Data[0]; shared != tc.inPlace {
					t.Errorf("%s: output %d computed in input %d's memory: %v, want %v", tc.name, o, updated[o], shared, tc.inPlace)
				}
			}
		}
		for i, g := range in {
			if before[i] != nil && !slices.Equal(g.Data, before[i]) {
				t.Errorf("%s: Update changed input %d", tc.name, i)
			}
		}
	}
	k, _ := Lookup("gemm_add")
	if _, err := k.Update([]blas64.General{NewTile(2, 2), NewTile(2, 3), NewTile(3, 3)}, nil); err == nil {
		t.Error("gemm_add's Update accepted mismatched shapes")
	}
}

// splitRows splits m into its first r rows and the rest.
func splitRows(m blas64.General, r int) (blas64.General, blas64.General) {
	top := Clone(blas64.General{Rows: r, Cols: m.Cols, Stride: m.Stride, Data: m.Data})
	bottom := Clone(blas64.General{Rows: m.Rows - r, Cols: m.Cols, Stride: m.Stride, Data: m.Data[min(r*m.Stride, len(m.Data)):]})
	return top, bottom
}

func TestNonFinite(t *testing.T) {
	g := blas64.General{Rows: 3, Cols: 7, Stride: 9, Data: make([]float64, 27)}
	if _, _, _, ok := NonFinite(g); ok {
		t.Fatal("zeros reported non-finite")
	}
	for _, x := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		for _, at := range [][2]int{{0, 0}, {1, 5}, {2, 6}, {1, 3}} {
			h := blas64.General{Rows: 3, Cols: 7, Stride: 9, Data: make([]float64, 27)}
			h.Data[1*9+7] = math.NaN() // in the stride's gap: not a value
			h.Data[at[0]*9+at[1]] = x
			i, j, y, ok := NonFinite(h)
			if !ok || i != at[0] || j != at[1] || math.Float64bits(y) != math.Float64bits(x) {
				t.Errorf("%v at %v: found %v at (%d, %d), %v", x, at, y, i, j, ok)
			}
		}
	}
}

// TestDenseQRFlops checks what numpywren's dense updates cost against
// npw's structured ones on the tiles of numpywren's QR: a b×b leaf, and
// the factorisation of two stacked b×b triangles (whose V's top is the
// identity, which the dense update skips as numpywren's does).
func TestDenseQRFlops(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	const b = 16
	l0, _ := run(t, "qr_factor", []blas64.General{randTile(rng, b, b)})
	l1, _ := run(t, "qr_factor", []blas64.General{randTile(rng, b, b)})
	tree, err := run(t, "qr_factor", []blas64.General{l0[2], l1[2]})
	if err != nil {
		t.Fatal(err)
	}
	s, s0, s1 := randTile(rng, b, b), randTile(rng, b, b), randTile(rng, b, b)
	cube := float64(b * b * b)
	for _, tc := range []struct {
		kernel string
		in     []blas64.General
		want   float64
	}{
		{"qr_leaf_dense", []blas64.General{l0[0], l0[1], s}, 6 * cube},
		{"qr_leaf", []blas64.General{l0[0], l0[1], s}, 3 * cube},
		{"qr_trailing_update_dense", []blas64.General{tree[0], tree[1], s0, s1}, 6 * cube},
		{"qr_trailing_update", []blas64.General{tree[0], tree[1], s0, s1}, 3 * cube},
	} {
		k, _ := Lookup(tc.kernel)
		if got := k.Flops(tc.in); got != tc.want {
			t.Errorf("%s on %d×%d tiles: %g flops, want %g", tc.kernel, b, b, got, tc.want)
		}
	}
	want, _ := run(t, "qr_trailing_update", []blas64.General{tree[0], tree[1], s0, s1})
	got, err := run(t, "qr_trailing_update_dense", []blas64.General{tree[0], tree[1], s0, s1})
	if err != nil {
		t.Fatal(err)
	}
	for i := range got {
		check(t, fmt.Sprintf("stacked triangles, qr_trailing_update_dense tile %d", i), scaled(sub(got[i], want[i]), norm(s0), 2*b))
	}
	if _, err := run(t, "qr_leaf_dense", []blas64.General{l0[0], l0[1], randTile(rng, b+1, 3)}); err == nil {
		t.Error("qr_leaf_dense took S with the wrong number of rows")
	}
	if _, err := run(t, "qr_trailing_update_dense", []blas64.General{tree[0], tree[1], s0, randTile(rng, b, b+1)}); err == nil {
		t.Error("qr_trailing_update_dense took S0 and S1 of different widths")
	}
}

// TestInverseKernels checks the kernels of the SPD inverse against
// products of their results with the explicit matrices.
func TestInverseKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(10, 10))
	for _, n := range []int{1, 7, 32} {
		l := cholOf(t, spd(rng, n))
		// trtri reads the lower triangle alone: garbage above it stays out.
		dirty := Clone(l)
		for i := range n {
			for j := i + 1; j < n; j++ {
				dirty.Data[i*n+j] = 99
			}
		}
		w, err := run(t, "trtri", []blas64.General{dirty})
		if err != nil {
			t.Fatal(err)
		}
		check(t, fmt.Sprintf("trtri n=%d ‖L W − I‖", n), scaled(sub(mul(l, w[0]), identity(n)), norm(l)*norm(w[0]), n))
		for i := range n {
			for j := i + 1; j < n; j++ {
				if w[0].Data[i*n+j] != 0 {
					t.Fatalf("trtri n=%d: W(%d,%d) = %g above the diagonal", n, i, j, w[0].Data[i*n+j])
				}
			}
		}
		b := randTile(rng, n, 5)
		x, err := run(t, "neg_solve_lower", []blas64.General{l, b})
		if err != nil {
			t.Fatal(err)
		}
		neg := Clone(b)
		for i := range neg.Data {
			neg.Data[i] = -neg.Data[i]
		}
		check(t, fmt.Sprintf("neg_solve_lower n=%d ‖L X + B‖", n), scaled(sub(mul(l, x[0]), neg), norm(l)*norm(x[0]), n))
		a, c := randTile(rng, n, 4), randTile(rng, 4, 6)
		bb := randTile(rng, n, 6)
		tn, _ := run(t, "gemm_tn", []blas64.General{a, bb})
		check(t, fmt.Sprintf("gemm_tn n=%d", n), scaled(sub(tn[0], mul(Transpose(a), bb)), norm(a)*norm(bb), n))
		add, _ := run(t, "gemm_add_tn", []blas64.General{c, a, bb})
		want := mul(Transpose(a), bb)
		for i := range want.Data {
			want.Data[i] += c.Data[i]
		}
		check(t, fmt.Sprintf("gemm_add_tn n=%d", n), scaled(sub(add[0], want), norm(a)*norm(bb)+norm(c), n))
		tr, _ := run(t, "transpose", []blas64.General{a})
		if !slices.Equal(tr[0].Data, Transpose(a).Data) {
			t.Errorf("transpose n=%d differs", n)
		}
	}
	singular := NewTile(3, 3)
	singular.Data[0], singular.Data[4] = 1, 1
	if _, err := run(t, "trtri", []blas64.General{singular}); !errors.Is(err, ErrSingular) {
		t.Errorf("trtri of a singular triangle: %v", err)
	}
	if _, err := run(t, "gemm_tn", []blas64.General{randTile(rng, 3, 2), randTile(rng, 4, 2)}); err == nil {
		t.Error("gemm_tn took A and B with different numbers of rows")
	}
}

// TestBandKernels gathers block bidiagonal matrices (upper triangular
// diagonal tiles, lower triangular tiles right of them, the last block
// ragged or the only one) with band_start and band_append, and checks
// band_values against gonum's dense SVD of the same matrix.
func TestBandKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 11))
	for _, tc := range []struct{ n, b int }{{1, 1}, {5, 8}, {8, 8}, {23, 8}, {24, 8}, {40, 5}, {17, 16}} {
		nt := (tc.n + tc.b - 1) / tc.b
		full := NewTile(tc.n, tc.n)
		var g blas64.General
		for k := range nt {
			r := min(tc.b, tc.n-k*tc.b)
			d := randTile(rng, r, r)
			for p := range r {
				for q := range p {
					d.Data[p*d.Stride+q] = 0
				}
			}
			in := []blas64.General{d}
			if k < nt-1 {
				c := min(tc.b, tc.n-(k+1)*tc.b)
				e := randTile(rng, r, c)
				for p := range r {
					for q := p + 1; q < c; q++ {
						e.Data[p*e.Stride+q] = 0
					}
					for q := range c {
						full.Data[(k*tc.b+p)*full.Stride+(k+1)*tc.b+q] = e.Data[p*e.Stride+q]
					}
				}
				in = append(in, e)
			}
			for p := range r {
				copy(full.Data[(k*tc.b+p)*full.Stride+k*tc.b:], d.Data[p*d.Stride:p*d.Stride+r])
			}
			name := "band_start"
			if k > 0 {
				name, in = "band_append", append([]blas64.General{g}, in...)
			}
			out, err := run(t, name, in)
			if err != nil {
				t.Fatal(err)
			}
			g = out[0]
		}
		if g.Rows != tc.n || g.Cols != min(tc.b, tc.n)+1 {
			t.Fatalf("n=%d b=%d: the gathered band is %s", tc.n, tc.b, Shape(g))
		}
		s, err := run(t, "band_values", []blas64.General{g})
		if err != nil {
			t.Fatal(err)
		}
		want := make([]float64, tc.n)
		work := []float64{0}
		lapack64.Gesvd(lapack.SVDNone, lapack.SVDNone, Clone(full), blas64.General{Stride: 1}, blas64.General{Stride: 1}, want, work, -1)
		work = make([]float64, int(work[0]))
		if !lapack64.Gesvd(lapack.SVDNone, lapack.SVDNone, Clone(full), blas64.General{Stride: 1}, blas64.General{Stride: 1}, want, work, len(work)) {
			t.Fatal("reference SVD failed")
		}
		if s[0].Rows != 1 || s[0].Cols != tc.n {
			t.Fatalf("n=%d b=%d: band_values gave %s, want 1×%d", tc.n, tc.b, Shape(s[0]), tc.n)
		}
		for i, w := range want {
			if d := math.Abs(s[0].Data[i] - w); d > 1e-12*want[0] {
				t.Fatalf("n=%d b=%d: σ[%d] = %.17g, Dgesvd %.17g", tc.n, tc.b, i, s[0].Data[i], w)
			}
		}
	}
	// A diagonal tile wider than the band, or an E tile with more rows
	// than its diagonal tile, is refused.
	g, _ := run(t, "band_start", []blas64.General{NewTile(4, 4), NewTile(4, 4)})
	if _, err := run(t, "band_append", []blas64.General{g[0], NewTile(5, 5)}); err == nil {
		t.Error("band_append took a 5×5 diagonal tile into a band of width 4")
	}
	if _, err := run(t, "band_append", []blas64.General{g[0], NewTile(4, 4), NewTile(3, 4)}); err == nil {
		t.Error("band_append took a 3×4 tile beside a 4×4 diagonal tile")
	}
}

// TestEigenvectorKernelErrors: tri_vectors and cut_rows refuse blocks
// outside their matrices, and reflectors that are not a chase's of the
// tridiagonal's order, in one line.
func TestEigenvectorKernelErrors(t *testing.T) {
	td, w := NewTile(2, 4), NewTile(1, 4)
	bad := NewTile(1, 3) // a 4×4 band of width 3 makes 2 reflectors
	for _, tc := range []struct {
		kernel  string
		in      []blas64.General
		scalars []int64
		want    string
	}{
		{"tri_vectors", []blas64.General{td, w, NewTile(0, 3)}, []int64{1, 4}, "column block 1 of width 4 is outside 4 columns"},
		{"tri_vectors", []blas64.General{td, w, bad}, []int64{0, 4}, "3 reflector values for a 4×4 band of width 3, which makes 2 reflectors of 3"},
		{"tri_vectors", []blas64.General{td, NewTile(1, 3), bad}, []int64{0, 4}, "needs a 2×n tridiagonal"},
		{"cut_rows", []blas64.General{NewTile(5, 2)}, []int64{2, 3, 5}, "row block 2 of height 3 is outside 5 rows"},
		{"cut_rows", []blas64.General{NewTile(5, 2)}, []int64{0, 3, 4}, "outside 4 rows (of which 5 given)"},
	} {
		k, _ := Lookup(tc.kernel)
		var sc []lp.Value
		for _, v := range tc.scalars {
			sc = append(sc, lp.Value{Kind: lp.IntKind, I: v})
		}
		if _, err := k.Run(tc.in, sc); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.kernel, err, tc.want)
		}
	}
}

// TestSymmetricReductionKernels checks the panel kernels of sytrb.lp,
// geqrf.lp and bdfac.lp against explicit results: stack, stack_t, half_tn
// and syr2k, and that mismatched shapes fail in one line.
func TestSymmetricReductionKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 11))
	a, b := randTile(rng, 7, 5), randTile(rng, 3, 5)
	st, err := run(t, "stack", []blas64.General{a, b})
	if err != nil {
		t.Fatal(err)
	}
	if st[0].Rows != 10 || st[0].Cols != 5 {
		t.Fatalf("stack of 7×5 and 3×5 is %s", Shape(st[0]))
	}
	for i := range 10 {
		for j := range 5 {
			want := 0.0
			if i < 7 {
				want = a.Data[i*a.Stride+j]
			} else {
				want = b.Data[(i-7)*b.Stride+j]
			}
			if st[0].Data[i*st[0].Stride+j] != want {
				t.Fatalf("stack: (%d,%d) = %v, want %v", i, j, st[0].Data[i*st[0].Stride+j], want)
			}
		}
	}
	at, b2 := randTile(rng, 4, 3), randTile(rng, 2, 4)
	for _, in := range [][]blas64.General{{at}, {at, b2}} {
		st, err := run(t, "stack_t", in)
		if err != nil {
			t.Fatal(err)
		}
		if want := 3 + 2*(len(in)-1); st[0].Rows != want || st[0].Cols != 4 {
			t.Fatalf("stack_t of %d tiles is %s, want %d×4", len(in), Shape(st[0]), want)
		}
		for i := range st[0].Rows {
			for j := range 4 {
				want := 0.0
				if i < 3 {
					want = at.Data[j*at.Stride+i]
				} else {
					want = b2.Data[(i-3)*b2.Stride+j]
				}
				if got := st[0].Data[i*st[0].Stride+j]; got != want {
					t.Fatalf("stack_t: (%d,%d) = %v, want %v", i, j, got, want)
				}
			}
		}
	}
	h, err := run(t, "half_tn", []blas64.General{a, randTile(rng, 7, 4)})
	if err != nil {
		t.Fatal(err)
	}
	if h[0].Rows != 5 || h[0].Cols != 4 {
		t.Fatalf("half_tn of 7×5 and 7×4 is %s", Shape(h[0]))
	}
	c := randTile(rng, 7, 4)
	h, _ = run(t, "half_tn", []blas64.General{a, c})
	want := mul(Transpose(a), c)
	for i := range want.Data {
		want.Data[i] *= 0.5
	}
	check(t, "half_tn ‖C − ½ AᵀB‖", scaled(sub(h[0], want), norm(a)*norm(c), 7))
	s0, x1, y1, x2, y2 := randTile(rng, 6, 4), randTile(rng, 6, 3), randTile(rng, 4, 3), randTile(rng, 6, 2), randTile(rng, 4, 2)
	u, err := run(t, "syr2k", []blas64.General{s0, x1, y1, x2, y2})
	if err != nil {
		t.Fatal(err)
	}
	want = sub(sub(s0, mul(x1, Transpose(y1))), mul(x2, Transpose(y2)))
	check(t, "syr2k ‖S − X1 Y1ᵀ − X2 Y2ᵀ − result‖", scaled(sub(u[0], want), norm(s0)+norm(x1)*norm(y1)+norm(x2)*norm(y2), 6))
	for _, tc := range []struct {
		kernel string
		in     []blas64.General
		want   string
	}{
		{"stack", []blas64.General{a, randTile(rng, 3, 4)}, "stacked tiles need the same number of columns"},
		{"stack_t", []blas64.General{a, randTile(rng, 3, 5)}, "stacked tiles need the same number of columns"},
		{"half_tn", []blas64.General{a, randTile(rng, 6, 4)}, "½ Aᵀ B needs A k×m and B k×n"},
		{"syr2k", []blas64.General{s0, x1, y1, x2, randTile(rng, 5, 2)}, "S − X1 Y1ᵀ − X2 Y2ᵀ needs"},
	} {
		k, _ := Lookup(tc.kernel)
		if _, err := k.Run(tc.in, nil); err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v, want %q", tc.kernel, err, tc.want)
		}
	}
}

// TestAppendRows builds a panel a tile at a time: the first append
// allocates room for the whole panel, each later one (given the panel to
// update) grows it in its own memory, and the panel comes out as the
// tiles stacked. Mismatched columns fail in one line.
func TestAppendRows(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 12))
	k, _ := Lookup("append_rows")
	tiles := []blas64.General{randTile(rng, 128, 100), randTile(rng, 128, 100), randTile(rng, 128, 100), randTile(rng, 50, 100)}
	rows := lp.Int(128*3 + 50)
	p, err := run(t, "append_rows", tiles[:2], rows)
	if err != nil {
		t.Fatal(err)
	}
	first := &p[0].Data[0]
	for _, b := range tiles[2:] {
		if p, err = k.Update([]blas64.General{p[0], b}, []lp.Value{rows}); err != nil {
			t.Fatal(err)
		}
		if &p[0].Data[0] != first {
			t.Fatalf("the panel of %d rows moved: not grown in place", p[0].Rows)
		}
	}
	want := mustStack(t, tiles[:2])
	want = mustStack(t, []blas64.General{want, tiles[2]})
	want = mustStack(t, []blas64.General{want, tiles[3]})
	if p[0].Rows != want.Rows || !slices.Equal(p[0].Data[:len(want.Data)], want.Data) {
		t.Fatalf("panel %s differs from the tiles stacked (%s)", Shape(p[0]), Shape(want))
	}
	// Past its room, the panel is copied into a new one.
	more, err := k.Update([]blas64.General{p[0], tiles[0]}, []lp.Value{rows})
	if err != nil || more[0].Rows != want.Rows+128 || &more[0].Data[0] == first {
		t.Fatalf("appending past the room: %v, %s", err, Shape(more[0]))
	}
	if _, err := run(t, "append_rows", []blas64.General{tiles[0], randTile(rng, 3, 4)}, rows); err == nil || !strings.Contains(err.Error(), "number of columns") {
		t.Errorf("mismatched columns: %v", err)
	}
	if _, err := run(t, "append_rows", tiles[:2], lp.Int(-1)); err == nil || !strings.Contains(err.Error(), "must not be negative") {
		t.Errorf("a negative height: %v", err)
	}
}

// TestUnitLower checks unit_lower_tn and unit_lower_sub against gemm on
// V made explicitly unit lower trapezoidal (and upper_tn, upper_nn on
// T's triangle), for tall, square and wide V
// (whose columns past its rows are zero), with garbage in the diagonal
// and upper triangle that neither may read.
func TestUnitLower(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 13))
	for _, sh := range [][3]int{{40, 20, 30}, {20, 20, 7}, {12, 20, 5}, {1, 1, 3}, {65, 64, 70}} {
		m, w, n := sh[0], sh[1], sh[2]
		v := randTile(rng, m, w) // garbage on and above the diagonal
		exact := Clone(v)
		for i := range m {
			for j := i; j < w; j++ {
				exact.Data[i*exact.Stride+j] = 0
				if i == j {
					exact.Data[i*exact.Stride+j] = 1
				}
			}
		}
		c, z := randTile(rng, m, n), randTile(rng, w, n)
		got, err := run(t, "unit_lower_tn", []blas64.General{v, c})
		if err != nil {
			t.Fatal(err)
		}
		want, _ := run(t, "gemm_tn", []blas64.General{exact, c})
		closeTiles(t, fmt.Sprintf("unit_lower_tn %v", sh), got[0], want[0])
		got, err = run(t, "unit_lower_sub", []blas64.General{c, v, z})
		if err != nil {
			t.Fatal(err)
		}
		want, _ = run(t, "gemm_sub", []blas64.General{c, exact, z})
		closeTiles(t, fmt.Sprintf("unit_lower_sub %v", sh), got[0], want[0])
	}
	// upper_tn against gemm_tn on T with its lower triangle zeroed.
	tt := randTile(rng, 20, 20)
	exact := Clone(tt)
	for i := range 20 {
		for j := range i {
			exact.Data[i*exact.Stride+j] = 0
		}
	}
	x := randTile(rng, 20, 13)
	got, err := run(t, "upper_tn", []blas64.General{tt, x})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := run(t, "gemm_tn", []blas64.General{exact, x})
	closeTiles(t, "upper_tn", got[0], want[0])
	// upper_nn against gemm.
	got, err = run(t, "upper_nn", []blas64.General{tt, x})
	if err != nil {
		t.Fatal(err)
	}
	want, _ = run(t, "gemm", []blas64.General{exact, x})
	closeTiles(t, "upper_nn", got[0], want[0])
	if _, err := run(t, "upper_tn", []blas64.General{randTile(rng, 4, 3), x}); err == nil || !strings.Contains(err.Error(), "Tᵀ X needs") {
		t.Errorf("a non-square T: %v", err)
	}
	if _, err := run(t, "upper_nn", []blas64.General{randTile(rng, 4, 4), x}); err == nil || !strings.Contains(err.Error(), "upper_nn") || !strings.Contains(err.Error(), "T X needs") {
		t.Errorf("X's rows not T's: %v", err)
	}
	if _, err := run(t, "unit_lower_sub", []blas64.General{randTile(rng, 4, 3), randTile(rng, 4, 2), randTile(rng, 3, 3)}); err == nil || !strings.Contains(err.Error(), "C − V Z needs") {
		t.Errorf("mismatched shapes: %v", err)
	}
	if _, err := run(t, "unit_lower_tn", []blas64.General{randTile(rng, 4, 3), randTile(rng, 5, 3)}); err == nil || !strings.Contains(err.Error(), "Vᵀ C needs") {
		t.Errorf("mismatched shapes: %v", err)
	}
}

func closeTiles(t *testing.T, what string, got, want blas64.General) {
	t.Helper()
	if got.Rows != want.Rows || got.Cols != want.Cols {
		t.Fatalf("%s: %s, want %s", what, Shape(got), Shape(want))
	}
	for i := range got.Rows {
		for j := range got.Cols {
			if d := math.Abs(got.Data[i*got.Stride+j] - want.Data[i*want.Stride+j]); d > 1e-12*(1+math.Abs(want.Data[i*want.Stride+j])) {
				t.Fatalf("%s: (%d,%d) = %v, want %v", what, i, j, got.Data[i*got.Stride+j], want.Data[i*want.Stride+j])
			}
		}
	}
}

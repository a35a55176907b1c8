package kernels

// The kernels that finish the SVD and the symmetric eigensolver on the
// workers. bdfac.lp leaves an upper band matrix as tiles (D[k] upper
// triangular on the diagonal, E[k] lower triangular right of it), sytrb.lp
// a symmetric one (diagonal tiles and the upper triangular R[k] below
// them); band_start and band_append (sband_ for the symmetric one) gather
// it, a block row at a time, into one tile of b+1 columns holding row i's
// entries (i, i) .. (i, i+b) of the upper triangle. band_values and
// sband_values reduce it to bidiagonal (tridiagonal) form and return its
// singular values (eigenvalues), in memory proportional to n·b;
// band_bidiag and sband_tridiag also keep the reduction's Householder
// reflectors, from which bi_vectors and tri_vectors compute a column block
// of the vectors, and cut_rows cuts such a column into tiles.

import (
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/lapack/gonum"

	"github.com/npw-dev/npw/band"
	lp "github.com/npw-dev/npw/lambdapack"
)

func init() {
	register(&Kernel{Name: "band_start", Run: func(in []blas64.General, _ []lp.Value) ([]blas64.General, error) {
		d := in[0]
		if d.Rows != d.Cols {
			return nil, shapeErr("band_start", "the diagonal tile must be square, got %s", Shape(d))
		}
		g := NewTile(0, d.Cols+1)
		return bandAppend("band_start", g, in)
	}, Flops: func([]blas64.General) float64 { return 0 }, Workspace: 1})
	register(&Kernel{Name: "band_append", Run: func(in []blas64.General, _ []lp.Value) ([]blas64.General, error) {
		return bandAppend("band_append", in[0], in[1:])
	}, Flops: func([]blas64.General) float64 { return 0 }, Workspace: 1})
	register(&Kernel{Name: "symmetrize", Run: func(in []blas64.General, _ []lp.Value) ([]blas64.General, error) {
		a := in[0]
		if a.Rows != a.Cols {
			return nil, shapeErr("symmetrize", "needs a square tile, got %s", Shape(a))
		}
		s := Clone(a)
		for i := range s.Rows {
			for j := i + 1; j < s.Cols; j++ {
				s.Data[i*s.Stride+j] = s.Data[j*s.Stride+i]
			}
		}
		return []blas64.General{s}, nil
	}, Flops: func([]blas64.General) float64 { return 0 }})
	register(&Kernel{Name: "sband_start", Run: func(in []blas64.General, _ []lp.Value) ([]blas64.General, error) {
		d := in[0]
		if d.Rows != d.Cols {
			return nil, shapeErr("sband_start", "the diagonal tile must be square, got %s", Shape(d))
		}
		return bandAppend("sband_start", NewTile(0, d.Cols+1), symmetricRow(in))
	}, Flops: func([]blas64.General) float64 { return 0 }, Workspace: 1})
	register(&Kernel{Name: "sband_append", Run: func(in []blas64.General, _ []lp.Value) ([]blas64.General, error) {
		return bandAppend("sband_append", in[0], symmetricRow(in[1:]))
	}, Flops: func([]blas64.General) float64 { return 0 }, Workspace: 1})
	register(&Kernel{Name: "sband_values", Run: sbandValues, Flops: func(in []blas64.General) float64 {
		n, b := float64(in[0].Rows), float64(max(in[0].Cols-1, 0))
		return 3 * n * n * b
	}, Workspace: 1})
	register(&Kernel{Name: "band_values", Run: bandValues, Flops: func(in []blas64.General) float64 {
		n, b := float64(in[0].Rows), float64(max(in[0].Cols-1, 0))
		return 6 * n * n * b
	}, Workspace: 1})
}

// symmetricRow turns a block row of a symmetric block tridiagonal
// matrix, as sytrb.lp leaves it (the diagonal tile, whose lower triangle
// counts, and the upper triangular tile R below it), into the upper
// triangle's block row that bandAppend gathers: the diagonal tile's
// transpose and Rᵀ, lower triangular, right of it.
func symmetricRow(de []blas64.General) []blas64.General {
	out := make([]blas64.General, len(de))
	for i, g := range de {
		out[i] = Transpose(g)
	}
	return out
}

// bandAppend returns the band rows g followed by the rows of the next
// block row: de[0] its diagonal tile, de[1] (if any) the tile right of it.
func bandAppend(name string, g blas64.General, de []blas64.General) ([]blas64.General, error) {
	b := g.Cols - 1
	d := de[0]
	if b < 0 || d.Rows != d.Cols || d.Cols > b {
		return nil, shapeErr(name, "the diagonal tile must be square and at most %d wide, got %s", b, Shape(d))
	}
	out := NewTile(g.Rows+d.Rows, g.Cols)
	for i := range g.Rows {
		copy(out.Data[i*out.Stride:i*out.Stride+g.Cols], g.Data[i*g.Stride:])
	}
	for p := range d.Rows {
		row := out.Data[(g.Rows+p)*out.Stride:]
		for q := p; q < d.Cols; q++ {
			row[q-p] = d.Data[p*d.Stride+q]
		}
	}
	if len(de) > 1 {
		e := de[1]
		if e.Rows != d.Rows || e.Cols > b || d.Cols != b {
			return nil, shapeErr(name, "the tile right of a %s diagonal tile must have its rows and at most %d columns, after a full diagonal tile, got %s", Shape(d), b, Shape(e))
		}
		for p := range e.Rows {
			row := out.Data[(g.Rows+p)*out.Stride:]
			for q := 0; q <= min(p, e.Cols-1); q++ {
				row[b+q-p] = e.Data[p*e.Stride+q]
			}
		}
	}
	return []blas64.General{out}, nil
}

// sbandValues returns, as one 1×n tile, the eigenvalues (ascending) of
// the symmetric band matrix whose upper triangle's rows g holds.
func sbandValues(in []blas64.General, _ []lp.Value) ([]blas64.General, error) {
	g := in[0]
	if g.Cols < 1 {
		return nil, shapeErr("sband_values", "a band needs at least one column, got %s", Shape(g))
	}
	u, err := band.FromRows(g.Rows, g.Cols-1, g.Data, max(g.Stride, 1))
	if err != nil {
		return nil, fmt.Errorf("sband_values: %w", err)
	}
	w, err := band.Eigenvalues(u)
	if err != nil {
		return nil, fmt.Errorf("sband_values: %w", err)
	}
	return valuesTile("sband_values", w)
}

// valuesTile returns values as one 1×n tile, refusing NaN and Inf.
func valuesTile(kernel string, values []float64) ([]blas64.General, error) {
	out := NewTile(1, len(values))
	for i, v := range values {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("%s: the matrix holds NaN or Inf", kernel)
		}
		out.Data[i] = v
	}
	return []blas64.General{out}, nil
}

// bandValues returns, as one 1×n tile, the singular values (largest
// first) of the upper band matrix whose rows g holds.
func bandValues(in []blas64.General, _ []lp.Value) ([]blas64.General, error) {
	g := in[0]
	if g.Cols < 1 {
		return nil, shapeErr("band_values", "a band needs at least one column, got %s", Shape(g))
	}
	u, err := band.FromRows(g.Rows, g.Cols-1, g.Data, max(g.Stride, 1))
	if err != nil {
		return nil, fmt.Errorf("band_values: %w", err)
	}
	s, err := band.SingularValues(u)
	if err != nil {
		return nil, fmt.Errorf("band_values: %w", err)
	}
	return valuesTile("band_values", s)
}

// The kernels of the symmetric eigenvectors (syevv.lp): sband_tridiag
// chases the gathered band to tridiagonal form keeping its reflectors;
// tri_vectors computes a column block of the eigenvectors from them, and
// cut_rows cuts that column into tiles.
func init() {
	register(&Kernel{Name: "sband_tridiag", Run: sbandTridiag, Flops: func(in []blas64.General) float64 {
		return chaseFlops(6, in[0])
	}, Workspace: 1})
	register(&Kernel{Name: "tri_vectors", Run: triVectors, Flops: func(in []blas64.General) float64 {
		// the reflectors applied to the column, 4 flops per reflector
		// entry and column, and inverse iteration, O(n) a vector. The
		// column's width is a scalar, which flops cannot see: counted as
		// min(n, 256), the widest the engine asks for.
		width := float64(min(in[0].Cols, 256))
		return 4*float64(in[2].Rows*in[2].Cols)*width + 40*float64(in[0].Cols)*width
	}, Workspace: 2})
	register(&Kernel{Name: "cut_rows", Run: cutRows, Flops: func([]blas64.General) float64 { return 0 }, ByValue: true}) // its tile follows its scalars
}

// sbandTridiag returns, for the symmetric band whose upper triangle's
// rows in[0] holds, the tridiagonal it reduces to (a 2×n tile: the
// diagonal, then the off-diagonal and a 0), its eigenvalues (1×n,
// ascending) and the reflectors of the reduction (a row each: τ, then v
// past its leading 1; see band.Reflectors).
func sbandTridiag(in []blas64.General, _ []lp.Value) ([]blas64.General, error) {
	g := in[0]
	if g.Cols < 1 {
		return nil, shapeErr("sband_tridiag", "a band needs at least one column, got %s", Shape(g))
	}
	u, err := band.FromRows(g.Rows, g.Cols-1, g.Data, max(g.Stride, 1))
	if err != nil {
		return nil, fmt.Errorf("sband_tridiag: %w", err)
	}
	d, e, refl := u.TridiagonalizeReflectors()
	n := len(d)
	td := NewTile(2, n)
	copy(td.Data, d)
	copy(td.Data[td.Stride:], e)
	w := slices.Clone(d)
	if n > 0 && !(gonum.Implementation{}).Dsterf(n, w, slices.Clone(e)) {
		return nil, fmt.Errorf("sband_tridiag: the tridiagonal eigenvalue iteration did not converge")
	}
	values, err := valuesTile("sband_tridiag", w)
	if err != nil {
		return nil, err
	}
	return []blas64.General{td, values[0], reflectorTile(refl)}, nil
}

// intScalars reads a kernel's integer scalars.
func intScalars(kernel string, s []lp.Value) ([]int, error) {
	out := make([]int, len(s))
	for k, v := range s {
		if v.Kind != lp.IntKind {
			return nil, fmt.Errorf("%s: scalar %d must be an int, got %v", kernel, k+1, v)
		}
		out[k] = int(v.I)
	}
	return out, nil
}

// triVectors returns column block j (of width block) of the band's
// eigenvectors: the tridiagonal's (in[0], eigenvalues in[1]) by inverse
// iteration, taken back to the band's by the reduction's reflectors
// (in[2]).
func triVectors(in []blas64.General, s []lp.Value) ([]blas64.General, error) {
	sc, err := intScalars("tri_vectors", s)
	if err != nil {
		return nil, err
	}
	td, w, rt := in[0], in[1], in[2]
	n, j, block := td.Cols, sc[0], sc[1]
	if td.Rows != 2 || w.Rows != 1 || w.Cols != n {
		return nil, shapeErr("tri_vectors", "needs a 2×n tridiagonal, 1×n eigenvalues and the reflectors, got %s, %s and %s", Shape(td), Shape(w), Shape(rt))
	}
	lo := j * block
	if block <= 0 || j < 0 || lo >= n {
		return nil, fmt.Errorf("tri_vectors: column block %d of width %d is outside %d columns", j, block, n)
	}
	hi := min(n, lo+block)
	d, e := td.Data[:n], td.Data[td.Stride:td.Stride+max(n-1, 0)]
	z, err := band.TridiagonalVectors(d, e, w.Data[:n], lo, hi)
	if err != nil {
		return nil, fmt.Errorf("tri_vectors: %w", err)
	}
	if err := band.ApplyReflectors(reflectorData(rt, n), z, hi-lo); err != nil {
		return nil, fmt.Errorf("tri_vectors: %w", err)
	}
	out := NewTile(n, hi-lo)
	copy(out.Data, z)
	return []blas64.General{out}, nil
}

// cutRows returns tile row i (of height block) of a rows-row matrix
// whose first rows are in[0]'s and the others zero.
func cutRows(in []blas64.General, s []lp.Value) ([]blas64.General, error) {
	sc, err := intScalars("cut_rows", s)
	if err != nil {
		return nil, err
	}
	g, i, block, rows := in[0], sc[0], sc[1], sc[2]
	r0 := i * block
	if block <= 0 || i < 0 || r0 >= rows || rows < g.Rows {
		return nil, fmt.Errorf("cut_rows: row block %d of height %d is outside %d rows (of which %d given)", i, block, rows, g.Rows)
	}
	t := NewTile(min(block, rows-r0), g.Cols)
	for r := range min(t.Rows, max(g.Rows-r0, 0)) {
		copy(t.Data[r*t.Stride:r*t.Stride+g.Cols], g.Data[(r0+r)*g.Stride:])
	}
	return []blas64.General{t}, nil
}

// The kernels of the singular vectors (svdv.lp): band_bidiag chases the
// gathered band to bidiagonal form keeping its reflectors; bi_vectors
// computes a column block of the band's singular vectors from them.
func init() {
	register(&Kernel{Name: "band_bidiag", Run: bandBidiag, Flops: func(in []blas64.General) float64 {
		return chaseFlops(8, in[0])
	}, Workspace: 2})
	register(&Kernel{Name: "bi_vectors", Run: biVectors, Flops: func(in []blas64.General) float64 {
		// both sets of reflectors applied to a column (its width counted
		// as in tri_vectors), and the Golub–Kahan inverse iteration
		width := float64(min(in[0].Cols, 256))
		return 4*float64(in[2].Rows*in[2].Cols+in[3].Rows*in[3].Cols)*width + 80*float64(in[0].Cols)*width
	}, Workspace: 4})
}

// chaseFlops is the cost of a Householder chase of the band whose rows
// g holds, c·n²·b flops: 6 for the symmetric one, 8 for the bidiagonal.
func chaseFlops(c float64, g blas64.General) float64 {
	n := float64(g.Rows)
	b := min(float64(max(g.Cols-1, 0)), max(n-1, 0))
	return c * n * n * b
}

// bandBidiag returns, for the upper band whose rows in[0] holds, the
// bidiagonal it reduces to (2×n: the diagonal, then the superdiagonal
// and a 0), its singular values (1×n, largest first) and the reflectors
// of the reduction, left (rows) and right (columns), as sband_tridiag's.
func bandBidiag(in []blas64.General, _ []lp.Value) ([]blas64.General, error) {
	g := in[0]
	if g.Cols < 1 {
		return nil, shapeErr("band_bidiag", "a band needs at least one column, got %s", Shape(g))
	}
	u, err := band.FromRows(g.Rows, g.Cols-1, g.Data, max(g.Stride, 1))
	if err != nil {
		return nil, fmt.Errorf("band_bidiag: %w", err)
	}
	d, e, left, right := u.BidiagonalizeReflectors()
	n := len(d)
	td := NewTile(2, n)
	copy(td.Data, d)
	copy(td.Data[td.Stride:], e)
	s := slices.Clone(d)
	if n > 0 {
		if info := (gonum.Implementation{}).Dlasq1(n, s, slices.Clone(e), make([]float64, 4*n)); info != 0 {
			return nil, fmt.Errorf("band_bidiag: the bidiagonal singular value iteration did not converge (info %d)", info)
		}
	}
	values, err := valuesTile("band_bidiag", s)
	if err != nil {
		return nil, err
	}
	return []blas64.General{td, values[0], reflectorTile(left), reflectorTile(right)}, nil
}

// reflectorTile returns a chase's reflectors as a tile, a row each.
func reflectorTile(r band.Reflectors) blas64.General {
	t := NewTile(len(r.Data)/max(r.B, 1), r.B)
	copy(t.Data, r.Data)
	return t
}

// reflectorData returns the reflectors a tile holds, of a chase of an
// n×n band (ApplyReflectors checks that their count fits).
func reflectorData(t blas64.General, n int) band.Reflectors {
	if t.Stride != t.Cols && t.Rows > 1 {
		t = Clone(t)
	}
	return band.Reflectors{N: n, B: t.Cols, Data: t.Data[:t.Rows*t.Cols]}
}

// biVectors returns column block j (of width block) of the band's left
// and right singular vectors: the bidiagonal's (in[0], singular values
// in[1]) from its Golub–Kahan matrix, taken back to the band's by the
// reduction's left (in[2]) and right (in[3]) reflectors.
func biVectors(in []blas64.General, s []lp.Value) ([]blas64.General, error) {
	sc, err := intScalars("bi_vectors", s)
	if err != nil {
		return nil, err
	}
	td, sv, rl, rr := in[0], in[1], in[2], in[3]
	n, j, block := td.Cols, sc[0], sc[1]
	if td.Rows != 2 || sv.Rows != 1 || sv.Cols != n {
		return nil, shapeErr("bi_vectors", "needs a 2×n bidiagonal, 1×n singular values and the reflectors, got %s, %s, %s and %s", Shape(td), Shape(sv), Shape(rl), Shape(rr))
	}
	lo := j * block
	if block <= 0 || j < 0 || lo >= n {
		return nil, fmt.Errorf("bi_vectors: column block %d of width %d is outside %d columns", j, block, n)
	}
	hi := min(n, lo+block)
	d, e := td.Data[:n], td.Data[td.Stride:td.Stride+max(n-1, 0)]
	zu, zv, err := band.BidiagonalVectors(d, e, sv.Data[:n], lo, hi)
	if err != nil {
		return nil, fmt.Errorf("bi_vectors: %w", err)
	}
	if err := band.ApplyReflectors(reflectorData(rl, n), zu, hi-lo); err != nil {
		return nil, fmt.Errorf("bi_vectors: %w", err)
	}
	if err := band.ApplyReflectors(reflectorData(rr, n), zv, hi-lo); err != nil {
		return nil, fmt.Errorf("bi_vectors: %w", err)
	}
	u, v := NewTile(n, hi-lo), NewTile(n, hi-lo)
	copy(u.Data, zu)
	copy(v.Data, zv)
	return []blas64.General{u, v}, nil
}

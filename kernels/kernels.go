// Package kernels implements the tile kernels of LAmbdaPACK on gonum's
// BLAS and LAPACK. Every call goes through blas64 and lapack64, so a faster
// implementation (OpenBLAS through cgo) can be swapped in with blas64.Use.
//
// Tiles are row-major float64 matrices (blas64.General). Kernels never
// modify their inputs: an input tile may be shared with other tasks or
// live in a memory store. Each kernel reports the floating-point
// operations it performs, for GFLOP/s and cost accounting. Shape problems
// are *ShapeError values and numerical failures (a tile that is not
// positive definite, a singular triangle) are errors too, since tiles come
// from user data and a worker must turn them into a clear job failure
// rather than crash.
package kernels

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"gonum.org/v1/gonum/blas/blas64"

	"github.com/npw-dev/npw/internal/tilebuf"
	lp "github.com/npw-dev/npw/lambdapack"
)

// A Kernel is one tile operation.
type Kernel struct {
	Name string
	// Run computes the output tiles from the input tiles and the scalar
	// arguments, which the caller has checked against the signature.
	Run func(in []blas64.General, scalars []lp.Value) ([]blas64.General, error)
	// Flops counts the floating-point operations Run performs on in.
	Flops func(in []blas64.General) float64
	// Update, when set, is Run for a caller that owns the inputs Updates
	// lists (their memory is the caller's alone and no other input shares
	// it): it may compute outputs in their memory instead of copies. The
	// kernels whose output is one of their inputs transformed (S − X Yᵀ,
	// C ± A B, Qᵀ [S0; S1], chol, the triangular solves) have it. On an
	// error, the inputs it updates may be half done.
	Update func(in []blas64.General, scalars []lp.Value) ([]blas64.General, error)
	// Updates lists the inputs Update may overwrite; nil means in[0].
	Updates []int
	// Workspace is the memory Run (or Update) needs besides its inputs
	// and one tile per output, in tiles as large as the largest input:
	// scratch, and outputs larger than a tile. A worker with a memory
	// bound counts it.
	Workspace int
	// ByValue says the shapes of the kernel's outputs, or whether it
	// succeeds, follow the values of its inputs, not only their shapes:
	// row ids and pivots (lu_pivots, lu_swap, lu_arrange, lu_exchange, and identity, which
	// carries ids and Householder vectors on), and random and cut_rows,
	// whose tiles follow their scalars. A worker that
	// emulates compute runs such a kernel for real.
	ByValue bool
}

// Updated returns the inputs Update may overwrite.
func (k *Kernel) Updated() []int {
	if k.Updates == nil {
		return []int{0}
	}
	return k.Updates
}

var table = map[string]*Kernel{}

func register(k *Kernel) { table[k.Name] = k }

// Lookup returns the kernel of the given name.
func Lookup(name string) (*Kernel, bool) {
	k, ok := table[name]
	return k, ok
}

// A ShapeError reports tiles whose shapes do not fit a kernel.
type ShapeError struct {
	Kernel string
	Msg    string
}

func (e *ShapeError) Error() string { return e.Kernel + ": " + e.Msg }

func shapeErr(kernel, format string, args ...any) error {
	return &ShapeError{Kernel: kernel, Msg: fmt.Sprintf(format, args...)}
}

// ErrNotPositiveDefinite is returned by chol for a tile that is not
// symmetric positive definite.
var ErrNotPositiveDefinite = errors.New("the tile is not positive definite")

// ErrSingular is returned by the triangular solves for a triangle with a
// zero on its diagonal.
var ErrSingular = errors.New("the triangular tile is singular (zero on its diagonal)")

// Shape formats the shape of a tile as rows×cols.
func Shape(g blas64.General) string { return fmt.Sprintf("%d×%d", g.Rows, g.Cols) }

// NewTile returns a zero rows×cols tile. Kernels allocate their outputs
// with it: a large tile lies inside its own .npy buffer, which the tile
// store writes without a copy (tilebuf).
func NewTile(rows, cols int) blas64.General { return tilebuf.New(rows, cols) }

// updating sets k's Run and Update from f, which computes in the memory of
// the inputs k.Updates lists when inPlace and in copies of them otherwise.
func updating(k *Kernel, f func(in []blas64.General, scalars []lp.Value, inPlace bool) ([]blas64.General, error)) *Kernel {
	k.Run = func(in []blas64.General, scalars []lp.Value) ([]blas64.General, error) { return f(in, scalars, false) }
	k.Update = func(in []blas64.General, scalars []lp.Value) ([]blas64.General, error) { return f(in, scalars, true) }
	return k
}

// own returns g itself to compute in when inPlace, else a copy of it.
func own(g blas64.General, inPlace bool) blas64.General {
	if inPlace {
		return g
	}
	return Clone(g)
}

// Clone returns a compact copy of g.
func Clone(g blas64.General) blas64.General {
	c := NewTile(g.Rows, g.Cols)
	for i := range g.Rows {
		copy(c.Data[i*c.Stride:i*c.Stride+g.Cols], g.Data[i*g.Stride:i*g.Stride+g.Cols])
	}
	return c
}

// Transpose returns gᵀ as a new tile.
func Transpose(g blas64.General) blas64.General {
	t := NewTile(g.Cols, g.Rows)
	// By 64×64 blocks, so that the strided writes stay in cache: entry by
	// entry a 1024 tile took 2 ms, 1% of a QR's compute (pprof).
	const bs = 64
	for bi := 0; bi < g.Rows; bi += bs {
		for bj := 0; bj < g.Cols; bj += bs {
			for i := bi; i < min(bi+bs, g.Rows); i++ {
				row := g.Data[i*g.Stride:]
				for j := bj; j < min(bj+bs, g.Cols); j++ {
					t.Data[j*t.Stride+i] = row[j]
				}
			}
		}
	}
	return t
}

// sameTile reports whether a and b are the same tile in memory, as when a
// task reads one tile twice.
func sameTile(a, b blas64.General) bool {
	return a.Rows == b.Rows && a.Cols == b.Cols && a.Stride == b.Stride &&
		len(a.Data) > 0 && len(b.Data) > 0 && &a.Data[0] == &b.Data[0]
}

func one(g blas64.General, err error) ([]blas64.General, error) {
	if err != nil {
		return nil, err
	}
	return []blas64.General{g}, nil
}

func scalarFloat(v lp.Value) float64 {
	if v.Kind == lp.FloatKind {
		return v.F
	}
	return float64(v.I)
}

// NonFinite returns the first NaN or infinity of g in row-major order,
// and its row and column; ok is false when every value is finite. It
// reads a row as x − x summed in four lanes, 0 for finite values and NaN
// otherwise, and looks for the value only in a row whose sum is NaN.
func NonFinite(g blas64.General) (i, j int, x float64, ok bool) {
	for i := range g.Rows {
		row := g.Data[i*g.Stride : i*g.Stride+g.Cols]
		var a0, a1, a2, a3 float64
		k := 0
		for ; k+4 <= len(row); k += 4 {
			a0 += row[k] - row[k]
			a1 += row[k+1] - row[k+1]
			a2 += row[k+2] - row[k+2]
			a3 += row[k+3] - row[k+3]
		}
		for ; k < len(row); k++ {
			a0 += row[k] - row[k]
		}
		if a0+a1+a2+a3 == 0 {
			continue
		}
		for j, x := range row {
			if x-x != 0 {
				return i, j, x, true
			}
		}
	}
	return 0, 0, 0, false
}

// WriteZeroRuns writes to w where g is zero, run by run: each run of
// zeros in a row as its offset (row × columns + column) and its length,
// 8 bytes each, little-endian. Two tiles of one shape that write the same
// bytes have their zeros in the same places (a triangle, a trapezoid).
func WriteZeroRuns(w io.Writer, g blas64.General) {
	var run [16]byte
	for i := range g.Rows {
		row := g.Data[i*g.Stride : i*g.Stride+g.Cols]
		for j := 0; j < len(row); j++ {
			if row[j] != 0 {
				continue
			}
			start := j
			for j < len(row) && row[j] == 0 {
				j++
			}
			binary.LittleEndian.PutUint64(run[:], uint64(i*g.Cols+start))
			binary.LittleEndian.PutUint64(run[8:], uint64(j-start))
			w.Write(run[:])
		}
	}
}

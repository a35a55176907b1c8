package blockstore

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sync/errgroup"
	"gonum.org/v1/gonum/blas/blas64"
)

// A BigMatrix is one matrix of a job, stored as tiles under
// Prefix/Name/, one object per index tuple: Prefix/Name/i_j.npy.
//
// A 2-D array bound to a matrix with two indices is tiled Block×Block;
// with one index it is cut into row blocks of Block rows and all columns;
// with k > 2 indices it occupies the tiles whose leading k−2 indices are
// 0, as LAmbdaPACK's Cholesky reads its input from S[0, j, k]. Edge tiles
// are smaller when the shape is not a multiple of Block.
type BigMatrix struct {
	Name   string
	Prefix string
	Arity  int
	Block  int
}

// Dir returns the key prefix of the matrix's tiles.
func (m *BigMatrix) Dir() string {
	if m.Prefix == "" {
		return m.Name + "/"
	}
	return m.Prefix + "/" + m.Name + "/"
}

// Key returns the key of the tile with the given indices.
func (m *BigMatrix) Key(idx []int32) string {
	var b strings.Builder
	b.WriteString(m.Dir())
	for i, x := range idx {
		if i > 0 {
			b.WriteByte('_')
		}
		b.WriteString(strconv.Itoa(int(x)))
	}
	b.WriteString(".npy")
	return b.String()
}

// ParseKey returns the indices of a tile key of m (Key's inverse), or
// false for a key that is not one.
func (m *BigMatrix) ParseKey(key string) ([]int32, bool) {
	rest, ok := strings.CutPrefix(key, m.Dir())
	if !ok {
		return nil, false
	}
	rest, ok = strings.CutSuffix(rest, ".npy")
	if !ok || rest == "" {
		return nil, false
	}
	parts := strings.Split(rest, "_")
	if len(parts) != m.Arity {
		return nil, false
	}
	idx := make([]int32, len(parts))
	for i, p := range parts {
		v, err := strconv.ParseInt(p, 10, 32)
		if err != nil {
			return nil, false
		}
		idx[i] = int32(v)
	}
	return idx, true
}

// gridIndex maps tile (i, j) of the bound 2-D array to the matrix's
// indices, after the fixed leading indices.
func (m *BigMatrix) gridIndex(fixed []int32, i, j int) []int32 {
	idx := append([]int32(nil), fixed...)
	switch m.Arity - len(fixed) {
	case 1:
		idx = append(idx, int32(i))
	case 2:
		idx = append(idx, int32(i), int32(j))
	}
	return idx
}

// DefaultFixed returns the leading indices the binding rule fixes: zeros
// for all but the last two.
func (m *BigMatrix) DefaultFixed() []int32 { return make([]int32, max(m.Arity-2, 0)) }

// ceilDiv returns the number of blocks of size b covering n.
func ceilDiv(n, b int) int { return (n + b - 1) / b }

// Upload writes the 2-D array a as the matrix's tiles, parallel requests
// at a time, and returns the number of tiles and bytes written.
func Upload(ctx context.Context, s *Store, m *BigMatrix, a blas64.General, parallel int) (tiles int, bytes int64, err error) {
	if m.Block <= 0 {
		return 0, 0, fmt.Errorf("upload %s: block size must be positive, got %d", m.Name, m.Block)
	}
	if m.Arity < 1 {
		return 0, 0, fmt.Errorf("upload %s: the matrix has no indices", m.Name)
	}
	if a.Rows == 0 || a.Cols == 0 {
		return 0, 0, fmt.Errorf("upload %s: the array is empty (%d×%d)", m.Name, a.Rows, a.Cols)
	}
	rowBlocks, colBlocks := ceilDiv(a.Rows, m.Block), ceilDiv(a.Cols, m.Block)
	if m.Arity == 1 {
		colBlocks = 1
	}
	var written int64
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(max(parallel, 1))
	sizes := make([]int64, rowBlocks*colBlocks)
	for i := range rowBlocks {
		for j := range colBlocks {
			r0, c0 := i*m.Block, j*m.Block
			r1, c1 := min(r0+m.Block, a.Rows), min(c0+m.Block, a.Cols)
			if m.Arity == 1 {
				c0, c1 = 0, a.Cols
			}
			key := m.Key(m.gridIndex(m.DefaultFixed(), i, j))
			slot := &sizes[i*colBlocks+j]
			g.Go(func() error {
				n, err := s.PutTile(ctx, key, sub(a, r0, c0, r1, c1))
				*slot = int64(n)
				return err
			})
		}
	}
	if err := g.Wait(); err != nil {
		return 0, 0, fmt.Errorf("upload %s: %w", m.Name, err)
	}
	for _, n := range sizes {
		written += n
	}
	return rowBlocks * colBlocks, written, nil
}

// sub returns the view a[r0:r1, c0:c1].
func sub(a blas64.General, r0, c0, r1, c1 int) blas64.General {
	return blas64.General{Rows: r1 - r0, Cols: c1 - c0, Stride: a.Stride, Data: a.Data[r0*a.Stride+c0:]}
}

// Assemble reads tiles of the matrix back into one 2-D array. fixed gives
// leading indices (nil means the binding rule's zeros); the one or two
// indices left free form the grid: tile (i, j) goes to rows i·Block and
// columns j·Block, a free index alone stacks row blocks, and no free index
// reads a single tile. Tiles that were never written are zeros.
func Assemble(ctx context.Context, s *Store, m *BigMatrix, fixed []int32, parallel int) (blas64.General, error) {
	if fixed == nil {
		fixed = m.DefaultFixed()
	}
	free := m.Arity - len(fixed)
	if free < 0 || free > 2 {
		return blas64.General{}, fmt.Errorf("%s has %d indices: fix all but one or two of them, e.g. %s", m.Name, m.Arity, example(m))
	}
	if free == 0 {
		t, _, err := s.GetTile(ctx, m.Key(fixed))
		if err != nil {
			return blas64.General{}, fmt.Errorf("tile %s%s was not written: %w", m.Name, indexText(fixed), err)
		}
		// The caller owns the result; the tile may be the store's memory.
		return blas64.General{Rows: t.Rows, Cols: t.Cols, Stride: t.Cols, Data: slices.Clone(t.Data[:t.Rows*t.Cols])}, nil
	}
	keys, err := s.List(ctx, m.Dir())
	if err != nil {
		return blas64.General{}, err
	}
	type placed struct{ i, j int }
	var where []placed
	var found []string
	for _, k := range keys {
		idx, ok := m.ParseKey(k)
		if !ok || !hasPrefix(idx, fixed) {
			continue
		}
		p := placed{i: int(idx[len(fixed)])}
		if free == 2 {
			p.j = int(idx[len(fixed)+1])
		}
		if p.i < 0 || p.j < 0 {
			continue
		}
		where, found = append(where, p), append(found, k)
	}
	if len(found) == 0 {
		return blas64.General{}, fmt.Errorf("no tile of %s%s was written", m.Name, selectorText(fixed, free))
	}
	tiles := make([]blas64.General, len(found))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(parallel, 1))
	for n, k := range found {
		g.Go(func() error {
			t, _, err := s.GetTile(gctx, k)
			tiles[n] = t
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return blas64.General{}, err
	}
	rows, cols := 0, 0
	for n, t := range tiles {
		if t.Rows > m.Block || t.Cols > m.Block && free == 2 {
			return blas64.General{}, fmt.Errorf("cannot assemble %s: tile %s is %d×%d, larger than the block size %d", m.Name, found[n], t.Rows, t.Cols, m.Block)
		}
		rows = max(rows, where[n].i*m.Block+t.Rows)
		cols = max(cols, where[n].j*m.Block+t.Cols)
	}
	out := blas64.General{Rows: rows, Cols: cols, Stride: cols, Data: make([]float64, rows*cols)}
	for n, t := range tiles {
		r0, c0 := where[n].i*m.Block, where[n].j*m.Block
		for r := range t.Rows {
			copy(out.Data[(r0+r)*cols+c0:(r0+r)*cols+c0+t.Cols], t.Data[r*t.Stride:])
		}
	}
	return out, nil
}

func hasPrefix(idx, fixed []int32) bool {
	for i, f := range fixed {
		if idx[i] != f {
			return false
		}
	}
	return true
}

func indexText(idx []int32) string {
	parts := make([]string, len(idx))
	for i, x := range idx {
		parts[i] = strconv.Itoa(int(x))
	}
	return "[" + strings.Join(parts, ",") + "]"
}

func selectorText(fixed []int32, free int) string {
	parts := make([]string, 0, len(fixed)+free)
	for _, x := range fixed {
		parts = append(parts, strconv.Itoa(int(x)))
	}
	for range free {
		parts = append(parts, "·")
	}
	return "[" + strings.Join(parts, ",") + "]"
}

func example(m *BigMatrix) string {
	parts := make([]string, m.Arity-2)
	for i := range parts {
		parts[i] = "0"
	}
	return m.Name + "[" + strings.Join(parts, ",") + "]"
}

// CanCopyTiles reports whether the tiles of src's grid (fixed: its leading
// indices, nil for the binding rule's zeros) are, one for one, the tiles
// of dst's grid under the binding rule: same block size, and either both
// grids are 2-D grids of B×B tiles or both matrices are row blocks (one
// index).
func CanCopyTiles(src *BigMatrix, fixed []int32, dst *BigMatrix) bool {
	if fixed == nil {
		fixed = src.DefaultFixed()
	}
	rowBlocks := src.Arity == 1 && dst.Arity == 1 && len(fixed) == 0
	grids := src.Arity-len(fixed) == 2 && dst.Arity >= 2
	return src.Block == dst.Block && (rowBlocks || grids)
}

// CopyTiles copies the tiles of src's grid into dst's grid, as stored (no
// decoding; no data through this process on stores that copy by
// themselves), parallel requests at a time. It returns the number of
// tiles copied. See CanCopyTiles for when the grids match.
func CopyTiles(ctx context.Context, s *Store, src *BigMatrix, fixed []int32, dst *BigMatrix, parallel int) (int, error) {
	if !CanCopyTiles(src, fixed, dst) {
		return 0, fmt.Errorf("copy %s to %s: the tile grids differ", src.Name, dst.Name)
	}
	if fixed == nil {
		fixed = src.DefaultFixed()
	}
	keys, err := s.List(ctx, src.Dir())
	if err != nil {
		return 0, fmt.Errorf("copy %s: %w", src.Name, err)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(parallel, 1))
	copied := 0
	for _, key := range keys {
		idx, ok := src.ParseKey(key)
		if !ok || !slices.Equal(idx[:len(fixed)], fixed) {
			continue
		}
		grid := idx[len(fixed):]
		i, j := int(grid[0]), 0
		if len(grid) == 2 {
			j = int(grid[1])
		}
		dstKey := dst.Key(dst.gridIndex(dst.DefaultFixed(), i, j))
		copied++
		g.Go(func() error { return s.Copy(gctx, dstKey, key) })
	}
	if err := g.Wait(); err != nil {
		return 0, fmt.Errorf("copy %s: %w", src.Name, err)
	}
	return copied, nil
}

package blockstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"

	"golang.org/x/sync/errgroup"
	"gonum.org/v1/gonum/blas/blas64"

	"github.com/npw-dev/npw/zarr"
)

// A Grid is the 2-D array that a grid of a BigMatrix's tiles forms in a
// store, under the binding rule of BigMatrix: with the leading indices
// Fixed, tile (i, j) holds rows i·Block and columns j·Block on; a grid of
// one free index is row blocks of all columns; a grid of none is one
// tile. Tiles that were never written read as zeros.
//
// Grids move matrices tile by tile: whatever the matrix's size, an
// operation holds a few tiles per request in flight, never the matrix.
type Grid struct {
	Store      *Store
	Matrix     *BigMatrix
	Fixed      []int32 // nil: the binding rule's zeros
	Rows, Cols int
	// Sparse, for a grid written to, leaves out tiles that would be made
	// only of tiles never written (zeros), as Zarr leaves out chunks of
	// its fill value.
	Sparse bool
	// TileRows and TileCols, when set, are the tiles' size instead of
	// Matrix.Block×Matrix.Block (a Zarr array's chunks).
	TileRows, TileCols int
	// Codec, when set, stores the tiles in another format than npw's
	// .npy tiles (Zarr chunks), under its own keys.
	Codec TileCodec
}

// A TileCodec stores a grid's tiles in a format of its own: the chunks
// of a Zarr array.
type TileCodec interface {
	// Key returns the key of tile (i, j) of the grid whose tiles are
	// under dir.
	Key(dir string, i, j int) string
	// Decode returns tile (i, j): its part of the array.
	Decode(data []byte, i, j int) (blas64.General, error)
	// Encode stores tile (i, j), its part of the array.
	Encode(t blas64.General, i, j int) ([]byte, error)
	// Same says whether another codec stores tiles the same way, so that
	// tiles copy between them as they are.
	Same(other TileCodec) bool
}

// tileSize returns the rows and columns of a full tile.
func (g *Grid) tileSize() (rows, cols int) {
	if g.TileRows > 0 && g.TileCols > 0 {
		return g.TileRows, g.TileCols
	}
	return g.Matrix.Block, g.Matrix.Block
}

// sameTiles says whether tiles copy from src to dst as they are stored.
func sameTiles(src, dst *Grid) bool {
	sr, sc := src.tileSize()
	dr, dc := dst.tileSize()
	if sr != dr || sc != dc || src.free() != dst.free() {
		return false
	}
	if src.Codec == nil || dst.Codec == nil {
		return src.Codec == nil && dst.Codec == nil
	}
	return src.Codec.Same(dst.Codec)
}

// fixed returns the grid's leading indices.
func (g *Grid) fixed() []int32 {
	if g.Fixed == nil {
		return g.Matrix.DefaultFixed()
	}
	return g.Fixed
}

// free is the number of the matrix's indices the grid leaves free.
func (g *Grid) free() int { return g.Matrix.Arity - len(g.fixed()) }

// Check refuses a grid that selects no 2-D array of its matrix.
func (g *Grid) Check() error {
	if f := g.free(); f < 0 || f > 2 {
		return fmt.Errorf("%s has %d indices: fix all but one or two of them, e.g. %s", g.Matrix.Name, g.Matrix.Arity, example(g.Matrix))
	}
	if tr, tc := g.tileSize(); g.Rows <= 0 || g.Cols <= 0 || tr <= 0 || tc <= 0 {
		return fmt.Errorf("%s: a %d×%d grid of %d×%d tiles is empty", g.Matrix.Name, g.Rows, g.Cols, tr, tc)
	}
	return nil
}

// TileGrid returns the number of tile rows and columns of the grid.
func (g *Grid) TileGrid() (rows, cols int) {
	tr, tc := g.tileSize()
	switch g.free() {
	case 0:
		return 1, 1
	case 1:
		return ceilDiv(g.Rows, tr), 1
	}
	return ceilDiv(g.Rows, tr), ceilDiv(g.Cols, tc)
}

// Key returns the key of tile (i, j) of the grid.
func (g *Grid) Key(i, j int) string {
	if g.Codec != nil {
		return g.Codec.Key(g.Matrix.Dir(), i, j)
	}
	return g.Matrix.Key(g.Matrix.gridIndex(g.fixed(), i, j))
}

// TileBounds returns the rows [r0, r1) and columns [c0, c1) of the
// array that tile (i, j) holds.
func (g *Grid) TileBounds(i, j int) (r0, c0, r1, c1 int) {
	tr, tc := g.tileSize()
	switch g.free() {
	case 0:
		return 0, 0, g.Rows, g.Cols
	case 1:
		return i * tr, 0, min((i+1)*tr, g.Rows), g.Cols
	}
	return i * tr, j * tc, min((i+1)*tr, g.Rows), min((j+1)*tc, g.Cols)
}

// ReadTile reads tile (i, j), checking its shape against the grid; a
// tile never written is zeros of its size, and found is false.
func (g *Grid) ReadTile(ctx context.Context, i, j int) (t blas64.General, found bool, err error) {
	r0, c0, r1, c1 := g.TileBounds(i, j)
	key := g.Key(i, j)
	t, err = g.getTile(ctx, key, i, j)
	switch {
	case errors.Is(err, ErrNotFound):
		return zeros(r1-r0, c1-c0), false, nil
	case err != nil:
		return blas64.General{}, false, err
	case t.Rows != r1-r0 || t.Cols != c1-c0:
		return blas64.General{}, false, g.badShape(key, t, r1-r0, c1-c0)
	}
	return t, true, nil
}

// getTile reads and decodes tile (i, j) under key.
func (g *Grid) getTile(ctx context.Context, key string, i, j int) (blas64.General, error) {
	if g.Codec == nil {
		t, _, err := g.Store.GetTile(ctx, key)
		return t, err
	}
	data, err := g.Store.Get(ctx, key)
	if err != nil {
		return blas64.General{}, err
	}
	t, err := g.Codec.Decode(data, i, j)
	if err != nil {
		return blas64.General{}, fmt.Errorf("%s: %w", key, err)
	}
	return t, nil
}

// WriteTile stores tile (i, j), encoded by the grid's codec, and returns
// the bytes written. A tile in its own .npy buffer (tilebuf) is written
// without a copy.
func (g *Grid) WriteTile(ctx context.Context, i, j int, t blas64.General) (int, error) {
	if g.Codec == nil {
		return g.Store.AdoptTile(ctx, g.Key(i, j), t)
	}
	data, err := g.Codec.Encode(t, i, j)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", g.Key(i, j), err)
	}
	return len(data), g.Store.Put(ctx, g.Key(i, j), data)
}

func (g *Grid) badShape(key string, t blas64.General, rows, cols int) error {
	return fmt.Errorf("tile %s is %d×%d, where a %d×%d array of block %d has a %d×%d tile", key, t.Rows, t.Cols, g.Rows, g.Cols, g.Matrix.Block, rows, cols)
}

func zeros(rows, cols int) blas64.General {
	return blas64.General{Rows: rows, Cols: cols, Stride: max(cols, 1), Data: make([]float64, rows*cols)}
}

// Region reads rows [r0, r1) and columns [c0, c1) of the array from the
// tiles that overlap them, into new memory; found says whether any of
// those tiles was written.
func (g *Grid) Region(ctx context.Context, r0, c0, r1, c1 int) (out blas64.General, found bool, err error) {
	if r0 < 0 || c0 < 0 || r1 > g.Rows || c1 > g.Cols || r0 >= r1 || c0 >= c1 {
		return blas64.General{}, false, fmt.Errorf("region [%d:%d, %d:%d] of %s is outside its %d×%d array", r0, r1, c0, c1, g.Matrix.Name, g.Rows, g.Cols)
	}
	out = zeros(r1-r0, c1-c0)
	tr, tc := g.tileSize()
	ti, tj := g.TileGrid()
	i0, i1, j0, j1 := 0, ti, 0, tj
	if g.free() >= 1 {
		i0, i1 = r0/tr, min(ceilDiv(r1, tr), ti)
	}
	if g.free() == 2 {
		j0, j1 = c0/tc, min(ceilDiv(c1, tc), tj)
	}
	for i := i0; i < i1; i++ {
		for j := j0; j < j1; j++ {
			t, ok, err := g.ReadTile(ctx, i, j)
			if err != nil {
				return blas64.General{}, false, err
			}
			tr0, tc0, _, _ := g.TileBounds(i, j)
			place(out, r0, c0, t, tr0, tc0)
			found = found || ok
		}
	}
	return out, found, nil
}

// place copies the part of tile t, whose top left is (tr0, tc0) of the
// array, that falls into out, whose top left is (r0, c0).
func place(out blas64.General, r0, c0 int, t blas64.General, tr0, tc0 int) {
	rs, re := max(r0, tr0), min(r0+out.Rows, tr0+t.Rows)
	cs, ce := max(c0, tc0), min(c0+out.Cols, tc0+t.Cols)
	for r := rs; r < re; r++ {
		copy(out.Data[(r-r0)*out.Stride+cs-c0:(r-r0)*out.Stride+ce-c0], t.Data[(r-tr0)*t.Stride+cs-tc0:])
	}
}

// EachTile calls f for every tile (i, j) of the grid, parallel calls at a
// time, and returns the first error.
func (g *Grid) EachTile(ctx context.Context, parallel int, f func(ctx context.Context, i, j int) error) error {
	ti, tj := g.TileGrid()
	eg, ctx := errgroup.WithContext(ctx)
	eg.SetLimit(max(parallel, 1))
	for i := range ti {
		for j := range tj {
			eg.Go(func() error { return f(ctx, i, j) })
		}
	}
	return eg.Wait()
}

// Retile writes src's array as the tiles of dst, each made from the
// tiles of src that overlap it: as stored when the two grids have the
// same tiles (no data through this process on stores that copy by
// themselves), else decoded and cut. It returns the bytes of the tiles
// it encoded. dst's Rows and Cols must be src's. Tiles that pass through
// this process move at most flightBytes at a time (see inFlight).
func Retile(ctx context.Context, src, dst *Grid, parallel int) (int64, error) {
	if err := errors.Join(src.Check(), dst.Check()); err != nil {
		return 0, err
	}
	if src.Rows != dst.Rows || src.Cols != dst.Cols {
		return 0, fmt.Errorf("re-tile %s: a %d×%d array into a %d×%d one", src.Matrix.Name, src.Rows, src.Cols, dst.Rows, dst.Cols)
	}
	same := sameTiles(src, dst)
	if !same || src.Store != dst.Store { // the tiles move through this process
		parallel = min(inFlight(parallel, dst), inFlight(parallel, src))
	}
	var written atomic.Int64
	err := dst.EachTile(ctx, parallel, func(ctx context.Context, i, j int) error {
		if same {
			if done, err := copyTile(ctx, src, dst, i, j); done || err != nil || dst.Sparse {
				return err // copied, failed, or never written (zeros) and left out
			}
		}
		r0, c0, r1, c1 := dst.TileBounds(i, j)
		t, found, err := src.Region(ctx, r0, c0, r1, c1)
		if err != nil || !found && dst.Sparse {
			return err
		}
		n, err := dst.WriteTile(ctx, i, j, t)
		written.Add(int64(n))
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("re-tile %s: %w", src.Matrix.Name, err)
	}
	return written.Load(), nil
}

// copyTile copies tile (i, j) of src to the same tile of dst as stored:
// in the store when both grids are in one, else by reading and writing
// its bytes. It returns false, and copies nothing, when src's tile was
// never written.
func copyTile(ctx context.Context, src, dst *Grid, i, j int) (bool, error) {
	from, to := src.Key(i, j), dst.Key(i, j)
	if src.Store == dst.Store {
		err := src.Store.Copy(ctx, to, from)
		if errors.Is(err, ErrNotFound) {
			return false, nil
		}
		return true, err
	}
	data, err := src.Store.Get(ctx, from)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return true, err
	}
	return true, dst.Store.Put(ctx, to, data)
}

// A GridSpec describes a grid of a store, to be opened again in another
// process (a worker): its matrix and selector, its array's size, and its
// tiles' size and format (a Zarr array's .zarray; npw's .npy tiles when
// empty).
type GridSpec struct {
	Matrix             BigMatrix
	Fixed              []int32 `json:",omitempty"`
	Rows, Cols         int
	TileRows, TileCols int             `json:",omitempty"`
	Zarr               json.RawMessage `json:",omitempty"`
	Sparse             bool            `json:",omitempty"`
}

// Spec describes the grid.
func (g *Grid) Spec() (GridSpec, error) {
	s := GridSpec{Matrix: *g.Matrix, Fixed: g.Fixed, Rows: g.Rows, Cols: g.Cols, TileRows: g.TileRows, TileCols: g.TileCols, Sparse: g.Sparse}
	switch c := g.Codec.(type) {
	case nil:
	case *zarrCodec:
		data, err := c.meta.Marshal()
		if err != nil {
			return GridSpec{}, err
		}
		s.Zarr = data
	default:
		return GridSpec{}, fmt.Errorf("grid %s: its tile codec %T cannot be described", g.Matrix.Name, c)
	}
	return s, nil
}

// Open returns the grid s describes in the store st.
func (s GridSpec) Open(st *Store) (*Grid, error) {
	m := s.Matrix
	g := &Grid{Store: st, Matrix: &m, Fixed: s.Fixed, Rows: s.Rows, Cols: s.Cols, TileRows: s.TileRows, TileCols: s.TileCols, Sparse: s.Sparse}
	if len(s.Zarr) > 0 {
		meta, err := zarr.ParseMeta(s.Zarr)
		if err != nil {
			return nil, err
		}
		g.Codec = &zarrCodec{meta: meta}
	}
	return g, g.Check()
}

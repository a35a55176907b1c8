package blockstore

import (
	"context"
	"fmt"
	"io"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sync/errgroup"
	"gonum.org/v1/gonum/blas/blas64"
)

// PutNPY stores the array r reads as the tiles of st (made by Create)
// and then saves st's manifest. It returns the bytes of the tiles.
func PutNPY(ctx context.Context, r *NPYReader, st *Stored, parallel int) (int64, error) {
	n, err := ReadNPYTiles(ctx, r, &st.Grid, parallel)
	if err == nil {
		err = st.Commit(ctx)
	}
	if err != nil {
		return 0, fmt.Errorf("put %s: %w", st.URL, err)
	}
	return n, nil
}

// ReadNPYTiles writes the array r reads as the tiles of g, parallel tiles
// at a time, each read from r at its offsets and written as it is read.
// It returns the bytes of the tiles.
func ReadNPYTiles(ctx context.Context, r *NPYReader, g *Grid, parallel int) (int64, error) {
	if err := g.Check(); err != nil {
		return 0, err
	}
	if r.Rows != g.Rows || r.Cols != g.Cols {
		return 0, fmt.Errorf("a %d×%d array into a %d×%d matrix", r.Rows, r.Cols, g.Rows, g.Cols)
	}
	var written atomic.Int64
	err := g.EachTile(ctx, parallel, func(ctx context.Context, i, j int) error {
		r0, c0, r1, c1 := g.TileBounds(i, j)
		t, err := r.ReadTile(r0, c0, r1-r0, c1-c0)
		if err != nil {
			return err
		}
		n, err := g.WriteTile(ctx, i, j, t)
		written.Add(int64(n))
		return err
	})
	return written.Load(), err
}

// WriteGrid writes g's array to w tile by tile, parallel tiles at a time.
// With zeroed (w reads as zeros where nothing was written, as a file
// CreateNPY made does), tiles never written are skipped.
func WriteGrid(ctx context.Context, g *Grid, w *NPYWriter, zeroed bool, parallel int) error {
	if err := g.Check(); err != nil {
		return err
	}
	if w.Rows != g.Rows || w.Cols != g.Cols {
		return fmt.Errorf("write %s: a %d×%d array into a %d×%d file", g.Matrix.Name, g.Rows, g.Cols, w.Rows, w.Cols)
	}
	return g.EachTile(ctx, parallel, func(ctx context.Context, i, j int) error {
		t, found, err := g.ReadTile(ctx, i, j)
		if err != nil || !found && zeroed {
			return err
		}
		r0, c0, _, _ := g.TileBounds(i, j)
		return w.WriteTile(r0, c0, t)
	})
}

// StreamGrid writes g's array to w as a .npy file, in order: the header,
// then the rows. It holds one row of tiles at a time, read parallel
// tiles at once; WriteGrid, for a file, holds a few tiles.
func StreamGrid(ctx context.Context, g *Grid, w io.Writer, parallel int) error {
	if err := g.Check(); err != nil {
		return err
	}
	if _, err := w.Write(NPYHeader(g.Rows, g.Cols)); err != nil {
		return err
	}
	ti, tj := g.TileGrid()
	for i := range ti {
		r0, _, r1, _ := g.TileBounds(i, 0)
		row := zeros(r1-r0, g.Cols)
		eg, ctx := errgroup.WithContext(ctx)
		eg.SetLimit(max(parallel, 1))
		for j := range tj {
			eg.Go(func() error {
				t, _, err := g.ReadTile(ctx, i, j)
				if err != nil {
					return err
				}
				_, c0, _, _ := g.TileBounds(i, j)
				place(row, r0, 0, t, r0, c0)
				return nil
			})
		}
		if err := eg.Wait(); err != nil {
			return err
		}
		if _, err := w.Write(floatBytes(row.Data)); err != nil {
			return err
		}
	}
	return nil
}

// Dense reads g's whole array into memory: for arrays known to be small.
func (g *Grid) Dense(ctx context.Context, parallel int) (blas64.General, error) {
	if err := g.Check(); err != nil {
		return blas64.General{}, err
	}
	out := zeros(g.Rows, g.Cols)
	err := g.EachTile(ctx, parallel, func(ctx context.Context, i, j int) error {
		t, _, err := g.ReadTile(ctx, i, j)
		if err != nil {
			return err
		}
		r0, c0, _, _ := g.TileBounds(i, j)
		place(out, 0, 0, t, r0, c0)
		return nil
	})
	return out, err
}

// floatBytes returns values as little-endian bytes: their own memory on
// a little-endian machine, else a converted copy.
func floatBytes(values []float64) []byte {
	if len(values) == 0 {
		return nil
	}
	if littleEndian {
		return unsafe.Slice((*byte)(unsafe.Pointer(&values[0])), 8*len(values))
	}
	buf := make([]byte, 8*len(values))
	putFloats(buf, values)
	return buf
}

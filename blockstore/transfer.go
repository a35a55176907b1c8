package blockstore

import (
	"context"
	"fmt"
	"io"
	"sync/atomic"
	"unsafe"

	"github.com/npw-dev/npw/internal/tilebuf"
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

// flightBytes bounds the tiles a transfer through this process holds at
// once (ReadNPYTiles, Retile between stores or layouts): more tiles in
// flight than fit in it only contend for the disk and the page cache (a
// 4 GB put on file://, block 4096: 16 tiles 12-15 s and 2.4 GB of RSS, 4
// tiles 6-9 s and 0.9 GB).
const flightBytes = 512 << 20

// inFlight returns how many of g's tiles to move at once: parallel, or
// fewer when they would not fit in flightBytes, but at least 2.
func inFlight(parallel int, g *Grid) int {
	tr, tc := g.tileSize()
	return max(min(parallel, flightBytes/(8*tr*tc)), min(parallel, 2), 1)
}

// ReadNPYTiles writes the array r reads as the tiles of g, parallel tiles
// at a time (fewer when they would not fit in flightBytes, see inFlight),
// each read from r at its offsets and written as it is read. It returns
// the bytes of the tiles. Where the store does not keep the tile it is
// given (Adopter), the memory of a full tile is reused from one tile to
// the next, ragged ones included: a new 128 MiB buffer a tile costs more
// in page faults and clearing than reading it.
func ReadNPYTiles(ctx context.Context, r *NPYReader, g *Grid, parallel int) (int64, error) {
	if err := g.Check(); err != nil {
		return 0, err
	}
	if r.Rows != g.Rows || r.Cols != g.Cols {
		return 0, fmt.Errorf("a %d×%d array into a %d×%d matrix", r.Rows, r.Cols, g.Rows, g.Cols)
	}
	parallel = inFlight(parallel, g)
	tr, tc := g.tileSize()
	// Buffers of a full tile, which the ragged tiles of the last row and
	// column use too.
	var pool chan []byte
	if _, adopts := g.Store.Driver().(Adopter); !adopts && g.Codec == nil {
		pool = make(chan []byte, parallel)
	}
	var written atomic.Int64
	err := g.EachTile(ctx, parallel, func(ctx context.Context, i, j int) error {
		r0, c0, r1, c1 := g.TileBounds(i, j)
		var t blas64.General
		var err error
		if pool != nil {
			var buf []byte
			select {
			case buf = <-pool:
			default:
				buf = tilebuf.Bytes(tr * tc)
			}
			defer func() { pool <- buf }()
			t = tilebuf.In(buf, r1-r0, c1-c0)
			err = r.ReadTileInto(t, r0, c0)
		} else {
			t, err = r.ReadTile(r0, c0, r1-r0, c1-c0)
		}
		if err == nil && r.Check != nil {
			err = r.Check(t, r0, c0)
		}
		if err != nil {
			return err
		}
		n, err := g.WriteTile(ctx, i, j, t)
		written.Add(int64(n))
		return err
	})
	return written.Load(), err
}

// WriteGrid writes g's array to w in order, a band of rows at a time
// (see streamBands), so that the file is written from start to end. With
// zeroed (w reads as zeros where nothing was written, as a file CreateNPY
// made does), bands of tiles never written are skipped.
func WriteGrid(ctx context.Context, g *Grid, w *NPYWriter, zeroed bool, parallel int) error {
	if err := g.Check(); err != nil {
		return err
	}
	if w.Rows != g.Rows || w.Cols != g.Cols {
		return fmt.Errorf("write %s: a %d×%d array into a %d×%d file", g.Matrix.Name, g.Rows, g.Cols, w.Rows, w.Cols)
	}
	var buf []byte
	return streamBands(ctx, g, parallel, func(r0, _ int, data []float64, zero bool) error {
		if zero && zeroed {
			return nil
		}
		return namedErr(w.name, w.put(int64(r0)*int64(w.Cols), data, &buf))
	})
}

// StreamGrid writes g's array to w as a .npy file, in order: the header,
// then the rows, a band at a time (see streamBands).
func StreamGrid(ctx context.Context, g *Grid, w io.Writer, parallel int) error {
	if err := g.Check(); err != nil {
		return err
	}
	if _, err := w.Write(NPYHeader(g.Rows, g.Cols)); err != nil {
		return err
	}
	return streamBands(ctx, g, parallel, func(_, _ int, data []float64, _ bool) error {
		_, err := w.Write(floatBytes(data))
		return err
	})
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

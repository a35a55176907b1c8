package blockstore

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"slices"

	"golang.org/x/sync/errgroup"
)

// bandBytes is the size of the bands of full-width rows in which
// StreamGrid and WriteGrid move an array: with a store that reads byte
// ranges (RangeReader) and npw's .npy tiles, a band is read straight out
// of the row of tiles it crosses, and the two bands in flight (one read,
// one written) plus the one being written out are all the memory the
// transfer holds, whatever the block. An array under 1 GiB moves in
// bands of 1/64 of it. (Variables for the tests.)
var bandBytes, bandShare = 16 << 20, 64

// A band is rows [r0, r0+rows) of an array, read from the tiles of one
// tile row.
type band struct {
	r0, rows int
	// data holds the band: the part of each tile j, rows × (c1-c0), one
	// after the other (tileMajor: read by ranges, a buffer of the pool),
	// or the band's rows themselves (a tile row read whole).
	data      []float64
	tileMajor bool
	found     bool // some tile of the band was written
}

// streamBands calls emit with the array's bands in order, first row to
// last, each a rows×cols row-major slice that emit may use only until it
// returns, and zero set when no tile of the band was ever written (data
// is zeros). emit runs while the next band is read.
func streamBands(ctx context.Context, g *Grid, parallel int, emit func(r0, rows int, data []float64, zero bool) error) error {
	if err := g.Check(); err != nil {
		return err
	}
	pool := make(chan []float64, 2)
	for range cap(pool) {
		pool <- nil // allocated on first use, to the size of the largest band
	}
	full := make(chan band)
	eg, ctx := errgroup.WithContext(ctx)
	eg.Go(func() error {
		var out []float64
		for b := range full {
			data := b.data
			if b.tileMajor {
				out = grow(out, b.rows*g.Cols)
				data = g.rowMajor(b, out)
			}
			if err := emit(b.r0, b.rows, data, !b.found); err != nil {
				return err
			}
			if b.tileMajor {
				pool <- b.data
			}
		}
		return nil
	})
	eg.Go(func() error {
		defer close(full)
		send := func(b band) error {
			select {
			case full <- b:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return g.readBands(ctx, parallel, pool, send)
	})
	return eg.Wait()
}

// readBands reads the array's bands in order and sends each: by byte
// ranges into buffers from pool where the store and tiles allow, else
// a tile row of whole tiles at a time.
func (g *Grid) readBands(ctx context.Context, parallel int, pool chan []float64, send func(band) error) error {
	// A small array moves in smaller bands: at most 1/bandShare of it each.
	bandRows := max(1, min(bandBytes, 8*g.Rows*g.Cols/bandShare)/(8*g.Cols))
	ranged := littleEndian && g.Codec == nil && g.Store.RangeReads()
	ti, tj := g.TileGrid()
	starts := make([]int64, tj)
	for i := range ti {
		ok := ranged
		if ok {
			var err error
			if ok, err = g.tileStarts(ctx, i, starts, parallel); err != nil {
				return err
			}
		}
		if !ok { // whole tiles: a Zarr chunk, a store without ranges, a header of another kind
			b, err := g.tileRow(ctx, i, parallel)
			if err == nil {
				err = send(b)
			}
			if err != nil {
				return err
			}
			continue
		}
		r0, _, r1, _ := g.TileBounds(i, 0)
		for a := r0; a < r1; a += bandRows {
			var buf []float64
			select {
			case buf = <-pool:
			case <-ctx.Done():
				return ctx.Err()
			}
			b, err := g.readBand(ctx, i, a, min(bandRows, r1-a), starts, buf, parallel)
			if err == nil {
				err = send(b)
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// readBand reads rows [a, a+rows) of tile row i, tile-major, into buf
// (grown when short), one range read per tile written; starts are the
// tiles' data offsets (tileStarts).
func (g *Grid) readBand(ctx context.Context, i, a, rows int, starts []int64, buf []float64, parallel int) (band, error) {
	r0, _, _, _ := g.TileBounds(i, 0)
	b := band{r0: a, rows: rows, data: grow(buf, rows*g.Cols), tileMajor: true}
	eg, ctx := errgroup.WithContext(ctx)
	eg.SetLimit(max(parallel, 1))
	for j, start := range starts {
		_, c0, _, c1 := g.TileBounds(i, j)
		part := b.data[rows*c0 : rows*c1]
		if start < 0 {
			clear(part)
			continue
		}
		b.found = true
		off := start + 8*int64(a-r0)*int64(c1-c0)
		eg.Go(func() error { return g.Store.ReadRange(ctx, g.Key(i, j), off, floatBytes(part)) })
	}
	return b, eg.Wait()
}

// rowMajor lays a tile-major band out as its rows, in out.
func (g *Grid) rowMajor(b band, out []float64) []float64 {
	_, tj := g.TileGrid()
	for j := range tj {
		_, c0, _, c1 := g.TileBounds(0, j)
		part := b.data[b.rows*c0 : b.rows*c1]
		for r := range b.rows {
			copy(out[r*g.Cols+c0:r*g.Cols+c1], part[r*(c1-c0):])
		}
	}
	return out
}

// grow returns buf, or a new slice when buf holds fewer than n values.
func grow(buf []float64, n int) []float64 {
	if cap(buf) < n {
		return make([]float64, n)
	}
	return buf[:n]
}

// tileRow reads the whole tiles of tile row i into a band of their rows.
func (g *Grid) tileRow(ctx context.Context, i, parallel int) (band, error) {
	r0, _, r1, _ := g.TileBounds(i, 0)
	_, tj := g.TileGrid()
	row := zeros(r1-r0, g.Cols)
	found := make([]bool, tj)
	eg, ctx := errgroup.WithContext(ctx)
	eg.SetLimit(max(parallel, 1))
	for j := range tj {
		eg.Go(func() error {
			t, ok, err := g.ReadTile(ctx, i, j)
			if err != nil {
				return err
			}
			_, c0, _, _ := g.TileBounds(i, j)
			place(row, r0, 0, t, r0, c0)
			found[j] = ok
			return nil
		})
	}
	err := eg.Wait()
	return band{r0: r0, rows: r1 - r0, data: row.Data, found: slices.Contains(found, true)}, err
}

// tileStarts reads the .npy header of each tile of tile row i and sets
// starts[j] to the byte at which tile j's data begins, or -1 for a tile
// never written. It returns false when some tile is not a little-endian
// C-order float64 .npy of its tile's shape (its own header, a tile of
// another shape), which the caller then reads whole, and so checks.
func (g *Grid) tileStarts(ctx context.Context, i int, starts []int64, parallel int) (bool, error) {
	eg, ctx := errgroup.WithContext(ctx)
	eg.SetLimit(max(parallel, 1))
	plain := make([]bool, len(starts))
	for j := range starts {
		eg.Go(func() error {
			r0, c0, r1, c1 := g.TileBounds(i, j)
			start, err := g.tileStart(ctx, g.Key(i, j), r1-r0, c1-c0)
			switch {
			case errors.Is(err, ErrNotFound):
				starts[j], plain[j] = -1, true
			case errors.Is(err, errOtherHeader) || errors.Is(err, io.ErrUnexpectedEOF):
			case err != nil:
				return err
			default:
				starts[j], plain[j] = start, true
			}
			return nil
		})
	}
	err := eg.Wait()
	return err == nil && !slices.Contains(plain, false), err
}

var errOtherHeader = errors.New("not a plain .npy tile header")

// tileStart reads the header of the .npy tile under key and returns where
// its data begins: errOtherHeader unless the header is the one npw and
// NumPy write for a rows×cols float64 C-order array (a 1-D one for a
// column).
func (g *Grid) tileStart(ctx context.Context, key string, rows, cols int) (int64, error) {
	// Headers are a multiple of 64 bytes; npw's are 128 (tilebuf.Prefix).
	head := make([]byte, min(128, 64+8*rows*cols))
	if err := g.Store.ReadRange(ctx, key, 0, head); err != nil {
		return 0, err
	}
	if string(head[:6]) != npyMagic || head[6] != 1 {
		return 0, errOtherHeader
	}
	start := 10 + int(binary.LittleEndian.Uint16(head[8:]))
	if start > len(head) {
		head = make([]byte, start)
		if err := g.Store.ReadRange(ctx, key, 0, head); err != nil {
			return 0, err
		}
	}
	shape, ok := fastHeader(string(head[10:start]))
	switch {
	case ok && len(shape) == 2 && shape[0] == rows && shape[1] == cols,
		ok && len(shape) == 1 && cols == 1 && shape[0] == rows:
		return int64(start), nil
	}
	return 0, errOtherHeader
}

package zarr

import (
	"bytes"
	"fmt"
	"math"

	"gonum.org/v1/gonum/blas/blas64"
)

// chunkPart is the rows×cols part of chunk (i, j) inside the array.
func (m Meta) chunkPart(i, j int) (rows, cols int, err error) {
	gr, gc := m.ChunkGrid()
	if i < 0 || i >= gr || j < 0 || j >= gc {
		return 0, 0, fmt.Errorf("chunk (%d, %d) outside the %d×%d chunk grid", i, j, gr, gc)
	}
	cr, cc := m.chunkShape()
	return min(cr, m.Rows()-i*cr), min(cc, m.Cols()-j*cc), nil
}

// DecodeChunk decodes the stored bytes of chunk (i, j) into a new
// row-major float64 tile of the chunk's part inside the array (edge
// chunks are stored full-size; the part past the array is dropped). A nil
// data is a chunk the store does not have, which Zarr reads as the fill
// value. Corrupt chunks give errors, never panics. It is safe for
// concurrent use.
func (m Meta) DecodeChunk(data []byte, i, j int) (blas64.General, error) {
	t, err := m.decodeChunk(data, i, j)
	if err != nil {
		return blas64.General{}, fmt.Errorf("zarr: decode chunk %s: %w", m.ChunkKey(i, j), err)
	}
	return t, nil
}

func (m Meta) decodeChunk(data []byte, i, j int) (blas64.General, error) {
	if err := m.check(); err != nil {
		return blas64.General{}, err
	}
	rows, cols, err := m.chunkPart(i, j)
	if err != nil {
		return blas64.General{}, err
	}
	n := m.chunkLen() * dtypes[m.DType].size
	switch {
	case data == nil:
		return m.fillTile(rows, cols), nil
	case m.Compressor == nil:
		if len(data) != n {
			return blas64.General{}, fmt.Errorf("uncompressed chunk of %d bytes, not the %d of %v %s elements", len(data), n, m.Chunks, m.DType)
		}
		t := newTile(rows, cols)
		m.fromBytes(t, data)
		return t, nil
	}
	f, err := readBloscHeader(data, n) // before the tile is allocated
	if err != nil {
		return blas64.General{}, err
	}
	return m.decodeFrame(f, rows, cols)
}

// decodeFrame decompresses a checked frame into a new tile: in place when
// the tile's memory is the chunk's bytes, else through a buffer.
func (m Meta) decodeFrame(f *bloscFrame, rows, cols int) (blas64.General, error) {
	t := newTile(rows, cols)
	if view, ok := m.f8Bytes(t); ok {
		return t, f.decode(view)
	}
	buf := getBuf(f.nbytes)
	defer putBuf(buf)
	if err := f.decode(*buf); err != nil {
		return blas64.General{}, err
	}
	m.fromBytes(t, *buf)
	return t, nil
}

func newTile(rows, cols int) blas64.General {
	return blas64.General{Rows: rows, Cols: cols, Stride: cols, Data: make([]float64, rows*cols)}
}

// fillTile is the tile of a missing chunk.
func (m Meta) fillTile(rows, cols int) blas64.General {
	t := newTile(rows, cols)
	if fill := m.fill(); fill != 0 || math.Signbit(fill) {
		for k := range t.Data {
			t.Data[k] = fill
		}
	}
	return t
}

// fill is the value of a missing chunk's elements: the fill value as the
// dtype holds it (float32 rounds), or 0 for a null fill value.
func (m Meta) fill() float64 {
	if m.FillValue == nil {
		return 0
	}
	d := dtypes[m.DType]
	if !d.fits(*m.FillValue) {
		return *m.FillValue
	}
	var b [8]byte
	d.put(b[:], *m.FillValue)
	return d.get(b[:])
}

// fromBytes converts the part of a whole C-order chunk inside the array
// into t.
func (m Meta) fromBytes(t blas64.General, raw []byte) {
	d := dtypes[m.DType]
	_, cc := m.chunkShape()
	for r := range t.Rows {
		src := raw[r*cc*d.size:]
		row := t.Data[r*t.Stride : r*t.Stride+t.Cols]
		if m.DType == "<f8" {
			getF8(row, src)
			continue
		}
		for c := range row {
			row[c] = d.get(src[c*d.size:])
		}
	}
}

// EncodeChunk encodes tile t, the part of chunk (i, j) inside the array,
// into the bytes zarr-python stores for the chunk: padded to the full
// chunk shape with the fill value, in the dtype, compressed with the
// Compressor. Values the dtype cannot hold exactly (1.5 or NaN in an
// integer type) are errors; float32 rounds. It is safe for concurrent
// use.
func (m Meta) EncodeChunk(t blas64.General, i, j int) ([]byte, error) {
	out, err := m.encodeChunk(t, i, j)
	if err != nil {
		return nil, fmt.Errorf("zarr: encode chunk %s: %w", m.ChunkKey(i, j), err)
	}
	return out, nil
}

func (m Meta) encodeChunk(t blas64.General, i, j int) ([]byte, error) {
	if err := m.check(); err != nil {
		return nil, err
	}
	rows, cols, err := m.chunkPart(i, j)
	if err != nil {
		return nil, err
	}
	if t.Rows != rows || t.Cols != cols {
		return nil, fmt.Errorf("tile is %d×%d, the chunk's part inside the array is %d×%d", t.Rows, t.Cols, rows, cols)
	}
	size := dtypes[m.DType].size
	if m.Compressor == nil {
		raw := make([]byte, m.chunkLen()*size)
		return raw, m.toBytes(raw, t)
	}
	if view, ok := m.f8Bytes(t); ok {
		return bloscEncode(view, size, m.Compressor)
	}
	buf := getBuf(m.chunkLen() * size)
	defer putBuf(buf)
	if err := m.toBytes(*buf, t); err != nil {
		return nil, err
	}
	return bloscEncode(*buf, size, m.Compressor)
}

// toBytes lays t out in raw as a whole C-order chunk, padded with the
// fill value; raw may hold old bytes.
func (m Meta) toBytes(raw []byte, t blas64.General) error {
	d := dtypes[m.DType]
	if err := m.pad(raw, d, t); err != nil {
		return err
	}
	_, cc := m.chunkShape()
	for r := range t.Rows {
		dst := raw[r*cc*d.size:]
		row := t.Data[r*t.Stride : r*t.Stride+t.Cols]
		if m.DType == "<f8" {
			putF8(dst, row)
			continue
		}
		for c, v := range row {
			if !d.fits(v) {
				return fmt.Errorf("value %v at (%d, %d) of the tile does not fit dtype %s", v, r, c, m.DType)
			}
			d.put(dst[c*d.size:], v)
		}
	}
	return nil
}

// pad writes the fill value where the chunk reaches past the array.
func (m Meta) pad(raw []byte, d dtype, t blas64.General) error {
	cr, cc := m.chunkShape()
	if t.Rows == cr && t.Cols == cc {
		return nil
	}
	fill := 0.0
	if m.FillValue != nil {
		fill = *m.FillValue
	}
	if !d.fits(fill) {
		return fmt.Errorf("fill_value %v does not fit dtype %s", fill, m.DType)
	}
	var elem [8]byte
	d.put(elem[:], fill)
	pattern := bytes.Repeat(elem[:d.size], cc)
	for r := range cr {
		if r < t.Rows {
			copy(raw[(r*cc+t.Cols)*d.size:(r+1)*cc*d.size], pattern)
		} else {
			copy(raw[r*cc*d.size:], pattern)
		}
	}
	return nil
}

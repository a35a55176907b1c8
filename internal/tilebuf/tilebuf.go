// Package tilebuf allocates tiles inside buffers that are laid out as
// encoded .npy files, so that a kernel's output can be written to the tile
// store without copying it into an encoding buffer.
//
// New returns a tile whose data sits Prefix bytes into a byte buffer; the
// prefix is left for the .npy header. Encoded finds that buffer again from
// the tile, fills in the header once, and returns the whole buffer: the
// tile store then keeps (memory) or sends (S3, file) it as it is. Buffers
// are found through a table keyed by the address of the tile's first
// element that holds only weak pointers, so the table keeps nothing alive
// and never confuses a freed buffer with a new allocation at the same
// address.
package tilebuf

import (
	"encoding/binary"
	"runtime"
	"sync"
	"unsafe"
	"weak"

	"gonum.org/v1/gonum/blas/blas64"
)

// Prefix is the room left before a tile's data for its .npy header: the
// header of a 2-D float64 array padded to 128 bytes, which holds any shape
// whose dimensions have at most 20 digits together.
const Prefix = 128

// minFloats is the smallest tile allocated inside a buffer: below 64 KiB
// the copy into an encoding buffer costs less than the table.
const minFloats = 1 << 13

var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

type entry struct {
	buf        weak.Pointer[byte] // the buffer's first byte
	size       int                // the buffer's bytes, room to grow in included
	rows, cols int
	once       sync.Once
	ok         bool // the header fitted the prefix
}

// table maps the address of a tile's first element to its entry.
var table sync.Map

// New returns a zero rows×cols tile with a compact row-major layout; large
// tiles are allocated inside a .npy buffer that Encoded can return.
func New(rows, cols int) blas64.General {
	stride := max(cols, 1)
	n := rows * stride
	if n < minFloats || !littleEndian {
		return blas64.General{Rows: rows, Cols: cols, Stride: stride, Data: make([]float64, n)}
	}
	buf := make([]byte, Prefix+8*n)
	data := unsafe.Slice((*float64)(unsafe.Pointer(&buf[Prefix])), n)
	g := blas64.General{Rows: rows, Cols: cols, Stride: stride, Data: data}
	Adopt(buf, g)
	return g
}

// In returns a rows×cols tile with a compact row-major layout inside buf,
// a buffer of at least Prefix+8·rows·cols bytes that an earlier In or
// Bytes made, known to Encoded as a tile of that shape from now on (a
// buffer reused for tiles of several shapes). Its data is what buf held.
func In(buf []byte, rows, cols int) blas64.General {
	n := rows * max(cols, 1)
	if n == 0 || len(buf) < Prefix+8*n || !littleEndian {
		return New(rows, cols)
	}
	data := unsafe.Slice((*float64)(unsafe.Pointer(&buf[Prefix])), n)
	g := blas64.General{Rows: rows, Cols: cols, Stride: max(cols, 1), Data: data}
	Adopt(buf, g)
	return g
}

// Bytes returns a buffer for In of tiles of up to n elements.
func Bytes(n int) []byte { return make([]byte, Prefix+8*n) }

// Adopt makes g, a tile whose data lies at Prefix in buf (a .npy buffer
// the caller owns, such as an object just read from S3), known to
// Encoded, so that g or a tile computed in its memory is written back
// without a copy. Small tiles and other layouts are left alone.
func Adopt(buf []byte, g blas64.General) {
	n := g.Rows * g.Cols
	if n < minFloats || g.Stride != g.Cols || len(buf) < Prefix+8*n || len(g.Data) < n ||
		unsafe.Pointer(&buf[Prefix]) != unsafe.Pointer(&g.Data[0]) {
		return
	}
	key := uintptr(unsafe.Pointer(&g.Data[0]))
	e := &entry{buf: weak.Make(&buf[0]), size: cap(buf), rows: g.Rows, cols: g.Cols}
	table.Store(key, e)
	runtime.AddCleanup(&buf[0], func(k uintptr) { table.CompareAndDelete(k, e) }, key)
}

// Encoded returns the .npy encoding of g without copying it when g is a
// whole tile from New: the buffer g lives in, with the header that
// header(rows, cols) returns written into its prefix (once; header must
// return exactly Prefix bytes, or Encoded reports false). The buffer shares
// g's memory; neither may change afterwards. Its capacity is the whole
// buffer's, so that a store keeping it and lending it back (Adopt) keeps
// a tile's room to grow (Grow).
func Encoded(g blas64.General, header func(rows, cols int) []byte) ([]byte, bool) {
	if g.Rows == 0 || g.Cols == 0 || g.Stride != g.Cols || len(g.Data) < g.Rows*g.Cols {
		return nil, false
	}
	p := unsafe.Pointer(&g.Data[0])
	v, ok := table.Load(uintptr(p))
	if !ok {
		return nil, false
	}
	e := v.(*entry)
	first := e.buf.Value()
	if first == nil || e.rows != g.Rows || e.cols != g.Cols || unsafe.Add(unsafe.Pointer(first), Prefix) != p {
		return nil, false
	}
	buf := unsafe.Slice(first, e.size)[:Prefix+8*g.Rows*g.Cols]
	e.once.Do(func() {
		if h := header(g.Rows, g.Cols); len(h) == Prefix {
			copy(buf, h)
			e.ok = true
		}
	})
	return buf, e.ok
}

// NewRoom is New with room for the tile to grow to room rows in place
// (Grow): a panel built a tile at a time.
func NewRoom(rows, cols, room int) blas64.General {
	n := max(rows, room) * max(cols, 1)
	if n < minFloats || !littleEndian {
		return New(rows, cols)
	}
	return In(Bytes(n), rows, cols)
}

// Grow returns g with rows rows, the first g.Rows of them g's, in g's own
// buffer, when g is a whole tile of a buffer with room for them (NewRoom,
// or a buffer adopted with spare capacity); the new rows hold what the
// buffer held. The caller must own g: the tile returned shares its
// memory. Otherwise it reports false.
func Grow(g blas64.General, rows int) (blas64.General, bool) {
	if rows < g.Rows || g.Rows == 0 || g.Cols == 0 || g.Stride != g.Cols || len(g.Data) < g.Rows*g.Cols {
		return blas64.General{}, false
	}
	p := unsafe.Pointer(&g.Data[0])
	v, ok := table.Load(uintptr(p))
	if !ok {
		return blas64.General{}, false
	}
	e := v.(*entry)
	first := e.buf.Value()
	if first == nil || e.rows != g.Rows || e.cols != g.Cols || unsafe.Add(unsafe.Pointer(first), Prefix) != p || e.size < Prefix+8*rows*g.Cols {
		return blas64.General{}, false
	}
	return In(unsafe.Slice(first, e.size), rows, g.Cols), true
}

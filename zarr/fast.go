package zarr

import (
	"encoding/binary"
	"math"
	"sync"
	"unsafe"

	"gonum.org/v1/gonum/blas/blas64"
)

// The fast paths of npw's own dtype, <f8: on a little-endian machine a
// whole contiguous tile's memory is the chunk's bytes, so Blosc reads
// and writes it in place; buffers of the other paths are pooled, since
// chunks are megabytes and a worker decodes many.

// littleEndian reports whether float64s in memory are <f8.
var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// f8Bytes returns the memory of t as the bytes of the whole chunk, when
// the dtype is <f8, the machine little-endian and t the whole chunk
// without gaps.
func (m Meta) f8Bytes(t blas64.General) ([]byte, bool) {
	cr, cc := m.chunkShape()
	if m.DType != "<f8" || !littleEndian || t.Rows != cr || t.Cols != cc || t.Stride != cc || len(t.Data) < cr*cc {
		return nil, false
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(t.Data))), 8*cr*cc), true
}

// getF8 converts little-endian float64s.
func getF8(dst []float64, src []byte) {
	src = src[:8*len(dst)]
	if littleEndian && len(dst) > 0 {
		copy(unsafe.Slice((*byte)(unsafe.Pointer(&dst[0])), len(src)), src)
		return
	}
	for k := range dst {
		dst[k] = math.Float64frombits(binary.LittleEndian.Uint64(src[8*k:]))
	}
}

// putF8 writes little-endian float64s.
func putF8(dst []byte, src []float64) {
	dst = dst[:8*len(src)]
	if littleEndian && len(src) > 0 {
		copy(dst, unsafe.Slice((*byte)(unsafe.Pointer(&src[0])), len(dst)))
		return
	}
	for k, v := range src {
		binary.LittleEndian.PutUint64(dst[8*k:], math.Float64bits(v))
	}
}

// bufPool holds the byte buffers of chunks and blocks.
var bufPool sync.Pool // of *[]byte

// getBuf returns a buffer of n bytes, holding old data.
func getBuf(n int) *[]byte {
	if b, ok := bufPool.Get().(*[]byte); ok && cap(*b) >= n {
		*b = (*b)[:n]
		return b
	}
	b := make([]byte, n)
	return &b
}

func putBuf(b *[]byte) { bufPool.Put(b) }

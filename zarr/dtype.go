package zarr

import (
	"encoding/binary"
	"fmt"
	"math"
)

// A dtype converts the elements of one NumPy type string, such as "<f8",
// to and from float64, the only element type of npw's tiles.
type dtype struct {
	size int                   // bytes per element
	kind byte                  // 'f', 'i', 'u' or 'b'
	get  func([]byte) float64  // reads one element
	put  func([]byte, float64) // writes one element, already checked to fit
}

// dtypes are the type strings npw reads and writes: those of .npy files
// that npw reads, in either byte order.
var dtypes = map[string]dtype{}

func init() {
	addOrdered("<", binary.LittleEndian)
	addOrdered(">", binary.BigEndian)
	dtypes["|i1"] = dtype{1, 'i',
		func(b []byte) float64 { return float64(int8(b[0])) },
		func(b []byte, v float64) { b[0] = byte(int8(v)) }}
	dtypes["|u1"] = dtype{1, 'u',
		func(b []byte) float64 { return float64(b[0]) },
		func(b []byte, v float64) { b[0] = byte(v) }}
	dtypes["|b1"] = dtype{1, 'b', // NumPy reads any non-zero byte as True
		func(b []byte) float64 { return float64(min(b[0], 1)) },
		func(b []byte, v float64) { b[0] = byte(v) }}
}

// addOrdered adds the multi-byte types of one byte order, marked c.
func addOrdered(c string, bo binary.ByteOrder) {
	dtypes[c+"f8"] = dtype{8, 'f',
		func(b []byte) float64 { return math.Float64frombits(bo.Uint64(b)) },
		func(b []byte, v float64) { bo.PutUint64(b, math.Float64bits(v)) }}
	dtypes[c+"f4"] = dtype{4, 'f',
		func(b []byte) float64 { return float64(math.Float32frombits(bo.Uint32(b))) },
		func(b []byte, v float64) { bo.PutUint32(b, math.Float32bits(float32(v))) }}
	dtypes[c+"i8"] = dtype{8, 'i',
		func(b []byte) float64 { return float64(int64(bo.Uint64(b))) },
		func(b []byte, v float64) { bo.PutUint64(b, uint64(toInt64(v))) }}
	dtypes[c+"i4"] = dtype{4, 'i',
		func(b []byte) float64 { return float64(int32(bo.Uint32(b))) },
		func(b []byte, v float64) { bo.PutUint32(b, uint32(int32(v))) }}
	dtypes[c+"i2"] = dtype{2, 'i',
		func(b []byte) float64 { return float64(int16(bo.Uint16(b))) },
		func(b []byte, v float64) { bo.PutUint16(b, uint16(int16(v))) }}
	dtypes[c+"u8"] = dtype{8, 'u',
		func(b []byte) float64 { return float64(bo.Uint64(b)) },
		func(b []byte, v float64) { bo.PutUint64(b, toUint64(v)) }}
	dtypes[c+"u4"] = dtype{4, 'u',
		func(b []byte) float64 { return float64(bo.Uint32(b)) },
		func(b []byte, v float64) { bo.PutUint32(b, uint32(v)) }}
	dtypes[c+"u2"] = dtype{2, 'u',
		func(b []byte) float64 { return float64(bo.Uint16(b)) },
		func(b []byte, v float64) { bo.PutUint16(b, uint16(v)) }}
}

// lookupDType returns the converter of a type string, or an error listing
// the ones npw reads.
func lookupDType(s string) (dtype, error) {
	d, ok := dtypes[s]
	if !ok {
		return dtype{}, fmt.Errorf("dtype %q: npw reads <f8 <f4 <i8 <i4 <i2 |i1 <u8 <u4 <u2 |u1 |b1 (and > big-endian forms)", s)
	}
	return d, nil
}

// toInt64 converts a value that fits <i8: 2^63, which float64 reads the
// largest int64s as, writes as the largest int64.
func toInt64(v float64) int64 {
	if v >= math.Exp2(63) {
		return math.MaxInt64
	}
	return int64(v)
}

// toUint64 converts a value that fits <u8: 2^64, which float64 reads the
// largest uint64s as, writes as the largest uint64.
func toUint64(v float64) uint64 {
	if v >= math.Exp2(64) {
		return math.MaxUint64
	}
	return uint64(v)
}

// fits reports whether v is exactly representable in the type, so that
// writing it loses nothing; float types take any value (float32 rounds).
// Eight-byte integers above 2^53 read into float64 rounded, as NumPy
// reads them; the top of their range reads as 2^63 (2^64 unsigned), one
// past the largest value, so that value is taken too and writes as the
// largest, and a chunk read and written back reads the same.
func (d dtype) fits(v float64) bool {
	if d.kind == 'f' {
		return true
	}
	if v != math.Trunc(v) { // also NaN
		return false
	}
	bits := float64(8 * d.size)
	switch d.kind {
	case 'b':
		return v == 0 || v == 1
	case 'i':
		return v >= -math.Exp2(bits-1) && (v < math.Exp2(bits-1) || d.size == 8 && v == math.Exp2(bits-1))
	}
	return v >= 0 && (v < math.Exp2(bits) || d.size == 8 && v == math.Exp2(bits))
}

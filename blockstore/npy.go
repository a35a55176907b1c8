package blockstore

// The NumPy .npy format, version 1.0 (and reading 2.0 and 3.0): a magic
// string, a little-endian header length, a Python dict literal giving the
// dtype, the memory order and the shape, padded so the data starts on a
// 64-byte boundary, then the raw array. npw writes float64 ('<f8') in C
// order; it reads floats, signed and unsigned ints and bools of either
// byte order, in C or Fortran order, and converts them to float64.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
	"unsafe"

	"gonum.org/v1/gonum/blas/blas64"

	"github.com/npw-dev/npw/internal/tilebuf"
)

const npyMagic = "\x93NUMPY"

// An Array is a decoded .npy array of at most two dimensions, as float64
// in row-major order.
type Array struct {
	Shape []int
	Data  []float64
}

// Matrix views a 0-, 1- or 2-D array as a matrix: a 1-D array of n
// elements is an n×1 column.
func (a Array) Matrix() blas64.General {
	rows, cols := 1, 1
	switch len(a.Shape) {
	case 1:
		rows = a.Shape[0]
	case 2:
		rows, cols = a.Shape[0], a.Shape[1]
	}
	return blas64.General{Rows: rows, Cols: cols, Stride: max(cols, 1), Data: a.Data}
}

// EncodeNPY encodes a row-major float64 array of the given shape.
func EncodeNPY(shape []int, data []float64) []byte {
	out := npyHeader("<f8", shape, 8*len(data))
	putFloats(out[len(out)-8*len(data):], data)
	return out
}

// EncodeNPYInts encodes a 1-D int64 array, such as a permutation.
func EncodeNPYInts(data []int64) []byte {
	out := npyHeader("<i8", []int{len(data)}, 8*len(data))
	body := out[len(out)-8*len(data):]
	for i, x := range data {
		binary.LittleEndian.PutUint64(body[8*i:], uint64(x))
	}
	return out
}

// WriteIntsFile writes a 1-D int64 array to a .npy file.
func WriteIntsFile(path string, data []int64) error {
	return os.WriteFile(path, EncodeNPYInts(data), 0o644)
}

// npyHeader returns a buffer holding the header of an array of the given
// dtype and shape, followed by room for size bytes of data.
func npyHeader(descr string, shape []int, size int) []byte {
	h := headerBytes(descr, shape, 0)
	out := make([]byte, len(h)+size)
	copy(out, h)
	return out
}

// tileHeader is the header of a rows×cols float64 tile padded to exactly
// tilebuf.Prefix bytes (nil if it does not fit), for tiles allocated
// inside their own encoding buffer.
func tileHeader(rows, cols int) []byte {
	return headerBytes("<f8", []int{rows, cols}, tilebuf.Prefix)
}

// headerBytes returns the magic, version, length and header dict of an
// array, padded with spaces to a multiple of 64 bytes, and to at least
// minLen bytes (so a header can fill a fixed prefix); nil if the header is
// longer than minLen > 0.
func headerBytes(descr string, shape []int, minLen int) []byte {
	dims := make([]string, len(shape))
	for i, d := range shape {
		dims[i] = strconv.Itoa(d)
	}
	shapeText := "(" + strings.Join(dims, ", ")
	if len(shape) == 1 {
		shapeText += ","
	}
	shapeText += ")"
	header := "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shapeText + ", }"
	// Pad with spaces and end with a newline so that magic (6) + version
	// (2) + length (2) + header is a multiple of 64.
	total := 10 + len(header) + 1
	pad := (64 - total%64) % 64
	if minLen > 0 {
		if total > minLen {
			return nil
		}
		pad = minLen - total
	}
	header += strings.Repeat(" ", pad) + "\n"
	out := make([]byte, 10+len(header))
	copy(out, npyMagic)
	out[6], out[7] = 1, 0
	binary.LittleEndian.PutUint16(out[8:], uint16(len(header)))
	copy(out[10:], header)
	return out
}

// EncodeTile encodes a tile as a 2-D .npy array.
func EncodeTile(g blas64.General) []byte {
	data := g.Data
	if g.Stride != g.Cols && g.Rows > 0 {
		data = make([]float64, g.Rows*g.Cols)
		for i := range g.Rows {
			copy(data[i*g.Cols:(i+1)*g.Cols], g.Data[i*g.Stride:])
		}
	} else {
		data = data[:g.Rows*g.Cols]
	}
	return EncodeNPY([]int{g.Rows, g.Cols}, data)
}

// DecodeTile decodes a .npy array as a tile; a 1-D array is a column.
func DecodeTile(data []byte) (blas64.General, error) {
	a, err := DecodeNPY(data)
	if err != nil {
		return blas64.General{}, err
	}
	return a.Matrix(), nil
}

// ViewTile is DecodeTile without a copy where it can be: the tile of a
// little-endian, C-order float64 array whose data is 8-byte aligned in
// data (as in every .npy npw and NumPy write) shares data's memory. Neither
// may be modified while the other is in use.
func ViewTile(data []byte) (blas64.General, error) {
	if littleEndian && len(data) >= 10 && string(data[:6]) == npyMagic && data[6] == 1 {
		start := 10 + int(binary.LittleEndian.Uint16(data[8:]))
		if start <= len(data) {
			if shape, ok := fastHeader(string(data[10:start])); ok && len(shape) == 2 {
				size, ok := npyBytes(shape[0], shape[1], 8) // no overflow: checked against maxNPYData
				n := shape[0] * shape[1]
				body := data[start:]
				if ok && n > 0 && int64(len(body)) >= size && uintptr(unsafe.Pointer(&body[0]))%8 == 0 {
					f := unsafe.Slice((*float64)(unsafe.Pointer(&body[0])), n)
					return blas64.General{Rows: shape[0], Cols: shape[1], Stride: shape[1], Data: f}, nil
				}
			}
		}
	}
	return DecodeTile(data)
}

var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

func putFloats(dst []byte, src []float64) {
	if littleEndian && len(src) > 0 {
		copy(dst, unsafe.Slice((*byte)(unsafe.Pointer(&src[0])), 8*len(src)))
		return
	}
	for i, x := range src {
		binary.LittleEndian.PutUint64(dst[8*i:], math.Float64bits(x))
	}
}

var (
	descrRE   = regexp.MustCompile(`['"]descr['"]\s*:\s*['"]([^'"]*)['"]`)
	fortranRE = regexp.MustCompile(`['"]fortran_order['"]\s*:\s*(True|False)`)
	shapeRE   = regexp.MustCompile(`['"]shape['"]\s*:\s*\(([^)]*)\)`)
)

// ErrNotNPY reports data that is not a .npy array npw can read.
var ErrNotNPY = errors.New("not a .npy array")

// DecodeNPY decodes a .npy array of at most two dimensions.
func DecodeNPY(data []byte) (Array, error) {
	bad := func(format string, args ...any) (Array, error) {
		return Array{}, fmt.Errorf("%w: %s", ErrNotNPY, fmt.Sprintf(format, args...))
	}
	if len(data) < 10 || string(data[:6]) != npyMagic {
		return bad("missing the \\x93NUMPY magic")
	}
	var hlen, start int
	switch data[6] {
	case 1:
		hlen, start = int(binary.LittleEndian.Uint16(data[8:])), 10
	case 2, 3:
		if len(data) < 12 {
			return bad("truncated header")
		}
		hlen, start = int(binary.LittleEndian.Uint32(data[8:])), 12
	default:
		return bad("unsupported format version %d.%d", data[6], data[7])
	}
	if start+hlen > len(data) {
		return bad("truncated header")
	}
	header := string(data[start : start+hlen])
	body := data[start+hlen:]
	if shape, ok := fastHeader(header); ok { // the header npw and NumPy write for C-order float64
		return decodeFloats(shape, body)
	}
	m := descrRE.FindStringSubmatch(header)
	if m == nil {
		return bad("header has no descr: %q", strings.TrimSpace(header))
	}
	conv, size, err := converter(m[1])
	if err != nil {
		return Array{}, err
	}
	fortran := false
	if f := fortranRE.FindStringSubmatch(header); f != nil {
		fortran = f[1] == "True"
	}
	s := shapeRE.FindStringSubmatch(header)
	if s == nil {
		return bad("header has no shape: %q", strings.TrimSpace(header))
	}
	shape, err := parseShape(s[1])
	if err != nil {
		return Array{}, err
	}
	n, err := elements(shape, size)
	if err != nil {
		return Array{}, err
	}
	if len(body) < n*size {
		return bad("data is truncated: shape %v needs %d bytes, found %d", shape, n*size, len(body))
	}
	out := make([]float64, n)
	for i := range out {
		out[i] = conv(body[i*size:])
	}
	if fortran && len(shape) == 2 {
		out = fromColumnMajor(out, shape[0], shape[1])
	}
	return Array{Shape: shape, Data: out}, nil
}

const fastPrefix = "{'descr': '<f8', 'fortran_order': False, 'shape': ("

// fastHeader parses the common header without regular expressions.
func fastHeader(header string) ([]int, bool) {
	rest, ok := strings.CutPrefix(header, fastPrefix)
	if !ok {
		return nil, false
	}
	dims, _, ok := strings.Cut(rest, ")")
	if !ok {
		return nil, false
	}
	shape, err := parseShape(dims)
	return shape, err == nil
}

// decodeFloats reads little-endian float64 data of a shape.
func decodeFloats(shape []int, body []byte) (Array, error) {
	n, err := elements(shape, 8)
	if err != nil {
		return Array{}, err
	}
	if len(body) < 8*n {
		return Array{}, fmt.Errorf("%w: data is truncated: shape %v needs %d bytes, found %d", ErrNotNPY, shape, 8*n, len(body))
	}
	out := make([]float64, n)
	if littleEndian && n > 0 {
		copy(unsafe.Slice((*byte)(unsafe.Pointer(&out[0])), 8*n), body)
	} else {
		for i := range out {
			out[i] = math.Float64frombits(binary.LittleEndian.Uint64(body[8*i:]))
		}
	}
	return Array{Shape: shape, Data: out}, nil
}

// elements returns the number of elements of a shape of at most two
// dimensions, refusing one whose data of size-byte elements would not
// fit in memory (a corrupt header).
func elements(shape []int, size int) (int, error) {
	rows, cols := 1, 1
	switch len(shape) {
	case 1:
		rows = shape[0]
	case 2:
		rows, cols = shape[0], shape[1]
	}
	if _, ok := npyBytes(rows, cols, size); !ok {
		return 0, fmt.Errorf("%w: shape %v is too large", ErrNotNPY, shape)
	}
	return rows * cols, nil
}

func parseShape(text string) ([]int, error) {
	var shape []int
	for _, f := range strings.Split(text, ",") {
		f = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(f), "L"))
		if f == "" {
			continue
		}
		d, err := strconv.Atoi(f)
		if err != nil || d < 0 {
			return nil, fmt.Errorf("%w: bad shape (%s)", ErrNotNPY, text)
		}
		shape = append(shape, d)
	}
	if len(shape) > 2 {
		return nil, fmt.Errorf("%w: a %d-dimensional array; npw reads arrays of at most 2 dimensions", ErrNotNPY, len(shape))
	}
	return shape, nil
}

func fromColumnMajor(data []float64, rows, cols int) []float64 {
	out := make([]float64, len(data))
	for j := range cols {
		for i := range rows {
			out[i*cols+j] = data[j*rows+i]
		}
	}
	return out
}

// converter returns a function reading one element of the dtype descr as
// float64, and the element size.
func converter(descr string) (func([]byte) float64, int, error) {
	if len(descr) < 3 {
		return nil, 0, fmt.Errorf("%w: unsupported dtype %q", ErrNotNPY, descr)
	}
	var order binary.ByteOrder = binary.LittleEndian
	switch descr[0] {
	case '>':
		order = binary.BigEndian
	case '<', '|':
	case '=':
		order = binary.NativeEndian
	default:
		return nil, 0, fmt.Errorf("%w: unsupported dtype %q", ErrNotNPY, descr)
	}
	switch descr[1:] {
	case "f8":
		return func(b []byte) float64 { return math.Float64frombits(order.Uint64(b)) }, 8, nil
	case "f4":
		return func(b []byte) float64 { return float64(math.Float32frombits(order.Uint32(b))) }, 4, nil
	case "i8":
		return func(b []byte) float64 { return float64(int64(order.Uint64(b))) }, 8, nil
	case "i4":
		return func(b []byte) float64 { return float64(int32(order.Uint32(b))) }, 4, nil
	case "i2":
		return func(b []byte) float64 { return float64(int16(order.Uint16(b))) }, 2, nil
	case "i1":
		return func(b []byte) float64 { return float64(int8(b[0])) }, 1, nil
	case "u8":
		return func(b []byte) float64 { return float64(order.Uint64(b)) }, 8, nil
	case "u4":
		return func(b []byte) float64 { return float64(order.Uint32(b)) }, 4, nil
	case "u2":
		return func(b []byte) float64 { return float64(order.Uint16(b)) }, 2, nil
	case "u1", "b1":
		return func(b []byte) float64 { return float64(b[0]) }, 1, nil
	}
	return nil, 0, fmt.Errorf("%w: unsupported dtype %q (npw reads float, int, uint and bool arrays)", ErrNotNPY, descr)
}

// ReadNPYFile reads a .npy file.
func ReadNPYFile(path string) (Array, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Array{}, err
	}
	a, err := DecodeNPY(data)
	if err != nil {
		return Array{}, fmt.Errorf("%s: %w", path, err)
	}
	return a, nil
}

// WriteNPYFile writes a float64 array to a .npy file.
func WriteNPYFile(path string, shape []int, data []float64) error {
	return os.WriteFile(path, EncodeNPY(shape, data), 0o644)
}

// WriteMatrixFile writes a matrix to a 2-D .npy file.
func WriteMatrixFile(path string, g blas64.General) error {
	return os.WriteFile(path, EncodeTile(g), 0o644)
}

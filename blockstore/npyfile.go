package blockstore

// Streaming access to .npy files larger than memory: an NPYReader reads
// tiles of an array at offsets with ReadAt, and an NPYWriter writes them
// with WriteAt, so that a matrix of tens of gigabytes moves between a file
// and tiles while only a few tiles are in memory. The header is read and
// checked once; every tile is then one read or write per row of the tile
// (or per column of a Fortran-order array), or a single one when the tile
// is contiguous in the file.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"unsafe"

	"gonum.org/v1/gonum/blas/blas64"

	"github.com/npw-dev/npw/internal/tilebuf"
)

// maxNPYHeader bounds the header an NPYReader reads, so that a corrupt
// length cannot make it allocate gigabytes. NumPy writes headers of well
// under a kilobyte (and refuses ones over 10000 bytes by default).
const maxNPYHeader = 1 << 20

// maxNPYData bounds the data of an array, leaving room for any header in
// an int64 file offset.
const maxNPYData = math.MaxInt64 >> 1

// An NPYReader reads tiles of a .npy array at offsets, without loading it,
// so that an array larger than memory can be cut into tiles. A 1-D array
// of n elements is an n×1 column; a 0-D array is 1×1.
type NPYReader struct {
	Rows, Cols int
	// Check, when set, sees each tile ReadNPYTiles reads, at row r0 and
	// column c0 of the array, before it is written; its error stops the
	// copy.
	Check func(t blas64.General, r0, c0 int) error

	src     io.ReaderAt
	closer  io.Closer // the file OpenNPY opened, or nil
	name    string
	descr   string
	dims    int
	fortran bool // column-major data of a 2-D array
	raw     bool // little-endian float64 on a little-endian machine: read in place
	conv    func([]byte) float64
	size    int   // bytes per element
	start   int64 // offset of the data
}

// OpenNPY opens a .npy file and reads only its header, so that its tiles
// can be read one at a time. Close the reader when done.
func OpenNPY(path string) (*NPYReader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	r, err := NewNPYReader(f, info.Size(), path)
	if err != nil {
		f.Close()
		return nil, err
	}
	r.closer = f
	return r, nil
}

// NewNPYReader reads an array from src, whose size is size bytes; name
// starts its errors. It reads and checks the header, and that the data is
// all there, before any tile is read.
func NewNPYReader(src io.ReaderAt, size int64, name string) (*NPYReader, error) {
	r := &NPYReader{src: src, name: name}
	header, err := r.readHeader(size)
	if err != nil {
		return nil, r.wrap(err)
	}
	shape, err := r.parseHeader(header)
	if err == nil {
		err = r.setShape(shape, size)
	}
	if err != nil {
		return nil, r.wrap(err)
	}
	return r, nil
}

// Dims returns the number of dimensions of the stored array (0, 1 or 2),
// which Rows and Cols do not tell.
func (r *NPYReader) Dims() int { return r.dims }

// DType returns the array's descr, such as "<f8", which tiles, always
// float64, do not tell.
func (r *NPYReader) DType() string { return r.descr }

// Close closes the file OpenNPY opened; it does nothing for NewNPYReader,
// whose caller owns its source.
func (r *NPYReader) Close() error {
	if r.closer == nil {
		return nil
	}
	return r.closer.Close()
}

// readHeader reads the magic, version and header length, and returns the
// header dict; it sets r.start.
func (r *NPYReader) readHeader(size int64) (string, error) {
	lead := make([]byte, max(min(size, 12), 0))
	if err := r.readAt(lead, 0); err != nil {
		return "", err
	}
	if len(lead) < 10 || string(lead[:6]) != npyMagic {
		return "", notNPY("missing the \\x93NUMPY magic")
	}
	var hlen, start int64
	switch lead[6] {
	case 1:
		hlen, start = int64(binary.LittleEndian.Uint16(lead[8:])), 10
	case 2, 3:
		if len(lead) < 12 {
			return "", notNPY("truncated header")
		}
		hlen, start = int64(binary.LittleEndian.Uint32(lead[8:])), 12
	default:
		return "", notNPY("unsupported format version %d.%d", lead[6], lead[7])
	}
	if start+hlen > size {
		return "", notNPY("truncated header: the header length %d runs past the end of the %d bytes", hlen, size)
	}
	if hlen > maxNPYHeader {
		return "", notNPY("a header of %d bytes is too long", hlen)
	}
	header := make([]byte, hlen)
	if err := r.readAt(header, start); err != nil {
		return "", err
	}
	r.start = start + hlen
	return string(header), nil
}

// parseHeader sets the dtype and order from the header dict, as DecodeNPY
// reads them, and returns the shape.
func (r *NPYReader) parseHeader(header string) ([]int, error) {
	shape, fast := fastHeader(header)
	r.descr = "<f8"
	if !fast {
		m := descrRE.FindStringSubmatch(header)
		if m == nil {
			return nil, notNPY("header has no descr: %q", strings.TrimSpace(header))
		}
		r.descr = m[1]
	}
	var err error
	if r.conv, r.size, err = converter(r.descr); err != nil || fast {
		return shape, err
	}
	if f := fortranRE.FindStringSubmatch(header); f != nil {
		r.fortran = f[1] == "True"
	}
	s := shapeRE.FindStringSubmatch(header)
	if s == nil {
		return nil, notNPY("header has no shape: %q", strings.TrimSpace(header))
	}
	return parseShape(s[1])
}

// setShape sets the dimensions and checks that the data is all there.
func (r *NPYReader) setShape(shape []int, size int64) error {
	r.dims, r.Rows, r.Cols = len(shape), 1, 1
	switch len(shape) {
	case 1:
		r.Rows = shape[0]
	case 2:
		r.Rows, r.Cols = shape[0], shape[1]
	}
	r.fortran = r.fortran && r.dims == 2
	r.raw = littleEndian && r.size == 8 && r.descr[1:] == "f8" && r.descr[0] != '>'
	have := size - r.start
	need, ok := npyBytes(r.Rows, r.Cols, r.size)
	if !ok {
		return notNPY("data is truncated: shape %s needs over %d bytes, found %d", npyShapeText(shape), int64(maxNPYData), have)
	}
	if need > have {
		return notNPY("data is truncated: shape %s needs %d bytes, found %d", npyShapeText(shape), need, have)
	}
	return nil
}

// ReadTile returns rows×cols elements starting at (r0, c0) as a new
// row-major float64 tile (Stride == cols, or 1 if cols is 0). It is safe
// for concurrent use: it only calls ReadAt, with buffers of its own.
func (r *NPYReader) ReadTile(r0, c0, rows, cols int) (blas64.General, error) {
	if err := checkNPYTile(r0, c0, rows, cols, r.Rows, r.Cols); err != nil {
		return blas64.General{}, r.wrap(err)
	}
	if rows == 0 || cols == 0 {
		return blas64.General{Rows: rows, Cols: cols, Stride: max(cols, 1)}, nil
	}
	// Inside its own .npy encoding, so that storing it copies nothing.
	t := tilebuf.New(rows, cols)
	if err := r.ReadTileInto(t, r0, c0); err != nil {
		return blas64.General{}, err
	}
	return t, nil
}

// ReadTileInto is ReadTile into t's memory, for a caller that reuses its
// tiles: the t.Rows×t.Cols tile whose top left is (r0, c0).
func (r *NPYReader) ReadTileInto(t blas64.General, r0, c0 int) error {
	if err := checkNPYTile(r0, c0, t.Rows, t.Cols, r.Rows, r.Cols); err != nil {
		return r.wrap(err)
	}
	if t.Rows == 0 || t.Cols == 0 {
		return nil
	}
	if err := checkTileData(t); err != nil {
		return r.wrap(err)
	}
	var err error
	if r.fortran {
		err = r.readColumns(t, r0, c0)
	} else {
		err = r.readRows(t, r0, c0)
	}
	return r.wrap(err)
}

// readRows fills t from C-order data: one read per row of t, or one for
// all of t when it spans whole rows, which are contiguous in the file.
func (r *NPYReader) readRows(t blas64.General, r0, c0 int) error {
	var buf []byte
	if t.Cols == r.Cols {
		return r.readElems(t.Data, int64(r0)*int64(r.Cols), &buf)
	}
	for i := range t.Rows {
		row := t.Data[i*t.Stride : i*t.Stride+t.Cols]
		if err := r.readElems(row, int64(r0+i)*int64(r.Cols)+int64(c0), &buf); err != nil {
			return err
		}
	}
	return nil
}

// readColumns fills t from Fortran-order data: one read per column of t,
// or one for all of t when it spans whole columns, placed transposed.
func (r *NPYReader) readColumns(t blas64.General, r0, c0 int) error {
	var buf []byte
	if t.Rows == r.Rows {
		cols := make([]float64, t.Rows*t.Cols)
		if err := r.readElems(cols, int64(c0)*int64(r.Rows), &buf); err != nil {
			return err
		}
		for j := range t.Cols {
			putColumn(t, j, cols[j*t.Rows:(j+1)*t.Rows])
		}
		return nil
	}
	col := make([]float64, t.Rows)
	for j := range t.Cols {
		if err := r.readElems(col, int64(c0+j)*int64(r.Rows)+int64(r0), &buf); err != nil {
			return err
		}
		putColumn(t, j, col)
	}
	return nil
}

func putColumn(t blas64.General, j int, col []float64) {
	for i, x := range col {
		t.Data[i*t.Stride+j] = x
	}
}

// readElems reads len(dst) elements from element index elem of the data:
// straight into dst's memory for little-endian float64, or through buf
// and the dtype's converter otherwise.
func (r *NPYReader) readElems(dst []float64, elem int64, buf *[]byte) error {
	off := r.start + elem*int64(r.size)
	if r.raw {
		return r.readAt(unsafe.Slice((*byte)(unsafe.Pointer(&dst[0])), 8*len(dst)), off)
	}
	n := len(dst) * r.size
	if cap(*buf) < n {
		*buf = make([]byte, n)
	}
	b := (*buf)[:n]
	if err := r.readAt(b, off); err != nil {
		return err
	}
	for i := range dst {
		dst[i] = r.conv(b[i*r.size:])
	}
	return nil
}

// readAt fills p from offset off; a short read is an error even if the
// source does not say so.
func (r *NPYReader) readAt(p []byte, off int64) error {
	if len(p) == 0 {
		return nil
	}
	n, err := r.src.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("reading %d bytes at offset %d: %w", len(p), off, err)
}

func (r *NPYReader) wrap(err error) error { return namedErr(r.name, err) }

// An NPYWriter writes a rows×cols little-endian float64 C-order .npy array
// tile by tile at offsets, so that an array larger than memory can be
// written from tiles in any order, by several goroutines at once.
type NPYWriter struct {
	Rows, Cols int

	dst   io.WriterAt
	file  *os.File // the file CreateNPY created, or nil
	name  string
	start int64 // offset of the data
}

// CreateNPY creates (or truncates) the file, writes the header and sets
// the file to its full size (sparse where the file system allows), so
// that tiles can then be written at their offsets in any order.
func CreateNPY(path string, rows, cols int) (*NPYWriter, error) {
	if _, ok := npyBytes(rows, cols, 8); !ok {
		return nil, namedErr(path, fmt.Errorf("cannot write a %d×%d array", rows, cols))
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	w, err := NewNPYWriter(f, rows, cols)
	if err == nil {
		err = f.Truncate(w.start + 8*int64(rows)*int64(cols))
	}
	if err != nil {
		f.Close()
		return nil, namedErr(path, err)
	}
	w.file, w.name = f, path
	return w, nil
}

// NewNPYWriter writes the header of a rows×cols array to dst, whose tiles
// WriteTile then writes; the caller owns dst.
func NewNPYWriter(dst io.WriterAt, rows, cols int) (*NPYWriter, error) {
	if _, ok := npyBytes(rows, cols, 8); !ok {
		return nil, fmt.Errorf("cannot write a %d×%d array", rows, cols)
	}
	h := NPYHeader(rows, cols)
	if _, err := dst.WriteAt(h, 0); err != nil {
		return nil, err
	}
	return &NPYWriter{Rows: rows, Cols: cols, dst: dst, start: int64(len(h))}, nil
}

// NPYHeader returns the header bytes of a rows×cols '<f8' C-order array,
// the same as EncodeNPY's, for writers that stream rows to an io.Writer
// in order.
func NPYHeader(rows, cols int) []byte {
	return headerBytes("<f8", []int{rows, cols}, 0)
}

// WriteTile writes tile t at (r0, c0): one WriteAt per tile row, or one
// for the whole tile when it spans all columns and is contiguous. It is
// safe for concurrent use on distinct tiles. On a little-endian machine
// it writes t's own memory, without a copy.
func (w *NPYWriter) WriteTile(r0, c0 int, t blas64.General) error {
	if err := checkNPYTile(r0, c0, t.Rows, t.Cols, w.Rows, w.Cols); err != nil {
		return namedErr(w.name, err)
	}
	if t.Rows == 0 || t.Cols == 0 {
		return nil
	}
	if err := checkTileData(t); err != nil {
		return namedErr(w.name, err)
	}
	var buf []byte
	if c0 == 0 && t.Cols == w.Cols && (t.Stride == t.Cols || t.Rows == 1) {
		return namedErr(w.name, w.put(int64(r0)*int64(w.Cols), t.Data[:t.Rows*t.Cols], &buf))
	}
	for i := range t.Rows {
		row := t.Data[i*t.Stride : i*t.Stride+t.Cols]
		if err := w.put(int64(r0+i)*int64(w.Cols)+int64(c0), row, &buf); err != nil {
			return namedErr(w.name, err)
		}
	}
	return nil
}

// put writes src at element index elem of the data: src's own memory on
// a little-endian machine, converted through buf otherwise.
func (w *NPYWriter) put(elem int64, src []float64, buf *[]byte) error {
	var b []byte
	if littleEndian {
		b = unsafe.Slice((*byte)(unsafe.Pointer(&src[0])), 8*len(src))
	} else {
		if cap(*buf) < 8*len(src) {
			*buf = make([]byte, 8*len(src))
		}
		b = (*buf)[:8*len(src)]
		putFloats(b, src)
	}
	_, err := w.dst.WriteAt(b, w.start+8*elem)
	return err
}

// Close closes the file CreateNPY created and returns the error of the
// close, where a failed write may show; it does nothing for NewNPYWriter.
func (w *NPYWriter) Close() error {
	if w.file == nil {
		return nil
	}
	return w.file.Close()
}

// checkNPYTile checks that a rows×cols tile at (r0, c0) lies inside an
// nrows×ncols array.
func checkNPYTile(r0, c0, rows, cols, nrows, ncols int) error {
	if r0 < 0 || c0 < 0 || rows < 0 || cols < 0 || r0 > nrows-rows || c0 > ncols-cols {
		return fmt.Errorf("a %d×%d tile at (%d, %d) is outside the %d×%d array", rows, cols, r0, c0, nrows, ncols)
	}
	return nil
}

// checkTileData checks that a non-empty tile's Data holds all its elements.
func checkTileData(t blas64.General) error {
	if t.Stride < t.Cols {
		return fmt.Errorf("a %d×%d tile has stride %d", t.Rows, t.Cols, t.Stride)
	}
	if len(t.Data) < t.Cols || (len(t.Data)-t.Cols)/t.Stride < t.Rows-1 {
		return fmt.Errorf("a %d×%d tile of stride %d has only %d elements", t.Rows, t.Cols, t.Stride, len(t.Data))
	}
	return nil
}

// npyBytes returns the size of the data of a rows×cols array of size-byte
// elements, and false if the shape is negative or too large.
func npyBytes(rows, cols, size int) (int64, bool) {
	if rows < 0 || cols < 0 {
		return 0, false
	}
	if rows == 0 || cols == 0 {
		return 0, true
	}
	if int64(rows) > maxNPYData/int64(cols)/int64(size) {
		return 0, false
	}
	return int64(rows) * int64(cols) * int64(size), true
}

// npyShapeText writes a shape as NumPy does: (3, 4), (5,) or ().
func npyShapeText(shape []int) string {
	dims := make([]string, len(shape))
	for i, d := range shape {
		dims[i] = strconv.Itoa(d)
	}
	if len(shape) == 1 {
		return "(" + dims[0] + ",)"
	}
	return "(" + strings.Join(dims, ", ") + ")"
}

func notNPY(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrNotNPY, fmt.Sprintf(format, args...))
}

// namedErr starts err with name, if there is a name; nil stays nil.
func namedErr(name string, err error) error {
	if err == nil || name == "" {
		return err
	}
	var pe *os.PathError
	if errors.As(err, &pe) && pe.Path == name {
		return err // already names the file
	}
	return fmt.Errorf("%s: %w", name, err)
}

package blockstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"gonum.org/v1/gonum/blas/blas64"
)

// npyBuffer is an in-memory file of fixed size that counts its reads and
// writes; concurrent calls on distinct ranges are safe.
type npyBuffer struct {
	b             []byte
	reads, writes atomic.Int64
}

func (m *npyBuffer) ReadAt(p []byte, off int64) (int, error) {
	m.reads.Add(1)
	if off < 0 || off > int64(len(m.b)) {
		return 0, io.EOF
	}
	n := copy(p, m.b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (m *npyBuffer) WriteAt(p []byte, off int64) (int, error) {
	m.writes.Add(1)
	if off < 0 || off+int64(len(p)) > int64(len(m.b)) {
		return 0, fmt.Errorf("a write of %d bytes at %d runs past %d", len(p), off, len(m.b))
	}
	return copy(m.b[off:], p), nil
}

// randomNPYMatrix returns a matrix of random values of all magnitudes,
// with a NaN, an infinity and a negative zero where there is room.
func randomNPYMatrix(rng *rand.Rand, rows, cols int) blas64.General {
	g := blas64.General{Rows: rows, Cols: cols, Stride: cols, Data: make([]float64, rows*cols)}
	for i := range g.Data {
		g.Data[i] = rng.NormFloat64() * math.Pow(10, float64(rng.IntN(40)-20))
	}
	for i, x := range []float64{math.NaN(), math.Inf(-1), math.Copysign(0, -1)} {
		if i+1 < len(g.Data) {
			g.Data[(i+1)*len(g.Data)/4] = x
		}
	}
	return g
}

// sameTile reports whether two tiles hold the same bits (so NaN equals
// NaN), whatever their strides.
func sameTile(a, b blas64.General) bool {
	if a.Rows != b.Rows || a.Cols != b.Cols {
		return false
	}
	if a.Cols == 0 { // no elements, however many rows: 2e17×0 is a valid .npy
		return true
	}
	for i := range a.Rows {
		for j := range a.Cols {
			if math.Float64bits(a.Data[i*a.Stride+j]) != math.Float64bits(b.Data[i*b.Stride+j]) {
				return false
			}
		}
	}
	return true
}

// subTile is the rows×cols part of g at (r0, c0), sharing g's memory.
func subTile(g blas64.General, r0, c0, rows, cols int) blas64.General {
	if rows == 0 || cols == 0 {
		return blas64.General{Rows: rows, Cols: cols, Stride: max(cols, 1)}
	}
	return blas64.General{Rows: rows, Cols: cols, Stride: g.Stride, Data: g.Data[r0*g.Stride+c0:]}
}

type placedTile struct {
	r0, c0 int
	t      blas64.General
}

// cutTiles cuts g into b×b tiles in random order, every other one a
// strided view of g and the rest compact copies.
func cutTiles(rng *rand.Rand, g blas64.General, b int) []placedTile {
	var tiles []placedTile
	for r0 := 0; r0 < g.Rows; r0 += b {
		for c0 := 0; c0 < g.Cols; c0 += b {
			t := subTile(g, r0, c0, min(b, g.Rows-r0), min(b, g.Cols-c0))
			if len(tiles)%2 == 1 {
				t = compactTile(t)
			}
			tiles = append(tiles, placedTile{r0, c0, t})
		}
	}
	rng.Shuffle(len(tiles), func(i, j int) { tiles[i], tiles[j] = tiles[j], tiles[i] })
	return tiles
}

func compactTile(t blas64.General) blas64.General {
	c := blas64.General{Rows: t.Rows, Cols: t.Cols, Stride: t.Cols, Data: make([]float64, t.Rows*t.Cols)}
	for i := range t.Rows {
		copy(c.Data[i*t.Cols:(i+1)*t.Cols], t.Data[i*t.Stride:])
	}
	return c
}

// npyParallel runs f(i) for every i below n on four goroutines.
func npyParallel(n int, f func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				f(i)
			}
		})
	}
	wg.Wait()
}

func writeTilesAt(t *testing.T, w *NPYWriter, tiles []placedTile) {
	npyParallel(len(tiles), func(i int) {
		if err := w.WriteTile(tiles[i].r0, tiles[i].c0, tiles[i].t); err != nil {
			t.Error(err)
		}
	})
}

// Tiles written in any order, by several goroutines, to memory or to a
// file, make exactly EncodeNPY's bytes; ragged tiles read back are the
// source's.
func TestNPYWriterRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	dir := t.TempDir()
	for _, shape := range [][2]int{{1, 1}, {7, 5}, {64, 64}, {100, 37}} {
		g := randomNPYMatrix(rng, shape[0], shape[1])
		want := EncodeNPY([]int{g.Rows, g.Cols}, g.Data)
		for _, b := range []int{1, 3, 16, max(g.Rows, g.Cols)} {
			label := fmt.Sprintf("%v in %d×%d tiles", shape, b, b)
			buf := &npyBuffer{b: make([]byte, len(want))}
			w, err := NewNPYWriter(buf, g.Rows, g.Cols)
			if err != nil {
				t.Fatal(err)
			}
			writeTilesAt(t, w, cutTiles(rng, g, b))
			if !bytes.Equal(buf.b, want) {
				t.Errorf("%s: NewNPYWriter wrote other bytes than EncodeNPY", label)
			}
			path := filepath.Join(dir, fmt.Sprintf("%dx%d-%d.npy", g.Rows, g.Cols, b))
			createTiles(t, path, g, cutTiles(rng, g, b))
			if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, want) {
				t.Errorf("%s: CreateNPY wrote other bytes than EncodeNPY (%v)", label, err)
			}
			readTilesBack(t, label, path, g, rng)
		}
	}
}

// createTiles writes tiles to a new file at path, checking that it has its
// full size before any tile is written.
func createTiles(t *testing.T, path string, g blas64.General, tiles []placedTile) {
	w, err := CreateNPY(path, g.Rows, g.Cols)
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(len(NPYHeader(g.Rows, g.Cols)) + 8*g.Rows*g.Cols); info.Size() != want {
		t.Errorf("%s: %d bytes after CreateNPY, want %d", path, info.Size(), want)
	}
	writeTilesAt(t, w, tiles)
	if err := w.Close(); err != nil {
		t.Error(err)
	}
}

// readTilesBack reads ragged tiles of the file at path concurrently and
// compares them with g.
func readTilesBack(t *testing.T, label, path string, g blas64.General, rng *rand.Rand) {
	r, err := OpenNPY(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.Rows != g.Rows || r.Cols != g.Cols || r.Dims() != 2 || r.DType() != "<f8" {
		t.Fatalf("%s: read as %d×%d, %d dims, %s", label, r.Rows, r.Cols, r.Dims(), r.DType())
	}
	boxes := [][4]int{{0, 0, g.Rows, g.Cols}, {g.Rows / 2, 0, g.Rows - g.Rows/2, g.Cols}}
	for range 30 {
		r0, c0 := rng.IntN(g.Rows), rng.IntN(g.Cols)
		boxes = append(boxes, [4]int{r0, c0, 1 + rng.IntN(g.Rows-r0), 1 + rng.IntN(g.Cols-c0)})
	}
	npyParallel(len(boxes), func(i int) {
		b := boxes[i]
		tile, err := r.ReadTile(b[0], b[1], b[2], b[3])
		if err != nil || tile.Stride != b[3] || !sameTile(tile, subTile(g, b[0], b[1], b[2], b[3])) {
			t.Errorf("%s: ReadTile%v differs from the source (%v)", label, b, err)
		}
	})
}

// NPYHeader and rows written in order make EncodeNPY's bytes.
func TestNPYHeaderStreams(t *testing.T) {
	g := randomNPYMatrix(rand.New(rand.NewPCG(3, 4)), 9, 4)
	var out bytes.Buffer
	out.Write(NPYHeader(g.Rows, g.Cols))
	row := make([]byte, 8*g.Cols)
	for i := range g.Rows {
		putFloats(row, g.Data[i*g.Stride:i*g.Stride+g.Cols])
		out.Write(row)
	}
	if want := EncodeNPY([]int{g.Rows, g.Cols}, g.Data); !bytes.Equal(out.Bytes(), want) {
		t.Errorf("streamed %q...\nEncodeNPY %q...", out.Bytes()[:80], want[:80])
	}
}

// encodeElems encodes values in the dtype descr, byte order included.
func encodeElems(descr string, vals []float64) []byte {
	var order binary.AppendByteOrder = binary.LittleEndian
	switch descr[0] {
	case '>':
		order = binary.BigEndian
	case '=':
		order = binary.NativeEndian
	}
	var out []byte
	for _, v := range vals {
		switch descr[1:] {
		case "f8":
			out = order.AppendUint64(out, math.Float64bits(v))
		case "f4":
			out = order.AppendUint32(out, math.Float32bits(float32(v)))
		case "i8", "u8":
			out = order.AppendUint64(out, uint64(int64(v)))
		case "i4", "u4":
			out = order.AppendUint32(out, uint32(int64(v)))
		case "i2", "u2":
			out = order.AppendUint16(out, uint16(int64(v)))
		default:
			out = append(out, byte(int64(v)))
		}
	}
	return out
}

// npyValues returns n values that the dtype descr holds exactly.
func npyValues(rng *rand.Rand, descr string, n int) []float64 {
	bounds := map[string][2]int64{
		"i8": {-1 << 52, 1 << 52}, "u8": {0, 1 << 53}, "i4": {math.MinInt32, math.MaxInt32}, "u4": {0, math.MaxUint32},
		"i2": {math.MinInt16, math.MaxInt16}, "u2": {0, math.MaxUint16}, "i1": {-128, 127}, "u1": {0, 255}, "b1": {0, 1},
	}[descr[1:]]
	out := make([]float64, n)
	for i := range out {
		switch descr[1:] {
		case "f8":
			out[i] = rng.NormFloat64() * 1e5
		case "f4":
			out[i] = float64(float32(rng.NormFloat64() * 1e5))
		default:
			out[i] = float64(bounds[0] + rng.Int64N(bounds[1]-bounds[0]+1))
		}
	}
	return out
}

// handNPY encodes raw element bytes under a header naming descr, the
// order and the shape, in format version 1, 2 or 3.
func handNPY(version byte, descr string, fortran bool, shape []int, raw []byte) []byte {
	dict := string(headerBytes(descr, shape, 0)[10:])
	if fortran {
		dict = strings.Replace(dict, "False", "True ", 1) // same length
	}
	out := []byte(npyMagic + string([]byte{version, 0}))
	if version == 1 {
		out = binary.LittleEndian.AppendUint16(out, uint16(len(dict)))
	} else {
		out = binary.LittleEndian.AppendUint32(out, uint32(len(dict)))
	}
	return append(append(out, dict...), raw...)
}

// columnMajor reorders a row-major rows×cols array by columns.
func columnMajor(data []float64, rows, cols int) []float64 {
	out := make([]float64, len(data))
	for i := range rows {
		for j := range cols {
			out[j*rows+i] = data[i*cols+j]
		}
	}
	return out
}

// The reader reads every dtype, order, dimension and header version as
// DecodeNPY decodes the same bytes.
func TestNPYReaderDTypes(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	descrs := []string{"<f8", ">f8", "=f8", "|f8", "<f4", ">f4", "<i8", ">i8", "<i4", ">i4", "<i2", ">i2",
		"|i1", "<u8", ">u8", "<u4", ">u4", "<u2", ">u2", "|u1", "|b1"}
	shapes := [][]int{{5, 3}, {1, 4}, {4, 1}, {0, 3}, {3, 0}, {7}, {0}, {}}
	for _, descr := range descrs {
		for _, shape := range shapes {
			for _, fortran := range []bool{false, true} {
				for _, version := range []byte{1, 2, 3} {
					label := fmt.Sprintf("%s %v fortran=%v v%d", descr, shape, fortran, version)
					checkHandNPY(t, label, rng, version, descr, fortran, shape)
				}
			}
		}
	}
}

func checkHandNPY(t *testing.T, label string, rng *rand.Rand, version byte, descr string, fortran bool, shape []int) {
	want := Array{Shape: shape}.Matrix()
	vals := npyValues(rng, descr, want.Rows*want.Cols)
	stored := vals
	if fortran && len(shape) == 2 {
		stored = columnMajor(vals, want.Rows, want.Cols)
	}
	data := handNPY(version, descr, fortran, shape, encodeElems(descr, stored))
	a, err := DecodeNPY(data)
	if err != nil || !sameTile(a.Matrix(), blas64.General{Rows: want.Rows, Cols: want.Cols, Stride: want.Stride, Data: vals}) {
		t.Fatalf("%s: the test's encoding does not decode to its values: %v", label, err)
	}
	r, err := NewNPYReader(bytes.NewReader(data), int64(len(data)), "x.npy")
	if err != nil {
		t.Fatalf("%s: %v", label, err)
	}
	if r.Rows != want.Rows || r.Cols != want.Cols || r.Dims() != len(shape) || r.DType() != descr {
		t.Fatalf("%s: read as %d×%d, %d dims, %s", label, r.Rows, r.Cols, r.Dims(), r.DType())
	}
	checkAllTiles(t, label, r, a.Matrix())
}

// checkAllTiles reads every tile of several sizes and compares it with want.
func checkAllTiles(t *testing.T, label string, r *NPYReader, want blas64.General) {
	for _, b := range [][2]int{{1, 1}, {2, 2}, {1, want.Cols}, {want.Rows, 1}, {want.Rows, want.Cols}} {
		for r0 := 0; r0 < want.Rows; r0 += max(b[0], 1) {
			for c0 := 0; c0 < want.Cols; c0 += max(b[1], 1) {
				rows, cols := min(b[0], want.Rows-r0), min(b[1], want.Cols-c0)
				tile, err := r.ReadTile(r0, c0, rows, cols)
				if err != nil || !sameTile(tile, subTile(want, r0, c0, rows, cols)) {
					t.Fatalf("%s: ReadTile(%d, %d, %d, %d) = %v, %v", label, r0, c0, rows, cols, tile.Data, err)
				}
			}
		}
	}
	if tile, err := r.ReadTile(0, 0, want.Rows, want.Cols); err != nil || tile.Rows != want.Rows || tile.Cols != want.Cols {
		t.Errorf("%s: whole tile %d×%d, %v", label, tile.Rows, tile.Cols, err)
	}
}

// Whole-width tiles of C-order arrays, and whole-height ones of Fortran
// order, are one read; other tiles one read per row or column.
func TestNPYReaderCallCounts(t *testing.T) {
	g := randomNPYMatrix(rand.New(rand.NewPCG(1, 1)), 10, 6)
	for _, tc := range []struct {
		descr   string
		fortran bool
		box     [4]int
		want    int64
	}{
		{"<f8", false, [4]int{2, 0, 5, 6}, 1},
		{"<f8", false, [4]int{2, 1, 5, 3}, 5},
		{"<f4", false, [4]int{2, 0, 5, 6}, 1},
		{"<f4", false, [4]int{2, 1, 5, 3}, 5},
		{"<f8", true, [4]int{0, 2, 10, 3}, 1},
		{"<f8", true, [4]int{1, 2, 4, 3}, 3},
		{"<f4", true, [4]int{1, 2, 4, 3}, 3},
	} {
		want := compactTile(g)
		if tc.descr == "<f4" {
			for i, x := range want.Data {
				want.Data[i] = float64(float32(x))
			}
		}
		stored := want.Data
		if tc.fortran {
			stored = columnMajor(want.Data, g.Rows, g.Cols)
		}
		buf := &npyBuffer{b: handNPY(1, tc.descr, tc.fortran, []int{g.Rows, g.Cols}, encodeElems(tc.descr, stored))}
		r, err := NewNPYReader(buf, int64(len(buf.b)), "x.npy")
		if err != nil {
			t.Fatal(err)
		}
		buf.reads.Store(0)
		b := tc.box
		tile, err := r.ReadTile(b[0], b[1], b[2], b[3])
		if err != nil || buf.reads.Load() != tc.want || !sameTile(tile, subTile(want, b[0], b[1], b[2], b[3])) {
			t.Errorf("%s fortran=%v ReadTile%v: %d reads, want %d (%v)", tc.descr, tc.fortran, b, buf.reads.Load(), tc.want, err)
		}
	}
}

// A tile contiguous in memory that spans whole rows is one write; others
// one write per row.
func TestNPYWriterCallCounts(t *testing.T) {
	wide := randomNPYMatrix(rand.New(rand.NewPCG(1, 2)), 10, 8)
	g := subTile(wide, 0, 0, 10, 6) // stride 8
	want := EncodeTile(g)
	for _, tc := range []struct {
		box     [4]int
		strided bool
		want    int64
	}{
		{[4]int{2, 0, 5, 6}, false, 1},
		{[4]int{2, 0, 5, 6}, true, 5},
		{[4]int{2, 0, 1, 6}, true, 1},
		{[4]int{2, 1, 5, 3}, false, 5},
		{[4]int{2, 1, 5, 3}, true, 5},
	} {
		out := &npyBuffer{b: make([]byte, len(want))}
		w, err := NewNPYWriter(out, g.Rows, g.Cols)
		if err != nil {
			t.Fatal(err)
		}
		b := tc.box
		tile := subTile(g, b[0], b[1], b[2], b[3])
		if !tc.strided {
			tile = compactTile(tile)
		}
		out.writes.Store(0)
		if err := w.WriteTile(b[0], b[1], tile); err != nil || out.writes.Load() != tc.want {
			t.Errorf("WriteTile%v strided=%v: %d writes, want %d (%v)", b, tc.strided, out.writes.Load(), tc.want, err)
		}
		h := len(NPYHeader(g.Rows, g.Cols))
		for i := b[0]; i < b[0]+b[2]; i++ {
			lo, hi := h+8*(i*g.Cols+b[1]), h+8*(i*g.Cols+b[1]+b[3])
			if !bytes.Equal(out.b[lo:hi], want[lo:hi]) {
				t.Errorf("WriteTile%v strided=%v wrote other bytes in row %d", b, tc.strided, i)
			}
		}
	}
}

// Malformed files are refused when opened, with errors that name the
// file and say what is wrong.
func TestNPYReaderBadInput(t *testing.T) {
	good := EncodeNPY([]int{2, 2}, []float64{1, 2, 3, 4})
	longHeader := append([]byte{}, good...)
	binary.LittleEndian.PutUint16(longHeader[8:], 0xffff)
	longV2 := handNPY(2, "<f8", false, []int{2, 2}, make([]byte, 32))
	binary.LittleEndian.PutUint32(longV2[8:], 1<<31)
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, `missing the \x93NUMPY magic`},
		{"bad magic", append([]byte("\x93NUMPZ"), good[6:]...), `missing the \x93NUMPY magic`},
		{"version 9", append([]byte("\x93NUMPY\x09\x00"), good[8:]...), "unsupported format version 9.0"},
		{"short version 2", []byte("\x93NUMPY\x02\x00\x10\x00"), "truncated header"},
		{"truncated data", good[:len(good)-8], "data is truncated: shape (2, 2) needs 32 bytes, found 24"},
		{"truncated 1-D", handNPY(1, "<i2", false, []int{5}, make([]byte, 9)), "data is truncated: shape (5,) needs 10 bytes, found 9"},
		{"header past the end", longHeader, "the header length 65535 runs past the end"},
		{"version 2 header past the end", longV2, "the header length 2147483648 runs past the end"},
		{"3-D", EncodeNPY([]int{1, 2, 2}, []float64{1, 2, 3, 4}), "a 3-dimensional array; npw reads arrays of at most 2 dimensions"},
		{"complex", handNPY(1, "<c16", false, []int{2, 2}, make([]byte, 64)), `unsupported dtype "<c16"`},
		{"no descr", []byte(strings.Replace(string(good), "descr", "dtype", 1)), "header has no descr"},
		{"no shape", []byte(strings.Replace(string(good), "shape", "shapf", 1)), "header has no shape"},
		{"negative shape", []byte(strings.Replace(string(good), "(2, 2)", "(-2, 2)", 1)), "bad shape"},
		{"huge shape", handNPY(1, "|u1", false, []int{1 << 32, 1 << 32}, nil), "shape (4294967296, 4294967296) needs over"},
		{"huge 1-D", handNPY(1, "<f8", false, []int{1 << 60}, nil), "shape (1152921504606846976,) needs over"},
	} {
		_, err := NewNPYReader(bytes.NewReader(tc.data), int64(len(tc.data)), "bad.npy")
		if !errors.Is(err, ErrNotNPY) || !strings.HasPrefix(fmt.Sprint(err), "bad.npy: not a .npy array: ") || !strings.Contains(fmt.Sprint(err), tc.want) {
			t.Errorf("%s: %v; want ErrNotNPY saying %q", tc.name, err, tc.want)
		}
	}
}

// OpenNPY's errors name the file; a file cut short after it was opened
// fails the tile reads, without a panic.
func TestOpenNPYErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := OpenNPY(filepath.Join(dir, "none.npy")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a missing file: %v", err)
	}
	path := filepath.Join(dir, "a.npy")
	good := EncodeNPY([]int{3, 4}, make([]float64, 12))
	if err := os.WriteFile(path, good[:len(good)-1], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenNPY(path); !errors.Is(err, ErrNotNPY) || !strings.HasPrefix(err.Error(), path+": not a .npy array: data is truncated") {
		t.Errorf("a truncated file: %v", err)
	}
	if err := os.WriteFile(path, good, 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := OpenNPY(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, int64(len(good)-40)); err != nil {
		t.Fatal(err)
	}
	if _, err := r.ReadTile(1, 0, 2, 4); !errors.Is(err, io.ErrUnexpectedEOF) || !strings.HasPrefix(err.Error(), path+": ") {
		t.Errorf("reading a file cut short: %v", err)
	}
	if err := r.Close(); err != nil {
		t.Error(err)
	}
	if _, err := r.ReadTile(0, 0, 1, 1); err == nil {
		t.Error("ReadTile after Close succeeded")
	}
}

var outsideBoxes = [][4]int{
	{-1, 0, 1, 1}, {0, -1, 1, 1}, {0, 0, -1, 1}, {0, 0, 1, -1}, {3, 0, 1, 1}, {0, 4, 1, 1},
	{2, 0, 2, 1}, {0, 3, 1, 2}, {0, 0, 4, 4}, {1, 0, math.MaxInt, 1}, {math.MaxInt, 0, 1, 1},
}

// Tiles outside the array are errors, not panics, and write nothing.
func TestNPYTileBounds(t *testing.T) {
	data := EncodeNPY([]int{3, 4}, make([]float64, 12))
	r, err := NewNPYReader(bytes.NewReader(data), int64(len(data)), "a.npy")
	if err != nil {
		t.Fatal(err)
	}
	buf := &npyBuffer{b: make([]byte, len(data))}
	w, err := NewNPYWriter(buf, 3, 4)
	if err != nil {
		t.Fatal(err)
	}
	ones := blas64.General{Rows: 4, Cols: 4, Stride: 4, Data: make([]float64, 16)}
	for i := range ones.Data {
		ones.Data[i] = 1
	}
	for _, b := range outsideBoxes {
		if _, err := r.ReadTile(b[0], b[1], b[2], b[3]); err == nil || !strings.Contains(err.Error(), "a.npy: a ") || !strings.Contains(err.Error(), "is outside the 3×4 array") {
			t.Errorf("ReadTile%v: %v", b, err)
		}
		tile := blas64.General{Rows: b[2], Cols: b[3], Stride: max(b[3], 1), Data: ones.Data}
		if err := w.WriteTile(b[0], b[1], tile); err == nil || !strings.Contains(err.Error(), "is outside the 3×4 array") {
			t.Errorf("WriteTile%v: %v", b, err)
		}
	}
	checkBadTileData(t, w)
	if !bytes.Equal(buf.b, data) {
		t.Error("a refused WriteTile wrote data")
	}
}

// checkBadTileData checks that WriteTile refuses tiles whose Data does
// not hold them.
func checkBadTileData(t *testing.T, w *NPYWriter) {
	for _, tc := range []struct {
		tile blas64.General
		want string
	}{
		{blas64.General{Rows: 2, Cols: 2, Stride: 1, Data: make([]float64, 4)}, "stride 1"},
		{blas64.General{Rows: 2, Cols: 2, Stride: 2, Data: make([]float64, 3)}, "has only 3 elements"},
		{blas64.General{Rows: 3, Cols: 2, Stride: 4, Data: make([]float64, 9)}, "has only 9 elements"},
		{blas64.General{Rows: 1, Cols: 2, Stride: 2, Data: nil}, "has only 0 elements"},
	} {
		if err := w.WriteTile(0, 0, tc.tile); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("WriteTile of %d×%d, stride %d, %d elements: %v", tc.tile.Rows, tc.tile.Cols, tc.tile.Stride, len(tc.tile.Data), err)
		}
	}
}

// CreateNPY truncates a longer file, refuses impossible shapes before
// touching the file, and reports the error of a second Close.
func TestCreateNPY(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.npy")
	if err := os.WriteFile(path, make([]byte, 10000), 0o644); err != nil {
		t.Fatal(err)
	}
	g := blas64.General{Rows: 2, Cols: 3, Stride: 3, Data: []float64{1, 2, 3, 4, 5, 6}}
	createTiles(t, path, g, []placedTile{{0, 0, g}})
	if got, _ := os.ReadFile(path); !bytes.Equal(got, EncodeTile(g)) {
		t.Errorf("rewriting a longer file left %d bytes", len(got))
	}
	w, err := CreateNPY(path, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Error(err)
	}
	if err := w.Close(); !errors.Is(err, os.ErrClosed) {
		t.Errorf("a second Close: %v", err)
	}
	none := filepath.Join(dir, "none.npy")
	for _, shape := range [][2]int{{-1, 2}, {2, -1}, {math.MaxInt, 2}, {1 << 31, 1 << 31}} {
		if _, err := CreateNPY(none, shape[0], shape[1]); err == nil || !strings.Contains(err.Error(), "cannot write a ") {
			t.Errorf("CreateNPY of %v: %v", shape, err)
		}
	}
	if _, err := os.Stat(none); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a refused CreateNPY made a file: %v", err)
	}
	if w, err := NewNPYWriter(&npyBuffer{b: make([]byte, 200)}, 2, 2); err != nil || w.Close() != nil {
		t.Errorf("NewNPYWriter: %v", err)
	}
}

// FuzzNPYReader checks that no input makes the reader panic, and that
// whatever it reads, DecodeNPY decodes to the same values.
func FuzzNPYReader(f *testing.F) {
	f.Add(EncodeNPY([]int{3, 4}, []float64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}))
	f.Add(EncodeNPY([]int{0, 2}, nil))
	f.Add(EncodeNPYInts([]int64{5, -1, 7}))
	f.Add(handNPY(1, "<f4", true, []int{2, 3}, encodeElems("<f4", []float64{1, 4, 2, 5, 3, 6})))
	f.Add(handNPY(2, ">i2", false, []int{}, encodeElems(">i2", []float64{-9})))
	f.Add(handNPY(3, "|b1", true, []int{3, 1}, []byte{1, 0, 1}))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := NewNPYReader(bytes.NewReader(data), int64(len(data)), "fuzz")
		if err != nil {
			if !errors.Is(err, ErrNotNPY) || !strings.HasPrefix(err.Error(), "fuzz: ") {
				t.Fatalf("error %v", err)
			}
			return
		}
		all, err := r.ReadTile(0, 0, r.Rows, r.Cols)
		if err != nil {
			t.Fatalf("ReadTile of the whole %d×%d array: %v", r.Rows, r.Cols, err)
		}
		a, err := DecodeNPY(data)
		if err != nil || len(a.Shape) != r.Dims() || !sameTile(all, a.Matrix()) {
			t.Fatalf("read %d×%d %v; DecodeNPY %v %v, %v", r.Rows, r.Cols, all.Data, a.Shape, a.Data, err)
		}
		r0, c0 := r.Rows/2, r.Cols/3
		part, err := r.ReadTile(r0, c0, r.Rows-r0, r.Cols-c0)
		if err != nil || !sameTile(part, subTile(all, r0, c0, r.Rows-r0, r.Cols-c0)) {
			t.Fatalf("ReadTile(%d, %d, ...) = %v, %v", r0, c0, part.Data, err)
		}
	})
}

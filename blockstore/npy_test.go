package blockstore

import (
	"encoding/binary"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"gonum.org/v1/gonum/blas/blas64"

	"github.com/npw-dev/npw/internal/tilebuf"
)

// The fixtures in testdata were written by NumPy 1.24:
//
//	a = np.arange(12, dtype=np.float64).reshape(3, 4) / 8 - 0.5
//	np.save("f8_c.npy", a), np.save("f8_fortran.npy", np.asfortranarray(a)), ...
func TestDecodeNumPyFixtures(t *testing.T) {
	a := make([]float64, 12)
	for i := range a {
		a[i] = float64(i)/8 - 0.5
	}
	for _, tc := range []struct {
		file  string
		shape []int
		data  []float64
	}{
		{"f8_c.npy", []int{3, 4}, a},
		{"f8_fortran.npy", []int{3, 4}, a},
		{"f8_big_endian.npy", []int{3, 4}, a},
		{"f4_c.npy", []int{3, 4}, a}, // all exactly representable in float32
		{"i8_c.npy", []int{2, 3}, []float64{-2, -1, 0, 1, 2, 3}},
		{"i4_1d.npy", []int{3}, []float64{3, 1, 2}},
		{"f8_empty.npy", []int{0, 3}, []float64{}},
		{"f8_scalar_row.npy", []int{1, 1}, []float64{7.25}},
	} {
		got, err := ReadNPYFile(filepath.Join("testdata", tc.file))
		if err != nil {
			t.Errorf("%s: %v", tc.file, err)
			continue
		}
		if !slices.Equal(got.Shape, tc.shape) || !slices.Equal(got.Data, tc.data) {
			t.Errorf("%s: shape %v data %v; want %v %v", tc.file, got.Shape, got.Data, tc.shape, tc.data)
		}
	}
}

func TestEncodeMatchesNumPy(t *testing.T) {
	want, err := os.ReadFile("testdata/f8_c.npy")
	if err != nil {
		t.Fatal(err)
	}
	a, _ := DecodeNPY(want)
	if got := EncodeNPY(a.Shape, a.Data); string(got) != string(want) {
		t.Errorf("encoding differs from NumPy's bytes:\n got %q\nwant %q", got[:128], want[:128])
	}
}

func TestTileRoundTrip(t *testing.T) {
	for _, shape := range [][2]int{{0, 0}, {1, 1}, {3, 5}, {64, 64}, {100, 7}} {
		g := blas64.General{Rows: shape[0], Cols: shape[1], Stride: max(shape[1], 1), Data: make([]float64, shape[0]*max(shape[1], 1))}
		for i := range g.Data {
			g.Data[i] = math.Sin(float64(i)) * 1e10
		}
		enc := EncodeTile(g)
		if (10+strings.Index(string(enc[10:]), "\n")+1)%64 != 0 {
			t.Errorf("%v: data does not start on a 64-byte boundary", shape)
		}
		back, err := DecodeTile(enc)
		if err != nil || back.Rows != g.Rows || back.Cols != g.Cols || !slices.Equal(back.Data, g.Data[:g.Rows*g.Cols]) {
			t.Errorf("%v: round trip failed: %v", shape, err)
		}
	}
	// A strided view is written compactly.
	big := blas64.General{Rows: 4, Cols: 4, Stride: 4, Data: []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}}
	view := blas64.General{Rows: 2, Cols: 2, Stride: 4, Data: big.Data[5:]}
	back, _ := DecodeTile(EncodeTile(view))
	if !slices.Equal(back.Data, []float64{6, 7, 10, 11}) {
		t.Errorf("strided view encoded as %v", back.Data)
	}
}

func TestDecodeErrors(t *testing.T) {
	good := EncodeNPY([]int{2, 2}, []float64{1, 2, 3, 4})
	for name, data := range map[string][]byte{
		"empty":     nil,
		"not npy":   []byte("hello world, this is not npy"),
		"truncated": good[:len(good)-8],
		"version 9": append([]byte("\x93NUMPY\x09\x00"), good[8:]...),
		"3-d":       EncodeNPY([]int{1, 2, 2}, []float64{1, 2, 3, 4}),
		"complex":   []byte(strings.Replace(string(good), "<f8", "<c8", 1)),
	} {
		if _, err := DecodeNPY(data); !errors.Is(err, ErrNotNPY) {
			t.Errorf("%s: %v, want ErrNotNPY", name, err)
		}
	}
}

// TestNumPyLoadsTiles checks with NumPy itself that a Python user can
// np.load what npw writes. scripts/test installs python3-numpy.
func TestNumPyLoadsTiles(t *testing.T) {
	python := os.Getenv("NPW_PYTHON")
	if python == "" {
		python = "/usr/bin/python3"
	}
	dir := t.TempDir()
	g := blas64.General{Rows: 3, Cols: 2, Stride: 2, Data: []float64{1.5, -2, 3e-300, 4, math.Inf(1), 0.1}}
	if err := WriteMatrixFile(filepath.Join(dir, "t.npy"), g); err != nil {
		t.Fatal(err)
	}
	script := `import numpy as np, sys
a = np.load(sys.argv[1])
assert a.dtype == np.float64 and a.shape == (3, 2) and a.flags['C_CONTIGUOUS'], (a.dtype, a.shape)
assert a.tolist() == [[1.5, -2.0], [3e-300, 4.0], [float('inf'), 0.1]], a.tolist()`
	if err := WriteIntsFile(filepath.Join(dir, "p.npy"), []int64{2, 0, -1, 1 << 40}); err != nil {
		t.Fatal(err)
	}
	script += `
p = np.load(sys.argv[2])
assert p.dtype == np.int64 and p.tolist() == [2, 0, -1, 1 << 40], p
print("ok")`
	out, err := exec.Command(python, "-c", script, filepath.Join(dir, "t.npy"), filepath.Join(dir, "p.npy")).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "ok" {
		t.Fatalf("numpy could not load an npw tile (%s with numpy is needed; scripts/test installs python3-numpy): %v\n%s", python, err, out)
	}
}

// ViewTile shares the bytes of npw's own tiles and decodes everything
// else, giving the same values either way.
func TestViewTile(t *testing.T) {
	g := blas64.General{Rows: 3, Cols: 2, Stride: 2, Data: []float64{1, 2, 3, 4, 5, 6}}
	data := EncodeTile(g)
	v, err := ViewTile(data)
	if err != nil || v.Rows != 3 || v.Cols != 2 || !slices.Equal(v.Data, g.Data) {
		t.Fatalf("ViewTile: %+v, %v", v, err)
	}
	if &v.Data[0] != (*float64)(unsafe.Pointer(&data[len(data)-48])) {
		t.Error("ViewTile copied an aligned little-endian tile")
	}
	// Misaligned bytes are decoded into fresh memory.
	shifted := append(make([]byte, 1, len(data)+1), data...)[1:]
	if v, err := ViewTile(shifted); err != nil || !slices.Equal(v.Data, g.Data) {
		t.Errorf("misaligned: %+v, %v", v, err)
	}
	// Other layouts go through DecodeTile.
	fortran := []byte("\x93NUMPY\x01\x00v\x00{'descr': '<f8', 'fortran_order': True, 'shape': (2, 2), }")
	fortran = append(fortran, make([]byte, 128-len(fortran)-1)...)
	fortran = append(fortran, '\n')
	for _, x := range []float64{1, 3, 2, 4} {
		fortran = binary.LittleEndian.AppendUint64(fortran, math.Float64bits(x))
	}
	if v, err := ViewTile(fortran); err != nil || !slices.Equal(v.Data, []float64{1, 2, 3, 4}) {
		t.Errorf("Fortran order: %+v, %v", v, err)
	}
}

// A kernel's output tile (tilebuf.New) is adopted by the memory store
// without a copy, as a valid .npy file that NumPy's rules accept; any
// other tile is encoded into a fresh buffer.
func TestAdoptTile(t *testing.T) {
	ctx := t.Context()
	s := NewStore(NewMemDriver(), "mem://")
	g := tilebuf.New(300, 200)
	for i := range g.Data {
		g.Data[i] = float64(i) / 7
	}
	n, err := s.AdoptTile(ctx, "k", g)
	if err != nil || n != tilebuf.Prefix+8*300*200 {
		t.Fatalf("AdoptTile: %d bytes, %v", n, err)
	}
	raw, err := s.Get(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	if &raw[tilebuf.Prefix] != (*byte)(unsafe.Pointer(&g.Data[0])) {
		t.Error("the memory store copied a tile from tilebuf.New")
	}
	a, err := DecodeNPY(raw)
	if err != nil || !slices.Equal(a.Shape, []int{300, 200}) || !slices.Equal(a.Data, g.Data) {
		t.Fatalf("DecodeNPY of the adopted tile: shape %v, %v", a.Shape, err)
	}
	if got := string(raw[:10+len("{'descr': '<f8'")]); got != "\x93NUMPY\x01\x00v\x00{'descr': '<f8'" {
		t.Errorf("header starts %q", got)
	}
	// A tile not from tilebuf.New is copied.
	h := blas64.General{Rows: 300, Cols: 200, Stride: 200, Data: slices.Clone(g.Data)}
	if _, err := s.AdoptTile(ctx, "h", h); err != nil {
		t.Fatal(err)
	}
	h.Data[0] = -1
	if v, _, err := s.GetTile(ctx, "h"); err != nil || v.Data[0] != 0 {
		t.Errorf("a plain tile was not copied: %v, %v", v.Data[0], err)
	}
}

// A file store's reads are the caller's own memory, and a tile read from
// it is written back without a copy; a memory store's are shared.
func TestPrivateReads(t *testing.T) {
	ctx := t.Context()
	mem := NewStore(NewMemDriver(), "mem://")
	if mem.PrivateReads() {
		t.Error("the memory store says its reads are private")
	}
	files := NewStore(NewFileDriver(t.TempDir()), "file://")
	if !files.PrivateReads() {
		t.Fatal("the file store says its reads are shared")
	}
	g := tilebuf.New(200, 300)
	for i := range g.Data {
		g.Data[i] = float64(i)
	}
	if _, err := files.AdoptTile(ctx, "a", g); err != nil {
		t.Fatal(err)
	}
	r, _, err := files.GetTile(ctx, "a")
	if err != nil || !slices.Equal(r.Data, g.Data) {
		t.Fatalf("GetTile: %v", err)
	}
	buf, ok := tilebuf.Encoded(r, tileHeader)
	if !ok || &buf[tilebuf.Prefix] != (*byte)(unsafe.Pointer(&r.Data[0])) {
		t.Fatal("a tile read from files is not written back as it is")
	}
	r.Data[0] = -1 // the caller's own: updating it touches nothing else
	if again, _, _ := files.GetTile(ctx, "a"); again.Data[0] != 0 {
		t.Error("a read shares memory with a later read")
	}
}

// hostileTile is a tile whose header claims a shape its 64 bytes of data
// cannot hold.
func hostileTile(shape string) []byte {
	h := "{'descr': '<f8', 'fortran_order': False, 'shape': " + shape + ", }"
	h += strings.Repeat(" ", 63-(10+len(h))%64) + "\n"
	data := binary.LittleEndian.AppendUint16([]byte("\x93NUMPY\x01\x00"), uint16(len(h)))
	return append(append(data, h...), make([]byte, 64)...)
}

// Shapes whose element or byte counts overflow are refused, not read past
// the data: (2**61+1, 1) has 8·n ≡ 8 (mod 2**64), which a check of
// len(body) ≥ 8·n once let through as a view of 2**61 floats.
func TestViewTileHostileShapes(t *testing.T) {
	for _, shape := range []string{"(2305843009213693953, 1)", "(4294967296, 4294967296)", "(4611686018427387904, 4)",
		"(4294967296, 1073741824)", "(9223372036854775807, 9223372036854775807)", "(3, 3)"} {
		data := hostileTile(shape)
		if g, err := ViewTile(data); !errors.Is(err, ErrNotNPY) {
			t.Errorf("ViewTile of shape %s with 64 bytes: %d×%d, %v; want ErrNotNPY", shape, g.Rows, g.Cols, err)
		}
		if _, err := DecodeNPY(data); !errors.Is(err, ErrNotNPY) {
			t.Errorf("DecodeNPY of shape %s with 64 bytes: %v; want ErrNotNPY", shape, err)
		}
	}
}

// FuzzViewTile checks that ViewTile never panics and returns a tile whose
// data holds its shape, with the values DecodeNPY reads.
func FuzzViewTile(f *testing.F) {
	f.Add(EncodeTile(blas64.General{Rows: 2, Cols: 3, Stride: 3, Data: []float64{1, 2, 3, 4, 5, 6}}))
	f.Add(hostileTile("(2305843009213693953, 1)"))
	f.Add(hostileTile("(2, 4)"))
	f.Add(EncodeNPY([]int{3}, []float64{1, 2, 3}))
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := ViewTile(data)
		if err != nil {
			if !errors.Is(err, ErrNotNPY) {
				t.Fatalf("error %v does not wrap ErrNotNPY", err)
			}
			return
		}
		if g.Rows < 0 || g.Cols < 0 || g.Stride < max(1, g.Cols) && g.Rows > 0 || len(g.Data) < g.Rows*g.Cols {
			t.Fatalf("%d×%d tile, stride %d, with %d values", g.Rows, g.Cols, g.Stride, len(g.Data))
		}
		a, err := DecodeNPY(data)
		if err != nil || !sameTile(g, a.Matrix()) {
			t.Fatalf("ViewTile %d×%d; DecodeNPY %v, %v", g.Rows, g.Cols, a.Shape, err)
		}
	})
}

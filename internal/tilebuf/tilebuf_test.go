package tilebuf

import (
	"bytes"
	"runtime"
	"testing"
	"time"
	"unsafe"

	"gonum.org/v1/gonum/blas/blas64"
)

func header(rows, cols int) []byte { return bytes.Repeat([]byte{'h'}, Prefix) }

func TestEncodedSharesTheTile(t *testing.T) {
	g := New(128, 100)
	if g.Stride != 100 || len(g.Data) != 12800 {
		t.Fatalf("tile %d×%d stride %d len %d", g.Rows, g.Cols, g.Stride, len(g.Data))
	}
	for i := range g.Data {
		g.Data[i] = float64(i)
	}
	buf, ok := Encoded(g, header)
	if !ok {
		t.Fatal("a tile from New is not found")
	}
	if len(buf) != Prefix+8*len(g.Data) || string(buf[:Prefix]) != string(header(0, 0)) {
		t.Fatalf("buffer of %d bytes, prefix %q", len(buf), buf[:16])
	}
	if unsafe.Pointer(&buf[Prefix]) != unsafe.Pointer(&g.Data[0]) {
		t.Fatal("the buffer does not hold the tile")
	}
	again, ok := Encoded(g, func(int, int) []byte { t.Fatal("header written twice"); return nil })
	if !ok || &again[0] != &buf[0] {
		t.Fatal("a second Encoded differs")
	}
}

func TestEncodedRefusesOtherTiles(t *testing.T) {
	g := New(128, 100)
	small := New(4, 4)
	plain := blas64.General{Rows: 128, Cols: 100, Stride: 100, Data: make([]float64, 12800)}
	sub := blas64.General{Rows: 64, Cols: 100, Stride: 100, Data: g.Data[100*64:]}
	narrow := blas64.General{Rows: 128, Cols: 50, Stride: 100, Data: g.Data}
	reshaped := blas64.General{Rows: 100, Cols: 128, Stride: 128, Data: g.Data}
	for name, x := range map[string]blas64.General{"small": small, "plain": plain, "sub": sub, "strided": narrow, "reshaped": reshaped} {
		if _, ok := Encoded(x, header); ok {
			t.Errorf("%s: Encoded found a buffer", name)
		}
	}
	if _, ok := Encoded(New(128, 100), func(int, int) []byte { return make([]byte, Prefix-1) }); ok {
		t.Error("a header that does not fill the prefix was accepted")
	}
}

func TestTableForgetsFreedBuffers(t *testing.T) {
	count := func() int {
		n := 0
		table.Range(func(any, any) bool { n++; return true })
		return n
	}
	before := count()
	for range 50 {
		New(256, 256)
	}
	deadline := time.Now().Add(10 * time.Second)
	for count() > before {
		if time.Now().After(deadline) {
			t.Fatalf("%d entries left after the tiles were freed (%d before)", count(), before)
		}
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
}

// A tile read into a buffer of the caller's own is found after Adopt.
func TestAdopt(t *testing.T) {
	buf := make([]byte, Prefix+8*128*100)
	g := blas64.General{Rows: 128, Cols: 100, Stride: 100, Data: unsafe.Slice((*float64)(unsafe.Pointer(&buf[Prefix])), 12800)}
	if _, ok := Encoded(g, header); ok {
		t.Fatal("found before Adopt")
	}
	Adopt(buf, g)
	got, ok := Encoded(g, header)
	if !ok || &got[0] != &buf[0] {
		t.Fatal("not found after Adopt")
	}
	// Data that does not start at Prefix is left alone.
	other := make([]byte, 64+8*12800)
	h := blas64.General{Rows: 128, Cols: 100, Stride: 100, Data: unsafe.Slice((*float64)(unsafe.Pointer(&other[64])), 12800)}
	Adopt(other, h)
	if _, ok := Encoded(h, header); ok {
		t.Error("a tile at offset 64 was adopted")
	}
}

// A buffer reused by In for tiles of another shape encodes each with
// its own header and length.
func TestInReusesABuffer(t *testing.T) {
	buf := Bytes(128 * 100)
	shaped := func(rows, cols int) []byte {
		return append([]byte{byte(rows), byte(cols)}, bytes.Repeat([]byte{'h'}, Prefix-2)...)
	}
	for _, sz := range [][2]int{{128, 100}, {100, 90}, {128, 100}} {
		g := In(buf, sz[0], sz[1])
		if unsafe.Pointer(&g.Data[0]) != unsafe.Pointer(&buf[Prefix]) || g.Stride != sz[1] {
			t.Fatalf("%v: the tile is not in the buffer", sz)
		}
		enc, ok := Encoded(g, shaped)
		if !ok || len(enc) != Prefix+8*sz[0]*sz[1] || enc[0] != byte(sz[0]) || enc[1] != byte(sz[1]) {
			t.Fatalf("%v: Encoded = %d bytes, header %v, %v", sz, len(enc), enc[:2], ok)
		}
	}
	if g := In(buf, 200, 100); &g.Data[0] == (*float64)(unsafe.Pointer(&buf[Prefix])) {
		t.Error("a tile larger than the buffer was put in it")
	}
}

// A tile made with room grows in place, through a store that keeps its
// encoding and lends it back (Adopt of the encoded buffer), and each
// shape encodes with its own header; a tile without room does not grow.
func TestGrow(t *testing.T) {
	shaped := func(rows, cols int) []byte {
		return append([]byte{byte(rows), byte(cols)}, bytes.Repeat([]byte{'h'}, Prefix-2)...)
	}
	g := NewRoom(100, 90, 300)
	for i := range g.Data {
		g.Data[i] = float64(i)
	}
	for _, rows := range []int{200, 300} {
		enc, ok := Encoded(g, shaped)
		if !ok || len(enc) != Prefix+8*g.Rows*g.Cols || cap(enc) != Prefix+8*300*90 || enc[0] != byte(g.Rows) {
			t.Fatalf("%d rows: Encoded = %d bytes (cap %d), header %v, %v", g.Rows, len(enc), cap(enc), enc[:2], ok)
		}
		// A memory store keeps enc and lends it back.
		lent := blas64.General{Rows: g.Rows, Cols: 90, Stride: 90, Data: unsafe.Slice((*float64)(unsafe.Pointer(&enc[Prefix])), g.Rows*90)}
		Adopt(enc, lent)
		old := g.Rows
		if g, ok = Grow(lent, rows); !ok || g.Rows != rows || &g.Data[0] != &lent.Data[0] {
			t.Fatalf("%d to %d rows: not grown in place (%v)", old, rows, ok)
		}
		for i := range old * 90 {
			if g.Data[i] != float64(i) {
				t.Fatalf("%d to %d rows: element %d is %v", old, rows, i, g.Data[i])
			}
		}
		for i := old * 90; i < rows*90; i++ {
			g.Data[i] = float64(i)
		}
	}
	if _, ok := Grow(g, 301); ok {
		t.Error("grew past the buffer")
	}
	if _, ok := Grow(New(128, 100), 129); ok {
		t.Error("a tile without room grew")
	}
	plain := blas64.General{Rows: 128, Cols: 100, Stride: 100, Data: make([]float64, 12800, 20000)}
	if _, ok := Grow(plain, 129); ok {
		t.Error("a tile from no buffer of this package grew")
	}
}

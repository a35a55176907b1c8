package blockstore

import (
	"context"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/gonum/blas/blas64"
)

func randomArray(rng *rand.Rand, r, c int) blas64.General {
	g := blas64.General{Rows: r, Cols: c, Stride: c, Data: make([]float64, r*c)}
	for i := range g.Data {
		g.Data[i] = rng.NormFloat64()
	}
	return g
}

func equal(a, b blas64.General) bool {
	if a.Rows != b.Rows || a.Cols != b.Cols {
		return false
	}
	for i := range a.Rows {
		if !slices.Equal(a.Data[i*a.Stride:i*a.Stride+a.Cols], b.Data[i*b.Stride:i*b.Stride+b.Cols]) {
			return false
		}
	}
	return true
}

func TestUploadAssemble(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		arity, rows, cols, block, tiles int
		key                             string // the key of the last tile
	}{
		{2, 10, 10, 10, 1, "job/A/0_0.npy"},  // one tile
		{2, 10, 7, 4, 6, "job/A/2_1.npy"},    // ragged both ways
		{2, 1, 1, 4, 1, "job/A/0_0.npy"},     // smaller than a block
		{1, 10, 3, 4, 3, "job/A/2.npy"},      // row blocks of all columns
		{3, 9, 9, 3, 9, "job/A/0_2_2.npy"},   // leading index 0
		{4, 5, 8, 4, 4, "job/A/0_0_1_1.npy"}, // two leading zeros
		{2, 33, 65, 32, 6, "job/A/1_2.npy"},  // ragged by one
		{1, 100, 4, 100, 1, "job/A/0.npy"},   // one row block
	} {
		s := NewStore(NewMemDriver(), "mem://")
		m := &BigMatrix{Name: "A", Prefix: "job", Arity: tc.arity, Block: tc.block}
		a := randomArray(rng, tc.rows, tc.cols)
		n, bytes, err := Upload(ctx, s, m, a, 4)
		if err != nil || n != tc.tiles || bytes <= 0 {
			t.Fatalf("%+v: Upload = %d tiles, %d bytes, %v", tc, n, bytes, err)
		}
		keys, _ := s.List(ctx, m.Dir())
		if len(keys) != tc.tiles || !slices.Contains(keys, tc.key) {
			t.Fatalf("%+v: keys %v", tc, keys)
		}
		back, err := Assemble(ctx, s, m, nil, 4)
		if err != nil || !equal(back, a) {
			t.Fatalf("%+v: Assemble differs from the upload: %v", tc, err)
		}
	}
}

func TestAssembleSelectorsAndZeros(t *testing.T) {
	ctx := context.Background()
	s := NewStore(NewMemDriver(), "mem://")
	m := &BigMatrix{Name: "S", Prefix: "j", Arity: 3, Block: 2}
	put := func(idx []int32, rows, cols int, v float64) {
		g := blas64.General{Rows: rows, Cols: cols, Stride: cols, Data: make([]float64, rows*cols)}
		for i := range g.Data {
			g.Data[i] = v
		}
		if _, err := s.PutTile(ctx, m.Key(idx), g); err != nil {
			t.Fatal(err)
		}
	}
	// S[1, ·, ·]: a lower triangle of 2×2 tiles with a ragged last row.
	put([]int32{1, 0, 0}, 2, 2, 1)
	put([]int32{1, 1, 0}, 1, 2, 2)
	put([]int32{1, 1, 1}, 1, 1, 3)
	put([]int32{0, 0, 0}, 2, 2, 9)
	got, err := Assemble(ctx, s, m, []int32{1}, 2)
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{1, 1, 0, 1, 1, 0, 2, 2, 3} // the unwritten upper tile is zeros
	if got.Rows != 3 || got.Cols != 3 || !slices.Equal(got.Data, want) {
		t.Errorf("S[1] = %d×%d %v, want 3×3 %v", got.Rows, got.Cols, got.Data, want)
	}
	one, err := Assemble(ctx, s, m, []int32{1, 1, 0}, 2)
	if err != nil || one.Rows != 1 || one.Cols != 2 || one.Data[0] != 2 {
		t.Errorf("single tile S[1,1,0] = %v, %v", one, err)
	}
	for _, tc := range []struct {
		fixed []int32
		want  string
	}{
		{[]int32{5}, "no tile of S[5,·,·] was written"},
		{[]int32{1, 0, 1}, "tile S[1,0,1] was not written"},
		{[]int32{}, "S has 3 indices: fix all but one or two of them, e.g. S[0]"},
	} {
		if _, err := Assemble(ctx, s, m, tc.fixed, 2); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Assemble(%v) = %v, want %q", tc.fixed, err, tc.want)
		}
	}
}

func TestUploadErrors(t *testing.T) {
	ctx := context.Background()
	s := NewStore(NewMemDriver(), "mem://")
	for _, tc := range []struct {
		m    *BigMatrix
		a    blas64.General
		want string
	}{
		{&BigMatrix{Name: "A", Prefix: "j", Arity: 2, Block: 0}, randomArray(rand.New(rand.NewPCG(1, 1)), 2, 2), "block size must be positive"},
		{&BigMatrix{Name: "A", Prefix: "j", Arity: 2, Block: 4}, blas64.General{}, "the array is empty"},
	} {
		if _, _, err := Upload(ctx, s, tc.m, tc.a, 2); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Upload: %v, want %q", err, tc.want)
		}
	}
}

// CopyTiles moves a grid between bindings tile for tile: a 2-D matrix into
// the k=0 slice of a three-index one, a selected slice back out, and row
// blocks; grids that differ are refused.
func TestCopyTiles(t *testing.T) {
	ctx := context.Background()
	for _, drv := range []Driver{NewMemDriver(), NewFileDriver(t.TempDir())} {
		s := NewStore(drv, "test")
		a := randomArray(rand.New(rand.NewPCG(1, 2)), 23, 17)
		src := &BigMatrix{Name: "A", Prefix: "in", Arity: 2, Block: 5}
		if _, _, err := Upload(ctx, s, src, a, 4); err != nil {
			t.Fatal(err)
		}
		s3 := &BigMatrix{Name: "S", Prefix: "job", Arity: 3, Block: 5}
		n, err := CopyTiles(ctx, s, src, nil, s3, 4)
		if err != nil || n != 5*4 {
			t.Fatalf("CopyTiles into S: %d tiles, %v", n, err)
		}
		if got, err := Assemble(ctx, s, s3, nil, 4); err != nil || !equal(got, a) {
			t.Fatalf("S[:, :, 0] after the copy: equal %v, %v", equal(got, a), err)
		}
		// A tile of another slice is not part of the selected grid.
		if _, err := s.PutTile(ctx, s3.Key([]int32{1, 0, 0}), a); err != nil {
			t.Fatal(err)
		}
		back := &BigMatrix{Name: "B", Prefix: "out", Arity: 2, Block: 5}
		if n, err := CopyTiles(ctx, s, s3, []int32{0}, back, 4); err != nil || n != 20 {
			t.Fatalf("CopyTiles of S[0]: %d tiles, %v", n, err)
		}
		if got, err := Assemble(ctx, s, back, nil, 4); err != nil || !equal(got, a) {
			t.Fatalf("copied back: equal %v, %v", equal(got, a), err)
		}
		rows := &BigMatrix{Name: "R", Prefix: "in", Arity: 1, Block: 5}
		if _, _, err := Upload(ctx, s, rows, a, 4); err != nil {
			t.Fatal(err)
		}
		rows2 := &BigMatrix{Name: "R", Prefix: "job", Arity: 1, Block: 5}
		if n, err := CopyTiles(ctx, s, rows, nil, rows2, 4); err != nil || n != 5 {
			t.Fatalf("row blocks: %d, %v", n, err)
		}
		if got, err := Assemble(ctx, s, rows2, nil, 4); err != nil || !equal(got, a) {
			t.Fatalf("row blocks copied: equal %v, %v", equal(got, a), err)
		}
		for _, bad := range []*BigMatrix{
			{Name: "X", Prefix: "x", Arity: 2, Block: 4}, // another block size
			{Name: "X", Prefix: "x", Arity: 1, Block: 5}, // row blocks from B×B tiles
		} {
			if CanCopyTiles(src, nil, bad) {
				t.Errorf("CanCopyTiles(A, %+v) = true", bad)
			}
			if _, err := CopyTiles(ctx, s, src, nil, bad, 4); err == nil {
				t.Errorf("CopyTiles(A, %+v) succeeded", bad)
			}
		}
	}
}

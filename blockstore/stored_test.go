package blockstore

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// testStores returns a memory store and a file store.
func testStores(t *testing.T) map[string]*Store {
	dir := t.TempDir()
	return map[string]*Store{"mem": NewStore(NewMemDriver(), "mem://"), "file": NewStore(NewFileDriver(dir), "file://"+dir)}
}

// Retile moves arrays between tile layouts: the same tiles copied as
// stored, in one store or across two, and other blocks and arities cut
// from the tiles that overlap; the array read back is the one uploaded.
func TestRetile(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(3, 4))
	for _, tc := range []struct{ rows, cols, from, to, toArity int }{
		{10, 10, 10, 10, 2}, // one tile
		{10, 7, 4, 4, 2},    // same tiles, ragged
		{10, 7, 4, 3, 2},    // smaller tiles
		{33, 65, 8, 32, 2},  // larger tiles, ragged by one
		{9, 9, 3, 3, 3},     // into a grid with a leading index
		{17, 5, 4, 6, 1},    // into row blocks
		{1, 1, 4, 2, 2},     // one element
	} {
		for _, across := range []bool{false, true} {
			name := fmt.Sprintf("%d×%d,%d→%d,arity=%d,across=%v", tc.rows, tc.cols, tc.from, tc.to, tc.toArity, across)
			t.Run(name, func(t *testing.T) {
				src := NewStore(NewMemDriver(), "mem://")
				dst := src
				if across {
					dst = NewStore(NewFileDriver(t.TempDir()), "file://")
				}
				a := randomArray(rng, tc.rows, tc.cols)
				from := &BigMatrix{Name: "A", Prefix: "in", Arity: 2, Block: tc.from}
				if _, _, err := Upload(ctx, src, from, a, 4); err != nil {
					t.Fatal(err)
				}
				to := &BigMatrix{Name: "B", Prefix: "out", Arity: tc.toArity, Block: tc.to}
				g := &Grid{Store: dst, Matrix: to, Rows: tc.rows, Cols: tc.cols}
				if _, err := Retile(ctx, &Grid{Store: src, Matrix: from, Rows: tc.rows, Cols: tc.cols}, g, 3); err != nil {
					t.Fatal(err)
				}
				back, err := g.Dense(ctx, 4)
				if err != nil || !equal(back, a) {
					t.Fatalf("read back %v: equal %v", err, equal(back, a))
				}
				want, _ := Assemble(ctx, dst, to, nil, 4)
				if !equal(want, a) {
					t.Error("Assemble of the new tiles differs")
				}
			})
		}
	}
}

// A sparse grid leaves out the tiles made only of tiles never written; a
// dense one writes them as zeros.
func TestRetileSparse(t *testing.T) {
	ctx := context.Background()
	s := NewStore(NewMemDriver(), "mem://")
	a := randomArray(rand.New(rand.NewPCG(5, 6)), 8, 8)
	from := &BigMatrix{Name: "L", Prefix: "in", Arity: 2, Block: 4}
	if _, err := s.PutTile(ctx, from.Key([]int32{1, 0}), sub(a, 4, 0, 8, 4)); err != nil {
		t.Fatal(err)
	}
	src := &Grid{Store: s, Matrix: from, Rows: 8, Cols: 8}
	for _, sparse := range []bool{true, false} {
		to := &BigMatrix{Name: fmt.Sprint(sparse), Prefix: "out", Arity: 2, Block: 4}
		if _, err := Retile(ctx, src, &Grid{Store: s, Matrix: to, Rows: 8, Cols: 8, Sparse: sparse}, 2); err != nil {
			t.Fatal(err)
		}
		keys, _ := s.List(ctx, to.Dir())
		if want := map[bool]int{true: 1, false: 4}[sparse]; len(keys) != want {
			t.Errorf("sparse %v: %d tiles %v, want %d", sparse, len(keys), keys, want)
		}
	}
}

func TestRegionBounds(t *testing.T) {
	g := &Grid{Store: NewStore(NewMemDriver(), "mem://"), Matrix: &BigMatrix{Name: "A", Arity: 2, Block: 4}, Rows: 5, Cols: 5}
	for _, r := range [][4]int{{-1, 0, 2, 2}, {0, 0, 6, 2}, {2, 2, 2, 3}} {
		if _, _, err := g.Region(context.Background(), r[0], r[1], r[2], r[3]); err == nil || !strings.Contains(err.Error(), "outside") {
			t.Errorf("region %v: %v", r, err)
		}
	}
	if err := (&Grid{Matrix: &BigMatrix{Name: "A", Arity: 3, Block: 4}, Fixed: []int32{}, Rows: 1, Cols: 1}).Check(); err == nil {
		t.Error("a grid of three free indices passed Check")
	}
}

func TestSplitURL(t *testing.T) {
	for _, tc := range []struct{ url, store, key, err string }{
		{url: "file:///data/npw/A", store: "file:///data/npw", key: "A"},
		{url: "file:///A", store: "file:///", key: "A"},
		{url: "s3://bucket/m/A?endpoint=http://127.0.0.1:9000", store: "s3://bucket/m?endpoint=http://127.0.0.1:9000", key: "A"},
		{url: "s3://bucket/A", store: "s3://bucket", key: "A"},
		{url: "mem://x/m/A", store: "mem://x", key: "m/A"},
		{url: "mem:///A", store: "mem:", key: "A"},
		{url: "file:///", err: "want file:///dir/name"},
		{url: "a.npy", err: "want file:///dir/name"},
		{url: "file:///d/../A", err: "want file:///dir/name"},
	} {
		store, key, err := SplitURL(tc.url)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: err %v, want %q", tc.url, err, tc.err)
			}
			continue
		}
		if err != nil || store != tc.store || key != tc.key {
			t.Errorf("%s: %q %q %v, want %q %q", tc.url, store, key, err, tc.store, tc.key)
		}
		if back := JoinURL(store, key); tc.url != "mem:///A" && back != tc.url {
			t.Errorf("JoinURL(%q, %q) = %q", store, key, back)
		}
	}
}

func TestWithin(t *testing.T) {
	for _, tc := range []struct {
		store, url, key string
		ok              bool
	}{
		{"file:///d", "file:///d/A", "A", true},
		{"file:///d/", "file:///d/x/A", "x/A", true},
		{"file:///d", "file:///dd/A", "", false},
		{"file:///d", "file:///d", "", false},
		{"mem://", "mem:///A", "A", true},
		{"mem://", "mem://x/A", "", false},
		{"s3://b/p?endpoint=e", "s3://b/p/A?endpoint=e", "A", true},
		{"s3://b/p?endpoint=e", "s3://b/p/A", "", false},
		{"s3://b", "file:///b/A", "", false},
	} {
		key, ok := Within(tc.store, tc.url)
		if key != tc.key || ok != tc.ok {
			t.Errorf("Within(%q, %q) = %q %v, want %q %v", tc.store, tc.url, key, ok, tc.key, tc.ok)
		}
	}
}

// putMatrix stores a as a matrix at key, the way PutNPY does.
func putMatrix(t testing.TB, s *Store, key string, a []float64, rows, cols, block int) *Stored {
	t.Helper()
	ctx := context.Background()
	data := EncodeNPY([]int{rows, cols}, a)
	r, err := NewNPYReader(bytes.NewReader(data), int64(len(data)), "a.npy")
	if err != nil {
		t.Fatal(err)
	}
	st, err := Create(ctx, s, key, "test:"+key, rows, cols, block)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := PutNPY(ctx, r, st, 3); err != nil {
		t.Fatal(err)
	}
	return st
}

// A stored matrix goes in from a .npy, is opened, listed, written back
// to a .npy byte for byte and removed, on every local driver.
func TestStoredRoundTrip(t *testing.T) {
	ctx := context.Background()
	for name, s := range testStores(t) {
		t.Run(name, func(t *testing.T) {
			for _, sz := range [][3]int{{9, 7, 4}, {5, 5, 5}, {1, 3, 8}} {
				a := randomArray(rand.New(rand.NewPCG(7, uint64(sz[0]))), sz[0], sz[1])
				key := fmt.Sprintf("m/A%d", sz[0])
				putMatrix(t, s, key, a.Data, sz[0], sz[1], sz[2])
				st, err := OpenStored(ctx, s, key, key)
				if err != nil || st.Rows != sz[0] || st.Cols != sz[1] || st.Block != sz[2] || st.Missing != 0 {
					t.Fatalf("%v: open %+v %v", sz, st, err)
				}
				var out bytes.Buffer
				if err := StreamGrid(ctx, &st.Grid, &out, 2); err != nil || !bytes.Equal(out.Bytes(), EncodeNPY([]int{sz[0], sz[1]}, a.Data)) {
					t.Fatalf("%v: streamed .npy differs (%v)", sz, err)
				}
				path := filepath.Join(t.TempDir(), "a.npy")
				w, err := CreateNPY(path, sz[0], sz[1])
				if err != nil {
					t.Fatal(err)
				}
				if err := WriteGrid(ctx, &st.Grid, w, true, 3); err != nil {
					t.Fatal(err)
				}
				w.Close()
				if back, err := ReadNPYFile(path); err != nil || !slices.Equal(back.Data, a.Data) {
					t.Fatalf("%v: written .npy differs (%v)", sz, err)
				}
			}
			found, err := List(ctx, s, "m")
			if err != nil || len(found) != 3 || found[0].Key != "m/A1" || found[0].Err != nil {
				t.Fatalf("List = %+v, %v", found, err)
			}
			if err := Remove(ctx, s, "m/A9", "m/A9"); err != nil {
				t.Fatal(err)
			}
			if keys, _ := s.List(ctx, "m/A9/"); len(keys) != 0 {
				t.Errorf("Remove left %v", keys)
			}
			if err := Remove(ctx, s, "m/A9", "m/A9"); err == nil || !strings.Contains(err.Error(), "no such matrix") {
				t.Errorf("second Remove: %v", err)
			}
		})
	}
}

// A manifest that is missing, corrupt, of another format or dtype, or
// that lies about the shape, is refused when the matrix is opened.
func TestOpenStoredRefuses(t *testing.T) {
	ctx := context.Background()
	s := NewStore(NewMemDriver(), "mem://")
	a := randomArray(rand.New(rand.NewPCG(9, 9)), 9, 9)
	putMatrix(t, s, "A", a.Data, 9, 9, 4)
	good, _ := s.Get(ctx, "A/"+MetaName)
	for _, tc := range []struct{ meta, want string }{
		{"", "no such matrix"},
		{`{"format": "npw-matrix"`, "corrupt matrix.json"},
		{`{"format": "zarr"}`, `format "zarr"`},
		{strings.Replace(string(good), `"<f8"`, `"<c16"`, 1), `dtype "<c16"`},
		{strings.Replace(string(good), `"C"`, `"F"`, 1), `order "F"`},
		{strings.Replace(string(good), "9,\n    9", "5,\n    9", 1), "tile 2_0 is stored"},
		{strings.Replace(string(good), "9,\n    9", "10,\n    9", 1), "has a 2×1 tile"},
		// A shape whose last tiles are missing, but whose inner tiles then
		// have the wrong shape, and a block the tiles do not have.
		{strings.Replace(string(good), "9,\n    9", "13,\n    13", 1), "has a 4×4 tile"},
		{strings.Replace(string(good), `"block": 4`, `"block": 1`, 1), "is 4×4, where a 9×9 array of block 1 has a 1×1 tile"},
		{strings.Replace(strings.Replace(string(good), "9,\n    9", "3,\n    3", 1), `"block": 4`, `"block": 1`, 1), "has a 1×1 tile"},
		{strings.Replace(string(good), `"block": 4`, `"block": 0`, 1), "block 0"},
		// Sizes whose bytes or tile counts overflow.
		{strings.Replace(string(good), "9,\n    9", "4611686018427387904,\n    4", 1), "is too large"},
		{strings.Replace(string(good), "9,\n    9", "4294967296,\n    4294967296", 1), "is too large"},
		{strings.Replace(strings.Replace(string(good), "9,\n    9", "4294967296,\n    2", 1), `"block": 4`, `"block": 1`, 1), "4294967296×2 tiles"},
		{strings.Replace(string(good), `"block": 4`, `"block": 3037000500`, 1), "block 3037000500 is too large"},
	} {
		if tc.meta == "" {
			s.Delete(ctx, "A/"+MetaName)
		} else {
			s.Put(ctx, "A/"+MetaName, []byte(tc.meta))
		}
		if _, err := OpenStored(ctx, s, "A", "mem:///A"); err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "mem:///A: ") {
			t.Errorf("%q: err %v, want %q", tc.meta, err, tc.want)
		}
	}
}

// FuzzStoredMeta checks that no matrix.json makes OpenStored panic or
// accept sizes it cannot hold; the tiles beside it are those of a 9×9
// matrix in blocks of 4.
func FuzzStoredMeta(f *testing.F) {
	f.Add([]byte(`{"format": "npw-matrix", "version": 1, "shape": [9, 9], "block": 4, "dtype": "<f8", "order": "C", "tiles": "{i}_{j}.npy"}`))
	f.Add([]byte(`{"format": "npw-matrix", "version": 1, "shape": [4294967296, 4294967296], "block": 1, "dtype": "<f8", "order": "C", "tiles": "{i}_{j}.npy"}`))
	f.Add([]byte(`{"format": "npw-matrix", "version": 1, "shape": [9, 9], "block": -4}`))
	ctx := context.Background()
	s := NewStore(NewMemDriver(), "mem://")
	a := randomArray(rand.New(rand.NewPCG(9, 9)), 9, 9)
	putMatrix(f, s, "A", a.Data, 9, 9, 4)
	f.Fuzz(func(t *testing.T, meta []byte) {
		if err := s.Put(ctx, "A/"+MetaName, meta); err != nil {
			t.Fatal(err)
		}
		st, err := OpenStored(ctx, s, "A", "mem:///A")
		if err != nil {
			return
		}
		if st.Rows != 9 || st.Cols != 9 || st.Block <= 0 || st.Bytes() != 8*81 {
			t.Fatalf("accepted %s as %d×%d in blocks of %d", meta, st.Rows, st.Cols, st.Block)
		}
	})
}

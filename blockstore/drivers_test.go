package blockstore_test

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"gonum.org/v1/gonum/blas/blas64"

	"github.com/npw-dev/npw/blockstore"
	"github.com/npw-dev/npw/blockstore/storetest"
)

func TestMemDriver(t *testing.T) {
	newDriver := func(t *testing.T) blockstore.Driver { return blockstore.NewMemDriver() }
	storetest.CheckCapabilities(t, newDriver(t), "Copier", "Lender", "Adopter", "RangeReader")
	storetest.Run(t, newDriver)
}

func TestFileDriver(t *testing.T) {
	newDriver := func(t *testing.T) blockstore.Driver {
		s, err := blockstore.Open(context.Background(), "file://"+t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return s.Driver()
	}
	storetest.CheckCapabilities(t, newDriver(t), "Copier", "PrefixDeleter", "FreshReader", "RangeReader")
	storetest.Run(t, newDriver)
}

// Copies leave no temporary links behind, whether they replace a file,
// a link to the same file (a second copy) or the source itself, or race.
func TestFileDriverCopyLeavesNoTemporaries(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	d := blockstore.NewFileDriver(dir)
	for _, k := range []string{"a/src", "a/dst", "a/other"} {
		if err := d.Put(ctx, k, []byte(k)); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range [][2]string{{"a/dst", "a/src"}, {"a/dst", "a/src"}, {"a/src", "a/src"}, {"b/new", "a/src"}} {
		if err := d.Copy(ctx, c[0], c[1]); err != nil {
			t.Fatalf("Copy(%s, %s): %v", c[0], c[1], err)
		}
	}
	var wg sync.WaitGroup
	for _, src := range []string{"a/src", "a/other", "a/src", "a/other"} {
		wg.Go(func() {
			if err := d.Copy(ctx, "a/dst", src); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	var names []string
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			names = append(names, filepath.ToSlash(strings.TrimPrefix(p, dir+string(filepath.Separator))))
		}
		return err
	})
	if want := []string{"a/dst", "a/other", "a/src", "b/new"}; err != nil || !slices.Equal(names, want) {
		t.Errorf("files after copies: %v, %v; want %v", names, err, want)
	}
}

func TestOpenURLs(t *testing.T) {
	ctx := context.Background()
	a, err := blockstore.Open(ctx, "mem://shared-test")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := blockstore.Open(ctx, "mem://shared-test")
	if err := a.Put(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if got, err := b.Get(ctx, "k"); err != nil || string(got) != "v" {
		t.Errorf("mem://name is not shared: %q, %v", got, err)
	}
	c, _ := blockstore.Open(ctx, "mem://other-test")
	if _, err := c.Get(ctx, "k"); err == nil {
		t.Error("two named memory stores share objects")
	}
	for _, tc := range []struct{ url, want string }{
		{"s4://bucket", `unknown scheme "s4" (supported: file://, mem://)`},
		{"nonsense", "want scheme://..."},
		{"file://relative/dir", `host "relative" is not allowed`},
		{"file://", "needs an absolute directory"},
		{"mem://x/y", "mem:// or mem://name"},
	} {
		_, err := blockstore.Open(ctx, tc.url)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open(%q) = %v, want an error containing %q", tc.url, err, tc.want)
		}
	}
	for _, key := range []string{"", "/abs", "a/../b", "..", "../a", "a/..", "a/b/../../c"} {
		if err := a.Put(ctx, key, nil); err == nil {
			t.Errorf("Put accepted the bad key %q", key)
		}
	}
	if _, err := a.Get(ctx, "missing"); err == nil || !strings.Contains(err.Error(), "get missing: not found") {
		t.Errorf("Get of a missing key: %v", err)
	}
	if s := a.Stats(); s.Puts.Load() != 1 || s.Gets.Load() != 1 || s.BytesWritten.Load() != 1 {
		t.Errorf("stats: %d puts, %d gets, %d bytes", s.Puts.Load(), s.Gets.Load(), s.BytesWritten.Load())
	}
	for _, key := range []string{"a..b/c", "a/..b", "a/b..", "jobs/x/S/0_1_2.npy"} {
		if err := a.Put(ctx, key, nil); err != nil {
			t.Errorf("Put refused the good key %q: %v", key, err)
		}
	}
}

// A memory store lends a tile's own memory to one borrower at a time:
// while lent, reads say so (ErrLent); given back, the tile is as it was;
// spent, reads say the borrower's outputs are written (ErrSpent); deleted,
// the key is free again. A tile other keys share is lent as a copy.
func TestMemDriverLend(t *testing.T) {
	ctx := context.Background()
	d := blockstore.NewMemDriver()
	s := blockstore.NewStore(d, "mem://")
	if !s.Lends() {
		t.Fatal("the memory store does not lend")
	}
	tile := blas64.General{Rows: 200, Cols: 100, Stride: 100, Data: make([]float64, 20000)}
	for i := range tile.Data {
		tile.Data[i] = float64(i)
	}
	if _, err := s.PutTile(ctx, "a", tile); err != nil {
		t.Fatal(err)
	}
	held, _ := d.Bytes()
	g, _, err := s.LendTile(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(g.Data, tile.Data) {
		t.Fatal("the lent tile differs from the stored one")
	}
	for _, read := range []func() error{
		func() error { _, _, err := s.GetTile(ctx, "a"); return err },
		func() error { _, _, err := s.LendTile(ctx, "a"); return err },
		func() error { return s.Copy(ctx, "b", "a") },
	} {
		if err := read(); !errors.Is(err, blockstore.ErrLent) {
			t.Fatalf("a lent tile read: %v, want ErrLent", err)
		}
	}
	if keys, _ := s.List(ctx, ""); !slices.Equal(keys, []string{"a"}) {
		t.Fatalf("List while lent = %v, want [a]", keys)
	}
	s.ReturnTile("a")
	again, _, err := s.LendTile(ctx, "a")
	if err != nil || &again.Data[0] != &g.Data[0] {
		t.Fatalf("after Return: %v, same memory %v", err, err == nil && &again.Data[0] == &g.Data[0])
	}
	// The borrower computes in the tile and writes it out under its own
	// key, without a copy, then spends the loan.
	for i := range again.Data {
		again.Data[i] = -again.Data[i]
	}
	if _, err := s.AdoptTile(ctx, "out", again); err != nil {
		t.Fatal(err)
	}
	s.SpendTile("a")
	s.ReturnTile("a") // too late: a spent loan stays spent
	if _, _, err := s.GetTile(ctx, "a"); !errors.Is(err, blockstore.ErrSpent) {
		t.Fatalf("a spent tile read: %v, want ErrSpent", err)
	}
	out, _, err := s.GetTile(ctx, "out")
	if err != nil || &out.Data[0] != &g.Data[0] || out.Data[5] != -5 {
		t.Fatalf("the output: %v, written in place %v", err, err == nil && &out.Data[0] == &g.Data[0])
	}
	if now, _ := d.Bytes(); now != held {
		t.Errorf("the store holds %d bytes after the update in place, want %d", now, held)
	}
	if err := s.Delete(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.GetTile(ctx, "a"); !errors.Is(err, blockstore.ErrNotFound) {
		t.Fatalf("a deleted loan read: %v, want ErrNotFound", err)
	}
	// Shared bytes are lent as a copy; the other key keeps the original.
	if err := s.Copy(ctx, "c", "out"); err != nil {
		t.Fatal(err)
	}
	c, _, err := s.LendTile(ctx, "c")
	if err != nil {
		t.Fatal(err)
	}
	c.Data[0] = 42
	if out, _, _ := s.GetTile(ctx, "out"); out.Data[0] == 42 || &c.Data[0] == &out.Data[0] {
		t.Fatal("lending a shared tile lent the bytes another key reads")
	}
	if _, _, err := s.LendTile(ctx, "missing"); !errors.Is(err, blockstore.ErrNotFound) {
		t.Fatalf("lending a missing tile: %v, want ErrNotFound", err)
	}
	files, err := blockstore.Open(ctx, "file://"+t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if files.Lends() {
		t.Error("the file store says it lends")
	}
}

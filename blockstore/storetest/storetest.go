// Package storetest is the conformance suite every tile-store driver
// passes: the methods of blockstore.Driver, the Store's work on top of
// them, and each optional capability (blockstore.Copier, ...) the driver
// has, in a subtest named after it ("Copier/OntoItself").
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/npw-dev/npw/blockstore"
)

// Run checks a driver. newDriver returns a driver on an empty namespace;
// the suite works under a prefix of its own. It logs the capabilities it
// finds and checks each of them; CheckCapabilities pins them down.
func Run(t *testing.T, newDriver func(t *testing.T) blockstore.Driver) {
	ctx := context.Background()
	t.Run("PutGet", func(t *testing.T) {
		d := newDriver(t)
		big := bytes.Repeat([]byte("npw!"), 1<<18) // 1 MiB
		for key, data := range map[string][]byte{"t/a": []byte("hello"), "t/empty": {}, "t/deep/x/y/z.npy": big} {
			if err := d.Put(ctx, key, data); err != nil {
				t.Fatalf("Put(%s): %v", key, err)
			}
			got, err := d.Get(ctx, key)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("Get(%s) = %d bytes, %v; want %d bytes", key, len(got), err, len(data))
			}
		}
	})
	t.Run("PutCopiesData", func(t *testing.T) {
		d := newDriver(t)
		buf := []byte("original")
		if err := d.Put(ctx, "t/copy", buf); err != nil {
			t.Fatal(err)
		}
		copy(buf, "CHANGED!")
		got, err := d.Get(ctx, "t/copy")
		if err != nil || string(got) != "original" {
			t.Fatalf("stored object changed with the caller's buffer: %q, %v", got, err)
		}
	})
	t.Run("Overwrite", func(t *testing.T) {
		d := newDriver(t)
		for _, v := range []string{"one", "two"} {
			if err := d.Put(ctx, "t/k", []byte(v)); err != nil {
				t.Fatal(err)
			}
		}
		if got, _ := d.Get(ctx, "t/k"); string(got) != "two" {
			t.Fatalf("after two Puts, Get = %q", got)
		}
	})
	t.Run("NotFound", func(t *testing.T) {
		d := newDriver(t)
		if _, err := d.Get(ctx, "t/missing"); !errors.Is(err, blockstore.ErrNotFound) {
			t.Fatalf("Get of a missing key: %v, want ErrNotFound", err)
		}
	})
	t.Run("Delete", func(t *testing.T) {
		d := newDriver(t)
		mustPut(t, d, "t/d/1", "t/d/2", "t/d/3")
		if err := d.Delete(ctx, []string{"t/d/1", "t/d/2", "t/d/never"}); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		for _, k := range []string{"t/d/1", "t/d/2"} {
			if _, err := d.Get(ctx, k); !errors.Is(err, blockstore.ErrNotFound) {
				t.Errorf("Get(%s) after Delete: %v", k, err)
			}
		}
		if _, err := d.Get(ctx, "t/d/3"); err != nil {
			t.Errorf("Delete removed a key it was not given: %v", err)
		}
		if err := d.Delete(ctx, []string{"t/d/1"}); err != nil {
			t.Errorf("deleting twice: %v", err)
		}
	})
	t.Run("List", func(t *testing.T) {
		d := newDriver(t)
		mustPut(t, d, "t/l/b/2", "t/l/a", "t/l/b/1", "t/lx/c", "t/l/bc")
		for _, tc := range []struct {
			prefix string
			want   []string
		}{
			{"t/l/", []string{"t/l/a", "t/l/b/1", "t/l/b/2", "t/l/bc"}},
			{"t/l/b", []string{"t/l/b/1", "t/l/b/2", "t/l/bc"}},
			{"t/l/b/", []string{"t/l/b/1", "t/l/b/2"}},
			{"t/l", []string{"t/l/a", "t/l/b/1", "t/l/b/2", "t/l/bc", "t/lx/c"}},
			{"t/nothing/", nil},
		} {
			got, err := d.List(ctx, tc.prefix)
			if err != nil || !slices.Equal(got, tc.want) {
				t.Errorf("List(%q) = %v, %v; want %v", tc.prefix, got, err, tc.want)
			}
		}
	})
	// DeletePrefix and Copy go through the Store: by the driver's
	// capability when it has it (and then also checked below, directly),
	// else by the Store's own listing, reading and writing.
	t.Run("DeletePrefix", func(t *testing.T) {
		s := blockstore.NewStore(newDriver(t), "test")
		mustPut(t, s.Driver(), "t/p/a/1", "t/p/a/2", "t/p/b", "t/pq/c")
		if err := s.DeletePrefix(ctx, "t/p/"); err != nil {
			t.Fatal(err)
		}
		keys, err := s.List(ctx, "t/p")
		if err != nil || !slices.Equal(keys, []string{"t/pq/c"}) {
			t.Errorf("after DeletePrefix(t/p/): %v, %v", keys, err)
		}
		mustPut(t, s.Driver(), "t/p/a/3") // the prefix can be used again
		if keys, _ := s.List(ctx, "t/p/"); !slices.Equal(keys, []string{"t/p/a/3"}) {
			t.Errorf("writing after DeletePrefix: %v", keys)
		}
	})
	t.Run("Copy", func(t *testing.T) {
		s := blockstore.NewStore(newDriver(t), "test")
		if err := s.Put(ctx, "c/src", []byte("tile one")); err != nil {
			t.Fatal(err)
		}
		if err := s.Put(ctx, "c/dst", []byte("old")); err != nil {
			t.Fatal(err)
		}
		for _, dst := range []string{"c/dst", "c/new/deeper"} {
			if err := s.Copy(ctx, dst, "c/src"); err != nil {
				t.Fatalf("Copy(%s, c/src): %v", dst, err)
			}
			if got, err := s.Get(ctx, dst); err != nil || string(got) != "tile one" {
				t.Errorf("after Copy(%s): %q, %v", dst, got, err)
			}
		}
		// The copies are independent of the source's later life.
		if err := s.Put(ctx, "c/src", []byte("tile two")); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(ctx, "c/src"); err != nil {
			t.Fatal(err)
		}
		if got, err := s.Get(ctx, "c/dst"); err != nil || string(got) != "tile one" {
			t.Errorf("copy after the source changed and went: %q, %v", got, err)
		}
		if keys, _ := s.List(ctx, "c/"); !slices.Equal(keys, []string{"c/dst", "c/new/deeper"}) {
			t.Errorf("List after copies: %v", keys)
		}
		if err := s.Copy(ctx, "c/x", "c/missing"); !errors.Is(err, blockstore.ErrNotFound) {
			t.Errorf("Copy of a missing object: %v, want ErrNotFound", err)
		}
	})
	t.Run("Concurrent", func(t *testing.T) {
		d := newDriver(t)
		var wg sync.WaitGroup
		errs := make(chan error, 64)
		for w := range 16 {
			wg.Go(func() {
				for i := range 20 {
					// Goroutines share directories but not keys.
					key := fmt.Sprintf("t/c/%d/%d-%d", w%4, w, i)
					data := []byte(fmt.Sprintf("%d-%d", w, i))
					if err := d.Put(ctx, key, data); err != nil {
						errs <- err
						return
					}
					if _, err := d.Get(ctx, key); err != nil {
						errs <- err
						return
					}
					if i%3 == 0 {
						if err := d.Delete(ctx, []string{key}); err != nil {
							errs <- err
							return
						}
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		keys, err := d.List(ctx, "t/c/")
		if err != nil || len(keys) != 16*13 {
			t.Errorf("after concurrent writes: %d keys, %v; want %d", len(keys), err, 16*13)
		}
	})
	runCapabilities(t, newDriver)
}

func mustPut(t *testing.T, d blockstore.Driver, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if err := d.Put(context.Background(), k, []byte(k)); err != nil {
			t.Fatal(err)
		}
	}
}

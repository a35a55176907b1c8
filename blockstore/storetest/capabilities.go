package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/npw-dev/npw/blockstore"
)

// A capability is an optional interface of drivers, with the subtests
// that check a driver that has it.
type capability struct {
	name string
	has  func(blockstore.Driver) bool
	test func(t *testing.T, newDriver func(t *testing.T) blockstore.Driver)
}

// capabilities are in the order of the table at blockstore.Driver.
var capabilities = []capability{
	{"Copier", is[blockstore.Copier], testCopier},
	{"PrefixDeleter", is[blockstore.PrefixDeleter], testPrefixDeleter},
	{"FreshReader", is[blockstore.FreshReader], testFreshReader},
	{"Lender", is[blockstore.Lender], testLender},
	{"Adopter", is[blockstore.Adopter], testAdopter},
	{"RequestCounter", is[blockstore.RequestCounter], testRequestCounter},
	{"RangeReader", is[blockstore.RangeReader], testRangeReader},
}

func is[I any](d blockstore.Driver) bool {
	_, ok := d.(I)
	return ok
}

// Capabilities returns the names of the capability interfaces d
// implements ("Copier", "Lender", ...).
func Capabilities(d blockstore.Driver) []string {
	var names []string
	for _, c := range capabilities {
		if c.has(d) {
			names = append(names, c.name)
		}
	}
	return names
}

// CheckCapabilities fails unless d has exactly the capabilities named:
// a driver that lost one would otherwise pass the suite without the
// subtests of it.
func CheckCapabilities(t *testing.T, d blockstore.Driver, want ...string) {
	t.Helper()
	if got := Capabilities(d); !slices.Equal(got, want) {
		t.Errorf("%T has the capabilities %v, want %v", d, got, want)
	}
}

// runCapabilities runs the subtests of every capability the driver has.
func runCapabilities(t *testing.T, newDriver func(t *testing.T) blockstore.Driver) {
	d := newDriver(t)
	names := Capabilities(d)
	if len(names) == 0 {
		names = []string{"none"}
	}
	t.Logf("%T capabilities: %s", d, strings.Join(names, ", "))
	for _, c := range capabilities {
		if c.has(d) {
			t.Run(c.name, func(t *testing.T) { c.test(t, newDriver) })
		}
	}
}

// as returns a new driver and its capability I.
func as[I any](t *testing.T, newDriver func(t *testing.T) blockstore.Driver) (blockstore.Driver, I) {
	t.Helper()
	d := newDriver(t)
	c, ok := d.(I)
	if !ok {
		t.Fatalf("%T lost a capability it had: %T", d, c)
	}
	return d, c
}

func testCopier(t *testing.T, newDriver func(t *testing.T) blockstore.Driver) {
	ctx := context.Background()
	t.Run("Independent", func(t *testing.T) {
		d, c := as[blockstore.Copier](t, newDriver)
		put(t, d, "c/src", "tile one")
		put(t, d, "c/dst", "old")
		for _, dst := range []string{"c/dst", "c/new/deeper"} {
			if err := c.Copy(ctx, dst, "c/src"); err != nil {
				t.Fatalf("Copy(%s, c/src): %v", dst, err)
			}
			wantObject(t, d, dst, "tile one")
		}
		// Neither the source nor a copy sees the other's later writes.
		put(t, d, "c/src", "tile two")
		wantObject(t, d, "c/dst", "tile one")
		put(t, d, "c/dst", "tile three")
		wantObject(t, d, "c/src", "tile two")
		wantObject(t, d, "c/new/deeper", "tile one")
		// Nor does a copy go with its source.
		if err := d.Delete(ctx, []string{"c/src"}); err != nil {
			t.Fatal(err)
		}
		wantObject(t, d, "c/dst", "tile three")
		wantObject(t, d, "c/new/deeper", "tile one")
		wantList(t, d, "c/", "c/dst", "c/new/deeper")
	})
	t.Run("MissingSource", func(t *testing.T) {
		d, c := as[blockstore.Copier](t, newDriver)
		if err := c.Copy(ctx, "c/x", "c/missing"); !errors.Is(err, blockstore.ErrNotFound) {
			t.Errorf("Copy of a missing object: %v, want ErrNotFound", err)
		}
		wantMissing(t, d, "c/x")
	})
	t.Run("OntoItself", func(t *testing.T) {
		d, c := as[blockstore.Copier](t, newDriver)
		put(t, d, "c/k", "itself")
		if err := c.Copy(ctx, "c/k", "c/k"); err != nil {
			t.Fatalf("Copy(c/k, c/k): %v", err)
		}
		wantObject(t, d, "c/k", "itself")
		wantList(t, d, "c/", "c/k")
		if err := c.Copy(ctx, "c/none", "c/none"); !errors.Is(err, blockstore.ErrNotFound) {
			t.Errorf("Copy of a missing object onto itself: %v, want ErrNotFound", err)
		}
	})
	t.Run("Concurrent", func(t *testing.T) {
		// Copies onto one key race; one of them wins whole.
		d, c := as[blockstore.Copier](t, newDriver)
		var srcs, values []string
		for i := range 8 {
			srcs = append(srcs, fmt.Sprintf("c/src%d", i))
			values = append(values, fmt.Sprintf("value %d", i))
			put(t, d, srcs[i], values[i])
		}
		var wg sync.WaitGroup
		errs := make(chan error, len(srcs)*4)
		for _, src := range srcs {
			wg.Go(func() {
				for range 4 {
					if err := c.Copy(ctx, "c/dst", src); err != nil {
						errs <- fmt.Errorf("Copy(c/dst, %s): %w", src, err)
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if got, err := d.Get(ctx, "c/dst"); err != nil || !slices.Contains(values, string(got)) {
			t.Errorf("after racing copies, c/dst = %q, %v; want one of the sources", got, err)
		}
		wantList(t, d, "c/", append(srcs, "c/dst")...)
	})
}

func testPrefixDeleter(t *testing.T, newDriver func(t *testing.T) blockstore.Driver) {
	ctx := context.Background()
	t.Run("Directory", func(t *testing.T) {
		d, pd := as[blockstore.PrefixDeleter](t, newDriver)
		mustPut(t, d, "t/p/a/1", "t/p/a/2", "t/p/b", "t/pq/c", "t/other")
		if err := pd.DeletePrefix(ctx, "t/p/"); err != nil {
			t.Fatal(err)
		}
		wantList(t, d, "t/", "t/other", "t/pq/c")
		wantMissing(t, d, "t/p/a/1")
		mustPut(t, d, "t/p/a/3") // the prefix can be used again
		wantList(t, d, "t/p/", "t/p/a/3")
	})
	t.Run("PartOfAName", func(t *testing.T) {
		d, pd := as[blockstore.PrefixDeleter](t, newDriver)
		mustPut(t, d, "t/q/a", "t/q/b1", "t/q/b2/x", "t/qb")
		if err := pd.DeletePrefix(ctx, "t/q/b"); err != nil {
			t.Fatal(err)
		}
		wantList(t, d, "t/", "t/q/a", "t/qb")
	})
	t.Run("Empty", func(t *testing.T) {
		d, pd := as[blockstore.PrefixDeleter](t, newDriver)
		mustPut(t, d, "t/kept")
		if err := pd.DeletePrefix(ctx, "t/none/"); err != nil {
			t.Errorf("deleting a prefix that holds nothing: %v", err)
		}
		wantList(t, d, "t/", "t/kept")
	})
}

func testFreshReader(t *testing.T, newDriver func(t *testing.T) blockstore.Driver) {
	ctx := context.Background()
	d, f := as[blockstore.FreshReader](t, newDriver)
	if !f.FreshReads() {
		t.Skipf("%T.FreshReads is false: its reads may share memory", d)
	}
	put(t, d, "f/k", "fresh bytes")
	a, err := d.Get(ctx, "f/k")
	if err != nil {
		t.Fatal(err)
	}
	b, err := d.Get(ctx, "f/k")
	if err != nil {
		t.Fatal(err)
	}
	if &a[0] == &b[0] {
		t.Fatal("two reads returned the same buffer")
	}
	for i := range a {
		a[i] = 'X'
	}
	if string(b) != "fresh bytes" {
		t.Errorf("writing into one read changed another: %q", b)
	}
	wantObject(t, d, "f/k", "fresh bytes")
}

func testLender(t *testing.T, newDriver func(t *testing.T) blockstore.Driver) {
	ctx := context.Background()
	t.Run("Lend", func(t *testing.T) {
		d, l := as[blockstore.Lender](t, newDriver)
		put(t, d, "l/k", "lent bytes")
		buf, err := l.Lend("l/k")
		if err != nil || string(buf) != "lent bytes" {
			t.Fatalf("Lend = %q, %v", buf, err)
		}
		if _, err := d.Get(ctx, "l/k"); !errors.Is(err, blockstore.ErrLent) {
			t.Errorf("Get of a lent object: %v, want ErrLent", err)
		}
		if _, err := l.Lend("l/k"); !errors.Is(err, blockstore.ErrLent) {
			t.Errorf("lending a lent object again: %v, want ErrLent", err)
		}
		if c, ok := d.(blockstore.Copier); ok {
			if err := c.Copy(ctx, "l/copy", "l/k"); !errors.Is(err, blockstore.ErrLent) {
				t.Errorf("Copy of a lent object: %v, want ErrLent", err)
			}
		}
		wantList(t, d, "l/", "l/k") // listed, so that deleting a prefix ends the loan
	})
	t.Run("Return", func(t *testing.T) {
		d, l := as[blockstore.Lender](t, newDriver)
		put(t, d, "l/k", "lent bytes")
		if _, err := l.Lend("l/k"); err != nil {
			t.Fatal(err)
		}
		l.Return("l/k")
		wantObject(t, d, "l/k", "lent bytes")
		buf, err := l.Lend("l/k")
		if err != nil || string(buf) != "lent bytes" {
			t.Fatalf("Lend after Return = %q, %v", buf, err)
		}
	})
	t.Run("Spend", func(t *testing.T) {
		d, l := as[blockstore.Lender](t, newDriver)
		put(t, d, "l/k", "lent bytes")
		if _, err := l.Lend("l/k"); err != nil {
			t.Fatal(err)
		}
		l.Spend("l/k")
		l.Return("l/k") // too late: a spent loan stays spent
		if _, err := d.Get(ctx, "l/k"); !errors.Is(err, blockstore.ErrSpent) {
			t.Errorf("Get of a spent object: %v, want ErrSpent", err)
		}
		if _, err := l.Lend("l/k"); !errors.Is(err, blockstore.ErrSpent) {
			t.Errorf("lending a spent object: %v, want ErrSpent", err)
		}
		wantList(t, d, "l/", "l/k")
		if err := d.Delete(ctx, []string{"l/k"}); err != nil {
			t.Fatal(err)
		}
		wantMissing(t, d, "l/k")
		put(t, d, "l/k", "new bytes")
		wantObject(t, d, "l/k", "new bytes")
	})
	t.Run("DeleteEndsLoan", func(t *testing.T) {
		d, l := as[blockstore.Lender](t, newDriver)
		put(t, d, "l/k", "lent bytes")
		if _, err := l.Lend("l/k"); err != nil {
			t.Fatal(err)
		}
		if err := d.Delete(ctx, []string{"l/k"}); err != nil {
			t.Fatal(err)
		}
		wantMissing(t, d, "l/k")
		if _, err := l.Lend("l/k"); !errors.Is(err, blockstore.ErrNotFound) {
			t.Errorf("lending a deleted loan: %v, want ErrNotFound", err)
		}
		l.Return("l/k") // the loan is over: nothing comes back
		wantMissing(t, d, "l/k")
		wantList(t, d, "l/")
	})
	t.Run("Shared", func(t *testing.T) {
		d, l := as[blockstore.Lender](t, newDriver)
		c, ok := d.(blockstore.Copier)
		if !ok {
			t.Skipf("%T is not a Copier: no two keys share bytes", d)
		}
		put(t, d, "l/a", "shared bytes")
		for _, dst := range []string{"l/b", "l/c"} {
			if err := c.Copy(ctx, dst, "l/a"); err != nil {
				t.Fatal(err)
			}
		}
		// The borrower of a copy updates memory of its own.
		buf, err := l.Lend("l/b")
		if err != nil || string(buf) != "shared bytes" {
			t.Fatalf("Lend of a copy = %q, %v", buf, err)
		}
		copy(buf, "UPDATED")
		wantObject(t, d, "l/a", "shared bytes")
		wantObject(t, d, "l/c", "shared bytes")
		l.Spend("l/b")
		// And so does the borrower of the source of copies.
		buf, err = l.Lend("l/a")
		if err != nil || string(buf) != "shared bytes" {
			t.Fatalf("Lend of a copied object = %q, %v", buf, err)
		}
		copy(buf, "UPDATED")
		wantObject(t, d, "l/c", "shared bytes")
	})
	t.Run("Missing", func(t *testing.T) {
		_, l := as[blockstore.Lender](t, newDriver)
		if _, err := l.Lend("l/missing"); !errors.Is(err, blockstore.ErrNotFound) {
			t.Errorf("lending a missing object: %v, want ErrNotFound", err)
		}
	})
}

func testAdopter(t *testing.T, newDriver func(t *testing.T) blockstore.Driver) {
	ctx := context.Background()
	d, a := as[blockstore.Adopter](t, newDriver)
	for _, v := range []string{"adopted", "replaced"} {
		if err := a.Adopt(ctx, "a/k", []byte(v)); err != nil {
			t.Fatalf("Adopt(%q): %v", v, err)
		}
		wantObject(t, d, "a/k", v)
	}
	for _, empty := range [][]byte{nil, {}} {
		if err := a.Adopt(ctx, "a/empty", empty); err != nil {
			t.Fatalf("Adopt(%#v): %v", empty, err)
		}
		wantObject(t, d, "a/empty", "")
	}
	wantList(t, d, "a/", "a/empty", "a/k")
}

func testRequestCounter(t *testing.T, newDriver func(t *testing.T) blockstore.Driver) {
	ctx := context.Background()
	d, rc := as[blockstore.RequestCounter](t, newDriver)
	n := rc.Requests()
	step := func(what string, do func() error) {
		t.Helper()
		if err := do(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if m := rc.Requests(); m <= n {
			t.Errorf("%s: the request count went from %d to %d", what, n, m)
		} else {
			n = m
		}
	}
	step("Put", func() error { return d.Put(ctx, "r/k", []byte("v")) })
	step("Get", func() error { _, err := d.Get(ctx, "r/k"); return err })
	step("List", func() error { _, err := d.List(ctx, "r/"); return err })
	if c, ok := d.(blockstore.Copier); ok {
		step("Copy", func() error { return c.Copy(ctx, "r/c", "r/k") })
	}
	step("Delete", func() error { return d.Delete(ctx, []string{"r/k", "r/c"}) })
	if got := blockstore.NewStore(d, "test").Requests(); got != n {
		t.Errorf("Store.Requests = %d, want the driver's count %d", got, n)
	}
}

func testRangeReader(t *testing.T, newDriver func(t *testing.T) blockstore.Driver) {
	ctx := context.Background()
	d, r := as[blockstore.RangeReader](t, newDriver)
	const value = "0123456789abcdef"
	put(t, d, "g/k", value)
	for _, c := range []struct{ off, n int }{{0, 16}, {0, 1}, {5, 7}, {15, 1}, {16, 0}, {3, 0}} {
		p := bytes.Repeat([]byte{'-'}, c.n)
		if err := r.ReadRange(ctx, "g/k", int64(c.off), p); err != nil {
			t.Errorf("ReadRange(%d, %d): %v", c.off, c.n, err)
		} else if want := value[c.off : c.off+c.n]; string(p) != want {
			t.Errorf("ReadRange(%d, %d) = %q, want %q", c.off, c.n, p, want)
		}
	}
	for _, c := range []struct{ off, n int }{{10, 7}, {16, 1}, {100, 4}} {
		if err := r.ReadRange(ctx, "g/k", int64(c.off), make([]byte, c.n)); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("ReadRange(%d, %d) past the end of 16 bytes: %v, want io.ErrUnexpectedEOF", c.off, c.n, err)
		}
	}
	for _, n := range []int{0, 4} {
		if err := r.ReadRange(ctx, "g/missing", 0, make([]byte, n)); !errors.Is(err, blockstore.ErrNotFound) {
			t.Errorf("ReadRange of a missing key (%d bytes): %v, want ErrNotFound", n, err)
		}
	}
	// Store.ReadRange counts the read and refuses a negative offset.
	s := blockstore.NewStore(d, "test")
	p := make([]byte, 4)
	if err := s.ReadRange(ctx, "g/k", 2, p); err != nil || string(p) != "2345" {
		t.Errorf("Store.ReadRange = %q, %v", p, err)
	}
	if st := s.Stats(); st.Gets.Load() != 1 || st.BytesRead.Load() != 4 {
		t.Errorf("Store.ReadRange counted %d gets and %d bytes, want 1 and 4", st.Gets.Load(), st.BytesRead.Load())
	}
	if err := s.ReadRange(ctx, "g/k", -1, p); err == nil {
		t.Error("Store.ReadRange at offset -1 did not fail")
	}
}

func put(t *testing.T, d blockstore.Driver, key, value string) {
	t.Helper()
	if err := d.Put(context.Background(), key, []byte(value)); err != nil {
		t.Fatalf("Put(%s): %v", key, err)
	}
}

func wantObject(t *testing.T, d blockstore.Driver, key, want string) {
	t.Helper()
	got, err := d.Get(context.Background(), key)
	if err != nil || !bytes.Equal(got, []byte(want)) {
		t.Errorf("Get(%s) = %q, %v; want %q", key, got, err, want)
	}
}

func wantMissing(t *testing.T, d blockstore.Driver, key string) {
	t.Helper()
	if got, err := d.Get(context.Background(), key); !errors.Is(err, blockstore.ErrNotFound) {
		t.Errorf("Get(%s) = %q, %v; want ErrNotFound", key, got, err)
	}
}

func wantList(t *testing.T, d blockstore.Driver, prefix string, want ...string) {
	t.Helper()
	want = slices.Sorted(slices.Values(want))
	got, err := d.List(context.Background(), prefix)
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("List(%q) = %v, %v; want %v", prefix, got, err, want)
	}
}

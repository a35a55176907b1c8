package blockstore_test

import (
	"context"
	"strings"
	"testing"

	"github.com/npw-dev/npw/blockstore"
	"github.com/npw-dev/npw/blockstore/storetest"
)

func TestMemDriver(t *testing.T) {
	storetest.Run(t, func(t *testing.T) blockstore.Driver { return blockstore.NewMemDriver() })
}

func TestFileDriver(t *testing.T) {
	storetest.Run(t, func(t *testing.T) blockstore.Driver {
		s, err := blockstore.Open(context.Background(), "file://"+t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return s.Driver()
	})
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
	for _, key := range []string{"", "/abs", "a/../b"} {
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
}

package s3store_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/npw-dev/npw/blockstore"
	_ "github.com/npw-dev/npw/blockstore/s3store"
	"github.com/npw-dev/npw/blockstore/storetest"
	"github.com/npw-dev/npw/internal/localcloud"
	"github.com/npw-dev/npw/internal/tilebuf"
)

func TestMain(m *testing.M) { localcloud.Main(m) }

// fresh returns the local cloud's store URL with a prefix of its own.
func fresh(t *testing.T) string {
	t.Helper()
	c := localcloud.Get(t)
	u, err := url.Parse(c.Store)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = fmt.Sprintf("/test-%d", rand.Uint64())
	return u.String()
}

// open opens a store under a fresh prefix, emptied when the test ends.
func open(t *testing.T) *blockstore.Store {
	t.Helper()
	s, err := blockstore.Open(context.Background(), fresh(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { clear(s.Driver()) })
	return s
}

// clear deletes everything under the driver's prefix.
func clear(d blockstore.Driver) {
	ctx := context.Background()
	if keys, err := d.List(ctx, ""); err == nil {
		d.Delete(ctx, keys)
	}
}

func TestS3Driver(t *testing.T) {
	newDriver := func(t *testing.T) blockstore.Driver { return open(t).Driver() }
	storetest.CheckCapabilities(t, newDriver(t), "Copier", "FreshReader", "RequestCounter", "RangeReader")
	storetest.Run(t, newDriver)
}

// TestTiles moves a matrix through MinIO as .npy tiles, in parallel.
func TestTiles(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	keys := map[string]int{}
	for i := range 3 {
		for j := range 3 {
			keys[fmt.Sprintf("jobs/x/A/%d_%d.npy", i, j)] = i*3 + j
		}
	}
	for k, v := range keys {
		if err := s.Put(ctx, k, []byte(fmt.Sprint(v))); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.List(ctx, "jobs/x/")
	if err != nil || len(got) != 9 {
		t.Fatalf("list: %v, %v", got, err)
	}
}

func TestOpenErrors(t *testing.T) {
	c := localcloud.Get(t)
	u, _ := url.Parse(c.Store)
	endpoint := u.Query().Get("endpoint")
	for _, tc := range []struct {
		name, url, want string
		env             map[string]string
	}{
		{"no bucket", "s3:///x", "no bucket", nil},
		{"missing bucket", "s3://no-such-bucket-npw/?endpoint=" + endpoint, "bucket no-such-bucket-npw does not exist", nil},
		{"unreachable", "s3://npw/?endpoint=http://127.0.0.1:1", "cannot reach S3 for bucket npw", nil},
		{"bad credentials", c.Store, "access denied (check the AWS credentials", map[string]string{"AWS_SECRET_ACCESS_KEY": "wrong"}},
		{"bad endpoint", "s3://npw/?endpoint=127.0.0.1:9", "want http(s)://host:port", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			start := time.Now()
			_, err := blockstore.Open(context.Background(), tc.url)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Open(%s) = %v, want %q", tc.url, err, tc.want)
			}
			if d := time.Since(start); d > 15*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}

// A tile read from S3 is the reader's: updated in place and written back
// (from the same buffer: blockstore's TestPrivateReads), it leaves the
// stored tile it was read from untouched.
func TestPrivateTiles(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	if !s.PrivateReads() {
		t.Fatal("S3 reads are not private")
	}
	g := tilebuf.New(100, 200)
	for i := range g.Data {
		g.Data[i] = float64(i)
	}
	if _, err := s.AdoptTile(ctx, "a", g); err != nil {
		t.Fatal(err)
	}
	r, _, err := s.GetTile(ctx, "a")
	if err != nil || !slices.Equal(r.Data, g.Data) {
		t.Fatalf("GetTile: %v", err)
	}
	r.Data[0] = -1 // an update in place; the stored tile is untouched
	if _, err := s.AdoptTile(ctx, "b", r); err != nil {
		t.Fatal(err)
	}
	a, _, err := s.GetTile(ctx, "a")
	if err != nil || a.Data[0] != 0 {
		t.Fatalf("a after updating a read of it: %v", err)
	}
	b, _, err := s.GetTile(ctx, "b")
	if err != nil || b.Data[0] != -1 || !slices.Equal(b.Data[1:], g.Data[1:]) {
		t.Fatalf("b: %v", err)
	}
}

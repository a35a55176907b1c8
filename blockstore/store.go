// Package blockstore stores matrices as tiles in an object store. A
// driver (memory, local files, S3) stores opaque objects under keys; the
// portable Store on top validates keys, wraps errors with the key, counts
// requests and bytes, and encodes tiles as NumPy .npy files, so that
// Python can np.load any tile. A BigMatrix names the tiles of one matrix
// of a job, and Upload and Assemble move whole matrices in and out in
// parallel.
//
// Drivers register a URL scheme: mem:// (in this process; mem://name
// shares a named store), file:///abs/dir, and s3:// with blockstore/s3store.
// Beyond the methods of Driver, a driver may have optional capabilities
// (Copier, PrefixDeleter, FreshReader, Lender, Adopter, RequestCounter),
// which the Store uses when they are there; driver.go declares them, and
// the doc of Driver says which driver has which. Every driver passes the
// suite in blockstore/storetest, which also checks each capability it has.
package blockstore

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"

	"gonum.org/v1/gonum/blas/blas64"

	"github.com/npw-dev/npw/internal/tilebuf"

	"github.com/npw-dev/npw/internal/secret"
)

// Open opens the tile store at a URL such as mem:// or file:///data/npw.
func Open(ctx context.Context, rawurl string) (*Store, error) {
	open, u, err := openers.Lookup(rawurl)
	if err != nil {
		return nil, err
	}
	d, err := open(ctx, u)
	if err != nil {
		return nil, secret.Wrap(fmt.Errorf("tile store %s: %w", rawurl, err), rawurl)
	}
	return &Store{driver: d, url: rawurl}, nil
}

// NewStore wraps a driver.
func NewStore(d Driver, url string) *Store { return &Store{driver: d, url: url} }

// A Store is a tile store. It is safe for concurrent use.
type Store struct {
	driver Driver
	url    string
	stats  Stats
}

// Stats counts a store's traffic.
type Stats struct {
	Gets, Puts, Deletes, Lists, Copies atomic.Int64
	BytesRead, BytesWritten            atomic.Int64
}

// URL returns the URL the store was opened with.
func (s *Store) URL() string { return s.url }

// Requests counts the requests made to the service: the driver's count
// when it keeps one, else one per object read, written, deleted or list.
func (s *Store) Requests() int64 {
	if rc, ok := s.driver.(RequestCounter); ok {
		return rc.Requests()
	}
	st := &s.stats
	return st.Gets.Load() + st.Puts.Load() + st.Deletes.Load() + st.Lists.Load() + st.Copies.Load()
}

// PutRequests counts the requests of the higher price class (PUT, COPY,
// POST, LIST): the driver's count when it keeps one, else one per object
// written or copied and per list.
func (s *Store) PutRequests() int64 {
	if pc, ok := s.driver.(ClassCounter); ok {
		return pc.PutRequests()
	}
	st := &s.stats
	return st.Puts.Load() + st.Copies.Load() + st.Lists.Load()
}

// GetRequests counts the requests of the lower price class (GET, HEAD):
// the driver's count when it keeps one, else one per object read.
func (s *Store) GetRequests() int64 {
	if pc, ok := s.driver.(ClassCounter); ok {
		return pc.GetRequests()
	}
	return s.stats.Gets.Load()
}

// Stats returns the traffic counters.
func (s *Store) Stats() *Stats { return &s.stats }

// Driver returns the underlying driver.
func (s *Store) Driver() Driver { return s.driver }

func checkKey(key string) error {
	if key == "" || strings.HasPrefix(key, "/") || hasDotDot(key) {
		return fmt.Errorf("bad key %q", key)
	}
	return nil
}

// hasDotDot reports whether a segment of key is "..". It runs on every
// request, so it walks the key in place instead of splitting it.
func hasDotDot(key string) bool {
	for {
		seg, rest, more := strings.Cut(key, "/")
		if seg == ".." {
			return true
		}
		if !more {
			return false
		}
		key = rest
	}
}

// Get returns the object under key.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	s.stats.Gets.Add(1)
	data, err := s.driver.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", key, err)
	}
	s.stats.BytesRead.Add(int64(len(data)))
	return data, nil
}

// Put stores data under key.
func (s *Store) Put(ctx context.Context, key string, data []byte) error {
	return s.put(ctx, key, data, s.driver.Put)
}

// put writes data with one of the driver's write methods, counting it.
func (s *Store) put(ctx context.Context, key string, data []byte, write func(context.Context, string, []byte) error) error {
	if err := checkKey(key); err != nil {
		return err
	}
	s.stats.Puts.Add(1)
	if err := write(ctx, key, data); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	s.stats.BytesWritten.Add(int64(len(data)))
	return nil
}

// Copy stores the object under src also under dst: by the driver when it
// is a Copier, else by reading and writing the bytes as they are.
func (s *Store) Copy(ctx context.Context, dst, src string) error {
	if err := checkKey(dst); err != nil {
		return err
	}
	if err := checkKey(src); err != nil {
		return err
	}
	c, ok := s.driver.(Copier)
	if !ok {
		data, err := s.Get(ctx, src)
		if err != nil {
			return err
		}
		return s.Put(ctx, dst, data)
	}
	s.stats.Copies.Add(1)
	if err := c.Copy(ctx, dst, src); err != nil {
		return fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	return nil
}

// Delete removes objects; missing keys are not an error.
func (s *Store) Delete(ctx context.Context, keys ...string) error {
	for _, k := range keys {
		if err := checkKey(k); err != nil {
			return err
		}
	}
	if len(keys) == 0 {
		return nil
	}
	s.stats.Deletes.Add(int64(len(keys)))
	if err := s.driver.Delete(ctx, keys); err != nil {
		return fmt.Errorf("delete %s...: %w", keys[0], err)
	}
	return nil
}

// List returns the keys under prefix, sorted.
func (s *Store) List(ctx context.Context, prefix string) ([]string, error) {
	s.stats.Lists.Add(1)
	keys, err := s.driver.List(ctx, prefix)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", prefix, err)
	}
	return keys, nil
}

// DeletePrefix removes every object under prefix.
func (s *Store) DeletePrefix(ctx context.Context, prefix string) error {
	if err := checkKey(strings.TrimSuffix(prefix, "/")); err != nil {
		return err
	}
	if pd, ok := s.driver.(PrefixDeleter); ok {
		s.stats.Deletes.Add(1)
		if err := pd.DeletePrefix(ctx, prefix); err != nil {
			return fmt.Errorf("delete %s: %w", prefix, err)
		}
		return nil
	}
	keys, err := s.List(ctx, prefix)
	if err != nil {
		return err
	}
	for len(keys) > 0 {
		n := min(len(keys), 1000)
		if err := s.Delete(ctx, keys[:n]...); err != nil {
			return err
		}
		keys = keys[n:]
	}
	return nil
}

// GetTile reads and decodes a tile; it also returns its encoded size. The
// tile may share memory with the store (ViewTile): callers only read it,
// unless PrivateReads says the memory is theirs.
func (s *Store) GetTile(ctx context.Context, key string) (blas64.General, int, error) {
	data, err := s.Get(ctx, key)
	if err != nil {
		return blas64.General{}, 0, err
	}
	g, err := ViewTile(data)
	if err != nil {
		return blas64.General{}, 0, fmt.Errorf("tile %s: %w", key, err)
	}
	if s.PrivateReads() {
		tilebuf.Adopt(data, g) // written back without a copy if updated in place
	}
	return g, len(data), nil
}

// RangeReads says whether the store reads byte ranges of objects
// (ReadRange).
func (s *Store) RangeReads() bool {
	_, ok := s.driver.(RangeReader)
	return ok
}

// ReadRange reads len(p) bytes of the object under key from byte off
// into p (see RangeReader); without a RangeReader driver it fails.
func (s *Store) ReadRange(ctx context.Context, key string, off int64, p []byte) error {
	r, ok := s.driver.(RangeReader)
	if !ok {
		return fmt.Errorf("get %s: the store %s does not read byte ranges", key, s.url)
	}
	if err := checkKey(key); err != nil {
		return err
	}
	if off < 0 {
		return fmt.Errorf("get %s: negative offset %d", key, off)
	}
	s.stats.Gets.Add(1)
	if err := r.ReadRange(ctx, key, off, p); err != nil {
		return fmt.Errorf("get %s (bytes %d–%d): %w", key, off, off+int64(len(p)), err)
	}
	s.stats.BytesRead.Add(int64(len(p)))
	return nil
}

// PrivateReads says whether every tile GetTile returns is the caller's
// own memory, which a kernel may then update in place.
func (s *Store) PrivateReads() bool {
	f, ok := s.driver.(FreshReader)
	return ok && f.FreshReads()
}

// Lends says whether the store can lend tiles (LendTile).
func (s *Store) Lends() bool {
	_, ok := s.driver.(Lender)
	return ok
}

// LendTile lends the tile under key to a task that updates it in place
// (see Lender); the tile is the task's to update and, once updated, to
// write as its output without a copy. It also returns the encoded size.
// Without a Lender driver it fails.
func (s *Store) LendTile(_ context.Context, key string) (blas64.General, int, error) {
	l, ok := s.driver.(Lender)
	if !ok {
		return blas64.General{}, 0, fmt.Errorf("lend %s: the store %s does not lend tiles", key, s.url)
	}
	if err := checkKey(key); err != nil {
		return blas64.General{}, 0, err
	}
	s.stats.Gets.Add(1)
	data, err := l.Lend(key)
	if err != nil {
		return blas64.General{}, 0, fmt.Errorf("lend %s: %w", key, err)
	}
	g, err := ViewTile(data)
	if err != nil {
		l.Return(key)
		return blas64.General{}, 0, fmt.Errorf("tile %s: %w", key, err)
	}
	s.stats.BytesRead.Add(int64(len(data)))
	tilebuf.Adopt(data, g)
	return g, len(data), nil
}

// ReturnTile gives back a tile lent by LendTile, unmodified.
func (s *Store) ReturnTile(key string) {
	if l, ok := s.driver.(Lender); ok {
		l.Return(key)
	}
}

// SpendTile ends the loan of a tile its borrower updated and wrote out.
func (s *Store) SpendTile(key string) {
	if l, ok := s.driver.(Lender); ok {
		l.Spend(key)
	}
}

// PutTile encodes and writes a tile; it returns the encoded size.
func (s *Store) PutTile(ctx context.Context, key string, g blas64.General) (int, error) {
	return s.putOwned(ctx, key, EncodeTile(g))
}

// putOwned writes an encoded tile that is this call's to give away: an
// Adopter keeps it instead of a copy.
func (s *Store) putOwned(ctx context.Context, key string, data []byte) (int, error) {
	write := s.driver.Put
	if a, ok := s.driver.(Adopter); ok {
		write = a.Adopt
	}
	return len(data), s.put(ctx, key, data, write)
}

// AdoptTile is PutTile for a tile the caller hands over and never modifies
// again, such as a kernel's output: a tile allocated by tilebuf.New (as
// kernels.NewTile does) already lies in its own .npy buffer, which is
// written as it is, without a copy (and kept by a memory store).
func (s *Store) AdoptTile(ctx context.Context, key string, g blas64.General) (int, error) {
	data, ok := tilebuf.Encoded(g, tileHeader)
	if !ok {
		data = EncodeTile(g)
	}
	return s.putOwned(ctx, key, data)
}

// Close releases the driver.
func (s *Store) Close() error { return s.driver.Close() }

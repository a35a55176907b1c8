package blockstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/npw-dev/npw/internal/registry"
)

func init() {
	Register("mem", openMem)
	Register("file", openFile)
}

// Memory stores live in this process; mem://name names one, so that every
// opener of the same URL shares it. mem:// is the store named "".
var memStores registry.Instances[*MemDriver]

func openMem(_ context.Context, u *url.URL) (Driver, error) {
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" {
		return nil, fmt.Errorf("a memory store URL is mem:// or mem://name")
	}
	return memStores.Get(u.Host, NewMemDriver), nil
}

// The capabilities of each driver (see Driver).
var (
	_ Copier  = (*MemDriver)(nil)
	_ Lender  = (*MemDriver)(nil)
	_ Adopter = (*MemDriver)(nil)

	_ Copier        = (*FileDriver)(nil)
	_ FreshReader   = (*FileDriver)(nil)
	_ PrefixDeleter = (*FileDriver)(nil)
)

// A MemDriver keeps objects in a map. It tracks the bytes it holds and
// their peak.
type MemDriver struct {
	mu      sync.RWMutex
	objects map[string][]byte
	shared  map[string]bool  // keys whose bytes another key shares (Copy)
	loans   map[string]*loan // objects lent out (Lend), by key
	bytes   int64
	peak    int64
}

// A loan is an object lent to a task: its bytes as they were, to give
// back, until the task spends it.
type loan struct {
	orig  []byte
	spent bool
}

// NewMemDriver returns an empty memory driver.
func NewMemDriver() *MemDriver {
	return &MemDriver{objects: map[string][]byte{}, shared: map[string]bool{}, loans: map[string]*loan{}}
}

// Get implements Driver.
func (m *MemDriver) Get(_ context.Context, key string) ([]byte, error) {
	m.mu.RLock()
	data, ok := m.objects[key]
	l := m.loans[key]
	m.mu.RUnlock()
	if !ok {
		return nil, l.err()
	}
	return data, nil
}

// ReadRange implements RangeReader.
func (m *MemDriver) ReadRange(_ context.Context, key string, off int64, p []byte) error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	data, ok := m.objects[key]
	switch {
	case !ok:
		return m.loans[key].err()
	case off < 0 || off > int64(len(data)) || int64(len(p)) > int64(len(data))-off:
		return io.ErrUnexpectedEOF
	}
	copy(p, data[off:])
	return nil
}

func (l *loan) err() error {
	switch {
	case l == nil:
		return ErrNotFound
	case l.spent:
		return ErrSpent
	default:
		return ErrLent
	}
}

// Lend implements Lender: the object leaves the map for the loans, and
// the caller gets memory of its own to update: the object's bytes, or a
// copy of them when another key shares them.
func (m *MemDriver) Lend(key string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	data, ok := m.objects[key]
	if !ok {
		return nil, m.loans[key].err()
	}
	delete(m.objects, key)
	m.loans[key] = &loan{orig: data}
	if m.shared[key] {
		return slices.Clone(data), nil
	}
	return data, nil
}

// Return implements Lender: an unspent loan's object is back as it was.
func (m *MemDriver) Return(key string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if l := m.loans[key]; l != nil && !l.spent {
		m.objects[key] = l.orig
		delete(m.loans, key)
	}
}

// Spend implements Lender: the loan's bytes are gone.
func (m *MemDriver) Spend(key string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if l := m.loans[key]; l != nil && !l.spent {
		l.spent = true
		m.bytes -= int64(len(l.orig))
		l.orig = nil
	}
}

// Put implements Driver.
func (m *MemDriver) Put(ctx context.Context, key string, data []byte) error {
	return m.Adopt(ctx, key, slices.Clone(data))
}

// Adopt implements Adopter: the store keeps data itself.
func (m *MemDriver) Adopt(_ context.Context, key string, c []byte) error {
	if c == nil {
		c = []byte{}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.drop(key)
	m.bytes += int64(len(c))
	m.peak = max(m.peak, m.bytes)
	m.objects[key] = c
	return nil
}

// drop forgets key: its object or its loan; m.mu is held.
func (m *MemDriver) drop(key string) {
	m.bytes -= int64(len(m.objects[key]))
	if l := m.loans[key]; l != nil {
		m.bytes -= int64(len(l.orig))
	}
	delete(m.objects, key)
	delete(m.loans, key)
	delete(m.shared, key)
}

// Copy implements Copier: both keys share the bytes, which no one
// modifies (Put stores a copy, Get's callers only read, Lend lends a
// copy of shared bytes).
func (m *MemDriver) Copy(_ context.Context, dst, src string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	data, ok := m.objects[src]
	if !ok {
		return m.loans[src].err()
	}
	if dst == src {
		return nil
	}
	m.drop(dst)
	m.bytes += int64(len(data))
	m.peak = max(m.peak, m.bytes)
	m.objects[dst] = data
	m.shared[dst], m.shared[src] = true, true
	return nil
}

// Delete implements Driver; it also ends loans.
func (m *MemDriver) Delete(_ context.Context, keys []string) error {
	m.mu.Lock()
	for _, k := range keys {
		m.drop(k)
	}
	m.mu.Unlock()
	return nil
}

// List implements Driver; keys of lent objects are listed too, so that
// deleting what a prefix lists ends their loans.
func (m *MemDriver) List(_ context.Context, prefix string) ([]string, error) {
	m.mu.RLock()
	var keys []string
	for k := range m.objects {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	for k := range m.loans {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	m.mu.RUnlock()
	slices.Sort(keys)
	return keys, nil
}

// Bytes returns the bytes held now and at the peak.
func (m *MemDriver) Bytes() (now, peak int64) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.bytes, m.peak
}

// Close implements Driver; the objects stay for other openers.
func (m *MemDriver) Close() error { return nil }

func openFile(_ context.Context, u *url.URL) (Driver, error) {
	if u.Host != "" && u.Host != "localhost" {
		return nil, fmt.Errorf("a file store URL is file:///absolute/dir (host %q is not allowed)", u.Host)
	}
	if u.Path == "" || !filepath.IsAbs(u.Path) {
		return nil, fmt.Errorf("a file store URL needs an absolute directory: file:///absolute/dir")
	}
	if err := os.MkdirAll(u.Path, 0o755); err != nil {
		return nil, err
	}
	return &FileDriver{root: filepath.Clean(u.Path)}, nil
}

// A FileDriver keeps each object in a file under a root directory. Writes
// go to a temporary file that is renamed into place, so readers never see
// a partial tile.
type FileDriver struct{ root string }

// NewFileDriver returns a driver rooted at dir, which must exist.
func NewFileDriver(dir string) *FileDriver { return &FileDriver{root: dir} }

func (f *FileDriver) path(key string) string { return filepath.Join(f.root, filepath.FromSlash(key)) }

// FreshReads implements FreshReader: every Get reads the file anew.
func (f *FileDriver) FreshReads() bool { return true }

// Get implements Driver.
func (f *FileDriver) Get(_ context.Context, key string) ([]byte, error) {
	data, err := os.ReadFile(f.path(key))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotFound
	}
	return data, err
}

// ReadRange implements RangeReader with a pread.
func (f *FileDriver) ReadRange(_ context.Context, key string, off int64, p []byte) error {
	file, err := os.Open(f.path(key))
	if errors.Is(err, fs.ErrNotExist) {
		return ErrNotFound
	}
	if err != nil {
		return err
	}
	defer file.Close()
	n, err := file.ReadAt(p, off)
	switch {
	case n == len(p):
		return nil
	case err == io.EOF:
		return io.ErrUnexpectedEOF
	}
	return err
}

// Put implements Driver.
func (f *FileDriver) Put(_ context.Context, key string, data []byte) error {
	p := f.path(key)
	tmp, err := createTemp(filepath.Dir(p))
	if err != nil {
		return err
	}
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), p)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}

// createTemp creates a temporary file in dir, making dir first. It tries
// again when dir goes away in between: DeletePrefix removes directories
// it empties, which another writer may be about to fill.
func createTemp(dir string) (f *os.File, err error) {
	for range 100 {
		if err = makeDir(dir); err == nil {
			f, err = os.CreateTemp(dir, ".tmp-*")
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return f, err
		}
	}
	return nil, err
}

// makeDir is os.MkdirAll against a DeletePrefix pruning the same
// directories: MkdirAll fails with "file exists" when a directory it
// failed to make (another writer made it first) is gone again by the time
// it looks; it then tries again.
func makeDir(dir string) (err error) {
	for range 100 {
		if err = os.MkdirAll(dir, 0o755); !errors.Is(err, fs.ErrExist) {
			return err
		}
		if st, serr := os.Stat(dir); serr == nil && !st.IsDir() {
			return err // a file where the directory goes: no retry helps
		}
	}
	return err
}

// linkSeq numbers the temporary names of FileDriver.Copy, so that copies
// onto one key at once do not take each other's.
var linkSeq atomic.Uint64

// Copy implements Copier with a hard link (a copy of the bytes across
// file systems). Put replaces files by renaming, so the two names never
// see each other's later writes.
func (f *FileDriver) Copy(ctx context.Context, dst, src string) error {
	sp, dp := f.path(src), f.path(dst)
	if _, err := os.Stat(sp); errors.Is(err, fs.ErrNotExist) {
		return ErrNotFound
	} else if err != nil || dst == src {
		return err
	}
	if err := makeDir(filepath.Dir(dp)); err != nil {
		return err
	}
	// Link refuses an existing name: link beside it, then rename over it.
	tmp := filepath.Join(filepath.Dir(dp), fmt.Sprintf(".tmp-link-%d-%d", os.Getpid(), linkSeq.Add(1)))
	if err := os.Link(sp, tmp); err == nil {
		err := os.Rename(tmp, dp)
		// A rename onto a link of the same file (dst already a copy of
		// src) does nothing and leaves tmp, which no one else names.
		os.Remove(tmp)
		return err
	}
	data, err := f.Get(ctx, src)
	if err != nil {
		return err
	}
	return f.Put(ctx, dst, data)
}

// Delete implements Driver; it removes the directories it empties (a
// writer that finds its directory gone makes it again: createTemp).
func (f *FileDriver) Delete(_ context.Context, keys []string) error {
	for _, k := range keys {
		p := f.path(k)
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		f.prune(filepath.Dir(p))
	}
	return nil
}

// prune removes dir and its parents, up to the root, while they are
// empty.
func (f *FileDriver) prune(dir string) {
	// Remove fails on a directory that is not empty, which ends the walk.
	for ; dir != f.root && strings.HasPrefix(dir, f.root+string(filepath.Separator)) && os.Remove(dir) == nil; dir = filepath.Dir(dir) {
	}
}

// DeletePrefix removes every object under a prefix that names a
// directory ("jobs/x/"), with the directory itself and the parents it
// leaves empty, up to the root.
func (f *FileDriver) DeletePrefix(ctx context.Context, prefix string) error {
	if !strings.HasSuffix(prefix, "/") {
		keys, err := f.List(ctx, prefix)
		if err != nil {
			return err
		}
		return f.Delete(ctx, keys)
	}
	dir := f.path(prefix)
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	f.prune(filepath.Dir(dir))
	return nil
}

// List implements Driver.
func (f *FileDriver) List(_ context.Context, prefix string) ([]string, error) {
	// Walk from the deepest directory the prefix names.
	start := f.root
	if i := strings.LastIndex(prefix, "/"); i >= 0 {
		start = f.path(prefix[:i])
	}
	var keys []string
	err := filepath.WalkDir(start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() || strings.HasPrefix(d.Name(), ".tmp-") {
			return nil
		}
		rel, err := filepath.Rel(f.root, p)
		if err != nil {
			return err
		}
		if key := filepath.ToSlash(rel); strings.HasPrefix(key, prefix) {
			keys = append(keys, key)
		}
		return nil
	})
	slices.Sort(keys)
	return keys, err
}

// Close implements Driver.
func (f *FileDriver) Close() error { return nil }

package npw

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/mat"

	"github.com/npw-dev/npw/blockstore"
	"github.com/npw-dev/npw/job"
	"github.com/npw-dev/npw/kernels"
	lp "github.com/npw-dev/npw/lambdapack"
)

// Stored matrices live at URLs (file:///dir/A, s3://bucket/prefix/A,
// mem://name/A): a manifest, matrix.json, beside B×B .npy tiles (see
// blockstore's stored matrices). They outlive engines and jobs, feed
// jobs without passing through this process, and take jobs' results.
// Nothing here holds more than a few tiles of a matrix at once.

// locate returns the store that holds the matrix at rawurl and its key
// there: the engine's own store when the URL is inside it, so that jobs
// read its tiles in place, else that URL's store, opened once.
func (e *Engine) locate(ctx context.Context, rawurl string, create bool) (*blockstore.Store, string, error) {
	if key, ok := blockstore.Within(e.opts.Store, rawurl); ok {
		return e.tiles, key, nil
	}
	storeURL, key, err := blockstore.SplitURL(rawurl)
	if err != nil {
		return nil, "", err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if s := e.stores[storeURL]; s != nil {
		return s, key, nil
	}
	s, key, err := blockstore.OpenURL(ctx, rawurl, create)
	if err != nil {
		return nil, "", err
	}
	e.stores[storeURL] = s
	return s, key, nil
}

// OpenMatrix opens the matrix stored at a URL, checking its manifest and
// its tiles' names and edge shapes. Jobs read it where it is when it is
// inside the engine's store and its tiles fit the job; otherwise they
// copy it into the job, tile by tile.
func (e *Engine) OpenMatrix(ctx context.Context, rawurl string) (*Matrix, error) {
	if err := e.use("open " + rawurl); err != nil {
		return nil, err
	}
	s, key, err := e.locate(ctx, rawurl, false)
	if err != nil {
		return nil, err
	}
	st, err := blockstore.OpenStored(ctx, s, key, rawurl)
	if err != nil {
		return nil, err
	}
	m := &Matrix{Rows: st.Rows, Cols: st.Cols, Block: st.Block, eng: e, store: s, tiles: st.Matrix, gaps: st.Missing > 0, url: rawurl}
	if st.Codec != nil {
		m.source = &st.Grid // its chunks are no tiles of npw's: jobs copy them in
	}
	return m, nil
}

// Save stores the matrix at a URL, replacing what was there, and returns
// it opened there. Its tiles are copied by the store itself when the URL
// is in the matrix's store (a hard link for files, a server-side copy on
// S3), and else stream through this process a few at a time. A save
// that fails leaves nothing at the URL.
func (m *Matrix) Save(ctx context.Context, rawurl string) (*Matrix, error) {
	if m == nil {
		return nil, errors.New("save: the matrix is nil")
	}
	if err := m.eng.use("save "+rawurl, m); err != nil {
		return nil, err
	}
	s, key, err := m.eng.locate(ctx, rawurl, true)
	if err != nil {
		return nil, err
	}
	if s == m.store && key+"/" == m.tiles.Dir() {
		return m, nil // already stored there
	}
	if s == m.eng.tiles && blockstore.IsZarr(key) {
		if err := m.eng.saveOnWorkers(ctx, m, key, rawurl); err != nil {
			return nil, err
		}
		return m.eng.OpenMatrix(ctx, rawurl)
	}
	if _, err := blockstore.SaveGrid(ctx, m.grid(), m.Block, s, key, rawurl); err != nil {
		return nil, err
	}
	return m.eng.OpenMatrix(ctx, rawurl)
}

// saveOnWorkers stores m as the Zarr array at key of the engine's store
// by a job of the workers (retile.lp), each task encoding one tile of m
// as a chunk and writing it there (job.Spec.Direct): the matrix does not
// pass through this process, which only writes the array's .zarray.
func (e *Engine) saveOnWorkers(ctx context.Context, m *Matrix, key, rawurl string) error {
	st, err := blockstore.Create(ctx, e.tiles, key, rawurl, m.Rows, m.Cols, m.Block)
	if err != nil {
		return err
	}
	err = func() error {
		target, err := st.Grid.Spec()
		if err != nil {
			return err
		}
		p, err := compileInts("retile", map[string]int{"MT": tilesOf(m.Rows, m.Block), "NT": tilesOf(m.Cols, m.Block)})
		if err != nil {
			return err
		}
		inputs := []job.Input{m.input("A")}
		res, err := e.runSpec(ctx, job.Spec{Plan: p.plan, Block: m.Block, Inputs: inputs, Outputs: []string{"B"},
			Direct: map[string]blockstore.GridSpec{"B": target}, Owned: owned(inputs)})
		if err != nil {
			return err
		}
		if err := job.Cleanup(ctx, e.tiles, res); err != nil {
			return err
		}
		return st.Commit(ctx)
	}()
	if err != nil {
		e.tiles.DeletePrefix(context.WithoutCancel(ctx), key+"/")
		return fmt.Errorf("save %s: %w", rawurl, err)
	}
	return nil
}

// WriteNPY writes the matrix to w as a 2-D float64 .npy array, streamed
// in order: it holds one row of tiles at a time. WriteNPYFile holds a few
// tiles.
func (m *Matrix) WriteNPY(ctx context.Context, w io.Writer) error {
	if m == nil {
		return errors.New("write: the matrix is nil")
	}
	if err := m.eng.use("write", m); err != nil {
		return err
	}
	return blockstore.StreamGrid(ctx, m.grid(), w, parallelRequests)
}

// WriteNPYFile writes the matrix to a .npy file, tile by tile at their
// offsets, a few tiles at a time; tiles never written are left as the
// file's zeros.
func (m *Matrix) WriteNPYFile(ctx context.Context, path string) error {
	if m == nil {
		return errors.New("write: the matrix is nil")
	}
	if err := m.eng.use("write "+path, m); err != nil {
		return err
	}
	return writeGridFile(ctx, m.grid(), path)
}

// writeGridFile writes a grid's array to a new .npy file; a write that
// fails removes the file.
func writeGridFile(ctx context.Context, g *blockstore.Grid, path string) error {
	w, err := blockstore.CreateNPY(path, g.Rows, g.Cols)
	if err != nil {
		return err
	}
	err = blockstore.WriteGrid(ctx, g, w, true, parallelRequests)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// PutNPY stores the .npy file at path (2-D, or 1-D as a column) as a
// matrix of block×block tiles at a URL, replacing what was there,
// streaming it tile by tile. A put that fails leaves nothing at the URL.
func PutNPY(ctx context.Context, path, rawurl string, block int) (blockstore.Meta, error) {
	if block <= 0 {
		return blockstore.Meta{}, fmt.Errorf("put %s: the block size must be positive, got %d", rawurl, block)
	}
	r, err := blockstore.OpenNPY(path)
	if err != nil {
		return blockstore.Meta{}, err
	}
	defer r.Close()
	s, key, err := blockstore.OpenURL(ctx, rawurl, true)
	if err != nil {
		return blockstore.Meta{}, err
	}
	defer s.Close()
	st, err := blockstore.Create(ctx, s, key, rawurl, r.Rows, r.Cols, block)
	if err != nil {
		return blockstore.Meta{}, err
	}
	if _, err := blockstore.PutNPY(ctx, r, st, parallelRequests); err != nil {
		s.DeletePrefix(context.WithoutCancel(ctx), key+"/")
		return blockstore.Meta{}, err
	}
	return st.Meta, nil
}

// GetNPY writes the matrix stored at a URL to a .npy file, tile by tile.
func GetNPY(ctx context.Context, rawurl, path string) (blockstore.Meta, error) {
	s, key, err := blockstore.OpenURL(ctx, rawurl, false)
	if err != nil {
		return blockstore.Meta{}, err
	}
	defer s.Close()
	st, err := blockstore.OpenStored(ctx, s, key, rawurl)
	if err != nil {
		return blockstore.Meta{}, err
	}
	return st.Meta, writeGridFile(ctx, &st.Grid, path)
}

// A Listing is a matrix stored under a URL.
type Listing struct {
	URL  string
	Meta blockstore.Meta
	Err  error // its manifest cannot be read
}

// List returns the matrices stored at or under a URL.
func List(ctx context.Context, rawurl string) ([]Listing, error) {
	storeURL, key, err := blockstore.SplitURL(rawurl)
	if err != nil {
		return nil, err
	}
	s, _, err := blockstore.OpenURL(ctx, rawurl, false)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	found, err := blockstore.List(ctx, s, key)
	if err != nil {
		return nil, err
	}
	out := make([]Listing, len(found))
	for i, l := range found {
		out[i] = Listing{URL: blockstore.JoinURL(storeURL, l.Key), Meta: l.Meta, Err: l.Err}
	}
	return out, nil
}

// Remove deletes the matrix stored at a URL: its manifest first, then
// its tiles. A URL that holds no matrix is an error.
func Remove(ctx context.Context, rawurl string) error {
	s, key, err := blockstore.OpenURL(ctx, rawurl, false)
	if err != nil {
		return err
	}
	defer s.Close()
	return blockstore.Remove(ctx, s, key, rawurl)
}

// Stat reads and checks the manifest of the matrix stored at a URL (its
// tiles' names and edge shapes too), without an engine.
func Stat(ctx context.Context, rawurl string) (blockstore.Meta, error) {
	s, key, err := blockstore.OpenURL(ctx, rawurl, false)
	if err != nil {
		return blockstore.Meta{}, err
	}
	defer s.Close()
	st, err := blockstore.OpenStored(ctx, s, key, rawurl)
	if err != nil {
		return blockstore.Meta{}, err
	}
	return st.Meta, nil
}

// Reblock returns the matrix as one of block×block tiles, without
// copying it: a job reading it has its workers cut each tile from m's
// tiles that overlap it (a view), or, when m is in another store than
// the engine's, copies it into the job tile by tile. It shares m's
// tiles: releasing it deletes nothing, and m must outlive its use.
func (m *Matrix) Reblock(block int) (*Matrix, error) {
	if m == nil {
		return nil, errors.New("reblock: the matrix is nil")
	}
	if err := m.eng.use("reblock", m); err != nil {
		return nil, err
	}
	if block <= 0 {
		return nil, fmt.Errorf("reblock: the block size must be positive, got %d", block)
	}
	return &Matrix{Rows: m.Rows, Cols: m.Cols, Block: block, eng: m.eng, store: m.store, tiles: m.tiles, fixed: m.fixed,
		gaps: m.gaps, url: m.url, source: m.grid(), derived: true}, nil
}

// The kinds of matrices Generate makes.
const (
	Gaussian = kernels.Gaussian // independent N(0, 1) entries
	SPD      = kernels.SPD      // symmetric positive definite: uniform in [-1, 1) off the diagonal, n on it
	Identity = kernels.Identity // ones on the diagonal
)

// Generate makes a rows×cols matrix of block×block tiles of a kind
// (Gaussian, SPD, Identity) from a seed, as a job whose tasks generate
// the tiles on the workers: nothing passes through this process. Each
// entry depends on the seed and its place only, so the matrix is the
// same whatever the block; GenerateDense makes it here.
func (e *Engine) Generate(ctx context.Context, name string, kind, rows, cols, block int, seed uint64) (*Matrix, error) {
	if err := e.newMatrix("generate", name, block); err != nil {
		return nil, err
	}
	switch {
	case rows <= 0 || cols <= 0:
		return nil, fmt.Errorf("generate %s: a %d×%d matrix is empty", name, rows, cols)
	case kind < Gaussian || kind > Identity:
		return nil, fmt.Errorf("generate %s: unknown kind %d", name, kind)
	case kind == SPD && rows != cols:
		return nil, fmt.Errorf("generate %s: a symmetric positive definite matrix is square, not %d×%d", name, rows, cols)
	}
	args := map[string]lp.Value{"MT": lp.Int(int64(tilesOf(rows, block))), "NT": lp.Int(int64(tilesOf(cols, block))), "KIND": lp.Int(int64(kind)),
		"SEED": lp.Int(int64(seed)), "ROWS": lp.Int(int64(rows)), "COLS": lp.Int(int64(cols)), "B": lp.Int(int64(block))}
	p, err := Compile("generate", args)
	if err != nil {
		return nil, err
	}
	res, err := e.runAttachedSpec(ctx, job.Spec{Plan: p.plan, Block: block, Outputs: []string{"A"}, Shapes: map[string][2]int{"A": {rows, cols}}})
	if err != nil {
		return nil, err
	}
	return e.output(ctx, res, "A", nil, rows, cols, block)
}

// GenerateDense makes in memory the matrix Generate makes on the workers.
func GenerateDense(kind, rows, cols int, seed uint64) *mat.Dense {
	t := blas64.General{Rows: rows, Cols: cols, Stride: cols, Data: make([]float64, rows*cols)}
	kernels.Generate(kind, seed, rows, 0, 0, t)
	var d mat.Dense
	d.SetRawMatrix(t)
	return &d
}

package blockstore

// A stored matrix is a 2-D float64 array kept at a URL, the way Zarr
// keeps an array: a small manifest, matrix.json, beside B×B tiles named
// i_j.npy. A tile that was never written is zeros (a triangular factor
// keeps only its triangle). The manifest is written last, so a matrix
// whose upload stopped half way has none and is no matrix.
//
// URLs name a store and a key in it: file:///dir/A is the key A of the
// store file:///dir, s3://bucket/prefix/A?endpoint=... the key A of
// s3://bucket/prefix?endpoint=..., and mem://name/path/A the key path/A
// of the memory store mem://name. A matrix under an engine's store is
// also a key of that store (Within), which is how jobs read it in place.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"net/url"
	"os"
	"path"
	"slices"
	"strings"

	"github.com/npw-dev/npw/zarr"
	"golang.org/x/sync/errgroup"
)

// MetaName is the name of a stored matrix's manifest, beside its tiles.
const MetaName = "matrix.json"

// metaFormat names the manifest's format, so that a stray JSON file is
// not taken for one.
const metaFormat = "npw-matrix"

// Meta is a stored matrix's manifest.
type Meta struct {
	Format  string `json:"format"`  // "npw-matrix"
	Version int    `json:"version"` // 1
	Shape   [2]int `json:"shape"`   // rows, columns
	Block   int    `json:"block"`   // tiles are Block×Block, smaller at the edges
	DType   string `json:"dtype"`   // "<f8"
	Order   string `json:"order"`   // "C": each tile's elements row by row
	Tiles   string `json:"tiles"`   // "{i}_{j}.npy"
}

// NewMeta returns the manifest of a rows×cols matrix of block×block tiles.
func NewMeta(rows, cols, block int) Meta {
	return Meta{Format: metaFormat, Version: 1, Shape: [2]int{rows, cols}, Block: block, DType: "<f8", Order: "C", Tiles: "{i}_{j}.npy"}
}

// Check refuses a manifest npw cannot read.
func (m Meta) Check() error {
	switch {
	case m.Format != metaFormat:
		return fmt.Errorf("format %q is not %q", m.Format, metaFormat)
	case m.Version != 1:
		return fmt.Errorf("version %d: this npw reads version 1", m.Version)
	case m.Shape[0] <= 0 || m.Shape[1] <= 0:
		return fmt.Errorf("shape [%d, %d]: a matrix needs positive sizes", m.Shape[0], m.Shape[1])
	case m.Block <= 0:
		return fmt.Errorf("block %d must be positive", m.Block)
	case m.DType != "<f8":
		return fmt.Errorf("dtype %q: npw stores <f8", m.DType)
	case m.Order != "C":
		return fmt.Errorf("order %q: npw stores C-order tiles", m.Order)
	case m.Tiles != "{i}_{j}.npy":
		return fmt.Errorf("tiles %q: npw names tiles {i}_{j}.npy", m.Tiles)
	}
	if _, ok := npyBytes(m.Shape[0], m.Shape[1], 8); !ok {
		return fmt.Errorf("shape [%d, %d] is too large: its values would take over %d bytes", m.Shape[0], m.Shape[1], int64(maxNPYData))
	}
	if _, ok := npyBytes(m.Block, m.Block, 8); !ok {
		return fmt.Errorf("block %d is too large", m.Block)
	}
	if ti, tj := ceilDiv(m.Shape[0], m.Block), ceilDiv(m.Shape[1], m.Block); ti > math.MaxInt32 || tj > math.MaxInt32 {
		return fmt.Errorf("shape [%d, %d] in blocks of %d is %d×%d tiles; tile indices go up to %d", m.Shape[0], m.Shape[1], m.Block, ti, tj, math.MaxInt32)
	}
	return nil
}

// Bytes is the size of the matrix's values.
func (m Meta) Bytes() int64 { return 8 * int64(m.Shape[0]) * int64(m.Shape[1]) }

// A Stored is a matrix stored at a URL: its manifest, and its tiles as a
// grid of a store.
type Stored struct {
	URL string
	At  string // the matrix's key in Store
	Meta
	Grid
	// Missing counts the tiles of the grid never written (zeros), as
	// OpenStored found them.
	Missing int
	// Zarr is the array's .zarray for a Zarr array (a key ending in
	// .zarr); its chunks are the grid's tiles.
	Zarr *zarr.Meta
}

// Commit writes the matrix's manifest (or .zarray): the last step of
// storing it.
func (st *Stored) Commit(ctx context.Context) error {
	if st.Zarr != nil {
		return commitZarr(ctx, st)
	}
	return SaveMeta(ctx, st.Store, st.At, st.Meta)
}

// KeyMatrix returns the BigMatrix whose tiles are key/i_j.npy.
func KeyMatrix(key string, block int) *BigMatrix {
	dir, name := path.Split(key)
	return &BigMatrix{Prefix: strings.TrimSuffix(dir, "/"), Name: name, Arity: 2, Block: block}
}

// SplitURL returns the store a matrix URL names and the matrix's key in
// it: the parent of its path for file:// and s3://, and the path for
// mem:// (whose stores are named by host).
func SplitURL(rawurl string) (store, key string, err error) {
	u, err := url.Parse(rawurl)
	if err != nil {
		return "", "", fmt.Errorf("matrix URL %q: %w", rawurl, err)
	}
	p := strings.Trim(u.Path, "/")
	if u.Scheme == "" || p == "" || hasDotDot(p) || u.Scheme == "s3" && u.Host == "" {
		return "", "", fmt.Errorf("matrix URL %q: want file:///dir/name, s3://bucket/prefix/name or mem://store/name", rawurl)
	}
	if u.Scheme == "mem" {
		u.Path = ""
		return u.String(), p, nil
	}
	dir, name := path.Split(p)
	u.Path = "/" + strings.TrimSuffix(dir, "/")
	if u.Path == "/" && u.Scheme != "file" {
		u.Path = ""
	}
	return u.String(), name, nil
}

// JoinURL returns the URL of the object at key in the store at storeURL
// (SplitURL's inverse).
func JoinURL(storeURL, key string) string {
	u, err := url.Parse(storeURL)
	if err != nil {
		return storeURL + "/" + key
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/" + key
	return u.String()
}

// Within returns the key of the object a URL names in the store at
// storeURL, if the URL is inside that store: same scheme, host and query,
// and a path below the store's.
func Within(storeURL, rawurl string) (string, bool) {
	s, err1 := url.Parse(storeURL)
	u, err2 := url.Parse(rawurl)
	if err1 != nil || err2 != nil || s.Scheme != u.Scheme || s.Host != u.Host || s.RawQuery != u.RawQuery || s.User.String() != u.User.String() {
		return "", false
	}
	base := strings.Trim(s.Path, "/")
	key := strings.Trim(u.Path, "/")
	if base != "" {
		var ok bool
		if key, ok = strings.CutPrefix(key, base+"/"); !ok {
			return "", false
		}
	}
	return key, key != "" && !hasDotDot(key)
}

// OpenURL opens the store that holds the matrix at a URL and returns the
// matrix's key in it. For reading (create false), a file:// directory
// that does not exist is an error, not made.
func OpenURL(ctx context.Context, rawurl string, create bool) (*Store, string, error) {
	storeURL, key, err := SplitURL(rawurl)
	if err != nil {
		return nil, "", err
	}
	if u, _ := url.Parse(storeURL); !create && u.Scheme == "file" {
		if _, err := os.Stat(u.Path); errors.Is(err, fs.ErrNotExist) {
			return nil, "", fmt.Errorf("%s: no such matrix (no directory %s)", rawurl, u.Path)
		}
	}
	s, err := Open(ctx, storeURL)
	if err != nil {
		return nil, "", err
	}
	return s, key, nil
}

// OpenStored reads and checks the manifest of the matrix at key in s,
// and checks its tiles against it: no tile outside the grid, and the
// tiles of the last row and column of the right shapes.
func OpenStored(ctx context.Context, s *Store, key, rawurl string) (*Stored, error) {
	if IsZarr(key) {
		return openZarr(ctx, s, key, rawurl)
	}
	data, err := s.Get(ctx, key+"/"+MetaName)
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("%s: no such matrix (no %s)", rawurl, MetaName)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", rawurl, err)
	}
	var meta Meta
	if err := json.Unmarshal(data, &meta); err != nil {
		return nil, fmt.Errorf("%s: corrupt %s: %w", rawurl, MetaName, err)
	}
	if err := meta.Check(); err != nil {
		return nil, fmt.Errorf("%s: %s: %w", rawurl, MetaName, err)
	}
	st := &Stored{URL: rawurl, At: key, Meta: meta, Grid: Grid{Store: s, Matrix: KeyMatrix(key, meta.Block), Rows: meta.Shape[0], Cols: meta.Shape[1], Sparse: true}}
	if err := st.checkTiles(ctx); err != nil {
		return nil, fmt.Errorf("%s: %w", rawurl, err)
	}
	return st, nil
}

// checkTiles checks the stored tiles against the manifest: none outside
// the grid, and in every tile row and column that has one, a stored tile
// of the shape the manifest gives it. A manifest whose shape or block
// disagrees with the tiles is so refused at open, not at some worker's
// read; the check reads one header per tile row or column (a diagonal
// where the tiles allow), not the tiles.
func (st *Stored) checkTiles(ctx context.Context) error {
	keys, err := st.Store.List(ctx, st.Matrix.Dir())
	if err != nil {
		return err
	}
	ti, tj := st.TileGrid()
	st.Missing = ti * tj
	var stored [][2]int
	for _, k := range keys {
		idx, ok := st.Matrix.ParseKey(k)
		if !ok {
			continue
		}
		st.Missing--
		i, j := int(idx[0]), int(idx[1])
		if i < 0 || j < 0 || i >= ti || j >= tj {
			return fmt.Errorf("%s says %d×%d in blocks of %d (%d×%d tiles), but tile %d_%d is stored", MetaName, st.Rows, st.Cols, st.Block, ti, tj, i, j)
		}
		stored = append(stored, [2]int{i, j})
	}
	eg, ctx := errgroup.WithContext(ctx)
	eg.SetLimit(16)
	for _, ij := range coverRowsCols(stored, ti, tj) {
		eg.Go(func() error {
			r0, c0, r1, c1 := st.TileBounds(ij[0], ij[1])
			_, err := st.tileStart(ctx, st.Key(ij[0], ij[1]), r1-r0, c1-c0)
			if err == nil {
				return nil
			}
			if !errors.Is(err, errOtherHeader) && !errors.Is(err, io.ErrUnexpectedEOF) {
				return err
			}
			// A header npw does not write (Fortran order, big-endian,
			// another shape): the whole read decides.
			_, _, err = st.ReadTile(ctx, ij[0], ij[1])
			return err
		})
	}
	return eg.Wait()
}

// coverRowsCols picks from the stored tiles a few that together meet
// every tile row and column any of them meets: first tiles whose row and
// column are both new (the diagonal of a full grid), then one for each
// row or column left.
func coverRowsCols(stored [][2]int, ti, tj int) [][2]int {
	rows, cols := make([]bool, ti), make([]bool, tj)
	var picked [][2]int
	for _, both := range []bool{true, false} {
		for _, ij := range stored {
			newRow, newCol := !rows[ij[0]], !cols[ij[1]]
			if (both && newRow && newCol) || (!both && (newRow || newCol)) {
				rows[ij[0]], cols[ij[1]] = true, true
				picked = append(picked, ij)
			}
		}
	}
	return picked
}

// SaveMeta writes a matrix's manifest: the last step of storing it.
func SaveMeta(ctx context.Context, s *Store, key string, meta Meta) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // "<f8", as NumPy writes it
	enc.SetIndent("", "  ")
	if err := enc.Encode(meta); err != nil {
		return err
	}
	return s.Put(ctx, key+"/"+MetaName, buf.Bytes())
}

// Create prepares key in s for a new rows×cols matrix of block×block
// tiles: whatever was stored there is removed first, so that no tile of
// an older matrix outlives it. Write its tiles to the returned Stored's
// grid, then SaveMeta.
func Create(ctx context.Context, s *Store, key, rawurl string, rows, cols, block int) (*Stored, error) {
	if rows <= 0 || cols <= 0 || block <= 0 {
		return nil, fmt.Errorf("%s: a %d×%d matrix of block %d cannot be stored", rawurl, rows, cols, block)
	}
	if err := s.DeletePrefix(ctx, key+"/"); err != nil {
		return nil, err
	}
	if IsZarr(key) {
		return createZarr(s, key, rawurl, rows, cols, block), nil
	}
	meta := NewMeta(rows, cols, block)
	return &Stored{URL: rawurl, At: key, Meta: meta, Grid: Grid{Store: s, Matrix: KeyMatrix(key, block), Rows: rows, Cols: cols, Sparse: true}}, nil
}

// Remove deletes the matrix at key in s, manifest first, so that a
// removal that stops half way leaves no matrix with missing tiles. A key
// that holds no matrix is an error.
func Remove(ctx context.Context, s *Store, key, rawurl string) error {
	meta := key + "/" + MetaName
	if IsZarr(key) {
		meta = key + "/" + ZarrMetaName
	}
	if _, err := s.Get(ctx, meta); err != nil {
		if errors.Is(err, ErrNotFound) {
			return fmt.Errorf("%s: no such matrix", rawurl)
		}
		return err
	}
	if err := s.Delete(ctx, meta); err != nil {
		return err
	}
	return s.DeletePrefix(ctx, key+"/")
}

// A Listing is one matrix List found.
type Listing struct {
	Key  string
	Meta Meta
	Err  error // a manifest that cannot be read
}

// List returns the matrices stored under prefix (a key or ""), by key.
func List(ctx context.Context, s *Store, prefix string) ([]Listing, error) {
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	keys, err := s.List(ctx, prefix)
	if err != nil {
		return nil, err
	}
	var out []Listing
	for _, k := range keys {
		if key, ok := strings.CutSuffix(k, "/"+ZarrMetaName); ok && IsZarr(key) {
			l := Listing{Key: key}
			if st, err := openZarr(ctx, s, key, key); err == nil {
				l.Meta = st.Meta
			} else {
				l.Err = err
			}
			out = append(out, l)
			continue
		}
		key, ok := strings.CutSuffix(k, "/"+MetaName)
		if !ok {
			continue
		}
		l := Listing{Key: key}
		data, err := s.Get(ctx, k)
		if err == nil {
			err = json.Unmarshal(data, &l.Meta)
		}
		if err == nil {
			err = l.Meta.Check()
		}
		l.Err = err
		out = append(out, l)
	}
	slices.SortFunc(out, func(a, b Listing) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

// SaveGrid stores src's array as a matrix of block×block tiles at key in
// s (the URL rawurl), replacing what was there: its tiles copied by the
// store when src is in s and tiled alike, else cut and moved a few at a
// time; the manifest last. A save that fails leaves nothing at key.
func SaveGrid(ctx context.Context, src *Grid, block int, s *Store, key, rawurl string) (*Stored, error) {
	st, err := Create(ctx, s, key, rawurl, src.Rows, src.Cols, block)
	if err != nil {
		return nil, err
	}
	_, err = Retile(ctx, src, &st.Grid, 16)
	if err == nil {
		err = st.Commit(ctx)
	}
	if err != nil {
		s.DeletePrefix(context.WithoutCancel(ctx), key+"/")
		return nil, fmt.Errorf("save %s: %w", rawurl, err)
	}
	return st, nil
}

// Extent returns the size of the array the written tiles of m's grid
// fixed (nil: the binding rule's) form, and whether tiles of the grid
// are missing, from the tiles' keys and the shapes of a tile of the last
// row and one of the last column (the corner tile, when written, is
// both); nothing else is read.
func Extent(ctx context.Context, s *Store, m *BigMatrix, fixed []int32) (rows, cols int, gaps bool, err error) {
	if fixed == nil {
		fixed = m.DefaultFixed()
	}
	free := m.Arity - len(fixed)
	if free < 0 || free > 2 {
		return 0, 0, false, fmt.Errorf("%s has %d indices; give %d to %d of them", m.Name, m.Arity, max(m.Arity-2, 0), m.Arity)
	}
	grid, err := writtenGrid(ctx, s, m, fixed)
	if err != nil {
		return 0, 0, false, err
	}
	last := [2]int{-1, -1}
	for _, ij := range grid {
		last = [2]int{max(last[0], ij[0]), max(last[1], ij[1])}
	}
	inRow, inCol := last, last
	if !slices.Contains(grid, last) {
		for _, ij := range grid {
			if ij[0] == last[0] {
				inRow = ij
			}
			if ij[1] == last[1] {
				inCol = ij
			}
		}
	}
	r, err := tileShape(ctx, s, m, fixed, free, inRow)
	if err != nil {
		return 0, 0, false, err
	}
	c := r
	if inCol != inRow {
		if c, err = tileShape(ctx, s, m, fixed, free, inCol); err != nil {
			return 0, 0, false, err
		}
	}
	return last[0]*m.Block + r[0], last[1]*m.Block + c[1], len(grid) < (last[0]+1)*(last[1]+1), nil
}

// writtenGrid lists the (row, column) places of the written tiles of m's
// grid fixed (a column 0 for a grid of one free index).
func writtenGrid(ctx context.Context, s *Store, m *BigMatrix, fixed []int32) ([][2]int, error) {
	keys, err := s.List(ctx, m.Dir())
	if err != nil {
		return nil, err
	}
	var grid [][2]int
	for _, k := range keys {
		if idx, ok := m.ParseKey(k); ok && slices.Equal(idx[:len(fixed)], fixed) && !slices.ContainsFunc(idx, func(x int32) bool { return x < 0 }) {
			var ij [2]int
			for i, x := range idx[len(fixed):] {
				ij[i] = int(x)
			}
			grid = append(grid, ij)
		}
	}
	if len(grid) == 0 {
		return nil, fmt.Errorf("no tile of %s%v was written", m.Name, fixed)
	}
	return grid, nil
}

// tileShape reads the rows and columns of tile ij of a grid.
func tileShape(ctx context.Context, s *Store, m *BigMatrix, fixed []int32, free int, ij [2]int) ([2]int, error) {
	idx := slices.Clone(fixed)
	for i := range free {
		idx = append(idx, int32(ij[i]))
	}
	t, _, err := s.GetTile(ctx, m.Key(idx))
	if err != nil {
		return [2]int{}, err
	}
	return [2]int{t.Rows, t.Cols}, nil
}

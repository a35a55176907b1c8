package blockstore

// Zarr v2 arrays are stored matrices too: a key ending in .zarr holds the
// array's .zarray document and its chunks (i.j), the format Dask, xarray
// and Cubed keep in object stores. A grid whose Codec is a zarrCodec reads
// and writes the chunks as its tiles, chunk (i, j) as tile (i, j); the
// codecs are package zarr's (pure Go: Blosc with LZ4, or none).

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"

	"gonum.org/v1/gonum/blas/blas64"

	"github.com/npw-dev/npw/zarr"
)

// ZarrMetaName is the name of a Zarr v2 array's metadata document.
const ZarrMetaName = ".zarray"

// IsZarr says whether a key or URL names a Zarr array: it ends in .zarr.
func IsZarr(key string) bool {
	key, _, _ = strings.Cut(key, "?")
	return strings.HasSuffix(strings.TrimSuffix(key, "/"), ".zarr")
}

// A zarrCodec stores a grid's tiles as a Zarr array's chunks.
type zarrCodec struct{ meta zarr.Meta }

func (z *zarrCodec) Key(dir string, i, j int) string { return dir + z.meta.ChunkKey(i, j) }

func (z *zarrCodec) Decode(data []byte, i, j int) (blas64.General, error) {
	return z.meta.DecodeChunk(data, i, j)
}

func (z *zarrCodec) Encode(t blas64.General, i, j int) ([]byte, error) {
	return z.meta.EncodeChunk(t, i, j)
}

// Same implements TileCodec: chunks copy as they are between arrays of
// one dtype, chunking, separator, fill value and compressor.
func (z *zarrCodec) Same(other TileCodec) bool {
	o, ok := other.(*zarrCodec)
	if !ok {
		return false
	}
	a, err1 := z.meta.Marshal()
	b, err2 := o.withShape(z.meta.Shape).Marshal()
	return err1 == nil && err2 == nil && string(a) == string(b)
}

// withShape returns the codec's metadata for an array of another shape.
func (z *zarrCodec) withShape(shape []int) zarr.Meta {
	m := z.meta
	m.Shape = shape
	return m
}

// openZarr reads and checks the .zarray of the array at key in s.
func openZarr(ctx context.Context, s *Store, key, rawurl string) (*Stored, error) {
	data, err := s.Get(ctx, key+"/"+ZarrMetaName)
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("%s: no such Zarr array (no %s)", rawurl, ZarrMetaName)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", rawurl, err)
	}
	meta, err := zarr.ParseMeta(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", rawurl, err)
	}
	if meta.Rows() <= 0 || meta.Cols() <= 0 {
		return nil, fmt.Errorf("%s: a %v array is empty; a matrix needs positive sizes", rawurl, meta.Shape)
	}
	st := zarrStored(s, key, rawurl, meta)
	if err := checkChunks(ctx, st); err != nil {
		return nil, fmt.Errorf("%s: %w", rawurl, err)
	}
	return st, nil
}

// checkChunks refuses an array with a chunk outside the chunk grid its
// .zarray describes (a .zarray that lies about the shape).
func checkChunks(ctx context.Context, st *Stored) error {
	keys, err := st.Store.List(ctx, st.At+"/")
	if err != nil {
		return err
	}
	ti, tj := st.TileGrid()
	for _, k := range keys {
		name := strings.TrimPrefix(k, st.At+"/")
		if strings.HasPrefix(path.Base(name), ".") {
			continue // .zarray, .zattrs
		}
		i, j, ok := chunkIndex(name, st.Zarr.DimensionSeparator, len(st.Zarr.Shape))
		if !ok || i >= ti || j >= tj {
			return fmt.Errorf("%s says shape %v in chunks %v (%d×%d chunks), but %s is stored", ZarrMetaName, st.Zarr.Shape, st.Zarr.Chunks, ti, tj, k)
		}
	}
	return nil
}

// chunkIndex parses a chunk's key ("i.j", "i/j", "i").
func chunkIndex(name, sep string, dims int) (i, j int, ok bool) {
	if sep == "" {
		sep = "."
	}
	parts := strings.Split(name, sep)
	if len(parts) != dims {
		return 0, 0, false
	}
	idx := make([]int, 2)
	for n, p := range parts {
		v, err := strconv.Atoi(p)
		if err != nil || v < 0 {
			return 0, 0, false
		}
		idx[n] = v
	}
	return idx[0], idx[1], true
}

// zarrStored is the Stored of a Zarr array described by meta.
func zarrStored(s *Store, key, rawurl string, meta zarr.Meta) *Stored {
	cr, cc := meta.Chunks[0], 1
	if len(meta.Chunks) == 2 {
		cc = meta.Chunks[1]
	}
	rows, cols := meta.Rows(), meta.Cols()
	m := NewMeta(rows, cols, max(cr, cc))
	m.DType = meta.DType
	g := Grid{Store: s, Matrix: KeyMatrix(key, max(cr, cc)), Rows: rows, Cols: cols, Sparse: true,
		TileRows: cr, TileCols: cc, Codec: &zarrCodec{meta: meta}}
	return &Stored{URL: rawurl, At: key, Meta: m, Grid: g, Zarr: &meta}
}

// createZarr prepares key in s for a new rows×cols float64 Zarr array in
// block×block chunks, compressed the way zarr-python does by default.
func createZarr(s *Store, key, rawurl string, rows, cols, block int) *Stored {
	return zarrStored(s, key, rawurl, zarr.NewMeta(rows, cols, block, block, zarr.DefaultCompressor()))
}

// commitZarr writes an array's .zarray: the last step of storing it.
func commitZarr(ctx context.Context, st *Stored) error {
	data, err := st.Zarr.Marshal()
	if err != nil {
		return err
	}
	return st.Store.Put(ctx, st.At+"/"+ZarrMetaName, data)
}

// Package zarr reads and writes Zarr v2 arrays of two dimensions chunk by
// chunk: the array metadata (.zarray) and the chunk codecs, so that npw can
// read arrays written by zarr-python and write arrays zarr-python opens.
// It does no I/O: callers fetch and store the .zarray document and the
// chunks under ChunkKey with whatever store holds them (a directory, S3).
//
// The codecs are pure Go, for npw's static workers: chunks are stored
// uncompressed or in Blosc 1 frames (the format of C-Blosc 1.x, which
// numcodecs uses) with LZ4 (cnames lz4 and lz4hc) on
// github.com/pierrec/lz4/v4; frames compressed with blosclz are read too.
// Byte shuffle and bit shuffle are both supported. Filters, Fortran order
// in two dimensions and other compressors are refused with errors that
// say what npw accepts.
//
// A 1-D array of n elements is an n×1 column, as npw treats 1-D .npy
// files; elements of every type are float64 in npw's tiles.
package zarr

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
)

// maxChunkBytes bounds a chunk's bytes so that a corrupt or hostile
// .zarray cannot make npw allocate without limit; it is also the largest
// buffer C-Blosc 1.x compresses (INT_MAX less its 16-byte header).
const maxChunkBytes = math.MaxInt32 - bloscHeader

// Meta is an array's .zarray document: what npw needs to cut the array
// into chunks, name them and decode them. ParseMeta checks every field,
// and so do Marshal, DecodeChunk and EncodeChunk for a Meta built by
// hand. It has no filters field: npw reads arrays without filters (JSON
// null), and Marshal writes null.
type Meta struct {
	ZarrFormat int    // always 2
	Shape      []int  // one or two dimensions, each ≥ 0
	Chunks     []int  // the chunk shape: as many dimensions as Shape, each > 0
	DType      string // a NumPy type string such as "<f8"
	Order      string // "C" (or "F" for 1-D arrays, where it is the same)
	// FillValue is the value of elements no chunk holds; nil is JSON null,
	// which zarr-python leaves undefined and npw reads as 0.
	FillValue *float64
	// Compressor is the chunk codec; nil stores chunks uncompressed.
	Compressor *Compressor
	// DimensionSeparator joins the indices of chunk keys: "." or "/".
	DimensionSeparator string
}

// Compressor is the numcodecs Blosc codec configuration of an array, the
// one compressor npw reads and writes (zarr-python's default).
type Compressor struct {
	ID        string // "blosc"
	CName     string // "lz4", "lz4hc" or (read only) "blosclz"
	CLevel    int    // 0 (no compression) to 9
	Shuffle   int    // 0 none, 1 byte, 2 bit, -1 bit for 1-byte types else byte
	BlockSize int    // bytes per Blosc block; 0 lets Blosc choose
}

// DefaultCompressor returns what zarr-python 2.x compresses new arrays
// with when given no compressor, so that npw's arrays look like theirs.
func DefaultCompressor() *Compressor {
	return &Compressor{ID: "blosc", CName: "lz4", CLevel: 5, Shuffle: 1}
}

// NewMeta describes a new rows×cols float64 array of C order, fill value
// 0 and "." chunk keys: what npw writes. A nil compressor stores chunks
// uncompressed.
func NewMeta(rows, cols, chunkRows, chunkCols int, compressor *Compressor) Meta {
	fill := 0.0
	return Meta{
		ZarrFormat:         2,
		Shape:              []int{rows, cols},
		Chunks:             []int{chunkRows, chunkCols},
		DType:              "<f8",
		Order:              "C",
		FillValue:          &fill,
		Compressor:         compressor,
		DimensionSeparator: ".",
	}
}

// Rows is the number of rows of the array as npw sees it.
func (m Meta) Rows() int { return m.Shape[0] }

// Cols is the number of columns of the array: 1 for a 1-D array.
func (m Meta) Cols() int {
	if len(m.Shape) == 1 {
		return 1
	}
	return m.Shape[1]
}

// chunkShape is the chunk shape as rows×cols: a 1-D chunk is a column.
func (m Meta) chunkShape() (rows, cols int) {
	if len(m.Chunks) == 1 {
		return m.Chunks[0], 1
	}
	return m.Chunks[0], m.Chunks[1]
}

// ChunkGrid is the number of chunks down and across the array, so that
// callers can visit every chunk; edge chunks may reach past the array.
func (m Meta) ChunkGrid() (rows, cols int) {
	cr, cc := m.chunkShape()
	return ceilDiv(m.Rows(), cr), ceilDiv(m.Cols(), cc)
}

// ChunkKey is the store key of chunk (i, j) relative to the array's
// directory: "i.j" or "i/j" by the dimension separator, and "i" for a 1-D
// array, whose j is always 0 and ignored.
func (m Meta) ChunkKey(i, j int) string {
	if len(m.Shape) == 1 {
		return strconv.Itoa(i)
	}
	sep := m.DimensionSeparator
	if sep == "" {
		sep = "."
	}
	return strconv.Itoa(i) + sep + strconv.Itoa(j)
}

// ceilDiv is ⌈n/d⌉ for n ≥ 0 and d > 0, without overflow for huge n.
func ceilDiv(n, d int) int {
	if n <= 0 {
		return 0
	}
	return (n-1)/d + 1
}

// ParseMeta parses and checks a .zarray document, so that a chunk npw
// cannot read is refused before any is fetched. Its errors say what is
// wrong and what npw accepts.
func ParseMeta(data []byte) (Meta, error) {
	m, err := parseMeta(data)
	if err != nil {
		return Meta{}, fmt.Errorf("zarr: .zarray: %w", err)
	}
	return m, nil
}

func parseMeta(data []byte) (Meta, error) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(data, &doc); err != nil {
		return Meta{}, fmt.Errorf("not a JSON object: %w", err)
	}
	if doc == nil {
		return Meta{}, errors.New("not a JSON object: null")
	}
	var m Meta
	if err := m.parseLayout(doc); err != nil {
		return Meta{}, err
	}
	if err := m.parseCodecs(doc); err != nil {
		return Meta{}, err
	}
	return m, m.check()
}

// parseLayout reads the fields that say where elements are.
func (m *Meta) parseLayout(doc map[string]json.RawMessage) error {
	if err := field(doc, "zarr_format", true, &m.ZarrFormat); err != nil {
		return err
	}
	if m.ZarrFormat != 2 { // before fields another version may lack
		return m.check()
	}
	if err := field(doc, "shape", true, &m.Shape); err != nil {
		return err
	}
	if err := field(doc, "chunks", true, &m.Chunks); err != nil {
		return err
	}
	if err := field(doc, "dtype", true, &m.DType); err != nil {
		return err
	}
	if err := field(doc, "order", true, &m.Order); err != nil {
		return err
	}
	m.DimensionSeparator = "."
	return field(doc, "dimension_separator", false, &m.DimensionSeparator)
}

// parseCodecs reads the fields that say how chunks are encoded.
func (m *Meta) parseCodecs(doc map[string]json.RawMessage) error {
	if raw, ok := doc["filters"]; ok && !isNull(raw) {
		return fmt.Errorf("filters %s: npw reads arrays without filters (null)", compact(raw))
	}
	if raw, ok := doc["compressor"]; ok && !isNull(raw) {
		c, err := parseCompressor(raw)
		if err != nil {
			return err
		}
		m.Compressor = c
	}
	if raw, ok := doc["fill_value"]; ok {
		f, err := parseFill(raw)
		if err != nil {
			return err
		}
		m.FillValue = f
	}
	return nil
}

// field decodes doc[key] into v; a missing key is an error if required.
// JSON null leaves v as it is only for keys that are not required.
func field(doc map[string]json.RawMessage, key string, required bool, v any) error {
	raw, ok := doc[key]
	if !ok || (!required && isNull(raw)) {
		if required {
			return fmt.Errorf("missing %q", key)
		}
		return nil
	}
	if isNull(raw) {
		return fmt.Errorf("%s is null", key)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("%s %s: %w", key, compact(raw), err)
	}
	return nil
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

// compact shortens a JSON value for an error message.
func compact(raw json.RawMessage) string {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		b.Reset()
		b.Write(raw)
	}
	if b.Len() > 80 {
		return b.String()[:77] + "..."
	}
	return b.String()
}

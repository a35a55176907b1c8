package zarr

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
)

// check reports the first field of m that npw cannot read or write, so
// that hand-built Metas are held to what ParseMeta accepts.
func (m Meta) check() error {
	if m.ZarrFormat != 2 {
		return fmt.Errorf("zarr_format %d: npw reads Zarr v2 arrays (zarr_format 2)", m.ZarrFormat)
	}
	if err := m.checkShape(); err != nil {
		return err
	}
	d, err := lookupDType(m.DType)
	if err != nil {
		return err
	}
	if err := m.checkChunkBytes(d); err != nil {
		return err
	}
	if m.Order != "C" && (m.Order != "F" || len(m.Shape) != 1) {
		return fmt.Errorf("order %s: npw reads C-order Zarr arrays", m.Order)
	}
	if m.DimensionSeparator != "." && m.DimensionSeparator != "/" {
		return fmt.Errorf("dimension_separator %q: npw reads \".\" and \"/\"", m.DimensionSeparator)
	}
	if m.Compressor != nil {
		return m.Compressor.check()
	}
	return nil
}

// checkShape checks the array and chunk shapes.
func (m Meta) checkShape() error {
	if len(m.Shape) != 1 && len(m.Shape) != 2 {
		return fmt.Errorf("shape %v has %d dimensions: npw reads 1-D and 2-D arrays", m.Shape, len(m.Shape))
	}
	if len(m.Chunks) != len(m.Shape) {
		return fmt.Errorf("chunks %v do not have the %d dimensions of shape %v", m.Chunks, len(m.Shape), m.Shape)
	}
	for k := range m.Shape {
		if m.Shape[k] < 0 {
			return fmt.Errorf("shape %v has a negative size", m.Shape)
		}
		if m.Chunks[k] <= 0 {
			return fmt.Errorf("chunks %v: chunk sizes must be positive", m.Chunks)
		}
	}
	// The array's values as float64s, and its chunk grid's indices, must
	// fit npw's sizes (int64 bytes, int32 tile indices).
	n := int64(1)
	for k, s := range m.Shape {
		if s > 0 && n > maxArrayBytes/8/int64(s) {
			return fmt.Errorf("shape %v is too large: its values would take over %d bytes", m.Shape, int64(maxArrayBytes))
		}
		n *= int64(s)
		if g := ceilDiv(s, m.Chunks[k]); g > math.MaxInt32 {
			return fmt.Errorf("shape %v in chunks %v is %d chunks along dimension %d; chunk indices go up to %d", m.Shape, m.Chunks, g, k, math.MaxInt32)
		}
	}
	return nil
}

// maxArrayBytes bounds an array's values as float64s, as npw's .npy files
// are bounded.
const maxArrayBytes = math.MaxInt64 >> 1

// checkChunkBytes bounds a chunk, which decoding allocates: its stored
// bytes and its elements as float64s.
func (m Meta) checkChunkBytes(d dtype) error {
	limit := maxChunkBytes / max(d.size, 8)
	n := 1
	for _, c := range m.Chunks {
		if c > limit/n {
			return fmt.Errorf("chunks %v exceed the %d elements npw decodes into one tile", m.Chunks, limit)
		}
		n *= c
	}
	return nil
}

// chunkLen is the number of elements of a chunk: its full shape.
func (m Meta) chunkLen() int {
	r, c := m.chunkShape()
	return r * c
}

// supportedCNames lists the Blosc compressors npw reads.
const supportedCNames = "lz4, lz4hc and blosclz"

// check reports a configuration npw cannot read.
func (c *Compressor) check() error {
	if c.ID != "blosc" {
		return fmt.Errorf("compressor %q: npw reads uncompressed arrays (compressor null) and blosc with %s", c.ID, supportedCNames)
	}
	switch c.CName {
	case "lz4", "lz4hc", "blosclz":
	default:
		return fmt.Errorf("blosc cname %q: npw reads %s", c.CName, supportedCNames)
	}
	if c.CLevel < 0 || c.CLevel > 9 {
		return fmt.Errorf("blosc clevel %d: must be 0 to 9", c.CLevel)
	}
	if c.Shuffle < -1 || c.Shuffle > 2 {
		return fmt.Errorf("blosc shuffle %d: npw reads -1 (auto), 0 (none), 1 (byte) and 2 (bit)", c.Shuffle)
	}
	if c.BlockSize < 0 {
		return fmt.Errorf("blosc blocksize %d is negative", c.BlockSize)
	}
	return nil
}

// parseCompressor reads a numcodecs codec configuration. Keys the Blosc
// codec leaves out take numcodecs' defaults; unknown keys are ignored.
func parseCompressor(raw json.RawMessage) (*Compressor, error) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("compressor %s: not a JSON object: %w", compact(raw), err)
	}
	c := DefaultCompressor()
	c.ID = ""
	for _, f := range []struct {
		key string
		v   any
	}{{"id", &c.ID}, {"cname", &c.CName}, {"clevel", &c.CLevel}, {"shuffle", &c.Shuffle}, {"blocksize", &c.BlockSize}} {
		if err := field(doc, f.key, f.key == "id", f.v); err != nil {
			return nil, fmt.Errorf("compressor: %w", err)
		}
	}
	return c, c.check()
}

// parseFill reads a fill_value: null, a number, a boolean, or one of the
// strings zarr-python writes for non-finite floats.
func parseFill(raw json.RawMessage) (*float64, error) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, fmt.Errorf("fill_value %s: %w", compact(raw), err)
	}
	var f float64
	switch v := v.(type) {
	case nil:
		return nil, nil
	case float64:
		f = v
	case bool:
		f = map[bool]float64{false: 0, true: 1}[v]
	case string:
		var err error
		if f, err = parseFillString(v); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("fill_value %s: npw reads null, numbers, booleans, \"NaN\", \"Infinity\" and \"-Infinity\"", compact(raw))
	}
	return &f, nil
}

func parseFillString(s string) (float64, error) {
	switch s {
	case "NaN":
		return math.NaN(), nil
	case "Infinity":
		return math.Inf(1), nil
	case "-Infinity":
		return math.Inf(-1), nil
	}
	return 0, fmt.Errorf("fill_value %s: npw reads null, numbers, booleans, \"NaN\", \"Infinity\" and \"-Infinity\"", strconv.Quote(s))
}

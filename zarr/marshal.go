package zarr

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// zarrayJSON is a .zarray document with its keys in the sorted order
// zarr-python writes them.
type zarrayJSON struct {
	Chunks             []int           `json:"chunks"`
	Compressor         *compressorJSON `json:"compressor"`
	DimensionSeparator string          `json:"dimension_separator,omitempty"`
	DType              string          `json:"dtype"`
	FillValue          json.RawMessage `json:"fill_value"`
	Filters            *struct{}       `json:"filters"` // always null
	Order              string          `json:"order"`
	Shape              []int           `json:"shape"`
	ZarrFormat         int             `json:"zarr_format"`
}

type compressorJSON struct {
	BlockSize int    `json:"blocksize"`
	CLevel    int    `json:"clevel"`
	CName     string `json:"cname"`
	ID        string `json:"id"`
	Shuffle   int    `json:"shuffle"`
}

// Marshal writes m as a .zarray document the way zarr-python does
// (sorted keys, four-space indent), so that zarr-python opens npw's
// arrays; it refuses a Meta that ParseMeta would refuse.
func (m Meta) Marshal() ([]byte, error) {
	if err := m.check(); err != nil {
		return nil, fmt.Errorf("zarr: marshal .zarray: %w", err)
	}
	doc := zarrayJSON{
		Chunks:     m.Chunks,
		DType:      m.DType,
		FillValue:  json.RawMessage(m.fillJSON()),
		Order:      m.Order,
		Shape:      m.Shape,
		ZarrFormat: m.ZarrFormat,
	}
	if m.DimensionSeparator != "." {
		doc.DimensionSeparator = m.DimensionSeparator
	}
	if c := m.Compressor; c != nil {
		doc.Compressor = &compressorJSON{c.BlockSize, c.CLevel, c.CName, c.ID, c.Shuffle}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // "<f8", not "\u003cf8"
	enc.SetIndent("", "    ")
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("zarr: marshal .zarray: %w", err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// fillJSON is the fill value as zarr-python writes it for the dtype.
func (m Meta) fillJSON() string {
	if m.FillValue == nil {
		return "null"
	}
	v := *m.FillValue
	switch {
	case math.IsNaN(v):
		return `"NaN"`
	case math.IsInf(v, 1):
		return `"Infinity"`
	case math.IsInf(v, -1):
		return `"-Infinity"`
	}
	kind := dtypes[m.DType].kind
	if kind == 'b' && (v == 0 || v == 1) {
		return strconv.FormatBool(v == 1)
	}
	if kind != 'f' && v == math.Trunc(v) {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	s, _ := json.Marshal(v) // finite, so no error
	if !strings.ContainsAny(string(s), ".eE") {
		return string(s) + ".0" // 0.0, as Python writes a float
	}
	return string(s)
}
